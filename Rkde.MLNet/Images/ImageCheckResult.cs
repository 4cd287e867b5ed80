namespace Rkde.MLNet.Images;

/// <summary>The outcome of <see cref="ImageCheck.Check"/> for one image file.</summary>
/// <param name="Path">The path that was checked (after joining the image folder, if any).</param>
/// <param name="Problem"><see cref="ImageProblem.None"/> when the image decodes completely.</param>
/// <param name="Width">Width in pixels; 0 unless the image is readable.</param>
/// <param name="Height">Height in pixels; 0 unless the image is readable.</param>
/// <param name="Message">Null when readable; otherwise what is wrong, naming the file, and what to do about it.</param>
public sealed record ImageCheckResult(string Path, ImageProblem Problem, int Width, int Height, string? Message)
{
    /// <summary>Whether the image decodes completely, so that R-KDE scores what the file holds.</summary>
    public bool IsReadable => Problem == ImageProblem.None;
}
