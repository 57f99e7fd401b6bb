// fuzz_glue: the GLUE TSV reader (data/glue.cpp) through load_dataset, tokenised with a fixed tiny
// SentencePiece model (data.tokenizer.model; trained once at start-up, so each execution reads and
// encodes, and never trains: fuzz_tokenizer covers training on fuzzed text).
//
// Input: byte 0 picks the GLUE task (cola sst2 mrpc qqp stsb mnli qnli rte wnli, modulo 9); the
// rest up to the first '\f' is train.tsv, after it the dev file (dev.tsv; dev_matched.tsv for
// mnli); without a '\f' both files get the same text.
#include "fuzz_common.h"

using esrun_fuzz::variants;

namespace {

const std::vector<std::string> kTasks = {"cola", "sst2", "mrpc", "qqp", "stsb", "mnli", "qnli", "rte", "wnli"};

}  // namespace

extern "C" int LLVMFuzzerInitialize(int*, char***) {
  esrun_fuzz::quiet();
  using esrun_fuzz::tagged;
  if (const std::string dir = esrun_fuzz::seeds_dir(); !dir.empty()) {
    esrun_fuzz::write_seeds_and_exit(
        dir,
        {{"cola", tagged(0, "gj04\t1\t\tOur friends won't buy this analysis.\ngj04\t0\t*\tOne more pseudo "
                            "generalization and I'm giving up.\n\fgj04\t1\t\tThe sailors rode the breeze.\n")},
         {"sst2", tagged(1, "sentence\tlabel\nhide new secretions \t0\ncontains no wit \t0\n\fsentence\tlabel\n"
                            "it 's a charming journey . \t1\n")},
         {"mrpc-bom", tagged(2, "\xEF\xBB\xBFQuality\t#1 ID\t#2 ID\t#1 String\t#2 String\n1\t702876\t702977\tAmrozi "
                                "accused his brother .\tReferring to him , Amrozi accused his brother .\n")},
         {"qqp", tagged(3, "id\tqid1\tqid2\tquestion1\tquestion2\tis_duplicate\n1\t1\t2\tHow do I?\tWhat is?\t0\n")},
         {"stsb", tagged(4, "index\tgenre\tfilename\tyear\told_index\tsource1\tsource2\tsentence1\tsentence2\tscore\n"
                            "0\tmain-captions\tMSRvid\t2012test\t0001\tnone\tnone\tA plane is taking off.\tAn air "
                            "plane is taking off.\t5.000\n")},
         {"mnli", tagged(5, "index\tsentence1\tsentence2\tlabel1\tgold_label\n0\tThe cat sat.\tA cat sat.\tentailment\t"
                            "entailment\n1\tIt rains.\tIt is dry.\tcontradiction\tcontradiction\n")},
         {"qnli", tagged(6, "index\tquestion\tsentence\tlabel\n0\tWhat?\tThis.\tnot_entailment\n")},
         {"rte", tagged(7, "index\tsentence1\tsentence2\tlabel\n0\tA b c.\tA b.\tentailment\n")},
         {"wnli", tagged(8, "index\tsentence1\tsentence2\tlabel\n0\tI stuck a pin.\tI stuck it.\t1\n")},
         {"sst2-bad-label", tagged(1, "sentence\tlabel\nok\t2\n")},
         {"stsb-nan-score", tagged(4, "sentence1\tsentence2\tscore\na\tb\tnan\nc\td\t1e400\n")},
         {"mnli-short-row", tagged(5, "sentence1\tsentence2\tgold_label\nonly one column\n")},
         {"cola-headerless-short", tagged(0, "a\t1\n")}});
  }
  // A fixed model: the pieces of a few sentences, with [CLS] and [SEP] as Tokenizer::train adds them.
  const auto model = esrun_fuzz::fixed_tokenizer_model({"the quick brown fox jumps over the lazy dog",
                                                        "a plane is taking off and an air plane is landing",
                                                        "what is the answer? it is forty two.", "0123456789 !?.,;:'\"()-"});
  const std::string root = "data.root=" + (esrun_fuzz::scratch() / "glue").string();
  for (const auto& task : kTasks)
    variants().push_back(esrun_fuzz::config_with({"data.name=glue", root, "data.glue.task=" + task,
                                                  "data.tokenizer.model=" + model.string(),
                                                  "data.tokenizer.max_length=12", "model.name=transformer"}));
  return 0;
}

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size == 0) return 0;
  const size_t variant = data[0] % variants().size();
  esrun_fuzz::load_from_files(variants()[variant], esrun_fuzz::scratch() / "glue",
                              {"train.tsv", kTasks[variant] == "mnli" ? "dev_matched.tsv" : "dev.tsv"},
                              esrun_fuzz::as_view(data + 1, size - 1));
  return 0;
}
