// numpy's .npz: a zip archive of NAME.npy members, stored (np.savez) or
// deflated (np.savez_compressed). Built on libzip, which every build has
// (cmake/Libzip.cmake stops without it).
#include <memory>
#include <set>
#include <string>

#include <ATen/core/Tensor.h>

#include "io/tensor_file.h"
#include "tsbridge/error.h"
#include "tsbridge/tensor_io.h"

#include <sys/stat.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <ctime>
#include <fstream>

#include <zip.h>

#include "io/npy.h"
#include "io/npz.h"

namespace tsbridge {
namespace {

constexpr char kSuffix[] = ".npy";
constexpr size_t kSuffixSize = 4;
// Deflate cannot expand data more than ~1032:1; a member claiming more is
// corrupt or a zip bomb, and is refused before anything is allocated.
constexpr uint64_t kMaxDeflateRatio = 1032;

[[noreturn]] void invalid(const std::string& where, const std::string& what) {
  throw Error(ErrorCode::InvalidInputFile, where + ": " + what);
}

using Archive = std::unique_ptr<zip_t, decltype(&zip_discard)>;
using Member = std::unique_ptr<zip_file_t, decltype(&zip_fclose)>;

std::string zip_message(int code) {
  zip_error_t error;
  zip_error_init_with_code(&error, code);
  std::string text = zip_error_strerror(&error);
  zip_error_fini(&error);
  return text;
}

uint64_t file_size(const std::string& path) {
  struct stat status{};
  return ::stat(path.c_str(), &status) == 0 ? static_cast<uint64_t>(status.st_size) : 0;
}

at::Tensor read_member(zip_t* archive, zip_uint64_t index, const std::string& path, uint64_t archive_size,
                       std::string& name) {
  zip_stat_t stat;
  zip_stat_init(&stat);
  if (zip_stat_index(archive, index, 0, &stat) != 0 || !(stat.valid & ZIP_STAT_NAME)) {
    invalid(path, "corrupt .npz (member " + std::to_string(index) + ": " + zip_strerror(archive) + ")");
  }
  const std::string entry = stat.name;
  const std::string where = path + ": member '" + entry + "'";
  if (entry.size() <= kSuffixSize || entry.compare(entry.size() - kSuffixSize, kSuffixSize, kSuffix) != 0) {
    invalid(where, "is not a .npy array");
  }
  name = entry.substr(0, entry.size() - kSuffixSize);
  const uint64_t need = ZIP_STAT_SIZE | ZIP_STAT_COMP_SIZE | ZIP_STAT_COMP_METHOD;
  if ((stat.valid & need) != need) invalid(where, "has no size in the zip directory");
  // Sizes come from the zip directory, which a hostile file can fill with
  // anything: bound them by the archive's real size before trusting them.
  if (stat.comp_size > archive_size) invalid(where, "claims more bytes than the .npz holds (corrupt)");
  if (stat.comp_method == ZIP_CM_STORE) {
    if (stat.size != stat.comp_size) invalid(where, "has inconsistent sizes (corrupt)");
  } else if (stat.comp_method == ZIP_CM_DEFLATE) {
    if (stat.size / kMaxDeflateRatio > stat.comp_size + 1) {
      invalid(where, "claims " + std::to_string(stat.size) + " bytes from " + std::to_string(stat.comp_size) +
                         " compressed (corrupt)");
    }
  } else {
    invalid(where, "uses zip compression method " + std::to_string(stat.comp_method) +
                       " (numpy writes stored or deflated members)");
  }
  Member member(zip_fopen_index(archive, index, 0), &zip_fclose);
  if (!member) invalid(where, std::string("cannot be read (") + zip_strerror(archive) + ")");
  const detail::ReadFn read = [&](void* buffer, size_t size) -> size_t {
    const zip_int64_t got = zip_fread(member.get(), buffer, size);
    if (got < 0) invalid(where, std::string("cannot be read (") + zip_file_strerror(member.get()) + ")");
    return static_cast<size_t>(got);
  };
  const detail::NpyHeader header = detail::read_npy_header(where, stat.size, read);
  return detail::read_npy_data(where, header, read);
}

// A member being written: the .npy header, then the tensor's bytes straight
// from its memory (no copy of the array is made). libzip pulls the bytes
// through member_source when the archive is closed.
struct MemberSource {
  MemberSource() { zip_error_init(&error); }
  ~MemberSource() { zip_error_fini(&error); }
  MemberSource(const MemberSource&) = delete;
  MemberSource& operator=(const MemberSource&) = delete;

