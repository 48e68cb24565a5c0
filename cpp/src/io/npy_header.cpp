// The .npy header: the prefix numpy/lib/format.py writes (the magic
// "\x93NUMPY", a version, the header's length) and the header itself, a
// Python dict literal {'descr': '<f4', 'fortran_order': False, 'shape': (2, 3), },
// read by a small strict parser and written byte for byte as np.save does.
#include "io/npy_header.h"

#include <algorithm>
#include <cctype>
#include <cstring>
#include <utility>

#include <c10/core/ScalarType.h>
#include <c10/util/Exception.h>

#include "core/text.h"
#include "tsbridge/dtype.h"
#include "tsbridge/error.h"

namespace tsbridge::detail {
namespace {

constexpr char kMagic[] = "\x93NUMPY";
constexpr size_t kMagicSize = 6;
// numpy itself refuses headers over 10000 bytes unless told otherwise; this
// only stops a hostile length from costing memory.
constexpr uint64_t kMaxHeaderBytes = 1 << 20;
constexpr size_t kMaxDims = 64;  // numpy's NPY_MAXDIMS
constexpr size_t kChunk = size_t{1} << 30;

// The dtypes both numpy and torch have, as numpy's descr spells them.
struct NpyType {
  char kind;
  size_t size;
  c10::ScalarType type;
};
constexpr NpyType kTypes[] = {
    {'f', 2, c10::kHalf},  {'f', 4, c10::kFloat},        {'f', 8, c10::kDouble},         {'i', 1, c10::kChar},
    {'i', 2, c10::kShort}, {'i', 4, c10::kInt},          {'i', 8, c10::kLong},           {'u', 1, c10::kByte},
    {'b', 1, c10::kBool},  {'c', 8, c10::kComplexFloat}, {'c', 16, c10::kComplexDouble},
};

const NpyType* npy_type(c10::ScalarType type) {
  for (const auto& entry : kTypes) {
    if (entry.type == type) return &entry;
  }
  return nullptr;
}

std::string npy_descr(const NpyType& type) {
  return (type.size == 1 ? "|" : "<") + std::string(1, type.kind) + std::to_string(type.size);
}

[[noreturn]] void invalid(const std::string& where, const std::string& what) {
  throw Error(ErrorCode::InvalidInputFile, where + ": " + what);
}

[[noreturn]] void corrupt(const std::string& where, const std::string& why) {
  invalid(where, "corrupt .npy header (" + why + ")");
}

[[noreturn]] void unsupported(const std::string& where, const std::string& descr, const std::string& why = "") {
  invalid(where, "unsupported .npy dtype '" + descr + "'" + why);
}

bool is_space(char c) { return c == ' ' || c == '\t' || c == '\r' || c == '\n'; }

// ── the header: a tiny, strict parser for the Python literals numpy writes ──

struct Literal {
  enum class Kind { String, Int, Bool, Tuple, List } kind = Kind::Int;
  std::string text;
  int64_t number = 0;
  bool flag = false;
  std::vector<Literal> items;
};

struct SyntaxError {
  std::string why;
};

// Strings, integers, True/False, tuples and lists inside one dict: all that
// np.save writes (a structured dtype's descr is a list of tuples). Anything
// else is refused rather than guessed at.
class HeaderParser {
 public:
  explicit HeaderParser(const std::string& text) : text_(text) {}

  std::vector<std::pair<std::string, Literal>> dict() {
    std::vector<std::pair<std::string, Literal>> entries;
    skip_space();
    expect('{');
    skip_space();
    while (!next_is('}')) {
      Literal key = value(0);
      if (key.kind != Literal::Kind::String) fail("a key that is not a string");
      skip_space();
      expect(':');
      entries.emplace_back(std::move(key.text), value(0));
      skip_space();
      if (next_is(',')) {
        ++pos_;
        skip_space();
      } else if (!next_is('}')) {
        fail("expected ',' or '}' at byte " + std::to_string(pos_));
      }
    }
    ++pos_;
    // np.save pads the header with spaces and ends it with a newline.
    skip_space();
    if (pos_ != text_.size()) fail("text after the dict");
    return entries;
  }

