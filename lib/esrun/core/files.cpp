#include "esrun/core/files.h"

#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <fstream>
#include <utility>

#include "esrun/core/error.h"

namespace esrun {
namespace fs = std::filesystem;
namespace {

// Writes all of `bytes` to `fd`; false (errno set) when the system refuses part of them.
bool write_all(int fd, const std::string& bytes) {
  size_t done = 0;
  while (done < bytes.size()) {
    const ssize_t n = ::write(fd, bytes.data() + done, bytes.size() - done);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) {
      if (n == 0) errno = ENOSPC;  // no progress and no error: treat as a full device
      return false;
    }
    done += static_cast<size_t>(n);
  }
  return true;
}

}  // namespace

void write_file_atomic(const fs::path& target, const std::string& content) {
  std::error_code error;
  if (target.has_parent_path()) fs::create_directories(target.parent_path(), error);
  ESRUN_CHECK(!error, "cannot create the folder '", target.parent_path().string(), "': ", error.message());
  const fs::path temporary = target.string() + ".tmp";
  const int fd = ::open(temporary.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  ESRUN_CHECK(fd >= 0, "cannot write '", temporary.string(), "': ", std::strerror(errno));
  const bool written = write_all(fd, content);
  const int write_errno = errno;
  const bool closed = ::close(fd) == 0;  // NFS reports some write errors only here
  if (!written || !closed) {
    const int reason = !written ? write_errno : errno;
    fs::remove(temporary, error);
    ESRUN_FAIL("cannot write '", target.string(), "': ", std::strerror(reason), " (", content.size(),
               " bytes; the previous file, if any, is unchanged)");
  }
  fs::rename(temporary, target, error);
  if (error) {
    std::error_code ignored;
    fs::remove(temporary, ignored);
    ESRUN_FAIL("cannot rename '", temporary.string(), "' to '", target.string(), "': ", error.message());
  }
}

std::string read_file(const fs::path& source) {
  std::ifstream in(source, std::ios::binary);
  ESRUN_CHECK(in.good(), "cannot read '", source.string(), "'");
  return std::string(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
}

AppendFile::AppendFile(const fs::path& path, bool truncate) : path_(path) {
  fd_ = ::open(path.c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC | (truncate ? O_TRUNC : 0), 0644);
  ESRUN_CHECK(fd_ >= 0, "cannot open '", path.string(), "' for writing: ", std::strerror(errno));
}

AppendFile::AppendFile(AppendFile&& other) noexcept
    : path_(std::move(other.path_)), fd_(std::exchange(other.fd_, -1)) {}

AppendFile& AppendFile::operator=(AppendFile&& other) noexcept {
  if (this != &other) {
    if (fd_ >= 0) ::close(fd_);
    path_ = std::move(other.path_);
    fd_ = std::exchange(other.fd_, -1);
  }
  return *this;
}

AppendFile::~AppendFile() {
  if (fd_ >= 0) ::close(fd_);
}

void AppendFile::append(const std::string& piece) {
  ESRUN_INTERNAL_CHECK(fd_ >= 0, "'", path_.string(), "' is not open");
  const off_t before = ::lseek(fd_, 0, SEEK_END);
  if (write_all(fd_, piece)) return;
  const int reason = errno;
  // Cut the partial piece off again, so that readers never meet half a line or record.
  if (before >= 0 && ::ftruncate(fd_, before) != 0) {
    ESRUN_FAIL("cannot append to '", path_.string(), "': ", std::strerror(reason),
               "; its last line may be cut (truncating it back failed too: ", std::strerror(errno), ")");
  }
  ESRUN_FAIL("cannot append to '", path_.string(), "': ", std::strerror(reason), " (", piece.size(),
             " bytes; the file keeps its whole lines)");
}

}  // namespace esrun
