#!/usr/bin/env bash
# A Home Assistant of its own for the opt-in end-to-end test (make test-ha):
# its own venv, because HA pins versions of libraries the project also uses.
# Idempotent: a stamp naming the version skips the minutes-long install.
set -euo pipefail
venv="${1:-.venv-ha}"
version="${HA_VERSION:-2024.3.3}"
stamp="$venv/.installed-$version"
[ -f "$stamp" ] && exit 0
python="${PYTHON:-python3.11}"
command -v "$python" >/dev/null || python=python3
[ -x "$venv/bin/python" ] || "$python" -m venv "$venv"
# josepy 2 dropped what HA 2024.3's acme imports.
"$venv/bin/python" -m pip install -q --disable-pip-version-check \
    "homeassistant==$version" "josepy<2"
touch "$stamp"
