#include <catch2/catch.hpp>

#include "esrun/core/torch_compat.h"
#include "esrun/models/model.h"

namespace {
esrun::ModelOptions options(const std::string& name, std::vector<int64_t> input_shape, int64_t outputs) {
  esrun::ModelOptions o;
  o.name = name;
  o.input_shape = std::move(input_shape);
  o.outputs = outputs;
  return o;
}
std::shared_ptr<esrun::Model> make(const esrun::ModelOptions& o) { return esrun::models().create(o.name, "model.name", o); }
int64_t parameter_count(esrun::Model& model) {
  int64_t count = 0;
  for (const auto& p : model.parameters()) count += p.numel();
  return count;
}
// The out_features of the model's Linear layers, in order.
std::vector<int64_t> linear_sizes(esrun::Model& model) {
  std::vector<int64_t> sizes;
  for (const auto& m : model.modules(false))
    if (auto* linear = m->as<torch::nn::Linear>()) sizes.push_back(linear->options.out_features());
  return sizes;
}
}  // namespace

TEST_CASE("The ViT presets have timm's parameter counts at 224 pixels, patch 16, 1000 classes", "[model]") {
  // timm.create_model(name).num_params for vit_{tiny,small,base,large}_patch16_224.
  const std::vector<std::pair<std::string, int64_t>> expected = {
      {"tiny", 5717416}, {"small", 22050664}, {"base", 86567656}, {"large", 304326632}};
  for (const auto& [preset, count] : expected) {
    auto o = options("vit", {3, 224, 224}, 1000);
    o.preset = preset;
    o.patch_size = 16;
    INFO(preset);
    CHECK(parameter_count(*make(o)) == count);
  }
}

TEST_CASE("Explicit ViT width, depth and heads override the preset", "[model]") {
  auto o = options("vit", {3, 32, 32}, 10);
  o.preset = "base";
  o.width = 64;
  o.depth = 2;
  o.heads = 4;
  // Patch 4 at 32 pixels: 64 patches + class token. Per block 12 D^2 + 13 D (4x MLP) and two LayerNorms.
  const int64_t d = 64, block = 12 * d * d + 13 * d;
  const int64_t embed = 3 * 4 * 4 * d + d, tokens = (64 + 1) * d + d;
  CHECK(parameter_count(*make(o)) == embed + tokens + 2 * block + 2 * d + (d * 10 + 10));
}

TEST_CASE("ViT maps a CIFAR batch to logits with the default patch, by class token or mean pooling", "[model]") {
  for (const std::string pool : {"cls", "mean"}) {
    auto o = options("vit", {3, 32, 32}, 10);
    o.pool = pool;
    o.depth = 2;
    o.dropout = 0.1;
    auto model = make(o);
    INFO(pool);
    model->train();
    const auto out = model->forward(torch::randn({2, 3, 32, 32}));
    CHECK(out.sizes() == torch::IntArrayRef({2, 10}));
    out.sum().backward();
    for (const auto& p : model->parameters()) CHECK(p.grad().defined());
    // Default patch 4: 8x8 = 64 patches, plus the class token when pooling by it.
    CHECK(model->named_parameters()["pos_embed"].size(1) == (pool == "cls" ? 65 : 64));
  }
}

TEST_CASE("ViT rejects a patch size that does not divide the images, heads that do not divide the width, and feature tables",
          "[model]") {
  auto o = options("vit", {3, 36, 36}, 10);
  o.patch_size = 16;
  REQUIRE_THROWS_WITH(make(o), Catch::Contains("model.patch_size: 16 does not divide the 36x36 images"));
  o.patch_size = 4;
  CHECK_NOTHROW(make(o));

  auto wide = options("vit", {3, 32, 32}, 10);
  wide.width = 100;
  wide.heads = 3;
  REQUIRE_THROWS_WITH(make(wide), Catch::Contains("model.heads: 3") && Catch::Contains("model.width = 100"));

  REQUIRE_THROWS_WITH(make(options("vit", {20}, 2)), Catch::Contains("model.name: mlp"));
}

TEST_CASE("ViT exempts its position embedding and class token from weight decay by their parameter names", "[model]") {
  for (const std::string pool : {"cls", "mean"}) {
    auto o = options("vit", {3, 32, 32}, 10);
    o.pool = pool;
    o.depth = 1;
    auto model = make(o);
    CHECK(model->default_no_decay());
    const auto names = model->no_decay_parameters();
    CHECK(names.size() == (pool == "cls" ? 2u : 1u));
    const auto parameters = model->named_parameters();
    for (const auto& name : names) {
      INFO(pool << ": " << name);
      CHECK(parameters.contains(name));
    }
  }
}

