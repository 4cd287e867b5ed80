namespace Rkde.MLNet.DefaultModel;

/// <summary>The names and shapes of the ResNet18 trunk's stage outputs inside a graph being built (<see cref="Layer4"/> only when grafted).</summary>
internal sealed record ResNet18Features(string Layer2, string Layer3, int Width, int Height, string? Layer4 = null)
{
    public const int Layer2Channels = 128, Layer3Channels = 256, Layer4Channels = 512;

    /// <summary>Spatial size of the map with the given stride (8, 16 or 32) at this input size: ⌈n/2⌉ per stride-2 step.</summary>
    public (int Height, int Width) MapSize(int stride) => (Downsample(Height, stride), Downsample(Width, stride));

    private static int Downsample(int n, int stride)
    {
        for (int s = 1; s < stride; s *= 2)
            n = (n + 1) / 2;
        return n;
    }
}
