// What every libFuzzer target of tests/fuzz shares: a scratch folder of its own for the files a
// reader takes by path, quiet logging, configs built as the command line builds them, and the one
// rule of what counts as a finding.
//
// The rule (esrun's contract, core/error.h): bad input ends in an esrun::Error with a clear
// message. So each target catches esrun::Error and nothing else: any other exception (c10::Error,
// nlohmann::json's, cv::Exception, std::out_of_range, ...) escaping a reader has no handler and
// aborts at the throw site (libstdc++ prints its type and what(), libFuzzer the stack and the
// input), as do crashes, sanitizer reports, leaks and hangs. A target that deliberately catches
// more says why next to the catch.
//
// ESRUN_FUZZ_ALLOW_FOREIGN=1 makes `guarded` catch std::exception as well, printing each distinct
// one once ("esrun-fuzz: foreign exception TYPE: first line"): for exploring past a finding that
// is already reported, and for listing the escaping exceptions (never set by scripts/fuzz.sh).
//
// ESRUN_FUZZ_WRITE_SEEDS=DIR makes a target write its seed corpus (valid and nearly valid inputs,
// built with esrun's own writers where it has them) into DIR and exit: that is how
// tests/fuzz/corpus/<name>/ was made (tests/fuzz/README.md).
#pragma once

#include <cxxabi.h>
#include <spdlog/spdlog.h>
#include <torch/torch.h>
#include <unistd.h>

#include <cstdint>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <functional>
#include <set>
#include <string>
#include <string_view>
#include <typeinfo>
#include <vector>

#include "esrun/commands/run.h"
#include "esrun/core/error.h"
#include "esrun/core/rng.h"
#include "esrun/data/dataset.h"
#include "esrun/data/tokenizer.h"

