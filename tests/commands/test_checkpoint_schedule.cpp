// When a run writes last.pt and best.pt and when it stops: one object's decisions.
#include <catch2/catch.hpp>

#include "esrun/commands/checkpoint_schedule.h"
#include "helpers.h"

namespace {

esrun::EpochRecord epoch(int64_t e, std::optional<double> score = std::nullopt) {
  esrun::EpochRecord r;
  r.epoch = e;
  r.evaluated = score.has_value();
  r.test.score = score.value_or(0.0);
  return r;
}

}  // namespace

TEST_CASE("The checkpoint schedule writes last.pt every N epochs and at the end, best.pt on a better score",
          "[checkpoint]") {
  auto config = esrun::testing::config_from_sets({"checkpoint.every=2", "checkpoint.best=true"});
  esrun::DataParallel one_process;
  esrun::CheckpointSchedule schedule(config, esrun::RunRequest{}, 5, one_process, true, {});
  const auto first = schedule.after_epoch(epoch(0, 0.5));
  CHECK_FALSE(first.write_last);
  CHECK(first.write_best);  // the first evaluation is the best so far
  CHECK(first.go_on);
  const auto second = schedule.after_epoch(epoch(1, 0.4));
  CHECK(second.write_last);  // every 2 epochs
  CHECK_FALSE(second.write_best);
  const auto third = schedule.after_epoch(epoch(2));  // not evaluated
  CHECK_FALSE(third.write_best);
  CHECK(schedule.after_epoch(epoch(3, 0.6)).write_best);
  const auto last = schedule.after_epoch(epoch(4, 0.1));
  CHECK(last.write_last);
  CHECK_FALSE(last.go_on);
}

TEST_CASE("The checkpoint schedule stops after --stop-after-epochs with last.pt, and a resumed run's best counts",
          "[checkpoint]") {
  auto config = esrun::testing::config_from_sets({"checkpoint.every=0", "checkpoint.best=true"});
  esrun::DataParallel one_process;
  esrun::RunRequest request;
  request.stop_after = 1;
  const std::vector<nlohmann::json> earlier = {{{"test_score", 0.9}}, {{"test_score", nullptr}}};
  esrun::CheckpointSchedule schedule(config, request, 10, one_process, true, earlier);
  const auto stop = schedule.after_epoch(epoch(2, 0.8));
  CHECK(stop.write_last);
  CHECK_FALSE(stop.go_on);
  CHECK_FALSE(stop.write_best);  // 0.8 does not beat the resumed run's 0.9
  CHECK(schedule.stopped_by() == 0);
}
