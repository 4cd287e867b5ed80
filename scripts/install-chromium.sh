#!/usr/bin/env bash
# Installs Debian's headless-capable Chromium (/usr/bin/chromium) and a font for the browser tests. Playwright and
# puppeteer-core cannot download their own browsers on these machines, so the tests drive this one. Needs root (or sudo)
# for apt-get; does nothing when Chromium is already there.
set -euo pipefail
export DEBIAN_FRONTEND=noninteractive
if [ -x /usr/bin/chromium ]; then
  exit 0
fi
SUDO=""; [ "$(id -u)" -eq 0 ] || SUDO=sudo
$SUDO apt-get -o DPkg::Lock::Timeout=600 update
$SUDO apt-get -o DPkg::Lock::Timeout=600 install -y --no-install-recommends chromium fonts-dejavu-core
/usr/bin/chromium --version
