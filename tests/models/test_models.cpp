#include <catch2/catch.hpp>

#include "esrun/models/model.h"
#include "esrun/sampling/policy.h"
#include "esrun/train/loss.h"
#include "helpers.h"

namespace {
std::shared_ptr<esrun::Model> make(const std::string& name, int64_t classes, const std::string& stem = "cifar") {
  esrun::ModelOptions options;
  options.name = name;
  options.outputs = classes;
  options.input_shape = {3, 32, 32};
  options.stem = stem;
  return esrun::models().create(name, "model.name", options);
}
int64_t parameter_count(esrun::Model& model) {
  int64_t count = 0;
  for (const auto& p : model.parameters()) count += p.numel();
  return count;
}
}  // namespace

TEST_CASE("Every model maps a CIFAR batch to logits", "[model]") {
  for (const std::string name : {"small_cnn", "resnet18", "resnet50"}) {
    auto model = make(name, 100);
    torch::NoGradGuard no_grad;
    model->eval();
    CHECK(model->forward(torch::randn({2, 3, 32, 32})).sizes() == torch::IntArrayRef({2, 100}));
  }
}

TEST_CASE("The CIFAR ResNets have the standard parameter counts", "[model]") {
  // The widely used CIFAR ResNet-18 (3x3 stem, no max-pool) with 10 classes has 11,173,962
  // parameters; ResNet-50 with 100 classes has 23,705,252.
  CHECK(parameter_count(*make("resnet18", 10)) == 11173962);
  CHECK(parameter_count(*make("resnet50", 100)) == 23705252);
}

TEST_CASE("The ImageNet-stem ResNets match torchvision's parameter counts and take 224-pixel images", "[model]") {
  // torchvision.models.resnet18() / resnet50(): 11,689,512 and 25,557,032 parameters.
  auto resnet18 = make("resnet18", 1000, "imagenet");
  CHECK(parameter_count(*resnet18) == 11689512);
  CHECK(parameter_count(*make("resnet50", 1000, "imagenet")) == 25557032);
  torch::NoGradGuard no_grad;
  resnet18->eval();
  CHECK(resnet18->forward(torch::randn({2, 3, 224, 224})).sizes() == torch::IntArrayRef({2, 1000}));
}

TEST_CASE("A scoring forward under FrozenBatchNorm leaves BatchNorm statistics unchanged", "[model][loss]") {
  auto model = make("small_cnn", 10);
  model->train();
  std::vector<torch::Tensor> before;
  for (const auto& b : model->buffers()) before.push_back(b.clone());
  {
    torch::NoGradGuard no_grad;
    esrun::FrozenBatchNorm frozen(*model);
    model->forward(torch::randn({8, 3, 32, 32}) * 3 + 1);
  }
  const auto after = model->buffers();
  REQUIRE(after.size() == before.size());
  for (size_t i = 0; i < before.size(); ++i) CHECK(after[i].equal(before[i]));
  model->forward(torch::randn({8, 3, 32, 32}) * 3 + 1);  // an ordinary forward does move them
  CHECK_FALSE(model->buffers()[0].equal(before[0]));
}

TEST_CASE("The uniform policy plans every sample and its state round-trips", "[sampler]") {
  const esrun::PolicyContext context{10, 3, 2, torch::kCPU, 1, {}};
  esrun::SamplerOptions options;
  options.name = "uniform";
  auto policy = esrun::samplers().create("uniform", "sampler.name", options, context);
  const auto plan = policy->plan_epoch(0);
  CHECK(plan.indices.equal(torch::arange(10, torch::kLong)));
  CHECK_FALSE(plan.weights.defined());
  CHECK_FALSE(policy->needs_scores(0));
  const esrun::Batch batch{torch::arange(4), torch::zeros({4, 1}), torch::zeros({4}, torch::kLong)};
  CHECK_FALSE(policy->select(batch, {}).positions.defined());

  auto restored = esrun::samplers().create("uniform", "sampler.name", options, context);
  esrun::testing::round_trip(*policy, *restored);
  CHECK(restored->plan_epoch(1).indices.equal(policy->plan_epoch(1).indices));
}

TEST_CASE("A policy's random stream survives a checkpoint, and a checkpoint without one keeps the fresh stream",
          "[sampler][checkpoint]") {
  const esrun::PolicyContext context{50, 3, 2, torch::kCPU, 7, {}};
  esrun::SamplerOptions options;
  options.name = "random_prune";
  options.prune_ratio = 0.5;
  const auto make = [&] { return esrun::samplers().create("random_prune", "sampler.name", options, context); };
  auto policy = make();
  policy->plan_epoch(0);  // moves the stream on
  auto restored = make();
  esrun::testing::round_trip(*policy, *restored);
  CHECK(restored->plan_epoch(1).indices.equal(policy->plan_epoch(1).indices));

  // Checkpoints of policies that drew no random numbers held no "generator" entry.
  torch::serialize::OutputArchive empty;
  std::stringstream bytes;
  empty.save_to(bytes);
  torch::serialize::InputArchive old;
  old.load_from(bytes);
  auto from_old = make();
  CHECK_NOTHROW(from_old->load(old));
  CHECK(from_old->plan_epoch(0).indices.equal(make()->plan_epoch(0).indices));
}
