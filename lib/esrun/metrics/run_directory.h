// The run directory: config.resolved.yaml (written first), metrics.jsonl (one line per epoch,
// written whole or not at all), evaluations.jsonl (one line per evaluation, within epochs too),
// summary.json (written last). Whole files are written to a
// temporary name and renamed, so no file that looks complete is ever half-written. esrun.lock
// keeps a second esrun from writing into a run directory in use.
#pragma once

#include <nlohmann/json.hpp>

#include <filesystem>
#include <optional>
#include <string>

#include "esrun/core/files.h"

namespace esrun {

// <folder>/esrun.lock, held with flock(2) while this process writes the folder, and holding who
// does ("esrun pid N on host H since T"). The kernel releases the lock of a process that dies, so
// a lock file left by a killed run is stale and taken over; a live holder is an error naming it.
class RunLock {
 public:
  explicit RunLock(const std::filesystem::path& folder);
  RunLock(RunLock&& other) noexcept;
  RunLock& operator=(RunLock&& other) noexcept;
  RunLock(const RunLock&) = delete;
  RunLock& operator=(const RunLock&) = delete;
  ~RunLock();

 private:
  void release();  // removes the lock file and unlocks

  std::filesystem::path file_;
  int fd_ = -1;
};

class RunDirectory {
 public:
  // `out` given: that folder (created; it must not already hold a summary.json). Otherwise
  // <out_root>/<name>/<YYYYmmdd-HHMMSS>-s<seed>, with -2, -3, ... appended when it exists. Both
  // lock the folder before writing anything.
  static RunDirectory create(const std::string& out_root, const std::string& name, uint64_t seed,
                             const std::optional<std::string>& out);
  // An existing run directory to continue in, locked; nothing in it changes until continue_metrics.
  static RunDirectory resume(const std::filesystem::path& path);
  // For a resumed run, once everything it needs has loaded: metrics.jsonl and evaluations.jsonl are
  // rewritten (atomically) to the lines the checkpoint holds, then appended to; a stale
  // summary.json is removed.
  void continue_metrics(const std::vector<nlohmann::json>& records, const std::vector<nlohmann::json>& evaluations);

  const std::filesystem::path& path() const { return path_; }
  void write_atomic(const std::string& file, const std::string& content) const;
  void append_metrics(const nlohmann::json& record);
  void append_evaluation(const nlohmann::json& point);

 private:
  explicit RunDirectory(std::filesystem::path path);
  std::filesystem::path path_;
  std::optional<RunLock> lock_;
  AppendFile metrics_, evaluations_;
};

}  // namespace esrun
