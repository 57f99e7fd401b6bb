// The run directory: config.resolved.yaml (written first), metrics.jsonl (one line per epoch,
// flushed as it is written), summary.json (written last). Whole files are written to a temporary
// name and renamed, so no file that looks complete is ever half-written.
#pragma once

#include <nlohmann/json.hpp>

#include <filesystem>
#include <fstream>
#include <optional>
#include <string>

namespace esrun {

class RunDirectory {
 public:
  // `out` given: that folder (created; it must not already hold a summary.json). Otherwise
  // <out_root>/<name>/<YYYYmmdd-HHMMSS>-s<seed>, with -2, -3, ... appended when it exists.
  static RunDirectory create(const std::string& out_root, const std::string& name, uint64_t seed,
                             const std::optional<std::string>& out);
  // An existing run directory to continue in: metrics.jsonl is rewritten (atomically) to `metrics`,
  // the lines of the checkpointed epochs, then appended to; a stale summary.json is removed.
  static RunDirectory resume(const std::filesystem::path& path, const std::string& metrics);

  const std::filesystem::path& path() const { return path_; }
  void write_atomic(const std::string& file, const std::string& content) const;
  void append_metrics(const nlohmann::json& record);

 private:
  explicit RunDirectory(std::filesystem::path path);
  std::filesystem::path path_;
  std::ofstream metrics_;
};

}  // namespace esrun
