#!/usr/bin/env python3
"""Offline study of the default models' quality on a FashionScenes set, from the dump that
`Samples/Tools/DefaultModelsEval` writes with RKDE_DUMP=PREFIX (PREFIX.json + PREFIX.f32).

It refits R-KDE's density stage in numpy (PCA on the training scenes' filtered proposals, Scale, Gaussian KDE with
Scott's bandwidth over the data covariance, as anomalib) and prints the figures docs/quality.md quotes:
image AUROC over the proposals, the same with the items' true boxes, item AUROC, what the boxes that make normal
scenes look anomalous are, and the bandwidth / kernel / components variants.

    python3 scripts/quality_study.py PREFIX
"""
import json
import os
import sys

import numpy as np


def load(prefix):
    for suffix in (".json", ".f32"):
        if not os.path.isfile(prefix + suffix):
            sys.exit(f"{prefix}{suffix} does not exist: write the dump with RKDE_DUMP={prefix} dotnet run -c Release "
                     "--project Samples/Tools/DefaultModelsEval -- SCENE_ROOT (scripts/quality-study.sh does both steps)")
    index = json.load(open(prefix + ".json"))
    dim = index["dimension"]
    data = np.fromfile(prefix + ".f32", dtype="<f4")
    offset, images = 0, []
    for e in index["images"]:
        p, n = e["proposals"], e["items"]
        e["pf"] = data[offset:offset + p * dim].reshape(p, dim)
        offset += p * dim
        e["tf"] = data[offset:offset + n * dim].reshape(n, dim)
        offset += n * dim
        e["pb"] = np.array(e["boxes"], dtype=np.float64).reshape(p, 4)
        e["tb"] = np.array(e["truth"], dtype=np.float64).reshape(n, 4)
        e["an"] = np.array(e["anomalous"], dtype=bool)
        images.append(e)
    if offset != len(data):
        sys.exit(f"{prefix}.f32 holds {len(data)} values, the index describes {offset}")
    return images


def auroc(labels, scores):
    """Mann-Whitney AUROC, ties counted half."""
    labels, scores = np.asarray(labels, bool), np.asarray(scores, float)
    order = scores.argsort(kind="mergesort")
    ranks = np.empty(len(scores))
    sorted_scores = scores[order]
    i = 0
    while i < len(scores):
        j = i
        while j + 1 < len(scores) and sorted_scores[j + 1] == sorted_scores[i]:
            j += 1
        ranks[order[i:j + 1]] = (i + j) / 2 + 1
        i = j + 1
    pos, neg = labels.sum(), (~labels).sum()
    return (ranks[labels].sum() - pos * (pos + 1) / 2) / (pos * neg)


def iou(a, b):
    x1 = np.maximum(a[:, None, 0], b[None, :, 0]); y1 = np.maximum(a[:, None, 1], b[None, :, 1])
    x2 = np.minimum(a[:, None, 2], b[None, :, 2]); y2 = np.minimum(a[:, None, 3], b[None, :, 3])
    inter = np.clip(x2 - x1, 0, None) * np.clip(y2 - y1, 0, None)
    area_a = (a[:, 2] - a[:, 0]) * (a[:, 3] - a[:, 1]); area_b = (b[:, 2] - b[:, 0]) * (b[:, 3] - b[:, 1])
    return inter / (area_a[:, None] + area_b[None, :] - inter), inter / area_a[:, None], inter / area_b[None, :]


def kde_scorer(train, k, bandwidth=1.0, isotropic=False):
    """-log-density under PCA(k) → Scale → Gaussian KDE (Scott's factor × bandwidth)."""
    mean = train.mean(0)
    _, _, vt = np.linalg.svd(train - mean, full_matrices=False)
    comps = vt[:k].T
    points = (train - mean) @ comps
    scale = np.linalg.norm(points, axis=1).max()
    points /= scale
    n, d = points.shape
    factor = n ** (-1.0 / (d + 4)) * bandwidth
    cov = np.eye(d) * points.var(0, ddof=1).mean() if isotropic else np.cov(points, rowvar=False)
    chol = np.linalg.cholesky(cov * factor ** 2)
    whiten = np.linalg.inv(chol)
    a = points @ whiten.T
    log_norm = -np.log(n) - np.log(np.diag(chol)).sum() - 0.5 * d * np.log(2 * np.pi)

    def score(x):
        b = ((x - mean) @ comps / scale) @ whiten.T
        d2 = np.maximum((b ** 2).sum(1)[:, None] - 2 * b @ a.T + (a ** 2).sum(1)[None, :], 0)
        m = (-0.5 * d2).max(1)
        return -(m + np.log(np.exp(-0.5 * d2 - m[:, None]).sum(1)) + log_norm)
    return score


