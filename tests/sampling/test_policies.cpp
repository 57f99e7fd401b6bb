// InfoBatch, Omission, AdaSelection, Selective Backprop, UCB, epsilon-greedy, KAKURENBO, Random*
// and reduced epochs (METHODS.md), each by the property the method is defined by.
#include <catch2/catch.hpp>

#include <cmath>

#include "esrun/commands/run.h"
#include "esrun/core/rng.h"
#include "esrun/sampling/adaselection.h"
#include "esrun/sampling/omission.h"
#include "esrun/sampling/policy.h"
#include "esrun/train/loss.h"
#include "helpers.h"

namespace {

std::unique_ptr<esrun::SelectionPolicy> make_policy(const std::string& sampler, int64_t n, int64_t epochs = 10) {
  const auto config = esrun::load_config(
      esrun::RunRequest{{}, {"sampler=" + sampler, "train.epochs=" + std::to_string(epochs)}, std::nullopt});
  const esrun::PolicyContext context{n, epochs, 10, torch::kCPU, 7, {}};
  return esrun::samplers().create(config.sampler.name, "sampler.name", config.sampler, context);
}

// An observation of trained samples with the given losses (and, for KA, correctness and confidence).
esrun::Observation trained(const torch::Tensor& indices, const torch::Tensor& losses, int64_t epoch = 0,
                           torch::Tensor correct = {}, torch::Tensor confidence = {}) {
  const int64_t n = indices.size(0);
  if (!correct.defined()) correct = torch::ones({n}, torch::kBool);
  if (!confidence.defined()) confidence = torch::ones({n});
  return esrun::Observation{{losses, losses * 0 + 1, correct, confidence}, epoch, indices, true};
}

esrun::Batch batch_of(int64_t size) {
  return esrun::Batch{torch::arange(size, torch::kLong), torch::arange(size).to(torch::kFloat).view({size, 1}),
                      torch::zeros({size}, torch::kLong)};
}

esrun::Scores scores_of(const torch::Tensor& losses) {
  return esrun::Scores{losses, torch::zeros_like(losses), torch::zeros({losses.size(0)}, torch::kBool)};
}

torch::Tensor sorted(const torch::Tensor& t) { return std::get<0>(t.sort()); }

}  // namespace

TEST_CASE("InfoBatch prunes only below-mean samples, keeping floor((1-r)|W|) with weight 1/(1-r)", "[sampler][infobatch]") {
  auto policy = make_policy("{name: infobatch, prune_ratio: 0.5}", 10);
  CHECK(policy->plan_epoch(0).indices.size(0) == 10);  // all scores equal: nothing below the mean
  // Scores 0..9: the mean is 4.5, W = {0..4}, keep floor(0.5 * 5) = 2 of them.
  policy->observe(trained(torch::arange(10, torch::kLong), torch::arange(10).to(torch::kFloat)));
  const auto plan = policy->plan_epoch(1);
  REQUIRE(plan.indices.size(0) == 7);
  const auto upweighted = plan.indices.masked_select(plan.weights.gt(1.5));
  CHECK(upweighted.size(0) == 2);
  CHECK(upweighted.lt(5).all().item<bool>());
  CHECK(plan.weights.masked_select(plan.weights.gt(1.5)).eq(2.0f).all().item<bool>());
  CHECK(sorted(plan.indices.masked_select(plan.weights.eq(1.0f))).equal(torch::arange(5, 10, torch::kLong)));
}

TEST_CASE("InfoBatch trains on all data with weight 1 from epoch ceil(delta * E)", "[sampler][infobatch]") {
  auto policy = make_policy("{name: infobatch, delta: 0.875}", 10, 10);  // delta * E = 8.75
  policy->observe(trained(torch::arange(10, torch::kLong), torch::arange(10).to(torch::kFloat)));
  CHECK(policy->plan_epoch(8).indices.size(0) < 10);
  const auto full = policy->plan_epoch(9);
  CHECK(full.indices.size(0) == 10);
  CHECK((!full.weights.defined() || full.weights.eq(1.0f).all().item<bool>()));
}

