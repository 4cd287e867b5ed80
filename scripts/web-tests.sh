#!/usr/bin/env bash
# The exported model in a second runtime: fits the demo model with the CLI, exports it to ONNX, scores the demo test images
# with the ML.NET .zip, then runs Samples/Web/test with Node: ONNX Runtime for Node on every demo image, and the page in
# Debian's headless Chromium (onnxruntime-web). Installs what it needs: Debian's chromium (needs root), the npm packages of
# Samples/Web (package-lock.json). Output (git-ignored): artifacts/web, with the test results in web-tests.tap.
set -euo pipefail
cd "$(dirname "$0")/.."
export DOTNET_CLI_TELEMETRY_OPTOUT=1 DOTNET_NOLOGO=1 DEBIAN_FRONTEND=noninteractive
# onnxruntime-node's install step would fetch CUDA binaries from the internet on some npm versions; the CPU binaries ship in the package.
export ONNXRUNTIME_NODE_INSTALL=skip
out="$PWD/artifacts/web"
t0=$SECONDS

if [ ! -x /usr/bin/chromium ]; then
  apt-get -o DPkg::Lock::Timeout=600 update
  apt-get -o DPkg::Lock::Timeout=600 install -y --no-install-recommends chromium
fi
(cd Samples/Web && npm ci --no-audit --no-fund)
t_install=$SECONDS

rm -rf "$out" && mkdir -p "$out"
dotnet build Samples/Rkde.Cli/Rkde.Cli.csproj -c Release
rkde() { dotnet Samples/Rkde.Cli/bin/Release/net10.0/rkde.dll "$@"; }
rkde fit --train assets/demo --model "$out/model.zip"
rkde export --model "$out/model.zip" --out "$out/model.onnx"
rkde score --model "$out/model.zip" --images assets/demo/test --out "$out/zip.jsonl"
t_model=$SECONDS

status=0
RKDE_WEB_DIR="$out" RKDE_WEB_IMAGES="$PWD/assets/demo/test" node --test --test-reporter=spec --test-reporter-destination=stdout \
  --test-reporter=tap --test-reporter-destination="$out/web-tests.tap" Samples/Web/test/*.test.mjs || status=$?
echo "web tests: install $((t_install - t0)) s, model $((t_model - t_install)) s, total $((SECONDS - t0)) s"
exit "$status"
