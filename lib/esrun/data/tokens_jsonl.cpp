// tokens_jsonl: pre-tokenised text, one JSON object per line, as any tokenizer can write it
// (scripts/tokenize_jsonl.py does with Hugging Face's). data.tokens_jsonl.train and .test under
// data.root; every id must be below data.tokens_jsonl.vocab_size. Two kinds of record, one kind
// per dataset:
//   {"input_ids": [...], "loss_mask": [...]}    causal_lm: position t's target is token t + 1 when
//       loss_mask[t + 1] is 1 (instruction tuning masks the prompt with 0s); loss_mask is optional
//       (all 1) and must predict at least one token;
//   {"input_ids": [...], "token_type_ids": [...], "label": K}   classification over labels 0..K-1
//       (the largest label in either split + 1 classes); token_type_ids optional (all 0).
// Records are padded to the longest one of both splits: int32 [N, 2, L], channel 0 the ids (0 after
// the end), channel 1 the token type + 1 (0 on padding); targets int64 [N, L] (-1 where nothing is
// predicted) or [N]. Errors name the file and line.
#include <nlohmann/json.hpp>
#include <spdlog/spdlog.h>

#include <filesystem>
#include <fstream>

#include "esrun/core/error.h"
#include "esrun/data/dataset.h"

namespace esrun {
namespace {

namespace fs = std::filesystem;

struct Record {
  std::vector<int64_t> ids, types, mask;
  int64_t label = -1;
};

struct Records {
  std::vector<Record> rows;
  bool labelled = false;
};

std::vector<int64_t> int_array(const nlohmann::json& record, const char* field, const std::string& at) {
  const auto& value = record.at(field);
  ESRUN_CHECK(value.is_array(), at, ": \"", field, "\" must be an array of integers, got ", value.dump());
  std::vector<int64_t> out;
  out.reserve(value.size());
  for (const auto& v : value) {
    ESRUN_CHECK(v.is_number_integer(), at, ": \"", field, "\" must hold integers, got ", v.dump());
    out.push_back(v.get<int64_t>());
  }
  return out;
}

Records read_records(const fs::path& path, const std::string& key, int64_t vocab) {
  std::ifstream in(path);
  ESRUN_CHECK(in.good(), key, ": cannot open '", path.string(), "' (expected JSON lines of token records)");
  Records out;
  std::string text;
  for (int64_t line = 1; std::getline(in, text); ++line) {
    if (text.find_first_not_of(" \t\r") == std::string::npos) continue;
    const std::string at = path.string() + ":" + std::to_string(line);
    nlohmann::json record;
    try {
      record = nlohmann::json::parse(text);
    } catch (const nlohmann::json::exception& e) {
      ESRUN_FAIL(at, ": not a JSON object (", e.what(), ")");
    }
    ESRUN_CHECK(record.is_object() && record.contains("input_ids"), at,
                ": expected an object with \"input_ids\" (and \"loss_mask\", or \"label\" and \"token_type_ids\")");
    Record r;
    r.ids = int_array(record, "input_ids", at);
    ESRUN_CHECK(!r.ids.empty(), at, ": \"input_ids\" is empty");
    for (size_t t = 0; t < r.ids.size(); ++t)
      ESRUN_CHECK(r.ids[t] >= 0 && r.ids[t] < vocab, at, ": input_ids[", t, "] = ", r.ids[t],
                  " is outside the vocabulary [0, ", vocab, ") (data.tokens_jsonl.vocab_size)");
    const bool labelled = record.contains("label");
    if (out.rows.empty()) out.labelled = labelled;
    ESRUN_CHECK(labelled == out.labelled, at, ": ", labelled ? "has" : "has no", " \"label\", unlike the records before "
                "it; a file holds either classification records (with labels) or language-model records");
    if (labelled) {
      ESRUN_CHECK(record["label"].is_number_integer() && record["label"].get<int64_t>() >= 0 &&
                      record["label"].get<int64_t>() < kMaxClasses,
                  at, ": \"label\" must be a class index 0, 1, ..., ", kMaxClasses - 1, ", got ", record["label"].dump());
      ESRUN_CHECK(!record.contains("loss_mask"), at, ": a labelled record takes no \"loss_mask\"");
      r.label = record["label"].get<int64_t>();
      if (record.contains("token_type_ids")) {
        r.types = int_array(record, "token_type_ids", at);
        ESRUN_CHECK(r.types.size() == r.ids.size(), at, ": ", r.types.size(), " token_type_ids for ", r.ids.size(),
                    " input_ids; expected one per token");
        for (const auto type : r.types)
          ESRUN_CHECK(type == 0 || type == 1, at, ": token_type_ids must be 0 or 1 (two segments), got ", type);
      }
    } else {
      ESRUN_CHECK(!record.contains("token_type_ids"), at, ": a language-model record takes no \"token_type_ids\"");
      if (record.contains("loss_mask")) {
        r.mask = int_array(record, "loss_mask", at);
        ESRUN_CHECK(r.mask.size() == r.ids.size(), at, ": ", r.mask.size(), " loss_mask values for ", r.ids.size(),
                    " input_ids; expected one per token");
        for (const auto m : r.mask) ESRUN_CHECK(m == 0 || m == 1, at, ": loss_mask values must be 0 or 1, got ", m);
      } else {
        r.mask.assign(r.ids.size(), 1);
      }
      bool predicts = false;
      for (size_t t = 1; t < r.mask.size(); ++t) predicts = predicts || r.mask[t] == 1;
      ESRUN_CHECK(predicts, at, ": no token to predict (loss_mask is 1 on none of tokens 1..", r.ids.size() - 1,
                  "; the first token has no context)");
    }
    out.rows.push_back(std::move(r));
  }
  ESRUN_CHECK(!out.rows.empty(), key, ": '", path.string(), "' has no records");
  return out;
}

Split to_split(const Records& records, int64_t length) {
  const auto n = static_cast<int64_t>(records.rows.size());
  auto inputs = torch::zeros({n, 2, length}, torch::kInt);
  auto targets = records.labelled ? torch::empty({n}, torch::kLong) : torch::full({n, length}, -1, torch::kLong);
  auto in = inputs.accessor<int32_t, 3>();
  for (int64_t i = 0; i < n; ++i) {
    const Record& r = records.rows[static_cast<size_t>(i)];
    const auto tokens = static_cast<int64_t>(r.ids.size());
    for (int64_t t = 0; t < tokens; ++t) {
      in[i][0][t] = static_cast<int32_t>(r.ids[static_cast<size_t>(t)]);
      in[i][1][t] = static_cast<int32_t>(1 + (r.types.empty() ? 0 : r.types[static_cast<size_t>(t)]));
    }
    if (records.labelled) {
      targets[i] = r.label;
    } else {
      auto row = targets.accessor<int64_t, 2>()[i];
      for (int64_t t = 0; t + 1 < tokens; ++t)
        if (r.mask[static_cast<size_t>(t + 1)] == 1) row[t] = r.ids[static_cast<size_t>(t + 1)];
    }
  }
  return Split{inputs, targets, torch::arange(n, torch::kLong), {}};
}

Dataset load_tokens_jsonl(const DataOptions& o) {
  const fs::path root(o.root);
  const int64_t vocab = o.tokens_jsonl.vocab_size;
  const Records train = read_records(root / o.tokens_jsonl.train, o.where("data.tokens_jsonl.train"), vocab);
  const Records test = read_records(root / o.tokens_jsonl.test, o.where("data.tokens_jsonl.test"), vocab);
  ESRUN_CHECK(train.labelled == test.labelled, o.where("data.tokens_jsonl.test"), ": the ",
              train.labelled ? "training records have labels and the test records do not"
                             : "test records have labels and the training records do not");
  size_t length = 0;
  int64_t classes = 0;
  for (const Records* records : {&train, &test})
    for (const Record& r : records->rows) {
      length = std::max(length, r.ids.size());
      classes = std::max(classes, r.label + 1);
    }
  Dataset data;
  data.name = "tokens_jsonl";
  data.task = train.labelled ? "classification" : "causal_lm";
  data.num_classes = train.labelled ? std::max<int64_t>(classes, 2) : 0;
  data.vocab_size = vocab;
  data.train = to_split(train, static_cast<int64_t>(length));
  data.test = to_split(test, static_cast<int64_t>(length));
  spdlog::info("tokens_jsonl: {} train / {} test records of up to {} tokens ({})", data.train.size(), data.test.size(),
               length, train.labelled ? std::to_string(data.num_classes) + " classes" : "language modelling");
  return data;
}

const bool registered = datasets().add(
    "tokens_jsonl", "pre-tokenised JSON lines: {input_ids, loss_mask} for causal_lm, or {input_ids, token_type_ids, "
                    "label} for classification",
    load_tokens_jsonl, {.traits = {"tokens"}, .reads = {"data.root", "data.tokens_jsonl.train",
        "data.tokens_jsonl.test", "data.tokens_jsonl.vocab_size"}});

}  // namespace
}  // namespace esrun
