# Where the library and tsrun go, and how they find LibTorch at run time
# without LD_LIBRARY_PATH: an RPATH relative to $ORIGIN.
set(TORCH_LIB_DIR "${TORCH_INSTALL_PREFIX}/lib")

if(SKBUILD)
  # pip install: libtsbridge lives in site-packages/tsbridge/lib, next to the
  # torch package it was built against; tsrun is a real ELF in the scripts
  # folder. Relative paths are computed from the interpreter doing the build.
  find_package(Python3 COMPONENTS Interpreter REQUIRED)
  execute_process(
    COMMAND ${Python3_EXECUTABLE} -c [=[
import os, sysconfig, torch
torch_lib = os.path.join(os.path.dirname(torch.__file__), "lib")
package = os.path.join(sysconfig.get_path("platlib"), "tsbridge")
lib = os.path.join(package, "lib")
scripts = sysconfig.get_path("scripts")
print(os.path.relpath(torch_lib, lib), os.path.relpath(lib, scripts),
      os.path.relpath(torch_lib, scripts), os.path.relpath(torch_lib, package), sep=";")
]=]
    OUTPUT_VARIABLE _tsbridge_rel
    OUTPUT_STRIP_TRAILING_WHITESPACE
    COMMAND_ERROR_IS_FATAL ANY)
  list(GET _tsbridge_rel 0 _lib_to_torch)
  list(GET _tsbridge_rel 1 _scripts_to_lib)
  list(GET _tsbridge_rel 2 _scripts_to_torch)
  list(GET _tsbridge_rel 3 _package_to_torch)
  set_target_properties(tsbridge PROPERTIES INSTALL_RPATH "$ORIGIN/${_lib_to_torch}")
  set_target_properties(tsrun PROPERTIES
    INSTALL_RPATH "$ORIGIN/${_scripts_to_lib};$ORIGIN/${_scripts_to_torch}")
  set(TSBRIDGE_LIB_DESTINATION tsbridge/lib)
  set(TSBRIDGE_INCLUDE_DESTINATION tsbridge/include)
  set(TSBRIDGE_BIN_DESTINATION ${SKBUILD_SCRIPTS_DIR})
  set(TSBRIDGE_CMAKE_DESTINATION tsbridge/share/cmake/tsbridge)
  # LibTorch's CMake files, found from the installed package relative to ours.
  set(TSBRIDGE_TORCH_CMAKE_DIR "tsbridge/lib/${_lib_to_torch}/../share/cmake/Torch")
else()
  include(GNUInstallDirs)
  set_target_properties(tsbridge PROPERTIES INSTALL_RPATH "${TORCH_LIB_DIR}")
  set_target_properties(tsrun PROPERTIES
    INSTALL_RPATH "$ORIGIN/../${CMAKE_INSTALL_LIBDIR};${TORCH_LIB_DIR}")
  set(TSBRIDGE_LIB_DESTINATION ${CMAKE_INSTALL_LIBDIR})
  set(TSBRIDGE_INCLUDE_DESTINATION ${CMAKE_INSTALL_INCLUDEDIR})
  set(TSBRIDGE_BIN_DESTINATION ${CMAKE_INSTALL_BINDIR})
  set(TSBRIDGE_CMAKE_DESTINATION ${CMAKE_INSTALL_LIBDIR}/cmake/tsbridge)
  set(TSBRIDGE_TORCH_CMAKE_DIR "${TORCH_INSTALL_PREFIX}/share/cmake/Torch")
endif()

install(TARGETS tsbridge EXPORT tsbridgeTargets
  LIBRARY DESTINATION ${TSBRIDGE_LIB_DESTINATION}
  RUNTIME DESTINATION ${TSBRIDGE_LIB_DESTINATION})
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
  INSTALL_DESTINATION ${TSBRIDGE_CMAKE_DESTINATION}
  PATH_VARS TSBRIDGE_TORCH_CMAKE_DIR)
write_basic_package_version_file(${CMAKE_CURRENT_BINARY_DIR}/tsbridgeConfigVersion.cmake
  COMPATIBILITY SameMinorVersion)
install(FILES ${CMAKE_CURRENT_BINARY_DIR}/tsbridgeConfig.cmake
              ${CMAKE_CURRENT_BINARY_DIR}/tsbridgeConfigVersion.cmake
        DESTINATION ${TSBRIDGE_CMAKE_DESTINATION})
