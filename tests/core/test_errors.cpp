// Two kinds of failure: bad input (esrun::Error, exit 2) and a broken invariant (exit 1).
#include <catch2/catch.hpp>

#include "esrun/config/schema.h"
#include "esrun/core/error.h"
#include "esrun/core/registry.h"

using Catch::Matchers::Contains;

TEST_CASE("A broken invariant is an InternalError naming the source line, never an esrun::Error", "[errors]") {
  const auto broken = [] { ESRUN_INTERNAL_CHECK(1 + 1 == 3, "arithmetic holds: ", 2); };
  CHECK_THROWS_AS(broken(), esrun::InternalError);
  CHECK_THROWS_WITH(broken(), Contains("internal invariant broken at ") && Contains("test_errors.cpp:") &&
                                  Contains("arithmetic holds: 2"));
  bool caught_as_input_error = false;
  try {
    broken();
  } catch (const esrun::Error&) {
    caught_as_input_error = true;
  } catch (const std::exception&) {
  }
  CHECK_FALSE(caught_as_input_error);
  CHECK_THROWS_AS(esrun::registry_of("no-such-kind"), esrun::InternalError);
}

TEST_CASE("Each key's readers come from what the components declare they read", "[config][registry]") {
  CHECK(esrun::find_key("sampler.beta1")->used_by == std::vector<std::string>{"es", "eswp", "omission"});
  CHECK(esrun::find_key("sampler.scores")->used_by == std::vector<std::string>{"rho_loss", "static_prune"});
  CHECK(esrun::find_key("model.stem")->used_by == std::vector<std::string>{"resnet18", "resnet50"});
  CHECK(esrun::find_key("data.label")->used_by == std::vector<std::string>{"cifar100"});
  CHECK(esrun::find_key("schedule.power")->used_by == std::vector<std::string>{"poly"});
  CHECK(esrun::find_key("sampler.meta_batch")->used_by.empty());  // every sampler reads it
  CHECK(esrun::registry_of("model").facts("gpt").tasks == std::vector<std::string>{"causal_lm"});
  CHECK(esrun::registry_of("sampler").facts("eswp").defaults.at("sampler.beta2") == "0.8");
}
