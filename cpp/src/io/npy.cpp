// numpy's .npy format: reading (into memory or mapped), writing, and writing
// a stream of batches. The layout is numpy/lib/format.py's: the magic
// "\x93NUMPY", a version, the header's length, a header that is a Python dict
// literal {'descr': '<f4', 'fortran_order': False, 'shape': (2, 3), }, then
// the raw data.
#include "io/npy.h"

#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <cstring>
#include <filesystem>
#include <optional>
#include <utility>

#include <ATen/ATen.h>
#include <c10/util/Exception.h>

#include "core/condense.h"
#include "core/text.h"
#include "io/tensor_file.h"
#include "tsbridge/dtype.h"
#include "tsbridge/error.h"
#include "tsbridge/tensor_io.h"

// .npy data is little-endian ('<'); it is read and written without swapping.
#if !defined(__BYTE_ORDER__) || __BYTE_ORDER__ != __ORDER_LITTLE_ENDIAN__
#error "tsbridge's .npy support assumes a little-endian host"
#endif

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

[[noreturn]] void refuse(const std::string& where, const std::string& why) {
  throw Error(ErrorCode::InvalidArgument, where + ": " + why);
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

// Reads until `size` bytes or the end; returns how many were read.
uint64_t read_exact(const ReadFn& read, void* buffer, uint64_t size) {
  uint64_t done = 0;
  while (done < size) {
    const size_t got =
        read(static_cast<char*>(buffer) + done, static_cast<size_t>(std::min<uint64_t>(size - done, kChunk)));
    if (got == 0) break;
    done += got;
  }
  return done;
}

std::string says(const NpyHeader& header) {
  return "header says " + shape_text(header.shape) + " " + dtype_name(header.dtype) + " (" +
         std::to_string(header.data_bytes) + " bytes)";
}

std::string strerror_text(int error) { return std::strerror(error); }

// A file opened for reading, closed on scope exit.
class InputFile {
 public:
  explicit InputFile(const std::string& path) : path_(path) {
    require_tensor_file(path);
    fd_ = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
    if (fd_ < 0) invalid(path, "cannot be opened (" + strerror_text(errno) + ")");
    struct stat status{};
    if (::fstat(fd_, &status) != 0) {
      const int error = errno;
      ::close(fd_);
      invalid(path, "cannot be read (" + strerror_text(error) + ")");
    }
    size_ = static_cast<uint64_t>(status.st_size);
  }
  ~InputFile() { ::close(fd_); }
  InputFile(const InputFile&) = delete;
  InputFile& operator=(const InputFile&) = delete;

  int fd() const { return fd_; }
  uint64_t size() const { return size_; }

  size_t read(void* buffer, size_t size) {
    while (true) {
      const ssize_t got = ::read(fd_, buffer, size);
      if (got >= 0) return static_cast<size_t>(got);
      if (errno != EINTR) invalid(path_, "cannot be read (" + strerror_text(errno) + ")");
    }
  }

 private:
  std::string path_;
  int fd_ = -1;
  uint64_t size_ = 0;
};

// A file being written: a temporary file next to it, renamed over `path`
// by commit() and removed otherwise. So a failed or abandoned write never
// leaves a file that looks complete, and an old file at `path` is replaced,
// not truncated: a tensor that map_npy made of it keeps its pages (touching
// a truncated mapping would kill the process with SIGBUS).
class OutputFile {
 public:
  explicit OutputFile(const std::string& path) : path_(path), target_(path) {
    std::error_code ec;
    if (std::filesystem::is_symlink(path, ec)) {
      const auto resolved = std::filesystem::weakly_canonical(path, ec);
      if (!ec) target_ = resolved.string();
    }
    static std::atomic<uint64_t> serial{0};
    for (int attempt = 0; fd_ < 0; ++attempt) {
      temporary_ = target_ + ".tmp-" + std::to_string(::getpid()) + "-" + std::to_string(serial++);
      fd_ = ::open(temporary_.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0666);
      if (fd_ < 0 && (errno != EEXIST || attempt > 100)) {
        invalid(path, "cannot be written (" + strerror_text(errno) + ")");
      }
    }
  }
  ~OutputFile() {
    if (fd_ >= 0) {
      ::close(fd_);
      ::unlink(temporary_.c_str());
    }
  }
  OutputFile(const OutputFile&) = delete;
  OutputFile& operator=(const OutputFile&) = delete;

  void write(const void* data, size_t size) {
    const char* bytes = static_cast<const char*>(data);
    while (size > 0) {
      const ssize_t done = ::write(fd_, bytes, std::min(size, kChunk));
      if (done < 0 && errno == EINTR) continue;
      if (done <= 0) invalid(path_, "cannot be written (" + strerror_text(done < 0 ? errno : EIO) + ")");
      bytes += done;
      size -= static_cast<size_t>(done);
    }
  }
  void write(const std::string& text) { write(text.data(), text.size()); }

  void commit() {
    const int fd = std::exchange(fd_, -1);
    if (::close(fd) != 0 || ::rename(temporary_.c_str(), target_.c_str()) != 0) {
      const int error = errno;
      ::unlink(temporary_.c_str());
      invalid(path_, "cannot be written (" + strerror_text(error) + ")");
    }
  }

 private:
  std::string path_;       // as the caller named it, for messages
  std::string target_;     // where the file lands (a symlink's target)
  std::string temporary_;  // where it is written until commit()
  int fd_ = -1;
};

void write_tensor_data(OutputFile& out, const at::Tensor& ready) {
  if (ready.numel() > 0) out.write(ready.const_data_ptr(), ready.nbytes());
}

}  // namespace

