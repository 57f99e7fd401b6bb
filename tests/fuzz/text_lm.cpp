// fuzz_text_lm: the raw-text language-modelling reader (data/text_lm.cpp) through load_dataset,
// tokenised with a fixed tiny SentencePiece model (data.tokenizer.model, trained once at start-up)
// and cut into blocks of data.tokenizer.max_length tokens (4 here, so short inputs make blocks).
//
// Input: the text up to the first '\f' is the training file, after it the test file (without a
// '\f' both get the same text).
#include "fuzz_common.h"

namespace {

std::optional<esrun::RunConfig>& config() {
  static std::optional<esrun::RunConfig> value;
  return value;
}

}  // namespace

extern "C" int LLVMFuzzerInitialize(int*, char***) {
  esrun_fuzz::quiet();
  if (const std::string dir = esrun_fuzz::seeds_dir(); !dir.empty()) {
    esrun_fuzz::write_seeds_and_exit(
        dir, {{"wikitext-like", " = Valkyria Chronicles III = \n\n Senjō no Valkyria 3 : Unrecorded Chronicles is a "
                                "tactical role @-@ playing video game .\n\f = Robert Boulter = \n\n Robert Boulter is "
                                "an English film and television actor .\n"},
              {"one-line", "the quick brown fox jumps over the lazy dog\n"},
              {"too-short", "a\n\fb\n"},
              {"blank-lines", "\n \t\r\n\f\n"},
              {"binary-utf8", "\xff\xfe\x01 caf\xc3\xa9 \xe2\x82\xac \xf0\x9f\x98\x80 \xc3\n"}});
  }
  const auto model = esrun_fuzz::fixed_tokenizer_model({"the quick brown fox jumps over the lazy dog",
                                                        "valkyria chronicles is a tactical role @-@ playing video game .",
                                                        "robert boulter is an english film and television actor ."});
  config() = esrun_fuzz::config_with({"data.name=text_lm", "data.root=" + (esrun_fuzz::scratch() / "text").string(),
                                      "data.tokenizer.model=" + model.string(), "data.tokenizer.max_length=4",
                                      "model.name=gpt"});
  return 0;
}

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  esrun_fuzz::load_from_files(*config(), esrun_fuzz::scratch() / "text", {"wiki.train.tokens", "wiki.test.tokens"},
                              esrun_fuzz::as_view(data, size));
  return 0;
}
