#include "esrun/metrics/run_directory.h"

#include <fcntl.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include <spdlog/spdlog.h>

#include <cerrno>
#include <chrono>
#include <cstring>
#include <ctime>
#include <iomanip>
#include <sstream>
#include <utility>

#include "esrun/core/error.h"
#include "esrun/core/files.h"
#include "esrun/metrics/records.h"

namespace esrun {
namespace fs = std::filesystem;

namespace {

std::string timestamp(const char* format = "%Y%m%d-%H%M%S") {
  const std::time_t now = std::chrono::system_clock::to_time_t(std::chrono::system_clock::now());
  std::tm local{};
  localtime_r(&now, &local);
  std::ostringstream out;
  out << std::put_time(&local, format);
  return out.str();
}

// What a lock file says about its holder ("" when it is empty).
std::string lock_holder(int fd) {
  std::string text(256, '\0');
  const ssize_t n = ::pread(fd, text.data(), text.size(), 0);
  text.resize(n > 0 ? static_cast<size_t>(n) : 0);
  while (!text.empty() && (text.back() == '\n' || text.back() == '\0')) text.pop_back();
  return text;
}

void make_directories(const fs::path& path) {
  std::error_code error;
  fs::create_directories(path, error);
  ESRUN_CHECK(!error, "cannot create run directory '", path.string(), "': ", error.message());
}

}  // namespace

RunLock::RunLock(const fs::path& folder) : file_(folder / "esrun.lock") {
  // A holder that ends removes the file: the one locked may then no longer be the one at the path,
  // and locking is tried again on the new file.
  for (int attempt = 0; attempt < 8; ++attempt) {
    fd_ = ::open(file_.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0644);
    ESRUN_CHECK(fd_ >= 0, "cannot create the lock file '", file_.string(), "': ", std::strerror(errno));
    if (::flock(fd_, LOCK_EX | LOCK_NB) != 0) {
      const int reason = errno;
      const std::string holder = lock_holder(fd_);
      ::close(fd_);
      fd_ = -1;
      ESRUN_CHECK(reason == EWOULDBLOCK, "cannot lock '", file_.string(), "': ", std::strerror(reason));
      ESRUN_FAIL("the run directory '", folder.string(), "' is in use by ",
                 holder.empty() ? std::string("another esrun process") : holder,
                 "; wait for it to end, stop it, or choose another folder (lock file ", file_.string(), ")");
    }
    struct stat locked {}, named {};
    if (::fstat(fd_, &locked) == 0 && ::stat(file_.c_str(), &named) == 0 && locked.st_ino == named.st_ino &&
        locked.st_dev == named.st_dev)
      break;
    ::close(fd_);
    fd_ = -1;
  }
  ESRUN_CHECK(fd_ >= 0, "cannot lock '", file_.string(), "': it keeps being replaced by other processes");
  if (const std::string stale = lock_holder(fd_); !stale.empty())
    spdlog::warn("{}: taking over the lock left by {}, which no longer runs", folder.string(), stale);
  char host[256] = {};
  ::gethostname(host, sizeof host - 1);
  const std::string holder =
      fmt::format("esrun pid {} on host {} since {}\n", ::getpid(), host, timestamp("%Y-%m-%d %H:%M:%S"));
  const bool written = ::ftruncate(fd_, 0) == 0 && ::pwrite(fd_, holder.data(), holder.size(), 0) ==
                                                       static_cast<ssize_t>(holder.size());
  ESRUN_CHECK(written, "cannot write the lock file '", file_.string(), "': ", std::strerror(errno));
}

RunLock::RunLock(RunLock&& other) noexcept : file_(std::move(other.file_)), fd_(std::exchange(other.fd_, -1)) {}

RunLock& RunLock::operator=(RunLock&& other) noexcept {
  if (this != &other) {
    release();
    file_ = std::move(other.file_);
    fd_ = std::exchange(other.fd_, -1);
  }
  return *this;
}

RunLock::~RunLock() { release(); }

void RunLock::release() {
  if (fd_ < 0) return;
  ::unlink(file_.c_str());  // while still locked: whoever opened it before retries on a new file
  ::close(fd_);
  fd_ = -1;
}

RunDirectory::RunDirectory(fs::path path) : path_(std::move(path)) {}

RunDirectory RunDirectory::create(const std::string& out_root, const std::string& name, uint64_t seed,
                                  const std::optional<std::string>& out) {
  fs::path path;
  if (out) {
    path = *out;
  } else {
    const fs::path base = fs::path(out_root) / name / (timestamp() + "-s" + std::to_string(seed));
    path = base;
    for (int suffix = 2; fs::exists(path); ++suffix) path = base.string() + "-" + std::to_string(suffix);
  }
  make_directories(path);
  RunDirectory dir(path);
  dir.lock_.emplace(path);  // before looking: the folder's contents are then this process's to judge
  if (out) {
    ESRUN_CHECK(!fs::exists(path / "summary.json"), "--out '", *out,
                "' already holds a finished run (summary.json); choose another folder");
    ESRUN_CHECK(!fs::exists(path / "checkpoints" / "last.pt"), "--out '", *out,
                "' already holds a started run (checkpoints/last.pt); continue it with --resume ", *out,
                " or choose another folder");
  }
  dir.metrics_ = AppendFile(path / "metrics.jsonl", /*truncate=*/true);
  dir.evaluations_ = AppendFile(path / "evaluations.jsonl", /*truncate=*/true);
  return dir;
}

RunDirectory RunDirectory::resume(const fs::path& path) {
  make_directories(path);
  RunDirectory dir(path);
  dir.lock_.emplace(path);
  return dir;
}

void RunDirectory::continue_metrics(const std::vector<nlohmann::json>& records,
                                    const std::vector<nlohmann::json>& evaluations) {
  write_atomic("metrics.jsonl", json_lines(records));
  write_atomic("evaluations.jsonl", json_lines(evaluations));
  std::error_code ignored;
  fs::remove(path_ / "summary.json", ignored);
  metrics_ = AppendFile(path_ / "metrics.jsonl", /*truncate=*/false);
  evaluations_ = AppendFile(path_ / "evaluations.jsonl", /*truncate=*/false);
}

void RunDirectory::write_atomic(const std::string& file, const std::string& content) const {
  write_file_atomic(path_ / file, content);
}

void RunDirectory::append_metrics(const nlohmann::json& record) {
  // One whole line per write(2): a line the disk cannot take is cut off again (AppendFile), and a
  // crash leaves complete lines only.
  metrics_.append(record.dump() + "\n");
}

void RunDirectory::append_evaluation(const nlohmann::json& point) { evaluations_.append(point.dump() + "\n"); }

}  // namespace esrun
