#!/usr/bin/env bash
# Offline quality study of the default models (the figures of docs/quality.md, "Where the quality is lost"): generates the
# standard FashionScenes set if DATA lacks it (scripts/fashionscenes-benchmark.sh), dumps every scene's filtered proposals,
# true item boxes and their features with Samples/Tools/DefaultModelsEval (RKDE_DUMP), then refits and probes the density stage
# in numpy (scripts/quality_study.py). About 2 minutes on 2 cores after the set exists.
#
#   scripts/quality-study.sh
#
# Environment: DATA (default out/fashionscenes), DUMP (default out/quality-study/dump).
set -euo pipefail
cd "$(dirname "$0")/.."
export DOTNET_CLI_TELEMETRY_OPTOUT=1 DOTNET_NOLOGO=1
DATA=${DATA:-out/fashionscenes}
DUMP=${DUMP:-out/quality-study/dump}
python=/usr/bin/python3   # Debian's interpreter: the one python3-numpy installs into

if ! "$python" -c 'import numpy' 2>/dev/null; then
  SUDO=""; [ "$(id -u)" -eq 0 ] || SUDO=sudo
  $SUDO apt-get update
  $SUDO apt-get install -y --no-install-recommends python3-numpy
fi
[ -f "$DATA/boxes.json" ] || DATA="$DATA" scripts/fashionscenes-benchmark.sh

mkdir -p "$(dirname "$DUMP")"
RKDE_DUMP="$DUMP" dotnet run -c Release --project Samples/Tools/DefaultModelsEval -- "$DATA"
"$python" scripts/quality_study.py "$DUMP"
