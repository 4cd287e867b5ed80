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
        Mean, worst and intervals are formed as quality_panel.py forms them (its Figure), IoU is quality_study.py's.
"""
import argparse
import base64
import json
import os
import re
import struct
import sys
import zipfile

import numpy as np

from quality_panel import Figure, by_configuration, summary
from quality_study import iou

SCORES_KEY = b"rkde_threshold_scores"


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
    if not zipfile.is_zipfile(model_zip):
        raise SystemExit(f"panel_fusion.py: {model_zip} is not a model .zip (give the model.zip `rkde fit` or `rkde evaluate` wrote)")
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
    for name in ("results.jsonl", "heldout.json", "report.json"):
        if not os.path.isfile(os.path.join(folder, name)):
            raise SystemExit(f"panel_fusion.py: {folder} has no {name}: run that variant with scripts/quality-panel.sh --keep-results "
                             "(with --resume it redoes only the runs that lack them)")
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


def matched(detections, truth, threshold=0.3):
    """As the CLI's BoxAveragePrecision.Match: every detection (score, image, box) ranked, highest first (ties by image, then
    index), a hit when its best-IoU anomalous box of its image is unmatched and at IoU >= threshold."""
    ranked = sorted(range(len(detections)), key=lambda k: (-detections[k][0], detections[k][1], k))
    used = [[False] * len(t) for t in truth]
    out = []
    for k in ranked:
        score, image, box = detections[k]
        hit = False
        if truth[image]:
            ious = iou(np.array([box], dtype=np.float64), np.array(truth[image], dtype=np.float64))[0][0]
            best = int(np.argmax(ious))  # the first of equal IoUs, as the CLI's strict ">"
            hit = ious[best] >= threshold and not used[image][best]
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
    """{set: {row: {metric: (estimate, replicates)}}} for A, B, mean-z and max-z, and the largest |recomputed - report.json|
    of A's and B's image AUROC and AP@0.3."""
    a_name, b_name = variants
    rows_out, largest = {}, 0.0
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
        n_truth = [len(t) for t in truth]
        values = {name: {"imageAuroc": weighted_auroc(sc, labels, counts)} for name, sc in image_scores.items()}
        for name, d in box_sets.items():
            values[name]["boxApIou30"] = weighted_ap(matched(d, truth), n_truth, counts)
        for v in variants:
            with open(os.path.join(panel, "runs", v, s, "report.json")) as f:
                report = json.load(f)
            # results.jsonl rounds boxes to 0.01 px, so a box at an IoU of 0.3 to within that may match differently.
            mine = {m: values[v][m][0] for m in ("imageAuroc", "boxApIou30")}
            diff = max(abs(report[m] - mine[m]) for m in mine)
            largest = max(largest, diff)
            if diff > 0.005:
                raise SystemExit(f"panel_fusion.py: {s}/{v}: recomputed {mine} differ from report.json's "
                                 f"{ {m: report[m] for m in mine} }")
        # Row 0 of the draws is every image once: the estimate; the rest are the replicates (quality_panel.py's run shape).
        rows_out[s] = {name: {m: (x[0], list(x[1:])) for m, x in figures.items()} for name, figures in values.items()}
    return rows_out, largest


def report(results, sets, variants):
    """Tables from {set: {row: {metric: (estimate, replicates)}}}: configurations, mean and worst as quality_panel.py forms them."""
    names = list(variants) + ["mean-z", "max-z"]
    configs = {n: by_configuration({s: results[s][n] for s in sets}) for n in names}
    base, other = configs[variants[0]], configs[variants[1]]
    print(f"Image AUROC per configuration (mean over seeds), paired differences [95 %] over {len(sets)} sets:")
    print("| configuration | " + " | ".join(names) + f" | mean-z − {variants[0]} | mean-z − {variants[1]} |")
    print("|---|" + "---|" * (len(names) + 2))
    for c in base:
        mz = configs["mean-z"][c]["imageAuroc"]
        cells = [f"{configs[n][c]['imageAuroc'].estimate:.3f}" for n in names]
        print(f"| {c} | " + " | ".join(cells) + f" | {mz.minus(base[c]['imageAuroc']).text(signed=True)} | "
              f"{mz.minus(other[c]['imageAuroc']).text(signed=True)} |")
    print()
    print(f"| fusion | mean image AUROC | worst image AUROC | mean AP@0.3 | mean − {variants[0]} | worst − {variants[0]} | mean − {variants[1]} | worst − {variants[1]} |")
    print("|---|---|---|---|---|---|---|---|")
    base_mean, base_worst = summary(base, "imageAuroc")
    other_mean, other_worst = summary(other, "imageAuroc")
    for n in names:
        mean, worst = summary(configs[n], "imageAuroc")
        ap, _ = summary(configs[n], "boxApIou30")
        print(f"| {n} | {mean.text()} | {worst.text()} | {ap.text() if ap else '–'} | {mean.minus(base_mean).text(signed=True)} | "
              f"{worst.minus(base_worst).text(signed=True)} | {mean.minus(other_mean).text(signed=True)} | {worst.minus(other_worst).text(signed=True)} |")


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    commands = parser.add_subparsers(dest="command", required=True)
    held = commands.add_parser("heldout", help="write a fitted model's held-out training-image scores as JSON")
    held.add_argument("model")
    held.add_argument("out")
    fusion = commands.add_parser("fuse", help="fuse two variants' scores on panel sets")
    fusion.add_argument("panel")
    fusion.add_argument("--sets", required=True, help="comma-separated set names, e.g. texture-lowcontrast-s1,texture-lowcontrast-s2")
    fusion.add_argument("--variants", required=True, help="two variant names A,B (folders under PANEL/runs)")
    fusion.add_argument("--replicates", type=int, default=1000)
    args = parser.parse_args()
    if args.command == "heldout":
        with open(args.out, "w") as f:
            json.dump({"scores": heldout_scores(args.model)}, f)
        return
    variants = args.variants.split(",")
    if len(variants) != 2:
        parser.error(f"--variants takes two names, A,B; got '{args.variants}'")
    sets = args.sets.split(",")
    results, largest = fuse(args.panel, sets, variants, args.replicates)
    print(f"Recomputed against report.json: largest difference {largest:.2e} (image AUROC and AP@0.3 of both variants)")
    report(results, sets, variants)


if __name__ == "__main__":
    main()
