// Text: SentencePiece tokenisation, BERT-style encoding, the GLUE readers, the transformer, and
// every policy on a text task.
#include <catch2/catch.hpp>

#include <filesystem>

#include "esrun/config/run_config.h"
#include "esrun/data/dataset.h"
#include "esrun/data/tokenizer.h"
#include "esrun/models/model.h"
#include "esrun/sampling/policy.h"
#include "helpers.h"

using Catch::Matchers::Contains;
using esrun::testing::TempDir;
using esrun::testing::write_file;

namespace {

const std::vector<std::string> kSentences = {
    "the cat sat on the mat", "a dog barked at the cat", "the mat was red and the dog was brown",
    "Cats and dogs are friends", "the   RED mat\\tis on the floor", "birds sing in the morning",
    "the morning sun was warm", "a warm cat sleeps on a red mat"};

esrun::TokenizerOptions tokenizer_options(int64_t vocab = 60, int64_t max_length = 16) {
  esrun::TokenizerOptions options;
  options.vocab_size = vocab;
  options.max_length = max_length;
  return options;
}

// A tiny RTE-layout task: label entailment when the second sentence repeats the first's first word.
void write_rte(const std::filesystem::path& root, int rows = 64) {
  const std::vector<std::string> words = {"cat", "dog", "bird", "fish", "tree", "house", "river", "stone"};
  std::string train = "index\tsentence1\tsentence2\tlabel\n", dev = train;
  for (int i = 0; i < rows + 16; ++i) {
    const auto& a = words[static_cast<size_t>(i) % 8];
    const auto& b = words[static_cast<size_t>(i * 3 + 1) % 8];
    const bool entail = i % 2 == 0;
    const std::string line = std::to_string(i) + "\tthe " + a + " sees a " + b + "\ta " + (entail ? a : b) +
                             " is here\t" + (entail ? "entailment" : "not_entailment") + "\n";
    (i < rows ? train : dev) += line;
  }
  write_file((root / "train.tsv").string(), train);
  write_file((root / "dev.tsv").string(), dev);
}

std::vector<std::string> glue_sets(const std::filesystem::path& root, const std::string& task) {
  return {"data.name=glue", "data.root=" + root.string(), "data.glue.task=" + task,
          "data.tokenizer={vocab_size: 40, max_length: 24}", "model={name: transformer, preset: tiny, width: 32}",
          "train.epochs=2", "sampler.meta_batch=16", "threads=2", "optimizer={name: adamw, lr: 0.001}",
          "schedule.name=constant"};
}

esrun::RunConfig config_of(const std::vector<std::string>& sets) {
  return esrun::load_config(esrun::RunRequest{{}, sets, std::nullopt});
}

esrun::Dataset load(const std::vector<std::string>& sets) { return esrun::load_dataset(config_of(sets)); }

std::string error_of(const std::vector<std::string>& sets) {
  try {
    load(sets);
  } catch (const esrun::Error& e) {
    return e.what();
  }
  return "no error";
}

}  // namespace

TEST_CASE("SentencePiece training is deterministic and encoding round-trips", "[text][tokenizer]") {
  const auto a = esrun::Tokenizer::train(kSentences, tokenizer_options(), 1);
  const auto b = esrun::Tokenizer::train(kSentences, tokenizer_options(), 1);
  CHECK(a.serialized() == b.serialized());
  CHECK(a.vocab_size() > 5);
  // ALBERT's special ids: <pad> 0, <unk> 1, [CLS] 2, [SEP] 3.
  CHECK(a.pad_id() == 0);
  CHECK(a.cls_id() == 2);
  CHECK(a.sep_id() == 3);
  for (const auto& sentence : kSentences) CHECK(a.decode(a.encode(sentence)) == a.preprocess(sentence));
  CHECK(a.preprocess("  The   RED\tmat  ") == "the red mat");
  // A capped sample of sentences is drawn from the seed: the same seed gives the same model.
  auto capped = tokenizer_options();
  capped.train_sentences = 5;
  CHECK(esrun::Tokenizer::train(kSentences, capped, 7).serialized() ==
        esrun::Tokenizer::train(kSentences, capped, 7).serialized());
}

