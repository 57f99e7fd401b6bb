// ES, ESWP, loss and order (METHODS.md "es and eswp", "loss", "order"; ES paper Algorithm 1).
#include <catch2/catch.hpp>

#include <cmath>

#include "esrun/commands/run.h"
#include "esrun/core/rng.h"
#include "esrun/sampling/es.h"
#include "esrun/sampling/policy.h"
#include "esrun/sampling/weighted.h"
#include "helpers.h"

using Catch::Matchers::Contains;
using esrun::testing::TempDir;

namespace {

std::unique_ptr<esrun::SelectionPolicy> make_policy(const std::vector<std::string>& sets, int64_t n, int64_t epochs = 10) {
  auto all = sets;
  all.push_back("train.epochs=" + std::to_string(epochs));
  const auto config = esrun::load_config(esrun::RunRequest{{}, all, std::nullopt});
  const esrun::PolicyContext context{n, epochs, 10, torch::kCPU, 42, {}};
  return esrun::samplers().create(config.sampler.name, "sampler.name", config.sampler, context);
}

esrun::Batch batch_of(const torch::Tensor& indices) {
  return esrun::Batch{indices, torch::zeros({indices.size(0), 1}), torch::zeros({indices.size(0)}, torch::kLong)};
}

esrun::Selection select_with(esrun::SelectionPolicy& policy, const esrun::Batch& batch, const torch::Tensor& losses) {
  if (!losses.defined()) return policy.select(batch, esrun::Scores{});
  return policy.select(batch, esrun::Scores{losses, torch::zeros_like(losses), torch::zeros({losses.size(0)}, torch::kBool)});
}

}  // namespace

TEST_CASE("Decoupled EMA weights satisfy Proposition 2", "[sampler][es]") {
  // w(t) = s(t) + (beta2 - beta1) / (1 - beta2) * (s(t) - s(t-1)), s(t) the score after step t.
  for (const auto& [beta1, beta2] : {std::pair{0.2, 0.9}, std::pair{0.2, 0.8}, std::pair{0.7, 0.3}}) {
    auto scores = torch::full({6}, 1.0 / 6, torch::kDouble);
    const auto indices = torch::arange(6, torch::kLong);
    auto gen = esrun::make_generator(5, "test");
    for (int t = 0; t < 20; ++t) {
      const auto before = scores.clone();
      const auto w = esrun::decoupled_ema_update(scores, indices, torch::rand({6}, gen, torch::kDouble) * 4, beta1, beta2);
      const auto expected = scores + (beta2 - beta1) / (1 - beta2) * (scores - before);
      CHECK(torch::allclose(w, expected, 1e-12, 1e-12));
    }
  }
}

TEST_CASE("beta1 = beta2 reduces to a single EMA and beta1 = beta2 = 0 to the loss", "[sampler][es]") {
  auto scores = torch::full({4}, 0.25, torch::kDouble);
  const auto indices = torch::tensor({2, 0}, torch::kLong);
  const auto losses = torch::tensor({3.0, 1.0}, torch::kDouble);
  const auto w = esrun::decoupled_ema_update(scores, indices, losses, 0.6, 0.6);
  CHECK(torch::allclose(w, scores.index_select(0, indices)));  // w(t) = s(t)
  CHECK(scores[1].item<double>() == 0.25);                      // untouched rows keep their score
  auto zero = torch::full({4}, 0.25, torch::kDouble);
  CHECK(torch::allclose(esrun::decoupled_ema_update(zero, indices, losses, 0.0, 0.0), losses));
}

