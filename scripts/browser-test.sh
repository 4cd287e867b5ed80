#!/usr/bin/env bash
# The rkde serve page in a real browser: installs Debian's Chromium (scripts/install-chromium.sh), builds the CLI tests and
# runs ServePageBrowserTests, which fits the demo model, serves it on a loopback port, drops and picks demo images on the
# page with Playwright and checks the scores, verdicts, boxes and colours shown. The screenshot goes to SHOT (default
# assets/serve-page.png, the README's picture). About a minute on 2 cores after the build.
#
#   scripts/browser-test.sh [SHOT]
set -euo pipefail
cd "$(dirname "$0")/.."
export DOTNET_CLI_TELEMETRY_OPTOUT=1 DOTNET_NOLOGO=1
shot=${1:-assets/serve-page.png}
bash scripts/install-chromium.sh
dotnet build Samples/Rkde.Cli.Tests/Rkde.Cli.Tests.csproj -c Release
RKDE_SCREENSHOT="$PWD/$shot" dotnet test Samples/Rkde.Cli.Tests/Rkde.Cli.Tests.csproj -c Release --no-build \
  --filter "FullyQualifiedName~ServePageBrowserTests"
echo "screenshot: $shot"
