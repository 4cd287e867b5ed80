#!/usr/bin/env python3
"""Score fusion of two panel variants: does a default that takes each model where it is strong beat both?

    panel_fusion.py heldout MODEL.zip OUT.json
        Writes the fitted model's held-out training-image scores (the five-fold scores its threshold was chosen from,
        metadata rkde_threshold_scores of the density graph) as JSON. quality-panel.sh --keep-results calls it.

    panel_fusion.py fuse PANEL --sets S1,S2,... --variants A,B [--replicates 1000]
        Needs runs/A/SET and runs/B/SET made with quality-panel.sh --keep-results. Each model's score s (the image's or a
        box's) is calibrated by its own training images only: z = (log s - mean) / sd of the log held-out scores. Fusions:
          mean-z: image score = (z_A + z_B) / 2 of the two image scores;
          max-z:  image score = max(z_A, z_B); boxes = both models' boxes with their z (the image score is their best).
        Prints image AUROC and box AP@0.3 per configuration (mean over seeds) and the mean and worst configuration, for
        A, B and each fusion, with paired 95 % intervals from stratified bootstrap resamples of the test images (the same
        resamples for every row and every set, as the CLI draws them, though not its generator). AP@0.3 is recomputed here; it checks
        that its A and B figures match the CLI's report.json to 0.005 (boxes are rounded to 0.01 px). Pixel AUROC needs maps.
"""
import base64
import json
import os
import re
import struct
import sys
import zipfile

import numpy as np

SCORES_KEY = b"rkde_threshold_scores"
CHECKS = []  # |recomputed - report.json| of the two variants' image AUROC and AP@0.3, per set


def varint(data, i):
    value, shift = 0, 0
    while True:
        b = data[i]
        i += 1
        value |= (b & 0x7F) << shift
        if b < 0x80:
            return value, i
        shift += 7


