// numpy's .npy format: reading (into memory or mapped), writing, and writing
// a stream of batches (the header's reader and writer are npy_header.cpp's).
#include "io/npy.h"

#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <optional>
#include <utility>

#include <ATen/ATen.h>
#include <c10/util/Exception.h>

#include "core/condense.h"
#include "core/text.h"
#include "io/atomic_file.h"
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

[[noreturn]] void invalid(const std::string& where, const std::string& what) {
  throw Error(ErrorCode::InvalidInputFile, where + ": " + what);
}

[[noreturn]] void refuse(const std::string& where, const std::string& why) {
  throw Error(ErrorCode::InvalidArgument, where + ": " + why);
}

std::string strerror_text(int error) { return std::strerror(error); }

// A file opened for reading, closed on scope exit.
class ReadOnlyFile {
 public:
  explicit ReadOnlyFile(const std::string& path) : path_(path) {
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
  ~ReadOnlyFile() { ::close(fd_); }
  ReadOnlyFile(const ReadOnlyFile&) = delete;
  ReadOnlyFile& operator=(const ReadOnlyFile&) = delete;

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

// A .npy being written, in place only once committed (AtomicFile).
class OutputFile : public AtomicFile {
 public:
  explicit OutputFile(const std::string& path)
      : AtomicFile(path, [path](const std::string& why) { invalid(path, "cannot be written (" + why + ")"); }) {}
};

void write_tensor_data(OutputFile& out, const at::Tensor& ready) {
  if (ready.numel() > 0) out.write(ready.const_data_ptr(), ready.nbytes());
}

}  // namespace

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
    const uint64_t got = read_fully(read, tensor.mutable_data_ptr(), header.data_bytes);
    if (got < header.data_bytes)
      invalid(where, "truncated: " + header_says(header) + ", file holds " + std::to_string(got));
  }
  // Reading past the end is what makes a zip member check its CRC.
  char extra;
  if (read(&extra, 1) != 0) invalid(where, "more data than the header says: " + header_says(header));
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
  ReadOnlyFile file(path);
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
  if (!has_npy_type(tensor.scalar_type())) {
    refuse(where,
           "dtype " + dtype_name(tensor.scalar_type()) + " has no .npy equivalent (convert it first, e.g. to float32)");
  }
  try {
    return tensor.detach().to(c10::kCPU).resolve_conj().resolve_neg().contiguous();
  } catch (const c10::Error& e) {
    refuse(where, "cannot be copied to the CPU (" + condense(e.what_without_backtrace()) + ")");
  }
}

}  // namespace tsbridge::detail

namespace tsbridge {

at::Tensor map_npy(const std::string& path) {
  detail::ReadOnlyFile file(path);
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
