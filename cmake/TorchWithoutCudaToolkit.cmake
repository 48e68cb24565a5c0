# LibTorch's CMake files, for a torch built with CUDA (PyPI's default wheel),
# look for a CUDA toolkit: Caffe2Config.cmake includes public/cuda.cmake,
# which runs FindCUDA and enable_language(CUDA) and stops the configure where
# no nvcc is found ("Your installed Caffe2 version uses CUDA but I cannot find
# the CUDA libraries"). tsbridge compiles no CUDA code: it links LibTorch's
# own libraries, and those load the CUDA runtime the wheel's nvidia packages
# carry. cuda.cmake starts with an include guard, `if(TARGET torch::cudart)
# return()`: where torch has CUDA and no toolkit is found, this defines
# torch::cudart as an empty interface, so cuda.cmake returns at once and
# LibTorch's targets (which name torch::cudart) still resolve. Whether a
# toolkit is there is asked the way cuda.cmake asks it (FindCUDA, from the
# copy LibTorch ships): where it finds one, nothing changes, and LibTorch's
# CMake files run as they always did (an app that compiles CUDA itself keeps
# LibTorch's CUDA targets and flags).
#
# Used by tsbridge's build (LibTorch.cmake) and by the installed CMake package
# (tsbridgeConfig.cmake), so an app's find_package(tsbridge) needs no toolkit
# either. Call it before find_package(Torch); Torch_DIR, when set, names the
# LibTorch to look at, else the CMAKE_PREFIX_PATH entries are searched as
# find_package would.
function(tsbridge_torch_without_cuda_toolkit)
  if(TARGET torch::cudart)
    return()  # found already, by LibTorch or by an earlier call
  endif()
  set(_candidates "")
  if(Torch_DIR)
    list(APPEND _candidates "${Torch_DIR}")
  endif()
  foreach(_prefix IN LISTS CMAKE_PREFIX_PATH)
    list(APPEND _candidates "${_prefix}/share/cmake/Torch" "${_prefix}/Torch")
  endforeach()
  foreach(_candidate IN LISTS _candidates)
    if(EXISTS "${_candidate}/TorchConfig.cmake")
      get_filename_component(_torch_lib "${_candidate}/../../../lib" ABSOLUTE)
      get_filename_component(_caffe2 "${_candidate}/../Caffe2" ABSOLUTE)
      break()
    endif()
  endforeach()
  if(NOT _torch_lib OR NOT EXISTS "${_torch_lib}/libtorch_cuda.so")
    return()  # a CPU build of torch, or none found here: LibTorch decides
  endif()
  list(PREPEND CMAKE_MODULE_PATH "${_caffe2}/Modules_CUDA_fix")  # this function's scope only
  find_package(CUDA QUIET)
  if(CUDA_FOUND)
    return()  # a toolkit LibTorch can use: its own CUDA set-up runs as before
  endif()
  add_library(torch::cudart INTERFACE IMPORTED)
  message(STATUS "tsbridge: torch has CUDA and no CUDA toolkit that LibTorch can use was found: linking LibTorch's CUDA libraries "
                 "without one (tsbridge compiles no CUDA code)")
endfunction()
