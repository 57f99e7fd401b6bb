// CIFAR-10 and CIFAR-100 in the official binary format (Krizhevsky 2009).
// CIFAR-10 records: 1 label byte + 3072 pixel bytes; CIFAR-100 records: coarse label byte,
// fine label byte + 3072 pixel bytes. Pixels are the R, G and B planes of a 32x32 image, which is
// already the [C, H, W] layout, so records are copied as they are.
#include <filesystem>
#include <fstream>

#include "esrun/core/error.h"
#include "esrun/data/dataset.h"

namespace esrun {
namespace {

constexpr int64_t kPixels = 3 * 32 * 32;

struct CifarLayout {
  const char* dataset;
  int64_t label_bytes;   // bytes before the pixels
  int64_t label_offset;  // which of them is the label
  int64_t classes;
  std::vector<std::string> train_files, test_files;
};

// The records of `paths`, whose names come from the config key `key` (with its origin).
Split read_records(const std::vector<std::string>& paths, const CifarLayout& layout, const std::string& key) {
  const int64_t record = layout.label_bytes + kPixels;
  std::vector<torch::Tensor> images, labels;
  for (const auto& path : paths) {
    std::ifstream in(path, std::ios::binary);
    ESRUN_CHECK(std::filesystem::is_regular_file(path) && in, key, ": ", layout.dataset, " file '", path,
                "' is missing or unreadable (set data.root, or data.train_files/data.test_files for a partial copy)");
    const auto bytes = static_cast<int64_t>(std::filesystem::file_size(path));
    ESRUN_CHECK(bytes > 0 && bytes % record == 0, key, ": ", layout.dataset, " file '", path, "' has ", bytes,
                " bytes, not a whole number of ", record, "-byte records: truncated or not a ", layout.dataset,
                " binary file");
    const int64_t n = bytes / record;
    auto raw = torch::empty({n, record}, torch::kUInt8);
    in.read(reinterpret_cast<char*>(raw.data_ptr<uint8_t>()), bytes);
    ESRUN_CHECK(in.gcount() == bytes, key, ": could not read all of '", path, "'");
    auto label = raw.select(1, layout.label_offset).to(torch::kLong);
    const int64_t max_label = label.max().item<int64_t>();
    if (max_label >= layout.classes) {
      const int64_t bad = (label >= layout.classes).nonzero()[0][0].item<int64_t>();
      ESRUN_FAIL(key, ": ", layout.dataset, " file '", path, "', record ", bad, ": label ", label[bad].item<int64_t>(),
                 " is out of range [0, ", layout.classes, ")");
    }
    images.push_back(raw.narrow(1, layout.label_bytes, kPixels).reshape({n, 3, 32, 32}));
    labels.push_back(label);
  }
  Split split{torch::cat(images).contiguous(), torch::cat(labels), {}, {}};
  split.source_index = torch::arange(split.size(), torch::kLong);
  return split;
}

std::vector<std::string> under_root(const std::string& root, const std::vector<std::string>& files) {
  std::vector<std::string> out;
  for (const auto& f : files) out.push_back((std::filesystem::path(root) / f).string());
  return out;
}

Dataset load_cifar(const DataOptions& options, const CifarLayout& layout, std::vector<double> mean,
                        std::vector<double> std) {
  ESRUN_CHECK(std::filesystem::is_directory(options.root), options.where("data.root"), ": dataset directory '", options.root,
              "' does not exist (expected the ", layout.dataset, " binary files there)");
  Dataset data;
  data.name = layout.dataset;
  data.num_classes = layout.classes;
  const auto key = [&](const auto& files, const char* path) { return options.where(files ? path : "data.root"); };
  data.train = read_records(under_root(options.root, options.train_files.value_or(layout.train_files)), layout,
                            key(options.train_files, "data.train_files"));
  data.test = read_records(under_root(options.root, options.test_files.value_or(layout.test_files)), layout,
                           key(options.test_files, "data.test_files"));
  data.mean = std::move(mean);
  data.std = std::move(std);
  return data;
}

Dataset make_cifar10(const DataOptions& options) {
  const CifarLayout layout{"cifar10", 1, 0, 10,
                           {"data_batch_1.bin", "data_batch_2.bin", "data_batch_3.bin", "data_batch_4.bin",
                            "data_batch_5.bin"},
                           {"test_batch.bin"}};
  return load_cifar(options, layout, {0.4914, 0.4822, 0.4465}, {0.2470, 0.2435, 0.2616});
}

Dataset make_cifar100(const DataOptions& options) {
  const bool coarse = options.label == "coarse";
  const CifarLayout layout{"cifar100", 2, coarse ? 0 : 1, coarse ? 20 : 100, {"train.bin"}, {"test.bin"}};
  return load_cifar(options, layout, {0.5071, 0.4865, 0.4409}, {0.2673, 0.2564, 0.2762});
}

const bool registered_cifar10 = datasets().add(
    "cifar10", "CIFAR-10 binary files (data_batch_1..5.bin, test_batch.bin) under data.root", make_cifar10,
    {.reads = {"data.root", "data.train_files", "data.test_files", "data.augment.crop_padding", "data.augment.flip",
        "data.augment.normalize", "data.augment.mean", "data.augment.std"}});
const bool registered_cifar100 = datasets().add(
    "cifar100", "CIFAR-100 binary files (train.bin, test.bin) under data.root; data.label fine|coarse", make_cifar100,
    {.reads = {"data.root", "data.label", "data.train_files", "data.test_files", "data.augment.crop_padding",
        "data.augment.flip", "data.augment.normalize", "data.augment.mean", "data.augment.std"}});

}  // namespace
}  // namespace esrun
