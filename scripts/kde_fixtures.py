"""R-KDE density fixtures by anomalib's definition, in numpy (float64 throughout).

    kde_fixtures.py reproduce GOLDEN_DIR        recompute every golden kde/*.json and print the largest differences
    kde_fixtures.py generate OUT_DIR [NAME ...]  write the generated fixtures (all, or those whose name contains a NAME)

The definition (anomalib's KDEClassifier with PCA and GaussianKDE, fitted in float64): centre the training rows on
their mean, keep the first k right singular vectors of the centred rows (exact SVD), project; "scale" divides every
projection by the largest training projection's L2 norm, "norm" divides each by its own; Scott's factor
n^(-1/(k+4)); L = cholesky(inv(unbiased covariance) / factor^2); kernel points = centred scaled rows @ L (anomalib's
covariance centres in place); kde_norm = prod(diag L) (2 pi)^(-k/2); the log-density of a test row is
log(kde_norm) - log(n) + logsumexp(-|z - p_i|^2 / 2) with z = its scaled projection @ L; probability is
1 / (1 + exp(0.05 (log_density - 12))).

Generated fixtures carry no rows: they name a generator ("rkde-int-lowrank-v1", below) that the test project
rebuilds bit for bit, with a checksum of the float32 rows to prove it. Every row is an exact integer
  X_int[i, d] = m_i * (sum_j c_j u[i, j] b[j, d] + w e[i, d]) + o[d]
scaled to float32 as float32(float64(X_int) * 2^-s): u, b, e, o come from a counter-based SplitMix64 (so any
order of evaluation gives the same bits), c are integer column scales listed in the fixture (they set the
spectrum), m_i is 1 for training rows and listed per test row. All products and sums are integers far below 2^53,
so float64 arithmetic is exact in any summation order.
"""
import json
import math
import os
import sys

import numpy as np

GOLDEN = 0x9E3779B97F4A7C15
MASK = (1 << 64) - 1


def pca(train):
    """The exact PCA of train (n x D, float64): its mean, singular values and right singular vectors (rows of vt)."""
    mean = train.mean(axis=0)
    _, singular, vt = np.linalg.svd(train - mean, full_matrices=False)
    return mean, singular, vt


def fit_and_score(train, test, k, scaling, svd=None):
    """anomalib's fit on train (n x D, float64) and log-density of test rows; returns the expected fields and the
    covariance's eigenvalues. svd: pca(train), when already computed."""
    n = train.shape[0]
    mean, singular, vt = svd or pca(train)
    centred = train - mean
    k = min(k, train.shape[1])
    components = vt[:k].T
    y = centred @ components
    if scaling == "scale":
        max_length = float(np.max(np.linalg.norm(y, axis=1)))
        y = y / max_length
    else:
        max_length = None
        y = y / np.linalg.norm(y, axis=1)[:, None]
    factor = n ** (-1.0 / (k + 4))
    yc = y - y.mean(axis=0)
    cov = yc.T @ yc / (n - 1)
    inv = np.linalg.inv(cov) / factor ** 2
    l = np.linalg.cholesky(inv)
    points = yc @ l
    log_kde_norm = float(np.sum(np.log(np.diag(l))) - 0.5 * k * math.log(2 * math.pi))

    t = (test - mean) @ components
    t = t / max_length if scaling == "scale" else t / np.linalg.norm(t, axis=1)[:, None]
    z = t @ l
    half = 0.5 * (np.sum(z * z, axis=1)[:, None] - 2 * z @ points.T + np.sum(points * points, axis=1)[None, :])
    # Exact squared distances for the log-sum-exp's leading term (the expanded form above loses digits far away).
    nearest = np.argmin(half, axis=1)
    exact = 0.5 * np.sum((z - points[nearest]) ** 2, axis=1)
    shifted = -(half - half[np.arange(len(z)), nearest][:, None])
    log_density = log_kde_norm - math.log(n) - exact + np.log(np.sum(np.exp(shifted), axis=1))
    probability = 1 / (1 + np.exp(np.clip(0.05 * (log_density - 12), -700, 700)))
    eigenvalues = singular ** 2 / (n - 1)
    return {
        "pca_mean": mean.tolist(),
        "max_length": max_length,
        "kde_norm": math.exp(log_kde_norm) if log_kde_norm < 700 else None,
        "log_kde_norm": log_kde_norm,
        "log_density": log_density.tolist(),
        "probability": probability.tolist(),
    }, eigenvalues


