// Resuming a run from its run directory (--resume): which config changes a resumed run may make,
// its last checkpoint (or, when damaged, the intact ones to resume from instead), and the
// trainer's state restored from it.
#pragma once

#include <string>

#include "esrun/commands/checkpoint_files.h"
#include "esrun/config/resolved.h"

namespace esrun {

// Errors unless the effective values of `now` (load_run_config's) differ from those of the run's
// (or scoring folder's) `run_dir`/config.resolved.yaml only in keys a resumed run may change. A
// saved null is compared as the default it resolved to.
void check_resumable(const ResolvedConfig& now, const std::string& run_dir);

// The run's checkpoints/last.pt; a missing or damaged one is an error naming it and the intact
// checkpoints beside it (last.prev.pt, best.pt) that the run could resume from instead.
Checkpoint read_last_checkpoint(const std::string& run_dir);

// The trainer's state from the checkpoint of `run_dir`; state of another model, optimizer or policy
// is an error naming the file.
void restore(Trainer& trainer, torch::serialize::InputArchive& state, const std::string& run_dir);

}  // namespace esrun
