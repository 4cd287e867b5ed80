#!/usr/bin/env python3
"""Tables of the robustness panel (scripts/quality-panel.sh writes the runs; standard library only).

Every run folder holds report.json and bootstrap.json as `rkde evaluate --bootstrap` writes them (or DefaultModelsEval's panel
mode, in the same schema). All runs resample the test images with the same seed and image order, so replicate i of every run
on a set draws the same images. A configuration's figure is the mean over its seeds and its interval the percentile interval of
the replicate-wise mean; the panel's mean and worst are formed replicate by replicate as well, and so is the paired difference
of a variant to "default" (both run on the same sets).

    quality_panel.py PANEL --sets a-s1,a-s2,... --variants default,anomalib [--ceiling-of VARIANT=FOLDER ...] [--levers [--lab FOLDER]]

The true-box ceiling beside a variant comes from PANEL/ceiling (the ResNet18 default's features) unless --ceiling-of names
another folder for it (e.g. nanodet=ceiling-nanodet for NanoDet's features).
"""
import argparse
import json
import os
import sys

METRICS = [("imageAuroc", "image AUROC"), ("boxApIou30", "box AP@0.3"), ("pixelAuroc", "pixel AUROC")]
TARGETS = "targets: worst image AUROC >= 0.80, mean image AUROC >= 0.90, mean AP@0.3 >= 0.5, mean pixel AUROC >= 0.95"


def percentile(values, q):
    """numpy's default (linear) percentile."""
    s = sorted(values)
    rank = q / 100 * (len(s) - 1)
    lo = int(rank)
    hi = min(lo + 1, len(s) - 1)
    return s[lo] + (rank - lo) * (s[hi] - s[lo])


def load_run(folder):
    """{metric: (estimate, replicates)} of one run folder, or None when it is missing."""
    report_path, boot_path = os.path.join(folder, "report.json"), os.path.join(folder, "bootstrap.json")
    if not (os.path.isfile(report_path) and os.path.isfile(boot_path)):
        return None
    report, boot = json.load(open(report_path)), json.load(open(boot_path))
    return {m: (report[m], boot[m]) for m, _ in METRICS if report.get(m) is not None and boot.get(m) is not None}


class Figure:
    """An estimate with its bootstrap replicates."""

    def __init__(self, estimate, replicates, where=None):
        self.estimate, self.replicates, self.where = estimate, replicates, where

    @staticmethod
    def mean(figures):
        n = len(figures)
        return Figure(sum(f.estimate for f in figures) / n, [sum(r) / n for r in zip(*(f.replicates for f in figures))])

    @staticmethod
    def worst(named):
        name, worst = min(named.items(), key=lambda kv: kv[1].estimate)
        return Figure(worst.estimate, [min(r) for r in zip(*(f.replicates for f in named.values()))], name)

    def minus(self, other):
        return Figure(self.estimate - other.estimate, [a - b for a, b in zip(self.replicates, other.replicates)])

    def text(self, signed=False):
        lo, hi = percentile(self.replicates, 2.5), percentile(self.replicates, 97.5)
        f = "{:+.3f}" if signed else "{:.3f}"
        return f"{f.format(self.estimate)} [{f.format(lo)}, {f.format(hi)}]" + (f" {self.where}" if self.where else "")


def by_configuration(runs):
    """{configuration: {metric: Figure}} from {set: run}; a configuration is the set's name without its -sN suffix."""
    grouped = {}
    for s, run in runs.items():
        grouped.setdefault(s.rsplit("-s", 1)[0], []).append(run)
    result = {}
    for config, seeds in grouped.items():
        result[config] = {m: Figure.mean([Figure(*r[m]) for r in seeds]) for m, _ in METRICS if all(m in r for r in seeds)}
    return result


def collect(panel, folder_of, sets):
    runs = {s: load_run(folder_of(s)) for s in sets}
    missing = [s for s, r in runs.items() if r is None]
    return (by_configuration(runs) if not missing else None), missing


