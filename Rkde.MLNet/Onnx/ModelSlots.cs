using Rkde.MLNet.Features;
using Rkde.MLNet.Regions;

namespace Rkde.MLNet.Onnx;

/// <summary>
/// Loads and checks the proposer and feature models. A model the user gave is checked at once (so a wrong one fails
/// when the estimator is built); the built-in defaults are built on first use.
/// </summary>
internal static class ModelSlots
{
    public const string ProposerSlotName = "proposer model";
    public const string FeatureSlotName = "feature model";

    public static Lazy<ProposerSlot> Proposer(string? path, byte[]? bytes, int width, int height, string pathOption, string bytesOption)
    {
        var slot = new Lazy<ProposerSlot>(() => new ProposerSlot(
            OnnxModelContract.Load(ProposerSlotName, pathOption, path, bytesOption, bytes, () => DefaultModels.Proposer(width, height)), width, height));
        return Checked(slot, path is not null || bytes is not null);
    }

    public static Lazy<FeatureSlot> Features(string? path, byte[]? bytes, int width, int height, Lazy<ProposerSlot>? proposer,
        string pathOption, string bytesOption)
    {
        var slot = new Lazy<FeatureSlot>(() => new FeatureSlot(
            OnnxModelContract.Load(FeatureSlotName, pathOption, path, bytesOption, bytes, () => DefaultModels.FeatureExtractor(width, height)),
            width, height, proposer?.Value));
        return Checked(slot, (path is not null || bytes is not null) && (proposer is null || proposer.IsValueCreated));
    }

    private static Lazy<T> Checked<T>(Lazy<T> slot, bool now)
    {
        if (now)
            _ = slot.Value;
        return slot;
    }
}