TEST_CASE("The step loss is mean(weight * loss) over the batch", "[sampler][infobatch][loss]") {
  const auto losses = torch::tensor({1.0f, 2.0f, 3.0f, 4.0f});
  const auto weights = torch::tensor({2.0f, 1.0f, 1.0f, 0.0f});
  CHECK(esrun::weighted_mean_loss(losses, weights).item<float>() == Approx((2 + 2 + 3) / 4.0));
  CHECK(esrun::weighted_mean_loss(losses, {}).item<float>() == Approx(2.5));
}

TEST_CASE("Omission's bisection meets the budget and the sqrt(alpha) lower bound", "[sampler][omission]") {
  auto gen = esrun::make_generator(11, "scores");
  const auto scores = torch::rand({1000}, gen, torch::kDouble).pow(3) * 50;
  for (double budget : {10.0, 250.0, 500.0, 999.0}) {
    const auto p = esrun::omission_probabilities(scores, budget, 0.1);
    CHECK(p.sum().item<double>() == Approx(budget).epsilon(1e-9));
    CHECK(p.le(1.0).all().item<bool>());
    CHECK(p.min().item<double>() >= budget / 1000.0 * std::sqrt(0.1) - 1e-12);
  }
  CHECK(esrun::omission_probabilities(scores, 1000.0, 0.1).eq(1.0).all().item<bool>());
}

TEST_CASE("Omission's weighted Bernoulli sample estimates the full mean without bias", "[sampler][omission]") {
  auto gen = esrun::make_generator(12, "scores");
  const int64_t n = 400;
  const auto scores = torch::rand({n}, gen, torch::kDouble) * 5 + 0.1;
  const auto values = torch::rand({n}, gen, torch::kDouble) * 10;  // any per-sample quantity
  const double keep = 0.3;
  const auto p = esrun::omission_probabilities(scores, keep * n, 0.1);
  double total = 0.0;
  const int draws = 4000;
  for (int d = 0; d < draws; ++d) {
    const auto chosen = torch::rand({n}, gen, torch::kDouble).lt(p);
    // The trainer's mean over B = keep * n samples with weights keep / p_i.
    total += (values * (keep / p)).masked_select(chosen).sum().item<double>() / (keep * n);
  }
  CHECK(total / draws == Approx(values.mean().item<double>()).epsilon(0.01));
}

TEST_CASE("Omission plans about keep * n samples with weights keep / p", "[sampler][omission]") {
  auto policy = make_policy("{name: omission, keep: 0.5}", 2000);
  const auto plan = policy->plan_epoch(0);
  CHECK(std::abs(plan.indices.size(0) - 1000) < 100);
  CHECK(plan.weights.eq(1.0f).all().item<bool>());  // scores all 1: p = 0.5 everywhere
  CHECK_FALSE(policy->needs_scores(0));
  auto batch_level = make_policy("{name: omission, level: batch, meta_batch: 8, mini_batch: 4}", 16);
  CHECK(batch_level->plan_epoch(0).indices.size(0) == 16);
  const auto selection = batch_level->select(batch_of(8), {});
  CHECK(selection.weights.eq(1.0f).all().item<bool>());  // (b / B) / p with p = b / B
}

TEST_CASE("Omission scores follow the EMA of the normalised logit-gradient norm", "[sampler][omission]") {
  auto policy = make_policy("{name: omission, beta1: 0.5, beta2: 0.5}", 4);
  auto observation = trained(torch::tensor({0, 1}, torch::kLong), torch::ones({2}));
  observation.grad_norms = torch::tensor({1.0f, 3.0f});  // batch mean 2 starts G at 2
  policy->observe(observation);
  const auto scores = esrun::testing::saved_tensor(*policy, "scores");
  CHECK(scores[0].item<double>() == Approx(0.5 + 0.5 * 0.5));
  CHECK(scores[1].item<double>() == Approx(0.5 + 0.5 * 1.5));
  CHECK(scores[2].item<double>() == 1.0);
}

