namespace Rkde.MLNet.NanoDet;

/// <summary>
/// Where a pipeline image of <see cref="Width"/> × <see cref="Height"/> lands in NanoDet's input: scaled (aspect kept) so
/// that its longer side is <see cref="NetworkSide"/> pixels, as NanoDet was trained, placed at the top left and padded
/// with black to multiples of 32 (the network's largest stride). Pixel (x, y) of the image is (x·ScaleX, y·ScaleY) in
/// the network input.
/// </summary>
internal sealed record NanoDetLetterbox(int Width, int Height, int ResizedWidth, int ResizedHeight, int NetworkWidth, int NetworkHeight)
{
    /// <summary>The longer side NanoDet sees (its training size, 416 × 416 with letterboxing).</summary>
    public const int NetworkSide = 416;

    /// <summary>The network's largest stride: its input sides must be multiples of it.</summary>
    public const int MaxStride = 32;

    public float ScaleX => ResizedWidth / (float)Width;

    public float ScaleY => ResizedHeight / (float)Height;

    public static NanoDetLetterbox For(int width, int height)
    {
        double scale = NetworkSide / (double)Math.Max(width, height);
        int rw = Math.Max(1, (int)Math.Round(width * scale)), rh = Math.Max(1, (int)Math.Round(height * scale));
        return new NanoDetLetterbox(width, height, rw, rh, RoundUp(rw), RoundUp(rh));
    }

    private static int RoundUp(int n) => (n + MaxStride - 1) / MaxStride * MaxStride;
}