def partial_ceiling(panel, sets, folder="ceiling"):
    """The true-box ceilings of the configurations whose every set has one, and the sets without one."""
    runs = {s: load_run(os.path.join(panel, folder, s)) for s in sets}
    missing = [s for s, r in runs.items() if r is None]
    incomplete = {s.rsplit("-s", 1)[0] for s in missing}
    ceiling = by_configuration({s: r for s, r in runs.items() if s.rsplit("-s", 1)[0] not in incomplete})
    if missing:
        ceiling["(incomplete)"] = {}
    return ceiling, missing


def summary(configs, metric):
    named = {c: f[metric] for c, f in configs.items() if metric in f}
    return (Figure.mean(list(named.values())), Figure.worst(named)) if named else (None, None)


def print_table(title, configs, ceiling, baseline=None):
    print(f"\n### {title}\n")
    head = "| configuration | image AUROC [95 %] | true-box ceiling | box AP@0.3 [95 %] | pixel AUROC [95 %] |"
    if baseline is not None:
        head += " image AUROC − default |"
    print(head)
    print("|" + "---|" * (head.count("|") - 1))

    def cells(figures, ceiling_figure, delta):
        row = [figures.get("imageAuroc").text() if "imageAuroc" in figures else "–",
               ceiling_figure.text() if ceiling_figure else "–",
               figures["boxApIou30"].text() if "boxApIou30" in figures else "–",
               figures["pixelAuroc"].text() if "pixelAuroc" in figures else "–"]
        if baseline is not None:
            row.append(delta.text(signed=True) if delta else "–")
        return row

    for config, figures in configs.items():
        c = ceiling.get(config, {}).get("imageAuroc") if ceiling else None
        d = figures["imageAuroc"].minus(baseline[config]["imageAuroc"]) if baseline and config in baseline else None
        print(f"| {config} | " + " | ".join(cells(figures, c, d)) + " |")
    for label, pick in (("mean", 0), ("worst", 1)):
        figures = {m: summary(configs, m)[pick] for m, _ in METRICS if summary(configs, m)[pick] is not None}
        c = summary(ceiling, "imageAuroc")[pick] if ceiling and "(incomplete)" not in ceiling else None
        d = None
        if baseline is not None:
            mine = {k: v for k, v in configs.items() if k in baseline}
            if pick == 0:
                d = Figure.mean([mine[k]["imageAuroc"].minus(baseline[k]["imageAuroc"]) for k in mine])
            else:
                d = Figure.worst({k: v["imageAuroc"] for k, v in mine.items()}).minus(Figure.worst({k: baseline[k]["imageAuroc"] for k in mine}))
        print(f"| **{label}** | " + " | ".join(cells(figures, c, d)) + " |")


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("panel")
    parser.add_argument("--sets", required=True)
    parser.add_argument("--variants", default="default,anomalib")
    parser.add_argument("--ceiling-of", action="append", default=[], metavar="VARIANT=FOLDER",
                        help="the ceiling folder under PANEL of a variant (default: ceiling)")
    parser.add_argument("--levers", action="store_true")
    parser.add_argument("--lab", default="lab", help="the lever lab's folder under PANEL (default lab)")
    parser.add_argument("--lever-baseline", default="default", help="the lever the others are paired with (default: default)")
    a = parser.parse_args()
    sets = a.sets.split(",")
    ceiling_of = dict(c.split("=", 1) for c in a.ceiling_of)
    ceilings = {}
    for folder in ["ceiling", *ceiling_of.values()]:
        if folder in ceilings:
            continue
        ceilings[folder], missing = partial_ceiling(a.panel, sets, folder)
        if missing:
            print(f"(no true-box ceiling in {folder} for {', '.join(missing)}: the tables show it for the configurations with all "
                  "their seeds and leave the mean and worst ceiling out)")
    tables = {}
    for variant in a.variants.split(","):
        configs, missing = collect(a.panel, lambda s: os.path.join(a.panel, "runs", variant, s), sets)
        if configs is None:
            sys.exit(f"quality_panel.py: {variant} has no run on {', '.join(missing)}: run scripts/quality-panel.sh with that variant")
        tables[variant] = configs
    if "default" not in tables:
        default, _ = collect(a.panel, lambda s: os.path.join(a.panel, "runs", "default", s), sets)
    else:
        default = tables["default"]
    print(f"\nR-KDE robustness panel: {len(sets)} sets ({', '.join(sets)}); figures are means over each configuration's seeds, "
          "[95 % bootstrap intervals] over the test images. " + TARGETS + ".")
    for variant, configs in tables.items():
        folder = ceiling_of.get(variant, "ceiling")
        print_table(f"variant {variant} (true-box ceiling from {folder})", configs, ceilings[folder], None if variant == "default" else default)

    if a.levers:
        print_levers(a.panel, a.lab, sets, a.lever_baseline)