TEST_CASE("AdaSelection candidates give the METHODS.md importances, each summing to 1", "[sampler][adaselection]") {
  const auto l = torch::tensor({1.0, 2.0, 4.0, 3.0}, torch::kDouble);
  const auto g = torch::tensor({0.5, 0.1, 0.2, 0.3}, torch::kDouble);
  CHECK(torch::allclose(esrun::adaselection_importance("big_loss", l, g, 2), torch::softmax(l, 0)));
  CHECK(torch::allclose(esrun::adaselection_importance("small_loss", l, g, 2), torch::softmax(-l, 0)));
  CHECK(torch::allclose(esrun::adaselection_importance("uniform", l, g, 2), torch::full({4}, 0.25, torch::kDouble)));
  CHECK(torch::allclose(esrun::adaselection_importance("grad_norm", l, g, 2), torch::softmax(g.sqrt(), 0)));  // g is g^2
  const auto scaled = l / (4.0 * (1 + 1e-6));
  const auto boost = 0.5 * torch::log((1 + scaled) / (1 - scaled));
  CHECK(torch::allclose(esrun::adaselection_importance("adaboost", l, g, 2), boost / boost.sum()));
  CHECK(esrun::adaselection_importance("coreset1", l, g, 2).equal(torch::tensor({0.5, 0.0, 0.5, 0.0}, torch::kDouble)));
  CHECK(torch::allclose(esrun::adaselection_importance("coreset2", l, g, 2), torch::softmax(-(l - 2.5).abs(), 0)));
  for (const char* method : {"big_loss", "small_loss", "uniform", "grad_norm", "adaboost", "coreset1", "coreset2"})
    CHECK(esrun::adaselection_importance(method, l, g, 2).sum().item<double>() == Approx(1.0));
}

TEST_CASE("AdaSelection picks k samples and updates method weights by the rule", "[sampler][adaselection]") {
  auto policy = make_policy(
      "{name: adaselection, candidates: [big_loss, small_loss], meta_batch: 4, mini_batch: 2, method_beta: 1.0, "
      "full_batches: false}", 8);
  // Step 1: big_loss picks {4, 3} (mean 3.5), small_loss {1, 2} (mean 1.5). Step 2 (losses doubled):
  // 7 and 3. Weights then: w ~ (0.5 exp(|7 - 3.5| / 3.5), 0.5 exp(|3 - 1.5| / 1.5)) = (e, e) / norm.
  const auto first = torch::tensor({1.0f, 2.0f, 4.0f, 3.0f});
  const auto step1 = policy->select(batch_of(4), scores_of(first));
  CHECK(step1.positions.size(0) == 2);
  policy->select(batch_of(4), scores_of(first * 2));
  auto weights = esrun::testing::saved_tensor(*policy, "weights");
  CHECK(weights[0].item<double>() == Approx(0.5));
  CHECK(weights[1].item<double>() == Approx(0.5));
  // Step 3 with big_loss's picks unchanged and small_loss's doubling again moves weight to small_loss.
  policy->select(batch_of(4), scores_of(torch::tensor({4.0f, 8.0f, 8.0f, 6.0f})));
  weights = esrun::testing::saved_tensor(*policy, "weights");
  // L_big: 7 -> 8 (+1/7); L_small: 3 -> 5 (+2/3).
  const double big = std::exp(1.0 / 7.0), small = std::exp(2.0 / 3.0);
  CHECK(weights[1].item<double>() == Approx(small / (big + small)));
}

TEST_CASE("AdaSelection's curriculum reward divides by the batch's sum of squared losses (Eq. 4)",
          "[sampler][adaselection]") {
  // big_loss alone with r = exp(-l / (t^0 sum l^2)): s ~ exp(l (1 - 1 / sum l^2)). The sum 1.7625
  // keeps the largest losses on top (a mean, 0.44, would turn the order and pick rows 0 and 1).
  auto policy = make_policy(
      "{name: adaselection, candidates: [big_loss], meta_batch: 4, mini_batch: 2, full_batches: false, cl_gamma: 0.0}", 8);
  const auto chosen = policy->select(batch_of(4), scores_of(torch::tensor({0.1f, 0.2f, 0.9f, 0.95f})));
  CHECK(std::get<0>(chosen.positions.sort()).equal(torch::tensor({2, 3}, torch::kLong)));
}