TEST_CASE("A saved tokenizer loads back; a file that is not a SentencePiece model is a clear error", "[text][tokenizer]") {
  TempDir dir;
  const auto trained = esrun::Tokenizer::train(kSentences, tokenizer_options(), 1);
  const auto path = write_file(dir / "spiece.model", trained.serialized());
  const auto loaded = esrun::Tokenizer::load(path, tokenizer_options(), "data.tokenizer.model");
  CHECK(loaded.encode("the cat sat") == trained.encode("the cat sat"));
  const auto junk = write_file(dir / "junk.model", "this is not a model");
  REQUIRE_THROWS_WITH(esrun::Tokenizer::load(junk, tokenizer_options(), "data.tokenizer.model (x.yaml:3)"),
                      Contains("data.tokenizer.model (x.yaml:3): '" + junk + "' is not a SentencePiece model"));
  REQUIRE_THROWS_WITH(esrun::Tokenizer::load(dir / "missing.model", tokenizer_options(), "data.tokenizer.model"),
                      Contains("cannot open"));
}

TEST_CASE("Longest-first truncation takes from the longer sentence, the second on a tie", "[text][tokenizer]") {
  size_t a = 10, b = 3;
  esrun::truncate_longest_first(a, b, 8);
  CHECK((a == 5 && b == 3));
  a = 6, b = 6;
  esrun::truncate_longest_first(a, b, 9);
  CHECK((a == 5 && b == 4));
  a = 2, b = 3;
  esrun::truncate_longest_first(a, b, 9);
  CHECK((a == 2 && b == 3));
}

TEST_CASE("Pairs encode as [CLS] a [SEP] b [SEP] with segment ids, truncation and padding", "[text][tokenizer]") {
  const auto tokenizer = esrun::Tokenizer::train(kSentences, tokenizer_options(60, 10), 1);
  const std::vector<std::string> first = {"the cat", "the mat was red and the dog was brown"};
  const std::vector<std::string> second = {"a dog", "birds"};
  const auto encoded = tokenizer.encode_examples(first, second);
  REQUIRE(encoded.dim() == 3);
  CHECK(encoded.size(1) == 2);
  CHECK(encoded.scalar_type() == torch::kInt);
  const auto a0 = tokenizer.encode(first[0]), b0 = tokenizer.encode(second[0]);
  std::vector<int> expected = {tokenizer.cls_id()};
  expected.insert(expected.end(), a0.begin(), a0.end());
  expected.push_back(tokenizer.sep_id());
  expected.insert(expected.end(), b0.begin(), b0.end());
  expected.push_back(tokenizer.sep_id());
  const auto length = static_cast<int64_t>(expected.size());
  REQUIRE(length <= encoded.size(2));
  for (int64_t t = 0; t < length; ++t) {
    CHECK(encoded[0][0][t].item<int>() == expected[static_cast<size_t>(t)]);
    // Segment + 1: 1 up to and including the first [SEP], 2 after it.
    CHECK(encoded[0][1][t].item<int>() == (t <= static_cast<int64_t>(a0.size()) + 1 ? 1 : 2));
  }
  for (int64_t t = length; t < encoded.size(2); ++t) {
    CHECK(encoded[0][0][t].item<int>() == tokenizer.pad_id());
    CHECK(encoded[0][1][t].item<int>() == 0);
  }
  // The long pair fills max_length exactly (10 tokens), its first sentence truncated, both [SEP]s kept.
  CHECK(encoded.size(2) == 10);
  CHECK(encoded[1][1].gt(0).sum().item<int64_t>() == 10);
  CHECK(encoded[1][0][9].item<int>() == tokenizer.sep_id());
  const auto single = tokenizer.encode_examples({"the cat"}, {});
  CHECK(single[0][0][0].item<int>() == tokenizer.cls_id());
  CHECK(single[0][1].gt(0).sum().item<int64_t>() == static_cast<int64_t>(tokenizer.encode("the cat").size()) + 2);
  CHECK(single[0][1].max().item<int>() == 1);
}

