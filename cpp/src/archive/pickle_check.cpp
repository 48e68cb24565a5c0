#include "archive/pickle_check.h"

#include "archive/archive.h"

#include <limits>
#include <map>
#include <memory>
#include <stdexcept>
#include <unordered_map>

#include <c10/core/ScalarType.h>
#include <c10/util/Exception.h>
#include <caffe2/serialize/inline_container.h>

#include "core/condense.h"
#include "tsbridge/error.h"

namespace tsbridge::detail {
namespace {

// What the scan needs to know about a value on the pickle machine's stack.
struct Value {
  enum Kind { Other, Mark, Str, Int, Global, Tuple } kind = Other;
  // Str: the string; Global: module and name. Shared: a memoized string
  // read back a million times costs a pointer each, not a copy each.
  std::shared_ptr<const std::string> text, name;
  int64_t number = 0;                               // Int
  bool big = false;                                 // Int: did not fit in int64
  std::shared_ptr<const std::vector<Value>> items;  // Tuple
};

[[noreturn]] void malformed(const std::string& what) { throw std::runtime_error("malformed pickle: " + what); }

// LibTorch's names for storage types, exactly as its unpickler resolves
// GLOBAL torch.<Name>Storage, with their element sizes.
struct StorageType {
  int index;
  int64_t size;
};
const std::map<std::string, StorageType>& storage_types() {
  static const std::map<std::string, StorageType> types = [] {
    std::map<std::string, StorageType> out;
#define TSBRIDGE_STORAGE_TYPE(ctype, name) \
  out[#name] = StorageType{static_cast<int>(c10::ScalarType::name), static_cast<int64_t>(sizeof(ctype))};
    AT_FORALL_SCALAR_TYPES_WITH_COMPLEX_AND_QINTS(TSBRIDGE_STORAGE_TYPE)
#undef TSBRIDGE_STORAGE_TYPE
    return out;
  }();
  return types;
}

class Scanner {
 public:
  explicit Scanner(const std::string& data) : data_(data) {}

  std::vector<StorageDeclaration> run() {
    while (true) {
      if (pos_ >= data_.size()) malformed("it ends without STOP");
      const size_t at = pos_;
      const auto op = static_cast<unsigned char>(data_[pos_++]);
      if (op == '.') return std::move(storages_);
      step(op, at);
    }
  }

 private:
  const char* take(uint64_t n) {
    if (n > data_.size() - pos_) malformed("an argument runs past the end at byte " + std::to_string(pos_));
    const char* p = data_.data() + pos_;
    pos_ += n;
    return p;
  }
  uint64_t le(uint64_t n) {
    const auto* p = reinterpret_cast<const unsigned char*>(take(n));
    uint64_t v = 0;
    for (uint64_t i = 0; i < n; ++i) v |= uint64_t{p[i]} << (8 * i);
    return v;
  }
  std::string line() {
    const size_t end = data_.find('\n', pos_);
    if (end == std::string::npos) malformed("a text argument has no end of line");
    std::string text = data_.substr(pos_, end - pos_);
    pos_ = end + 1;
    return text;
  }
  std::string counted(uint64_t width) {
    const uint64_t n = le(width);
    return std::string(take(n), n);
  }

  void push(Value v) { stack_.push_back(std::move(v)); }
  void push_other() { push(Value{}); }
  Value pop() {
    if (stack_.empty() || stack_.back().kind == Value::Mark)
      malformed("stack underflow at byte " + std::to_string(pos_));
    Value v = std::move(stack_.back());
    stack_.pop_back();
    return v;
  }
  std::vector<Value> pop_mark() {
    std::vector<Value> items;
    while (true) {
      if (stack_.empty()) malformed("no MARK to pop to at byte " + std::to_string(pos_));
      Value v = std::move(stack_.back());
      stack_.pop_back();
      if (v.kind == Value::Mark) break;
      items.push_back(std::move(v));
    }
    return {items.rbegin(), items.rend()};
  }
  const Value& top() {
    if (stack_.empty() || stack_.back().kind == Value::Mark)
      malformed("stack underflow at byte " + std::to_string(pos_));
    return stack_.back();
  }
  void tuple(std::vector<Value> items) {
    Value v;
    v.kind = Value::Tuple;
    v.items = std::make_shared<const std::vector<Value>>(std::move(items));
    push(std::move(v));
  }
  void str(std::string s) {
    Value v;
    v.kind = Value::Str;
    v.text = std::make_shared<const std::string>(std::move(s));
    push(std::move(v));
  }
  void integer(int64_t n, bool big = false) {
    Value v;
    v.kind = Value::Int;
    v.number = n;
    v.big = big;
    push(std::move(v));
  }
  void global(std::string module, std::string name) {
    Value v;
    v.kind = Value::Global;
    v.text = std::make_shared<const std::string>(std::move(module));
    v.name = std::make_shared<const std::string>(std::move(name));
    push(std::move(v));
  }
  void memo_put(uint64_t index) { memo_[index] = top(); }
  void memo_get(uint64_t index) {
    auto it = memo_.find(index);
    if (it == memo_.end()) malformed("memo " + std::to_string(index) + " is read before it is written");
    push(it->second);
  }
  // LONG1/LONG4: little-endian two's complement of n bytes.
  void long_bytes(uint64_t n) {
    const auto* p = reinterpret_cast<const unsigned char*>(take(n));
    if (n > 8) {
      integer(0, true);
      return;
    }
    uint64_t v = 0;
    for (uint64_t i = 0; i < n; ++i) v |= uint64_t{p[i]} << (8 * i);
    if (n > 0 && n < 8 && (p[n - 1] & 0x80)) v |= ~uint64_t{0} << (8 * n);
    integer(static_cast<int64_t>(v));
  }
  void text_int(const std::string& text) {
    if (text == "00" || text == "01") {  // protocol 0's False and True
      push_other();
      return;
    }
    std::string digits = text;
    if (!digits.empty() && digits.back() == 'L') digits.pop_back();
    try {
      size_t used = 0;
      const long long n = std::stoll(digits, &used);
      if (used != digits.size()) malformed("a text integer '" + text.substr(0, 40) + "'");
      integer(n);
    } catch (const std::out_of_range&) {
      integer(0, true);
    } catch (const std::invalid_argument&) {
      malformed("a text integer '" + text.substr(0, 40) + "'");
    }
  }

  void persistent_id(const Value& id) {
    if (id.kind != Value::Tuple || id.items->empty() || (*id.items)[0].kind != Value::Str) {
      malformed("a persistent id that is not a ('storage', ...) tuple");
    }
    const auto& items = *id.items;
    if (*items[0].text != "storage") malformed("a persistent id of kind '" + items[0].text->substr(0, 40) + "'");
    if (items.size() != 5) malformed("a storage persistent id of " + std::to_string(items.size()) + " fields, not 5");
    StorageDeclaration storage;
    int64_t size = 0;
    const Value& type = items[1];
    if (type.kind == Value::Global && *type.text == "torch" && type.name->size() > 7 &&
        type.name->compare(type.name->size() - 7, 7, "Storage") == 0) {
      storage.type = type.name->substr(0, type.name->size() - 7);
      auto it = storage_types().find(storage.type);
      if (it == storage_types().end()) malformed("an unknown storage type torch." + type.name->substr(0, 60));
      size = it->second.size;
    } else if (type.kind == Value::Int && !type.big) {
      // LibTorch also takes the scalar type as its number.
      for (const auto& [name, known] : storage_types()) {
        if (known.index == type.number) {
          storage.type = name;
          size = known.size;
        }
      }
      if (size == 0) malformed("an unknown storage scalar type " + std::to_string(type.number));
    } else {
      malformed("a storage persistent id whose type is not a torch storage class");
    }
    if (items[2].kind != Value::Str) malformed("a storage persistent id whose key is not a string");
    if (items[4].kind != Value::Int || items[4].big || items[4].number < 0) {
      malformed("a storage persistent id whose numel is not an integer >= 0");
    }
    storage.key = *items[2].text;
    storage.numel = items[4].number;
    if (storage.numel > std::numeric_limits<int64_t>::max() / size) {
      malformed("storage '" + storage.key + "' declares " + std::to_string(storage.numel) + " elements");
    }
    storage.bytes = storage.numel * size;
    storages_.push_back(std::move(storage));
  }

  void step(unsigned char op, size_t at) {
    // clang-format off: one opcode a line reads as the table it is
    switch (op) {
      case '(': push(Value{Value::Mark}); break;
      case '0': pop(); break;
      case '1': pop_mark(); break;
      case '2': push(top()); break;
      case 'F': line(); push_other(); break;
      case 'I': text_int(line()); break;
      case 'L': text_int(line()); break;
      case 'J': integer(static_cast<int32_t>(static_cast<uint32_t>(le(4)))); break;
      case 'K': integer(static_cast<int64_t>(le(1))); break;
      case 'M': integer(static_cast<int64_t>(le(2))); break;
      case 'N': push_other(); break;
      case 'P': line(); push_other(); break;
      case 'Q': persistent_id(pop()); push_other(); break;
      case 'R': pop(); pop(); push_other(); break;
      case 'S': str(line()); break;
      case 'T': str(counted(4)); break;
      case 'U': str(counted(1)); break;
      case 'V': str(line()); break;
      case 'X': str(counted(4)); break;
      case 'a': pop(); top(); break;
      case 'b': pop(); top(); break;
      case 'c': {
        std::string module = line();
        global(std::move(module), line());
        break;
      }
      case 'd': pop_mark(); push_other(); break;
      case '}': push_other(); break;
      case 'e': pop_mark(); top(); break;
      case 'g': {
        const std::string index = line();
        try {
          memo_get(std::stoull(index));
        } catch (const std::logic_error&) {
          malformed("a GET of '" + index.substr(0, 40) + "'");
        }
        break;
      }
      case 'h': memo_get(le(1)); break;
      case 'i': line(); line(); pop_mark(); push_other(); break;
      case 'j': memo_get(le(4)); break;
      case 'l': pop_mark(); push_other(); break;
      case ']': push_other(); break;
      case 'o': pop_mark(); push_other(); break;
      case 'p': {
        const std::string index = line();
        try {
          memo_put(std::stoull(index));
        } catch (const std::logic_error&) {
          malformed("a PUT of '" + index.substr(0, 40) + "'");
        }
        break;
      }
      case 'q': memo_put(le(1)); break;
      case 'r': memo_put(le(4)); break;
      case 's': pop(); pop(); top(); break;
      case 't': tuple(pop_mark()); break;
      case ')': tuple({}); break;
      case 'u': pop_mark(); top(); break;
      case 'G': take(8); push_other(); break;
      case 0x80: take(1); break;                         // PROTO
      case 0x81: pop(); pop(); push_other(); break;      // NEWOBJ
      case 0x82: take(1); push_other(); break;           // EXT1
      case 0x83: take(2); push_other(); break;           // EXT2
      case 0x84: take(4); push_other(); break;           // EXT4
      case 0x85: { Value a = pop(); tuple({a}); break; }  // TUPLE1
      case 0x86: { Value b = pop(), a = pop(); tuple({a, b}); break; }
      case 0x87: { Value c = pop(), b = pop(), a = pop(); tuple({a, b, c}); break; }
      case 0x88: case 0x89: push_other(); break;          // NEWTRUE, NEWFALSE
      case 0x8a: long_bytes(le(1)); break;                // LONG1
      case 0x8b: long_bytes(le(4)); break;                // LONG4
      case 'B': take(le(4)); push_other(); break;         // BINBYTES
      case 'C': take(le(1)); push_other(); break;         // SHORT_BINBYTES
      case 0x8c: str(counted(1)); break;                  // SHORT_BINUNICODE
      case 0x8d: str(counted(8)); break;                  // BINUNICODE8
      case 0x8e: take(le(8)); push_other(); break;        // BINBYTES8
      case 0x8f: push_other(); break;                     // EMPTY_SET
      case 0x90: pop_mark(); top(); break;                // ADDITEMS
      case 0x91: pop_mark(); push_other(); break;         // FROZENSET
      case 0x92: pop(); pop(); pop(); push_other(); break;  // NEWOBJ_EX
      case 0x93: {                                        // STACK_GLOBAL
        Value name = pop(), module = pop();
        if (name.kind != Value::Str || module.kind != Value::Str) malformed("a STACK_GLOBAL of non-strings");
        global(*module.text, *name.text);
        break;
      }
      case 0x94: memo_put(memo_.size()); break;           // MEMOIZE
      case 0x95: take(8); break;                          // FRAME
      case 0x96: take(le(8)); push_other(); break;        // BYTEARRAY8
      case 0x97: push_other(); break;                     // NEXT_BUFFER
      case 0x98: top(); break;                            // READONLY_BUFFER
      default:
        malformed("unknown opcode 0x" + [&] {
          static const char* hex = "0123456789abcdef";
          return std::string{hex[op >> 4], hex[op & 15]};
        }() + " at byte " + std::to_string(at));
    }
    // clang-format on
  }

  const std::string& data_;
  size_t pos_ = 0;
  std::vector<Value> stack_;
  std::unordered_map<uint64_t, Value> memo_;
  std::vector<StorageDeclaration> storages_;
};

}  // namespace

std::vector<StorageDeclaration> scan_storages(const std::string& pickle) { return Scanner(pickle).run(); }

void check_storages(caffe2::serialize::PyTorchStreamReader& reader, const std::string& archive) {
  const std::string pickle_name = archive + ".pkl";
  if (!reader.hasRecord(pickle_name)) return;
  auto [data, size] = reader.getRecord(pickle_name);
  const std::string pickle(static_cast<const char*>(data.get()), size);
  std::vector<StorageDeclaration> storages;
  try {
    storages = scan_storages(pickle);
  } catch (const std::runtime_error& e) {
    throw std::runtime_error(pickle_name + ": " + e.what());
  }
  for (const auto& storage : storages) {
    const std::string record = archive + "/" + storage.key;
    if (!reader.hasRecord(record)) {
      throw std::runtime_error(pickle_name + " declares storage '" + record + "', which the archive lacks");
    }
    const auto held = static_cast<int64_t>(reader.getRecordSize(record));
    if (held < storage.bytes) {
      throw std::runtime_error(pickle_name + " declares storage '" + record + "' of " + std::to_string(storage.numel) +
                               " " + storage.type + " elements (" + std::to_string(storage.bytes) +
                               " bytes), but the entry holds " + std::to_string(held) + " bytes");
    }
  }
}

void require_sound_storages(const Archive& archive) {
  const std::string& path = archive.path();
  try {
    auto& reader = archive.reader();
    check_storages(reader, "data");
    check_storages(reader, "constants");
  } catch (const c10::Error& e) {
    throw Error(ErrorCode::InvalidArchive,
                path + ": not a valid TorchScript archive (" + condense(e.what_without_backtrace()) + ")");
  } catch (const std::exception& e) {
    throw Error(ErrorCode::InvalidArchive, path + ": not a valid TorchScript archive (" + condense(e.what()) + ")");
  }
}

}  // namespace tsbridge::detail
