#!/usr/bin/env bash
# Regenerates the density conformance fixtures of Rkde.MLNet.Tests/Fixtures/generated/kde with numpy (scripts/kde_fixtures.py),
# after proving the definition on anomalib's golden fixtures (it must reproduce every log-density there to 1e-6).
# Installs python3-numpy, and OpenBLAS so that the 4,096-d SVDs take minutes rather than an hour, from Debian when missing.
#
#   scripts/kde-fixtures.sh [NAME-PART ...]     (only the fixtures whose name contains a NAME-PART)
#
# Environment: GOLDEN (default the test project's copy of anomalib's kde fixtures), OUT (default Rkde.MLNet.Tests/Fixtures/generated/kde).
set -euo pipefail
cd "$(dirname "$0")/.."
GOLDEN=${GOLDEN:-Rkde.MLNet.Tests/Fixtures/anomalib/kde}
OUT=${OUT:-Rkde.MLNet.Tests/Fixtures/generated/kde}
python=/usr/bin/python3   # Debian's interpreter: the one python3-numpy installs into

if ! "$python" -c 'import numpy' 2>/dev/null || ! ls /usr/lib/x86_64-linux-gnu/openblas-pthread/libblas.so.3 >/dev/null 2>&1; then
  SUDO=""; [ "$(id -u)" -eq 0 ] || SUDO=sudo
  $SUDO apt-get update
  $SUDO apt-get install -y --no-install-recommends python3-numpy libopenblas0-pthread
fi
"$python" scripts/kde_fixtures.py reproduce "$GOLDEN"
"$python" scripts/kde_fixtures.py generate "$OUT" "$@"
