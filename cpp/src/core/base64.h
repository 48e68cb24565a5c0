#pragma once

#include <optional>
#include <string>

namespace tsbridge::detail {

// Standard base64 (RFC 4648, '=' padding, no line breaks) to bytes; nullopt
// on any other character or a bad length. .pt2 packages keep extra files as
// text (PyTorch's loader decodes them as UTF-8), so binary ones go in base64.
inline std::optional<std::string> base64_decode(const std::string& text) {
  if (text.size() % 4 != 0) return std::nullopt;
  const auto value = [](char c) -> int {
    if (c >= 'A' && c <= 'Z') return c - 'A';
    if (c >= 'a' && c <= 'z') return c - 'a' + 26;
    if (c >= '0' && c <= '9') return c - '0' + 52;
    if (c == '+') return 62;
    if (c == '/') return 63;
    return -1;
  };
  std::string bytes;
  bytes.reserve(text.size() / 4 * 3);
  for (size_t i = 0; i < text.size(); i += 4) {
    const bool last = i + 4 == text.size();
    const int padding = last ? (text[i + 3] == '=') + (text[i + 2] == '=') : 0;
    if (padding == 1 && text[i + 2] == '=') return std::nullopt;  // "x=y=" is not padding
    unsigned int group = 0;
    for (int j = 0; j < 4; ++j) {
      const int v = j >= 4 - padding ? 0 : value(text[i + j]);
      if (v < 0) return std::nullopt;
      group = (group << 6) | static_cast<unsigned int>(v);
    }
    bytes += static_cast<char>((group >> 16) & 0xff);
    if (padding < 2) bytes += static_cast<char>((group >> 8) & 0xff);
    if (padding < 1) bytes += static_cast<char>(group & 0xff);
  }
  return bytes;
}

}  // namespace tsbridge::detail