def print_levers(panel, lab_name, sets, lever_baseline="default"):
    """The lever lab's tables. The lab usually ran on a subset of the panel's sets, and not every variant on each of them:
    each row uses the sets where both it and the lab's default ran (the paired difference needs the same sets), and says
    how many those are."""
    lab = lambda s, kind, name: os.path.join(panel, lab_name, s, kind, name)
    lab_sets = [s for s in sets if os.path.isdir(os.path.join(panel, lab_name, s))]
    if not lab_sets:
        print(f"\n(the lever lab {os.path.join(panel, lab_name)} holds none of the sets {', '.join(sets)})")
        return
    print(f"\nLever lab {os.path.join(panel, lab_name)}: {len(lab_sets)} sets ({', '.join(lab_sets)}).")
    done = lambda s, kind, name: load_run(lab(s, kind, name)) is not None
    for kind, title in (("separability", "true-box separability (cosine 1-NN image AUROC) per feature head"),
                        ("levers", "levers on the ResNet18 default (DefaultModelsEval)")):
        names = sorted({n for s in lab_sets if os.path.isdir(os.path.join(panel, lab_name, s, kind))
                        for n in os.listdir(os.path.join(panel, lab_name, s, kind))})
        baseline = lever_baseline if kind == "levers" else "l3x2"
        if baseline in names:
            names.remove(baseline)
            names.insert(0, baseline)
        print(f"\n### {title}\n")
        head = (f"| variant | sets | mean image AUROC | worst image AUROC | mean AP@0.3 | mean pixel AUROC | "
                f"mean Δ image AUROC vs {baseline} | worst Δ |")
        print(head)
        print("|" + "---|" * (head.count("|") - 1))
        rows = []
        for name in names:
            paired = [s for s in lab_sets if done(s, kind, name) and done(s, kind, baseline)]
            if not paired:
                continue
            configs, _ = collect(panel, lambda s: lab(s, kind, name), paired)
            base, _ = collect(panel, lambda s: lab(s, kind, baseline), paired)
            mean_i, worst_i = summary(configs, "imageAuroc")
            mean_ap, _ = summary(configs, "boxApIou30")
            mean_px, _ = summary(configs, "pixelAuroc")
            delta_mean = delta_worst = "–"
            if name != baseline:
                delta_mean = Figure.mean([configs[k]["imageAuroc"].minus(base[k]["imageAuroc"]) for k in configs]).text(True)
                delta_worst = worst_i.minus(summary(base, "imageAuroc")[1]).text(True)
            print(f"| {name} | {len(paired)} | {mean_i.text()} | {worst_i.text()} | {mean_ap.text() if mean_ap else '–'} | "
                  f"{mean_px.text() if mean_px else '–'} | {delta_mean} | {delta_worst} |")
            rows.append((name, configs))
        # Image AUROC of every variant on every configuration (means over the seeds it ran on).
        if rows:
            columns = sorted({c for _, configs in rows for c in configs})
            print(f"\nimage AUROC per configuration ({kind}):\n")
            print("| variant | " + " | ".join(columns) + " |")
            print("|" + "---|" * (len(columns) + 1))
            for n, c in rows:
                print(f"| {n} | " + " | ".join(f"{c[k]['imageAuroc'].estimate:.3f}" if k in c else "–" for k in columns) + " |")

if __name__ == "__main__":
    main()
