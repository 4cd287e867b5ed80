#!/usr/bin/env bash
# The robustness panel: R-KDE on FashionScenes sets that differ from the standard one in every way make-scenes can vary
# (backgrounds, item opacity and colour, image size, item size and count, class split, training scenes). Installs the inputs
# (Debian packages), builds the rkde tool and the DefaultModelsEval tool, generates each configuration for two seeds (cached
# under out/panel/sets: a rerun skips generation), evaluates each variant on every set with a bootstrap over the test images,
# computes each set's true-box ceiling, and prints a table per variant: a row per configuration (mean over its seeds) and the
# mean and worst configuration, each with its 95 % interval (scripts/quality_panel.py).
#
#   scripts/quality-panel.sh [--quick] [--levers] [--no-ceiling] [--resume] [--keep-results] [--variant NAME 'RKDE OPTIONS' ...]
#
# Without --variant it runs two: "default" (the tuned defaults) and "anomalib" (--preset anomalib). Each --variant runs
# `rkde evaluate` with those options on every set, e.g. --variant iou05 '--iou-threshold 0.5'; its table shows the paired
# difference to "default" where that has been run on the same sets. --quick: the first four configurations, one seed.
# --levers: also runs the lever experiments of DefaultModelsEval on every set (out/panel/lab; about as long as a variant).
# --no-ceiling: does not compute missing true-box ceilings (the tables show those computed before). The ceiling uses the
# ResNet18 default's features (out/panel/ceiling); a variant with `--built-in nanodet` gets NanoDet's (out/panel/ceiling-nanodet).
# --resume: keeps the runs a previous call finished (after an interruption); by default every run is redone.
# --keep-results: also keeps each run's per-image results (results.jsonl) and the fitted model's held-out training-image
# scores (heldout.json), which scripts/panel_fusion.py needs to measure score fusion of two variants.
#
# Environment: PANEL (default out/panel), PANEL_SEEDS (the seeds, default "1 2"), REPLICATES (bootstrap resamples, default 1000), TMPDIR (where each run's model and
# per-image results go while it runs; the panel keeps only report.json and bootstrap.json).
set -euo pipefail
cd "$(dirname "$0")/.."
export DOTNET_CLI_TELEMETRY_OPTOUT=1 DOTNET_NOLOGO=1
PANEL=${PANEL:-out/panel}
REPLICATES=${REPLICATES:-1000}

# name | normal training scenes | make-scenes options (80 good + 80 anomalous test scenes each)
CONFIGS=(
  "texture-lowcontrast|80|--background texture --opacity intensity"
  "plain-512-footwear|80|--background plain --width 512 --height 384 --item-size 64-112 --normal-classes sandal,sneaker,ankle_boot --anomaly-classes bag,trouser"
  "photo-clutter|100|--background photo --tint natural"
  "reverse-texture|200|--background texture --normal-classes sandal,sneaker,bag,ankle_boot --anomaly-classes tshirt_top,trouser,pullover,dress,coat,shirt"
  "standard-40|40|--background texture"
  "grey-texture|120|--background texture --tint grey"
  "faint-mixed|120|--background mixed --opacity faint"
  "small-many|120|--background texture --tint natural --item-size 32-48 --items 6-10"
  "large-few|120|--background mixed --tint natural --item-size 112-176 --items 1-3"
)
read -r -a SEEDS <<<"${PANEL_SEEDS:-1 2}"

quick=0 levers=0 ceiling=1 resume=0 keep=0
names=() options=()
while [ $# -gt 0 ]; do
  case "$1" in
    --quick) quick=1; shift ;;
    --levers) levers=1; shift ;;
    --no-ceiling) ceiling=0; shift ;;
    --resume) resume=1; shift ;;
    --keep-results) keep=1; shift ;;
    --variant) [ $# -ge 3 ] || { echo "quality-panel.sh: --variant needs a name and an option string" >&2; exit 2; }
               names+=("$2"); options+=("$3"); shift 3 ;;
    *) echo "quality-panel.sh: unknown argument '$1' (see the header of $0)" >&2; exit 2 ;;
  esac
