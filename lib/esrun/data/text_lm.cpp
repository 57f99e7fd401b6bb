// text_lm: language modelling on raw text files (Wikitext-2's wiki.train.tokens and
// wiki.test.tokens, or any UTF-8 text) under data.root, data.text_lm.train and .test. Every
// non-blank line is tokenised with the run's SentencePiece model (data/tokenizer.h: loaded, or
// trained on the training file's lines) and followed by [SEP] as its end-of-line token; each
// split's tokens are concatenated and cut into consecutive blocks of L = data.tokenizer.max_length
// tokens. A block's targets are the tokens that follow each of its positions, the last one being
// the next block's first, so every token of the split but the first is predicted exactly once;
// the remainder shorter than a block is dropped (as Hugging Face's run_clm group_texts).
// Samples: int32 [N, 2, L] (channel 1 all 1: no padding) and int64 targets [N, L]; task causal_lm.
#include <spdlog/spdlog.h>

#include <filesystem>
#include <fstream>

#include "esrun/core/error.h"
#include "esrun/data/dataset.h"
#include "esrun/data/tokenizer.h"

namespace esrun {
namespace {

namespace fs = std::filesystem;

// The byte offset of the first byte of `text` that is not part of well-formed UTF-8 (or is NUL),
// else npos.
size_t first_non_text_byte(const std::string& text) {
  for (size_t i = 0; i < text.size();) {
    const auto byte = static_cast<unsigned char>(text[i]);
    const size_t length = byte == 0 ? 0 : byte < 0x80 ? 1 : (byte >> 5) == 0x6 && byte >= 0xc2 ? 2
                                                        : (byte >> 4) == 0xe ? 3 : byte >= 0xf0 && byte <= 0xf4 ? 4 : 0;
    if (length == 0 || i + length > text.size()) return i;
    for (size_t k = 1; k < length; ++k)
      if ((static_cast<unsigned char>(text[i + k]) & 0xc0) != 0x80) return i;
    i += length;
  }
  return std::string::npos;
}

std::vector<std::string> read_lines(const fs::path& path, const std::string& key) {
  std::ifstream in(path);
  ESRUN_CHECK(in.good(), key, ": cannot open '", path.string(), "' (expected a text file, one paragraph per line)");
  std::vector<std::string> lines;
  int number = 0;
  for (std::string line; std::getline(in, line);) {
    ++number;
    const size_t bad = first_non_text_byte(line);
    ESRUN_CHECK(bad == std::string::npos, key, ": '", path.string(), "' line ", number, " is not UTF-8 text (byte ",
                bad + 1, " of the line is 0x", fmt::format("{:02x}", static_cast<unsigned char>(line[bad])), ")");
    if (line.find_first_not_of(" \t\r") != std::string::npos) lines.push_back(line);
  }
  ESRUN_CHECK(!lines.empty(), key, ": '", path.string(), "' has no text");
  return lines;
}

// The split's blocks; `where` names the file in errors.
Split blocks_of(const std::vector<std::string>& lines, const Tokenizer& tokenizer, int64_t length,
                const std::string& where) {
  std::vector<int32_t> ids;
  for (const auto& line : lines) {
    const auto encoded = tokenizer.encode(line);
    ids.insert(ids.end(), encoded.begin(), encoded.end());
    ids.push_back(tokenizer.sep_id());
  }
  const auto total = static_cast<int64_t>(ids.size());
  const int64_t blocks = (total - 1) / length;
  ESRUN_CHECK(blocks > 0, where, ": ", total, " tokens, fewer than one block of data.tokenizer.max_length = ", length,
              " plus the token that follows it; lower max_length or give more text");
  const auto all = torch::from_blob(ids.data(), {total}, torch::kInt).to(torch::kLong);
  const auto inputs = all.narrow(0, 0, blocks * length).view({blocks, length});
  const auto targets = all.narrow(0, 1, blocks * length).view({blocks, length});
  return Split{torch::stack({inputs, torch::ones_like(inputs)}, 1).to(torch::kInt), targets.clone(),
               torch::arange(blocks, torch::kLong), {}};
}

Dataset load_text_lm(const DataOptions& o) {
  const fs::path root(o.root);
  const auto train_lines = read_lines(root / o.text_lm.train, o.where("data.text_lm.train"));
  const auto test_lines = read_lines(root / o.text_lm.test, o.where("data.text_lm.test"));
  const Tokenizer tokenizer = tokenizer_for(o, train_lines);
  Dataset data;
  data.name = "text_lm";
  data.task = "causal_lm";
  data.vocab_size = tokenizer.vocab_size();
  const int64_t length = o.tokenizer.max_length;
  data.train = blocks_of(train_lines, tokenizer, length, (root / o.text_lm.train).string());
  data.test = blocks_of(test_lines, tokenizer, length, (root / o.text_lm.test).string());
  spdlog::info("text_lm: {} train / {} test blocks of {} tokens ({} pieces)", data.train.size(), data.test.size(),
               length, data.vocab_size);
  return data;
}

const bool registered = datasets().add(
    "text_lm", "raw text files (Wikitext's wiki.*.tokens) cut into blocks of data.tokenizer.max_length SentencePiece "
               "tokens for causal language modelling",
    load_text_lm, {.tasks = {"causal_lm"}, .traits = {"tokens"}, .reads = {"data.root", "data.tokenizer.model",
        "data.tokenizer.vocab_size", "data.tokenizer.model_type", "data.tokenizer.lowercase",
        "data.tokenizer.max_length", "data.tokenizer.train_sentences", "data.text_lm.train", "data.text_lm.test"}});

}  // namespace
}  // namespace esrun
