// Causal language modelling: the causal_lm task, the gpt decoder, text_lm and tokens_jsonl.
#include <catch2/catch.hpp>

#include <cmath>

#include "esrun/commands/run.h"
#include "esrun/core/error.h"
#include "esrun/data/dataset.h"
#include "esrun/models/model.h"
#include "esrun/sampling/policy.h"
#include "esrun/tasks/task.h"
#include "helpers.h"

using Catch::Matchers::Contains;
using esrun::testing::TempDir;

namespace {

std::unique_ptr<esrun::Task> causal_lm(int64_t vocab) {
  esrun::TaskContext context;
  context.vocab_size = vocab;
  return esrun::tasks().create("causal_lm", "task.name", esrun::TaskOptions{}, context);
}

// JSON lines of language-model records: ids cycle through a pattern a model can learn (each
// sequence counts up by 1 or 2 from its start), the first `prompt` tokens masked.
std::string lm_records(int count, int length, int vocab, int prompt, int seed) {
  std::string out;
  for (int i = 0; i < count; ++i) {
    const int start = (i * 7 + seed) % vocab, step = 1 + (i + seed) % 2;
    nlohmann::json ids = nlohmann::json::array(), mask = nlohmann::json::array();
    const int n = length - (i % 3);  // lengths differ: padding
    for (int t = 0; t < n; ++t) {
      ids.push_back((start + step * t) % vocab);
      mask.push_back(t < prompt ? 0 : 1);
    }
    out += nlohmann::json{{"input_ids", ids}, {"loss_mask", mask}}.dump() + "\n";
  }
  return out;
}

std::vector<std::string> lm_sets(const TempDir& dir, const std::string& sampler = "{name: es, meta_batch: 16, ratio: 0.5}") {
  esrun::testing::write_file(dir / "lm/train.jsonl", lm_records(48, 12, 40, 3, 0));
  esrun::testing::write_file(dir / "lm/test.jsonl", lm_records(16, 12, 40, 3, 5));
  return {"data.name=tokens_jsonl", "data.root=" + (dir.path() / "lm").string(), "data.tokens_jsonl.vocab_size=40",
          "model={name: gpt, width: 32, depth: 2, heads: 2, dropout: 0.0}", "train.epochs=2", "threads=2",
          "optimizer={name: adamw, lr: 3.0e-3, weight_decay: 0.01}", "schedule.name=constant",
          "sampler=" + sampler, "progress.mode=off"};
}

}  // namespace

TEST_CASE("The causal LM loss is the mean token cross entropy over the unmasked targets", "[language][tasks]") {
  const auto task = causal_lm(3);
  // One sample, three positions; the second is masked (-1).
  const auto logits = torch::tensor({{{2.0f, 0.0f, 0.0f}, {0.0f, 5.0f, 0.0f}, {0.0f, 0.0f, 1.0f}}});
  const auto targets = torch::tensor({{0, -1, 1}}, torch::kLong);
  // Hand computed: CE(position 0, class 0) = log(e^2 + 2) - 2; CE(position 2, class 1) = log(2 + e) - 0.
  const double ce0 = std::log(std::exp(2.0) + 2.0) - 2.0, ce2 = std::log(2.0 + std::exp(1.0));
  CHECK(task->loss(logits, targets).item<double>() == Approx((ce0 + ce2) / 2).epsilon(1e-6));
  CHECK(task->confidence(logits, targets).item<double>() == Approx(std::exp(-(ce0 + ce2) / 2)).epsilon(1e-6));
  CHECK_FALSE(task->correct(logits, targets).item<bool>());  // position 2 predicts class 2, not 1
  const auto right = torch::tensor({{0, 1, 2}}, torch::kLong);
  CHECK(task->correct(logits, right).item<bool>());
  CHECK(task->outputs() == 3);
  CHECK(task->per_token());

  // ||dl/dz||^2 in closed form equals autograd's.
  auto z = torch::randn({4, 5, 3}).requires_grad_(true);
  const auto y = torch::tensor({{0, 1, -1, 2, -1}, {1, 1, 1, 1, 1}, {-1, -1, -1, -1, 2}, {2, 0, 1, -1, 0}}, torch::kLong);
  const auto losses = task->loss(z, y);
  for (int64_t i = 0; i < 4; ++i) {
    const auto grad = torch::autograd::grad({losses[i]}, {z}, {}, /*retain_graph=*/true)[0];
    CHECK(task->grad_sq_norm(z.detach(), y)[i].item<double>() == Approx(grad.pow(2).sum().item<double>()).epsilon(1e-5));
  }

  // Evaluation: loss per token over the split, perplexity its exp, acc the exact matches.
  const auto rows = task->eval_rows(logits, targets);
  const auto result = task->eval_result(torch::cat({rows, task->eval_rows(logits, right)}));
  const double ce_right = ce0 + (std::log(2.0 + std::exp(5.0)) - 5.0) + (std::log(2.0 + std::exp(1.0)) - 1.0);
  CHECK(result.loss == Approx((ce0 + ce2 + ce_right) / 5).epsilon(1e-6));
  CHECK(*result.perplexity == Approx(std::exp(result.loss)).epsilon(1e-9));
  CHECK(*result.acc == Approx(0.5));
  CHECK(result.score == Approx(-*result.perplexity));
  CHECK(task->headline_metric() == "perplexity");
}