done
if [ ${#names[@]} -eq 0 ]; then names=(default anomalib); options=("" "--preset anomalib"); fi
if [ "$quick" -eq 1 ]; then CONFIGS=("${CONFIGS[@]:0:4}"); SEEDS=(1); fi

if [ ! -f /usr/share/datasets/fashion-mnist/train-images-idx3-ubyte.gz ] || [ ! -f /usr/lib/python3/dist-packages/skimage/data/astronaut.png ]; then
  SUDO=""; [ "$(id -u)" -eq 0 ] || SUDO=sudo
  $SUDO apt-get update
  $SUDO apt-get install -y --no-install-recommends dataset-fashion-mnist python3-skimage
fi

start=$(date +%s)
echo "quality-panel: start $(date -u +%H:%M:%S) UTC, load average $(cut -d' ' -f1-3 /proc/loadavg)"
dotnet build Samples/Rkde.Cli/Rkde.Cli.csproj -c Release -v quiet -nologo
dotnet build Samples/Tools/DefaultModelsEval/DefaultModelsEval.csproj -c Release -v quiet -nologo
RKDE=(dotnet Samples/Rkde.Cli/bin/Release/net10.0/rkde.dll)
EVAL=(dotnet Samples/Tools/DefaultModelsEval/bin/Release/net10.0/DefaultModelsEval.dll)

sets=()
for config in "${CONFIGS[@]}"; do
  IFS='|' read -r name train args <<<"$config"
  for seed in "${SEEDS[@]}"; do
    set_dir="$PANEL/sets/$name-s$seed"
    stamp="--seed $seed --train $train --test-good 80 --test-anomalous 80 $args"
    sets+=("$name-s$seed")
    if [ -f "$set_dir/boxes.json" ] && [ "$(cat "$set_dir/panel-settings.txt" 2>/dev/null)" = "$stamp" ]; then continue; fi
    # shellcheck disable=SC2086  # the option strings are word lists
    "${RKDE[@]}" make-scenes --out "$set_dir" --force $stamp 2>/dev/null
    echo "$stamp" > "$set_dir/panel-settings.txt"
  done
done

# The ceilings to compute: the ResNet18 default's, and NanoDet's where a variant uses it (quality_panel.py --ceiling-of).
ceilings=(ceiling) ceiling_args=() ceiling_flags=("")
for i in "${!names[@]}"; do
  case " ${options[$i]} " in
    *" --built-in nanodet "*)
      ceiling_args+=(--ceiling-of "${names[$i]}=ceiling-nanodet")
      [ "${ceilings[*]}" = "ceiling" ] && { ceilings+=(ceiling-nanodet); ceiling_flags+=(--nanodet); } ;;
  esac
done
for c in "${!ceilings[@]}"; do
  for s in "${sets[@]}"; do
    [ "$ceiling" -eq 1 ] || break
    # A ceiling depends on the set and the built-in models only; recompute it after either changes (delete its folder).
    folder="$PANEL/${ceilings[$c]}"
    # shellcheck disable=SC2086  # the flag is empty or one word
    [ -f "$folder/$s/report.json" ] || "${EVAL[@]}" panel "$PANEL/sets/$s" --out "$PANEL/ceiling-tmp/$s" --replicates "$REPLICATES" ${ceiling_flags[$c]} >/dev/null
    if [ -d "$PANEL/ceiling-tmp/$s/ceiling" ]; then mkdir -p "$folder"; rm -rf "${folder:?}/$s"; mv "$PANEL/ceiling-tmp/$s/ceiling" "$folder/$s"; fi
    rm -rf "$PANEL/ceiling-tmp"
  done
done

for i in "${!names[@]}"; do
  for s in "${sets[@]}"; do
    run="$PANEL/runs/${names[$i]}/$s"
    if [ "$resume" -eq 1 ] && [ -f "$run/bootstrap.json" ] && { [ "$keep" -eq 0 ] || [ -f "$run/heldout.json" ]; }; then continue; fi
    rm -rf "$run"
    mkdir -p "$run"
    # The model and the per-image results go to a temporary folder (TMPDIR); the panel keeps the report and the replicates.
    work=$(mktemp -d)
    # shellcheck disable=SC2086
    "${RKDE[@]}" evaluate --data "$PANEL/sets/$s" --out "$work" --metrics-only --bootstrap "$REPLICATES" ${options[$i]} >/dev/null 2>"$work/log" \
      || { cp "$work/log" "$run.log"; rm -rf "$work"; echo "quality-panel: ${names[$i]} on $s failed, see $run.log" >&2; exit 1; }
    mv "$work/report.json" "$work/bootstrap.json" "$run/"
    if [ "$keep" -eq 1 ]; then
      mv "$work/results.jsonl" "$run/"
      /usr/bin/python3 scripts/panel_fusion.py heldout "$work/model.zip" "$run/heldout.json"
    fi
    rm -rf "$work"
  done
done

if [ "$levers" -eq 1 ]; then
  for s in "${sets[@]}"; do
    if [ "$resume" -eq 1 ] && [ -f "$PANEL/lab/$s/lab-complete.txt" ]; then continue; fi
    rm -rf "$PANEL/lab/$s"
    "${EVAL[@]}" panel "$PANEL/sets/$s" --out "$PANEL/lab/$s" --levers --replicates "$REPLICATES"
  done
fi

end=$(date +%s)
# `times` in this shell (not in a command substitution's subshell, which has no children): the second line is the tools'.
cpu=$(mktemp); times > "$cpu"
echo "quality-panel: $(( (end - start) / 60 )) min $(( (end - start) % 60 )) s wall, end load average $(cut -d' ' -f1-3 /proc/loadavg);" \
  "CPU time of the tools (user, system): $(tail -1 "$cpu")"
rm -f "$cpu"
report=(/usr/bin/python3 scripts/quality_panel.py "$PANEL" --sets "$(IFS=,; echo "${sets[*]}")" --variants "$(IFS=,; echo "${names[*]}")" "${ceiling_args[@]}")
[ "$levers" -eq 0 ] || report+=(--levers)
"${report[@]}"
