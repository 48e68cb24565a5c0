#!/usr/bin/env bash
# ThreadSanitizer over tsbridge's own code (docs/reliability.md#concurrency):
# builds libtsbridge with -fsanitize=thread into its own folder (never the pip
# build), then tests/native/thread_safety.cpp against it, and runs it on an
# exported model:
#   tests/native/run_tsan.sh MODEL.pt [THREADS] [CALLS] [BUILD_DIR]
# LibTorch is not instrumented: TSan sees tsbridge's accesses, not LibTorch's.
set -euo pipefail
cd "$(dirname "$0")/../.."
MODEL=$1 THREADS=${2:-8} CALLS=${3:-200} BUILD=${4:-/tmp/tsbridge-tsan}
PY=${PY:-.venv/bin/python}
TORCH=$("$PY" -c "import os, torch; print(os.path.dirname(torch.__file__))")
NINJA=$(command -v ninja || echo "$(dirname "$PY")/ninja")
cmake -S . -B "$BUILD" -G Ninja -DCMAKE_MAKE_PROGRAM="$NINJA" -DCMAKE_BUILD_TYPE=RelWithDebInfo \
  -DPython3_EXECUTABLE="$(cd "$(dirname "$PY")" && pwd)/$(basename "$PY")" \
  -DTSBRIDGE_SANITIZE=thread -DTSBRIDGE_BUILD_PYTHON=OFF >/dev/null
cmake --build "$BUILD" --target tsbridge --parallel "${JOBS:-2}"
g++ -std=c++17 -O1 -g -fsanitize=thread tests/native/thread_safety.cpp -o "$BUILD/thread_safety" \
  -Icpp/include -I"$BUILD/generated" -I"$TORCH/include" -I"$TORCH/include/torch/csrc/api/include" \
  -L"$BUILD" -ltsbridge -L"$TORCH/lib" -ltorch -ltorch_cpu -lc10 -lpthread -Wl,-rpath,"$BUILD:$TORCH/lib"
TSAN_OPTIONS=${TSAN_OPTIONS:-halt_on_error=1} "$BUILD/thread_safety" "$MODEL" "$THREADS" "$CALLS"
