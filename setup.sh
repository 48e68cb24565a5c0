#!/usr/bin/env bash
# One command from a fresh checkout to a working tsbridge: a virtual
# environment with torch (TORCH, default torch==2.13.0), tsbridge built against
# that same torch and installed (tsrun lands in .venv/bin), then the example
# model exported from Python and run by tsrun with no Python involved.
set -euo pipefail
cd "$(dirname "$0")"

PYTHON=${PYTHON:-python3}
VENV=${VENV:-.venv}

# requires-python in pyproject.toml: torch 2.13 has no build for older Pythons.
if ! "$PYTHON" -c 'import sys; sys.exit(sys.version_info < (3, 10))'; then
  echo "setup.sh: tsbridge needs Python >= 3.10; $PYTHON is $("$PYTHON" -V 2>&1) (set PYTHON=python3.11)" >&2
  exit 1
fi
if [ ! -x "$VENV/bin/python" ]; then
  "$PYTHON" -m venv "$VENV"
fi
PY="$VENV/bin/python"
"$PY" -m pip install --quiet --upgrade pip

# A source build needs libzip (.npz) and OpenSSL's libcrypto (SHA-256 for
# archive integrity); the wheel carries both, so its users need neither.
# Installed only where this script may: as root with apt; elsewhere the build
# stops naming the package it lacks.
if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
  missing=()
  for package in libzip-dev libssl-dev; do
    dpkg -s "$package" >/dev/null 2>&1 || missing+=("$package")
  done
  if [ ${#missing[@]} -gt 0 ]; then
    apt-get update -qq && apt-get install -y -qq "${missing[@]}"
  fi
fi

# torch first, as a user has it before installing tsbridge: any supported
# release (2.13-2.15), CPU or CUDA build. On this project's machines pip
# takes 2.13.0's CPU build from local disk; elsewhere pip's default is PyPI's
# CUDA build (about 5 GB with its CUDA libraries), which runs on a CPU too.
# TORCH="torch==2.15.0" ./setup.sh picks another.
"$PY" -m pip install --quiet "${TORCH:-torch==2.13.0}"

# The other build requirements come from pyproject.toml. The build runs
# without isolation, against the torch above, in a kept build folder, so a
# rebuild after an edit takes seconds.
mapfile -t BUILD_REQUIRES < <("$PY" -c \
  'import tomllib; print("\n".join(tomllib.load(open("pyproject.toml", "rb"))["build-system"]["requires"]))')
"$PY" -m pip install --quiet "${BUILD_REQUIRES[@]}" ninja
"$PY" -m pip install --quiet --no-build-isolation -C build-dir="build/{wheel_tag}" ".[test]"

# The main job: export the seed model with tsbridge, then run it with tsrun
# (C++, no Python) on the example input, and replay the golden sample eager
# PyTorch produced at export.
EXAMPLE=examples/simple_model
"$PY" "$EXAMPLE/export.py" --out "$EXAMPLE"
echo "\$ tsrun $EXAMPLE/simple.pt --input x=$EXAMPLE/x.npy"
"$VENV/bin/tsrun" "$EXAMPLE/simple.pt" --input "x=$EXAMPLE/x.npy"
echo "\$ tsrun --selftest $EXAMPLE/simple.pt"
"$VENV/bin/tsrun" --selftest "$EXAMPLE/simple.pt"
