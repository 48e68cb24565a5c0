// tsrun's executable: links no LibTorch, so that it runs even beside a torch
// other than the one tsbridge was built for, and says so in one line. Linked
// directly, the dynamic loader would stop such a process before main with
// "undefined symbol", or let it run until a call reached a missing one.
//
// It finds LibTorch's libc10 through its own RPATH (the torch installed
// beside tsbridge), reads that torch's version from the files the torch
// package or the LibTorch distribution carry, compares it with the version
// this build was compiled against, then loads libtsrun (the runner) and
// hands it the command line.
#include <dlfcn.h>
#include <link.h>

#include <fstream>
#include <iostream>
#include <optional>
#include <regex>
#include <string>

namespace {

// Exit code 9 (docs/tsrun.md): this tsbridge and the torch beside it do not
// go together; the same code as the runner's when it cannot load.
constexpr int kTorchMismatch = 9;
constexpr const char* kBuiltFor = TSBRIDGE_TORCH_PACKAGE_VERSION;

std::string first_line(const char* text) {
  std::string line = text ? text : "unknown error";
  return line.substr(0, line.find('\n'));
}

// "2.15.0+cu132" -> "2.15.0": the CPU and CUDA builds of one release share
// their C++ ABI; the release is what must match.
std::string release_of(const std::string& version) { return version.substr(0, version.find('+')); }

std::optional<std::string> folder_of_loaded(void* handle) {
  link_map* map = nullptr;
  if (dlinfo(handle, RTLD_DI_LINKMAP, &map) != 0 || !map || !map->l_name) return std::nullopt;
  std::string path = map->l_name;
  return path.substr(0, path.rfind('/'));
}

// torch/version.py (the Python package: `__version__ = '2.15.0+cu132'`), or
// build-version at the root of a LibTorch distribution.
std::optional<std::string> torch_version_at(const std::string& lib_folder) {
  std::ifstream python(lib_folder + "/../version.py");
  const std::regex assignment(R"(^__version__\s*=\s*['"]([^'"]+)['"])");
  for (std::string line; std::getline(python, line);) {
    std::smatch match;
    if (std::regex_search(line, match, assignment)) return match[1].str();
  }
  std::ifstream distribution(lib_folder + "/../build-version");
  std::string version;
  if (distribution >> version) return version;
  return std::nullopt;
}

int fail(const std::string& message) {
  std::cerr << "tsrun: error: " << message << "\n";
  return kTorchMismatch;
}

std::string rebuild_hint() {
  return "reinstall tsbridge built for it (pip install --no-build-isolation --no-deps --force-reinstall "
         "<tsbridge source or the wheel for that torch>), or install torch==" +
         release_of(kBuiltFor);
}

}  // namespace

int main(int argc, char** argv) {
  void* c10 = dlopen("libc10.so", RTLD_LAZY | RTLD_GLOBAL);
  if (!c10) {
    return fail("LibTorch not found beside tsbridge (" + first_line(dlerror()) + "): tsbridge was built for torch " +
                kBuiltFor + "; install it in this environment");
  }
  const auto folder = folder_of_loaded(c10);
  const auto running = folder ? torch_version_at(*folder) : std::nullopt;
  if (running && release_of(*running) != release_of(kBuiltFor)) {
    return fail(std::string("tsbridge was built for torch ") + kBuiltFor + ", but this environment has torch " +
                *running + " (" + *folder + "); " + rebuild_hint());
  }
  // Global, as a directly linked executable's libraries are: LibTorch's CUDA
  // libraries resolve symbols across each other at load and later.
  void* runner = dlopen("libtsrun.so", RTLD_NOW | RTLD_GLOBAL);
  if (!runner) {
    return fail("cannot load tsrun's runner (" + first_line(dlerror()) + "); tsbridge was built for torch " +
                kBuiltFor + ": " + rebuild_hint());
  }
  using Main = int (*)(int, char**, const char*);
  const auto tsrun_main = reinterpret_cast<Main>(dlsym(runner, "tsrun_main"));
  if (!tsrun_main) return fail("libtsrun has no tsrun_main: reinstall tsbridge");
  const std::string torch_version = running.value_or(std::string(kBuiltFor) + " (assumed)");
  return tsrun_main(argc, argv, torch_version.c_str());
}
