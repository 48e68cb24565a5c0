# OpenSSL's libcrypto computes the SHA-256 digests that archive integrity
# checks (cpp/src/archive/integrity.cpp): tsbridge carries no crypto of its own.
# Required, not optional: an archive that records digests must be checked
# the same way by every build, and a build that silently skipped the check
# would load a corrupt weight file that another build refuses. A private
# dependency, never in public headers; it is a system library (Debian:
# libssl-dev at build time, libssl3 at run time), found without an RPATH.
find_package(OpenSSL 1.1 COMPONENTS Crypto)
if(NOT TARGET OpenSSL::Crypto)
  # (the leading space keeps CMake from wrapping the one line)
  message(FATAL_ERROR
    " tsbridge needs OpenSSL's libcrypto (SHA-256 for archive integrity): install libssl-dev "
    "(Debian/Ubuntu; setup.sh does so when run as root) or openssl-devel (Fedora), or set "
    "OPENSSL_ROOT_DIR to an OpenSSL installation")
endif()
message(STATUS "tsbridge: SHA-256 from OpenSSL ${OPENSSL_VERSION} (${OPENSSL_CRYPTO_LIBRARY})")
