// glue: one task of the GLUE benchmark (Wang et al. 2019) from its official TSV files under
// data.root: train.tsv as the training split and the dev set as the test split (GLUE's test labels
// are not public). data.glue.task picks the layout:
//   sst2  header sentence, label (0/1)                        cola  no header: source, label, mark, sentence
//   mrpc  header Quality, #1 ID, #2 ID, #1 String, #2 String  qqp   question1, question2, is_duplicate
//   stsb  sentence1, sentence2, score (0..5, regression)      mnli  sentence1, sentence2, ..., gold_label
//   qnli  question, sentence, label (entailment/not_...)      rte, wnli  sentence1, sentence2, label
// Columns are found by their header names (MNLI's label is the last column, gold_label); CoLA is
// read from GLUE's train.tsv/dev.tsv or from the public CoLA release (in_domain_train.tsv, and
// in_domain_dev.tsv + out_of_domain_dev.tsv as GLUE's 1,043-row dev set). MNLI's test split is
// dev_matched.tsv or dev_mismatched.tsv (data.glue.dev). Labels map as Hugging Face's GLUE
// processors do: entailment 0, not_entailment 1; MNLI contradiction 0, entailment 1, neutral 2.
// Sentences are tokenised once at load time (data/tokenizer.h); the headline metric is GLUE's:
// Matthews correlation (CoLA), F1 (MRPC, QQP), Pearson (STS-B), accuracy otherwise.
#include <spdlog/spdlog.h>

#include <algorithm>
#include <cmath>
#include <filesystem>
#include <fstream>
#include <map>

#include "esrun/core/error.h"
#include "esrun/data/dataset.h"
#include "esrun/data/tokenizer.h"