TEST_CASE("Each GLUE task reads its official layout", "[text][glue]") {
  TempDir dir;
  struct Case {
    std::string task, folder, train, dev, dev_file;
    int64_t classes;
    std::string metric;
    std::vector<double> labels;  // the training labels in order
  };
  const std::vector<Case> cases = {
      {"sst2", "SST-2", "sentence\tlabel\ngood film \t1\nbad film \t0\n", "sentence\tlabel\nfine \t1\n", "dev.tsv", 2, "acc",
       {1, 0}},
      {"cola", "CoLA", "gj04\t1\t\tThe cat sat.\ngj04\t0\t*\tCat the sat.\n", "gj04\t1\t\tA dog ran.\n", "dev.tsv", 2, "mcc",
       {1, 0}},
      {"mrpc", "MRPC",
       "\xEF\xBB\xBFQuality\t#1 ID\t#2 ID\t#1 String\t#2 String\n1\t1\t2\tHe ran.\tHe runs.\n0\t3\t4\tA cat.\tThe sea.\n",
       "Quality\t#1 ID\t#2 ID\t#1 String\t#2 String\n1\t5\t6\tYes.\tYes.\n", "dev.tsv", 2, "f1", {1, 0}},
      {"qqp", "QQP", "id\tqid1\tqid2\tquestion1\tquestion2\tis_duplicate\n0\t1\t2\tWhy?\tHow?\t0\n1\t3\t4\tWho?\tWho?\t1\n",
       "id\tqid1\tqid2\tquestion1\tquestion2\tis_duplicate\n2\t5\t6\tA?\tB?\t0\n", "dev.tsv", 2, "f1", {0, 1}},
      {"stsb", "STS-B",
       "index\tgenre\tfilename\tyear\told_index\tsource1\tsource2\tsentence1\tsentence2\tscore\n"
       "0\tmain\tx\t2012\t1\tnone\tnone\tA man plays.\tA man is playing.\t4.750\n"
       "1\tmain\tx\t2012\t2\tnone\tnone\tA cat.\tThe sea.\t0.2\n",
       "index\tgenre\tfilename\tyear\told_index\tsource1\tsource2\tsentence1\tsentence2\tscore\n"
       "0\tmain\tx\t2012\t1\tnone\tnone\tHi.\tHello.\t3.0\n", "dev.tsv", 0, "pearson", {4.75, 0.2}},
      {"mnli", "MNLI",
       "index\tpromptID\tpairID\tgenre\ts1b\ts2b\ts1p\ts2p\tsentence1\tsentence2\tlabel1\tgold_label\n"
       "0\t1\t1n\tgov\tx\tx\tx\tx\tA man.\tA person.\tentailment\tentailment\n"
       "1\t2\t2n\tgov\tx\tx\tx\tx\tA man.\tNo one.\tcontradiction\tcontradiction\n"
       "2\t3\t3n\tgov\tx\tx\tx\tx\tA man.\tA tall man.\tneutral\tneutral\n",
       "index\tpromptID\tpairID\tgenre\ts1b\ts2b\ts1p\ts2p\tsentence1\tsentence2\tlabel1\tlabel2\tlabel3\tlabel4\tlabel5\t"
       "gold_label\n0\t1\t1n\tgov\tx\tx\tx\tx\tA.\tB.\tneutral\tneutral\tneutral\tneutral\tneutral\tneutral\n",
       "dev_mismatched.tsv", 3, "acc", {1, 0, 2}},
      {"qnli", "QNLI", "index\tquestion\tsentence\tlabel\n0\tWho?\tHe did.\tentailment\n1\tWhy?\tA cat.\tnot_entailment\n",
       "index\tquestion\tsentence\tlabel\n0\tA?\tB.\tentailment\n", "dev.tsv", 2, "acc", {0, 1}},
      {"rte", "RTE", "index\tsentence1\tsentence2\tlabel\n0\tA man.\tA person.\tentailment\n1\tA.\tB.\tnot_entailment\n",
       "index\tsentence1\tsentence2\tlabel\n0\tA.\tB.\tnot_entailment\n", "dev.tsv", 2, "acc", {0, 1}},
      {"wnli", "WNLI", "index\tsentence1\tsentence2\tlabel\n0\tA man.\tA person.\t1\n1\tA.\tB.\t0\n",
       "index\tsentence1\tsentence2\tlabel\n0\tA.\tB.\t0\n", "dev.tsv", 2, "acc", {1, 0}},
  };
  for (const auto& c : cases) {
    INFO(c.task);
    const auto root = dir.path() / c.folder;
    write_file((root / "train.tsv").string(), c.train);
    write_file((root / c.dev_file).string(), c.dev);
    auto sets = glue_sets(root, c.task);
    if (c.task == "mnli") sets.push_back("data.glue.dev=mismatched");
    const auto data = load(sets);
    CHECK(data.train.size() == static_cast<int64_t>(c.labels.size()));
    CHECK(data.test.size() == 1);
    CHECK(data.num_classes == c.classes);
    CHECK(data.task == (c.task == "stsb" ? "regression" : "classification"));
    CHECK(data.metric == c.metric);
    CHECK(data.text());
    // STS-B's scores are standardised on the training split like every regression target.
    const auto labels = data.train.targets.to(torch::kDouble) * data.target_std + data.target_mean;
    CHECK(torch::allclose(labels, torch::tensor(c.labels, torch::kDouble)));
    CHECK(data.train.inputs.size(1) == 2);
    // Pair tasks have a second segment; single-sentence tasks do not.
    const bool pair = c.task != "sst2" && c.task != "cola";
    CHECK((data.train.inputs.select(1, 1).max().item<int>() == 2) == pair);
  }
  // The public CoLA release: in-domain training rows, both dev files as the test split.
  const auto cola = dir.path() / "CoLA-public";
  write_file((cola / "in_domain_train.tsv").string(), "gj04\t1\t\tThe cat sat.\ngj04\t0\t*\tCat the sat.\ngj04\t1\t\tA cat.\n");
  write_file((cola / "in_domain_dev.tsv").string(), "gj04\t1\t\tA dog ran.\n");
  write_file((cola / "out_of_domain_dev.tsv").string(), "clc95\t0\t*\tRan dog a.\nclc95\t1\t\tA dog.\n");
  const auto data = load(glue_sets(cola, "cola"));
  CHECK(data.train.size() == 3);
  CHECK(data.test.size() == 3);
  CHECK(data.test.targets.equal(torch::tensor({1, 0, 1}, torch::kLong)));
}

