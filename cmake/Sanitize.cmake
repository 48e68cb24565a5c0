# TSBRIDGE_SANITIZE builds tsbridge's own code (libtsbridge, tsrun, the fuzz
# driver) with compiler sanitizers, e.g.
#   cmake -S . -B /tmp/tsbridge-asan -DTSBRIDGE_SANITIZE=address,undefined -DTSBRIDGE_BUILD_FUZZ=ON
# ON means address,undefined. LibTorch itself is not instrumented: ASan still
# sees its heap (malloc/free are intercepted) but not its out-of-bounds reads.
# Keep a sanitized build in its own build folder, never the pip build: the
# Python extension would need libasan preloaded into python (see
# docs/reliability.md for the ASAN_OPTIONS and LD_PRELOAD this takes).
set(TSBRIDGE_SANITIZE "" CACHE STRING
    "Sanitizers for tsbridge's own code: address,undefined (or ON), thread, ... Empty: none")
if(TSBRIDGE_SANITIZE)
  if(TSBRIDGE_SANITIZE STREQUAL "ON" OR TSBRIDGE_SANITIZE STREQUAL "1")
    set(TSBRIDGE_SANITIZE "address,undefined" CACHE STRING "" FORCE)
  endif()
  if(SKBUILD)
    message(WARNING "TSBRIDGE_SANITIZE in a pip build: the installed extension will need libasan preloaded")
  endif()
  message(STATUS "tsbridge: sanitizers ${TSBRIDGE_SANITIZE} on tsbridge's own code")
  # -fno-sanitize-recover: a UBSan finding stops the process like an ASan
  # one, so a fuzz case that triggers it is counted, not just logged.
  add_compile_options(-fsanitize=${TSBRIDGE_SANITIZE} -fno-sanitize-recover=all -fno-omit-frame-pointer -g)
  add_link_options(-fsanitize=${TSBRIDGE_SANITIZE})
endif()
