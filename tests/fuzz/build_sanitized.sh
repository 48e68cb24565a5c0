#!/usr/bin/env bash
# Builds libtsbridge and the fuzz driver with AddressSanitizer and
# UndefinedBehaviorSanitizer into their own build folder (never the pip
# build), against the LibTorch of this checkout's .venv:
#   tests/fuzz/build_sanitized.sh [BUILD_DIR]     (default /tmp/tsbridge-asan)
# then run the long campaign (docs/reliability.md):
#   .venv/bin/python tests/fuzz/fuzz.py --driver BUILD_DIR/tests/fuzz/tsbridge_fuzz_load --cases 10000
set -euo pipefail
cd "$(dirname "$0")/../.."
BUILD=${1:-/tmp/tsbridge-asan}
PY=${PY:-.venv/bin/python}
NINJA=$(command -v ninja || echo "$(dirname "$PY")/ninja")
cmake -S . -B "$BUILD" -G Ninja -DCMAKE_MAKE_PROGRAM="$NINJA" \
  -DCMAKE_BUILD_TYPE=RelWithDebInfo \
  -DPython3_EXECUTABLE="$(cd "$(dirname "$PY")" && pwd)/$(basename "$PY")" \
  -DTSBRIDGE_SANITIZE=address,undefined \
  -DTSBRIDGE_BUILD_FUZZ=ON \
  -DTSBRIDGE_BUILD_PYTHON=OFF
cmake --build "$BUILD" --target tsbridge_fuzz_load tsrun --parallel "${JOBS:-2}"
echo "built $BUILD/tests/fuzz/tsbridge_fuzz_load"
