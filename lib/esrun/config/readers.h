// The readers of load_run_config, one per section (Marian's validateOptions* by section): each
// reads its keys into a typed option struct and checks them, taking the sections it depends on as
// arguments, so that every cross-section rule shows in a signature. Facts about components (the
// tasks a model serves, a sampler's defaults) come from their registries (ComponentFacts).
#pragma once

#include <cstdint>
#include <string>

#include "esrun/config/checker.h"
#include "esrun/config/run_config.h"

namespace esrun {

// name, seed, device, threads, precision, layout and timing, out_root.
void read_run(const Checker& check, RunConfig& run);
// The data section (read_data.cpp): every draw derives from data.seed, else from `run_seed`.
DataOptions read_data(const Checker& check, uint64_t run_seed);
// The task the data implies (task.name, else the dataset's fixed one; empty when the dataset's
// task depends on what it loads).
std::string known_task(const DataOptions& data, const TaskOptions& task);
TaskOptions read_task(const Checker& check, const DataOptions& data);
ModelOptions read_model(const Checker& check, const DataOptions& data, const std::string& task);
TrainOptions read_train(const Checker& check);
EvalOptions read_eval(const Checker& check);
ScoreOptions read_score(const Checker& check, const TrainOptions& train);
// checkpoint, distributed, progress and logging.
void read_runtime(const Checker& check, RunConfig& run);
OptimizerOptions read_optimizer(const Checker& check);
ScheduleOptions read_schedule(const Checker& check, const TrainOptions& train, const OptimizerOptions& optimizer);
// The sampler section (read_sampler.cpp), its null keys resolved in `resolved` to the values the
// policy uses, each with a note.
SamplerOptions read_sampler(const Checker& check, const TrainOptions& train, ResolvedConfig& resolved);

}  // namespace esrun