 private:
  [[noreturn]] void fail(const std::string& why) const { throw SyntaxError{why}; }

  void skip_space() {
    while (pos_ < text_.size() && is_space(text_[pos_])) ++pos_;
  }

  bool next_is(char c) const { return pos_ < text_.size() && text_[pos_] == c; }

  void expect(char c) {
    if (!next_is(c)) fail(std::string("expected '") + c + "' at byte " + std::to_string(pos_));
    ++pos_;
  }

  bool word(const char* name) {
    const size_t size = std::strlen(name);
    if (text_.compare(pos_, size, name) != 0) return false;
    const size_t end = pos_ + size;
    if (end < text_.size() && (std::isalnum(static_cast<unsigned char>(text_[end])) || text_[end] == '_')) return false;
    pos_ = end;
    return true;
  }

  Literal value(int depth) {
    if (depth > 8) fail("nested too deeply");
    skip_space();
    if (pos_ >= text_.size()) fail("ends inside a value");
    const char c = text_[pos_];
    if (c == '\'' || c == '"') return string();
    if (c == '(' || c == '[') return sequence(depth);
    if (c == '-' || std::isdigit(static_cast<unsigned char>(c))) return integer();
    Literal literal;
    literal.kind = Literal::Kind::Bool;
    if (word("True")) {
      literal.flag = true;
      return literal;
    }
    if (word("False")) return literal;
    fail("unexpected character at byte " + std::to_string(pos_));
  }

  Literal string() {
    const char quote = text_[pos_++];
    Literal literal;
    literal.kind = Literal::Kind::String;
    while (true) {
      if (pos_ >= text_.size() || text_[pos_] == '\n') fail("unterminated string");
      char c = text_[pos_++];
      if (c == quote) return literal;
      if (c == '\\') {
        if (pos_ >= text_.size()) fail("unterminated string");
        c = text_[pos_++];
      }
      literal.text += c;
    }
  }

  Literal integer() {
    const bool negative = next_is('-');
    if (negative) ++pos_;
    if (pos_ >= text_.size() || !std::isdigit(static_cast<unsigned char>(text_[pos_]))) fail("a '-' without digits");
    int64_t number = 0;
    while (pos_ < text_.size() && std::isdigit(static_cast<unsigned char>(text_[pos_]))) {
      const int digit = text_[pos_++] - '0';
      if (__builtin_mul_overflow(number, 10, &number) || __builtin_add_overflow(number, digit, &number)) {
        fail("an integer too large");
      }
    }
    if (next_is('L')) ++pos_;  // Python 2's long suffix, in files numpy wrote under Python 2
    Literal literal;
    literal.number = negative ? -number : number;
    return literal;
  }

  // (a, b), (a,), () and [a, b]. Like Python, "(a)" is just a.
  Literal sequence(int depth) {
    const char close = text_[pos_] == '(' ? ')' : ']';
    ++pos_;
    Literal literal;
    literal.kind = close == ')' ? Literal::Kind::Tuple : Literal::Kind::List;
    bool comma = false;
    skip_space();
    while (!next_is(close)) {
      literal.items.push_back(value(depth + 1));
      skip_space();
      comma = next_is(',');
      if (comma) {
        ++pos_;
        skip_space();
      } else if (!next_is(close)) {
        fail(std::string("expected ',' or '") + close + "' at byte " + std::to_string(pos_));
      }
    }
    ++pos_;
    if (close == ')' && literal.items.size() == 1 && !comma) return std::move(literal.items[0]);
    return literal;
  }