TEST_CASE("es with beta1 = beta2 = 0 and no annealing chooses exactly as loss", "[sampler][es]") {
  auto es = make_policy({"sampler={name: es, beta1: 0, beta2: 0, anneal_epochs: 0, meta_batch: 16, mini_batch: 4}"}, 64);
  auto loss = make_policy({"sampler={name: loss, meta_batch: 16, mini_batch: 4}"}, 64);
  auto gen = esrun::make_generator(1, "losses");
  for (int step = 0; step < 10; ++step) {
    const auto indices = torch::randperm(64, gen, torch::kLong).narrow(0, 0, 16);
    const auto losses = torch::rand({16}, gen, torch::kFloat) * 3;
    const auto a = select_with(*es, batch_of(indices), losses).positions;
    const auto b = select_with(*loss, batch_of(indices), losses).positions;
    CHECK(std::get<0>(a.sort()).equal(std::get<0>(b.sort())));
  }
}

TEST_CASE("Weighted sampling without replacement matches the sequential-draw probabilities", "[sampler][es]") {
  // B = 4, k = 2: P({i, j}) = w_i/W * w_j/(W - w_i) + w_j/W * w_i/(W - w_j), by enumeration.
  const std::vector<double> w{1.0, 2.0, 3.0, 4.0};
  const double total = 10.0;
  std::map<std::pair<int, int>, double> expected;
  for (int i = 0; i < 4; ++i)
    for (int j = i + 1; j < 4; ++j)
      expected[{i, j}] = w[i] / total * w[j] / (total - w[i]) + w[j] / total * w[i] / (total - w[j]);
  std::map<std::pair<int, int>, int> observed;
  auto gen = esrun::make_generator(2024, "chi-square");
  const auto weights = torch::tensor(w, torch::kDouble);
  const int draws = 20000;
  for (int d = 0; d < draws; ++d) {
    const auto chosen = std::get<0>(esrun::sample_without_replacement(weights, 2, gen).sort());
    ++observed[{static_cast<int>(chosen[0].item<int64_t>()), static_cast<int>(chosen[1].item<int64_t>())}];
  }
  double chi_square = 0.0;
  for (const auto& [pair, p] : expected) {
    const double e = p * draws;
    chi_square += (observed[pair] - e) * (observed[pair] - e) / e;
  }
  CHECK(chi_square < 20.52);  // chi-square, 5 degrees of freedom, p = 0.001
}

TEST_CASE("ES annealing epochs select nothing and selecting epochs train on exactly b", "[sampler][es]") {
  auto es = make_policy({"sampler={name: es, anneal_epochs: 2, meta_batch: 16, mini_batch: 4}"}, 64, 10);
  for (int64_t e : {0, 1, 8, 9}) CHECK_FALSE(es->needs_scores(e));
  for (int64_t e = 2; e < 8; ++e) CHECK(es->needs_scores(e));
  const auto indices = torch::arange(16, torch::kLong);
  CHECK_FALSE(select_with(*es, batch_of(indices), torch::Tensor()).positions.defined());  // annealing: the whole meta-batch
  const auto chosen = select_with(*es, batch_of(indices), torch::rand({16})).positions;
  CHECK(chosen.size(0) == 4);
  CHECK(std::get<0>(at::_unique(chosen)).size(0) == 4);
  // The last, smaller meta-batch trains on max(1, round(b * |B_t| / B)).
  CHECK(select_with(*es, batch_of(torch::arange(6, torch::kLong)), torch::rand({6})).positions.size(0) == 2);
  CHECK(select_with(*es, batch_of(torch::arange(1, torch::kLong)), torch::rand({1})).positions.size(0) == 1);
}

TEST_CASE("ES annealing epochs update the scores from the training step's losses", "[sampler][es]") {
  auto es = make_policy({"sampler={name: es, anneal_epochs: 1, beta2: 0.5}"}, 4, 4);
  esrun::Observation seen{{torch::tensor({2.0f, 4.0f})}, 0, torch::tensor({1, 3}, torch::kLong), true};
  es->observe(seen);
  const auto scores = esrun::testing::saved_tensor(*es, "scores");
  CHECK(scores[0].item<double>() == Approx(0.25));
  CHECK(scores[1].item<double>() == Approx(0.5 * 0.25 + 0.5 * 2.0));
  CHECK(scores[3].item<double>() == Approx(0.5 * 0.25 + 0.5 * 4.0));
  seen.epoch = 1;  // a selecting epoch: the scoring forward already updated the scores
  es->observe(seen);
  CHECK(esrun::testing::saved_tensor(*es, "scores").equal(scores));
}

