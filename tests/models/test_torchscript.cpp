// model.name: torchscript: modules built and saved here with the C++ TorchScript API, loaded,
// fine-tuned, checkpointed and resumed; head surgery, freezing, the head's learning rate, errors.
#include <catch2/catch.hpp>
#include <torch/script.h>

#include "esrun/commands/run.h"
#include "esrun/models/model.h"
#include "esrun/optim/optimizer.h"
#include "helpers.h"

using Catch::Matchers::Contains;
using esrun::testing::TempDir;

namespace {

// A module as Python's would be: with the `training` flag every nn.Module has.
torch::jit::Module module(const std::string& type) {
  torch::jit::Module m(type);
  m.register_attribute("training", c10::BoolType::get(), true);
  return m;
}

// A Linear as torch.jit.script saves nn.Linear: a module of type "Linear" with weight and bias.
torch::jit::Module linear(int64_t in, int64_t out) {
  auto m = module("Linear");
  m.register_parameter("weight", torch::randn({out, in}) * 0.1, false);
  m.register_parameter("bias", torch::zeros({out}), false);
  m.define(R"(
def forward(self, x):
    return torch.matmul(x, self.weight.t()) + self.bias
)");
  return m;
}

// An image classifier: flatten, Linear, ReLU, a running-mean buffer (as BatchNorm keeps), head.
std::string save_image_module(const TempDir& dir, int64_t in, int64_t classes, const std::string& returns = "logits") {
  auto m = module("ImageNet");
  m.register_module("body", linear(in, 16));
  m.register_module("head", linear(16, classes));
  m.register_buffer("running_mean", torch::zeros({16}));
  m.define(std::string(R"(
def forward(self, x):
    h = torch.relu(self.body.forward(x.flatten(1)))
    if self.training:
        self.running_mean.mul_(0.9).add_(0.1 * h.mean(0))
    logits = self.head.forward(h)
    return )") + returns + "\n");
  const std::string path = dir / "image.pt";
  m.save(path);
  return path;
}

// A text classifier taking Hugging Face's argument names: mean of embedded tokens under the mask.
std::string save_text_module(const TempDir& dir, int64_t vocab, int64_t classes) {
  auto m = module("TextNet");
  m.register_parameter("embeddings", torch::randn({vocab, 8}) * 0.1, false);
  m.register_parameter("type_embeddings", torch::randn({2, 8}) * 0.1, false);
  m.register_module("classifier", linear(8, classes));
  // position_ids sits between the inputs, as in Hugging Face's forwards: esrun passes by name.
  m.define(R"(
def forward(self, input_ids, position_ids: Optional[Tensor] = None, attention_mask: Optional[Tensor] = None,
            token_type_ids: Optional[Tensor] = None):
    assert position_ids is None
    assert attention_mask is not None
    assert token_type_ids is not None
    h = self.embeddings[input_ids] + self.type_embeddings[token_type_ids]
    mask = attention_mask.unsqueeze(2).to(h.dtype)
    pooled = (h * mask).sum(1) / mask.sum(1).clamp_min(1.0)
    return (self.classifier.forward(pooled), pooled)
)");
  const std::string path = dir / "text.pt";
  m.save(path);
  return path;
}

std::vector<std::string> image_sets(const std::string& module) {
  return {"data={name: synthetic_shapes, synthetic: {train_size: 96, test_size: 48, classes: 4, image_size: 8}}",
          "model={name: torchscript, torchscript: {path: " + module + "}}", "train.epochs=8", "threads=2",
          "optimizer={name: sgd, lr: 0.1}", "schedule.name=constant", "sampler={name: es, meta_batch: 16, ratio: 0.5}", "progress.mode=off"};
}

esrun::ModelOptions model_options(const std::string& path, int64_t outputs) {
  auto config = esrun::testing::config_from_sets({"model={name: torchscript, torchscript: {path: " + path + "}}"});
  auto options = config.model;
  options.outputs = outputs;
  options.input_shape = {3, 8, 8};
  return options;
}

}  // namespace

TEST_CASE("An imported TorchScript module fine-tunes with es and resumes mid-epoch to the same metrics", "[torchscript][e2e][checkpoint]") {
  TempDir dir;
  const auto sets = image_sets(save_image_module(dir, 3 * 8 * 8, 10));
  const auto whole = esrun::run(esrun::RunRequest{{}, sets, dir / "whole"});
  CHECK(whole.finished);
  const auto records = esrun::testing::metrics(whole);
  REQUIRE(records.size() == 8);
  CHECK(std::isfinite(records.back()["test_loss"].get<double>()));
  CHECK(records.front()["test_loss"] != records.back()["test_loss"]);  // it trains (the text test checks it learns)
  CHECK(records.front()["samples_backward"] == 48);       // es: b = 8 of each B = 16

  const auto [pieces, invocations] = esrun::testing::run_in_pieces(sets, dir / "pieces", 4, 11);
  CHECK(invocations > 1);
  CHECK(esrun::testing::without_times(esrun::testing::metrics(pieces)) == esrun::testing::without_times(records));
}

TEST_CASE("Head surgery replaces the classifier, freezing keeps parameters out of the optimizer", "[torchscript][models]") {
  TempDir dir;
  const auto path = save_image_module(dir, 3 * 8 * 8, 10);
  auto options = model_options(path, 4);
  options.torchscript.freeze = {"body.*"};
  options.torchscript.head_lr_scale = 10.0;
  const auto model = esrun::models().create("torchscript", "model.name", options);
  const auto parameters = model->named_parameters();
  CHECK(parameters["head__weight"].sizes() == torch::IntArrayRef({4, 16}));
  CHECK(parameters["head__bias"].sizes() == torch::IntArrayRef({4}));
  CHECK(parameters["head__weight"].std().item<double>() == Approx(0.02).epsilon(0.5));
  CHECK_FALSE(parameters["body__weight"].requires_grad());
  CHECK(model->named_buffers().contains("running_mean"));
  CHECK(model->forward(torch::randn({5, 3, 8, 8})).sizes() == torch::IntArrayRef({5, 4}));

  const auto config = esrun::testing::config_from_sets({"optimizer={name: adamw, lr: 0.001}"});
  const auto optimizer = esrun::make_optimizer(config.optimizer, "optimizer.name", *model);
  int64_t trained = 0;
  for (const auto& group : optimizer->param_groups()) trained += static_cast<int64_t>(group.params().size());
  CHECK(trained == 2);  // the head's weight and bias; the frozen body's two are left out
  const auto scales = esrun::group_lr_scales(*optimizer, *model);
  CHECK(std::find(scales.begin(), scales.end(), 10.0) != scales.end());

  // auto keeps a head that already has the run's size; none keeps any; a name replaces that layer.
  CHECK(esrun::models().create("torchscript", "model.name", model_options(path, 10))->named_parameters()["head__weight"].sizes() ==
        torch::IntArrayRef({10, 16}));
  options = model_options(path, 10);
  options.torchscript.head = "head";  // named: replaced even at the same size
  const auto saved = torch::jit::load(path).attr("head").toModule().attr("weight").toTensor();
  const auto fresh = esrun::models().create("torchscript", "model.name", options)->named_parameters()["head__weight"];
  CHECK(fresh.sizes() == saved.sizes());
  CHECK_FALSE(torch::allclose(fresh, saved));
}

TEST_CASE("An imported text module takes token batches by its argument names and trains", "[torchscript][text][e2e]") {
  TempDir dir;
  const auto path = save_text_module(dir, 20, 5);
  std::string train, test;
  for (int i = 0; i < 64; ++i) {
    const int label = i % 2;
    const std::string record = "{\"input_ids\": [2, " + std::to_string(4 + label * 8 + i % 7) + ", 3, " +
                               std::to_string(5 + i % 5) + "], \"token_type_ids\": [0, 0, 0, 1], \"label\": " +
                               std::to_string(label) + "}\n";
    (i < 48 ? train : test) += record;
  }
  esrun::testing::write_file(dir / "tok/train.jsonl", train);
  esrun::testing::write_file(dir / "tok/test.jsonl", test);
  const auto result = esrun::run(esrun::RunRequest{
      {},
      {"data={name: tokens_jsonl, root: " + (dir.path() / "tok").string() + ", tokens_jsonl: {vocab_size: 20}}",
       "model={name: torchscript, torchscript: {path: " + path + ", output: '0'}}", "train.epochs=10", "threads=2",
       "optimizer={name: adam, lr: 0.05, weight_decay: 0.0}", "schedule.name=constant", "sampler={name: es, meta_batch: 8, ratio: 0.5}",
       "progress.mode=off"},
      dir / "run"});
  CHECK(result.finished);
  CHECK(result.summary["final_test_acc"].get<double>() > 0.75);  // the first content token gives the label away
}

TEST_CASE("Bad TorchScript inputs are errors naming the file, the key and both sides", "[torchscript][errors]") {
  TempDir dir;
  const auto create = [](const esrun::ModelOptions& options) { return esrun::models().create("torchscript", "model.name", options); };
  esrun::testing::write_file(dir / "not_a_module.pt", "these bytes are no zip archive");
  REQUIRE_THROWS_WITH(create(model_options(dir / "not_a_module.pt", 4)),
                      Contains("not_a_module.pt") && Contains("is not a TorchScript archive"));

  const auto image = save_image_module(dir, 3 * 8 * 8, 10);
  auto options = model_options(image, 4);
  options.torchscript.head = "classifier";
  REQUIRE_THROWS_WITH(create(options), Contains("model.torchscript.head") && Contains("no submodule 'classifier'") &&
                                           Contains("body, head"));
  options = model_options(image, 4);
  options.torchscript.head = "body";  // a new body of 4 outputs no longer fits the head
  REQUIRE_THROWS_WITH(create(options), Contains("image.pt: the module's forward failed on a batch [2, 3, 8, 8]") &&
                                           Contains("forward(__torch__.ImageNet"));
  options = model_options(image, 4);
  options.torchscript.freeze = {"encoder.*"};
  REQUIRE_THROWS_WITH(create(options), Contains("model.torchscript.freeze") && Contains("'encoder.*' matches no parameter"));
  options = model_options(image, 4);
  options.per_token = true;  // a language model's head is its vocabulary: auto never replaces it
  REQUIRE_THROWS_WITH(create(options), Contains("model.torchscript.head") && Contains("has 10 outputs but the run predicts 4 tokens"));
  options = model_options(image, 4);
  options.torchscript.output = "logits";
  REQUIRE_THROWS_WITH(create(options), Contains("model.torchscript.output") && Contains("returns a tensor"));

  const auto dict = save_image_module(dir, 3 * 8 * 8, 10, "{'features': h}");
  REQUIRE_THROWS_WITH(create(model_options(dict, 4)), Contains("without a tensor \"logits\"") && Contains("features"));

  // Images given to a module that takes token batches, and tokens given to one that takes images.
  const auto text = save_text_module(dir, 20, 5);
  REQUIRE_THROWS_WITH(create(model_options(text, 4)), Contains("does not take the data's inputs") &&
                                                          Contains("input_ids") && Contains("images [C, H, W]"));
  options = model_options(image, 4);
  options.vocab_size = 20;
  options.input_shape = {2, 6};
  REQUIRE_THROWS_WITH(create(options), Contains("does not take the data's inputs") && Contains("forward(") &&
                                           Contains("token batches"));
  // A missing file is caught with the config, before any data is loaded.
  auto config = esrun::testing::config_from_sets({"model={name: torchscript, torchscript: {path: " + (dir / "missing.pt") + "}}"});
  REQUIRE_THROWS_WITH(esrun::check_environment(config), Contains("model.torchscript.path") && Contains("is not a file"));
  REQUIRE_THROWS_WITH(esrun::testing::config_from_sets({"model.name=torchscript"}),
                      Contains("model.torchscript.path") && Contains("TorchScript module file"));
}