TEST_CASE("AdaSelection scores a meta-batch with the weights its own losses just updated (Eq. 3, then Eq. 5)",
          "[sampler][adaselection]") {
  auto policy = make_policy(
      "{name: adaselection, candidates: [big_loss, small_loss], meta_batch: 4, mini_batch: 1, full_batches: false, method_beta: 1.0}", 8);
  policy->select(batch_of(4), scores_of(torch::tensor({1.0f, 2.0f, 4.0f, 3.0f})));  // L = (4, 1)
  // L = (8, 1): big_loss's weight grows to e / (e + 1) before this batch is scored, so the top score
  // is the largest loss (row 0). With the previous weights (1/2, 1/2) it would be the smallest (row 2).
  const auto losses = torch::tensor({8.0f, 4.0f, 1.0f, 6.0f});
  const auto chosen = policy->select(batch_of(4), scores_of(losses));
  CHECK(chosen.positions.equal(torch::tensor({0}, torch::kLong)));
  const auto weights = esrun::testing::saved_tensor(*policy, "weights");
  CHECK(weights[0].item<double>() == Approx(std::exp(1.0) / (std::exp(1.0) + 1.0)));
  const auto l = losses.to(torch::kDouble);
  const auto even = 0.5 * torch::softmax(l, 0) + 0.5 * torch::softmax(-l, 0);
  CHECK(even.argmax().item<int64_t>() == 2);
}

TEST_CASE("AdaSelection steps only on full batches of B chosen samples, about ratio * n / B per epoch",
          "[sampler][adaselection]") {
  // n = 64, B = 8, ratio 0.25: k = 2 chosen per meta-batch, 16 per epoch, so 2 steps of 8 per epoch.
  auto policy = make_policy("{name: adaselection, meta_batch: 8, ratio: 0.25}", 64);
  auto gen = esrun::make_generator(3, "losses");
  int64_t steps = 0, rows = 0;
  for (int64_t epoch = 0; epoch < 3; ++epoch) {
    const auto plan = policy->plan_epoch(epoch);
    int64_t epoch_steps = 0;
    for (int64_t begin = 0; begin < 64; begin += 8) {
      esrun::Batch batch{plan.indices.narrow(0, begin, 8), torch::rand({8, 1}, gen), torch::zeros({8}, torch::kLong)};
      const auto selection = policy->select(batch, scores_of(torch::rand({8}, gen)));
      REQUIRE(selection.queued);
      CHECK_FALSE(selection.positions.defined());
      for (const auto& step : *selection.queued) {
        CHECK(step.indices.size(0) == 8);
        // Each queued row is the sample its index says (inputs and targets travel with it).
        CHECK(step.inputs.size(0) == 8);
        ++epoch_steps, rows += 8;
      }
    }
    CHECK(policy->flush(epoch).empty());  // C carries over: no partial step at the epoch's end
    CHECK(epoch_steps == 2);
    steps += epoch_steps;
  }
  CHECK(steps == 6);
  CHECK(rows == 48);
}

TEST_CASE("AdaSelection's set C survives a checkpoint: the same rows train after loading", "[sampler][adaselection][checkpoint]") {
  // k = 3 of each meta-batch of 8: after 3 meta-batches C held 9, and one step of 8 left 1 queued.
  auto policy = make_policy("{name: adaselection, meta_batch: 8, ratio: 0.375}", 40);
  auto gen = esrun::make_generator(4, "losses");
  for (int64_t begin = 0; begin < 24; begin += 8) {
    esrun::Batch batch{torch::arange(begin, begin + 8, torch::kLong), torch::rand({8, 2}, gen), torch::rand({8}, gen)};
    policy->select(batch, scores_of(torch::rand({8}, gen)));
  }
  auto restored = make_policy("{name: adaselection, meta_batch: 8, ratio: 0.375}", 40);
  esrun::testing::round_trip(*policy, *restored);
  // C holds 1 + 3 + 3 after two more meta-batches; the third fills it: one step, the same for both.
  esrun::Selection a, b;
  for (int64_t begin = 24; begin < 48; begin += 8) {
    esrun::Batch next{torch::arange(begin, begin + 8, torch::kLong), torch::rand({8, 2}, gen), torch::rand({8}, gen)};
    const auto losses = torch::rand({8}, gen);
    a = policy->select(next, scores_of(losses));
    b = restored->select(next, scores_of(losses));
  }
  REQUIRE(a.queued->size() == 1);
  REQUIRE(b.queued->size() == 1);
  CHECK(a.queued->front().indices.equal(b.queued->front().indices));
  CHECK(a.queued->front().inputs.equal(b.queued->front().inputs));
  CHECK(a.queued->front().targets.equal(b.queued->front().targets));
  CHECK(a.queued->front().targets.dtype() == torch::kFloat);  // regression targets keep their type
}

