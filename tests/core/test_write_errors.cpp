// Writes that fail (a full disk, a file size limit): every file esrun writes reports the failure
// naming the file, keeps whole lines and records only, and a run that cannot write stops with its
// last good checkpoint. The failures are real ones: RLIMIT_FSIZE makes the kernel refuse (EFBIG)
// any write past the limit, as a full disk refuses one (ENOSPC).
#include <catch2/catch.hpp>
#include <sys/resource.h>
#include <sys/wait.h>

#include <csignal>
#include <cstdlib>
#include <filesystem>

#include "esrun/commands/run.h"
#include "esrun/core/files.h"
#include "esrun/metrics/run_directory.h"
#include "esrun/metrics/tensorboard.h"
#include "helpers.h"

using Catch::Matchers::Contains;
using esrun::testing::TempDir;

namespace {

// While alive, this process may not grow any file past `bytes` (and the signal the kernel sends
// then is ignored, as esrun's main ignores it).
class FileSizeLimit {
 public:
  explicit FileSizeLimit(rlim_t bytes) {
    REQUIRE(getrlimit(RLIMIT_FSIZE, &saved_) == 0);
    previous_handler_ = std::signal(SIGXFSZ, SIG_IGN);
    rlimit limit{bytes, saved_.rlim_max};
    REQUIRE(setrlimit(RLIMIT_FSIZE, &limit) == 0);
  }
  ~FileSizeLimit() {
    setrlimit(RLIMIT_FSIZE, &saved_);
    std::signal(SIGXFSZ, previous_handler_);
  }
  FileSizeLimit(const FileSizeLimit&) = delete;
  FileSizeLimit& operator=(const FileSizeLimit&) = delete;

 private:
  rlimit saved_{};
  void (*previous_handler_)(int) = SIG_DFL;
};

}  // namespace

TEST_CASE("A line the disk cannot take is cut off again, so the file keeps whole lines only", "[errors][files]") {
  TempDir dir;
  const std::string path = dir / "metrics.jsonl";
  const std::string line = "{\"epoch\": 1, \"padding\": \"" + std::string(90, 'x') + "\"}\n";  // 118 bytes
  {
    esrun::AppendFile file(path, /*truncate=*/true);
    FileSizeLimit limit(1000);  // 8 lines fit, the 9th would cross the limit mid-line
    int written = 0;
    REQUIRE_THROWS_WITH(
        [&] {
          for (; written < 20; ++written) file.append(line);
        }(),
        Contains("cannot append to '" + path + "'") && Contains("File too large") && Contains("keeps its whole lines"));
    CHECK(written == 8);
  }
  const std::string content = esrun::testing::read_file(path);
  CHECK(content.size() == 8 * line.size());
  CHECK(content.back() == '\n');
  CHECK(esrun::testing::read_jsonl(path).size() == 8);
}

TEST_CASE("A whole file that cannot be written leaves the previous one and no temporary file", "[errors][files]") {
  TempDir dir;
  const std::string path = dir / "summary.json";
  esrun::write_file_atomic(path, "old");
  {
    FileSizeLimit limit(100);
    REQUIRE_THROWS_WITH(esrun::write_file_atomic(path, std::string(1000, 'n')),
                        Contains("cannot write '" + path + "'") && Contains("File too large") &&
                            Contains("the previous file, if any, is unchanged"));
  }
  CHECK(esrun::testing::read_file(path) == "old");
  CHECK_FALSE(std::filesystem::exists(path + ".tmp"));
}

TEST_CASE("TensorBoard records the disk cannot take are cut off, and the file still reads back", "[errors][tensorboard]") {
  TempDir dir;
  esrun::TensorBoardWriter writer(dir.path() / "tb");
  writer.scalars(1, {{"loss", 1.0}});
  writer.flush();
  const auto size = std::filesystem::file_size(writer.path());
  {
    FileSizeLimit limit(size + 20);  // less than one more record
    for (int step = 2; step < 6; ++step) writer.scalars(step, {{"loss", 1.0 / step}});
    REQUIRE_THROWS_WITH(writer.flush(), Contains("cannot append to '" + writer.path().string() + "'"));
  }
  CHECK(std::filesystem::file_size(writer.path()) == size);
  CHECK(esrun::read_tensorboard_events(writer.path()).size() == 2);
}

TEST_CASE("A run that cannot write its checkpoint stops with exit code 2 and keeps the last good one",
          "[errors][e2e][cli]") {
  TempDir dir;
  esrun::testing::write_cifar10_layout(dir.path() / "cifar", 40, 40);
  const std::vector<std::string> sets = {"data.name=cifar10", "data.root=" + (dir.path() / "cifar").string(),
                                         "model={name: small_cnn, width: 8}", "train.epochs=3", "threads=1",
                                         "sampler={name: uniform, meta_batch: 32}", "logging.tensorboard=true",
                                         "checkpoint.every=1"};
  esrun::RunRequest first{{}, sets, dir / "run"};
  first.stop_after = 1;
  esrun::run(first);
  const auto last = dir.path() / "run" / "checkpoints" / "last.pt";
  const std::string good = esrun::testing::read_file(last.string());
  // The same run resumed in a process that may write no file as large as a checkpoint: epoch 2's
  // metrics line fits, its checkpoint does not.
  const auto kib = good.size() / 1024 - 1;
  const std::string command = "ulimit -f " + std::to_string(kib) + "; exec " + std::string(ESRUN_BINARY) +
                              " --resume " + (dir / "run") + " > " + (dir / "log.txt") + " 2>&1";
  const int status = std::system(("bash -c '" + command + "'").c_str());
  REQUIRE(WIFEXITED(status));
  CHECK(WEXITSTATUS(status) == 2);
  const std::string log = esrun::testing::read_file(dir / "log.txt");
  CHECK_THAT(log, Contains("cannot write '" + last.string() + "': File too large"));
  CHECK(log.find("internal error") == std::string::npos);
  CHECK(esrun::testing::read_file(last.string()) == good);  // the last good checkpoint, untouched
  CHECK_FALSE(std::filesystem::exists(last.string() + ".tmp"));
  CHECK(esrun::testing::read_jsonl(dir.path() / "run" / "metrics.jsonl").size() == 2);  // whole lines only
  // With room again, the run resumes from that checkpoint (epoch 2 again) and finishes.
  const auto result = esrun::run(esrun::testing::resume_request(dir / "run"));
  CHECK(result.finished);
  CHECK(esrun::testing::metrics(result).size() == 3);
}
