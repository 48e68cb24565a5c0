#pragma once

// CPU feature detection with CPUID and XGETBV: which instructions a .pt2's
// kernels may use on this machine, for the load's CPU guard and the tools'
// reports; header-only, never installed. Names follow Linux's
// /proc/cpuinfo `flags`, the names a manifest's "cpu" field uses (Python
// reads them through the bindings: _core.known_cpu_features).

#include <algorithm>
#include <cstdint>
#include <iterator>
#include <string>
#include <vector>

#if defined(__x86_64__) || defined(__i386__)
#include <cpuid.h>
#define TSBRIDGE_CPU_X86 1
#endif

namespace tsbridge {

namespace cpu_detail {

enum Reg { kEax, kEbx, kEcx, kEdx };
// OS-enabled register state a feature's instructions need (XCR0 bits).
constexpr uint64_t kNoState = 0;
constexpr uint64_t kAvxState = 0x6;      // SSE + AVX (YMM)
constexpr uint64_t kAvx512State = 0xE6;  // + opmask, ZMM_Hi256, Hi16_ZMM
constexpr uint64_t kAmxState = 0x60000;  // XTILECFG + XTILEDATA

struct CpuFeature {
  const char* name;
  unsigned leaf, subleaf;
  Reg reg;
  unsigned bit;
  uint64_t state;
};

inline constexpr CpuFeature kFeatures[] = {
    {"cx16", 1, 0, kEcx, 13, kNoState},
    {"lahf_lm", 0x80000001, 0, kEcx, 0, kNoState},
    {"popcnt", 1, 0, kEcx, 23, kNoState},
    {"sse3", 1, 0, kEcx, 0, kNoState},
    {"ssse3", 1, 0, kEcx, 9, kNoState},
    {"sse4_1", 1, 0, kEcx, 19, kNoState},
    {"sse4_2", 1, 0, kEcx, 20, kNoState},
    {"avx", 1, 0, kEcx, 28, kAvxState},
    {"avx2", 7, 0, kEbx, 5, kAvxState},
    {"bmi1", 7, 0, kEbx, 3, kNoState},
    {"bmi2", 7, 0, kEbx, 8, kNoState},
    {"f16c", 1, 0, kEcx, 29, kAvxState},
    {"fma", 1, 0, kEcx, 12, kAvxState},
    {"abm", 0x80000001, 0, kEcx, 5, kNoState},
    {"movbe", 1, 0, kEcx, 22, kNoState},
    {"xsave", 1, 0, kEcx, 26, kNoState},
    {"avx512f", 7, 0, kEbx, 16, kAvx512State},
    {"avx512bw", 7, 0, kEbx, 30, kAvx512State},
    {"avx512cd", 7, 0, kEbx, 28, kAvx512State},
    {"avx512dq", 7, 0, kEbx, 17, kAvx512State},
    {"avx512vl", 7, 0, kEbx, 31, kAvx512State},
    {"avx512_vnni", 7, 0, kEcx, 11, kAvx512State},
    {"avx512_bf16", 7, 1, kEax, 5, kAvx512State},
    {"avx512_fp16", 7, 0, kEdx, 23, kAvx512State},
    {"avx512vbmi", 7, 0, kEcx, 1, kAvx512State},
    {"avx512_vbmi2", 7, 0, kEcx, 6, kAvx512State},
    {"avx512ifma", 7, 0, kEbx, 21, kAvx512State},
    {"avx512_bitalg", 7, 0, kEcx, 12, kAvx512State},
    {"avx512_vpopcntdq", 7, 0, kEcx, 14, kAvx512State},
    {"avx_vnni", 7, 1, kEax, 4, kAvxState},
    {"amx_tile", 7, 0, kEdx, 24, kAmxState},
    {"amx_bf16", 7, 0, kEdx, 22, kAmxState},
    {"amx_int8", 7, 0, kEdx, 25, kAmxState},
    {"amx_fp16", 7, 1, kEax, 21, kAmxState},
    {"avx512_vp2intersect", 7, 0, kEdx, 8, kAvx512State},
};

#ifdef TSBRIDGE_CPU_X86
inline bool has(const CpuFeature& feature, uint64_t xcr0) {
  unsigned regs[4] = {0, 0, 0, 0};
  // __get_cpuid_count checks the leaf exists (a missing leaf reads as zeros).
  if (!__get_cpuid_count(feature.leaf, feature.subleaf, &regs[kEax], &regs[kEbx], &regs[kEcx], &regs[kEdx])) {
    return false;
  }
  return ((regs[feature.reg] >> feature.bit) & 1u) && (xcr0 & feature.state) == feature.state;
}

// The register state the OS saves and restores (XCR0), or 0 without OSXSAVE:
// a CPU with AVX whose OS does not enable it cannot run AVX code.
inline uint64_t enabled_state() {
  unsigned eax = 0, ebx = 0, ecx = 0, edx = 0;
  if (!__get_cpuid(1, &eax, &ebx, &ecx, &edx) || !((ecx >> 27) & 1u)) return 0;
  unsigned low = 0, high = 0;
  __asm__ volatile("xgetbv" : "=a"(low), "=d"(high) : "c"(0));
  return (static_cast<uint64_t>(high) << 32) | low;
}
#endif

inline std::vector<std::string> detect() {
  std::vector<std::string> found;
#ifdef TSBRIDGE_CPU_X86
  const uint64_t xcr0 = enabled_state();
  for (const auto& feature : kFeatures) {
    if (has(feature, xcr0)) found.emplace_back(feature.name);
  }
#endif
  return found;
}

}  // namespace cpu_detail

// The features this machine has and its OS has enabled (AVX state saved by
// XSAVE, say), out of the list this runtime can detect. Read once.
inline const std::vector<std::string>& cpu_features() {
  static const std::vector<std::string> features = cpu_detail::detect();
  return features;
}

// Every feature name this runtime can detect, in its table's order: the names
// a manifest's "cpu" field may use (Python's cpu_target builds its levels of them).
inline std::vector<std::string> known_cpu_features() {
  std::vector<std::string> names;
  for (const auto& feature : cpu_detail::kFeatures) names.emplace_back(feature.name);
  return names;
}

// Whether this runtime can detect a feature of that name.
inline bool is_known_cpu_feature(const std::string& name) {
  using cpu_detail::CpuFeature;
  return std::any_of(std::begin(cpu_detail::kFeatures), std::end(cpu_detail::kFeatures),
                     [&](const CpuFeature& feature) { return name == feature.name; });
}

// The widest vector extension here, for messages: "avx512f", "avx2", "avx",
// "sse4_2" or "none".
inline std::string cpu_vector_summary() {
  const auto& features = cpu_features();
  for (const char* widest : {"avx512f", "avx2", "avx", "sse4_2"}) {
    if (std::find(features.begin(), features.end(), widest) != features.end()) return widest;
  }
  return "none";
}

}  // namespace tsbridge
