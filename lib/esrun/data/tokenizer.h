// Tokenisation for text datasets through SentencePiece (Kudo & Richardson 2018), the library
// ALBERT's own spiece.model is made for. A model is loaded from a file (data.tokenizer.model) or
// trained on the training split's sentences (deterministic: the same sentences give the same
// model; a seeded sample when data.tokenizer.train_sentences caps them).
//
// Encoded examples are BERT/ALBERT's layout: [CLS] a [SEP] for one sentence, [CLS] a [SEP] b [SEP]
// for a pair, truncated longest-first (a token at a time from the longer sentence, the second on a
// tie, as Hugging Face's "longest_first") to data.tokenizer.max_length. A split's examples are one
// int32 tensor [N, 2, L], L the longest example: channel 0 the token ids (the pad id after the
// end), channel 1 the segment id + 1 of each token and 0 on padding, so the attention mask is
// channel 1 > 0 and no pad id is ever confused with a token.
#pragma once

#include <torch/torch.h>

#include <memory>
#include <string>
#include <vector>

#include "esrun/config/run_config.h"

namespace esrun::sentencepiece_module {
class Model;
}

namespace esrun {

class Tokenizer {
 public:
  // A SentencePiece model file; errors name `key` (data.tokenizer.model with where it was set).
  static Tokenizer load(const std::string& path, const TokenizerOptions& options, const std::string& key);
  // Trains on `sentences` (preprocessed as encode() does); `seed` draws the train_sentences sample.
  static Tokenizer train(const std::vector<std::string>& sentences, const TokenizerOptions& options, uint64_t seed);
  ~Tokenizer();
  Tokenizer(Tokenizer&&) noexcept;
  Tokenizer& operator=(Tokenizer&&) noexcept;

  // The model file's bytes: what train() made, to save beside a run.
  const std::string& serialized() const { return serialized_; }
  int64_t vocab_size() const;
  int cls_id() const { return cls_; }
  int sep_id() const { return sep_; }
  int pad_id() const { return pad_; }

  // Whitespace runs become one space, ends trimmed; ASCII letters lowercased with lowercase: true.
  std::string preprocess(const std::string& text) const;
  std::vector<int> encode(const std::string& text) const;  // preprocessed, no special tokens
  std::string decode(const std::vector<int>& ids) const;

  // [N, 2, L] as above; `second` empty for single-sentence tasks, else one per `first`.
  torch::Tensor encode_examples(const std::vector<std::string>& first, const std::vector<std::string>& second) const;

 private:
  Tokenizer(std::unique_ptr<sentencepiece_module::Model> model, std::string serialized, const TokenizerOptions& options,
            const std::string& what);
  std::unique_ptr<sentencepiece_module::Model> model_;
  std::string serialized_;
  bool lowercase_ = true;
  int64_t max_length_ = 128;
  int cls_ = 2, sep_ = 3, pad_ = 0;
};

// The run's tokenizer: data.tokenizer.model when set; else the one saved in the run being resumed
// (DataOptions::resume_dir); else one trained on `training_text`. A trained or resumed model is
// saved as tokenizer.model in the run directory (DataOptions::artifacts_dir) when there is one.
Tokenizer tokenizer_for(const DataOptions& options, const std::vector<std::string>& training_text);

// The token budget for sentences a and b (lengths, changed in place) under `max_tokens`:
// longest-first truncation.
void truncate_longest_first(size_t& a, size_t& b, size_t max_tokens);

}  // namespace esrun
