#include "esrun/core/scores_file.h"

#include <spdlog/fmt/fmt.h>

#include "esrun/core/error.h"
#include "esrun/core/files.h"
#include "esrun/core/sealed_archive.h"

namespace esrun {

namespace {
constexpr const char* kFormat = "esrun-scores/1";
}  // namespace

nlohmann::json to_json(const DataIdentity& data) {
  return {{"dataset", data.dataset}, {"train_size", data.train_size}, {"checksum", data.checksum}};
}

void write_scores(const std::filesystem::path& file, const ScoresFile& scores) {
  torch::serialize::OutputArchive archive;
  nlohmann::json meta = scores.meta;
  meta["format"] = kFormat;
  archive.write("scores", scores.scores.to(torch::kCPU, torch::kDouble).contiguous());
  archive.write("excluded", scores.excluded.defined() ? scores.excluded.to(torch::kCPU, torch::kBool)
                                                      : torch::zeros_like(scores.scores, torch::kBool).cpu());
  archive.write("meta", c10::IValue(meta.dump()));
  write_file_atomic(file, seal_archive(archive));
}

ScoresFile read_scores(const std::string& file, const std::string& where, const DataIdentity& data) {
  ESRUN_CHECK(std::filesystem::is_regular_file(file), where, ": scores file '", file,
              "' does not exist; make it with esrun score --config CONFIG --method METHOD --out ", file);
  ScoresFile out;
  torch::serialize::InputArchive archive;
  try {
    archive = open_sealed_archive(file, "the scores file");
  } catch (const Error& e) {
    ESRUN_FAIL(where, ": ", e.what());
  }
  try {
    c10::IValue meta;
    archive.read("meta", meta);
    out.meta = nlohmann::json::parse(meta.toStringRef());
    archive.read("scores", out.scores);
    archive.read("excluded", out.excluded);
  } catch (const nlohmann::json::exception& e) {
    ESRUN_FAIL(where, ": '", file, "' has unreadable metadata (", e.what(), ")");
  } catch (const std::exception& e) {  // c10::Error, or TorchScript's error for another kind of archive
    ESRUN_FAIL(where, ": '", file, "' is not an esrun scores file (", libtorch_reason(e), ")");
  }
  std::string made_for;
  try {
    ESRUN_CHECK(out.meta.value("format", "") == kFormat, where, ": '", file, "' is not an esrun scores file (format '",
                out.meta.value("format", ""), "', expected ", kFormat, ")");
    const auto& made = out.meta.at("data");
    made_for = fmt::format("{} with {} training samples (checksum {})", made.at("dataset").get<std::string>(),
                           made.at("train_size").get<int64_t>(), made.at("checksum").get<std::string>());
  } catch (const nlohmann::json::exception& e) {
    ESRUN_FAIL(where, ": '", file, "' has incomplete metadata (", e.what(), ")");
  }
  const std::string runs_on =
      fmt::format("{} with {} training samples (checksum {})", data.dataset, data.train_size, data.checksum);
  ESRUN_CHECK(made_for == runs_on, where, ": '", file, "' was made for ", made_for, ", but this run trains on ", runs_on,
              " (another dataset, subset, data seed or label noise); score this config's data with esrun score");
  ESRUN_CHECK(out.scores.layout() == torch::kStrided && out.excluded.layout() == torch::kStrided &&
                  out.scores.is_floating_point(),
              where, ": '", file, "' is not an esrun scores file (its scores are not a dense floating-point tensor)");
  ESRUN_CHECK(out.scores.dim() == 1 && out.scores.size(0) == data.train_size && out.excluded.sizes() == out.scores.sizes(),
              where, ": '", file, "' holds ", out.scores.numel(), " scores for ", data.train_size, " training samples");
  out.scores = out.scores.to(torch::kDouble);
  out.excluded = out.excluded.to(torch::kBool);
  const auto bad = torch::nonzero(~torch::isfinite(out.scores)).flatten();
  ESRUN_CHECK(bad.numel() == 0, where, ": '", file, "' has ", bad.numel(), " non-finite scores (the first at row ",
              bad.numel() > 0 ? bad[0].item<int64_t>() : 0, ")");
  return out;
}

}  // namespace esrun
