#!/usr/bin/env bash
# Set up whisperops in ./.venv on a Debian/Ubuntu machine with Python 3.11+.
# Usage: scripts/setup.sh [EXTRAS]   e.g. scripts/setup.sh dev
# EXTRAS with `dev` (the test tools; scripts/test.sh passes it) also installs promtool.
# Idempotent: a second run only installs what is missing.
set -euo pipefail
cd "$(dirname "$0")/.."

extras="${1:-}"
python="${PYTHON:-python3}"

sudo_cmd=()
if [ "$(id -u)" -ne 0 ]; then sudo_cmd=(sudo); fi

# Debian packages: espeak-ng makes speech samples for the demo and the tests;
# python3-venv is only needed where the system Python lacks ensurepip. The tests
# check metrics and alert rules with promtool, which Debian ships only inside the
# whole Prometheus server: installed only with the `dev` extra.
debs=(espeak-ng)
case ",${extras// /}," in *,dev,*) debs+=(prometheus) ;; esac
if ! "$python" -c 'import ensurepip' >/dev/null 2>&1; then debs+=(python3-venv); fi
missing=()
for deb in "${debs[@]}"; do
  dpkg -s "$deb" >/dev/null 2>&1 || missing+=("$deb")
done
if [ "${#missing[@]}" -gt 0 ]; then
  echo "setup: installing Debian packages: ${missing[*]}"
  "${sudo_cmd[@]}" apt-get update -qq
  DEBIAN_FRONTEND=noninteractive "${sudo_cmd[@]}" apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi

if ! "$python" -c 'import sys; sys.exit(sys.version_info < (3, 11))'; then
  echo "setup: whisperops needs Python 3.11 or newer; $python is $("$python" --version 2>&1)" >&2
  exit 1
fi

if [ ! -x .venv/bin/python ]; then
  echo "setup: creating .venv"
  "$python" -m venv .venv
fi
.venv/bin/python -m pip install --quiet --upgrade pip
target="."
if [ -n "$extras" ]; then target=".[$extras]"; fi
echo "setup: installing whisperops${extras:+ with extras $extras} into .venv"
.venv/bin/python -m pip install --quiet --editable "$target"