TEST_CASE("ESWP keeps round((1 - r) n) distinct samples in selecting epochs only", "[sampler][es]") {
  auto eswp = make_policy({"sampler={name: eswp, anneal_epochs: 1}"}, 1000, 10);
  CHECK(eswp->plan_epoch(0).indices.size(0) == 1000);
  const auto plan = eswp->plan_epoch(1);
  CHECK(plan.indices.size(0) == 800);  // default r = 0.2
  CHECK(std::get<0>(at::_unique(plan.indices)).size(0) == 800);
  CHECK(eswp->plan_epoch(9).indices.size(0) == 1000);
  auto pruned = make_policy({"sampler={name: eswp, prune_ratio: 0.35, anneal_epochs: 0}"}, 999, 10);
  CHECK(pruned->plan_epoch(0).indices.size(0) == std::llround(0.65 * 999));
}

TEST_CASE("ES and ESWP defaults follow the paper", "[sampler][es][config]") {
  const auto es = esrun::load_config(esrun::RunRequest{{}, {"sampler.name=es", "train.epochs=200"}, std::nullopt}).sampler;
  CHECK(es.beta1 == 0.2);
  CHECK(es.beta2 == 0.9);
  CHECK(es.anneal_epochs == 10);
  CHECK(es.resolved_mini_batch == 32);
  const auto eswp = esrun::load_config(esrun::RunRequest{{}, {"sampler.name=eswp", "train.epochs=100"}, std::nullopt}).sampler;
  CHECK(eswp.beta2 == 0.8);
  CHECK(eswp.prune_ratio == 0.2);
  CHECK(eswp.anneal_epochs == 5);
  REQUIRE_THROWS_WITH(esrun::load_config(esrun::RunRequest{{}, {"sampler={name: es, beta2: 1.0}"}, std::nullopt}),
                      Contains("sampler.beta2 (--set sampler={name: es, beta2: 1.0}): expected a number in [0, 1), got 1"));
  REQUIRE_THROWS_WITH(esrun::load_config(esrun::RunRequest{{}, {"sampler={name: es, anneal_epochs: 5}", "train.epochs=10"}, std::nullopt}),
                      Contains("leave none that selects"));
}

TEST_CASE("order trains on the b largest losses, fewer with adaptive q", "[sampler][order]") {
  auto order = make_policy({"sampler={name: order, meta_batch: 8, mini_batch: 4}"}, 16);
  const auto losses = torch::tensor({0.1f, 5.0f, 0.3f, 4.0f, 0.2f, 3.0f, 0.0f, 2.0f});
  CHECK(std::get<0>(select_with(*order, batch_of(torch::arange(8, torch::kLong)), losses).positions.sort())
            .equal(torch::tensor({1, 3, 5, 7}, torch::kLong)));
  auto adaptive = make_policy({"sampler={name: order, meta_batch: 8, mini_batch: 4, adaptive_q: true}"}, 16);
  adaptive->plan_epoch(0);
  // 9 of the 10 scored samples predicted correctly: 90% (measured on the whole scored meta-batch).
  const auto ten = torch::rand({10});
  adaptive->select(batch_of(torch::arange(10, torch::kLong)), esrun::Scores{ten, ten, torch::arange(10).lt(9)});
  adaptive->plan_epoch(1);
  CHECK(select_with(*adaptive, batch_of(torch::arange(8, torch::kLong)), losses).positions.size(0) == 1);  // b/4
}

