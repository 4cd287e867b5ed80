namespace Rkde.MLNet.Tests.TestSupport;

/// <summary>An input row: the path of one image.</summary>
public sealed class ImageInput
{
    public string ImagePath { get; set; } = "";
}
