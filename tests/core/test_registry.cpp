#include <catch2/catch.hpp>

#include "esrun/commands/list.h"
#include "esrun/data/dataset.h"
#include "esrun/models/model.h"
#include "esrun/optim/optimizer.h"
#include "esrun/optim/schedule.h"
#include "esrun/sampling/policy.h"
#include "esrun/scoring/scorer.h"
#include "esrun/tasks/task.h"

using Catch::Matchers::Contains;

namespace {
std::vector<std::string> names(const esrun::RegistryView& registry) {
  std::vector<std::string> out;
  for (const auto& e : registry.entries()) {
    CHECK_FALSE(e.help.empty());
    out.push_back(e.name);
  }
  return out;
}
}  // namespace

TEST_CASE("Every expected component is registered under its YAML name", "[registry]") {
  CHECK(names(esrun::models()) == std::vector<std::string>{"gpt", "mlp", "resnet18", "resnet50", "small_cnn", "torchscript", "transformer", "vit"});
  CHECK(names(esrun::datasets()) == std::vector<std::string>{"cifar10", "cifar100", "csv_table", "glue", "image_folder",
                                                             "linear_synthetic", "svhn", "synthetic_shapes", "text_lm", "tokens_jsonl"});
  CHECK(names(esrun::tasks()) == std::vector<std::string>{"causal_lm", "classification", "regression"});
  CHECK(names(esrun::optimizers()) == std::vector<std::string>{"adam", "adamw", "sgd"});
  CHECK(names(esrun::schedules()) == std::vector<std::string>{"constant", "cosine", "linear", "onecycle", "poly", "step"});
  CHECK(names(esrun::samplers()) ==
        std::vector<std::string>{"adaselection", "epsilon_greedy", "es", "eswp", "infobatch", "ka", "loss", "omission",
                                 "order", "random_prune", "reduced_epochs", "rho_loss", "selective_backprop", "static_prune",
                                 "ucb", "uniform"});
  CHECK(names(esrun::scorers()) == std::vector<std::string>{"el2n", "entropy", "forgetting", "grand", "herding",
                                                            "irreducible_loss", "k_center", "least_confidence", "margin",
                                                            "random"});
}

TEST_CASE("An unknown name is an error that lists the known names", "[registry][errors]") {
  esrun::Registry<int, int> registry("widget");
  registry.add("alpha", "first", [](int x) { return x; });
  registry.add("beta", "second", [](int x) { return 2 * x; });
  CHECK(registry.create("beta", "w.name", 21) == 42);
  REQUIRE_THROWS_WITH(registry.create("gamma", "w.name (x.yaml:3)", 1),
                      "unknown widget 'gamma' at w.name (x.yaml:3); known: alpha, beta");
}

TEST_CASE("A name registered twice is reported when the registry is used", "[registry][errors]") {
  esrun::Registry<int> registry("widget");
  CHECK(registry.add("alpha", "first", [] { return 1; }));
  CHECK_FALSE(registry.add("alpha", "again", [] { return 2; }));
  REQUIRE_THROWS_WITH(registry.entries(), Contains("names registered twice: alpha"));
  REQUIRE_THROWS_WITH(registry.create("alpha", "w.name"), Contains("names registered twice: alpha"));
}

TEST_CASE("esrun list prints every registered name with its help", "[registry][cli]") {
  const auto all = esrun::list_registered("");
  for (const char* name : {"small_cnn", "resnet18", "cifar100", "uniform", "sgd", "onecycle"}) CHECK_THAT(all, Contains(name));
  const auto samplers = esrun::list_registered("samplers");
  CHECK_THAT(samplers, Contains("uniform") && !Contains("resnet18"));
  REQUIRE_THROWS_WITH(esrun::list_registered("widgets"), Contains("unknown list 'widgets'"));
}
