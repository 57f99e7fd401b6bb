// Test helpers: temporary folders, tiny CIFAR files in the official format, config files.
#pragma once

#include <torch/torch.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <sstream>
#include <string>
#include <vector>

#include "esrun/commands/run.h"
#include "esrun/commands/score.h"

namespace esrun::testing {

class TempDir {
 public:
  TempDir() {
    std::string pattern = (std::filesystem::temp_directory_path() / "esrun-test-XXXXXX").string();
    path_ = mkdtemp(pattern.data());
  }
  ~TempDir() {
    std::error_code ignored;
    std::filesystem::remove_all(path_, ignored);
  }
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;
  const std::filesystem::path& path() const { return path_; }
  std::string operator/(const std::string& name) const { return (path_ / name).string(); }

 private:
  std::filesystem::path path_;
};

inline std::string read_file(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  return std::string(std::istreambuf_iterator<char>(in), {});
}

inline std::string write_file(const std::string& path, const std::string& content) {
  std::filesystem::create_directories(std::filesystem::path(path).parent_path());
  std::ofstream(path, std::ios::binary) << content;
  return path;
}

// CIFAR records: `label_bytes` label bytes (the last is labels[i], a coarse label labels[i] / 5
// before it for CIFAR-100) then 3072 pixel bytes. Pixels of record i are a class-dependent
// pattern so a model can learn them: brightness rises with the label, plus noise.
inline void write_cifar(const std::string& path, const std::vector<int>& labels, int label_bytes, uint64_t seed = 1) {
  std::string bytes;
  uint64_t state = seed;
  for (size_t i = 0; i < labels.size(); ++i) {
    if (label_bytes == 2) bytes.push_back(static_cast<char>(labels[i] / 5));
    bytes.push_back(static_cast<char>(labels[i]));
    for (int p = 0; p < 3072; ++p) {
      state = state * 6364136223846793005ULL + 1442695040888963407ULL;
      const int noise = static_cast<int>((state >> 33) % 40);
      const int channel = p / 1024, row = (p % 1024) / 32;
      const int base = (labels[i] % 10) * 20 + (row < 16 ? 10 * channel : 0);
      bytes.push_back(static_cast<char>(std::min(255, base + noise)));
    }
  }
  write_file(path, bytes);
}

inline std::vector<int> cycle_labels(int count, int classes) {
  std::vector<int> labels;
  for (int i = 0; i < count; ++i) labels.push_back(i % classes);
  return labels;
}

// A full official CIFAR-10 layout of tiny files: 5 train batches of `per_batch`, one test batch.
inline void write_cifar10_layout(const std::filesystem::path& root, int per_batch, int test_count) {
  for (int b = 1; b <= 5; ++b)
    write_cifar((root / ("data_batch_" + std::to_string(b) + ".bin")).string(), cycle_labels(per_batch, 10), 1, b);
  write_cifar((root / "test_batch.bin").string(), cycle_labels(test_count, 10), 1, 99);
}

// The config of `sets` (key=value overrides of the defaults), as a run would load it.
inline esrun::RunConfig config_from_sets(const std::vector<std::string>& sets) {
  return esrun::load_config(esrun::RunRequest{{}, sets, std::nullopt});
}

// What `from.save()` writes, serialised to bytes and read back as a checkpoint would be.
template <typename Saver>
torch::serialize::InputArchive saved_archive(const Saver& from) {
  torch::serialize::OutputArchive out;
  from.save(out);
  std::stringstream bytes;
  out.save_to(bytes);
  torch::serialize::InputArchive in;
  in.load_from(bytes);
  return in;
}

// Saves `from` and loads the bytes into `to`, as a checkpoint round trip does.
template <typename Saver, typename Loader>
void round_trip(const Saver& from, Loader& to) {
  auto in = saved_archive(from);
  to.load(in);
}

// One tensor of what `from.save()` writes.
template <typename Saver>
torch::Tensor saved_tensor(const Saver& from, const std::string& key) {
  auto in = saved_archive(from);
  torch::Tensor value;
  in.read(key, value);
  return value;
}

inline std::vector<nlohmann::json> read_jsonl(const std::filesystem::path& path) {
  std::vector<nlohmann::json> out;
  std::ifstream in(path);
  for (std::string line; std::getline(in, line);) out.push_back(nlohmann::json::parse(line));
  return out;
}

// A request that resumes the run in `run_dir`, with `sets` overriding its saved config.
inline esrun::RunRequest resume_request(const std::filesystem::path& run_dir, std::vector<std::string> sets = {}) {
  esrun::RunRequest request{{}, std::move(sets), std::nullopt};
  request.resume = run_dir.string();
  return request;
}

// Runs `sets` into `out`, stopping (as a signal would) after `first` steps, then resumes it,
// `later` steps per invocation, until it finishes. Returns the last result and the number of
// invocations (at most 30).
inline std::pair<esrun::RunResult, int> run_in_pieces(const std::vector<std::string>& sets, const std::string& out,
                                                      int64_t first, int64_t later) {
  esrun::RunRequest request{{}, sets, out};
  request.stop_after_steps = first;
  auto result = esrun::run(request);
  int invocations = 1;
  for (; !result.finished && invocations < 30; ++invocations) {
    auto again = resume_request(out);
    again.stop_after_steps = later;
    result = esrun::run(again);
  }
  return {result, invocations};
}

// A finished or stopped run's metrics records, one per epoch.
inline std::vector<nlohmann::json> metrics(const esrun::RunResult& result) {
  return read_jsonl(result.run_dir / "metrics.jsonl");
}

// Metrics records without their time fields, which differ between runs.
inline nlohmann::json without_times(nlohmann::json record) {
  record.erase("time");
  return record;
}
inline std::vector<nlohmann::json> without_times(std::vector<nlohmann::json> records) {
  for (auto& r : records) r.erase("time");
  return records;
}

// static_prune and rho_loss read a scores file: made here by esrun score from `sets` (random
// scores; for rho_loss the irreducible losses of a one-epoch holdout model) and named in `sets`.
inline void with_scores(std::vector<std::string>& sets, const std::string& sampler, const std::filesystem::path& folder) {
  if (sampler != "static_prune" && sampler != "rho_loss") return;
  const std::string file = (folder / (sampler + "-scores.pt")).string();
  sets.push_back("sampler.scores=" + file);
  std::vector<std::string> scoring = sets;
  scoring.push_back(sampler == "rho_loss" ? "score.method=irreducible_loss" : "score.method=random");
  scoring.push_back("score.epoch=1");
  if (!esrun::score(esrun::ScoreRequest{esrun::RunRequest{{}, scoring, std::nullopt}, file}).finished)
    throw std::runtime_error("esrun score did not finish " + file);
}

}  // namespace esrun::testing
