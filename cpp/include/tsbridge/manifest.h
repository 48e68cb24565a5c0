#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <variant>
#include <vector>

#include "tsbridge/tuning.h"
#include "tsbridge/version.h"

namespace tsbridge {

// The manifest format this runtime writes and reads. A manifest with a newer
// format_version is refused rather than guessed at.
inline constexpr int kManifestFormatVersion = 1;

// Where a manifest lives inside the archive, as a TorchScript "extra file".
inline constexpr const char* kManifestEntry = "tsbridge/manifest.json";

// One dimension of a shape: a fixed size, or a named dynamic dimension.
struct TSBRIDGE_API Dim {
  int64_t size = -1;  // -1 when dynamic
  std::string name;   // e.g. "batch"; empty for fixed dims

  bool is_dynamic() const { return size < 0; }
};

// The sizes a named dynamic dim may take. A .pt2 records the bounds its
// kernels were compiled for (torch.export.Dim's min and max); a size outside
// them would be read past by the compiled code, so it is refused.
struct DimRange {
  int64_t min = 0;
  std::optional<int64_t> max;  // nullopt when unbounded
};

// One step into a nested output: a tuple/list index or a dict key.
using PathElement = std::variant<int64_t, std::string>;

// The declared form of one input or output value.
struct TSBRIDGE_API TensorSpec {
  std::string name;
  std::string type = "Tensor";            // TorchScript type, e.g. "Tensor", "int", "List[int]"
  std::string dtype;                      // "float32", ...; empty when unknown or not a tensor
  std::optional<std::vector<Dim>> shape;  // nullopt when unknown
  std::vector<PathElement> path;          // outputs: position inside a nested result

