#!/usr/bin/env bash
# A Home Assistant of its own for the opt-in end-to-end test (make test-ha):
# its own venv, because HA pins versions of libraries the project also uses.
# Idempotent: a stamp naming the version and this script's checksum (a package added here installs
# into an existing venv) skips the minutes-long install.
set -euo pipefail
venv="${1:-.venv-ha}"
version="${HA_VERSION:-2024.3.3}"
stamp="$venv/.installed-$version-$(sha1sum "$0" | cut -c1-12)"
[ -f "$stamp" ] && exit 0
python="${PYTHON:-python3.11}"
command -v "$python" >/dev/null || python=python3
[ -x "$venv/bin/python" ] || "$python" -m venv "$venv"
# josepy 2 dropped what HA 2024.3's acme imports. The requirements of the integrations the test
# loads (mqtt, modbus, onboarding, the frontend without which HA starts in recovery mode, and what they
# depend on, as their manifests pin them) are installed
# here, so HA runs with --skip-pip and never installs anything at start.
"$venv/bin/python" -m pip install -q --disable-pip-version-check \
    "homeassistant==$version" "josepy<2" "paho-mqtt==1.6.1" "Pillow==10.2.0" "janus==1.0.0" \
    "psutil-home-assistant==0.0.1" "aiohttp-fast-url-dispatcher==0.3.0" "aiohttp-zlib-ng==0.3.1" \
    "aiohttp_cors==0.7.0" "SQLAlchemy==2.0.27" "fnv-hash-fast==0.5.0" \
    "home-assistant-frontend==20240307.0" "securetar==2024.2.1" \
    "pymodbus==3.6.6"
touch "$stamp"