TEST_CASE("tokens_jsonl reads language-model and labelled records, padding to the longest", "[language][data]") {
  TempDir dir;
  esrun::testing::write_file(dir / "lm/train.jsonl", R"({"input_ids": [5, 6, 7, 8], "loss_mask": [0, 0, 1, 1]}
{"input_ids": [9, 3]}

)");
  esrun::testing::write_file(dir / "lm/test.jsonl", R"({"input_ids": [1, 2, 3, 4, 5]})" "\n");
  auto config = esrun::testing::config_from_sets({"data.name=tokens_jsonl", "data.root=" + (dir.path() / "lm").string(),
                                                  "data.tokens_jsonl.vocab_size=10", "model.name=gpt"});
  const auto data = esrun::load_dataset(config);
  CHECK(data.task == "causal_lm");
  CHECK(data.vocab_size == 10);
  REQUIRE(data.train.inputs.sizes() == torch::IntArrayRef({2, 2, 5}));  // the test split's 5 tokens are the longest
  CHECK(torch::equal(data.train.inputs[0], torch::tensor({{5, 6, 7, 8, 0}, {1, 1, 1, 1, 0}}, torch::kInt)));
  // Position t predicts token t + 1 where its loss_mask is 1: tokens 7 and 8 only.
  CHECK(torch::equal(data.train.targets[0], torch::tensor({-1, 7, 8, -1, -1}, torch::kLong)));
  CHECK(torch::equal(data.train.targets[1], torch::tensor({3, -1, -1, -1, -1}, torch::kLong)));
  CHECK(torch::equal(data.test.targets[0], torch::tensor({2, 3, 4, 5, -1}, torch::kLong)));

  esrun::testing::write_file(dir / "cls/train.jsonl", R"({"input_ids": [2, 5, 3, 6, 3], "token_type_ids": [0, 0, 0, 1, 1], "label": 2}
{"input_ids": [2, 7, 3], "label": 0}
)");
  esrun::testing::write_file(dir / "cls/test.jsonl", R"({"input_ids": [2, 8, 3], "label": 1})" "\n");
  config = esrun::testing::config_from_sets({"data.name=tokens_jsonl", "data.root=" + (dir.path() / "cls").string(),
                                             "data.tokens_jsonl.vocab_size=10", "model.name=transformer"});
  const auto labelled = esrun::load_dataset(config);
  CHECK(labelled.task == "classification");
  CHECK(labelled.num_classes == 3);
  CHECK(torch::equal(labelled.train.targets, torch::tensor({2, 0}, torch::kLong)));
  CHECK(torch::equal(labelled.train.inputs[0][1], torch::tensor({1, 1, 1, 2, 2}, torch::kInt)));
  CHECK(torch::equal(labelled.train.inputs[1][1], torch::tensor({1, 1, 1, 0, 0}, torch::kInt)));
}

