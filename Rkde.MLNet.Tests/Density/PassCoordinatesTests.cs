using Rkde.MLNet.Density;

namespace Rkde.MLNet.Tests.Density;

/// <summary>
/// PassCoordinates: the rows' coordinates along a combination of the blocks LOBPCG multiplied come from the kept
/// coordinates of those blocks, combined alike (the projections without a pass of their own).
/// </summary>
[TestClass]
public sealed class PassCoordinatesTests
{
    [TestMethod]
    public void ACombinationsCoordinatesAreTheSameCombinationOfTheKeptOnes()
    {
        const int n = 37, l = 4, k = 3;
        var random = new Random(7);
        var kept = new PassCoordinates(n, l);
        var single = kept.NewSingle();
        for (int i = 0; i < single.Length; i++) single[i] = (float)(random.NextDouble() * 2 - 1);
        var @double = kept.NewDouble();
        for (int i = 0; i < @double.Length; i++) @double[i] = random.NextDouble() * 2 - 1;
        var first = kept.Keep(single, null);
        var second = kept.Keep(null, @double);

        // The kept blocks' own coefficients are the identity at their places.
        for (int j = 0; j < l; j++)
        {
            Assert.AreEqual(1.0, first[j * kept.Stride + j]);
            Assert.AreEqual(1.0, second[j * kept.Stride + l + j]);
            Assert.AreEqual(0.0, first[j * kept.Stride + l + j]);
        }
        // Vector j = Σ_c a[j, c] · (first block's vector c) + Σ_c b[j, c] · (second block's vector c).
        var a = new double[l, l];
        var b = new double[l, l];
        var combined = new double[l * kept.Stride];
        for (int j = 0; j < l; j++)
        for (int c = 0; c < l; c++)
        {
            a[j, c] = random.NextDouble() - 0.5;
            b[j, c] = random.NextDouble() - 0.5;
            combined[j * kept.Stride + c] = a[j, c];
            combined[j * kept.Stride + l + c] = b[j, c];
        }
        var projections = kept.Project(combined, k);
        Assert.HasCount(n * k, projections);
        for (int i = 0; i < n; i++)
        for (int j = 0; j < k; j++)
        {
            double expected = 0;
            for (int c = 0; c < l; c++) expected += a[j, c] * single[i * l + c] + b[j, c] * @double[i * l + c];
            Assert.AreEqual(expected, projections[i * k + j], 1e-12, $"row {i}, vector {j}");
        }
    }

    [TestMethod]
    public void AtMostMaxPassesAreKeptAndAClearStartsAgain()
    {
        var kept = new PassCoordinates(5, 4);
        for (int pass = 0; pass < PassCoordinates.MaxPasses; pass++)
        {
            Assert.IsTrue(kept.CanKeep);
            kept.Keep(kept.NewSingle(), null);
        }
        Assert.IsFalse(kept.CanKeep, "beyond this the iteration projects in a pass of its own");
        kept.Clear();
        Assert.IsTrue(kept.CanKeep);
        var coefficients = kept.Keep(null, kept.NewDouble());
        Assert.AreEqual(1.0, coefficients[0], "after a restart the next block takes the first place");
    }
}
