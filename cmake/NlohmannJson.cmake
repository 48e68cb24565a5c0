# nlohmann/json is a private, header-only dependency of libtsbridge: it never
# appears in public headers, so embedding apps do not need it. Prefer a system
# package; fall back to the headers shipped by the `nlohmann-json` PyPI package.
add_library(tsbridge_json INTERFACE)
find_package(nlohmann_json 3.10 CONFIG QUIET)
if(nlohmann_json_FOUND)
  target_link_libraries(tsbridge_json INTERFACE nlohmann_json::nlohmann_json)
else()
  find_package(Python3 COMPONENTS Interpreter REQUIRED)
  execute_process(
    COMMAND ${Python3_EXECUTABLE} -c "import nlohmann_json; print(nlohmann_json.get_include())"
    OUTPUT_VARIABLE _tsbridge_json_include
    OUTPUT_STRIP_TRAILING_WHITESPACE
    RESULT_VARIABLE _tsbridge_json_rc)
  if(NOT _tsbridge_json_rc EQUAL 0)
    message(FATAL_ERROR "nlohmann/json not found: install `nlohmann-json3-dev` or `pip install nlohmann-json`")
  endif()
  target_include_directories(tsbridge_json SYSTEM INTERFACE "${_tsbridge_json_include}")
endif()