  bool is_tensor() const { return type == "Tensor"; }
  // e.g. "float32[batch,10]", "Tensor" when nothing more is known, or "int".
  std::string to_string() const;
};

// A golden sample: forward's inputs and the outputs eager PyTorch gave for
// them, stored at export so the C++ runtime can replay them (self_test.h).
struct GoldenSample {
  std::string entry;  // the extra file holding torch.save({"inputs", "outputs"})
  double rtol = 0;    // agreement is |got - expected| <= atol + rtol * |expected|
  double atol = 0;
  std::string encoding;  // "" (the bytes themselves) or "base64" (in .pt2 packages, whose extra files are text)
};

// Digests of the archive's other entries, recorded at save and checked at
// load (integrity.h). Keys are record names inside the archive folder
// ("data/0", "code/__torch__.py", "extra/tsbridge/golden.pt"); values are
// lowercase hex digests.
struct IntegrityRecord {
  std::string algorithm;  // "sha256", the only one this runtime checks
  std::map<std::string, std::string> entries;
};

// What a .pt2's compiled kernels need from the CPU (the manifest's "cpu"),
// checked by Model::load before the package's shared library is opened.
struct CpuRequirements {
  std::string target;                 // "x86-64-v3", "native", ...
  std::string arch;                   // "x86_64": the machine kind it was compiled on
  std::vector<std::string> features;  // /proc/cpuinfo names (tsbridge/cpu.h)
  std::string vec_isa;                // Inductor's vector ISA: "avx2", "avx512", "" (scalar)
};

// How a .pt2 package was compiled (the manifest's "aoti", less its device and
// parallel loops, which Manifest keeps beside it). Fields older packages lack
// stay at their defaults.
struct AotiRecord {
  std::optional<double> compile_seconds;     // AOTInductor's compile; nullopt unrecorded
  std::string inductor_configs_json = "{}";  // the Inductor settings it was compiled with, as JSON text
  std::string build;                         // "default" or the tuner's variant ("no-freezing", ...); "" unrecorded
  std::optional<bool> prepacked;             // weights prepacked for oneDNN; nullopt unrecorded
};

// format="auto": each format's fastest median microseconds per call, and the
// format kept (the manifest's "selection").
struct FormatSelection {
  std::string chosen;  // "torchscript" or "aoti"
  std::map<std::string, double> median_us;
  std::optional<int64_t> rounds;
};

// tsbridge.migrate: the TorchScript archive a .pt2 was converted from (the
// manifest's "migrated_from").
struct MigratedFrom {
  std::string file;              // the archive's file name
  std::string sha256;            // of the whole archive
  std::string converter;         // "torch._export.converter.TS2EPConverter"
  std::string capture;           // the archive's capture, "unknown" without a manifest (the JSON's "method")
  std::string tsbridge_version;  // "" when the archive had no manifest
  std::string torch_version;
};

// A file that computes in a reduced precision (tsbridge.export(precision=
// "bf16" or "fp16"); its inputs and outputs keep eager's dtypes. The
// manifest's "precision".
struct OutputError {
  std::string output;                   // the output's name
  std::optional<double> max_abs_error;  // nullopt when not finite
  std::optional<double> max_rel_error;
};
struct PrecisionCheck {
  std::string name;  // the check set: "example inputs", "batch=8", "check_inputs[0]", ...
  std::vector<OutputError> outputs;
};
struct PrecisionRecord {
  std::string compute;  // "bf16" or "fp16"
  // The tolerance every check at export used (against fp32 eager), and the
  // golden sample's self-test uses.
  double rtol = 0, atol = 0;
  std::vector<PrecisionCheck> checks;  // the largest error per output on each check set
  // The instructions the file's code needs for it ("avx512_bf16", ...; also
  // in cpu.features, which the load checks); empty where it converts in software.
  std::vector<std::string> cpu_features;
};

struct TSBRIDGE_API Manifest {
  int format_version = kManifestFormatVersion;
  std::string tsbridge_version;
  std::string torch_version;
  std::string capture;  // how the module was made: "script", "trace" or "export" (the JSON's "method")
  bool frozen = false;
  // A TorchScript archive's 2-D convolution weights: "channels_last" or
  // "contiguous"; "" when unrecorded (.pt2 packages, older archives).
  std::string layout;
  std::vector<TensorSpec> inputs;
  std::vector<TensorSpec> outputs;
  // Bounds of the named dynamic dims, by name; empty when none were recorded
  // (TorchScript archives, older packages). Every input that names a dim
  // takes the same size for it either way.
  std::map<std::string, DimRange> dims;
  std::string metadata_json = "{}";          // the user's metadata, as JSON text
  std::optional<GoldenSample> golden;        // nullopt when the archive carries none
  std::optional<IntegrityRecord> integrity;  // nullopt in archives written before it existed
  std::optional<CpuRequirements> cpu;        // .pt2 packages; nullopt in TorchScript archives and older packages
  // A .pt2's parallel loops: "runtime" (they use the caller's intra-op thread
  // count), "fixed" (specialised to the exporting machine's), "" unrecorded
  // (TorchScript archives, older packages). The JSON's aoti.threads.
  std::string parallel_loops;
  // The device kind a .pt2 was compiled for: "cpu" or "cuda" (the JSON's
  // aoti.device); "" when unrecorded (TorchScript archives, older packages).
  std::string device;
  // What tsbridge.export(tune=True) (or format="auto") measured and chose;
  // Model::load applies its settings on the machine it was measured on.
  std::optional<TuningRecord> tuning;
  // What the file holds: "torchscript" or "aoti" (a .pt2 package), as
  // Model::format names it; the JSON's "backend", absent in TorchScript archives.
  std::string format = "torchscript";
  std::optional<AotiRecord> aoti;             // .pt2 packages; nullopt in TorchScript archives
  std::optional<FormatSelection> selection;   // format="auto"'s timings; nullopt otherwise
  std::optional<MigratedFrom> migrated_from;  // tsbridge.migrate's packages; nullopt otherwise
  std::optional<PrecisionRecord> precision;   // reduced precision; nullopt for fp32 (every file before it)
  std::string json;                           // the whole manifest, as stored

  // A top-level key of the user's metadata as a typed value; nullopt when
  // the key is absent. Error(InvalidArgument) "metadata 'labels' is a
  // number, not an array of strings" when it holds another type.
  std::optional<std::string> metadata_string(const std::string& key) const;
  std::optional<double> metadata_number(const std::string& key) const;
  std::optional<bool> metadata_bool(const std::string& key) const;
  std::optional<std::vector<std::string>> metadata_strings(const std::string& key) const;

  // Parses manifest JSON; throws Error(InvalidArchive) when malformed and
  // Error(UnsupportedVersion) when written in a newer format.
  static Manifest parse(const std::string& json_text);
};

}  // namespace tsbridge