TEST_CASE("Selective Backprop primes on the first epoch, then keeps by CDF^beta, and flushes", "[sampler][selective_backprop]") {
  auto policy = make_policy("{name: selective_backprop, meta_batch: 8, mini_batch: 4, sb_beta: 1.0}", 64);
  policy->plan_epoch(0);
  const auto priming = policy->select(batch_of(8), scores_of(torch::rand({8})));
  REQUIRE(priming.queued.has_value());
  CHECK(priming.queued->size() == 2);  // all 8 kept: two batches of b = 4
  const auto odd = policy->select(batch_of(6), scores_of(torch::rand({6})));
  CHECK(odd.queued->size() == 1);      // 6 kept: one batch of 4, 2 left queued
  const auto rest = policy->flush(0);
  REQUIRE(rest.size() == 1);
  CHECK(rest[0].indices.size(0) == 2);
  CHECK(policy->flush(0).empty());
  policy->plan_epoch(1);
  // History holds 14 losses in [0, 1); losses far above all of them have CDF 1: always kept.
  int kept = 0;
  for (int i = 0; i < 5; ++i) {
    const auto selection = policy->select(batch_of(8), scores_of(torch::full({8}, 10.0f)));
    for (const auto& b : *selection.queued) kept += b.indices.size(0);
  }
  CHECK(kept == 40);
  CHECK(policy->flush(1).empty());
  // Losses below everything in the history have CDF 0: never kept.
  auto low = make_policy("{name: selective_backprop, meta_batch: 8, mini_batch: 4}", 64);
  low->plan_epoch(0);
  low->select(batch_of(8), scores_of(torch::full({8}, 5.0f)));
  low->flush(0);
  low->plan_epoch(1);
  CHECK(low->select(batch_of(8), scores_of(torch::full({8}, -1.0f))).queued->empty());
  CHECK(low->flush(1).empty());
}

TEST_CASE("UCB keeps the (1-r)n highest mean + c * deviation, unseen first", "[sampler][ucb]") {
  auto policy = make_policy("{name: ucb, prune_ratio: 0.5}", 8);
  CHECK(policy->plan_epoch(0).indices.size(0) == 4);
  // Samples 0..5 seen with losses 0..5; 6 and 7 never: they rank first, then 5 and 4.
  policy->observe(trained(torch::arange(6, torch::kLong), torch::arange(6).to(torch::kFloat)));
  CHECK(sorted(policy->plan_epoch(1).indices).equal(torch::tensor({4, 5, 6, 7}, torch::kLong)));
  // A second observation gives sample 0 a large deviation: mean 0.9*0 + 0.1*10 = 1, var 0.1*100 = 10.
  policy->observe(trained(torch::arange(8, torch::kLong), torch::tensor({10.0f, 1.0f, 2.0f, 3.0f, 4.0f, 5.0f, 0.0f, 0.0f})));
  const auto kept = sorted(policy->plan_epoch(2).indices);
  CHECK((kept == 0).any().item<bool>());  // 1 + sqrt(10) beats the rest's means
}