  const std::string& text_;
  size_t pos_ = 0;
};

c10::ScalarType dtype_from_descr(const std::string& where, const Literal& descr) {
  if (descr.kind == Literal::Kind::List) invalid(where, "unsupported .npy dtype (a structured array)");
  if (descr.kind != Literal::Kind::String) corrupt(where, "'descr' is not a string");
  const std::string& text = descr.text;
  // A byte order ('<' little, '>' big, '|' not applicable, '=' native), a
  // kind and a size in bytes: '<f4', '|b1'.
  const char order = text.empty() ? '?' : text[0];
  if (text.size() >= 2 && text[1] == 'O') unsupported(where, text, " (Python objects)");
  if (text.size() < 3 || text.size() > 4 || (order != '<' && order != '>' && order != '|' && order != '=')) {
    unsupported(where, text);
  }
  size_t size = 0;
  for (size_t i = 2; i < text.size(); ++i) {
    if (!std::isdigit(static_cast<unsigned char>(text[i]))) unsupported(where, text);
    size = size * 10 + static_cast<size_t>(text[i] - '0');
  }
  for (const auto& type : kTypes) {
    if (type.kind != text[1] || type.size != size) continue;
    if (size > 1 && order == '>') {
      unsupported(where, text, " (big-endian; save it little-endian, e.g. arr.astype('<" + text.substr(1) + "'))");
    }
    if (size > 1 && order == '|') unsupported(where, text);
    return type.type;
  }
  unsupported(where, text);
}

// The header's bytes, as read_npy_header found them, into an NpyHeader.
NpyHeader interpret(const std::string& where, const std::string& text) {
  std::vector<std::pair<std::string, Literal>> entries;
  try {
    entries = HeaderParser(text).dict();
  } catch (const SyntaxError& e) {
    corrupt(where, e.why);
  }
  const Literal *descr = nullptr, *fortran = nullptr, *shape = nullptr;
  for (const auto& [key, value] : entries) {
    const Literal** slot = key == "descr"           ? &descr
                           : key == "fortran_order" ? &fortran
                           : key == "shape"         ? &shape
                                                    : nullptr;
    if (!slot) corrupt(where, "unexpected key '" + key + "'");
    if (*slot) corrupt(where, "key '" + key + "' appears twice");
    *slot = &value;
  }
  if (!descr || !fortran || !shape) {
    corrupt(where, std::string("no '") + (!descr ? "descr" : !fortran ? "fortran_order" : "shape") + "'");
  }
  NpyHeader header;
  if (fortran->kind != Literal::Kind::Bool) corrupt(where, "'fortran_order' is not True or False");
  header.fortran_order = fortran->flag;
  if (shape->kind != Literal::Kind::Tuple) corrupt(where, "'shape' is not a tuple");
  if (shape->items.size() > kMaxDims) {
    corrupt(where,
            "'shape' has " + std::to_string(shape->items.size()) + " dims, more than " + std::to_string(kMaxDims));
  }
  for (const auto& dim : shape->items) {
    if (dim.kind != Literal::Kind::Int || dim.number < 0) corrupt(where, "'shape' is not a tuple of sizes");
    header.shape.push_back(dim.number);
  }
  header.dtype = dtype_from_descr(where, *descr);
  // Sizes in 64 bits with overflow checks: a hostile header must not turn
  // into a small (or huge) allocation by wrapping around. Zero-size dims are
  // left out so (0, 2**62, 2**62) is still refused.
  int64_t count = 1;
  bool empty = false;
  uint64_t bytes = 0;
  for (int64_t dim : header.shape) {
    if (dim == 0) empty = true;
    else if (__builtin_mul_overflow(count, dim, &count))
      corrupt(where, "shape " + shape_text(header.shape) + " is too large");
  }
  if (__builtin_mul_overflow(static_cast<uint64_t>(count), static_cast<uint64_t>(c10::elementSize(header.dtype)),
                             &bytes)) {
    corrupt(where, "shape " + shape_text(header.shape) + " is too large");
  }
  header.data_bytes = empty ? 0 : bytes;
  return header;
}

}  // namespace

bool has_npy_type(c10::ScalarType dtype) { return npy_type(dtype) != nullptr; }

// Reads until `size` bytes or the end; returns how many were read.
uint64_t read_fully(const ReadFn& read, void* buffer, uint64_t size) {
  uint64_t done = 0;
  while (done < size) {
    const size_t got =
        read(static_cast<char*>(buffer) + done, static_cast<size_t>(std::min<uint64_t>(size - done, kChunk)));
    if (got == 0) break;
    done += got;
  }
  return done;
}

std::string header_says(const NpyHeader& header) {
  return "header says " + shape_text(header.shape) + " " + dtype_name(header.dtype) + " (" +
         std::to_string(header.data_bytes) + " bytes)";
}

NpyHeader read_npy_header(const std::string& where, uint64_t total, const ReadFn& read) {
  unsigned char prefix[12] = {};
  const uint64_t got = read_fully(read, prefix, 8);
  if (got < kMagicSize || std::memcmp(prefix, kMagic, kMagicSize) != 0) {
    invalid(where, "not a .npy file (no \\x93NUMPY magic)");
  }
  if (got < 8) corrupt(where, "the file ends inside it");
  const int major = prefix[6], minor = prefix[7];
  if (major < 1 || major > 3 || minor != 0) {
    invalid(where, "unsupported .npy format version " + std::to_string(major) + "." + std::to_string(minor));
  }
  // Version 1.0 gives the header's length in 2 bytes; 2.0 and 3.0 in 4.
  const size_t length_size = major == 1 ? 2 : 4;
  if (read_fully(read, prefix + 8, length_size) < length_size) corrupt(where, "the file ends inside it");
  uint64_t length = 0;
  for (size_t i = 0; i < length_size; ++i) length |= static_cast<uint64_t>(prefix[8 + i]) << (8 * i);
  const uint64_t offset = 8 + length_size + length;
  if (length > kMaxHeaderBytes) corrupt(where, "it claims " + std::to_string(length) + " bytes");
  if (offset > total) corrupt(where, "the file ends inside it");
  std::string text(length, '\0');
  if (read_fully(read, text.data(), length) < length) corrupt(where, "the file ends inside it");

  NpyHeader header = interpret(where, text);
  header.data_offset = offset;
  const uint64_t held = total - offset;
  if (held < header.data_bytes)
    invalid(where, "truncated: " + header_says(header) + ", file holds " + std::to_string(held));
  if (held > header.data_bytes) {
    invalid(where, "more data than the header says: " + header_says(header) + ", file holds " + std::to_string(held));
  }
  return header;
}

std::string npy_header(c10::ScalarType dtype, c10::IntArrayRef shape) {
  const NpyType* type = npy_type(dtype);
  TORCH_INTERNAL_ASSERT(type, "npy_header: dtype without a .npy equivalent");
  std::string dims;
  for (size_t i = 0; i < shape.size(); ++i) dims += (i ? ", " : "") + std::to_string(shape[i]);
  if (shape.size() == 1) dims += ",";
  std::string dict = "{'descr': '" + npy_descr(*type) + "', 'fortran_order': False, 'shape': (" + dims + "), }";
  // Like np.save, room for dim 0 to grow to 21 digits, so the header can be
  // rewritten in place by tools that append rows.
  const size_t digits = shape.empty() ? 21 : std::to_string(shape[0]).size();
  if (digits < 21) dict.append(21 - digits, ' ');
  // Version 1.0 if the length fits 2 bytes; the whole prefix is padded with
  // spaces to a multiple of 64 bytes (always some padding, as numpy does).
  const size_t with_newline = dict.size() + 1;
  int major = 1;
  size_t length_size = 2;
  size_t padding = 64 - (8 + length_size + with_newline) % 64;
  if (with_newline + padding > 0xffff) {
    major = 2;
    length_size = 4;
    padding = 64 - (8 + length_size + with_newline) % 64;
  }
  const uint64_t length = with_newline + padding;
  std::string out(kMagic, kMagicSize);
  out += static_cast<char>(major);
  out += '\0';
  for (size_t i = 0; i < length_size; ++i) out += static_cast<char>((length >> (8 * i)) & 0xff);
  return out + dict + std::string(padding, ' ') + '\n';
}

}  // namespace tsbridge::detail
