#pragma once

#include <optional>
#include <string>
#include <vector>

// Class labels from a model's user metadata (the manifest's "metadata"
// object, as JSON text), e.g. {"labels": ["cat", "dog"], "source": "..."}.
// Returns nullopt when there is no top-level "labels" key. Throws
// std::runtime_error when the JSON is malformed or "labels" is not an array
// of strings.
std::optional<std::vector<std::string>> labels_from_metadata(const std::string& json);
