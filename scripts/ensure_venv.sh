#!/usr/bin/env bash
# Create the project's venv and install the given requirement files into it,
# again only when one of them changed. Installs python3-venv where missing.
set -euo pipefail
venv="$1"; shift
stamp="$venv/.installed"

if [ -f "$stamp" ]; then
    stale=0
    for req in "$@"; do [ "$req" -nt "$stamp" ] && stale=1; done
    [ "$stale" -eq 0 ] && exit 0
fi

if [ ! -x "$venv/bin/python" ]; then
    if ! python3 -m venv "$venv" >/dev/null 2>&1; then
        rm -rf "$venv"
        echo "venv: installing python3-venv"
        if [ "$(id -u)" -eq 0 ]; then sudo_=""; else sudo_="sudo"; fi
        $sudo_ env DEBIAN_FRONTEND=noninteractive apt-get update -q
        $sudo_ env DEBIAN_FRONTEND=noninteractive apt-get install -y -q python3-venv
        python3 -m venv "$venv"
    fi
fi
args=()
for req in "$@"; do args+=(-r "$req"); done
"$venv/bin/python" -m pip install -q --disable-pip-version-check "${args[@]}"
touch "$stamp"
