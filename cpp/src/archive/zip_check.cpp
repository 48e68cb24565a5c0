#include "archive/zip_check.h"

#include <algorithm>
#include <limits>
#include <unordered_set>

#include <caffe2/serialize/read_adapter_interface.h>

#include "tsbridge/error.h"

namespace tsbridge::detail {
namespace {

constexpr uint32_t kLocalSignature = 0x04034b50;
constexpr uint32_t kCentralSignature = 0x02014b50;
constexpr uint32_t kEndSignature = 0x06054b50;
constexpr uint32_t kZip64EndSignature = 0x06064b50;
constexpr uint32_t kZip64LocatorSignature = 0x07064b50;
constexpr uint64_t kEndSize = 22, kZip64EndSize = 56, kZip64LocatorSize = 20;
constexpr uint64_t kCentralSize = 46, kLocalSize = 30;
constexpr uint64_t kMaxComment = 0xFFFF;
// Far above any real central directory (a 10,000-tensor model has ~1 MiB),
// far below what a forged size could make a reader allocate.
constexpr uint64_t kMaxCentralDirectory = uint64_t{256} << 20;
// Deflate cannot expand data more than ~1032:1; a larger declared
// uncompressed size is a lie that would make a reader allocate it.
constexpr uint64_t kMaxDeflateRatio = 1032;

uint16_t u16(const char* p) {
  const auto* b = reinterpret_cast<const unsigned char*>(p);
  return static_cast<uint16_t>(b[0] | (b[1] << 8));
}
uint32_t u32(const char* p) {
  const auto* b = reinterpret_cast<const unsigned char*>(p);
  return uint32_t{b[0]} | (uint32_t{b[1]} << 8) | (uint32_t{b[2]} << 16) | (uint32_t{b[3]} << 24);
}
uint64_t u64(const char* p) { return uint64_t{u32(p)} | (uint64_t{u32(p + 4)} << 32); }

// a + b <= limit, without overflow.
bool fits(uint64_t a, uint64_t b, uint64_t limit) { return a <= limit && b <= limit - a; }

std::string printable(const std::string& name) {
  std::string out;
  for (unsigned char c : name.substr(0, 200)) {
    if (c >= 0x20 && c < 0x7f) {
      out += static_cast<char>(c);
    } else {
      static const char* hex = "0123456789abcdef";
      out += "\\x";
      out += hex[c >> 4];
      out += hex[c & 15];
    }
  }
  return name.size() > 200 ? out + "..." : out;
}

class Checker {
 public:
  Checker(const std::string& path, const caffe2::serialize::ReadAdapterInterface& file)
      : path_(path), file_(file), size_(file.size()) {}

  std::vector<ZipEntry> run() {
    find_end();
    read_central_directory();
    check_local_headers();
    return std::move(entries_);
  }

 private:
  [[noreturn]] void not_zip(const std::string& what) const {
    throw Error(ErrorCode::InvalidArchive, path_ + ": not a TorchScript archive (not a zip file: " + what + ")");
  }
  [[noreturn]] void corrupt(const std::string& what) const {
    throw Error(ErrorCode::InvalidArchive, path_ + ": not a TorchScript archive (corrupt zip: " + what + ")");
  }

  std::string read(uint64_t offset, uint64_t count) {
    if (!fits(offset, count, size_))
      corrupt("a header at offset " + std::to_string(offset) + " runs past the end of the file");
    std::string bytes(count, '\0');
    size_t got = 0;
    try {
      got = file_.read(offset, bytes.data(), count, "zip check");
    } catch (const std::exception&) {
    }
    if (got != count) corrupt("cannot read " + std::to_string(count) + " bytes at offset " + std::to_string(offset));
    return bytes;
  }

