// esrun: parses the command line and calls the library. The only place that catches esrun::Error.
#include <CLI/CLI.hpp>
#include <spdlog/sinks/stdout_color_sinks.h>
#include <spdlog/spdlog.h>

#include <csignal>
#include <cstdlib>
#include <filesystem>
#include <iostream>

#include "esrun/commands/bench.h"
#include "esrun/commands/list.h"
#include "esrun/commands/print_config.h"
#include "esrun/commands/run.h"
#include "esrun/commands/score.h"
#include "esrun/core/build_info.h"
#include "esrun/core/error.h"
#include "esrun/core/stop.h"

int main(int argc, char** argv) {
  // A file size limit (ulimit -f) makes the write that crosses it fail with EFBIG, reported as the
  // error of that write, instead of killing esrun mid-file.
  std::signal(SIGXFSZ, SIG_IGN);
  // Logs and errors go to stderr; stdout carries only what a command prints (YAML, JSON, lists).
  spdlog::set_default_logger(spdlog::stderr_color_mt("esrun"));
  CLI::App app{"esrun: data-efficient deep-learning training experiments from one YAML file"};
  app.set_version_flag("--version", [] { return esrun::version_text(esrun::build_info()); },
                       "print esrun's and libtorch's versions and whether CUDA is compiled in");
  esrun::RunRequest request;
  std::string out;
  app.add_option("-c,--config", request.configs, "YAML config file; several are applied in order")
      ->allow_extra_args(false);
  app.add_option("-s,--set", request.sets, "override key.path=value (value parsed as YAML); repeatable")
      ->allow_extra_args(false);
  app.add_option("-o,--out", out, "run directory (default <out_root>/<name>/<timestamp>-s<seed>)");
  std::string resume;
  app.add_option("--resume", resume, "continue the run in this directory from its checkpoints/last.pt");
  int64_t stop_after = 0;
  app.add_option("--stop-after-epochs", stop_after, "checkpoint and stop after this many epochs (then --resume)")
      ->check(CLI::Range(int64_t{1}, int64_t{1000000}));

  auto* run = app.add_subcommand("run", "train the configured experiment (the default)");
  auto* validate = app.add_subcommand("validate", "check a config without training");
  auto* print = app.add_subcommand(
      "print-config", "print the config a run uses as YAML, policy defaults resolved and marked by a comment");
  bool defaults = false;
  std::string format = "yaml";
  print->add_flag("--defaults", defaults, "print every key with its default and help");
  print->add_option("--format", format, "yaml or markdown (docs/config.md)")->check(CLI::IsMember({"yaml", "markdown"}));
  bool each = false;
  print->add_flag("--each", each,
                  "resolve each --config file on its own (with every --set) and print one YAML document per file, "
                  "headed '--- # FILE', in the order given: many configs for one start of the binary")
      ->excludes("--defaults");
  auto* list = app.add_subcommand("list", "print registered names with their help");
  std::string kind;
  list->add_option("kind", kind, "models, datasets, tasks, samplers, scorers, optimizers or schedules");
  auto* bench = app.add_subcommand("bench", "time data, scoring forward and training step at the meta-batch size");
  esrun::BenchOptions bench_options;
  bench->add_option("--steps", bench_options.steps, "timed steps per phase")->capture_default_str();
  bench->add_option("--warmup", bench_options.warmup, "untimed steps first")->capture_default_str();
  bench->add_option("--policy-n", bench_options.policy_n,
                    "also time the sampler's select + observe per meta-batch with a training set of this size");
  auto* score = app.add_subcommand("score", "write one score per training sample (static_prune, rho_loss read them)");
  std::string method, scores_out;
  score->add_option("-m,--method", method, "scoring method (esrun list scorers); default score.method");
  score->add_option("-o,--out", scores_out, "the scores file to write (default score.out); the scoring runs go to <file without extension>-runs/");
  for (auto* sub : {run, validate, print, list, bench, score}) sub->fallthrough();
  app.require_subcommand(0, 1);
  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    // --help and --version end here with 0; any other command-line error is bad input, as a bad
    // config is: exit code 2, not the parser's own codes.
    return app.exit(e) == 0 ? 0 : 2;
  }
  if (!out.empty()) request.out = out;
  if (!resume.empty()) request.resume = resume;
  if (stop_after > 0) request.stop_after = stop_after;

  try {
    if (*list) {
      std::cout << esrun::list_registered(kind);
    } else if (*print) {
      if (defaults) {
        std::cout << (format == "markdown" ? esrun::defaults_markdown() : esrun::defaults_yaml());
      } else if (each) {
        esrun::print_each(request, std::cout);
      } else {
        std::cout << esrun::load_config(request).resolved.to_yaml(/*notes=*/true);
      }
    } else if (*bench) {
      std::cout << esrun::bench_throughput(request, bench_options).dump(2) << "\n";
    } else if (*score) {
      esrun::install_stop_handlers();
      esrun::ScoreRequest scoring{request, scores_out.empty() ? std::nullopt : std::optional<std::string>(scores_out)};
      if (!method.empty()) scoring.run.sets.push_back("score.method=" + method);
      if (esrun::score(scoring).stop_signal != 0) return esrun::kInterruptedExitCode;
    } else if (*validate) {
      esrun::check_environment(esrun::load_config(request));
      std::cout << "config OK\n";
    } else {
      esrun::install_stop_handlers();
      if (esrun::run(request).stop_signal != 0) return esrun::kInterruptedExitCode;
    }
  } catch (const esrun::Error& e) {
    spdlog::error("{}", e.what());
    return 2;
  } catch (const std::filesystem::filesystem_error& e) {
    // A path the user named that cannot be made or written (a file where a folder must be, no
    // permission): bad input, with the path in the message.
    spdlog::error("{}", e.what());
    return 2;
  } catch (const std::exception& e) {
    // One line, never a libtorch backtrace, unless ESRUN_DEBUG asks for the whole message.
    const char* debug = std::getenv("ESRUN_DEBUG");
    if (debug && std::string(debug) == "1") {
      spdlog::error("internal error: {}", e.what());
    } else {
      spdlog::error("internal error: {} (ESRUN_DEBUG=1 shows the full message and backtrace)", esrun::libtorch_reason(e));
    }
    return 1;
  }
  return 0;
}
