// Child esrun processes: graceful stop on SIGINT/SIGTERM/SIGUSR1, the exit codes, the lock that
// keeps two runs out of one run directory; and the progress display.
#include <catch2/catch.hpp>
#include <fcntl.h>
#include <signal.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstdlib>
#include <thread>

#include "esrun/commands/run.h"
#include "esrun/core/sanitizer.h"
#include "esrun/core/stop.h"
#include "esrun/metrics/progress.h"
#include "helpers.h"

extern char** environ;

using Catch::Matchers::Contains;
using esrun::testing::TempDir;

namespace {

// Starts `esrun` with these arguments, its stdout and stderr going to `log`.
pid_t spawn_esrun(const std::vector<std::string>& args, const std::string& log) {
  std::vector<std::string> argv_storage{ESRUN_BINARY};
  argv_storage.insert(argv_storage.end(), args.begin(), args.end());
  std::vector<char*> argv;
  for (auto& a : argv_storage) argv.push_back(a.data());
  argv.push_back(nullptr);
  posix_spawn_file_actions_t files;
  posix_spawn_file_actions_init(&files);
  posix_spawn_file_actions_addopen(&files, STDOUT_FILENO, log.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
  posix_spawn_file_actions_adddup2(&files, STDOUT_FILENO, STDERR_FILENO);
  pid_t pid = -1;
  const int failed = posix_spawn(&pid, ESRUN_BINARY, &files, nullptr, argv.data(), environ);
  posix_spawn_file_actions_destroy(&files);
  REQUIRE(failed == 0);
  return pid;
}

// Waits (polling) until the run has written its first checkpoint (after epoch 1); false if the
// child ended first or nothing happened for a long while (a guard against hanging, not a speed
// requirement).
bool wait_for_checkpoint(pid_t pid, const std::filesystem::path& run_dir) {
  for (int i = 0; i < 6000; ++i) {
    if (std::filesystem::exists(run_dir / "checkpoints" / "last.pt")) return true;
    if (waitpid(pid, nullptr, WNOHANG) == pid) return false;
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  kill(pid, SIGKILL);
  waitpid(pid, nullptr, 0);
  return false;
}

int exit_code(pid_t pid) {
  int status = 0;
  REQUIRE(waitpid(pid, &status, 0) == pid);
  REQUIRE(WIFEXITED(status));
  return WEXITSTATUS(status);
}

std::vector<std::string> long_run(const TempDir& dir) {
  esrun::testing::write_cifar10_layout(dir.path() / "cifar", 40, 40);
  return {"--set", "data.name=cifar10", "--set", "data.root=" + (dir.path() / "cifar").string(),
          "--set", "model={name: small_cnn, width: 8}", "--set", "train.epochs=500", "--set", "threads=1",
          "--set", "sampler={name: es, meta_batch: 8}", "--set", "progress={mode: lines, every: 0.001}",
          "--out", dir / "run"};
}

}  // namespace

TEST_CASE("SIGTERM or SIGUSR1 stops a run after its current step with a checkpoint and exit code 3",
          "[signals][cli]") {
  for (const int signal : {SIGTERM, SIGUSR1}) {
    INFO(esrun::signal_name(signal));
    TempDir dir;
    const std::string log = dir / "log.txt";
    const pid_t child = spawn_esrun(long_run(dir), log);
    REQUIRE(wait_for_checkpoint(child, dir.path() / "run"));
    kill(child, signal);
    CHECK(exit_code(child) == esrun::kInterruptedExitCode);
    const std::string text = esrun::testing::read_file(log);
    CHECK_THAT(text, Contains(std::string("stopped by ") + esrun::signal_name(signal)) &&
                         Contains("--resume") && Contains("step "));
    CHECK(std::filesystem::exists(dir.path() / "run" / "checkpoints" / "last.pt"));
    CHECK_FALSE(std::filesystem::exists(dir.path() / "run" / "summary.json"));
    const auto before = esrun::testing::read_jsonl(dir.path() / "run" / "metrics.jsonl").size();

    // The checkpoint continues: the rest of the interrupted epoch (or the next one), then stop.
    auto resume = esrun::testing::resume_request(dir / "run");
    resume.stop_after = 1;
    CHECK_FALSE(esrun::run(resume).finished);
    CHECK(esrun::testing::read_jsonl(dir.path() / "run" / "metrics.jsonl").size() == before + 1);
  }
}

TEST_CASE("A second signal exits at once without writing a checkpoint", "[signals][cli]") {
  TempDir dir;
  const pid_t child = spawn_esrun(long_run(dir), dir / "log.txt");
  REQUIRE(wait_for_checkpoint(child, dir.path() / "run"));
  // The second signal only once the first has been taken: two pending signals are delivered
  // lowest number first, whatever order they were sent in.
  kill(child, SIGTERM);
  for (int i = 0; i < 2000 && esrun::testing::read_file(dir / "log.txt").find("stop requested") == std::string::npos; ++i)
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  kill(child, SIGINT);
  const int code = exit_code(child);
  // Almost always the second signal lands before the step ends (128 + SIGINT); if the child was
  // faster, it stopped gracefully. Either way the checkpoint on disk is a whole one.
  CHECK((code == 128 + SIGINT || code == esrun::kInterruptedExitCode));
  CHECK_FALSE(std::filesystem::exists(dir.path() / "run" / "checkpoints" / "last.pt.tmp"));
  auto resume = esrun::testing::resume_request(dir / "run");
  resume.stop_after = 1;
  CHECK_FALSE(esrun::run(resume).finished);
}

TEST_CASE("A second esrun cannot write into a run directory in use, and takes over the lock of a killed one",
          "[lock][cli]") {
  TempDir dir;
  const pid_t child = spawn_esrun(long_run(dir), dir / "log.txt");
  REQUIRE(wait_for_checkpoint(child, dir.path() / "run"));
  const auto metrics = dir.path() / "run" / "metrics.jsonl";
  const std::string before = esrun::testing::read_file(metrics.string());
  // Resuming (which rewrites metrics.jsonl) and a fresh run into the same --out are both refused,
  // naming the process that holds the directory, before anything is written.
  auto resume = esrun::testing::resume_request(dir / "run");
  resume.stop_after = 1;
  const std::string holder = "esrun pid " + std::to_string(child) + " on host ";
  REQUIRE_THROWS_WITH(esrun::run(resume), Contains("the run directory '" + (dir / "run") + "' is in use by " + holder) &&
                                              Contains("lock file " + (dir / "run") + "/esrun.lock"));
  esrun::RunRequest fresh{{}, {"train.epochs=1"}, dir / "run"};
  REQUIRE_THROWS_WITH(esrun::run(fresh), Contains("is in use by " + holder));
  const std::string during = esrun::testing::read_file(metrics.string());
  CHECK(during.substr(0, before.size()) == before);  // the running process's lines, only ever appended to
  // A killed run leaves its lock file behind; the next esrun finds it stale and takes it over.
  kill(child, SIGKILL);
  waitpid(child, nullptr, 0);
  REQUIRE(std::filesystem::exists(dir.path() / "run" / "esrun.lock"));
  CHECK_FALSE(esrun::run(resume).finished);
  CHECK_FALSE(std::filesystem::exists(dir.path() / "run" / "esrun.lock"));  // removed when the run ends
}

// AddressSanitizer reserves terabytes of address space, which an address-space limit forbids.
#ifndef ESRUN_ADDRESS_SANITIZER
TEST_CASE("An internal error exits 1 with one line that points to ESRUN_DEBUG", "[errors][cli]") {
  // Memory running out is no bad input (the config runs on a larger machine) and no way to go on:
  // 40 GB of hidden-layer weights under a 16 GiB address-space limit.
  TempDir dir;
  const auto command = [&](const std::string& environment) {
    const std::string esrun = environment + " " + ESRUN_BINARY + " --config " + ESRUN_SOURCE_DIR +
                              "/configs/linear_mlp.yaml --set model.hidden=[100000,100000] --set threads=1 --out " +
                              (dir / "run") + " > " + (dir / "log.txt") + " 2>&1";
    const int status = std::system(("bash -c 'ulimit -v 16777216; exec env " + esrun + "'").c_str());
    REQUIRE(WIFEXITED(status));
    return std::make_pair(WEXITSTATUS(status), esrun::testing::read_file(dir / "log.txt"));
  };
  const auto [code, log] = command("ESRUN_DEBUG=0");
  CHECK(code == 1);
  CHECK_THAT(log, Contains("internal error: ") && Contains("(ESRUN_DEBUG=1 shows the full message and backtrace)"));
  CHECK(log.find("Exception raised from") == std::string::npos);
  CHECK(log.find("frame #") == std::string::npos);
  const auto error_line = log.substr(log.find("internal error"));
  CHECK(error_line.find('\n') == error_line.size() - 1);  // one line
  // ESRUN_DEBUG=1 shows libtorch's whole message, its backtrace included.
  std::filesystem::remove_all(dir.path() / "run");
  const auto [debug_code, debug_log] = command("ESRUN_DEBUG=1");
  CHECK(debug_code == 1);
  CHECK_THAT(debug_log, Contains("frame #0"));
}
#endif

TEST_CASE("Progress reports step, epoch, running loss, images per second and the ETA", "[progress]") {
  esrun::StepProgress p;
  p.epoch = 0, p.epochs = 3, p.step = 5, p.steps = 10, p.images = 500, p.seconds = 10;
  p.loss_sum = torch::tensor(12.5, torch::kDouble);
  p.trained = 5;
  // 2 s per step: 10 s left in this epoch, then 2 epochs estimated at 20 s each.
  CHECK(esrun::ProgressReporter(esrun::ProgressMode::Lines, 30).describe(p) ==
        "epoch 1/3 step 5/10  loss 2.5000  50 img/s  ETA 50s");
  esrun::ProgressReporter bar(esrun::ProgressMode::Bar, 30);
  bar.epoch_done(100);  // a finished epoch took 100 s: later epochs are estimated from it
  CHECK(bar.describe(p) == "epoch 1/3 [############............] step 5/10  loss 2.5000  50 img/s  ETA 3m30s");
}
