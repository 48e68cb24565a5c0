#include "tsbridge/build_info.h"

#include <ATen/Context.h>
#include <ATen/Version.h>
#include <torch/cuda.h>

#include "archive/integrity.h"
#include "io/npz.h"

namespace tsbridge {

std::vector<BuildFeature> build_features() {
  std::vector<BuildFeature> features;
  features.push_back({"npz", true, detail::zip_library()});
  features.push_back({"integrity", true, "sha256, " + detail::crypto_library()});
  features.push_back({"aoti", true, ".pt2 packages"});
  features.push_back({"cpu", true, at::get_cpu_capability()});
  if (!at::hasCUDA()) {
    features.push_back({"cuda", false, "this LibTorch has no CUDA support, or no CUDA driver is loaded"});
  } else {
    const auto count = torch::cuda::device_count();
    features.push_back({"cuda", count > 0, std::to_string(count) + " device" + (count == 1 ? "" : "s")});
  }
  return features;
}

std::string features_text(const std::vector<BuildFeature>& features) {
  std::string text;
  for (const auto& feature : features) {
    if (!text.empty()) text += ", ";
    text +=
        feature.available ? feature.name + " (" + feature.detail + ")" : feature.name + ": no (" + feature.detail + ")";
  }
  return text;
}

}  // namespace tsbridge