TEST_CASE("Bad tokens_jsonl records are errors naming the file and line", "[language][data][errors]") {
  TempDir dir;
  esrun::testing::write_file(dir / "lm/test.jsonl", R"({"input_ids": [1, 2]})" "\n");
  const auto load = [&](const std::string& train) {
    esrun::testing::write_file(dir / "lm/train.jsonl", train);
    auto config = esrun::testing::config_from_sets({"data.name=tokens_jsonl", "data.root=" + (dir.path() / "lm").string(),
                                                    "data.tokens_jsonl.vocab_size=10", "model.name=gpt"});
    esrun::load_dataset(config);
  };
  const std::string file = (dir.path() / "lm" / "train.jsonl").string();
  REQUIRE_THROWS_WITH(load("{\"input_ids\": [1, 2]}\n{\"input_ids\": [1, 2, 3], \"loss_mask\": [1, 1]}\n"),
                      Contains(file + ":2") && Contains("2 loss_mask values for 3 input_ids"));
  REQUIRE_THROWS_WITH(load("{\"input_ids\": [1, 12]}\n"),
                      Contains(file + ":1") && Contains("input_ids[1] = 12 is outside the vocabulary [0, 10)"));
  REQUIRE_THROWS_WITH(load("{\"input_ids\": [1, 2]\n"), Contains(file + ":1") && Contains("not a JSON object"));
  REQUIRE_THROWS_WITH(load("{\"input_ids\": [1, 2], \"loss_mask\": [1, 0]}\n"), Contains(file + ":1") && Contains("no token to predict"));
  REQUIRE_THROWS_WITH(load("{\"input_ids\": [1, 2]}\n{\"input_ids\": [1, 2], \"label\": 1}\n"),
                      Contains(file + ":2") && Contains("unlike the records before it"));
  REQUIRE_THROWS_WITH(load("{\"tokens\": [1, 2]}\n"), Contains(file + ":1") && Contains("\"input_ids\""));
  // The vocabulary size is required.
  REQUIRE_THROWS_WITH(esrun::testing::config_from_sets({"data.name=tokens_jsonl", "model.name=gpt"}),
                      Contains("data.tokens_jsonl.vocab_size") && Contains("vocabulary size"));
}

TEST_CASE("text_lm cuts the tokenised text into blocks whose targets are the next tokens", "[language][data]") {
  TempDir dir;
  std::string text;
  for (int i = 0; i < 300; ++i)
    text += "the quick brown fox number " + std::to_string(i % 17) + " jumps over the lazy dog\n" + (i % 5 == 0 ? "\n" : "");
  esrun::testing::write_file(dir / "text/train.txt", text);
  esrun::testing::write_file(dir / "text/test.txt", text.substr(0, 2000));
  auto config = esrun::testing::config_from_sets(
      {"data.name=text_lm", "data.root=" + (dir.path() / "text").string(), "data.text_lm={train: train.txt, test: test.txt}",
       "data.tokenizer={vocab_size: 60, max_length: 16}", "model.name=gpt"});
  const auto data = esrun::load_dataset(config);
  CHECK(data.task == "causal_lm");
  REQUIRE(data.train.size() > 10);
  CHECK(data.train.inputs.sizes() == torch::IntArrayRef({data.train.size(), 2, 16}));
  CHECK(data.train.inputs.select(1, 1).eq(1).all().item<bool>());  // blocks are full: no padding
  const auto ids = data.train.inputs.select(1, 0).to(torch::kLong);
  // Within a block the target of t is token t + 1; the last target is the next block's first token.
  CHECK(torch::equal(data.train.targets.narrow(1, 0, 15), ids.narrow(1, 1, 15)));
  const auto n = data.train.size();
  CHECK(torch::equal(data.train.targets.select(1, 15).narrow(0, 0, n - 1), ids.select(1, 0).narrow(0, 1, n - 1)));
  // Lines end with [SEP] (id 3); blank lines add nothing.
  const auto seps = ids.eq(3).sum().item<int64_t>();
  CHECK(seps > 280);
  CHECK(seps <= 300);
}

