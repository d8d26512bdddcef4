#!/usr/bin/env bash
# Make sure Debian's chromium is installed: the live view's browser test drives it
# headless. Idempotent; says what it found or did. Exit 1 when it cannot be installed.
set -euo pipefail
browser="${PV_CHROMIUM:-/usr/bin/chromium}"

as_root() {
    if [ "$(id -u)" -eq 0 ]; then "$@"; else sudo -n "$@"; fi
}

if [ -x "$browser" ]; then
    echo "chromium: already installed at $browser"
    exit 0
fi
echo "chromium: $browser missing: installing Debian's chromium"
as_root env DEBIAN_FRONTEND=noninteractive apt-get update -q
as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -q chromium
if [ ! -x "$browser" ]; then
    echo "chromium: installed the package but $browser is still missing" >&2
    exit 1
fi
echo "chromium: installed at $browser"
