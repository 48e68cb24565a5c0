// Just enough JSON to take one array of strings out of an object: strings
// with every escape (\uXXXX and surrogate pairs become UTF-8), and every
// other value skipped over without interpreting it. An app that already has
// a JSON library would use it instead.
#include "labels.h"

#include <cstdint>
#include <stdexcept>

namespace {

class Reader {
 public:
  explicit Reader(const std::string& text) : text_(text) {}

  std::optional<std::vector<std::string>> labels() {
    expect('{');
    std::optional<std::vector<std::string>> found;
    if (!consume('}')) {
      do {
        const std::string key = string();
        expect(':');
        if (key == "labels") found = string_array();
        else skip_value();
      } while (consume(','));
      expect('}');
    }
    space();
    if (pos_ != text_.size()) fail("trailing characters");
    return found;
  }

 private:
  [[noreturn]] void fail(const std::string& what) const {
    throw std::runtime_error("metadata JSON: " + what + " at offset " + std::to_string(pos_));
  }

  void space() {
    while (pos_ < text_.size() && (text_[pos_] == ' ' || text_[pos_] == '\t' || text_[pos_] == '\n' ||
                                   text_[pos_] == '\r')) {
      ++pos_;
    }
  }

  char peek() {
    space();
    if (pos_ >= text_.size()) fail("unexpected end");
    return text_[pos_];
  }

  bool consume(char c) {
    if (peek() != c) return false;
    ++pos_;
    return true;
  }

  void expect(char c) {
    if (!consume(c)) fail(std::string("expected '") + c + "'");
  }

  std::vector<std::string> string_array() {
    if (peek() != '[') fail("\"labels\" must be an array of strings");
    ++pos_;
    std::vector<std::string> items;
    if (consume(']')) return items;
    do {
      if (peek() != '"') fail("\"labels\" must be an array of strings");
      items.push_back(string());
    } while (consume(','));
    expect(']');
    return items;
  }

  unsigned hex4() {
    if (pos_ + 4 > text_.size()) fail("short \\u escape");
    unsigned value = 0;
    for (int i = 0; i < 4; ++i) {
      const char c = text_[pos_++];
      value <<= 4;
      if (c >= '0' && c <= '9') value |= static_cast<unsigned>(c - '0');
      else if (c >= 'a' && c <= 'f') value |= static_cast<unsigned>(c - 'a' + 10);
      else if (c >= 'A' && c <= 'F') value |= static_cast<unsigned>(c - 'A' + 10);
      else fail("bad \\u escape");
    }
    return value;
  }

  static void append_utf8(std::string& out, uint32_t cp) {
    if (cp < 0x80) {
      out += static_cast<char>(cp);
    } else if (cp < 0x800) {
      out += static_cast<char>(0xC0 | (cp >> 6));
      out += static_cast<char>(0x80 | (cp & 0x3F));
    } else if (cp < 0x10000) {
      out += static_cast<char>(0xE0 | (cp >> 12));
      out += static_cast<char>(0x80 | ((cp >> 6) & 0x3F));
      out += static_cast<char>(0x80 | (cp & 0x3F));
    } else {
      out += static_cast<char>(0xF0 | (cp >> 18));
      out += static_cast<char>(0x80 | ((cp >> 12) & 0x3F));
      out += static_cast<char>(0x80 | ((cp >> 6) & 0x3F));
      out += static_cast<char>(0x80 | (cp & 0x3F));
    }
  }

  std::string string() {
    expect('"');
    std::string out;
    for (;;) {
      if (pos_ >= text_.size()) fail("unterminated string");
      const char c = text_[pos_++];
      if (c == '"') return out;
      if (static_cast<unsigned char>(c) < 0x20) fail("control character in string");
      if (c != '\\') {
        out += c;  // UTF-8 bytes pass through as they are
        continue;
      }
      if (pos_ >= text_.size()) fail("unterminated string");
      switch (const char e = text_[pos_++]) {
        case '"': case '\\': case '/': out += e; break;
        case 'b': out += '\b'; break;
        case 'f': out += '\f'; break;
        case 'n': out += '\n'; break;
        case 'r': out += '\r'; break;
        case 't': out += '\t'; break;
        case 'u': {
          uint32_t cp = hex4();
          if (cp >= 0xD800 && cp <= 0xDBFF) {  // a surrogate pair
            if (text_.compare(pos_, 2, "\\u") != 0) fail("lone surrogate");
            pos_ += 2;
            const uint32_t low = hex4();
            if (low < 0xDC00 || low > 0xDFFF) fail("bad surrogate pair");
            cp = 0x10000 + ((cp - 0xD800) << 10) + (low - 0xDC00);
          } else if (cp >= 0xDC00 && cp <= 0xDFFF) {
            fail("lone surrogate");
          }
          append_utf8(out, cp);
          break;
        }
        default: fail("bad escape");
      }
    }
  }

  void skip_value() {
    const char c = peek();
    if (c == '"') {
      string();
    } else if (c == '{' || c == '[') {
      const char close = c == '{' ? '}' : ']';
      ++pos_;
      if (consume(close)) return;
      do {
        if (c == '{') {
          string();
          expect(':');
        }
        skip_value();
      } while (consume(','));
      expect(close);
    } else {  // number, true, false, null
      const size_t start = pos_;
      while (pos_ < text_.size() && std::string(",}] \t\r\n").find(text_[pos_]) == std::string::npos) ++pos_;
      if (pos_ == start) fail("expected a value");
    }
  }

  const std::string& text_;
  size_t pos_ = 0;
};

}  // namespace

std::optional<std::vector<std::string>> labels_from_metadata(const std::string& json) {
  return Reader(json).labels();
}