namespace esrun_fuzz {

namespace fs = std::filesystem;

// A folder of this process's own under $ESRUN_FUZZ_SCRATCH (scripts/fuzz.sh sets it to its work
// folder, so that a crashed target leaves nothing behind), else /dev/shm, else $TMPDIR or /tmp;
// removed at a normal exit. Parallel fuzzers (-jobs, -fork) never share files.
inline const fs::path& scratch() {
  static const fs::path path = [] {
    fs::path base = fs::is_directory("/dev/shm") ? fs::path("/dev/shm") : fs::temp_directory_path();
    if (const char* tmp = std::getenv("ESRUN_FUZZ_SCRATCH")) base = tmp;
    fs::path dir = base / ("esrun-fuzz-" + std::to_string(getpid()));
    fs::create_directories(dir);
    std::atexit([] {
      std::error_code ignored;
      fs::remove_all(scratch(), ignored);
    });
    return dir;
  }();
  return path;
}

inline void write_file(const fs::path& path, std::string_view bytes) {
  fs::create_directories(path.parent_path());
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  out.write(bytes.data(), static_cast<std::streamsize>(bytes.size()));
  if (!out) {
    std::fprintf(stderr, "esrun-fuzz: cannot write %s\n", path.c_str());
    std::abort();  // the harness's own failure, not a finding
  }
}

inline std::string_view as_view(const uint8_t* data, size_t size) {
  return {reinterpret_cast<const char*>(data), size};
}

// Parts of an input cut at each '\f' (form feed): one input can hold a training and a test file.
inline std::vector<std::string_view> split_parts(std::string_view bytes, size_t parts) {
  std::vector<std::string_view> out;
  while (out.size() + 1 < parts) {
    const auto at = bytes.find('\f');
    if (at == std::string_view::npos) break;
    out.push_back(bytes.substr(0, at));
    bytes.remove_prefix(at + 1);
  }
  out.push_back(bytes);
  while (out.size() < parts) out.push_back(out.back());  // no cut: the same bytes for every file
  return out;
}

// Once per process: no log lines per execution, one intra-op thread (the machine is shared and
// libFuzzer runs one input at a time).
inline void quiet() {
  spdlog::set_level(spdlog::level::off);
  torch::set_num_threads(1);
}

// The RunConfig `esrun --set ...` would make: the same entry point as the command line.
inline esrun::RunConfig config_with(const std::vector<std::string>& sets) {
  try {
    return esrun::load_config(esrun::RunRequest{{}, sets, std::nullopt});
  } catch (const std::exception& e) {
    std::fprintf(stderr, "esrun-fuzz: the target's own config is rejected: %s\n", e.what());
    std::abort();
  }
}

// The configs a dataset target picks from by its input's first byte (filled in LLVMFuzzerInitialize).
inline std::vector<esrun::RunConfig>& variants() {
  static std::vector<esrun::RunConfig> configs;
  return configs;
}

// A fixed tiny SentencePiece model (vocabulary 60) trained once on `sentences`, written to the
// scratch folder for data.tokenizer.model; returns its path. The readers' targets encode with it
// and never train (fuzz_tokenizer covers training on fuzzed text).
inline fs::path fixed_tokenizer_model(const std::vector<std::string>& sentences) {
  esrun::TokenizerOptions options;
  options.vocab_size = 60;
  const auto path = scratch() / "spm.model";
  write_file(path, esrun::Tokenizer::train(sentences, options, 1).serialized());
  return path;
}

inline bool allow_foreign() {
  static const bool allow = [] {
    const char* v = std::getenv("ESRUN_FUZZ_ALLOW_FOREIGN");
    return v && std::string(v) == "1";
  }();
  return allow;
}

// ESRUN_FUZZ_ALLOW_FOREIGN: the first time an exception of this type and first line is seen.
inline void note_foreign(const std::exception& e) {
  static std::set<std::string> seen;
  int status = 0;
  char* name = abi::__cxa_demangle(typeid(e).name(), nullptr, nullptr, &status);
  const std::string line = std::string(status == 0 && name ? name : typeid(e).name()) + ": " +
                           esrun::libtorch_reason(e).substr(0, 300);
  std::free(name);
  if (seen.size() < 200 && seen.insert(line).second) std::fprintf(stderr, "esrun-fuzz: foreign exception %s\n", line.c_str());
}

// Runs `f`; an esrun::Error is the expected rejection of bad input, anything else escapes (above).
template <typename F>
void guarded(F&& f) {
  if (allow_foreign()) {
    try {
      f();
    } catch (const esrun::Error&) {
    } catch (const std::exception& e) {
      note_foreign(e);
    }
    return;
  }
  try {
    f();
  } catch (const esrun::Error&) {
  }
}

// A dataset target's execution: `bytes` cut at '\f' into one part per file name (split_parts),
// each written to folder/name, then the dataset loaded as a run loads it, guarded.
inline void load_from_files(const esrun::RunConfig& config, const fs::path& folder,
                            const std::vector<std::string>& names, std::string_view bytes) {
  const auto parts = split_parts(bytes, names.size());
  for (size_t i = 0; i < names.size(); ++i) write_file(folder / names[i], parts[i]);
  guarded([&] { (void)esrun::load_dataset(config); });
}

// ESRUN_FUZZ_WRITE_SEEDS: the folder to write seeds into, or empty.
inline std::string seeds_dir() {
  const char* dir = std::getenv("ESRUN_FUZZ_WRITE_SEEDS");
  return dir ? dir : "";
}

// Writes each (name, bytes) seed under `dir` and exits (called from LLVMFuzzerInitialize).
[[noreturn]] inline void write_seeds_and_exit(const std::string& dir,
                                              const std::vector<std::pair<std::string, std::string>>& seeds) {
  fs::create_directories(dir);
  for (const auto& [name, bytes] : seeds) write_file(fs::path(dir) / name, bytes);
  std::fprintf(stderr, "esrun-fuzz: wrote %zu seeds to %s\n", seeds.size(), dir.c_str());
  std::exit(0);
}

// For the readers of sealed archives (checkpoints, scores files; core/sealed_archive.h): the
// archive's bytes with the trailer seal_archive writes after them, "esrun-fnv1a64:" and the
// FNV-1a 64 of the bytes in 16 hex digits. The targets' variant 1 seals the fuzzed bytes so, to
// reach libtorch's reader and esrun's use of what it reads (a checksum only finds accidental
// damage). If the trailer's format changes, variant 0 (the file as it is, seeds made by
// seal_archive itself) still fuzzes the check, and this must follow.
inline std::string with_seal(std::string_view archive) {
  char digits[17];
  std::snprintf(digits, sizeof(digits), "%016llx",
                static_cast<unsigned long long>(esrun::fnv1a64(archive)));
  return std::string(archive) + "esrun-fnv1a64:" + digits;
}

// Writes a sealed-archive target's input to `path`: byte 0 even, the rest as it is (variant 0);
// odd, the rest sealed (variant 1). Returns false for an empty input.
inline bool write_archive_input(const fs::path& path, const uint8_t* data, size_t size) {
  if (size == 0) return false;
  const auto bytes = as_view(data + 1, size - 1);
  write_file(path, data[0] % 2 == 0 ? std::string(bytes) : with_seal(bytes));
  return true;
}

// The archive inside a sealed file (without the trailer), for seeds of variant 1.
inline std::string without_seal(const std::string& file) {
  constexpr size_t kTrailer = 14 + 16;
  return file.size() > kTrailer && file.compare(file.size() - kTrailer, 14, "esrun-fnv1a64:") == 0
             ? file.substr(0, file.size() - kTrailer)
             : file;
}

// A seed whose first byte picks the target's variant.
inline std::string tagged(uint8_t variant, const std::string& bytes) {
  return std::string(1, static_cast<char>(variant)) + bytes;
}

// The seeds of a sealed-archive target: each sealed file as it is (variant 0) and its archive
// without the trailer, for the target to seal (variant 1, "to-seal-<name>").
inline std::vector<std::pair<std::string, std::string>> sealed_seeds(
    const std::vector<std::pair<std::string, std::string>>& files) {
  std::vector<std::pair<std::string, std::string>> seeds;
  for (const auto& [name, bytes] : files) {
    seeds.emplace_back(name, tagged(0, bytes));
    seeds.emplace_back("to-seal-" + name, tagged(1, without_seal(bytes)));
  }
  return seeds;
}

inline std::string read_bytes(const fs::path& path) {
  std::ifstream in(path, std::ios::binary);
  return std::string(std::istreambuf_iterator<char>(in), {});
}

}  // namespace esrun_fuzz
