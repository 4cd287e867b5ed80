using System.CommandLine;
using Rkde.Cli.Scenes;

namespace Rkde.Cli.Commands;

/// <summary><c>rkde make-scenes</c>: writes the FashionScenes benchmark in MVTec AD layout.</summary>
internal static class MakeScenesCommand
{
    public static Command Create(TextWriter output, TextWriter error)
    {
        var defaults = new FashionScenesOptions();
        string Names(int[] labels) => string.Join(',', labels.Select(l => FashionMnist.ClassNames[l]));

        var outDir = new Option<string>("--out", "-o") { Description = "Folder to write the data set to (MVTec AD layout + boxes.json).", Required = true };
        var seed = new Option<int>("--seed") { Description = "Random seed; the same seed gives byte-identical files.", DefaultValueFactory = _ => defaults.Seed };
        var width = new Option<int>("--width") { Description = "Image width in pixels.", DefaultValueFactory = _ => defaults.Width };
        var height = new Option<int>("--height") { Description = "Image height in pixels.", DefaultValueFactory = _ => defaults.Height };
        var itemSize = new Option<string>("--item-size") { Description = "Side range of the upscaled 28×28 item cell, in pixels.", DefaultValueFactory = _ => $"{defaults.MinItemSize}-{defaults.MaxItemSize}" };
        var normal = new Option<string>("--normal-classes") { Description = "Normal Fashion-MNIST classes (names or 0–9, comma-separated).", DefaultValueFactory = _ => Names(defaults.NormalClasses) };
        var anomaly = new Option<string>("--anomaly-classes") { Description = "Held-out classes that make a scene anomalous; each is a test/<kind> folder.", DefaultValueFactory = _ => Names(defaults.AnomalyClasses) };
        var train = new Option<int>("--train") { Description = "Number of normal training scenes (train/good).", DefaultValueFactory = _ => defaults.TrainCount };
        var testGood = new Option<int>("--test-good") { Description = "Number of normal test scenes (test/good).", DefaultValueFactory = _ => defaults.TestGoodCount };
        var testAnomalous = new Option<int>("--test-anomalous") { Description = "Number of anomalous test scenes, spread evenly over the anomaly classes.", DefaultValueFactory = _ => defaults.TestAnomalousCount };
        var normalItems = new Option<string>("--items") { Description = "Range of the number of items per scene.", DefaultValueFactory = _ => $"{defaults.MinNormalItems}-{defaults.MaxNormalItems}" };
        var anomalousItems = new Option<string>("--anomalous-items") { Description = "Range of the number of held-out-class items in an anomalous scene (the rest are normal).", DefaultValueFactory = _ => $"{defaults.MinAnomalousItems}-{defaults.MaxAnomalousItems}" };
        var background = new Option<BackgroundKind>("--background") { Description = "texture (grass, gravel, brick photos), photo (crops of real photographs at random scales: clutter), plain (a colour), or mixed (texture or plain).", DefaultValueFactory = _ => defaults.Background };
        var backgrounds = new Option<string?>("--backgrounds") { Description = $"Folder of background photos (.png/.jpg) for texture/photo; default: from {FashionScenesOptions.SkimageDataFolder} (Debian's python3-skimage), {string.Join(", ", FashionScenesOptions.DefaultTextures)} (texture) or {string.Join(", ", FashionScenesOptions.DefaultPhotos)} (photo)." };
        var opacity = new Option<ItemOpacity>("--opacity") { Description = "How items are blended: opaque (shaded by their intensity), intensity (alpha is the item's intensity: low contrast), faint (alpha 0.4). Boxes and masks are the same in every mode.", DefaultValueFactory = _ => defaults.Opacity };
        var tint = new Option<ItemTint>("--tint") { Description = "Item colours: saturated (any hue), grey (no colour), natural (clothing colours: black, white, navy, denim, beige …). The tint changes no other random choice.", DefaultValueFactory = _ => defaults.Tint };
        var mnist = new Option<string>("--fashion-mnist") { Description = "Folder with the four Fashion-MNIST .gz files (Debian's dataset-fashion-mnist).", DefaultValueFactory = _ => defaults.FashionMnistFolder };
        var format = new Option<string>("--format") { Description = "Scene file format: png (lossless) or jpg (quality 92, smaller); masks are always PNG.", DefaultValueFactory = _ => "png" };
        format.AcceptOnlyFromAmong("png", "jpg");
        var force = new Option<bool>("--force") { Description = "Replace an existing data set in --out." };

        var command = new Command("make-scenes", "Generate the FashionScenes benchmark: Fashion-MNIST items on texture photos, photographs or plain backgrounds, MVTec AD layout, ground-truth masks and boxes.json.")
        {
            outDir, seed, width, height, itemSize, normal, anomaly, train, testGood, testAnomalous, normalItems, anomalousItems,
            background, backgrounds, opacity, tint, mnist, format, force,
        };
        command.SetAction(parse => RkdeCli.Guard(error, () =>
        {
            var size = OptionParsing.Range(parse.GetValue(itemSize)!, "--item-size");
            var items = OptionParsing.Range(parse.GetValue(normalItems)!, "--items");
            var anomalies = OptionParsing.Range(parse.GetValue(anomalousItems)!, "--anomalous-items");
            var options = new FashionScenesOptions
            {
                Seed = parse.GetValue(seed),
                Width = parse.GetValue(width),
                Height = parse.GetValue(height),
                MinItemSize = size.Min,
                MaxItemSize = size.Max,
                NormalClasses = FashionMnist.ParseClasses(parse.GetValue(normal)!, "--normal-classes"),
                AnomalyClasses = FashionMnist.ParseClasses(parse.GetValue(anomaly)!, "--anomaly-classes"),
                TrainCount = parse.GetValue(train),
                TestGoodCount = parse.GetValue(testGood),
                TestAnomalousCount = parse.GetValue(testAnomalous),
                MinNormalItems = items.Min,
                MaxNormalItems = items.Max,
                MinAnomalousItems = anomalies.Min,
                MaxAnomalousItems = anomalies.Max,
                Background = parse.GetValue(background),
                BackgroundFolder = parse.GetValue(backgrounds),
                Opacity = parse.GetValue(opacity),
                Tint = parse.GetValue(tint),
                FashionMnistFolder = parse.GetValue(mnist)!,
                Jpeg = parse.GetValue(format) == "jpg",
            };
            var generator = new FashionScenesGenerator(options);
            string root = parse.GetValue(outDir)!;
            PrepareOutput(root, parse.GetValue(force));
            using var progress = new ProgressBar(error, "make-scenes", generator.ImageCount);
            var boxes = generator.Generate(root, progress);
            output.WriteLine(
                $"Wrote {boxes.Images.Count} scenes ({options.TrainCount} train/good, {options.TestGoodCount} test/good, " +
                $"{options.TestAnomalousCount} anomalous) to {root} in {progress.Elapsed.TotalSeconds:F1} s.");
            return 0;
        }));
        return command;
    }

    private static void PrepareOutput(string root, bool force)
    {
        string[] ours = ["train", "test", "ground_truth", "boxes.json"];
        bool exists = ours.Any(p => Path.Exists(Path.Combine(root, p)));
        if (exists && !force)
        {
            throw new CliException($"--out '{root}' already holds a data set; pass --force to replace it.");
        }
        foreach (string p in ours.Take(3).Select(p => Path.Combine(root, p)).Where(Directory.Exists))
        {
            Directory.Delete(p, recursive: true);
        }
        Directory.CreateDirectory(root);
        File.Delete(Path.Combine(root, "boxes.json"));
    }
}
