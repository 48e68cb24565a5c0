#pragma once

#include <string>
#include <vector>

#include "tsbridge/version.h"

namespace tsbridge {

// One capability of this build of libtsbridge, as `tsrun --version`,
// `tsbridge --version` and `tsbridge doctor` report it.
struct BuildFeature {
  std::string name;  // "npz", "integrity", "aoti", "cuda", "cpu"
  bool available = false;
  std::string detail;  // the library behind it, or why it is missing
};

// What this build can do. The libraries are those actually loaded (so a
// system copy that differs from the build's shows); CUDA and the CPU's vector
// capability are checked on this machine, at the call.
std::vector<BuildFeature> build_features();

// The features on one line, e.g. "npz (libzip 1.7.3), integrity (sha256,
// OpenSSL 3.0.19), aoti (.pt2 packages), cpu (AVX2), cuda: no (LibTorch has
// no CUDA device here)".
std::string features_text(const std::vector<BuildFeature>& features);

}  // namespace tsbridge
