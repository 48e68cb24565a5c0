# Locate LibTorch inside the installed `torch` Python package when the caller
# did not point CMAKE_PREFIX_PATH / Torch_DIR at a LibTorch already. Building
# against that same package keeps the build torch and the run torch identical.
if(NOT Torch_DIR)
  find_package(Python3 COMPONENTS Interpreter)
  if(Python3_Interpreter_FOUND)
    execute_process(
      COMMAND ${Python3_EXECUTABLE} -c "import torch.utils; print(torch.utils.cmake_prefix_path)"
      OUTPUT_VARIABLE _tsbridge_torch_prefix
      OUTPUT_STRIP_TRAILING_WHITESPACE
      RESULT_VARIABLE _tsbridge_torch_rc
      ERROR_QUIET)
    if(_tsbridge_torch_rc EQUAL 0)
      list(APPEND CMAKE_PREFIX_PATH "${_tsbridge_torch_prefix}")
    endif()
  endif()
endif()
