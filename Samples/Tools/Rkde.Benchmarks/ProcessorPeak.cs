using System.Text.RegularExpressions;

namespace Rkde.Benchmarks;

/// <summary>
/// The processor's FP32 peak, cores × FLOP/cycle × clock, from /proc/cpuinfo. FLOP/cycle: 32 on AMD Zen 4 (family 25,
/// AVX-512 executed on two 256-bit FMA pipes: 2 × 8 lanes × 2), 64 on Intel cores with two 512-bit FMA units, 32 with
/// AVX2 (two 256-bit FMA units). The clock is the one /proc/cpuinfo reports (under KVM, the TSC's nominal clock, not boost).
/// </summary>
internal sealed record ProcessorPeak(double FlopsPerSecond, string Assumption)
{
    /// <summary>One core's share of the peak.</summary>
    public double PerCore => FlopsPerSecond / Environment.ProcessorCount;

    public static ProcessorPeak Estimate()
    {
        string info = File.Exists("/proc/cpuinfo") ? File.ReadAllText("/proc/cpuinfo") : "";
        string Field(string key) => Regex.Match(info, $@"^{key}\s*:\s*(.*)$", RegexOptions.Multiline).Groups[1].Value.Trim();
        string model = Field("model name"), vendor = Field("vendor_id"), family = Field("cpu family"), flags = Field("flags");
        double ghz = double.TryParse(Field("cpu MHz"), System.Globalization.NumberStyles.Float, System.Globalization.CultureInfo.InvariantCulture, out var mhz)
            ? mhz / 1000 : 2.0;
        bool avx512 = flags.Split(' ').Contains("avx512f");
        int perCycle = vendor == "AuthenticAMD" && family == "25" ? 32 : avx512 ? 64 : 32;
        int cores = Environment.ProcessorCount;
        string assumption = string.Create(System.Globalization.CultureInfo.InvariantCulture,
            $"{cores} cores × {perCycle} FP32 FLOP/cycle × {ghz:0.00} GHz, {vendor} family {family} '{model}'");
        return new ProcessorPeak(cores * perCycle * ghz * 1e9, assumption);
    }
}
