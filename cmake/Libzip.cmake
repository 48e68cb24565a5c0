# libzip gives libtsbridge .npz support (numpy's zip of .npy arrays). It is an
# optional, private dependency: found, npz.cpp is compiled with
# TSBRIDGE_WITH_NPZ and links it; not found, the library still builds and its
# .npz functions say how to get support (npz_supported() is false). Public
# headers never mention libzip, so embedding apps do not need it. It is a
# system library (Debian: libzip-dev), found at run time without an RPATH.
#
# Found through pkg-config, else by its header and library. Not through
# libzip's CMake config: Debian 12's names zipcmp & co. from libzip-tools,
# and find_package stops with a fatal error where those are not installed.
option(TSBRIDGE_WITH_NPZ "Read and write .npz when libzip is found" ON)
add_library(tsbridge_zip INTERFACE)
set(_tsbridge_libzip "")
if(TSBRIDGE_WITH_NPZ)
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
    if(TSBRIDGE_LIBZIP_INCLUDE_DIR AND TSBRIDGE_LIBZIP_LIBRARY)
      target_include_directories(tsbridge_zip SYSTEM INTERFACE "${TSBRIDGE_LIBZIP_INCLUDE_DIR}")
      target_link_libraries(tsbridge_zip INTERFACE "${TSBRIDGE_LIBZIP_LIBRARY}")
      set(_tsbridge_libzip "${TSBRIDGE_LIBZIP_LIBRARY}")
    endif()
  endif()
endif()
if(_tsbridge_libzip)
  target_compile_definitions(tsbridge_zip INTERFACE TSBRIDGE_WITH_NPZ)
  message(STATUS "tsbridge: .npz support on (${_tsbridge_libzip})")
else()
  message(STATUS "tsbridge: .npz support off (install libzip-dev and rebuild to turn it on)")
endif()
