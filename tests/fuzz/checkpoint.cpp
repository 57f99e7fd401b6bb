// fuzz_checkpoint: reading a checkpoint as `esrun --resume RUN_DIR` does (commands/resume.cpp): the sealed
// archive opened and its checksum checked (core/sealed_archive.h: open_sealed_archive), the
// records read_checkpoint (commands/checkpoint_files.h) takes from it (next_epoch, metrics, trainer, world_size), then
// Trainer::load of the trainer state into a freshly built trainer (model, optimizer, policy, RNG
// streams, totals, an interrupted epoch's plan).
//
// Input: byte 0 picks the variant (byte 0 % 2): 0, the rest is the checkpoint file as it is (the
// seal's checksum is fuzzed too, and rejects nearly every mutation); 1, the rest is the archive,
// sealed here with a correct trailer (fuzz_common.h: with_seal), so that mutations reach libtorch's
// reader, read_checkpoint's reads and Trainer::load. Seeds are made with esrun's own writers
// (Trainer::save, seal_archive), in both variants, plus an unsealed file (the bare libtorch
// archive, as esrun wrote checkpoints before they were sealed).
//
// What counts (fuzz_common.h): open_sealed_archive promises esrun::Error for any damaged file, so
// only esrun::Error is expected of it. read_last_checkpoint (commands/resume.cpp) turns any std::exception of
// read_checkpoint's own reads into an esrun::Error naming the file, and restore (commands/resume.cpp) does the same for
// Trainer::load ("does not fit this run"), so those are caught here as the run command catches them.
#include <nlohmann/json.hpp>

#include <sstream>

#include "esrun/commands/checkpoint_files.h"
#include "esrun/core/sealed_archive.h"
#include "esrun/train/trainer.h"
#include "fuzz_common.h"

namespace {

std::optional<esrun::RunConfig>& config() {
  static std::optional<esrun::RunConfig> value;
  return value;
}

// The archive write_checkpoint writes as checkpoints/last.pt, unsealed: archive.save_to's bytes.
std::string checkpoint_archive(esrun::Trainer& trainer, int64_t next_epoch, const std::string& metrics,
                               torch::serialize::OutputArchive& archive) {
  torch::serialize::OutputArchive state;
  trainer.save(state);
  archive.write("trainer", state);
  archive.write("world_size", torch::tensor(int64_t{1}, torch::kLong));
  archive.write("next_epoch", torch::tensor(next_epoch, torch::kLong));
  archive.write("config_hash", c10::IValue(config()->resolved.hash()));
  archive.write("metrics", c10::IValue(metrics));
  std::ostringstream bytes;
  archive.save_to(bytes);
  return bytes.str();
}

[[noreturn]] void write_seeds(const std::string& dir) {
  esrun::Trainer trainer(*config(), esrun::load_dataset(*config()), torch::kCPU);
  const std::string record = "{\"epoch\": 0, \"samples_forward\": 16, \"samples_backward_total\": 16}\n";
  torch::serialize::OutputArchive fresh;
  const std::string unsealed_fresh = checkpoint_archive(trainer, 0, "", fresh);
  (void)trainer.train_epoch(0);
  torch::serialize::OutputArchive trained;
  const std::string unsealed = checkpoint_archive(trainer, 1, record, trained);
  const std::string sealed = esrun::seal_archive(trained);
  std::string bad_sum = sealed;  // a byte of the sealed content flipped: the checksum catches it
  bad_sum[bad_sum.size() / 2] = static_cast<char>(bad_sum[bad_sum.size() / 2] ^ 0x01);
  using esrun_fuzz::tagged;
  esrun_fuzz::write_seeds_and_exit(dir, {{"sealed-after-epoch", tagged(0, sealed)},
                                         {"sealed-flipped-byte", tagged(0, bad_sum)},
                                         {"sealed-truncated", tagged(0, sealed.substr(0, sealed.size() * 2 / 3))},
                                         {"unsealed-after-epoch", tagged(0, unsealed)},
                                         {"to-seal-after-epoch", tagged(1, esrun_fuzz::without_seal(sealed))},
                                         {"to-seal-fresh", tagged(1, unsealed_fresh)},
                                         {"to-seal-not-an-archive", tagged(1, "PK\x03\x04 this is not a zip archive")}});
}

}  // namespace

extern "C" int LLVMFuzzerInitialize(int*, char***) {
  esrun_fuzz::quiet();
  config() = esrun_fuzz::config_with({"data.name=linear_synthetic", "data.linear={train_size: 16, test_size: 4}",
                                      "model={name: mlp, hidden: [2]}", "sampler.name=es", "sampler.meta_batch=8",
                                      "train.epochs=2", "device=cpu", "threads=1"});
  if (const std::string dir = esrun_fuzz::seeds_dir(); !dir.empty()) write_seeds(dir);
  return 0;
}

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const auto path = (esrun_fuzz::scratch() / "last.pt").string();
  if (!esrun_fuzz::write_archive_input(path, data, size)) return 0;
  esrun_fuzz::guarded([&] {
    (void)esrun::open_sealed_archive(path, "the checkpoint");  // esrun::Error for any damaged file
    esrun::Checkpoint checkpoint;
    try {  // read_checkpoint (commands/checkpoint_files.h), inside read_last_checkpoint's catch (std::exception)
      checkpoint = esrun::read_checkpoint(path);
      ESRUN_CHECK(checkpoint.world_size == 1, "world size");  // the resumed run's must match
    } catch (const std::exception&) {
      return;
    }
    torch::serialize::InputArchive& state = checkpoint.trainer;
    esrun::Trainer trainer(*config(), esrun::load_dataset(*config()), torch::kCPU);
    try {  // restore (commands/resume.cpp): esrun::Error, or any std::exception wrapped into one
      trainer.load(state);
    } catch (const esrun::Error&) {
    } catch (const std::exception&) {
    }
  });
  return 0;
}