TEST_CASE("epsilon-greedy keeps (1-r)n: the best by mean and a random epsilon share", "[sampler][ucb]") {
  auto policy = make_policy("{name: epsilon_greedy, prune_ratio: 0.5, epsilon: 0.2}", 100);
  policy->observe(trained(torch::arange(100, torch::kLong), torch::arange(100).to(torch::kFloat)));
  const auto kept = policy->plan_epoch(1).indices;
  CHECK(kept.size(0) == 50);
  CHECK(std::get<0>(at::_unique(kept)).size(0) == 50);
  CHECK(kept.ge(60).sum().item<int64_t>() == 40);  // the 40 highest means: 60..99
  CHECK(kept.lt(60).sum().item<int64_t>() == 10);  // 10 at random from the rest
}

TEST_CASE("UCB breaks ties among unseen samples at random, by seed", "[sampler][ucb]") {
  const auto config = [](int) {
    return esrun::load_config(esrun::RunRequest{{}, {"sampler={name: ucb, prune_ratio: 0.5}"}, std::nullopt}).sampler;
  };
  auto a = esrun::samplers().create("ucb", "sampler.name", config(0), esrun::PolicyContext{100, 10, 10, torch::kCPU, 1, {}});
  auto b = esrun::samplers().create("ucb", "sampler.name", config(0), esrun::PolicyContext{100, 10, 10, torch::kCPU, 2, {}});
  const auto first = sorted(a->plan_epoch(0).indices);
  CHECK_FALSE(first.equal(torch::arange(50, torch::kLong)));
  CHECK_FALSE(first.equal(sorted(b->plan_epoch(0).indices)));
}

TEST_CASE("Omission's batch level spends keep * B per meta-batch by default", "[sampler][omission]") {
  const auto options =
      esrun::load_config(esrun::RunRequest{{}, {"sampler={name: omission, level: batch, keep: 0.25, meta_batch: 64}"}, std::nullopt})
          .sampler;
  CHECK(options.resolved_mini_batch == 16);
}

TEST_CASE("UCB re-chooses its set only every period epochs", "[sampler][ucb]") {
  auto policy = make_policy("{name: ucb, prune_ratio: 0.5, period: 2}", 8);
  const auto first = policy->plan_epoch(0).indices;
  policy->observe(trained(torch::arange(8, torch::kLong), torch::arange(8).to(torch::kFloat)));
  CHECK(policy->plan_epoch(1).indices.equal(first));
  CHECK(sorted(policy->plan_epoch(2).indices).equal(torch::tensor({4, 5, 6, 7}, torch::kLong)));
}

TEST_CASE("KAKURENBO hides only low-loss, correct, confident samples and scales the lr", "[sampler][ka]") {
  auto policy = make_policy("{name: ka, hide_fraction: 0.4}", 10, 10);
  CHECK(policy->plan_epoch(0).indices.size(0) == 10);  // nothing seen yet: nothing hidden
  CHECK(policy->lr_scale(0) == Approx(1.0));
  // Lowest losses: 0, 1, 2, 3 (F_e n = 4 candidates at 0-30% of training). 1 was wrong, 2 unsure.
  const auto correct = torch::tensor({true, false, true, true, true, true, true, true, true, true});
  const auto confidence = torch::tensor({0.9f, 0.9f, 0.5f, 0.8f, 0.9f, 0.9f, 0.9f, 0.9f, 0.9f, 0.9f});
  policy->observe(trained(torch::arange(10, torch::kLong), torch::arange(10).to(torch::kFloat), 0, correct, confidence));
  const auto plan = policy->plan_epoch(1);
  CHECK(plan.indices.size(0) == 8);
  CHECK(sorted(policy->refresh_indices(1)).equal(torch::tensor({0, 3}, torch::kLong)));
  CHECK(policy->lr_scale(1) == Approx(1.0 / (1.0 - 0.2)));
  // Later in training the budget shrinks: 80-100% of training hides at most 0.4 * 0.4 * n = 2 (rounded).
  policy->plan_epoch(9);
  CHECK(policy->refresh_indices(9).size(0) <= 2);
}

