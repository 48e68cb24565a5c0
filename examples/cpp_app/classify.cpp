// classify: runs a batch of samples from a .npy file through an exported
// classifier on a pool of worker threads that share one tsbridge::Model, and
// prints each sample's top-k labels (from the model's metadata) with their
// softmax probabilities.
//
//   classify MODEL.pt BATCH.npy [--threads N] [--top-k K] [--chunk ROWS]
//            [--intra-op-threads T] [--device cpu|cuda]
#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <exception>
#include <mutex>
#include <optional>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

#include <ATen/ATen.h>
#include <c10/core/InferenceMode.h>

#include <tsbridge/benchmark.h>
#include <tsbridge/dtype.h>
#include <tsbridge/error.h>
#include <tsbridge/model.h>
#include <tsbridge/process.h>
#include <tsbridge/tensor_io.h>

namespace {

struct Options {
  std::string model;
  std::string batch;
  int threads = 4;
  int64_t top_k = 3;
  int64_t chunk = 16;
  int intra_op_threads = 0;  // 0: LibTorch's default
  std::string device = "cpu";
};

[[noreturn]] void usage(const std::string& problem) {
  if (!problem.empty()) std::fprintf(stderr, "classify: %s\n", problem.c_str());
  std::fprintf(stderr,
               "usage: classify MODEL.pt BATCH.npy [--threads N] [--top-k K] [--chunk ROWS]\n"
               "                [--intra-op-threads T] [--device DEVICE]\n"
               "  Classifies every row of BATCH.npy (dim 0 is the sample) with MODEL.pt, a tsbridge\n"
               "  archive whose metadata holds {\"labels\": [...]}, on N worker threads (default 4)\n"
               "  sharing one model, ROWS samples per call (default 16), and prints the top K\n"
               "  (default 3) labels of each sample with their softmax probabilities.\n"
               "  --intra-op-threads T: threads each call may use inside one op (default:\n"
               "  LibTorch's, one per core). With many workers, 1 avoids oversubscribing the cores.\n");
  std::exit(problem.empty() ? 0 : 64);
}

int64_t positive(const std::string& flag, const std::string& text) {
  try {
    size_t used = 0;
    const long long value = std::stoll(text, &used);
    if (used == text.size() && value > 0) return value;
  } catch (const std::exception&) {
  }
  usage(flag + " needs a positive integer, got '" + text + "'");
}

Options parse(int argc, char** argv) {
  Options options;
  std::vector<std::string> positional;
  for (int i = 1; i < argc; ++i) {
    const std::string arg = argv[i];
    if (arg == "-h" || arg == "--help") usage("");
    if (arg.rfind("--", 0) == 0) {
      if (i + 1 >= argc) usage(arg + " needs a value");
      const std::string value = argv[++i];
      if (arg == "--threads") options.threads = static_cast<int>(std::min<int64_t>(positive(arg, value), 256));
      else if (arg == "--top-k") options.top_k = positive(arg, value);
      else if (arg == "--chunk") options.chunk = positive(arg, value);
      else if (arg == "--intra-op-threads")
        options.intra_op_threads = static_cast<int>(std::min<int64_t>(positive(arg, value), 256));
      else if (arg == "--device") options.device = value;
      else usage("unknown option " + arg);
    } else {
      positional.push_back(arg);
    }
  }
  if (positional.size() != 2) usage("expected MODEL.pt and BATCH.npy");
  options.model = positional[0];
  options.batch = positional[1];
  return options;
}

// The top-k of one sample: class indices and probabilities, best first.
struct Prediction {
  std::vector<int64_t> classes;
  std::vector<float> scores;
};

// Converts the batch to the dtype the model declares for its input (numpy
// writes float64 by default; a model usually wants float32).
at::Tensor as_model_input(const tsbridge::Model& model, at::Tensor batch) {
  const auto inputs = model.inputs();
  if (inputs.size() != 1) {
    throw std::runtime_error("this app feeds one tensor; the model takes " + std::to_string(inputs.size()) + " inputs");
  }
  if (!inputs[0].dtype.empty()) batch = batch.to(tsbridge::dtype_from_name(inputs[0].dtype));
  return batch;
}

// Runs rows [start, end) and writes their predictions.
void classify_rows(const tsbridge::Model& model, const at::Tensor& batch, int64_t start, int64_t end, int64_t top_k,
                   std::vector<Prediction>& predictions) {
  // Inputs go where the model is (a no-op on the CPU).
  const at::Tensor logits = model.forward(batch.slice(0, start, end).to(model.device()));
  c10::InferenceMode guard;  // no autograd bookkeeping for the post-processing either
  if (logits.dim() != 2 || logits.size(0) != end - start) {
    throw std::runtime_error("expected the model to return [samples, classes] logits, got " +
                             std::to_string(logits.dim()) + "-d sizes " + c10::str(logits.sizes()));
  }
  const int64_t k = std::min(top_k, logits.size(1));
  const auto [scores, classes] = at::softmax(logits.to(at::kFloat), 1).topk(k, 1);
  const at::Tensor cpu_scores = scores.cpu().contiguous();
  const at::Tensor cpu_classes = classes.cpu().contiguous();
  for (int64_t row = 0; row < end - start; ++row) {
    Prediction& prediction = predictions[static_cast<size_t>(start + row)];
    const float* s = cpu_scores.data_ptr<float>() + row * k;
    const int64_t* c = cpu_classes.data_ptr<int64_t>() + row * k;
    prediction.scores.assign(s, s + k);
    prediction.classes.assign(c, c + k);
  }
}

// N workers take chunks of rows from a shared counter until none are left.
// Every worker calls the same Model: it is safe to share across threads.
std::vector<Prediction> classify_all(const tsbridge::Model& model, const at::Tensor& batch, const Options& options) {
  const int64_t rows = batch.size(0);
  std::vector<Prediction> predictions(static_cast<size_t>(rows));
  std::atomic<int64_t> next_row{0};
  std::atomic<bool> failed{false};
  std::exception_ptr first_error;
  std::mutex error_mutex;

  auto worker = [&] {
    try {
      while (!failed) {
        const int64_t start = next_row.fetch_add(options.chunk);
        if (start >= rows) break;
        classify_rows(model, batch, start, std::min(start + options.chunk, rows), options.top_k, predictions);
      }
    } catch (...) {
      std::lock_guard<std::mutex> lock(error_mutex);
      if (!first_error) first_error = std::current_exception();
      failed = true;
    }
  };
  std::vector<std::thread> pool;
  for (int i = 0; i < options.threads; ++i) pool.emplace_back(worker);
  for (auto& thread : pool) thread.join();
  if (first_error) std::rethrow_exception(first_error);
  return predictions;
}

}  // namespace

