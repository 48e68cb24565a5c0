// The thread-safety contract of tsbridge::Model (docs/cpp-api.md): one
// Model shared by N threads calling forward concurrently gives exactly the
// results serial calls give.
//
//   thread_safety MODEL.pt [THREADS] [CALLS_PER_THREAD]
//
// Makes THREADS * CALLS inputs (dynamic dims vary from call to call), runs
// them serially, then again from THREADS threads at once: even threads call
// the one shared Model, odd ones a copy of it (copies share the loaded
// module). Every concurrent result must equal its serial one bit for bit
// (at::equal). Prints one summary line; exits 1 on any mismatch or error.
#include <atomic>
#include <cstdio>
#include <cstdlib>
#include <exception>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include <ATen/ATen.h>

#include <tsbridge/dtype.h>
#include <tsbridge/error.h>
#include <tsbridge/model.h>

namespace {

// Inputs for one call, shaped by the manifest: dynamic dims take a size that
// depends on the call, so concurrent calls run different shapes.
std::vector<c10::IValue> make_inputs(const std::vector<tsbridge::TensorSpec>& specs, int call) {
  std::vector<c10::IValue> inputs;
  for (size_t i = 0; i < specs.size(); ++i) {
    const auto& spec = specs[i];
    if (!spec.is_tensor() || !spec.shape || spec.dtype.empty()) {
      throw std::runtime_error("input '" + spec.name + "' has no declared dtype and shape");
    }
    std::vector<int64_t> shape;
    int dynamic = 0;
    for (const auto& dim : *spec.shape) {
      shape.push_back(dim.is_dynamic() ? 1 + (call / (1 + 3 * dynamic++)) % 5 : dim.size);
    }
    const auto dtype = tsbridge::dtype_from_name(spec.dtype);
    at::Tensor value = at::randn(shape, at::kDouble);
    if (at::isIntegralType(dtype, /*includeBool=*/true)) value = (value * 4).floor();
    inputs.emplace_back(value.to(dtype));
  }
  return inputs;
}

// Empty when equal, else what differs.
std::string difference(const tsbridge::Model& model, const c10::IValue& expected, const c10::IValue& got) {
  const auto want = model.output_leaves("forward", expected);
  const auto have = model.output_leaves("forward", got);
  if (want.size() != have.size()) return "different number of outputs";
  for (size_t i = 0; i < want.size(); ++i) {
    const auto& a = want[i].value;
    const auto& b = have[i].value;
    if (want[i].name != have[i].name) return "output " + want[i].name + " came back as " + have[i].name;
    if (a.isTensor() && b.isTensor()) {
      const at::Tensor& x = a.toTensor();
      const at::Tensor& y = b.toTensor();
      if (x.sizes() != y.sizes() || x.scalar_type() != y.scalar_type() || !at::equal(x, y)) {
        const double max_diff = x.sizes() == y.sizes() && x.scalar_type() == y.scalar_type()
                                    ? (x.to(at::kDouble) - y.to(at::kDouble)).abs().max().item<double>()
                                    : -1;
        return want[i].name + " differs (max |diff| " + std::to_string(max_diff) + ")";
      }
    } else {
      const bool same = (a.isInt() && b.isInt() && a.toInt() == b.toInt()) ||
                        (a.isDouble() && b.isDouble() && a.toDouble() == b.toDouble()) ||
                        (a.isBool() && b.isBool() && a.toBool() == b.toBool()) ||
                        (a.isString() && b.isString() && a.toStringRef() == b.toStringRef());
      if (!same) return want[i].name + " differs (" + a.tagKind() + " vs " + b.tagKind() + ")";
    }
  }
  return "";
}

}  // namespace

int main(int argc, char** argv) {
  if (argc < 2 || argc > 4) {
    std::fprintf(stderr, "usage: thread_safety MODEL.pt [THREADS] [CALLS_PER_THREAD]\n");
    return 64;
  }
  const int threads = argc > 2 ? std::atoi(argv[2]) : 8;
  const int calls = argc > 3 ? std::atoi(argv[3]) : 200;
  if (threads < 1 || calls < 1) {
    std::fprintf(stderr, "thread_safety: THREADS and CALLS must be positive\n");
    return 64;
  }
  try {
    const tsbridge::Model model = tsbridge::Model::load(argv[1]);
    const auto specs = model.inputs();
    const int total = threads * calls;

    at::manual_seed(0);
    std::vector<std::vector<c10::IValue>> inputs;
    std::vector<c10::IValue> expected;
    for (int call = 0; call < total; ++call) {
      inputs.push_back(make_inputs(specs, call));
      expected.push_back(model.forward(inputs.back()));
    }

    std::atomic<int> ready{0};
    std::atomic<int> mismatches{0};
    std::atomic<int> errors{0};
    std::mutex report_mutex;
    std::string first_problem;
    auto report = [&](const std::string& problem) {
      std::lock_guard<std::mutex> lock(report_mutex);
      if (first_problem.empty()) first_problem = problem;
    };

    std::vector<std::thread> pool;
    for (int t = 0; t < threads; ++t) {
      pool.emplace_back([&, t] {
        const tsbridge::Model copy = model;  // a copy shares the loaded module
        const tsbridge::Model& use = t % 2 == 0 ? model : copy;
        ++ready;
        while (ready < threads) std::this_thread::yield();  // start together
        for (int c = 0; c < calls; ++c) {
          // Interleaved: at any moment the threads run different calls and shapes.
          const int call = c * threads + t;
          try {
            const c10::IValue got = use.forward(inputs[static_cast<size_t>(call)]);
            const std::string diff = difference(model, expected[static_cast<size_t>(call)], got);
            if (!diff.empty()) {
              ++mismatches;
              report("call " + std::to_string(call) + " on thread " + std::to_string(t) + ": " + diff);
            }
          } catch (const std::exception& e) {
            ++errors;
            report("call " + std::to_string(call) + " on thread " + std::to_string(t) + " raised: " + e.what());
          }
        }
      });
    }
    for (auto& thread : pool) thread.join();

    std::printf("threads=%d calls=%d mismatches=%d errors=%d\n", threads, total, mismatches.load(), errors.load());
    if (!first_problem.empty()) {
      std::printf("first problem: %s\n", first_problem.c_str());
      return 1;
    }
    return 0;
  } catch (const std::exception& e) {
    std::fprintf(stderr, "thread_safety: %s\n", e.what());
    return 2;
  }
}
