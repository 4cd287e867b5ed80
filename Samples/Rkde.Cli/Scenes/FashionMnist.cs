using System.IO.Compression;

namespace Rkde.Cli.Scenes;

/// <summary>One split of Fashion-MNIST (28×28 grey items, ten classes) read from the IDX .gz files.</summary>
internal sealed class FashionMnist
{
    public const int Side = 28;

    /// <summary>Folder names of the ten classes, in label order.</summary>
    public static readonly string[] ClassNames =
        ["tshirt_top", "trouser", "pullover", "dress", "coat", "sandal", "shirt", "sneaker", "bag", "ankle_boot"];

    /// <summary>Debian's dataset-fashion-mnist installs the four files here.</summary>
    public const string DebianFolder = "/usr/share/datasets/fashion-mnist";

    private readonly byte[] _pixels;
    private readonly int[][] _byClass;

    private FashionMnist(byte[] pixels, byte[] labels)
    {
        _pixels = pixels;
        var lists = Enumerable.Range(0, ClassNames.Length).Select(_ => new List<int>()).ToArray();
        for (int i = 0; i < labels.Length; i++)
        {
            lists[labels[i]].Add(i);
        }
        _byClass = lists.Select(l => l.ToArray()).ToArray();
    }

    /// <summary>Reads "train" or "t10k" from <paramref name="folder"/>.</summary>
    public static FashionMnist Load(string folder, string split)
    {
        string images = Path.Combine(folder, $"{split}-images-idx3-ubyte.gz");
        string labels = Path.Combine(folder, $"{split}-labels-idx1-ubyte.gz");
        foreach (string f in new[] { images, labels })
        {
            if (!File.Exists(f))
            {
                throw new CliException(
                    $"Fashion-MNIST file '{f}' not found: install Debian's package (apt-get install dataset-fashion-mnist) " +
                    "or pass --fashion-mnist DIR holding {train,t10k}-{images-idx3,labels-idx1}-ubyte.gz.");
            }
        }
        byte[] pixels = ReadIdx(images, 2051, out int count, out int[] dims);
        if (dims.Length != 2 || dims[0] != Side || dims[1] != Side)
        {
            throw new CliException($"'{images}' holds {string.Join('×', dims)} images; Fashion-MNIST's are 28×28.");
        }
        byte[] labelBytes = ReadIdx(labels, 2049, out int labelCount, out _);
        if (labelCount != count || labelBytes.Any(l => l >= ClassNames.Length))
        {
            throw new CliException($"'{labels}' does not match '{images}' ({labelCount} labels for {count} images, or labels beyond 9).");
        }
        return new FashionMnist(pixels, labelBytes);
    }

    /// <summary>How many items of class <paramref name="label"/> the split holds.</summary>
    public int Count(int label) => _byClass[label].Length;

    /// <summary>The 28×28 pixels (0 = background, 255 = brightest) of the n-th item of a class.</summary>
    public ReadOnlySpan<byte> Item(int label, int n) => _pixels.AsSpan(_byClass[label][n] * Side * Side, Side * Side);

    /// <summary>Parses "sneaker,bag" or "7,8" into labels.</summary>
    public static int[] ParseClasses(string text, string optionName)
    {
        var result = new List<int>();
        foreach (string part in text.Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries))
        {
            int label = int.TryParse(part, out int n) ? n : Array.IndexOf(ClassNames, part.ToLowerInvariant().Replace('-', '_'));
            if (label < 0 || label >= ClassNames.Length)
            {
                throw new CliException($"{optionName}: unknown class '{part}'; use 0–9 or one of {string.Join(", ", ClassNames)}.");
            }
            if (!result.Contains(label))
            {
                result.Add(label);
            }
        }
        if (result.Count == 0)
        {
            throw new CliException($"{optionName}: give at least one class (0–9 or one of {string.Join(", ", ClassNames)}).");
        }
        return result.ToArray();
    }

    private static byte[] ReadIdx(string path, int magic, out int count, out int[] dims)
    {
        using var gz = new GZipStream(File.OpenRead(path), CompressionMode.Decompress);
        using var ms = new MemoryStream();
        gz.CopyTo(ms);
        byte[] all = ms.ToArray();
        int ReadInt(int offset) => all[offset] << 24 | all[offset + 1] << 16 | all[offset + 2] << 8 | all[offset + 3];
        if (all.Length < 8 || ReadInt(0) != magic)
        {
            throw new CliException($"'{path}' is not an IDX file with magic number {magic}.");
        }
        count = ReadInt(4);
        int rank = magic & 0xFF;
        dims = Enumerable.Range(0, rank - 1).Select(i => ReadInt(8 + 4 * i)).ToArray();
        int header = 4 + 4 * rank;
        long expected = (long)count * dims.Aggregate(1, (a, b) => a * b);
        if (all.Length - header != expected)
        {
            throw new CliException($"'{path}' is truncated: {all.Length - header} bytes of data for {expected} expected.");
        }
        return all[header..];
    }
}
