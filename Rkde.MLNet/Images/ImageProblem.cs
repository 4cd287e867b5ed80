namespace Rkde.MLNet.Images;

/// <summary>What is wrong with an image file, as found by <see cref="ImageCheck"/>.</summary>
public enum ImageProblem
{
    /// <summary>The image decodes completely.</summary>
    None,

    /// <summary>The path is empty or no file exists there.</summary>
    Missing,

    /// <summary>The file has 0 bytes.</summary>
    Empty,

    /// <summary>The file is not in an image format SkiaSharp decodes (PNG, JPEG, BMP, GIF, WebP, ICO, WBMP).</summary>
    NotAnImage,

    /// <summary>The file ends before the image does (an interrupted copy or upload).</summary>
    Truncated,

    /// <summary>The image data is invalid.</summary>
    Corrupt,

    /// <summary>
    /// The image has more than <see cref="ImageCheck.MaxPixels"/> pixels, or too many to decode in the memory available
    /// (a damaged header can claim any size).
    /// </summary>
    TooLarge,

    /// <summary>The file exists but cannot be opened (permissions, I/O error).</summary>
    Unreadable,
}