namespace esrun {
namespace {

namespace fs = std::filesystem;

struct Layout {
  bool header = true;
  std::string first, second;           // column names (headerless: indices as text); second empty = single
  std::string label;                   // column name; "" = the last column
  std::vector<std::string> classes;    // label strings in class order; empty = a number (stsb: a float)
  std::string metric;
  size_t headerless_columns = 0;       // cola: source, label, mark, sentence
};

const std::map<std::string, Layout>& layouts() {
  static const std::map<std::string, Layout> table = {
      {"cola", {false, "3", "", "1", {"0", "1"}, "mcc", 4}},
      {"sst2", {true, "sentence", "", "label", {"0", "1"}, "acc"}},
      {"mrpc", {true, "#1 String", "#2 String", "Quality", {"0", "1"}, "f1"}},
      {"qqp", {true, "question1", "question2", "is_duplicate", {"0", "1"}, "f1"}},
      {"stsb", {true, "sentence1", "sentence2", "score", {}, "pearson"}},
      {"mnli", {true, "sentence1", "sentence2", "", {"contradiction", "entailment", "neutral"}, "acc"}},
      {"qnli", {true, "question", "sentence", "label", {"entailment", "not_entailment"}, "acc"}},
      {"rte", {true, "sentence1", "sentence2", "label", {"entailment", "not_entailment"}, "acc"}},
      {"wnli", {true, "sentence1", "sentence2", "label", {"0", "1"}, "acc"}},
  };
  return table;
}

struct Examples {
  std::vector<std::string> first, second;
  std::vector<double> labels;
};

std::vector<std::string> split_tabs(const std::string& line) {
  std::vector<std::string> fields(1);
  for (const char c : line) {
    if (c == '\t') fields.emplace_back();
    else if (c != '\r') fields.back() += c;
  }
  return fields;
}

std::string describe_layout(const std::string& task, const Layout& l) {
  if (!l.header) return "no header; columns source, label, mark, sentence";
  return "a header with columns " + l.first + (l.second.empty() ? "" : ", " + l.second) + ", " +
         (l.label.empty() ? "the label last" : l.label) + " (GLUE's " + task + " layout)";
}

// Appends one TSV file's examples.
void read_tsv(const fs::path& path, const std::string& task, const Layout& layout, Examples& out) {
  std::ifstream in(path);
  ESRUN_CHECK(in.good(), path.string(), ": cannot open the file");
  const std::string file = path.string();
  size_t first = 0, second = 0, label = 0, needed = layout.headerless_columns;
  std::string text;
  int64_t line = 0, rows = 0;
  bool header_read = !layout.header;
  if (!layout.header) {
    first = std::stoul(layout.first);
    label = std::stoul(layout.label);
  }
  while (std::getline(in, text)) {
    ++line;
    if (line == 1 && text.rfind("\xEF\xBB\xBF", 0) == 0) text.erase(0, 3);  // MRPC's files start with a BOM
    if (text.find_first_not_of(" \t\r") == std::string::npos) continue;
    const auto fields = split_tabs(text);
    if (!header_read) {
      const auto column = [&](const std::string& name) {
        const auto it = std::find(fields.begin(), fields.end(), name);
        ESRUN_CHECK(it != fields.end(), file, ":", line, ": no column '", name, "' in the header; glue task ", task,
                    " expects ", describe_layout(task, layout), ". Is data.glue.task right for this file?");
        return static_cast<size_t>(it - fields.begin());
      };
      first = column(layout.first);
      if (!layout.second.empty()) second = column(layout.second);
      label = layout.label.empty() ? fields.size() - 1 : column(layout.label);
      needed = fields.size();
      header_read = true;
      continue;
    }
    ESRUN_CHECK(fields.size() >= needed, file, ":", line, ": ", fields.size(), " tab-separated columns, expected ",
                needed, " (", describe_layout(task, layout), ")");
    const std::string& value = layout.label.empty() ? fields.back() : fields[label];
    double parsed = 0;
    if (layout.classes.empty()) {
      size_t used = 0;
      try {
        parsed = std::stod(value, &used);
      } catch (const std::exception&) {
        used = 0;
      }
      ESRUN_CHECK(used > 0 && used == value.size() && std::isfinite(parsed), file, ":", line, ": label '", value,
                  "' is not a number (glue task ", task, " is a regression on a score)");
    } else {
      const auto it = std::find(layout.classes.begin(), layout.classes.end(), value);
      ESRUN_CHECK(it != layout.classes.end(), file, ":", line, ": label '", value, "' is not one of ",
                  join(layout.classes), " (glue task ", task, ")");
      parsed = static_cast<double>(it - layout.classes.begin());
    }
    out.first.push_back(fields[first]);
    if (!layout.second.empty()) out.second.push_back(fields[second]);
    out.labels.push_back(parsed);
    ++rows;
  }
  ESRUN_CHECK(line > 0, file, ": the file is empty; expected ", describe_layout(task, layout));
  ESRUN_CHECK(rows > 0, file, ": has no examples; expected ", describe_layout(task, layout));
}

Examples read_files(const std::vector<fs::path>& files, const std::string& task, const Layout& layout) {
  Examples out;
  for (const auto& file : files) read_tsv(file, task, layout, out);
  return out;
}

// The training and test files of `task` under `root`, each of which must exist.
std::pair<std::vector<fs::path>, std::vector<fs::path>> files_of(const DataOptions& o) {
  const fs::path root(o.root);
  std::vector<fs::path> train{root / "train.tsv"}, test{root / "dev.tsv"};
  if (o.glue.task == "cola" && !fs::exists(root / "train.tsv") && fs::exists(root / "in_domain_train.tsv")) {
    train = {root / "in_domain_train.tsv"};
    test = {root / "in_domain_dev.tsv", root / "out_of_domain_dev.tsv"};
    spdlog::info("glue cola: no train.tsv in {}; reading the public CoLA release (in_domain_train.tsv; "
                 "in_domain_dev.tsv and out_of_domain_dev.tsv as the test split)", o.root);
  }
  if (o.glue.task == "mnli") test = {root / ("dev_" + o.glue.dev + ".tsv")};
  for (const auto* files : {&train, &test})
    for (const auto& file : *files)
      ESRUN_CHECK(fs::is_regular_file(file), o.where("data.root"), ": no ", file.filename().string(), " in '",
                  o.root, "' (glue task ", o.glue.task, ": GLUE's train.tsv and ",
                  o.glue.task == "mnli" ? "dev_matched.tsv / dev_mismatched.tsv" : "dev.tsv",
                  o.glue.task == "cola" ? ", or the CoLA release's in_domain_train.tsv, in_domain_dev.tsv and "
                                          "out_of_domain_dev.tsv" : "", ")");
  return {train, test};
}

Split encode_split(const Examples& examples, const Tokenizer& tokenizer, bool regression) {
  const auto n = static_cast<int64_t>(examples.labels.size());
  auto targets = torch::tensor(examples.labels, torch::kDouble);
  return Split{tokenizer.encode_examples(examples.first, examples.second),
               regression ? targets.to(torch::kFloat) : targets.to(torch::kLong), torch::arange(n, torch::kLong), {}};
}

Dataset load_glue(const DataOptions& o) {
  const auto found = layouts().find(o.glue.task);
  ESRUN_CHECK(found != layouts().end(), o.where("data.glue.task"), ": unknown GLUE task '", o.glue.task, "'");
  const Layout& layout = found->second;
  const auto [train_files, test_files] = files_of(o);
  const Examples train = read_files(train_files, o.glue.task, layout);
  const Examples test = read_files(test_files, o.glue.task, layout);

  std::vector<std::string> text = train.first;
  text.insert(text.end(), train.second.begin(), train.second.end());
  const Tokenizer tokenizer = tokenizer_for(o, text);
  const bool regression = layout.classes.empty();
  Dataset data;
  data.name = "glue";
  data.task = regression ? "regression" : "classification";
  data.num_classes = regression ? 0 : static_cast<int64_t>(layout.classes.size());
  data.metric = layout.metric;
  data.vocab_size = tokenizer.vocab_size();
  data.train = encode_split(train, tokenizer, regression);
  data.test = encode_split(test, tokenizer, regression);
  spdlog::info("glue {}: {} train / {} test examples, {} tokens at most (data.tokenizer.max_length {})", o.glue.task,
               data.train.size(), data.test.size(), std::max(data.train.inputs.size(2), data.test.inputs.size(2)),
               o.tokenizer.max_length);
  return data;
}

const bool registered = datasets().add(
    "glue", "a GLUE task's TSVs (data.glue.task: cola sst2 mrpc qqp stsb mnli qnli rte wnli), SentencePiece-tokenised",
    load_glue,
    {.reads = {"data.root", "data.glue.task", "data.glue.dev", "data.tokenizer.model", "data.tokenizer.vocab_size",
        "data.tokenizer.model_type", "data.tokenizer.lowercase", "data.tokenizer.max_length",
        "data.tokenizer.train_sentences"}});

}  // namespace
}  // namespace esrun
