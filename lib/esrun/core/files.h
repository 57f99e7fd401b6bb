// Whole files written so that no reader ever sees half of one.
#pragma once

#include <filesystem>
#include <string>

namespace esrun {

// Writes `content` to `<target>.tmp` and renames it over `target` (creating the parent folder).
void write_file_atomic(const std::filesystem::path& target, const std::string& content);
// The whole file's bytes.
std::string read_file(const std::filesystem::path& source);

}  // namespace esrun
