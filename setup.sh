#!/usr/bin/env bash
# One command from a fresh checkout to a working tsbridge: a virtual
# environment with the pinned CPU build of torch, tsbridge built against that
# same torch and installed (tsrun lands in .venv/bin), then the example model
# exported from Python and run by tsrun with no Python involved.
set -euo pipefail
cd "$(dirname "$0")"

PYTHON=${PYTHON:-python3}
VENV=${VENV:-.venv}

if [ ! -x "$VENV/bin/python" ]; then
  "$PYTHON" -m venv "$VENV"
fi
PY="$VENV/bin/python"
"$PY" -m pip install --quiet --upgrade pip

# libzip gives libtsbridge .npz support; the build goes on without it (and
# says so). OpenSSL's libcrypto (libssl-dev) is required: SHA-256 for archive
# integrity. Both are installed only where this script may: as root with apt;
# elsewhere the build names the package it lacks.
if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
  missing=()
  for package in libzip-dev libssl-dev; do
    dpkg -s "$package" >/dev/null 2>&1 || missing+=("$package")
  done
  if [ ${#missing[@]} -gt 0 ]; then
    apt-get update -qq && apt-get install -y -qq "${missing[@]}"
  fi
fi

# Build requirements come from pyproject.toml (torch pinned there to the CPU
# build). The build runs without isolation so the extension is compiled
# against the very torch that will run it.
mapfile -t BUILD_REQUIRES < <("$PY" -c \
  'import tomllib; print("\n".join(tomllib.load(open("pyproject.toml", "rb"))["build-system"]["requires"]))')
"$PY" -m pip install --quiet "${BUILD_REQUIRES[@]}" ninja
"$PY" -m pip install --quiet --no-build-isolation ".[test]"

# The main job: export the seed model with tsbridge, then run it with tsrun.
"$PY" examples/simple_model/export.py --out examples/simple_model
for model in examples/simple_model/simple_scripted.pt examples/simple_model/simple_traced.pt; do
  echo "\$ tsrun $model"
  "$VENV/bin/tsrun" "$model"
done
