// `esrun score`: trains the scoring model(s) of score.method like runs (one run directory per part,
// progress and checkpoints as any run) in the folder <scores file without extension>-runs/, and
// writes the averaged scores file (core/scores_file.h, docs/scoring.md). Interrupted, it continues
// with `esrun score --resume FOLDER`: finished parts are kept, the open part resumes from its
// checkpoint.
#pragma once

#include <filesystem>
#include <optional>
#include <string>

#include "esrun/commands/run.h"

namespace esrun {

struct ScoreRequest {
  RunRequest run;                  // configs and sets; run.resume: the scoring folder to continue
  std::optional<std::string> out;  // the scores file, else score.out (on resume: the folder's unless given)
};

struct ScoreResult {
  std::filesystem::path file, folder;
  bool finished = true;
  int stop_signal = 0;  // the signal that stopped it (after its checkpoint), or 0
};

ScoreResult score(const ScoreRequest& request);

}  // namespace esrun