TEST_CASE("Random* keeps (1-r)n distinct samples chosen afresh each epoch", "[sampler][random_prune]") {
  auto policy = make_policy("{name: random_prune, prune_ratio: 0.3}", 100);
  const auto a = policy->plan_epoch(0).indices, b = policy->plan_epoch(1).indices;
  CHECK(a.size(0) == 70);
  CHECK(std::get<0>(at::_unique(a)).size(0) == 70);
  CHECK_FALSE(sorted(a).equal(sorted(b)));
}

TEST_CASE("Reduced epochs trains round((1-r)E) epochs", "[sampler][reduced_epochs]") {
  CHECK(make_policy("{name: reduced_epochs, prune_ratio: 0.3}", 10, 200)->epochs(200) == 140);
  CHECK(make_policy("{name: reduced_epochs, prune_ratio: 0.5}", 10, 3)->epochs(3) == 2);
}

TEST_CASE("Every policy's saved state gives the same next choices after loading", "[sampler][checkpoint]") {
  const std::vector<std::string> samplers{
      "{name: infobatch}", "{name: omission}", "{name: omission, level: batch}", "{name: adaselection}",
      "{name: selective_backprop, mini_batch: 4}", "{name: ucb}", "{name: epsilon_greedy}", "{name: ka}",
      "{name: random_prune}", "{name: reduced_epochs}", "{name: uniform}"};
  for (const auto& sampler : samplers) {
    INFO(sampler);
    const std::string with_batch = sampler.substr(0, sampler.size() - 1) + ", meta_batch: 8}";
    auto policy = make_policy(with_batch, 32);
    auto gen = esrun::make_generator(5, "losses");
    for (int64_t epoch = 0; epoch < 2; ++epoch) {
      const auto plan = policy->plan_epoch(epoch);
      for (int64_t begin = 0; begin + 8 <= plan.indices.size(0); begin += 8) {
        esrun::Batch batch{plan.indices.narrow(0, begin, 8), torch::rand({8, 1}, gen), torch::zeros({8}, torch::kLong)};
        const auto losses = torch::rand({8}, gen);
        policy->select(batch, scores_of(losses));
        policy->observe(trained(batch.indices, losses, epoch, torch::rand({8}, gen).lt(0.5), torch::rand({8}, gen)));
      }
      policy->flush(epoch);
    }
    auto restored = make_policy(with_batch, 32);
    esrun::testing::round_trip(*policy, *restored);
    const auto a = policy->plan_epoch(2), b = restored->plan_epoch(2);
    CHECK(a.indices.equal(b.indices));
    CHECK(a.weights.defined() == b.weights.defined());
    if (a.weights.defined()) CHECK(a.weights.equal(b.weights));
    esrun::Batch batch{torch::arange(8, torch::kLong), torch::rand({8, 1}), torch::zeros({8}, torch::kLong)};
    const auto losses = torch::rand({8});
    const auto sa = policy->select(batch, scores_of(losses)), sb = restored->select(batch, scores_of(losses));
    CHECK(sa.positions.defined() == sb.positions.defined());
    if (sa.positions.defined()) CHECK(sa.positions.equal(sb.positions));
    CHECK(sa.queued.has_value() == sb.queued.has_value());
    if (sa.queued) CHECK(sa.queued->size() == sb.queued->size());
  }
}

TEST_CASE("Methods without current losses run no scoring forward", "[sampler]") {
  for (const std::string name : {"infobatch", "omission", "ucb", "epsilon_greedy", "ka", "random_prune", "reduced_epochs"})
    CHECK_FALSE(make_policy("{name: " + name + "}", 16)->needs_scores(1));
  for (const std::string name : {"adaselection", "selective_backprop"}) CHECK(make_policy("{name: " + name + "}", 16)->needs_scores(1));
}

TEST_CASE("InfoBatch without rescaling keeps weight 1 (soft pruning)", "[sampler][infobatch]") {
  auto policy = make_policy("{name: infobatch, prune_ratio: 0.5, rescale: false}", 10);
  policy->observe(trained(torch::arange(10, torch::kLong), torch::arange(10).to(torch::kFloat)));
  const auto plan = policy->plan_epoch(1);
  CHECK(plan.indices.size(0) == 7);
  CHECK(plan.weights.eq(1.0f).all().item<bool>());
}
