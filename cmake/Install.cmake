# Where the library and tsrun go, and how they find LibTorch at run time
# without LD_LIBRARY_PATH: an RPATH relative to $ORIGIN. tsrun's RPATH names
# both folders: it finds libtsrun (the runner) and LibTorch's libc10 through
# it with dlopen (cpp/tools/tsrun/launcher.cpp).

if(SKBUILD)
  # pip install: libtsbridge lives in site-packages/tsbridge/lib, tsrun is a
  # real ELF in the scripts folder. Both find LibTorch in the torch package
  # installed beside tsbridge, through paths relative to $ORIGIN taken from
  # the install scheme (platlib and scripts), never from the torch that did
  # the build: an isolated build's torch is deleted after the build.
  find_package(Python3 COMPONENTS Interpreter REQUIRED)
  execute_process(
    COMMAND ${Python3_EXECUTABLE} -c [=[
import os, sysconfig
def relations(scheme=None):
    paths = sysconfig.get_paths(scheme) if scheme else sysconfig.get_paths()
    platlib, scripts = paths["platlib"], paths["scripts"]
    lib, torch_lib = os.path.join(platlib, "tsbridge", "lib"), os.path.join(platlib, "torch", "lib")
    return os.path.relpath(torch_lib, lib), os.path.relpath(lib, scripts), os.path.relpath(torch_lib, scripts)
# This interpreter's scheme, and the one venvs, --user and --prefix installs
# share (bin/ beside lib/pythonX.Y/site-packages/), where a wheel may land.
found = [relations(), relations("posix_prefix")]
scripts = dict.fromkeys(f"$ORIGIN/{to_lib};$ORIGIN/{to_torch}" for _, to_lib, to_torch in found)
print(found[0][0], ";".join(scripts), sep="|")
]=]
    OUTPUT_VARIABLE _tsbridge_rel
    OUTPUT_STRIP_TRAILING_WHITESPACE
    COMMAND_ERROR_IS_FATAL ANY)
  string(REPLACE "|" ";" _tsbridge_rel "${_tsbridge_rel}")
  list(GET _tsbridge_rel 0 _lib_to_torch)
  list(SUBLIST _tsbridge_rel 1 -1 _tsrun_rpath)
  # libtsrun finds libtsbridge beside it. The system libraries (libzip,
  # libcrypto) come from the system, as a source install was built against
  # them; a wheel for others to install carries them because .ci/wheels
  # repairs it with auditwheel, which copies them into tsbridge.libs/ and
  # adds that folder to these RPATHs (docs/install.md, Wheels).
  set_target_properties(tsbridge PROPERTIES INSTALL_RPATH "$ORIGIN/${_lib_to_torch}")
  set_target_properties(tsrun_runner PROPERTIES INSTALL_RPATH "$ORIGIN;$ORIGIN/${_lib_to_torch}")
  set_target_properties(tsrun PROPERTIES INSTALL_RPATH "${_tsrun_rpath}")
  set(TSBRIDGE_LIB_DESTINATION tsbridge/lib)
  set(TSBRIDGE_INCLUDE_DESTINATION tsbridge/include)
  set(TSBRIDGE_BIN_DESTINATION ${SKBUILD_SCRIPTS_DIR})
  set(TSBRIDGE_CMAKE_DESTINATION tsbridge/share/cmake/tsbridge)
  # LibTorch's CMake files, found from the installed package relative to ours
  # (both live in the same site-packages), so the package survives a copy of
  # the environment to another path.
  set(TSBRIDGE_TORCH_CMAKE_HINT "\${PACKAGE_PREFIX_DIR}/tsbridge/lib/${_lib_to_torch}/../share/cmake/Torch")
else()
  include(GNUInstallDirs)
  set_target_properties(tsbridge PROPERTIES INSTALL_RPATH "${TORCH_LIB_DIR}")
  set_target_properties(tsrun_runner PROPERTIES INSTALL_RPATH "$ORIGIN;${TORCH_LIB_DIR}")
  set_target_properties(tsrun PROPERTIES
    INSTALL_RPATH "$ORIGIN/../${CMAKE_INSTALL_LIBDIR};${TORCH_LIB_DIR}")
  set(TSBRIDGE_LIB_DESTINATION ${CMAKE_INSTALL_LIBDIR})
  set(TSBRIDGE_INCLUDE_DESTINATION ${CMAKE_INSTALL_INCLUDEDIR})
  set(TSBRIDGE_BIN_DESTINATION ${CMAKE_INSTALL_BINDIR})
  set(TSBRIDGE_CMAKE_DESTINATION ${CMAKE_INSTALL_LIBDIR}/cmake/tsbridge)
  # The LibTorch this build used lives outside the install prefix: absolute.
  set(TSBRIDGE_TORCH_CMAKE_HINT "${TORCH_INSTALL_PREFIX}/share/cmake/Torch")