TEST_CASE("Bad GLUE files are errors naming the file and line", "[text][glue][errors]") {
  TempDir dir;
  const auto root = dir.path() / "RTE";
  const auto dev = write_file((root / "dev.tsv").string(), "index\tsentence1\tsentence2\tlabel\n0\tA.\tB.\tentailment\n");
  const auto train = (root / "train.tsv").string();
  const auto sets = glue_sets(root, "rte");

  write_file(train, "index\tsentence1\tlabel\n0\tA.\tentailment\n");  // a column missing from the header
  CHECK_THAT(error_of(sets), Contains(train + ":1: no column 'sentence2'") && Contains("glue task rte"));
  write_file(train, "sentence\tlabel\nA good film.\t1\n");  // a single-sentence (SST-2) file given to a pair task
  CHECK_THAT(error_of(sets), Contains(train + ":1: no column 'sentence1'"));
  write_file(train, "index\tsentence1\tsentence2\tlabel\n0\tA.\tB.\tentailment\n1\tA.\tB.\tmaybe\n");
  CHECK_THAT(error_of(sets), Contains(train + ":3: label 'maybe' is not one of entailment, not_entailment"));
  write_file(train, "index\tsentence1\tsentence2\tlabel\n0\tA.\tentailment\n");  // a row short of a column
  CHECK_THAT(error_of(sets), Contains(train + ":2: 3 tab-separated columns, expected 4"));
  write_file(train, "");
  CHECK_THAT(error_of(sets), Contains(train + ": the file is empty"));
  write_file(train, "index\tsentence1\tsentence2\tlabel\n");
  CHECK_THAT(error_of(sets), Contains(train + ": has no examples"));

  const auto stsb = dir.path() / "STS-B";
  const std::string header = "index\tgenre\tfilename\tyear\told_index\tsource1\tsource2\tsentence1\tsentence2\tscore\n";
  write_file((stsb / "dev.tsv").string(), header + "0\tm\tx\t1\t1\tn\tn\tA.\tB.\t1.0\n");
  const auto stsb_train = write_file((stsb / "train.tsv").string(), header + "0\tm\tx\t1\t1\tn\tn\tA.\tB.\thigh\n");
  CHECK_THAT(error_of(glue_sets(stsb, "stsb")), Contains(stsb_train + ":2: label 'high' is not a number"));

  std::filesystem::remove(dev);
  write_file(train, "index\tsentence1\tsentence2\tlabel\n0\tA.\tB.\tentailment\n");
  CHECK_THAT(error_of(sets), Contains("data.root (--set data.root=") && Contains("no dev.tsv"));
}