def nn_scorer(train):
    return lambda x: 1 - (x @ train.T).max(1)


def image_auroc(test, score, boxes="pf"):
    labels = [e["image"].split("/")[1] != "good" for e in test]
    return auroc(labels, [score(e[boxes]).max() if len(e[boxes]) else -np.inf for e in test])


def main(prefix):
    images = load(prefix)
    train = [e for e in images if e["image"].startswith("train/")]
    test = [e for e in images if not e["image"].startswith("train/")]
    proposals = np.concatenate([e["pf"] for e in train])
    true_train = np.concatenate([e["tf"] for e in train])
    items = np.concatenate([e["tf"] for e in test])
    item_labels = np.concatenate([e["an"] for e in test])
    print(f"{len(train)} training scenes ({len(proposals)} filtered proposals), {len(test)} test scenes, D = {proposals.shape[1]}")

    print("\nimage AUROC over the proposals | with the true boxes | item AUROC (true boxes), fitted on the proposals:")
    for name, score in [(f"KDE {k} components", kde_scorer(proposals, k)) for k in (16, 32, 64, 128)] + \
                       [("KDE 64, isotropic kernel", kde_scorer(proposals, 64, isotropic=True)),
                        ("KDE 64, bandwidth x0.1", kde_scorer(proposals, 64, bandwidth=0.1)),
                        ("cosine 1-NN, 1,024-d", nn_scorer(proposals))]:
        print(f"  {name:26s} {image_auroc(test, score):.3f} | {image_auroc(test, score, 'tf'):.3f} | {auroc(item_labels, score(items)):.3f}")
    print("fitted on the training scenes' true boxes:")
    for name, score in [("KDE 64", kde_scorer(true_train, 64)), ("KDE 128", kde_scorer(true_train, 128)), ("cosine 1-NN", nn_scorer(true_train))]:
        print(f"  {name:26s} true boxes {image_auroc(test, score, 'tf'):.3f}")

    score = kde_scorer(proposals, 64)
    best_anomalous, kinds = [], {}
    for e in test:
        if not len(e["pf"]):
            continue
        s = score(e["pf"])
        overlap, in_box, in_item = iou(e["pb"], e["tb"])
        if e["an"].any():
            for t in np.where(e["an"])[0]:
                if (overlap[:, t] >= 0.5).any():
                    best_anomalous.append(s[overlap[:, t] >= 0.5].max())
            continue
        for i in range(len(s)):
            if overlap[i].max() >= 0.5: kind = "whole item"
            elif in_box[i].max() > 0.8: kind = "inside an item"
            elif (in_item[i] > 0.8).any(): kind = "item(s) with much background"
            elif in_box[i].sum() < 0.1: kind = "background"
            else: kind = "straddles an item's edge"
            kinds.setdefault(kind, []).append(s[i])
    median = np.median(best_anomalous)
    total = sum(len(v) for v in kinds.values())
    above = sum(int((np.array(v) > median).sum()) for v in kinds.values())
    print(f"\nboxes of the normal test scenes (KDE 64): {total}; {above} score above the median of the anomalous items' best boxes:")
    for kind, values in sorted(kinds.items(), key=lambda kv: -(np.array(kv[1]) > median).sum()):
        print(f"  {kind:30s} {int((np.array(values) > median).sum()):4d} of {len(values)}")


if __name__ == "__main__":
    if len(sys.argv) != 2:
        sys.exit(__doc__)
    main(sys.argv[1])