NpyHeader read_npy_header(const std::string& where, uint64_t total, const ReadFn& read) {
  unsigned char prefix[12] = {};
  const uint64_t got = read_exact(read, prefix, 8);
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
  if (read_exact(read, prefix + 8, length_size) < length_size) corrupt(where, "the file ends inside it");
  uint64_t length = 0;
  for (size_t i = 0; i < length_size; ++i) length |= static_cast<uint64_t>(prefix[8 + i]) << (8 * i);
  const uint64_t offset = 8 + length_size + length;
  if (length > kMaxHeaderBytes) corrupt(where, "it claims " + std::to_string(length) + " bytes");
  if (offset > total) corrupt(where, "the file ends inside it");
  std::string text(length, '\0');
  if (read_exact(read, text.data(), length) < length) corrupt(where, "the file ends inside it");

  NpyHeader header = interpret(where, text);
  header.data_offset = offset;
  const uint64_t held = total - offset;
  if (held < header.data_bytes) invalid(where, "truncated: " + says(header) + ", file holds " + std::to_string(held));
  if (held > header.data_bytes) {
    invalid(where, "more data than the header says: " + says(header) + ", file holds " + std::to_string(held));
  }
  return header;
}

at::Tensor read_npy_data(const std::string& where, const NpyHeader& header, const ReadFn& read) {
  // A fortran-order array is its transpose in C order: read that, then
  // transpose it back.
  std::vector<int64_t> sizes = header.shape;
  if (header.fortran_order) std::reverse(sizes.begin(), sizes.end());
  at::Tensor tensor;
  try {
    tensor = at::empty(sizes, at::TensorOptions().dtype(header.dtype));
  } catch (const c10::Error& e) {
    invalid(where, "cannot allocate " + std::to_string(header.data_bytes) + " bytes (" +
                       condense(e.what_without_backtrace()) + ")");
  }
  if (header.data_bytes > 0) {
    const uint64_t got = read_exact(read, tensor.mutable_data_ptr(), header.data_bytes);
    if (got < header.data_bytes) invalid(where, "truncated: " + says(header) + ", file holds " + std::to_string(got));
  }
  // Reading past the end is what makes a zip member check its CRC.
  char extra;
  if (read(&extra, 1) != 0) invalid(where, "more data than the header says: " + says(header));
  if (header.fortran_order) {
    std::vector<int64_t> order(sizes.size());
    for (size_t i = 0; i < order.size(); ++i) order[i] = static_cast<int64_t>(order.size() - 1 - i);
    tensor = tensor.permute(order).contiguous();
  }
  // numpy's bools are the bytes 0 and 1; any other byte is not a bool torch can use.
  if (header.dtype == c10::kBool && tensor.numel() > 0 && tensor.view(c10::kByte).gt(1).any().item<bool>()) {
    invalid(where, "corrupt bool data (bytes other than 0 and 1)");
  }
  return tensor;
}

at::Tensor read_npy(const std::string& path) {
  InputFile file(path);
  const ReadFn read = [&](void* buffer, size_t size) { return file.read(buffer, size); };
  const NpyHeader header = read_npy_header(path, file.size(), read);
  return read_npy_data(path, header, read);
}

