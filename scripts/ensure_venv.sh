#!/usr/bin/env bash
# Create the project's venv and install the given requirement files into it,
# again only when one of them changed. Installs python3-venv where missing.
set -euo pipefail
venv="$1"; shift
stamp="$venv/.installed"

if [ -f "$stamp" ]; then
    stale=0
    for req in "$@" "$(dirname "$0")/../pyproject.toml"; do [ "$req" -nt "$stamp" ] && stale=1; done
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
# The package itself, editable, so pv-meter, pv-service, pv-fleet and pv-live exist in $venv/bin;
# --no-deps: the requirement files above pinned its dependencies already.
"$venv/bin/python" -m pip install -q --disable-pip-version-check --no-deps -e "$(dirname "$0")/.."
touch "$stamp"
