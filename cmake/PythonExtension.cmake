# tsbridge._core: pybind11 bindings over libtsbridge. Only this target links
# libtorch_python (for torch's own Tensor/IValue casters) and Python.
# The generic FindPython name: pybind11 3 uses whichever of Python and Python3
# was found, and prefers Python (where LibTorch or CMake 4 found it already,
# Python3 alone leaves python_add_library undefined).
find_package(Python COMPONENTS Interpreter Development.Module REQUIRED)
set(PYBIND11_FINDPYTHON ON)
find_package(pybind11 CONFIG REQUIRED)
find_library(TORCH_PYTHON_LIBRARY torch_python PATHS "${TORCH_LIB_DIR}" REQUIRED NO_DEFAULT_PATH)

pybind11_add_module(
  _core
  cpp/python/module.cpp
  cpp/python/build.cpp
  cpp/python/convert.cpp
  cpp/python/manifest.cpp
  cpp/python/model.cpp
  cpp/python/reports.cpp
  cpp/python/tensor_files.cpp
  cpp/python/tuning.cpp)
# nlohmann/json: the manifest's document and metadata become dicts in C++.
target_link_libraries(_core PRIVATE tsbridge_tools tsbridge_json ${TORCH_PYTHON_LIBRARY})
set_target_properties(_core PROPERTIES INSTALL_RPATH "$ORIGIN/lib;$ORIGIN/../torch/lib")
# torch is installed beside tsbridge, in the same site-packages.
install(TARGETS _core LIBRARY DESTINATION tsbridge)
