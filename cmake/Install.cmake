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
  # LibTorch's CMake files, found from the installed package relative to ours
  # (both live in the same site-packages), so the package survives a copy of
  # the environment to another path.
  set(TSBRIDGE_TORCH_CMAKE_HINT "\${PACKAGE_PREFIX_DIR}/tsbridge/lib/${_lib_to_torch}/../share/cmake/Torch")
else()
  include(GNUInstallDirs)
  set_target_properties(tsbridge PROPERTIES INSTALL_RPATH "${TORCH_LIB_DIR}")
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
        DESTINATION ${TSBRIDGE_CMAKE_DESTINATION})