  void find_end() {
    if (size_ < kEndSize) not_zip("only " + std::to_string(size_) + " bytes");
    const uint64_t tail_size = std::min<uint64_t>(size_, kEndSize + kMaxComment);
    const uint64_t tail_start = size_ - tail_size;
    const std::string tail = read(tail_start, tail_size);
    // The record ends the file: its comment runs exactly to the last byte.
    uint64_t found = std::numeric_limits<uint64_t>::max();
    for (uint64_t i = tail_size - kEndSize + 1; i-- > 0;) {
      if (u32(&tail[i]) == kEndSignature && u16(&tail[i + 20]) == tail_size - i - kEndSize) {
        found = i;
        break;
      }
    }
    if (found == std::numeric_limits<uint64_t>::max()) not_zip("no end-of-central-directory record at its end");
    const char* end = &tail[found];
    end_offset_ = tail_start + found;
    uint64_t disk = u16(end + 4), cd_disk = u16(end + 6);
    uint64_t disk_entries = u16(end + 8), entries = u16(end + 10);
    uint64_t cd_size = u32(end + 12), cd_offset = u32(end + 16);
    directory_limit_ = end_offset_;

    const bool has_locator = end_offset_ >= kZip64LocatorSize &&
                             u32(read(end_offset_ - kZip64LocatorSize, 4).data()) == kZip64LocatorSignature;
    const bool needs_zip64 =
        disk_entries == 0xFFFF || entries == 0xFFFF || cd_size == 0xFFFFFFFF || cd_offset == 0xFFFFFFFF;
    if (needs_zip64 && !has_locator) corrupt("the end record defers to a zip64 record that is not there");
    if (has_locator) {
      const std::string locator = read(end_offset_ - kZip64LocatorSize, kZip64LocatorSize);
      const uint64_t record_offset = u64(&locator[8]);
      if (u32(&locator[4]) != 0 || u32(&locator[16]) > 1) corrupt("a multi-disk zip64 archive");
      if (!fits(record_offset, kZip64EndSize, end_offset_ - kZip64LocatorSize)) {
        corrupt("the zip64 end record's offset " + std::to_string(record_offset) + " is outside the file");
      }
      const std::string record = read(record_offset, kZip64EndSize);
      if (u32(record.data()) != kZip64EndSignature) corrupt("no zip64 end record where its locator points");
      directory_limit_ = record_offset;
      disk = u32(&record[16]);
      cd_disk = u32(&record[20]);
      if (disk_entries == 0xFFFF) disk_entries = u64(&record[24]);
      if (entries == 0xFFFF) entries = u64(&record[32]);
      if (cd_size == 0xFFFFFFFF) cd_size = u64(&record[40]);
      if (cd_offset == 0xFFFFFFFF) cd_offset = u64(&record[48]);
    }
    if ((disk != 0 && disk != 0xFFFF) || (cd_disk != 0 && cd_disk != 0xFFFF)) corrupt("a multi-disk archive");
    if (disk_entries != entries)
      corrupt("the end record counts " + std::to_string(disk_entries) + " and " + std::to_string(entries) + " entries");
    if (entries == 0) corrupt("no entries");
    if (!fits(cd_offset, cd_size, directory_limit_)) {
      corrupt("the central directory (" + std::to_string(cd_size) + " bytes at offset " + std::to_string(cd_offset) +
              ") does not fit before the end record at " + std::to_string(directory_limit_));
    }
    if (cd_size > kMaxCentralDirectory) corrupt("a central directory of " + std::to_string(cd_size) + " bytes");
    if (entries > cd_size / kCentralSize) {
      corrupt("the end record counts " + std::to_string(entries) + " entries, more than a " + std::to_string(cd_size) +
              "-byte central directory holds");
    }
    entry_count_ = entries;
    cd_size_ = cd_size;
    cd_offset_ = cd_offset;
  }

  void read_central_directory() {
    const std::string cd = read(cd_offset_, cd_size_);
    std::unordered_set<std::string> names;
    uint64_t pos = 0;
    for (uint64_t i = 0; i < entry_count_; ++i) {
      const std::string where = "central directory entry " + std::to_string(i);
      if (!fits(pos, kCentralSize, cd_size_)) corrupt(where + " runs past the central directory");
      const char* p = &cd[pos];
      if (u32(p) != kCentralSignature) corrupt(where + " has no central directory signature");
      const uint16_t flags = u16(p + 8);
      ZipEntry entry;
      entry.method = u16(p + 10);
      entry.compressed = u32(p + 20);
      entry.uncompressed = u32(p + 24);
      const uint64_t name_size = u16(p + 28), extra_size = u16(p + 30), comment_size = u16(p + 32);
      uint64_t disk = u16(p + 34);
      entry.header_offset = u32(p + 42);
      if (!fits(pos + kCentralSize, name_size + extra_size + comment_size, cd_size_)) {
        corrupt(where + "'s name and fields run past the central directory");
      }
      entry.name = cd.substr(pos + kCentralSize, name_size);
      read_zip64_extra(cd.substr(pos + kCentralSize + name_size, extra_size), entry, disk);
      pos += kCentralSize + name_size + extra_size + comment_size;

      const std::string name = "entry '" + printable(entry.name) + "'";
      if (entry.name.empty()) corrupt(where + " has an empty name");
      if (entry.name.find('\0') != std::string::npos) corrupt(name + " has a NUL byte in its name");
      const auto slash = entry.name.find('/');
      if (slash == 0 || slash == std::string::npos) corrupt(name + " is not inside an archive folder");
      if (folder_.empty()) folder_ = entry.name.substr(0, slash + 1);
      if (entry.name.compare(0, folder_.size(), folder_) != 0) {
        corrupt(name + " is outside the archive folder '" + printable(folder_) + "'");
      }
      if (!names.insert(entry.name).second) corrupt(name + " appears twice");
      if (disk != 0) corrupt(name + " is on another disk");
      if (flags & 0x41) corrupt(name + " is encrypted");
      if (entry.method == 0) {
        if (entry.compressed != entry.uncompressed) {
          corrupt(name + " is stored with " + std::to_string(entry.compressed) + " bytes but declares " +
                  std::to_string(entry.uncompressed));
        }
      } else if (entry.method == 8) {
        if (entry.uncompressed / kMaxDeflateRatio > entry.compressed) {
          corrupt(name + " declares " + std::to_string(entry.uncompressed) + " bytes inflated from " +
                  std::to_string(entry.compressed) + ", beyond what deflate can produce");
        }
      } else {
        corrupt(name + " uses compression method " + std::to_string(entry.method) +
                " (only stored and deflated entries are read)");
      }
      if (!fits(entry.header_offset, kLocalSize, cd_offset_)) {
        corrupt(name + "'s local header offset " + std::to_string(entry.header_offset) +
                " is past the entries' area (" + std::to_string(cd_offset_) + " bytes)");
      }
      entries_.push_back(std::move(entry));
    }
  }

