#include "tsbridge/input_spec.h"

#include <cctype>

#include "tsbridge/dtype.h"
#include "tsbridge/error.h"

namespace tsbridge {
namespace {

constexpr const char* kSpecForm = "NAME=DIMS[:DTYPE] like x=1x3x224x224:float32 or x=batch,10";
constexpr const char* kDimsForm = "DIMS like 1x3x224x224 or 5,10";

[[noreturn]] void refuse(const char* form, const std::string& text, const std::string& fault) {
  throw Error(ErrorCode::InvalidArgument, std::string("expected ") + form + ", got '" + text + "': " + fault);
}

bool is_identifier(const std::string& token) {
  if (token.empty() || std::isdigit(static_cast<unsigned char>(token[0]))) return false;
  for (const char c : token) {
    if (!std::isalnum(static_cast<unsigned char>(c)) && c != '_') return false;
  }
  return true;
}

// One dim of ','- or 'x'-joined DIMS; `index` names it in messages and in
// the name a -1 gets.
Dim parse_dim(const std::string& token, size_t index, const std::string& name, bool allow_dynamic, const char* form,
              const std::string& text) {
  const std::string where = "dim " + std::to_string(index) + " '" + token + "'";
  if (token.empty()) refuse(form, text, "dim " + std::to_string(index) + " is empty");
  if (token.find_first_not_of("0123456789") == std::string::npos) {
    if (token.size() > 18) refuse(form, text, where + " is too large");
    return {std::stoll(token), ""};
  }
  const bool dynamic = token == "-1" || is_identifier(token);
  if (dynamic && !allow_dynamic) {
    refuse(form, text, where + " is a dynamic dim, and this command makes concrete inputs: give its size");
  }
  if (token == "-1") return {-1, index == 0 ? "batch" : name + "_dim" + std::to_string(index)};
  if (dynamic) return {-1, token};
  const bool mixed = token.find('x') != std::string::npos;
  refuse(form, text,
         where + (allow_dynamic ? " is not a size >= 0, -1 or a name" : " is not a size >= 0") +
             (mixed ? " (join the dims by 'x' or by ',', not both)" : ""));
}

std::vector<Dim> parse_dims(const std::string& dims, const std::string& name, bool allow_dynamic, const char* form,
                            const std::string& text) {
  std::vector<Dim> out;
  if (dims.empty()) return out;  // a 0-d tensor
  const bool joined_by_comma = dims.find(',') != std::string::npos;
  if (allow_dynamic && !joined_by_comma && dims.find_first_not_of("0123456789x-") != std::string::npos) {
    // A name may hold an 'x': one named dim alone, or ','-joined dims.
    if (is_identifier(dims) && dims.find('x') == std::string::npos) return {{-1, dims}};
    refuse(form, text, "'" + dims + "' holds a name: join the dims by ',' when one is named (e.g. batch,10)");
  }
  const char separator = joined_by_comma ? ',' : 'x';
  size_t start = 0;
  while (true) {
    const size_t end = dims.find(separator, start);
    const std::string token = dims.substr(start, end == std::string::npos ? std::string::npos : end - start);
    out.push_back(parse_dim(token, out.size(), name, allow_dynamic, form, text));
    if (end == std::string::npos) break;
    start = end + 1;
  }
  return out;
}

}  // namespace

TensorSpec parse_input_spec(const std::string& text, bool allow_dynamic) {
  const size_t eq = text.find('=');
  if (eq == std::string::npos) refuse(kSpecForm, text, "no '=' after the input's name");
  if (eq == 0) refuse(kSpecForm, text, "the name before '=' is empty");
  TensorSpec spec;
  spec.name = text.substr(0, eq);
  const std::string rest = text.substr(eq + 1);
  const size_t colon = rest.find(':');
  if (colon != std::string::npos) {
    spec.dtype = rest.substr(colon + 1);
    if (spec.dtype.empty()) refuse(kSpecForm, text, "the dtype after ':' is empty");
    try {
      dtype_from_name(spec.dtype);
    } catch (const Error& error) {
      refuse(kSpecForm, text, error.what());
    }
  }
  spec.shape = parse_dims(rest.substr(0, colon), spec.name, allow_dynamic, kSpecForm, text);
  return spec;
}

std::vector<int64_t> parse_sizes(const std::string& dims) {
  std::vector<int64_t> sizes;
  for (const auto& dim : parse_dims(dims, "", /*allow_dynamic=*/false, kDimsForm, dims)) sizes.push_back(dim.size);
  return sizes;
}

}  // namespace tsbridge
