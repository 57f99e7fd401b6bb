// The open epoch's checkpoint: one named key per field, read back into the same progress.
#include <catch2/catch.hpp>

#include <set>
#include <sstream>
#include <type_traits>

#include "esrun/core/error.h"
#include "esrun/train/open_epoch.h"

namespace {

esrun::OpenEpoch filled() {
  esrun::OpenEpoch o(3, torch::tensor({4, 1, 2}, torch::kLong), torch::tensor({0.5F, 1.0F, 2.0F}), 7, torch::kCPU);
  int64_t count = 10;
  double seconds = 0.25;
  esrun::OpenEpoch::fields(o, [&](const char* /*key*/, auto& value) {
    using T = std::decay_t<decltype(value)>;
    if constexpr (std::is_same_v<T, torch::Tensor>) value = torch::full({}, static_cast<double>(count++), torch::kDouble);
    else if constexpr (std::is_same_v<T, double>) value = (seconds *= 2);
    else value = count++;
  });
  return o;
}

// The archive OpenEpoch::save writes, as a checkpoint reads it back.
torch::serialize::InputArchive saved_and_read(const esrun::OpenEpoch& open) {
  torch::serialize::OutputArchive out;
  open.save(out);
  std::ostringstream bytes;
  out.save_to(bytes);
  std::istringstream in_bytes(bytes.str());
  torch::serialize::InputArchive in;
  in.load_from(in_bytes);
  return in;
}

}  // namespace

TEST_CASE("An open epoch saved under named keys reads back into the same plan and progress", "[checkpoint][train]") {
  const esrun::OpenEpoch saved = filled();
  torch::serialize::InputArchive in = saved_and_read(saved);

  const auto plan = esrun::read_open_epoch_plan(in, esrun::kCheckpointFormat);
  CHECK(plan.epoch == 3);
  CHECK(torch::equal(plan.order, saved.order));
  CHECK(torch::equal(plan.order_weights, saved.order_weights));
  esrun::OpenEpoch read(plan.epoch, plan.order, plan.order_weights, 7, torch::kCPU);
  esrun::read_open_epoch_progress(in, esrun::kCheckpointFormat, read);
  std::vector<std::string> keys;
  esrun::OpenEpoch::fields(saved, [&](const char* key, const auto&) { keys.emplace_back(key); });
  CHECK(keys.size() == 19);
  CHECK(std::set<std::string>(keys.begin(), keys.end()).size() == keys.size());  // every key once
  size_t i = 0;
  esrun::OpenEpoch::fields(read, [&](const char* key, const auto& value) {
    INFO(key);
    size_t j = 0;
    esrun::OpenEpoch::fields(saved, [&](const char*, const auto& expected) {
      if (j++ != i) return;
      using T = std::decay_t<decltype(value)>;
      using U = std::decay_t<decltype(expected)>;
      if constexpr (std::is_same_v<T, U> && std::is_same_v<T, torch::Tensor>) CHECK(torch::equal(value, expected));
      else if constexpr (std::is_same_v<T, U>) CHECK(value == expected);
    });
    ++i;
  });
}

TEST_CASE("An open epoch without plan weights saves none and reads back none", "[checkpoint][train]") {
  const esrun::OpenEpoch saved(0, torch::arange(5, torch::kLong), torch::Tensor(), 2, torch::kCPU);
  torch::serialize::InputArchive in = saved_and_read(saved);
  CHECK_FALSE(esrun::read_open_epoch_plan(in, esrun::kCheckpointFormat).order_weights.defined());
}

TEST_CASE("A format-2 open epoch, without optimizer_steps and eval_seconds, reads them as 0", "[checkpoint][train]") {
  const esrun::OpenEpoch saved = filled();
  torch::serialize::OutputArchive out;
  out.write("epoch", torch::tensor(saved.epoch, torch::kLong));
  out.write("order", saved.order);
  out.write("order_weights", saved.order_weights);
  esrun::OpenEpoch::fields(saved, [&](const char* key, const auto& value) {
    using T = std::decay_t<decltype(value)>;
    if (esrun::OpenEpoch::added_in_format_3(key)) return;
    if constexpr (std::is_same_v<T, torch::Tensor>) out.write(key, value);
    else if constexpr (std::is_same_v<T, double>) out.write(key, torch::tensor(value, torch::kDouble));
    else out.write(key, torch::tensor(value, torch::kLong));
  });
  std::ostringstream bytes;
  out.save_to(bytes);
  std::istringstream in_bytes(bytes.str());
  torch::serialize::InputArchive in;
  in.load_from(in_bytes);
  esrun::OpenEpoch read(saved.epoch, saved.order, saved.order_weights, 7, torch::kCPU);
  esrun::read_open_epoch_progress(in, 2, read);
  CHECK(read.next_step == saved.next_step);
  CHECK(read.optimizer_steps == 0);
  CHECK(read.eval_seconds == 0.0);
  esrun::OpenEpoch again(saved.epoch, saved.order, saved.order_weights, 7, torch::kCPU);
  CHECK_THROWS_AS(esrun::read_open_epoch_progress(in, 3, again), esrun::Error);  // format 3 must have them
}