  // Sizes and the offset saturated at 0xFFFFFFFF live, in that order, in the
  // zip64 extra field (id 1).
  void read_zip64_extra(const std::string& extra, ZipEntry& entry, uint64_t& disk) {
    const bool wants_uncompressed = entry.uncompressed == 0xFFFFFFFF, wants_compressed = entry.compressed == 0xFFFFFFFF,
               wants_offset = entry.header_offset == 0xFFFFFFFF, wants_disk = disk == 0xFFFF;
    if (!(wants_uncompressed || wants_compressed || wants_offset || wants_disk)) return;
    for (uint64_t p = 0; p + 4 <= extra.size();) {
      const uint16_t id = u16(&extra[p]);
      const uint64_t size = u16(&extra[p + 2]);
      if (p + 4 + size > extra.size()) break;
      if (id == 1) {
        uint64_t q = p + 4;
        const uint64_t end = p + 4 + size;
        auto take = [&](bool wanted, uint64_t& value, uint64_t width) {
          if (!wanted) return;
          if (q + width > end) corrupt("entry '" + printable(entry.name) + "' has a short zip64 extra field");
          value = width == 8 ? u64(&extra[q]) : u32(&extra[q]);
          q += width;
        };
        take(wants_uncompressed, entry.uncompressed, 8);
        take(wants_compressed, entry.compressed, 8);
        take(wants_offset, entry.header_offset, 8);
        take(wants_disk, disk, 4);
        return;
      }
      p += 4 + size;
    }
    corrupt("entry '" + printable(entry.name) + "' declares zip64 sizes but has no zip64 extra field");
  }

  void check_local_headers() {
    for (auto& entry : entries_) {
      const std::string name = "entry '" + printable(entry.name) + "'";
      const std::string header = read(entry.header_offset, kLocalSize);
      if (u32(header.data()) != kLocalSignature) {
        corrupt(name + " has no local header at offset " + std::to_string(entry.header_offset));
      }
      const uint64_t name_size = u16(&header[26]), extra_size = u16(&header[28]);
      const uint64_t fields_end = entry.header_offset + kLocalSize + name_size + extra_size;  // < 2^33: no overflow
      if (fields_end > cd_offset_) corrupt(name + "'s local header runs into the central directory");
      if (read(entry.header_offset + kLocalSize, name_size) != entry.name) {
        corrupt(name + " has a different name in its local header");
      }
      entry.data_offset = fields_end;
      if (!fits(entry.data_offset, entry.compressed, cd_offset_)) {
        corrupt(name + " declares " + std::to_string(entry.compressed) + " bytes at offset " +
                std::to_string(entry.data_offset) + ", past the entries' area (" + std::to_string(cd_offset_) +
                " bytes)");
      }
    }
    std::vector<const ZipEntry*> order;
    for (const auto& entry : entries_) order.push_back(&entry);
    std::sort(order.begin(), order.end(),
              [](const ZipEntry* a, const ZipEntry* b) { return a->header_offset < b->header_offset; });
    for (size_t i = 1; i < order.size(); ++i) {
      if (order[i - 1]->data_offset + order[i - 1]->compressed > order[i]->header_offset) {
        corrupt("entries '" + printable(order[i - 1]->name) + "' and '" + printable(order[i]->name) + "' overlap");
      }
    }
  }

  std::string path_;
  const caffe2::serialize::ReadAdapterInterface& file_;
  uint64_t size_ = 0;
  uint64_t end_offset_ = 0, directory_limit_ = 0;
  uint64_t entry_count_ = 0, cd_size_ = 0, cd_offset_ = 0;
  std::string folder_;
  std::vector<ZipEntry> entries_;
};

}  // namespace

std::vector<ZipEntry> check_zip_structure(const std::string& path,
                                          const caffe2::serialize::ReadAdapterInterface& file) {
  return Checker(path, file).run();
}

}  // namespace tsbridge::detail
