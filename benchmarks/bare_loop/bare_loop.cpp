// The floor tsbridge's own overhead is measured against: a bare LibTorch
// program (no tsbridge) that loads a TorchScript file and calls forward in a
// loop under c10::InferenceMode, exactly as an application written straight
// against LibTorch would.
//
//   bare_loop MODEL.pt --shape 1x3x224x224 [--dtype int64] [--untimed-calls N] [--iters N] [--threads N]
//       one JSON line on stdout: load_ms, first_call_ms, latencies_ms
//   bare_loop MODEL.pt --shape 1x3x224x224 --cold
//       load, one call, print the output's shape, exit (the cold-start reference)
//
// The input is one tensor: torch::randn of the shape (float32), or with
// --dtype int64 token ids from 0 to 9 (as tsrun draws integer inputs).
#include <torch/script.h>

#include <ATen/Parallel.h>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <iostream>
#include <sstream>
#include <string>
#include <vector>

namespace {

using Clock = std::chrono::steady_clock;

double ms_since(Clock::time_point start) {
  return std::chrono::duration<double, std::milli>(Clock::now() - start).count();
}

std::vector<int64_t> parse_shape(const std::string& text) {
  std::vector<int64_t> shape;
  std::stringstream stream(text);
  std::string part;
  while (std::getline(stream, part, 'x')) shape.push_back(std::stoll(part));
  return shape;
}

[[noreturn]] void usage() {
  std::cerr << "usage: bare_loop MODEL.pt --shape AxBxC [--dtype float32|int64] [--untimed-calls N] [--iters N] "
               "[--threads N] [--cold]\n";
  std::exit(2);
}

}  // namespace

int main(int argc, char** argv) {
  if (argc < 2) usage();
  const std::string path = argv[1];
  std::vector<int64_t> shape;
  int64_t warmup = 10, iters = 100;
  int threads = 0;
  bool cold = false;
  bool token_ids = false;
  for (int i = 2; i < argc; ++i) {
    const std::string arg = argv[i];
    auto value = [&]() -> std::string {
      if (i + 1 >= argc) usage();
      return argv[++i];
    };
    if (arg == "--shape") shape = parse_shape(value());
    else if (arg == "--untimed-calls") warmup = std::stoll(value());
    else if (arg == "--iters") iters = std::stoll(value());
    else if (arg == "--threads") threads = std::stoi(value());
    else if (arg == "--dtype") {
      const std::string dtype = value();
      if (dtype != "float32" && dtype != "int64") usage();
      token_ids = dtype == "int64";
    } else if (arg == "--cold") cold = true;
    else usage();
  }
  if (shape.empty()) usage();
  if (threads > 0) at::set_num_threads(threads);

  try {
    auto start = Clock::now();
    torch::jit::Module module = torch::jit::load(path);
    module.eval();
    const double load_ms = ms_since(start);

    c10::InferenceMode guard;
    const at::Tensor input = token_ids ? torch::randint(0, 10, shape, torch::kLong) : torch::randn(shape);
    std::vector<c10::IValue> inputs{input};

    start = Clock::now();
    c10::IValue first = module.forward(inputs);
    const double first_call_ms = ms_since(start);
    if (cold) {
      const at::Tensor out = first.toTensor();
      std::cout << "output " << out.sizes() << " mean " << out.mean().item<double>() << "\n";
      return 0;
    }
    first = c10::IValue();

    for (int64_t i = 0; i < warmup; ++i) module.forward(inputs);
    std::vector<double> latencies;
    latencies.reserve(static_cast<size_t>(iters));
    for (int64_t i = 0; i < iters; ++i) {
      const auto call = Clock::now();
      c10::IValue out = module.forward(inputs);
      const auto done = Clock::now();
      latencies.push_back(std::chrono::duration<double, std::milli>(done - call).count());
      (void)out;
    }

    std::printf("{\"load_ms\": %.6f, \"first_call_ms\": %.6f, \"threads\": %d, \"latencies_ms\": [", load_ms,
                first_call_ms, at::get_num_threads());
    for (size_t i = 0; i < latencies.size(); ++i) std::printf(i ? ", %.6f" : "%.6f", latencies[i]);
    std::printf("]}\n");
  } catch (const std::exception& error) {
    std::cerr << "bare_loop: error: " << error.what() << "\n";
    return 1;
  }
  return 0;
}
