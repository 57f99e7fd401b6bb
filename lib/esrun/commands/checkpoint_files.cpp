#include "esrun/commands/checkpoint_files.h"

#include "esrun/core/error.h"
#include "esrun/core/sealed_archive.h"
#include "esrun/metrics/records.h"
#include "esrun/train/trainer.h"

namespace esrun {

namespace fs = std::filesystem;

void write_checkpoint(const std::optional<RunDirectory>& dir, const std::string& file, Trainer& trainer,
                      int64_t next_epoch, const std::string& config_hash, const std::vector<nlohmann::json>& records,
                      const std::vector<nlohmann::json>& evaluations) {
  torch::serialize::OutputArchive archive, state;
  trainer.save(state);
  if (!dir) return;
  archive.write("trainer", state);
  archive.write("world_size", torch::tensor(static_cast<int64_t>(trainer.replicas().world_size()), torch::kLong));
  archive.write("next_epoch", torch::tensor(next_epoch, torch::kLong));
  archive.write("config_hash", c10::IValue(config_hash));
  archive.write("metrics", c10::IValue(json_lines(records)));
  archive.write("evaluations", c10::IValue(json_lines(evaluations)));
  const std::string bytes = seal_archive(archive);
  // The previous last.pt stays as last.prev.pt (a hard link: no copy), so that a damaged last.pt
  // still leaves a checkpoint to resume from; each file is replaced by a rename, never half written.
  const fs::path previous = dir->path() / "checkpoints" / file;
  if (file == "last.pt" && fs::exists(previous)) {
    const fs::path link = dir->path() / "checkpoints" / "last.prev.pt.tmp";
    std::error_code error;
    fs::remove(link, error);
    if (!error) fs::create_hard_link(previous, link, error);
    if (!error) fs::rename(link, dir->path() / "checkpoints" / "last.prev.pt", error);
    ESRUN_CHECK(!error, "cannot keep '", previous.string(), "' as last.prev.pt: ", error.message());
  }
  dir->write_atomic("checkpoints/" + file, bytes);
}

Checkpoint read_checkpoint(const fs::path& file) {
  Checkpoint checkpoint;
  torch::serialize::InputArchive archive = open_sealed_archive(file.string(), "the checkpoint");
  torch::Tensor next_epoch;
  archive.read("next_epoch", next_epoch);
  checkpoint.next_epoch = next_epoch.item<int64_t>();
  c10::IValue metrics, evaluations;
  archive.read("metrics", metrics);
  checkpoint.records = parse_json_lines(metrics.toStringRef());
  if (archive.try_read("evaluations", evaluations)) checkpoint.evaluations = parse_json_lines(evaluations.toStringRef());
  archive.read("trainer", checkpoint.trainer);
  torch::Tensor saved_world = torch::tensor(int64_t{1});
  archive.try_read("world_size", saved_world);  // none: written by one process
  checkpoint.world_size = saved_world.item<int64_t>();
  return checkpoint;
}

}  // namespace esrun