TEST_CASE("Tokenizer settings are validated: max_length below 3 and a bad model file exit with clear errors", "[text][errors]") {
  TempDir dir;
  write_rte(dir.path() / "RTE", 8);
  auto sets = glue_sets(dir.path() / "RTE", "rte");
  sets.push_back("data.tokenizer.max_length=2");
  REQUIRE_THROWS_WITH(config_of(sets), Contains("data.tokenizer.max_length (--set data.tokenizer.max_length=2): "
                                                "expected an integer >= 3, got 2"));
  sets.back() = "task.metric=pearson";  // a classification task (rte) has no Pearson correlation
  REQUIRE_THROWS_WITH(config_of(sets), Contains("task.metric (--set task.metric=pearson): pearson is not a metric of "
                                                "classification"));
  sets.back() = "data.tokenizer.model=" + write_file(dir / "bad.model", "junk");
  CHECK_THAT(error_of(sets), Contains("data.tokenizer.model (--set data.tokenizer.model=") &&
                                 Contains("is not a SentencePiece model"));
  // Through the command line: exit code 2 and one message.
  const std::string log = dir / "log.txt";
  std::string command = std::string(ESRUN_BINARY) + " --out " + (dir / "run");
  for (const auto& set : sets) command += " --set '" + set + "'";
  const int status = std::system((command + " > " + log + " 2>&1").c_str());
  CHECK(WEXITSTATUS(status) == 2);
  CHECK_THAT(esrun::testing::read_file(log), Contains("is not a SentencePiece model"));
}

TEST_CASE("The transformer presets have the published parameter counts", "[text][models]") {
  const auto make = [](const std::string& preset, int64_t vocab, std::optional<bool> albert = std::nullopt) {
    esrun::ModelOptions options;
    options.name = "transformer";
    options.preset = preset;
    options.vocab_size = vocab;
    options.input_shape = {2, 128};
    options.outputs = 2;
    options.albert = albert;
    return esrun::models().create("transformer", "model.name", options);
  };
  const auto count = [&](const std::string& preset, int64_t vocab, int64_t width) {
    int64_t total = 0;
    for (const auto& p : make(preset, vocab)->parameters()) total += p.numel();
    return total - (width * 2 + 2);  // without the 2-class head, as the published counts
  };
  CHECK(count("bert-base", 30522, 768) == 109482240);   // bert-base-uncased with its pooler
  CHECK(count("albert-base", 30000, 768) == 11683584);  // albert-base-v2 with its pooler
  CHECK(count("tiny", 1000, 128) == 479104 + 128 * 1000);
  // model.albert on BERT's sizes: 128-wide embeddings projected to 768, one shared layer.
  const auto albert = make("bert-base", 1000, true)->named_parameters();
  CHECK(albert["word_embeddings.weight"].size(1) == 128);
  CHECK(albert.contains("embedding_projection.weight"));
  CHECK(albert.contains("layers.0.query.weight"));
  CHECK_FALSE(albert.contains("layers.1.query.weight"));
}

TEST_CASE("The attention mask masks: padding never changes the outputs", "[text][models]") {
  esrun::ModelOptions options;
  options.name = "transformer";
  options.preset = "tiny";
  options.width = 32;
  options.vocab_size = 50;
  options.input_shape = {2, 12};
  options.outputs = 3;
  torch::manual_seed(0);
  const auto model = esrun::models().create("transformer", "model.name", options);
  model->eval();
  auto x = torch::zeros({2, 2, 12}, torch::kInt);
  x.select(1, 0).copy_(torch::randint(4, 50, {2, 12}, torch::kInt));
  x[0][1].narrow(0, 0, 5).fill_(1), x[0][1].narrow(0, 5, 3).fill_(2);  // 8 real tokens, two segments
  x[1][1].narrow(0, 0, 6).fill_(1);                                      // 6 real tokens
  torch::NoGradGuard no_grad;
  const auto reference = model->forward(x);
  auto changed = x.clone();
  changed[0][0].narrow(0, 8, 4).fill_(7);  // other ids in the padded positions
  changed[1][0].narrow(0, 6, 6).random_(4, 50);
  CHECK(torch::allclose(model->forward(changed), reference, 1e-5, 1e-6));
  // More padding columns (a batch cut to another length) change nothing either.
  const auto wider = torch::cat({x, torch::zeros({2, 2, 5}, torch::kInt)}, 2);
  CHECK(torch::allclose(model->forward(wider), reference, 1e-5, 1e-6));
  // A real token does change them.
  auto real = x.clone();
  real[0][0][3] = (real[0][0][3].item<int>() + 1) % 46 + 4;
  CHECK_FALSE(torch::allclose(model->forward(real).narrow(0, 0, 1), reference.narrow(0, 0, 1), 1e-5, 1e-6));
}

