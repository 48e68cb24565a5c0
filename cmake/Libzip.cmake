# libzip gives libtsbridge .npz support (numpy's zip of .npy arrays).
# Required: `tsrun --output out.npz` is the documented way to get outputs, and
# a build that compiled it out in silence gave a smaller product than the docs
# describe. A private dependency, never in public headers, so embedding apps
# do not need it; pip builds carry it inside the wheel (Install.cmake).
#
# Found through pkg-config, else by its header and library. Not through
# libzip's CMake config: Debian 12's names zipcmp & co. from libzip-tools,
# and find_package stops with a fatal error where those are not installed.
add_library(tsbridge_zip INTERFACE)
find_package(PkgConfig QUIET)
if(PkgConfig_FOUND)
  pkg_check_modules(TSBRIDGE_LIBZIP QUIET IMPORTED_TARGET libzip)
endif()
if(TSBRIDGE_LIBZIP_FOUND)
  target_link_libraries(tsbridge_zip INTERFACE PkgConfig::TSBRIDGE_LIBZIP)
  set(_tsbridge_libzip "libzip ${TSBRIDGE_LIBZIP_VERSION}")
else()
  find_path(TSBRIDGE_LIBZIP_INCLUDE_DIR zip.h)
  find_library(TSBRIDGE_LIBZIP_LIBRARY zip)
  if(NOT TSBRIDGE_LIBZIP_INCLUDE_DIR OR NOT TSBRIDGE_LIBZIP_LIBRARY)
    # (the leading space keeps CMake from wrapping the one line)
    message(FATAL_ERROR
      " tsbridge needs libzip (for .npz files): install libzip-dev (Debian/Ubuntu; setup.sh does so when run "
      "as root) or libzip-devel (Fedora), or set CMAKE_PREFIX_PATH to a libzip installation")
  endif()
  target_include_directories(tsbridge_zip SYSTEM INTERFACE "${TSBRIDGE_LIBZIP_INCLUDE_DIR}")
  target_link_libraries(tsbridge_zip INTERFACE "${TSBRIDGE_LIBZIP_LIBRARY}")
  set(_tsbridge_libzip "${TSBRIDGE_LIBZIP_LIBRARY}")
endif()
message(STATUS "tsbridge: .npz from ${_tsbridge_libzip}")
