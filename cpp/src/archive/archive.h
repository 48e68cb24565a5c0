#pragma once

#include <optional>
#include <string>

namespace tsbridge::detail {

// Throws Error(FileNotFound) unless `path` names a readable regular file.
void require_readable_file(const std::string& path);

// Reads one of torch.jit.save's extra files straight from the zip, without
// loading the module. Throws Error(InvalidArchive) when the file is not a
// TorchScript zip archive.
std::optional<std::string> read_extra_file(const std::string& path, const std::string& name);

}  // namespace tsbridge::detail