  std::string header;
  at::Tensor data;  // npy_ready: CPU, contiguous
  uint64_t size = 0;
  uint64_t position = 0;
  time_t mtime = 0;
  zip_error_t error;
};

zip_int64_t member_source(void* state, void* data, zip_uint64_t length, zip_source_cmd_t command) {
  auto& source = *static_cast<MemberSource*>(state);
  switch (command) {
    case ZIP_SOURCE_OPEN: source.position = 0; return 0;
    case ZIP_SOURCE_READ: {
      const uint64_t count = std::min<uint64_t>(length, source.size - source.position);
      auto* out = static_cast<char*>(data);
      for (uint64_t done = 0; done < count;) {
        const uint64_t at = source.position + done;
        const uint64_t piece =
            at < source.header.size() ? std::min<uint64_t>(count - done, source.header.size() - at) : count - done;
        const char* from = at < source.header.size()
                               ? source.header.data() + at
                               : static_cast<const char*>(source.data.const_data_ptr()) + (at - source.header.size());
        std::memcpy(out + done, from, piece);
        done += piece;
      }
      source.position += count;
      return static_cast<zip_int64_t>(count);
    }
    case ZIP_SOURCE_CLOSE:
    case ZIP_SOURCE_FREE: return 0;
    case ZIP_SOURCE_STAT: {
      auto* stat = ZIP_SOURCE_GET_ARGS(zip_stat_t, data, length, &source.error);
      if (!stat) return -1;
      zip_stat_init(stat);
      stat->size = source.size;
      stat->mtime = source.mtime;
      stat->valid |= ZIP_STAT_SIZE | ZIP_STAT_MTIME;
      return sizeof(zip_stat_t);
    }
    case ZIP_SOURCE_SEEK: {
      const zip_int64_t position =
          zip_source_seek_compute_offset(source.position, source.size, data, length, &source.error);
      if (position < 0) return -1;
      source.position = static_cast<uint64_t>(position);
      return 0;
    }
    case ZIP_SOURCE_TELL: return static_cast<zip_int64_t>(source.position);
    case ZIP_SOURCE_ERROR: return zip_error_to_data(&source.error, data, length);
    case ZIP_SOURCE_SUPPORTS:
      return zip_source_make_command_bitmap(ZIP_SOURCE_OPEN, ZIP_SOURCE_READ, ZIP_SOURCE_CLOSE, ZIP_SOURCE_STAT,
                                            ZIP_SOURCE_ERROR, ZIP_SOURCE_FREE, ZIP_SOURCE_SEEK, ZIP_SOURCE_TELL,
                                            ZIP_SOURCE_SUPPORTS, -1);
    default: zip_error_set(&source.error, ZIP_ER_OPNOTSUPP, 0); return -1;
  }
}

// An archive with no members, as np.savez writes for no arrays: just the
// end-of-central-directory record (libzip writes no file at all).
void write_empty_zip(const std::string& path) {
  static const char kEmpty[22] = {'P', 'K', 5, 6};
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  out.write(kEmpty, sizeof kEmpty);
  out.close();
  if (!out) invalid(path, std::string("cannot be written (") + std::strerror(errno) + ")");
}

}  // namespace

NamedTensors read_npz(const std::string& path) {
  detail::require_tensor_file(path);
  int code = 0;
  Archive archive(zip_open(path.c_str(), ZIP_RDONLY | ZIP_CHECKCONS, &code), &zip_discard);
  if (!archive) {
    if (code == ZIP_ER_NOZIP) invalid(path, "not an .npz file (not a zip archive)");
    invalid(path, "corrupt .npz (" + zip_message(code) + ")");
  }
  const zip_int64_t count = zip_get_num_entries(archive.get(), 0);
  const uint64_t size = file_size(path);
  NamedTensors arrays;
  for (zip_int64_t i = 0; i < count; ++i) {
    std::string name;
    at::Tensor tensor = read_member(archive.get(), static_cast<zip_uint64_t>(i), path, size, name);
    arrays.emplace_back(std::move(name), std::move(tensor));
  }
  return arrays;
}

void write_npz(const std::string& path, const NamedTensors& arrays) {
  std::set<std::string> names;
  std::vector<std::unique_ptr<MemberSource>> sources;
  const time_t now = std::time(nullptr);
  for (const auto& [name, tensor] : arrays) {
    if (name.empty()) throw Error(ErrorCode::InvalidArgument, path + ": an array name is empty");
    if (!names.insert(name).second)
      throw Error(ErrorCode::InvalidArgument, path + ": array name '" + name + "' appears twice");
    auto source = std::make_unique<MemberSource>();
    source->data = detail::npy_ready(path + ": array '" + name + "'", tensor);
    source->header = detail::npy_header(source->data.scalar_type(), source->data.sizes());
    source->size = source->header.size() + source->data.nbytes();
    source->mtime = now;
    sources.push_back(std::move(source));
  }
  if (arrays.empty()) return write_empty_zip(path);

  int code = 0;
  Archive archive(zip_open(path.c_str(), ZIP_CREATE | ZIP_TRUNCATE, &code), &zip_discard);
  if (!archive) invalid(path, "cannot be written (" + zip_message(code) + ")");
  const auto failed = [&](const std::string& what) { invalid(path, what + " (" + zip_strerror(archive.get()) + ")"); };
  for (size_t i = 0; i < arrays.size(); ++i) {
    zip_source_t* source = zip_source_function(archive.get(), &member_source, sources[i].get());
    if (!source) failed("cannot be written");
    const zip_int64_t index =
        zip_file_add(archive.get(), (arrays[i].first + kSuffix).c_str(), source, ZIP_FL_ENC_UTF_8);
    if (index < 0) {
      zip_source_free(source);
      failed("cannot add array '" + arrays[i].first + "'");
    }
    // Stored, as np.savez does: arrays rarely compress well, and a stored
    // member reads at disk speed.
    if (zip_set_file_compression(archive.get(), static_cast<zip_uint64_t>(index), ZIP_CM_STORE, 0) != 0) {
      failed("cannot be written");
    }
  }
  // libzip writes a temporary file and renames it over `path` here.
  if (zip_close(archive.get()) != 0) failed("cannot be written");
  archive.release();  // zip_close freed it
}

namespace detail {

std::string zip_library() { return std::string("libzip ") + zip_libzip_version(); }

}  // namespace detail

}  // namespace tsbridge
