#!/usr/bin/env bash
# The browser test (tests/test_site.py) drives a Chromium: $CHROMIUM if set, else Debian's
# /usr/bin/chromium, installed here with apt when it is missing (never `playwright install`, which
# downloads a browser from a CDN). Never asks for a password (sudo -n).
# Exit 0 when the browser is ready. Otherwise print ONE line saying why and how to enable the test,
# and exit 1: scripts/test.sh then skips only the browser test (macOS, no root or password-less
# sudo, no apt, no network).
set -uo pipefail
how="to enable it: install chromium (Debian/Ubuntu: sudo apt-get install chromium)"
how="$how or set CHROMIUM=/path/to/chromium-or-chrome"
skip() { echo "== SKIPPING the browser test (tests/test_site.py): $1; $how" >&2; exit 1; }
if [ -n "${CHROMIUM:-}" ]; then
  [ -x "$CHROMIUM" ] && exit 0
  skip "CHROMIUM=$CHROMIUM is not an executable"
fi
[ -x /usr/bin/chromium ] && exit 0
command -v apt-get >/dev/null 2>&1 || skip "chromium is not installed and there is no apt-get"
if [ "$(id -u)" -eq 0 ]; then
  SUDO=()
elif command -v sudo >/dev/null 2>&1 && sudo -n true >/dev/null 2>&1; then
  SUDO=(sudo -n)
else
  skip "chromium is not installed and installing it needs root (no password-less sudo)"
fi
echo "== installing chromium (apt) for the browser test"
log="${TMPDIR:-/tmp}/interpcourse-chromium-install.log"
apt=(${SUDO[@]+"${SUDO[@]}"} env DEBIAN_FRONTEND=noninteractive apt-get)
if ! { "${apt[@]}" update -qq && "${apt[@]}" install -y -qq chromium; } >"$log" 2>&1; then
  skip "apt-get could not install chromium (its output: $log)"
fi
[ -x /usr/bin/chromium ] || skip "apt-get ran but /usr/bin/chromium is missing (its output: $log)"
/usr/bin/chromium --version