def reproduce(folder):
    """Recomputes every golden fixture with a model and prints the largest relative and absolute differences."""
    worst = 0.0
    for name in sorted(os.listdir(folder)):
        if not name.endswith(".json"):
            continue
        with open(os.path.join(folder, name)) as f:
            fixture = json.load(f)
        if not fixture["fit_succeeded"]:
            print(f"{name}: no model (n = {len(fixture['train'])} < k = {fixture['n_pca_components']}), nothing to compare")
            continue
        golden = fixture["expected"]
        for dtype in (np.float64, np.float32):
            train = np.array(fixture["train"], dtype=dtype).astype(np.float64)
            test = np.array(fixture["test"], dtype=dtype).astype(np.float64)
            mine, _ = fit_and_score(train, test, fixture["n_pca_components"], fixture["feature_scaling_method"])
            ld = np.abs(np.array(mine["log_density"]) - np.array(golden["log_density"]))
            pr = np.abs(np.array(mine["probability"]) - np.array(golden["probability"]))
            mean = np.abs(np.array(mine["pca_mean"]) - np.array(golden["pca_mean"]))
            norm = abs(math.log(golden["kde_norm"]) - mine["log_kde_norm"])
            ml = "" if golden["max_length"] is None else f", max_length rel {abs(mine['max_length'] / golden['max_length'] - 1):.1e}"
            print(f"{name} (rows read as {np.dtype(dtype).name}): |d log_density| max {ld.max():.1e}, |d probability| max {pr.max():.1e}, "
                  f"|d pca_mean| max {mean.max():.1e}, |d log kde_norm| {norm:.1e}{ml}")
            if dtype is np.float64:
                worst = max(worst, ld.max())
    print(f"largest |d log_density| over the golden fixtures (rows as written): {worst:.1e}")
    return worst


def splitmix(keys):
    """SplitMix64's output function of (key + 1) * golden, elementwise over a uint64 array."""
    z = (keys + np.uint64(1)) * np.uint64(GOLDEN)
    z = (z ^ (z >> np.uint64(30))) * np.uint64(0xBF58476D1CE4E5B9)
    z = (z ^ (z >> np.uint64(27))) * np.uint64(0x94D049BB133111EB)
    return z ^ (z >> np.uint64(31))


def integers(seed, stream, shape, half_range):
    """Integers in [-half_range, half_range] (0 .. 2 half_range when half_range < 0 is not used), element i of stream
    `stream` being splitmix((seed * 8 + stream) * 2^40 + i) mod (2 half_range + 1) - half_range."""
    count = int(np.prod(shape))
    base = np.uint64(((seed * 8 + stream) << 40) & MASK)
    keys = base + np.arange(count, dtype=np.uint64)
    values = (splitmix(keys) % np.uint64(2 * half_range + 1)).astype(np.int64) - half_range
    return values.reshape(shape).astype(np.float64)


def generate_rows(g):
    """The train and test rows of generator spec g, as float32 arrays."""
    n, m, dim = g["rows"], len(g["test_multipliers"]), g["dimension"]
    c = np.array(g["column_scales"], dtype=np.float64)
    r = len(c)
    u = integers(g["seed"], 0, (n + m, r), g["coefficient_range"]) * c[None, :]
    b = integers(g["seed"], 1, (r, dim), g["basis_range"])
    e = integers(g["seed"], 2, (n + m, dim), g["noise_range"]) * g["noise_scale"]
    o = integers(g["seed"], 3, (dim,), g["offset_range"]) + g["offset_range"]
    multipliers = np.concatenate([np.ones(n), np.array(g["test_multipliers"], dtype=np.float64)])
    x = multipliers[:, None] * (u @ b + e) + o[None, :]
    assert np.max(np.abs(x)) < 2.0 ** 52
    rows = (x * 2.0 ** -g["exponent"]).astype(np.float32)
    return rows[:n], rows[n:]


def checksum(rows):
    """sum_i bits(rows[i]) * (2 i + 1) mod 2^64 over the float32 values in row-major order, as a decimal string."""
    bits = np.ascontiguousarray(rows, dtype=np.float32).reshape(-1).view(np.uint32).astype(np.uint64)
    weights = np.arange(bits.size, dtype=np.uint64) * np.uint64(2) + np.uint64(1)
    return str(int(np.sum(bits * weights, dtype=np.uint64)))