def heldout_scores(model_zip):
    """The float32 scores in the value of the ONNX metadata entry rkde_threshold_scores (StringStringEntryProto: key = 1, value = 2)."""
    with zipfile.ZipFile(model_zip) as z:
        for name in z.namelist():
            data = z.read(name)
            for m in re.finditer(re.escape(SCORES_KEY), data):
                i = m.end()
                if i >= len(data) or data[i] != 0x12:
                    continue
                length, j = varint(data, i + 1)
                raw = base64.b64decode(data[j:j + length])
                return list(struct.unpack("<%df" % (len(raw) // 4), raw))
    raise SystemExit(f"panel_fusion.py: {model_zip} holds no metadata {SCORES_KEY.decode()} (a model fitted without a threshold?)")


def load_run(folder):
    """Per test image (results.jsonl order): image name, image score, boxes [[x1, y1, x2, y2, score], ...]; and the held-out scores."""
    rows = []
    with open(os.path.join(folder, "results.jsonl")) as f:
        for line in f:
            r = json.loads(line)
            if "error" in r:
                raise SystemExit(f"panel_fusion.py: {folder}: {r['image']} was not scored ({r['error']})")
            rows.append(r)
    with open(os.path.join(folder, "heldout.json")) as f:
        heldout = json.load(f)["scores"]
    return rows, heldout


class Calibration:
    """z = (log s - mean) / sd over the log held-out training-image scores: each model's scale, from its training images only."""

    def __init__(self, heldout):
        logs = np.log(np.maximum(np.asarray(heldout, dtype=np.float64), 1e-30))
        self.mean, self.sd = logs.mean(), max(logs.std(ddof=1), 1e-12)

    def __call__(self, s):
        return (np.log(np.maximum(np.asarray(s, dtype=np.float64), 1e-30)) - self.mean) / self.sd


def weighted_auroc(scores, labels, weights):
    """AUROC with image i counted weights[i] times (ties count half), vectorised over the rows of weights."""
    order = np.argsort(scores, kind="mergesort")
    s, y = scores[order], labels[order]
    w = weights[:, order]
    # Group equal scores: within a group, a positive beats the negatives below the group and ties with those inside it.
    starts = np.r_[True, s[1:] != s[:-1]]
    group = np.cumsum(starts) - 1
    neg = w * (~y)
    pos = w * y
    n_groups = group[-1] + 1
    neg_g = np.zeros((w.shape[0], n_groups))
    pos_g = np.zeros((w.shape[0], n_groups))
    np.add.at(neg_g.T, group, neg.T)
    np.add.at(pos_g.T, group, pos.T)
    below = np.cumsum(neg_g, axis=1) - neg_g
    wins = (pos_g * (below + 0.5 * neg_g)).sum(axis=1)
    return wins / (pos.sum(axis=1) * neg.sum(axis=1))


def box_iou(a, b):
    w = min(a[2], b[2]) - max(a[0], b[0])
    h = min(a[3], b[3]) - max(a[1], b[1])
    if w <= 0 or h <= 0:
        return 0.0
    inter = w * h
    return inter / ((a[2] - a[0]) * (a[3] - a[1]) + (b[2] - b[0]) * (b[3] - b[1]) - inter)


def matched(detections, truth, threshold=0.3):
    """As the CLI's BoxAveragePrecision.Match: every detection (score, image, box) ranked, highest first (ties by image, then
    index), a hit when its best-IoU anomalous box of its image is unmatched and at IoU >= threshold."""
    ranked = sorted(range(len(detections)), key=lambda k: (-detections[k][0], detections[k][1], k))
    used = [[False] * len(t) for t in truth]
    out = []
    for k in ranked:
        score, image, box = detections[k]
        best, best_iou = -1, 0.0
        for g, t in enumerate(truth[image]):
            v = box_iou(box, t)
            if v > best_iou:
                best, best_iou = g, v
        hit = best >= 0 and best_iou >= threshold and not used[image][best]
        if hit:
            used[image][best] = True
        out.append((score, image, hit))
    return out


def weighted_ap(outcomes, n_truth, weights):
    """All-point interpolated AP of the ranked outcomes with image i counted weights[r, i] times, per row r."""
    score = np.array([o[0] for o in outcomes])
    image = np.array([o[1] for o in outcomes], dtype=np.int64)
    hit = np.array([o[2] for o in outcomes], dtype=bool)
    last = np.r_[score[1:] != score[:-1], True]
    w = weights[:, image].astype(np.float64)
    tp = np.cumsum(w * hit, axis=1)[:, last]
    fp = np.cumsum(w * ~hit, axis=1)[:, last]
    gt = (weights * np.asarray(n_truth)).sum(axis=1, keepdims=True)
    total = tp + fp
    with np.errstate(invalid="ignore", divide="ignore"):
        precision = np.where(total > 0, tp / np.where(total > 0, total, 1), 0.0)
    recall = tp / gt
    precision = np.maximum.accumulate(precision[:, ::-1], axis=1)[:, ::-1]
    prev = np.concatenate([np.zeros((recall.shape[0], 1)), recall[:, :-1]], axis=1)
    return ((recall - prev) * precision).sum(axis=1)


def draws(labels, replicates, seed):
    """Stratified bootstrap: counts per image, row 0 every image once, then `replicates` resamples of each class."""
    rng = np.random.default_rng(seed)
    n = len(labels)
    counts = np.zeros((replicates + 1, n), dtype=np.int64)
    counts[0] = 1
    for cls in (False, True):
        idx = np.flatnonzero(labels == cls)
        picks = rng.integers(0, len(idx), size=(replicates, len(idx)))
        for r in range(replicates):
            np.add.at(counts[r + 1], idx[picks[r]], 1)
    return counts


def fuse(panel, sets, variants, replicates):
    a_name, b_name = variants
    rows_out = {}
    for s in sets:
        runs = {v: load_run(os.path.join(panel, "runs", v, s)) for v in variants}
        with open(os.path.join(panel, "sets", s, "boxes.json")) as f:
            truth_file = {im["image"]: [o["box"] for o in im["objects"] if o.get("anomalous")] for im in json.load(f)["images"]}
        images = [r["image"] for r in runs[a_name][0]]
        if images != [r["image"] for r in runs[b_name][0]]:
            raise SystemExit(f"panel_fusion.py: {s}: the two runs scored different test images")
        labels = np.array([not im.startswith("good/") for im in images])
        truth = [truth_file.get("test/" + im, []) if labels[i] else [] for i, im in enumerate(images)]
        cal = {v: Calibration(runs[v][1]) for v in variants}
        z = {v: cal[v]([r["score"] for r in runs[v][0]]) for v in variants}
        image_scores = {
            a_name: np.array([r["score"] for r in runs[a_name][0]], dtype=np.float64),
            b_name: np.array([r["score"] for r in runs[b_name][0]], dtype=np.float64),
            "mean-z": (z[a_name] + z[b_name]) / 2,
            "max-z": np.maximum(z[a_name], z[b_name]),
        }
        dets = {v: [(float(b[4]), i, b[:4]) for i, r in enumerate(runs[v][0]) for b in r["boxes"]] for v in variants}
        both = [(float(cal[v](sc)), i, box) for v in variants for (sc, i, box) in dets[v]]
        box_sets = {a_name: dets[a_name], b_name: dets[b_name], "max-z": both}
        # One seed for every set, as the CLI's bootstrap: sets of one seed share the generator's draws (image i of two
        # configurations holds related items), and the same resamples on every set keep that correlation in the mean's interval.
        counts = draws(labels, replicates, seed=0)
        result = {}
        for name, sc in image_scores.items():
            result[name] = {"auroc": weighted_auroc(sc, labels, counts)}
        n_truth = [len(t) for t in truth]
        for name, d in box_sets.items():
            result[name]["ap"] = weighted_ap(matched(d, truth), n_truth, counts)
        for v in variants:
            with open(os.path.join(panel, "runs", v, s, "report.json")) as f:
                report = json.load(f)
            # results.jsonl rounds boxes to 0.01 px, so a box at an IoU of 0.3 to within that may match differently.
            diff = max(abs(report["imageAuroc"] - result[v]["auroc"][0]), abs(report["boxApIou30"] - result[v]["ap"][0]))
            CHECKS.append(diff)
            if diff > 0.005:
                raise SystemExit(f"panel_fusion.py: {s}/{v}: recomputed AUROC {result[v]['auroc'][0]:.6f}, AP {result[v]['ap'][0]:.6f} "
                                 f"differ from report.json's {report['imageAuroc']}, {report['boxApIou30']}")
        rows_out[s] = result
    return rows_out


def report(results, sets, variants):
    configs = sorted({s.rsplit("-s", 1)[0] for s in sets}, key=lambda c: [x.rsplit("-s", 1)[0] for x in sets].index(c))
    names = list(variants) + ["mean-z", "max-z"]
    def per_config(name, metric):
        out = {}
        for c in configs:
            members = [results[s][name][metric] for s in sets if s.rsplit("-s", 1)[0] == c]
            out[c] = np.mean(members, axis=0)
        return out
    def ci(x):
        lo, hi = np.percentile(x[1:], [2.5, 97.5])
        return f"{x[0]:.3f} [{lo:.3f}, {hi:.3f}]"
    def dci(x):
        lo, hi = np.percentile(x[1:], [2.5, 97.5])
        return f"{x[0]:+.3f} [{lo:+.3f}, {hi:+.3f}]"
    base = per_config(variants[0], "auroc")
    other = per_config(variants[1], "auroc")
    base_stack = np.stack([base[c] for c in configs])
    other_stack = np.stack([other[c] for c in configs])
    print(f"Image AUROC per configuration (mean over seeds), paired differences [95 %] over {len(sets)} sets:")
    print("| configuration | " + " | ".join(names) + f" | mean-z − {variants[0]} | mean-z − {variants[1]} |")
    print("|---|" + "---|" * (len(names) + 2))
    mz = per_config("mean-z", "auroc")
    for c in configs:
        cells = [f"{per_config(n, 'auroc')[c][0]:.3f}" for n in names]
        print(f"| {c} | " + " | ".join(cells) + f" | {dci(mz[c] - base[c])} | {dci(mz[c] - other[c])} |")
    print()
    print(f"| fusion | mean image AUROC | worst image AUROC | mean AP@0.3 | mean − {variants[0]} | worst − {variants[0]} | mean − {variants[1]} | worst − {variants[1]} |")
    print("|---|---|---|---|---|---|---|---|")
    for n in names:
        pc = per_config(n, "auroc")
        stack = np.stack([pc[c] for c in configs])
        mean, worst = stack.mean(axis=0), stack.min(axis=0)
        worst_name = configs[int(np.argmin(stack[:, 0]))]
        ap = per_config(n, "ap") if n != "mean-z" else None
        ap_text = ci(np.stack([ap[c] for c in configs]).mean(axis=0)) if ap else "–"
        print(f"| {n} | {ci(mean)} | {ci(worst)} {worst_name} | {ap_text} | {dci(mean - base_stack.mean(axis=0))} | {dci(worst - base_stack.min(axis=0))} | "
              f"{dci(mean - other_stack.mean(axis=0))} | {dci(worst - other_stack.min(axis=0))} |")


def main():
    if len(sys.argv) >= 2 and sys.argv[1] == "heldout":
        if len(sys.argv) != 4:
            raise SystemExit(__doc__)
        with open(sys.argv[3], "w") as f:
            json.dump({"scores": heldout_scores(sys.argv[2])}, f)
        return
    if len(sys.argv) >= 3 and sys.argv[1] == "fuse":
        args = dict(zip(sys.argv[3::2], sys.argv[4::2]))
        sets = args["--sets"].split(",")
        variants = args["--variants"].split(",")
        if len(variants) != 2:
            raise SystemExit("panel_fusion.py fuse: --variants takes two names, A,B")
        results = fuse(sys.argv[2], sets, variants, int(args.get("--replicates", "1000")))
        print(f"Recomputed against report.json: largest difference {max(CHECKS):.2e} (image AUROC and AP@0.3 of both variants)")
        report(results, sets, variants)
        return
    raise SystemExit(__doc__)


if __name__ == "__main__":
    main()
