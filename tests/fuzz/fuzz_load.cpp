// tsbridge's hostile-file fuzz driver: a fork server over the public API.
//
//   tsbridge_fuzz_load [--timeout SECONDS] [--memory-mb N] [--no-verify-integrity] [--canary] < paths
//
// Reads one archive path per line on stdin. For each it forks a child that
// loads the file with tsbridge::Model::load and, when that succeeds, uses it
// the way an application would: methods, stats, code, self_test (when the
// manifest has a golden sample) and forward on generated inputs. The parent
// prints one JSON line per case:
//
//   {"case": PATH, "outcome": OUTCOME, ...}
//
// OUTCOME is "error" (load raised a tsbridge::Error: a clean refusal; "code"
// and "message" say which), "loaded" (it loaded; "run_error" holds the first
// clean error of the run stage, if any), "escaped" (an exception that is not a
// tsbridge::Error left the library: a bug, though not a crash), "unchecked"
// (inputs that disagree on a dynamic dim they share ran instead of being
// refused: a .pt2's kernels would read past a buffer), "crash" (the
// child died: a signal, an abort, or a sanitizer report — "signal", "exit"
// and "report" say which) or "hang" (killed after --timeout seconds).
//
// LibTorch is loaded once, in the parent, which never touches a model, so
// each child starts from the same clean state and a crash costs one child.
#include <fcntl.h>
#include <signal.h>
#include <sys/resource.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <iostream>
#include <map>
#include <optional>
#include <string>
#include <typeinfo>

#include <tsbridge/benchmark.h>
#include <tsbridge/error.h>
#include <tsbridge/inputs.h>
#include <tsbridge/model.h>
#include <tsbridge/process.h>
#include <tsbridge/self_test.h>

