#!/usr/bin/env bash
# FashionScenes benchmark: installs the inputs (Debian packages), builds the rkde tool, generates the standard
# configuration, evaluates R-KDE with its defaults on it, and prints the results table.
#
#   scripts/fashionscenes-benchmark.sh [extra rkde evaluate options, e.g. --feature-scaling norm]
#
# Environment: DATA (default out/fashionscenes), REPORT (default out/fashionscenes-report).
#
# Standard configuration (the make-scenes defaults, spelled out below): seed 2026, 360 × 240 scenes, Fashion-MNIST
# item cells upscaled to 56–96 px and tinted, 2–5 items per scene, on random crops of the grass, gravel and brick
# photos of python3-skimage; normal classes tshirt_top, trouser, pullover, dress, coat, shirt; anomaly classes
# sandal, sneaker, bag, ankle_boot, 1–2 of them per anomalous scene among normal items; 200 train/good,
# 60 test/good and 60 anomalous test scenes (15 per class). Training scenes use Fashion-MNIST's training split,
# test scenes its test split.
set -euo pipefail
cd "$(dirname "$0")/.."
export DOTNET_CLI_TELEMETRY_OPTOUT=1 DOTNET_NOLOGO=1
DATA=${DATA:-out/fashionscenes}
REPORT=${REPORT:-out/fashionscenes-report}

if [ ! -f /usr/share/datasets/fashion-mnist/train-images-idx3-ubyte.gz ] || [ ! -f /usr/lib/python3/dist-packages/skimage/data/grass.png ]; then
  SUDO=""; [ "$(id -u)" -eq 0 ] || SUDO=sudo
  $SUDO apt-get update
  $SUDO apt-get install -y --no-install-recommends dataset-fashion-mnist python3-skimage
fi

dotnet build Samples/Rkde.Cli/Rkde.Cli.csproj -c Release
RKDE=(dotnet Samples/Rkde.Cli/bin/Release/net10.0/rkde.dll)

"${RKDE[@]}" make-scenes --out "$DATA" --force \
  --seed 2026 --width 360 --height 240 --item-size 56-96 --items 2-5 --anomalous-items 1-2 \
  --normal-classes tshirt_top,trouser,pullover,dress,coat,shirt --anomaly-classes sandal,sneaker,bag,ankle_boot \
  --train 200 --test-good 60 --test-anomalous 60 --background texture --format png

"${RKDE[@]}" evaluate --data "$DATA" --out "$REPORT" "$@"

python3 - "$REPORT/report.json" <<'PY'
import json, sys
r = json.load(open(sys.argv[1]))
f = lambda v: "n/a" if v is None else f"{v:.3f}"
print()
print("| Image AUROC | Pixel AUROC | Box AP@0.3 | Box AP@0.5 | Fit (images/s) | Scoring (images/s) |")
print("|---|---|---|---|---|---|")
print(f"| {f(r['imageAuroc'])} | {f(r['pixelAuroc'])} | {f(r['boxApIou30'])} | {f(r['boxApIou50'])} "
      f"| {r['fitImagesPerSecond'] or 0:.1f} | {r['scoreImagesPerSecond']:.1f} |")
print()
print("Image AUROC per anomaly class: " + ", ".join(f"{k} {v:.3f}" for k, v in r["imageAurocByKind"].items()))
PY
