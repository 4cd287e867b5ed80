namespace Rkde.MLNet.Checks;

/// <summary>Names of the columns the R-KDE chains add for their own use and drop before the output.</summary>
internal static class InternalColumns
{
    /// <summary>The prefix of every internal column; user column names should not start with it.</summary>
    public const string Prefix = "__rkde_";
}
