// fuzz_scores: the scores-file reader a run uses for static_prune and rho_loss (core/scores_file.h:
// read_scores): the sealed archive, its JSON metadata, the scores and excluded tensors, checked
// against the training split the run has.
//
// Input: byte 0 picks the variant (byte 0 % 2): 0, the rest is the scores file as it is; 1, the
// rest is the archive, sealed here with a correct trailer (fuzz_common.h: with_seal) so that
// mutations get past the checksum to libtorch's reader and read_scores' checks. The run's split is
// fixed: DataIdentity{"linear_synthetic", 4, "00000000000000aa"}; the seeds are made for it with
// esrun's own write_scores (and bare archives for the odd ones), so mutations get past the
// identity check. read_scores promises esrun::Error for every bad file.
#include "esrun/core/scores_file.h"
#include "fuzz_common.h"

namespace {

const esrun::DataIdentity kData{"linear_synthetic", 4, "00000000000000aa"};

nlohmann::json meta_for(const esrun::DataIdentity& data) {
  return {{"method", "el2n"},
          {"data", {{"dataset", data.dataset}, {"train_size", data.train_size}, {"checksum", data.checksum}}},
          {"epoch", 1},
          {"repeats", 1}};
}

// What write_scores adds: the format tag.
nlohmann::json formatted_meta() {
  nlohmann::json meta = meta_for(kData);
  meta["format"] = "esrun-scores/1";
  return meta;
}

std::string scores_file(const torch::Tensor& scores, const torch::Tensor& excluded, const nlohmann::json& meta) {
  const auto path = esrun_fuzz::scratch() / "seed.pt";
  esrun::write_scores(path, esrun::ScoresFile{scores, excluded, meta});
  return esrun_fuzz::read_bytes(path);
}

// An archive written as write_scores does but with any values (unsealed, as before sealing).
std::string raw_file(const std::function<void(torch::serialize::OutputArchive&)>& fill) {
  torch::serialize::OutputArchive archive;
  fill(archive);
  std::ostringstream bytes;
  archive.save_to(bytes);
  return bytes.str();
}

[[noreturn]] void write_seeds(const std::string& dir) {
  const auto scores = torch::tensor({0.5, 1.5, -2.0, 3.0}, torch::kDouble);
  const auto excluded = torch::tensor({false, true, false, false});
  std::vector<std::pair<std::string, std::string>> seeds = {
      {"valid", scores_file(scores, excluded, meta_for(kData))},
      {"valid-float-scores", scores_file(scores.to(torch::kFloat), {}, meta_for(kData))},
      {"other-split", scores_file(scores, excluded, meta_for({"linear_synthetic", 4, "00000000000000bb"}))},
      {"wrong-size", scores_file(torch::ones({5}, torch::kDouble), {}, meta_for({"linear_synthetic", 4, kData.checksum}))},
      {"nan-score", scores_file(torch::tensor({0.0, std::nan(""), 1.0, 2.0}, torch::kDouble), {}, meta_for(kData))},
      {"meta-without-data", scores_file(scores, excluded, {{"method", "el2n"}})},
      {"unsealed", raw_file([&](auto& a) {
         a.write("scores", scores);
         a.write("excluded", excluded);
         a.write("meta", c10::IValue(formatted_meta().dump()));
       })},
      {"meta-not-json", raw_file([&](auto& a) {
         a.write("scores", scores);
         a.write("excluded", excluded);
         a.write("meta", c10::IValue(std::string("{\"format\": \"esrun-scores/1\", ")));
       })},
      {"meta-is-tensor", raw_file([&](auto& a) {
         a.write("scores", scores);
         a.write("excluded", excluded);
         a.write("meta", scores);
       })},
      {"scores-2d", raw_file([&](auto& a) {
         a.write("scores", scores.view({2, 2}));
         a.write("excluded", excluded.view({2, 2}));
         a.write("meta", c10::IValue(formatted_meta().dump()));
       })},
  };
  try {  // a sparse tensor where a dense one is expected
    const auto sparse = scores.to_sparse();
    seeds.emplace_back("sparse-scores", raw_file([&](auto& a) {
                         a.write("scores", sparse);
                         a.write("excluded", excluded);
                         a.write("meta", c10::IValue(formatted_meta().dump()));
                       }));
  } catch (const std::exception& e) {
    std::fprintf(stderr, "esrun-fuzz: no sparse-scores seed (%s)\n", esrun::libtorch_reason(e).c_str());
  }
  esrun_fuzz::write_seeds_and_exit(dir, esrun_fuzz::sealed_seeds(seeds));
}

}  // namespace

extern "C" int LLVMFuzzerInitialize(int*, char***) {
  esrun_fuzz::quiet();
  if (const std::string dir = esrun_fuzz::seeds_dir(); !dir.empty()) write_seeds(dir);
  return 0;
}

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const auto path = (esrun_fuzz::scratch() / "scores.pt").string();
  if (!esrun_fuzz::write_archive_input(path, data, size)) return 0;
  esrun_fuzz::guarded([&] { (void)esrun::read_scores(path, "sampler.scores (config.yaml:3)", kData); });
  return 0;
}