int main(int argc, char** argv) {
  const Options options = parse(argc, argv);
  try {
    if (options.intra_op_threads > 0) {
      tsbridge::ThreadSettings settings;  // LibTorch's thread pools, set before the first call
      settings.intra_op = options.intra_op_threads;
      tsbridge::set_threads(settings);
    }
    const auto started = std::chrono::steady_clock::now();
    tsbridge::LoadOptions load;
    load.device = options.device;
    const tsbridge::Model model = tsbridge::Model::load(options.model, load);

    std::optional<std::vector<std::string>> labels;
    if (const tsbridge::Manifest* manifest = model.manifest()) labels = manifest->metadata_strings("labels");
    if (!labels) std::fprintf(stderr, "classify: the model's metadata has no \"labels\"; printing class indices\n");

    const at::Tensor batch = as_model_input(model, tsbridge::read_tensor(options.batch));
    if (batch.dim() < 1) throw std::runtime_error(options.batch + " holds a scalar, not a batch of samples");
    const std::vector<Prediction> predictions = classify_all(model, batch, options);
    const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count();

    if (labels) {
      for (const Prediction& prediction : predictions) {
        for (const int64_t index : prediction.classes) {
          if (index >= static_cast<int64_t>(labels->size())) {
            throw std::runtime_error("the model outputs class " + std::to_string(index) + " but its metadata has " +
                                     std::to_string(labels->size()) + " labels");
          }
        }
      }
    }
    for (size_t sample = 0; sample < predictions.size(); ++sample) {
      std::printf("sample %zu:", sample);
      const Prediction& prediction = predictions[sample];
      for (size_t i = 0; i < prediction.classes.size(); ++i) {
        const int64_t index = prediction.classes[i];
        const std::string label = labels ? (*labels)[static_cast<size_t>(index)] : "class " + std::to_string(index);
        std::printf("%s %s %.6f", i == 0 ? "" : ",", label.c_str(), prediction.scores[i]);
      }
      std::printf("\n");
    }
    std::fprintf(stderr, "classify: %zu samples on %d threads, %lld rows per call, %.1f ms in all\n",
                 predictions.size(), options.threads, static_cast<long long>(options.chunk), seconds * 1e3);
    return 0;
  } catch (const tsbridge::Error& e) {
    // Bad model file, wrong input shape, missing device...: one line, a code.
    std::fprintf(stderr, "classify: %s (%s)\n", e.what(), tsbridge::error_code_name(e.code()));
    return 2;
  } catch (const std::exception& e) {
    std::fprintf(stderr, "classify: %s\n", e.what());
    return 1;
  }
}