endif()
set(TSBRIDGE_TORCH_VERSION "${Torch_VERSION}")
if(SKBUILD)
  # The torch this build is for, read by `import tsbridge` before it loads
  # the extension (python/tsbridge/_torch_match.py).
  configure_file(cmake/_torch_build.py.in ${CMAKE_CURRENT_BINARY_DIR}/generated/_torch_build.py @ONLY)
  install(FILES ${CMAKE_CURRENT_BINARY_DIR}/generated/_torch_build.py DESTINATION tsbridge)
endif()

# What apps link: LibTorch's own imported targets, never a path into the
# LibTorch this build happened to use. TORCH_LIBRARIES names libc10 by its
# absolute path; the installed package names LibTorch's `c10` target instead
# (the build tree keeps the path).
get_target_property(_tsbridge_interface tsbridge INTERFACE_LINK_LIBRARIES)
set(_tsbridge_exported_interface "")
foreach(_item IN LISTS _tsbridge_interface)
  get_filename_component(_name "${_item}" NAME_WE)
  string(REGEX REPLACE "^lib" "" _name "${_name}")
  string(FIND "${_item}" "${TORCH_INSTALL_PREFIX}/" _in_torch)
  if(IS_ABSOLUTE "${_item}" AND _in_torch EQUAL 0 AND TARGET "${_name}")
    list(APPEND _tsbridge_exported_interface "$<BUILD_INTERFACE:${_item}>" "$<INSTALL_INTERFACE:${_name}>")
  else()
    list(APPEND _tsbridge_exported_interface "${_item}")
  endif()
endforeach()
set_target_properties(tsbridge PROPERTIES INTERFACE_LINK_LIBRARIES "${_tsbridge_exported_interface}")

install(TARGETS tsbridge EXPORT tsbridgeTargets
  LIBRARY DESTINATION ${TSBRIDGE_LIB_DESTINATION}
  RUNTIME DESTINATION ${TSBRIDGE_LIB_DESTINATION}
  INCLUDES DESTINATION ${TSBRIDGE_INCLUDE_DESTINATION})
install(TARGETS tsrun_runner LIBRARY DESTINATION ${TSBRIDGE_LIB_DESTINATION})
install(TARGETS tsrun RUNTIME DESTINATION ${TSBRIDGE_BIN_DESTINATION})
install(DIRECTORY cpp/include/tsbridge DESTINATION ${TSBRIDGE_INCLUDE_DESTINATION}
  FILES_MATCHING PATTERN "*.h")
install(FILES ${CMAKE_CURRENT_BINARY_DIR}/generated/tsbridge/version.h
  DESTINATION ${TSBRIDGE_INCLUDE_DESTINATION}/tsbridge)

# The CMake package: targets, config and version files.
include(CMakePackageConfigHelpers)
install(EXPORT tsbridgeTargets NAMESPACE tsbridge:: DESTINATION ${TSBRIDGE_CMAKE_DESTINATION})
configure_package_config_file(cmake/tsbridgeConfig.cmake.in
  ${CMAKE_CURRENT_BINARY_DIR}/tsbridgeConfig.cmake
  INSTALL_DESTINATION ${TSBRIDGE_CMAKE_DESTINATION})
write_basic_package_version_file(${CMAKE_CURRENT_BINARY_DIR}/tsbridgeConfigVersion.cmake
  COMPATIBILITY SameMinorVersion)
install(FILES ${CMAKE_CURRENT_BINARY_DIR}/tsbridgeConfig.cmake
              ${CMAKE_CURRENT_BINARY_DIR}/tsbridgeConfigVersion.cmake
              cmake/TorchWithoutCudaToolkit.cmake
        DESTINATION ${TSBRIDGE_CMAKE_DESTINATION})
