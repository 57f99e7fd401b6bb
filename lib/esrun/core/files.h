// Files written so that no reader ever sees half of one, and every failed write (a full disk, a
// file size limit, a vanished folder) is an esrun::Error naming the file and the system's reason.
#pragma once

#include <filesystem>
#include <string>

namespace esrun {

// Writes `content` to `<target>.tmp` and renames it over `target` (creating the parent folder).
// On failure the temporary file is removed and `target` is as it was.
void write_file_atomic(const std::filesystem::path& target, const std::string& content);
// The whole file's bytes.
std::string read_file(const std::filesystem::path& source);

// A file appended to in whole pieces (a metrics line, a batch of TensorBoard records): a piece
// that cannot be written in full is cut off again, so the file only ever holds whole pieces.
class AppendFile {
 public:
  AppendFile() = default;
  // Opens `path` for appending (created if missing; emptied first when `truncate`).
  AppendFile(const std::filesystem::path& path, bool truncate);
  AppendFile(AppendFile&& other) noexcept;
  AppendFile& operator=(AppendFile&& other) noexcept;
  AppendFile(const AppendFile&) = delete;
  AppendFile& operator=(const AppendFile&) = delete;
  ~AppendFile();

  // Appends all of `piece` or, on failure, nothing (and throws).
  void append(const std::string& piece);
  const std::filesystem::path& path() const { return path_; }

 private:
  std::filesystem::path path_;
  int fd_ = -1;
};

}  // namespace esrun
