using MathNet.Numerics.LinearAlgebra;
using Rkde.MLNet.Density;

namespace Rkde.MLNet.Tests.Density;

/// <summary>
/// The whitening inside LOBPCG's Rayleigh–Ritz step: for a basis V with Gram matrix G = VᵀV and H = VᵀCV, the returned
/// T must satisfy TᵀGT = I and Tᵀ·H·T's eigenvalues must be C's on span(V), by the Cholesky factor where G is well
/// conditioned and by G's eigenvectors where it is not.
/// </summary>
[TestClass]
public sealed class LobpcgWhiteningTests
{
    private static (Matrix<double> Gram, Matrix<double> H, double[] Expected) Problem(Matrix<double> basis, Matrix<double> c)
    {
        var gram = basis.TransposeThisAndMultiply(basis);
        var h = basis.TransposeThisAndMultiply(c * basis);
        // C's eigenvalues on span(V): those of QᵀCQ for an orthonormal Q of the span (rank from the SVD).
        var svd = basis.Svd();
        int rank = svd.S.Count(s => s > 1e-9 * svd.S[0]);
        var q = svd.U.SubMatrix(0, basis.RowCount, 0, rank);
        var expected = q.TransposeThisAndMultiply(c * q).Evd().EigenValues.Select(e => e.Real).OrderBy(e => e).ToArray();
        return (gram, h, expected);
    }

    private static Matrix<double> SymmetricMatrix(int n, Random random)
    {
        var a = Matrix<double>.Build.Dense(n, n, (_, _) => random.NextDouble() - 0.5);
        return a.TransposeThisAndMultiply(a);
    }

    private static void AssertWhitens(Matrix<double> gram, Matrix<double> h, double[] expected)
    {
        var (whiten, evd) = Lobpcg.WhitenedEvd(gram, h);
        var identity = whiten.TransposeThisAndMultiply(gram) * whiten;
        Assert.AreEqual(expected.Length, whiten.ColumnCount, "one whitened direction per independent basis vector");
        for (int i = 0; i < identity.RowCount; i++)
        for (int j = 0; j < identity.ColumnCount; j++)
            Assert.AreEqual(i == j ? 1.0 : 0.0, identity[i, j], 1e-9, $"TᵀGT[{i}, {j}]");
        var values = evd.EigenValues.Select(e => e.Real).OrderBy(e => e).ToArray();
        for (int i = 0; i < expected.Length; i++)
            Assert.AreEqual(expected[i], values[i], 1e-9 * Math.Max(1, Math.Abs(expected[i])), $"Ritz value {i}");
    }

    [TestMethod]
    public void AWellConditionedBasisWithAZeroedVectorIsWhitenedByItsCholeskyFactor()
    {
        var random = new Random(3);
        const int dim = 40, m = 12;
        var c = SymmetricMatrix(dim, random);
        // Independent but far from orthonormal (so that L⁻ᵀ and L⁻¹ differ), and one vector zeroed as a vanished one is.
        var basis = Matrix<double>.Build.Dense(dim, m, (_, _) => random.NextDouble() - 0.5);
        basis.ClearColumn(5);
        var (gram, h, expected) = Problem(basis, c);
        AssertWhitens(gram, h, expected);
        var (whiten, _) = Lobpcg.WhitenedEvd(gram, h);
        Assert.IsTrue(whiten.Row(5).All(v => v == 0), "the zeroed vector takes no part");
    }

    [TestMethod]
    public void ABasisThatSpansADirectionTwiceFallsBackToTheGramEigenvectors()
    {
        var random = new Random(4);
        const int dim = 30, m = 8;
        var c = SymmetricMatrix(dim, random);
        var basis = Matrix<double>.Build.Dense(dim, m, (_, _) => random.NextDouble() - 0.5);
        // Column 7 repeats column 2 up to 1e-13: the Cholesky pivot vanishes, G's eigenvalue there is dropped.
        basis.SetColumn(7, basis.Column(2) + Vector<double>.Build.Dense(dim, _ => (random.NextDouble() - 0.5) * 1e-13));
        var (gram, h, expected) = Problem(basis, c);
        Assert.AreEqual(m - 1, expected.Length);
        AssertWhitens(gram, h, expected);
    }
}
