#pragma once

#include <cstdint>
#include <string>
#include <vector>

namespace caffe2::serialize {
class PyTorchStreamReader;
}

namespace tsbridge::detail {

// One tensor storage a pickle declares with a persistent id
// ('storage', torch.<Type>Storage, key, location, numel).
struct StorageDeclaration {
  std::string key;   // the record is "<archive>/<key>"
  std::string type;  // e.g. "Float"
  int64_t numel = 0;
  int64_t bytes = 0;  // numel * element size
};

// Walks a pickle's opcodes (every protocol 0-5 opcode, with its argument
// lengths checked) and returns the storages it declares. Throws
// std::runtime_error naming the problem when the pickle is malformed (an
// unknown opcode, an argument past the end, a stack underflow, no STOP) or a
// persistent id is not a storage tuple this check can read.
std::vector<StorageDeclaration> scan_storages(const std::string& pickle);

// LibTorch sizes a storage from the numel its pickle declares, not from the
// bytes of the record holding it: a truncated "data/N" record, or a numel
// larger than the record, made forward() read past the buffer (SEGV, found
// by tests/fuzz). Checks that every storage declared by "<archive>.pkl"
// names a record holding at least numel * element-size bytes. Nothing to do
// when the pickle is absent. Throws std::runtime_error naming the pickle,
// the storage and both sizes.
void check_storages(caffe2::serialize::PyTorchStreamReader& reader, const std::string& archive);

class Archive;

// Model::load's check of a TorchScript archive (data.pkl with data/,
// constants.pkl with constants/), before LibTorch loads the module. Throws
// Error(InvalidArchive) "<path>: not a valid TorchScript archive (...)".
void require_sound_storages(const Archive& archive);

}  // namespace tsbridge::detail
