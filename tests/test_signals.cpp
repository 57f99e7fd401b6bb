// Graceful stop on SIGINT/SIGTERM/SIGUSR1 in a child esrun process, and the progress display.
#include <catch2/catch.hpp>
#include <fcntl.h>
#include <signal.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <thread>

#include "esrun/core/stop.h"
#include "esrun/metrics/progress.h"
#include "esrun/run.h"
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
  kill(child, SIGTERM);
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