def hard_scales(k, rank, top=64, decay=0.15):
    """Slowly decaying column scales top (j + 1)^-decay with the k-th and (k+1)-th tied: eigenvalues fall as
    (j + 1)^(-2 decay), so subspace iteration's rate (lambda_{l+1} / lambda_k) is close to 1 and the k-th gap is
    only the sampling noise's."""
    scales = [max(1, int(round(top * (j + 1) ** -decay))) for j in range(rank)]
    scales[k] = scales[k - 1]
    return scales


def specs():
    """The generated fixtures: (name, k, scaling, generator)."""
    result = []
    layouts = [(300, 1200, 16, 1)]
    for dim, rows_many, rows_few in ((1024, 1500, 600), (4096, 5000, 1000)):
        for k in (16, 64):
            layouts.append((dim, rows_many, k, len(layouts) + 1))
            layouts.append((dim, rows_few, k, len(layouts) + 1))
    for dim, rows, k, seed in layouts:
        rank = min(dim // 2, 4 * k + 64)
        scales = hard_scales(k, rank)
        half_range = 40
        # Noise per direction at about half the last structured eigenvalue: the spectrum goes on as a flat floor of
        # D - rank directions instead of ending at the rank (which would let a large enough block span it all).
        spread = math.sqrt(((2 * half_range + 1) ** 2 - 1) / 12)
        noise_scale = int(round(scales[-1] * spread * math.sqrt(dim / 2)))
        multipliers = [1] * 40 + [2] * 4 + [4] * 4
        generator = {
            "kind": "rkde-int-lowrank-v1",
            "seed": 2027 + seed,
            "rows": rows,
            "dimension": dim,
            "column_scales": scales,
            "coefficient_range": half_range,
            "basis_range": half_range,
            "noise_range": half_range,
            "noise_scale": noise_scale,
            "offset_range": 2000,
            "exponent": 14,
            "test_multipliers": multipliers,
        }
        scalings = ["norm"] if dim == 300 else ["scale", "norm"]
        for scaling in scalings:
            result.append((f"{scaling}_{dim}d_{rows}_pca{k}_slow_tie", k, scaling, generator))
    return result


def generate(out, wanted):
    os.makedirs(out, exist_ok=True)
    cache = {}
    for name, k, scaling, g in specs():
        if wanted and not any(w in name for w in wanted):
            continue
        key = json.dumps(g, sort_keys=True)
        if key not in cache:
            train, test = generate_rows(g)
            cache = {key: (train, test, pca(train.astype(np.float64)))}
        train, test, svd = cache[key]
        expected, eigenvalues = fit_and_score(train.astype(np.float64), test.astype(np.float64), k, scaling, svd)
        spectrum = {
            "top_eigenvalues": eigenvalues[: 2 * k + 16].tolist(),
            "gap_k": float(eigenvalues[k - 1] / eigenvalues[k] - 1),
            "ratio_2k_over_k": float(eigenvalues[2 * k] / eigenvalues[k - 1]),
        }
        fixture = {
            "name": name,
            "n_pca_components": k,
            "feature_scaling_method": scaling,
            "max_training_points": 40000,
            "generator": dict(g, train_checksum=checksum(train), test_checksum=checksum(test)),
            "fit_succeeded": True,
            "spectrum": spectrum,
            "expected": expected,
        }
        path = os.path.join(out, name + ".json")
        with open(path + ".tmp", "w") as f:
            json.dump(fixture, f)
        os.replace(path + ".tmp", path)
        print(f"{name}: gap at k {spectrum['gap_k']:.2e}, lambda_2k/lambda_k {spectrum['ratio_2k_over_k']:.2f}, "
              f"log_density {min(expected['log_density']):.1f} .. {max(expected['log_density']):.1f}")


if __name__ == "__main__":
    if len(sys.argv) >= 3 and sys.argv[1] == "reproduce":
        sys.exit(0 if reproduce(sys.argv[2]) < 1e-6 else 1)
    if len(sys.argv) >= 3 and sys.argv[1] == "generate":
        generate(sys.argv[2], sys.argv[3:])
        sys.exit(0)
    print(__doc__)
    sys.exit(2)
