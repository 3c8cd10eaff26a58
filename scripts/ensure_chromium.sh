#!/usr/bin/env bash
# The browser test (tests/test_site.py) drives Debian's chromium; install it when it is missing.
# Uses apt only (never `playwright install`, which downloads a browser from a CDN).
set -euo pipefail
[ -x /usr/bin/chromium ] && exit 0
SUDO=""; [ "$(id -u)" -eq 0 ] || SUDO="sudo"
echo "== installing chromium (apt) for the browser test"
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -qq
$SUDO apt-get install -y -qq chromium
/usr/bin/chromium --version