TEST_CASE("A tiny GPT lowers the test perplexity with every policy", "[language][e2e]") {
  TempDir dir;
  for (const auto& entry : esrun::samplers().entries()) {
    INFO(entry.name);
    auto sets = lm_sets(dir, "{name: " + entry.name + ", meta_batch: 16}");
    if (entry.name == "selective_backprop") sets.push_back("sampler.mini_batch=8");
    esrun::testing::with_scores(sets, entry.name, dir.path());
    const auto result = esrun::run(esrun::RunRequest{{}, sets, dir / entry.name});
    CHECK(result.finished);
    CHECK(result.summary["metric"] == "perplexity");
    const auto lines = esrun::testing::metrics(result);
    REQUIRE_FALSE(lines.empty());
    const double last = lines.back()["test_perplexity"].get<double>();
    CHECK(std::isfinite(last));
    CHECK(last < 40.0);  // below the uniform guess over the 40-token vocabulary, where training starts
  }
}

TEST_CASE("A GPT run with micro-batches stopped mid-epoch resumes to the same metrics", "[language][checkpoint]") {
  TempDir dir;
  auto sets = lm_sets(dir);
  sets.push_back("train.accumulate=4");
  sets.push_back("model.dropout=0.1");
  const auto whole = esrun::run(esrun::RunRequest{{}, sets, dir / "whole"});
  const auto [pieces, invocations] = esrun::testing::run_in_pieces(sets, dir / "pieces", 2, 3);
  CHECK(invocations > 1);
  CHECK(esrun::testing::without_times(esrun::testing::metrics(pieces)) ==
        esrun::testing::without_times(esrun::testing::metrics(whole)));
  // es trains b = 8 of each B = 16 in micro-batches of 4: 2 backward passes a step, 3 steps an epoch.
  CHECK(esrun::testing::metrics(whole).front()["backward_passes"] == 6);
}

TEST_CASE("Language-model settings that cannot work are errors before training", "[language][errors]") {
  TempDir dir;
  auto sets = lm_sets(dir);
  auto run_with = [&](std::vector<std::string> more) {
    auto all = sets;
    all.insert(all.end(), more.begin(), more.end());
    return esrun::run(esrun::RunRequest{{}, all, dir / "bad"});
  };
  REQUIRE_THROWS_WITH(run_with({"model.max_positions=8"}),
                      Contains("model.max_positions") && Contains("8 positions, but the examples have up to 12 tokens"));
  REQUIRE_THROWS_WITH(run_with({"model.name=transformer"}), Contains("for causal_lm use model.name: gpt"));
  REQUIRE_THROWS_WITH(run_with({"train.label_smoothing=0.1"}), Contains("train.label_smoothing"));
  REQUIRE_THROWS_WITH(run_with({"task.metric=rmse"}), Contains("task.metric"));
  // Caught with the config, before any data is loaded.
  REQUIRE_THROWS_WITH(esrun::testing::config_from_sets({"data.name=cifar10", "task.name=causal_lm"}),
                      Contains("task.name") && Contains("needs data.name text_lm or tokens_jsonl"));
  REQUIRE_THROWS_WITH(esrun::testing::config_from_sets({"data.name=text_lm", "model.name=gpt", "task.name=classification"}),
                      Contains("model.name") && Contains("set task.name: causal_lm"));
  REQUIRE_THROWS_WITH(esrun::testing::config_from_sets({"data.name=text_lm", "model.name=gpt",
                                                        "data.augment={mean: [0.5], std: [0.5]}"}),
                      Contains("data.augment.mean") && Contains("no images to normalise"));
}

TEST_CASE("The gpt presets have GPT-2's parameter counts", "[language][models]") {
  const auto count = [](const std::string& preset, int64_t vocab, int64_t positions) {
    esrun::ModelOptions options;
    options.name = "gpt";
    options.preset = preset;
    options.vocab_size = vocab;
    options.max_positions = positions;
    options.input_shape = {2, 16};
    options.outputs = vocab;
    options.per_token = true;
    int64_t total = 0;
    for (const auto& p : esrun::models().create("gpt", "model.name", options)->parameters()) total += p.numel();
    return total;
  };
  CHECK(count("tiny", 4000, 512) == 974336);  // as Hugging Face's GPT2LMHeadModel of the same size
  CHECK(count("small", 50257, 1024) == 124439808);
}