at::Tensor npy_ready(const std::string& where, const at::Tensor& tensor) {
  if (!tensor.defined()) refuse(where, "the tensor is undefined");
  if (tensor.layout() != c10::kStrided)
    refuse(where, "a sparse tensor cannot be stored as .npy (convert it with .to_dense())");
  if (tensor.is_quantized())
    refuse(where, "a quantized tensor cannot be stored as .npy (convert it with .dequantize())");
  if (!npy_type(tensor.scalar_type())) {
    refuse(where,
           "dtype " + dtype_name(tensor.scalar_type()) + " has no .npy equivalent (convert it first, e.g. to float32)");
  }
  try {
    return tensor.detach().to(c10::kCPU).resolve_conj().resolve_neg().contiguous();
  } catch (const c10::Error& e) {
    refuse(where, "cannot be copied to the CPU (" + condense(e.what_without_backtrace()) + ")");
  }
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

namespace tsbridge {

at::Tensor map_npy(const std::string& path) {
  detail::InputFile file(path);
  const detail::ReadFn read = [&](void* buffer, size_t size) { return file.read(buffer, size); };
  const detail::NpyHeader header = detail::read_npy_header(path, file.size(), read);
  if (header.data_offset % c10::elementSize(header.dtype) != 0) {
    detail::invalid(path, "its data is not aligned to its dtype, so it cannot be mapped (read it instead)");
  }
  // A private, writable mapping: pages are read from the file when touched,
  // and a write into the tensor copies the page it lands on instead of
  // changing the file (a PROT_READ mapping would crash the process on the
  // first in-place op).
  const size_t length = static_cast<size_t>(file.size());
  void* base = ::mmap(nullptr, length, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_NORESERVE, file.fd(), 0);
  if (base == MAP_FAILED) detail::invalid(path, "cannot be mapped (" + detail::strerror_text(errno) + ")");
  std::vector<int64_t> strides(header.shape.size());
  int64_t stride = 1;
  for (size_t k = 0; k < header.shape.size(); ++k) {
    const size_t i = header.fortran_order ? k : header.shape.size() - 1 - k;
    strides[i] = stride;
    stride *= std::max<int64_t>(header.shape[i], 1);
  }
  try {
    return at::from_blob(
        static_cast<char*>(base) + header.data_offset, header.shape, strides,
        [base, length](void*) { ::munmap(base, length); }, at::TensorOptions().dtype(header.dtype));
  } catch (const c10::Error& e) {
    ::munmap(base, length);
    detail::invalid(path, "cannot be mapped (" + detail::condense(e.what_without_backtrace()) + ")");
  }
}

void write_npy(const std::string& path, const at::Tensor& tensor) {
  const at::Tensor ready = detail::npy_ready(path, tensor);
  detail::OutputFile out(path);
  out.write(detail::npy_header(ready.scalar_type(), ready.sizes()));
  detail::write_tensor_data(out, ready);
  out.commit();
}

// ── NpyStreamWriter ──

struct NpyStreamWriter::Impl {
  std::string path;
  int64_t rows = 0;
  int64_t written = 0;
  std::optional<detail::OutputFile> out;  // empty once finished or abandoned
  bool started = false;
  bool finished = false;
  c10::ScalarType dtype = c10::ScalarType::Undefined;
  std::vector<int64_t> row_shape;  // the dims after the first

  [[noreturn]] void refuse(const std::string& why) const { throw Error(ErrorCode::InvalidArgument, path + ": " + why); }
};

NpyStreamWriter::NpyStreamWriter(const std::string& path, int64_t rows) : impl_(std::make_unique<Impl>()) {
  impl_->path = path;
  impl_->rows = rows;
  if (rows < 0) impl_->refuse("rows must be at least 0, got " + std::to_string(rows));
  impl_->out.emplace(path);
}

// Without finish(), the file would claim rows it does not hold: the
// OutputFile never puts it in place.
NpyStreamWriter::~NpyStreamWriter() = default;

void NpyStreamWriter::append(const at::Tensor& batch) {
  Impl& s = *impl_;
  if (s.finished) s.refuse("append() after finish()");
  if (!s.out) s.refuse("the stream was abandoned after an error");
  if (batch.defined() && batch.dim() == 0) s.refuse("a batch needs a first (row) dim; got a 0-d tensor");
  const at::Tensor ready = detail::npy_ready(s.path, batch);
  const std::vector<int64_t> row_shape(ready.sizes().begin() + 1, ready.sizes().end());
  if (s.started && ready.scalar_type() != s.dtype) {
    s.refuse("batch dtype " + dtype_name(ready.scalar_type()) + " differs from the first batch's " +
             dtype_name(s.dtype));
  }
  if (s.started && row_shape != s.row_shape) {
    s.refuse("batch rows of shape " + detail::shape_text(row_shape) + " differ from the first batch's " +
             detail::shape_text(s.row_shape));
  }
  const int64_t count = ready.size(0);
  if (count > s.rows - s.written) {
    s.refuse("a batch of " + std::to_string(count) + " rows would make " + std::to_string(s.written + count) +
             ", more than the " + std::to_string(s.rows) + " declared");
  }
  try {
    if (!s.started) {
      std::vector<int64_t> shape{s.rows};
      shape.insert(shape.end(), row_shape.begin(), row_shape.end());
      s.out->write(detail::npy_header(ready.scalar_type(), shape));
      s.started = true;
      s.dtype = ready.scalar_type();
      s.row_shape = row_shape;
    }
    detail::write_tensor_data(*s.out, ready);
  } catch (...) {
    s.out.reset();  // a half-written batch: the file is no good
    throw;
  }
  s.written += count;
}

void NpyStreamWriter::finish() {
  Impl& s = *impl_;
  if (s.finished) return;
  if (!s.out) s.refuse("the stream was abandoned after an error");
  if (!s.started) {
    s.out.reset();
    s.refuse("nothing was appended, so the array's dtype and shape are unknown");
  }
  if (s.written != s.rows) {
    s.out.reset();
    s.refuse(std::to_string(s.written) + " rows written, " + std::to_string(s.rows) + " declared");
  }
  try {
    s.out->commit();
  } catch (...) {
    s.out.reset();
    throw;
  }
  s.out.reset();
  s.finished = true;
}

}  // namespace tsbridge