TEST_CASE("loss with unbiased weights gives 1/(B p) normalised to mean 1", "[sampler][loss]") {
  auto loss = make_policy({"sampler={name: loss, meta_batch: 4, mini_batch: 2, unbiased: true}"}, 8);
  const auto losses = torch::tensor({1.0f, 2.0f, 3.0f, 4.0f});
  const auto selection = select_with(*loss, batch_of(torch::arange(4, torch::kLong)), losses);
  const auto chosen = losses.index_select(0, selection.positions).to(torch::kDouble);
  const auto raw = 1.0 / (4.0 * chosen / 10.0);
  CHECK(torch::allclose(selection.weights.to(torch::kDouble), raw / raw.mean(), 1e-6, 1e-6));
}

TEST_CASE("Saved and loaded ES, ESWP, loss and order states give the same next choices", "[sampler][es]") {
  for (const std::string name : {"es", "eswp", "loss", "order"}) {
    const std::string anneal = name.rfind("es", 0) == 0 ? ", anneal_epochs: 0" : "";
    const std::vector<std::string> sets{"sampler={name: " + name + anneal + ", meta_batch: 16, mini_batch: 4}"};
    auto policy = make_policy(sets, 64);
    auto gen = esrun::make_generator(3, "losses");
    const auto indices = torch::arange(16, torch::kLong);
    policy->plan_epoch(0);
    for (int step = 0; step < 3; ++step) select_with(*policy, batch_of(indices), torch::rand({16}, gen, torch::kFloat));
    auto restored = make_policy(sets, 64);
    esrun::testing::round_trip(*policy, *restored);
    const auto losses = torch::rand({16}, gen, torch::kFloat);
    CHECK(policy->plan_epoch(1).indices.equal(restored->plan_epoch(1).indices));
    CHECK(select_with(*policy, batch_of(indices), losses).positions.equal(select_with(*restored, batch_of(indices), losses).positions));
  }
}

TEST_CASE("ES runs end to end: forward and backward counts per epoch", "[sampler][es][e2e]") {
  TempDir dir;
  esrun::testing::write_cifar10_layout(dir.path() / "cifar", 40, 20);
  const std::vector<std::string> base{"data.name=cifar10", "data.root=" + (dir.path() / "cifar").string(),
                                      "model={name: small_cnn, width: 8}", "train.epochs=4", "threads=2",
                                      "data.label_noise={kind: uniform, ratio: 0.25}"};
  auto es_sets = base;
  es_sets.push_back("sampler={name: es, meta_batch: 32, mini_batch: 8, anneal_epochs: 1}");
  const auto es = esrun::testing::metrics(esrun::run(esrun::RunRequest{{}, es_sets, dir / "es"}));
  // n = 200, B = 32: 6 full meta-batches (b = 8) and one of 8 (b = round(8 * 8 / 32) = 2).
  for (int e : {0, 3}) {
    CHECK(es[e]["samples_forward"] == 0);
    CHECK(es[e]["samples_backward"] == 200);
  }
  for (int e : {1, 2}) {
    CHECK(es[e]["samples_forward"] == 200);
    CHECK(es[e]["samples_backward"] == 6 * 8 + 2);
    const double noisy = es[e]["noisy_backward_fraction"].get<double>() * 50;  // a count of noisy samples
    CHECK(noisy == Approx(std::round(noisy)).margin(1e-9));
  }
  auto eswp_sets = base;
  eswp_sets.push_back("sampler={name: eswp, meta_batch: 32, mini_batch: 8, anneal_epochs: 1}");
  const auto eswp = esrun::testing::metrics(esrun::run(esrun::RunRequest{{}, eswp_sets, dir / "eswp"}));
  CHECK(eswp[1]["epoch_dataset_size"] == 160);
  CHECK(eswp[1]["samples_forward"] == 160);
  CHECK(eswp[1]["samples_backward"] == 5 * 8);
  CHECK(eswp[0]["epoch_dataset_size"] == 200);
}