namespace {

std::string json_string(const std::string& text) {
  std::string out = "\"";
  for (unsigned char c : text) {
    switch (c) {
      case '"': out += "\\\""; break;
      case '\\': out += "\\\\"; break;
      case '\n': out += "\\n"; break;
      case '\t': out += "\\t"; break;
      case '\r': out += "\\r"; break;
      default:
        if (c < 0x20 || c == 0x7f) {  // UTF-8 passes through; the reader replaces invalid bytes
          char buf[8];
          std::snprintf(buf, sizeof buf, "\\u%04x", c);
          out += buf;
        } else {
          out += static_cast<char>(c);
        }
    }
  }
  return out + "\"";
}

std::string clip(const std::string& text, size_t limit = 600) {
  return text.size() > limit ? text.substr(0, limit) + "..." : text;
}

struct Options {
  double timeout = 20;
  long memory_mb = 0;
  bool verify = true;
  bool canary = false;  // each child overflows a heap buffer: proves the sanitizer wiring reports
};

// ── the child: one case ──

void write_all(int fd, const std::string& text) {
  size_t done = 0;
  while (done < text.size()) {
    ssize_t n = write(fd, text.data() + done, text.size() - done);
    if (n <= 0) return;
    done += static_cast<size_t>(n);
  }
}

struct Result {
  std::string outcome, stage, code, message, run_error;
  std::string self_test;   // "passed" / "failed" when the golden sample was replayed
  std::string shared_dim;  // "refused" when inputs disagreeing on a shared dim were refused
};

std::string describe(const Result& r) {
  std::string out = "\"outcome\": " + json_string(r.outcome);
  if (!r.stage.empty()) out += ", \"stage\": " + json_string(r.stage);
  if (!r.code.empty()) out += ", \"code\": " + json_string(r.code);
  if (!r.message.empty()) out += ", \"message\": " + json_string(clip(r.message));
  if (!r.run_error.empty()) out += ", \"run_error\": " + json_string(clip(r.run_error));
  if (!r.self_test.empty()) out += ", \"self_test\": " + json_string(r.self_test);
  if (!r.shared_dim.empty()) out += ", \"shared_dim\": " + json_string(r.shared_dim);
  return out;
}

// Runs one step of the run stage; the first clean error is kept, anything
// else is an escape.
template <typename Step>
bool step(Result& result, const char* name, Step&& body) {
  try {
    body();
    return true;
  } catch (const tsbridge::Error& e) {
    if (result.run_error.empty()) {
      result.run_error = std::string(name) + ": " + tsbridge::error_code_name(e.code()) + ": " + e.what();
    }
  } catch (const std::exception& e) {
    result = {"escaped", name, typeid(e).name(), e.what(), "", ""};
  } catch (...) {
    result = {"escaped", name, "unknown", "a non-std exception", "", ""};
  }
  return false;
}

// Input shapes where the second input naming a dynamic dim gives it another
// size than the first; empty when no two tensor inputs share a dim.
std::map<std::string, std::vector<int64_t>> disagreeing_shapes(const std::vector<tsbridge::TensorSpec>& specs) {
  std::map<std::string, std::vector<int64_t>> shapes;
  std::map<std::string, int> uses;
  bool disagree = false;
  for (const auto& spec : specs) {
    if (!spec.is_tensor() || !spec.shape) continue;
    std::vector<int64_t> shape;
    for (const auto& dim : *spec.shape) {
      if (!dim.is_dynamic()) {
        shape.push_back(dim.size);
        continue;
      }
      const int use = uses[dim.name]++;
      disagree = disagree || use > 0;
      shape.push_back(2 + use);
    }
    shapes[spec.name] = shape;
  }
  return disagree ? shapes : decltype(shapes){};
}

Result run_case(const std::string& path, const Options& options) {
  tsbridge::LoadOptions load;
  load.verify_integrity = options.verify;
  std::optional<tsbridge::Model> model;
  try {
    model = tsbridge::Model::load(path, load);
  } catch (const tsbridge::Error& e) {
    return {"error", "load", tsbridge::error_code_name(e.code()), e.what(), "", ""};
  } catch (const std::exception& e) {
    return {"escaped", "load", typeid(e).name(), e.what(), "", ""};
  } catch (...) {
    return {"escaped", "load", "unknown", "a non-std exception", "", ""};
  }
  Result result{"loaded", "", "", "", "", ""};
  const auto ok = [&](const char* name, auto&& body) { return result.outcome == "loaded" && step(result, name, body); };
  ok("methods", [&] { model->methods(); });
  ok("stats", [&] { model->stats(); });
  ok("code", [&] { model->code(); });
  if (model->manifest() && model->manifest()->golden)
    ok("self_test", [&] { result.self_test = tsbridge::self_test(*model).passed ? "passed" : "failed"; });
  ok("forward", [&] {
    tsbridge::InputOptions inputs;
    inputs.max_bytes = int64_t{64} << 20;
    std::vector<c10::IValue> values;
    try {
      values = tsbridge::make_inputs(model->inputs(), inputs);
    } catch (const tsbridge::Error&) {
      // A file with no manifest records no shapes: the seeds' plain model takes [N, 6].
      for (const auto& spec : model->inputs()) inputs.shapes[spec.name] = {2, 6};
      values = tsbridge::make_inputs(model->inputs(), inputs);
    }
    model->forward(std::move(values));
  });
  // Inputs that disagree on a shared dim must be refused before they run.
  const auto shapes = disagreeing_shapes(model->inputs());
  if (result.outcome == "loaded" && !shapes.empty()) {
    tsbridge::InputOptions inputs;
    inputs.shapes = shapes;
    try {
      model->forward(tsbridge::make_inputs(model->inputs(), inputs));
      result = {"unchecked", "shared_dim", "", "inputs disagreeing on a shared dynamic dim ran", "", ""};
    } catch (const tsbridge::Error& e) {
      if (e.code() == tsbridge::ErrorCode::InputMismatch) result.shared_dim = "refused";
      else if (result.run_error.empty()) result.run_error = std::string("shared_dim: ") + e.what();
    } catch (const std::exception& e) {
      result = {"escaped", "shared_dim", typeid(e).name(), e.what(), "", ""};
    }
  }
  return result;
}

[[noreturn]] void child(const std::string& path, const Options& options, int result_fd, int log_fd) {
  dup2(log_fd, STDERR_FILENO);
  if (options.memory_mb > 0) {
    rlimit limit{};
    limit.rlim_cur = limit.rlim_max = static_cast<rlim_t>(options.memory_mb) << 20;
    setrlimit(RLIMIT_AS, &limit);
  }
  tsbridge::set_threads({1, 1});
  if (options.canary) {
    volatile char* buffer = new char[8];
    buffer[8 + (path.size() & 1)] = 1;  // heap-buffer-overflow, on purpose
    delete[] buffer;
  }
  const Result result = run_case(path, options);
  write_all(result_fd, describe(result));
  close(result_fd);
  _exit(0);
}

// ── the parent ──

std::string read_fd(int fd, size_t limit) {
  std::string text;
  char buf[4096];
  ssize_t n;
  while ((n = read(fd, buf, sizeof buf)) > 0 && text.size() < limit) text.append(buf, static_cast<size_t>(n));
  return text;
}

// The lines of a sanitizer report (or a last message) worth keeping.
std::string crash_report(int log_fd) {
  lseek(log_fd, 0, SEEK_SET);
  const std::string log = read_fd(log_fd, 1 << 20);
  std::string kept;
  size_t start = 0;
  int frames = 0;
  while (start < log.size()) {
    size_t end = log.find('\n', start);
    if (end == std::string::npos) end = log.size();
    const std::string line = log.substr(start, end - start);
    start = end + 1;
    const bool frame = line.find("    #") == 0 && frames < 8;
    if (line.find("ERROR: ") != std::string::npos || line.find("SUMMARY: ") != std::string::npos ||
        line.find("runtime error") != std::string::npos || line.find("terminate called") != std::string::npos ||
        line.find("what():") != std::string::npos || frame) {
      if (frame) ++frames;
      kept += line + "\n";
    }
  }
  if (kept.empty()) kept = log.size() > 2000 ? log.substr(log.size() - 2000) : log;
  return clip(kept, 4000);
}

std::string run_one(const std::string& path, const Options& options, int log_fd) {
  int pipe_fds[2];
  if (pipe(pipe_fds) != 0) return "\"outcome\": \"driver_error\", \"message\": \"pipe failed\"";
  if (ftruncate(log_fd, 0) != 0) {
  }
  lseek(log_fd, 0, SEEK_SET);
  std::fflush(nullptr);
  const auto started = std::chrono::steady_clock::now();
  const pid_t pid = fork();
  if (pid < 0) return "\"outcome\": \"driver_error\", \"message\": \"fork failed\"";
  if (pid == 0) {
    close(pipe_fds[0]);
    child(path, options, pipe_fds[1], log_fd);
  }
  close(pipe_fds[1]);
  fcntl(pipe_fds[0], F_SETFL, O_NONBLOCK);
  std::string message;
  int status = 0;
  bool timed_out = false;
  char buf[4096];
  for (;;) {
    ssize_t n;
    while ((n = read(pipe_fds[0], buf, sizeof buf)) > 0) message.append(buf, static_cast<size_t>(n));
    const pid_t done = waitpid(pid, &status, WNOHANG);
    if (done == pid) break;
    const double elapsed = std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count();
    if (elapsed > options.timeout) {
      kill(pid, SIGKILL);
      waitpid(pid, &status, 0);
      timed_out = true;
      break;
    }
    timespec pause{0, 1000000};
    nanosleep(&pause, nullptr);
  }
  ssize_t n;
  while ((n = read(pipe_fds[0], buf, sizeof buf)) > 0) message.append(buf, static_cast<size_t>(n));
  close(pipe_fds[0]);
  const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count();
  std::string out;
  if (timed_out) {
    out = "\"outcome\": \"hang\"";
  } else if (WIFEXITED(status) && WEXITSTATUS(status) == 0 && !message.empty()) {
    out = message;
  } else {
    out = "\"outcome\": \"crash\"";
    if (WIFSIGNALED(status)) out += ", \"signal\": " + std::to_string(WTERMSIG(status));
    if (WIFEXITED(status)) out += ", \"exit\": " + std::to_string(WEXITSTATUS(status));
    out += ", \"report\": " + json_string(crash_report(log_fd));
  }
  char timing[64];
  std::snprintf(timing, sizeof timing, ", \"seconds\": %.4f", seconds);
  return out + timing;
}

}  // namespace

