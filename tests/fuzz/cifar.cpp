// fuzz_cifar: the CIFAR-10/100 binary reader (data/cifar.cpp) through load_dataset, as a run loads
// data.name: cifar10 | cifar100 with data.train_files / data.test_files.
//
// Input: byte 0 picks the variant (below, modulo their count); the rest is the file, read as both
// the training and the test file. Records are 3073 (CIFAR-10) or 3074 (CIFAR-100) bytes.
#include "fuzz_common.h"

using esrun_fuzz::variants;

namespace {

std::string record(int label_bytes, int fine, int coarse, uint8_t fill) {
  std::string bytes;
  if (label_bytes == 2) bytes.push_back(static_cast<char>(coarse));
  bytes.push_back(static_cast<char>(fine));
  for (int p = 0; p < 3072; ++p) bytes.push_back(static_cast<char>((fill + p * 7) & 0xff));
  return bytes;
}

}  // namespace

extern "C" int LLVMFuzzerInitialize(int*, char***) {
  esrun_fuzz::quiet();
  if (const std::string dir = esrun_fuzz::seeds_dir(); !dir.empty()) {
    // Variant byte, then records. 0: cifar10, 1: cifar100 fine, 2: cifar100 coarse, 3: cifar10
    // with a train subset and flip noise.
    const std::string c10 = record(1, 3, 0, 10), c100 = record(2, 42, 8, 20);
    esrun_fuzz::write_seeds_and_exit(
        dir, {{"cifar10-one-record", esrun_fuzz::tagged(0, c10)},
              {"cifar100-fine-one-record", esrun_fuzz::tagged(1, c100)},
              {"cifar100-coarse-one-record", esrun_fuzz::tagged(2, c100)},
              {"cifar10-noise-subset", esrun_fuzz::tagged(3, record(1, 9, 0, 1))},
              {"cifar10-label-out-of-range", esrun_fuzz::tagged(0, record(1, 10, 0, 5))},
              {"cifar10-truncated", esrun_fuzz::tagged(0, c10.substr(0, 3000))},
              {"cifar100-coarse-out-of-range", esrun_fuzz::tagged(2, record(2, 1, 20, 7))}});
  }
  const std::string root = (esrun_fuzz::scratch() / "cifar").string();
  const std::string files = "data.train_files=[input.bin]";
  const std::string tests = "data.test_files=[input.bin]";
  variants().push_back(esrun_fuzz::config_with({"data.name=cifar10", "data.root=" + root, files, tests}));
  variants().push_back(esrun_fuzz::config_with({"data.name=cifar100", "data.root=" + root, files, tests}));
  variants().push_back(
      esrun_fuzz::config_with({"data.name=cifar100", "data.label=coarse", "data.root=" + root, files, tests}));
  variants().push_back(esrun_fuzz::config_with({"data.name=cifar10", "data.root=" + root, files, tests,
                                                "data.train_subset=1", "data.label_noise={kind: flip, ratio: 0.5}"}));
  return 0;
}

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size == 0) return 0;
  esrun_fuzz::load_from_files(variants()[data[0] % variants().size()], esrun_fuzz::scratch() / "cifar", {"input.bin"},
                              esrun_fuzz::as_view(data + 1, size - 1));
  return 0;
}
