// fuzz_tokens_jsonl: the pre-tokenised JSON-lines reader (data/tokens_jsonl.cpp) through
// load_dataset, as a run loads data.name: tokens_jsonl.
//
// Input: byte 0 picks data.tokens_jsonl.vocab_size (variant 0: 100; 1: 2^31 - 1, the largest the
// config allows; modulo 2); the rest up to the first '\f' is train.jsonl, after it test.jsonl
// (without a '\f' both get the same text).
#include "fuzz_common.h"

using esrun_fuzz::variants;

extern "C" int LLVMFuzzerInitialize(int*, char***) {
  esrun_fuzz::quiet();
  using esrun_fuzz::tagged;
  if (const std::string dir = esrun_fuzz::seeds_dir(); !dir.empty()) {
    esrun_fuzz::write_seeds_and_exit(
        dir,
        {{"causal-lm", tagged(0, "{\"input_ids\": [5, 6, 7, 8], \"loss_mask\": [0, 0, 1, 1]}\n"
                                 "{\"input_ids\": [9, 10]}\n\f{\"input_ids\": [1, 2, 3]}\n")},
         {"classification", tagged(0, "{\"input_ids\": [2, 40, 41, 3], \"token_type_ids\": [0, 0, 1, 1], \"label\": 1}\n"
                                      "{\"input_ids\": [2, 42, 3], \"label\": 0}\n\f"
                                      "{\"input_ids\": [2, 43, 3], \"label\": 2}\n")},
         {"big-vocab", tagged(1, "{\"input_ids\": [2147483646, 1], \"loss_mask\": [1, 1]}\n")},
         {"mixed-kinds", tagged(0, "{\"input_ids\": [1, 2]}\n{\"input_ids\": [1, 2], \"label\": 0}\n")},
         {"huge-label", tagged(0, "{\"input_ids\": [1], \"label\": 9223372036854775807}\n")},
         {"unsigned-id", tagged(0, "{\"input_ids\": [18446744073709551615, 1]}\n")},
         {"not-json", tagged(0, "{\"input_ids\": [1, 2\n[]\n\"x\"\n")},
         {"mask-mismatch", tagged(0, "{\"input_ids\": [1, 2, 3], \"loss_mask\": [1, 0]}\n")},
         {"no-prediction", tagged(0, "{\"input_ids\": [1, 2], \"loss_mask\": [1, 0]}\n")},
         {"float-ids", tagged(0, "{\"input_ids\": [1.5, 2e3], \"label\": -1}\n")}});
  }
  const std::string root = "data.root=" + (esrun_fuzz::scratch() / "jsonl").string();
  for (const char* vocab : {"100", "2147483647"})
    variants().push_back(esrun_fuzz::config_with(
        {"data.name=tokens_jsonl", root, std::string("data.tokens_jsonl.vocab_size=") + vocab, "model.name=gpt"}));
  return 0;
}

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size == 0) return 0;
  const size_t variant = data[0] % variants().size();
  esrun_fuzz::load_from_files(variants()[variant], esrun_fuzz::scratch() / "jsonl", {"train.jsonl", "test.jsonl"},
                              esrun_fuzz::as_view(data + 1, size - 1));
  return 0;
}