TEST_CASE("ViT initialises like timm: truncated normal std 0.02 weights, zero biases, unit LayerNorms", "[model]") {
  auto o = options("vit", {3, 32, 32}, 10);
  o.depth = 2;
  auto model = make(o);
  const auto parameters = model->named_parameters();
  const auto pos = parameters["pos_embed"];
  CHECK(pos.abs().max().item<double>() <= 0.04 + 1e-7);
  CHECK(pos.std().item<double>() == Approx(0.0176).margin(0.001));  // 0.02 * 0.88: std of N(0, 1) cut at +-2
  const auto qkv = parameters["blocks.0.attn.qkv.weight"];
  CHECK(qkv.abs().max().item<double>() <= 0.04 + 1e-7);
  CHECK(qkv.std().item<double>() == Approx(0.0176).margin(0.001));
  CHECK(parameters["blocks.0.attn.qkv.bias"].abs().max().item<double>() == 0.0);
  CHECK(parameters["head.bias"].abs().max().item<double>() == 0.0);
  CHECK(parameters["norm.weight"].eq(1).all().item<bool>());
  CHECK(parameters["blocks.1.norm2.bias"].eq(0).all().item<bool>());
}

TEST_CASE("compat::attention equals softmax(q k^T / sqrt(d)) v", "[model]") {
  const auto q = torch::randn({2, 3, 5, 8}, torch::kDouble), k = torch::randn({2, 3, 5, 8}, torch::kDouble),
             v = torch::randn({2, 3, 5, 8}, torch::kDouble);
  const auto expected = torch::softmax(torch::matmul(q, k.transpose(-2, -1)) / std::sqrt(8.0), -1).matmul(v);
  CHECK(torch::allclose(esrun::compat::attention(q, k, v, 0.0, false), expected, 1e-9, 1e-12));
  CHECK(torch::allclose(esrun::compat::attention(q, k, v, 0.5, false), expected, 1e-9, 1e-12));  // eval: no dropout
  CHECK(torch::allclose(esrun::compat::attention(q, k, v, 0.0, true), expected, 1e-9, 1e-12));
}

TEST_CASE("MLP parameter counts follow the hidden sizes, with BatchNorm1d adding 2 per hidden unit", "[model]") {
  auto o = options("mlp", {10}, 3);
  o.hidden = std::vector<int64_t>{16, 8};
  // (10*16 + 16) + (16*8 + 8) + (8*3 + 3)
  CHECK(parameter_count(*make(o)) == 339);
  o.batch_norm = true;
  CHECK(parameter_count(*make(o)) == 339 + 2 * 16 + 2 * 8);
}

TEST_CASE("MLP maps feature tables and flattened images to outputs, with every activation", "[model]") {
  for (const std::string activation : {"relu", "gelu", "tanh", "sigmoid"}) {
    INFO(activation);
    auto o = options("mlp", {7}, 1);
    o.activation = activation;
    o.dropout = 0.2;
    o.batch_norm = true;
    auto features = make(o);
    features->train();
    CHECK(features->forward(torch::randn({4, 7})).sizes() == torch::IntArrayRef({4, 1}));
  }
  auto images = make(options("mlp", {3, 4, 4}, 10));
  // 48 inputs -> 32 (no preset) -> 10
  CHECK(parameter_count(*images) == (48 * 32 + 32) + (32 * 10 + 10));
  images->eval();
  CHECK(images->forward(torch::randn({2, 3, 4, 4})).sizes() == torch::IntArrayRef({2, 10}));
}

TEST_CASE("MLP presets give the documented hidden sizes, and model.hidden overrides them", "[model]") {
  auto o = options("mlp", {5}, 2);
  CHECK(linear_sizes(*make(o)) == std::vector<int64_t>{32, 2});
  o.preset = "simple";
  CHECK(linear_sizes(*make(o)) == std::vector<int64_t>{32, 2});
  o.preset = "two_layer";
  CHECK(linear_sizes(*make(o)) == std::vector<int64_t>{64, 64, 2});
  o.hidden = std::vector<int64_t>{7, 6, 5};
  CHECK(linear_sizes(*make(o)) == std::vector<int64_t>{7, 6, 5, 2});
}
