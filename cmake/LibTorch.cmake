# Finds LibTorch for tsbridge's own build: the one inside the `torch` Python
# package of the environment (so the build torch and the run torch are the
# same), unless the caller pointed Torch_DIR or CMAKE_PREFIX_PATH at another.
# Then checks that torch is in the supported range, and records its version.

# The supported range: the three newest minor releases, the same as
# pyproject.toml's build requirement (tests/test_torch_match.py holds them
# equal). TSBRIDGE_ALLOW_ANY_TORCH lets a developer try another at their risk.
set(TSBRIDGE_TORCH_MIN 2.13)
set(TSBRIDGE_TORCH_BELOW 2.16)
option(TSBRIDGE_ALLOW_ANY_TORCH "Build against a torch outside the supported range" OFF)

# The torch package's full version (2.15.0+cu132) is what tsbridge records and
# later compares: TorchConfigVersion.cmake knows only 2.15.0.
set(TSBRIDGE_TORCH_PACKAGE_VERSION "")
find_package(Python3 COMPONENTS Interpreter)
if(Python3_Interpreter_FOUND)
  execute_process(
    COMMAND ${Python3_EXECUTABLE} -c "import torch, torch.utils; print(torch.utils.cmake_prefix_path); print(torch.__version__)"
    OUTPUT_VARIABLE _tsbridge_torch
    OUTPUT_STRIP_TRAILING_WHITESPACE
    RESULT_VARIABLE _tsbridge_torch_rc
    ERROR_QUIET)
  if(_tsbridge_torch_rc EQUAL 0)
    string(REPLACE "\n" ";" _tsbridge_torch "${_tsbridge_torch}")
    list(GET _tsbridge_torch 0 _tsbridge_torch_cmake)
    if(NOT Torch_DIR)
      set(Torch_DIR "${_tsbridge_torch_cmake}/Torch")
    endif()
    get_filename_component(_tsbridge_python_torch "${_tsbridge_torch_cmake}/Torch" REALPATH)
    get_filename_component(_tsbridge_chosen_torch "${Torch_DIR}" REALPATH)
    if(_tsbridge_python_torch STREQUAL _tsbridge_chosen_torch)
      list(GET _tsbridge_torch 1 TSBRIDGE_TORCH_PACKAGE_VERSION)
    endif()
  endif()
endif()

include(${CMAKE_CURRENT_LIST_DIR}/TorchWithoutCudaToolkit.cmake)
tsbridge_torch_without_cuda_toolkit()
find_package(Torch REQUIRED)
if(TSBRIDGE_TORCH_PACKAGE_VERSION STREQUAL "")
  set(TSBRIDGE_TORCH_PACKAGE_VERSION "${Torch_VERSION}")
endif()

if(NOT TSBRIDGE_ALLOW_ANY_TORCH AND
   (Torch_VERSION VERSION_LESS TSBRIDGE_TORCH_MIN OR NOT Torch_VERSION VERSION_LESS TSBRIDGE_TORCH_BELOW))
  # (the leading space keeps CMake from wrapping the one line)
  message(FATAL_ERROR
    " tsbridge supports torch ${TSBRIDGE_TORCH_MIN} up to below ${TSBRIDGE_TORCH_BELOW}; this build found torch "
    "${TSBRIDGE_TORCH_PACKAGE_VERSION} (${Torch_DIR}). Install a supported torch, or pass "
    "-DTSBRIDGE_ALLOW_ANY_TORCH=ON (pip: -C cmake.define.TSBRIDGE_ALLOW_ANY_TORCH=ON) to try it anyway")
endif()
set(TORCH_LIB_DIR "${TORCH_INSTALL_PREFIX}/lib")

# The release pin (torch==X.Y.Z) lets a build against PyPI's CUDA torch run
# beside the CPU build of the same release: so tsbridge's binaries name
# libtorch.so, which loads libtorch_cuda.so itself where torch has CUDA, and
# never libtorch_cuda.so or libc10_cuda.so directly (LibTorch's targets link
# them with --no-as-needed). tsbridge calls no CUDA code of its own.
if(TARGET torch_cuda_library)
  get_target_property(_tsbridge_torch_links torch INTERFACE_LINK_LIBRARIES)
  list(REMOVE_ITEM _tsbridge_torch_links torch_cuda_library)
  set_property(TARGET torch PROPERTY INTERFACE_LINK_LIBRARIES "${_tsbridge_torch_links}")
  if(TORCH_CUDA_LIBRARIES)
    list(REMOVE_ITEM TORCH_LIBRARIES ${TORCH_CUDA_LIBRARIES})
  endif()
endif()
message(STATUS "tsbridge: torch ${TSBRIDGE_TORCH_PACKAGE_VERSION} (${Torch_DIR})")