int main(int argc, char** argv) {
  Options options;
  for (int i = 1; i < argc; ++i) {
    const std::string arg = argv[i];
    if (arg == "--timeout" && i + 1 < argc) {
      options.timeout = std::atof(argv[++i]);
    } else if (arg == "--memory-mb" && i + 1 < argc) {
      options.memory_mb = std::atol(argv[++i]);
    } else if (arg == "--no-verify-integrity") {
      options.verify = false;
    } else if (arg == "--canary") {
      options.canary = true;
    } else {
      std::cerr << "usage: tsbridge_fuzz_load [--timeout SECONDS] [--memory-mb N] [--no-verify-integrity] [--canary] < "
                   "paths\n";
      return 2;
    }
  }
  char log_template[] = "/tmp/tsbridge-fuzz-log-XXXXXX";
  const int log_fd = mkstemp(log_template);
  if (log_fd < 0) {
    std::perror("mkstemp");
    return 1;
  }
  unlink(log_template);
  std::string path;
  while (std::getline(std::cin, path)) {
    if (path.empty()) continue;
    const std::string line = "{\"case\": " + json_string(path) + ", " + run_one(path, options, log_fd) + "}\n";
    std::fwrite(line.data(), 1, line.size(), stdout);
    std::fflush(stdout);
  }
  return 0;
}