TEST_CASE("Every policy trains end to end on a text task", "[text][e2e]") {
  TempDir dir;
  write_rte(dir.path() / "RTE");
  for (const auto& entry : esrun::samplers().entries()) {
    INFO(entry.name);
    auto sets = glue_sets(dir.path() / "RTE", "rte");
    sets.push_back("sampler.name=" + entry.name);
    if (entry.name == "selective_backprop") sets.push_back("sampler.mini_batch=8");
    esrun::testing::with_scores(sets, entry.name, dir.path());
    const auto result = esrun::run(esrun::RunRequest{{}, sets, dir / entry.name});
    CHECK(result.finished);
    const auto lines = esrun::testing::metrics(result);
    CHECK(lines.size() == static_cast<size_t>(result.summary["epochs"].get<int64_t>()));
    CHECK(result.summary["metric"] == "acc");
    CHECK(result.summary["final_test_acc"].is_number());
    CHECK(result.summary["samples_backward_total"].get<int64_t>() > 0);
  }
}

TEST_CASE("A trained tokenizer is saved in the run directory and reused on resume", "[text][checkpoint]") {
  TempDir dir;
  write_rte(dir.path() / "RTE");
  auto sets = glue_sets(dir.path() / "RTE", "rte");
  sets.push_back("sampler.name=es");
  sets.push_back("train.epochs=3");
  const auto whole = esrun::run(esrun::RunRequest{{}, sets, dir / "whole"});
  const auto saved = esrun::testing::read_file((whole.run_dir / "tokenizer.model").string());
  CHECK(saved.size() > 100);
  esrun::RunRequest first{{}, sets, dir / "pieces"};
  first.stop_after = 1;
  const auto stopped = esrun::run(first);
  CHECK_FALSE(stopped.finished);
  CHECK(esrun::testing::read_file((stopped.run_dir / "tokenizer.model").string()) == saved);
  const auto resumed = esrun::run(esrun::testing::resume_request(stopped.run_dir));
  CHECK(resumed.finished);
  CHECK(esrun::testing::without_times(esrun::testing::metrics(resumed)) ==
        esrun::testing::without_times(esrun::testing::metrics(whole)));
  // A run directory without its tokenizer cannot be resumed with another one.
  esrun::RunRequest again{{}, sets, dir / "lost"};
  again.stop_after = 1;
  const auto lost = esrun::run(again);
  std::filesystem::remove(lost.run_dir / "tokenizer.model");
  REQUIRE_THROWS_WITH(esrun::run(esrun::testing::resume_request(lost.run_dir)), Contains("no tokenizer.model"));
}

TEST_CASE("GLUE tasks read from the shared data", "[.data][text][glue]") {
  const char* root = std::getenv("ESRUN_DATA_DIR");
  REQUIRE(root != nullptr);
  const std::filesystem::path glue = std::filesystem::path(root) / "glue";
  const auto sets = [&](const std::string& folder, const std::string& task) {
    auto s = glue_sets(glue / folder, task);
    s.push_back("data.tokenizer={vocab_size: 2000, max_length: 64}");
    return s;
  };
  const auto sst2 = load(sets("SST-2", "sst2"));
  CHECK(sst2.train.size() == 67349);
  CHECK(sst2.test.size() == 872);
  // "hide new secretions from the parental units" 0, "contains no wit , only labored gags" 0; dev "it 's a charming ..." 1.
  CHECK(sst2.train.targets.narrow(0, 0, 2).equal(torch::tensor({0, 0}, torch::kLong)));
  CHECK(sst2.test.targets[0].item<int64_t>() == 1);
  const auto rte = load(sets("RTE", "rte"));
  CHECK(rte.train.size() == 2490);
  CHECK(rte.test.size() == 277);
  CHECK(rte.train.targets.narrow(0, 0, 2).equal(torch::tensor({1, 0}, torch::kLong)));  // not_entailment, entailment
  const auto cola = load(sets("CoLA/raw", "cola"));
  CHECK(cola.train.size() == 8551);
  CHECK(cola.test.size() == 1043);
  CHECK(cola.train.targets.narrow(0, 0, 3).equal(torch::tensor({1, 1, 1}, torch::kLong)));
  CHECK(cola.metric == "mcc");
}
