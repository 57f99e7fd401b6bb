#include "esrun/metrics/run_directory.h"

#include <chrono>
#include <ctime>
#include <iomanip>
#include <sstream>

#include "esrun/core/error.h"
#include "esrun/core/files.h"

namespace esrun {
namespace fs = std::filesystem;

namespace {

std::string timestamp() {
  const std::time_t now = std::chrono::system_clock::to_time_t(std::chrono::system_clock::now());
  std::tm local{};
  localtime_r(&now, &local);
  std::ostringstream out;
  out << std::put_time(&local, "%Y%m%d-%H%M%S");
  return out.str();
}

void make_directories(const fs::path& path) {
  std::error_code error;
  fs::create_directories(path, error);
  ESRUN_CHECK(!error, "cannot create run directory '", path.string(), "': ", error.message());
}

}  // namespace

RunDirectory::RunDirectory(fs::path path) : path_(std::move(path)) {}

RunDirectory RunDirectory::create(const std::string& out_root, const std::string& name, uint64_t seed,
                                  const std::optional<std::string>& out) {
  fs::path path;
  if (out) {
    path = *out;
    ESRUN_CHECK(!fs::exists(path / "summary.json"), "--out '", *out,
                "' already holds a finished run (summary.json); choose another folder");
    ESRUN_CHECK(!fs::exists(path / "checkpoints" / "last.pt"), "--out '", *out,
                "' already holds a started run (checkpoints/last.pt); continue it with --resume ", *out,
                " or choose another folder");
  } else {
    const fs::path base = fs::path(out_root) / name / (timestamp() + "-s" + std::to_string(seed));
    path = base;
    for (int suffix = 2; fs::exists(path); ++suffix) path = base.string() + "-" + std::to_string(suffix);
  }
  make_directories(path);
  RunDirectory dir(path);
  dir.metrics_.open(path / "metrics.jsonl", std::ios::trunc);
  ESRUN_CHECK(dir.metrics_.good(), "cannot write '", (path / "metrics.jsonl").string(), "'");
  return dir;
}

RunDirectory RunDirectory::resume(const fs::path& path, const std::string& metrics) {
  make_directories(path);
  RunDirectory dir(path);
  dir.write_atomic("metrics.jsonl", metrics);
  std::error_code ignored;
  fs::remove(path / "summary.json", ignored);
  dir.metrics_.open(path / "metrics.jsonl", std::ios::app);
  ESRUN_CHECK(dir.metrics_.good(), "cannot append to '", (path / "metrics.jsonl").string(), "'");
  return dir;
}

void RunDirectory::write_atomic(const std::string& file, const std::string& content) const {
  write_file_atomic(path_ / file, content);
}

void RunDirectory::append_metrics(const nlohmann::json& record) {
  // One whole line per write, flushed: a crash leaves complete lines only (at most the last one cut).
  const std::string line = record.dump() + "\n";
  metrics_.write(line.data(), static_cast<std::streamsize>(line.size()));
  metrics_.flush();
  ESRUN_CHECK(metrics_.good(), "cannot append to '", (path_ / "metrics.jsonl").string(), "'");
}

}  // namespace esrun
