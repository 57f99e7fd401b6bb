// svhn: the Street View House Numbers cropped digits (Netzer et al. 2011) in their official MATLAB
// files under data.root: train_32x32.mat (73,257 digits), test_32x32.mat (26,032) and, with
// data.svhn.extra, extra_32x32.mat (531,131) added to training. Each holds X, uint8
// 32 x 32 x 3 x N (MATLAB's column-major order), and y, N x 1, the digit with 10 standing for 0.
// Read with libmatio (MAT v4/v5, and v7.3 where libmatio has HDF5); held in memory as uint8
// [N, 3, 32, 32] like CIFAR, so the same on-device crop/flip/normalise path applies.
#include "esrun/core/error.h"
#include "esrun/data/dataset.h"

#ifdef ESRUN_WITH_MATIO
#include <matio.h>

#include <filesystem>
#include <memory>
#include <sstream>

namespace esrun {
namespace {

using MatFile = std::unique_ptr<mat_t, int (*)(mat_t*)>;
using MatVar = std::unique_ptr<matvar_t, void (*)(matvar_t*)>;

// Variable `name`, its header checked by `check` before its data is read: a damaged header must not
// make libmatio allocate what it claims, nor a complex or sparse array be read as numbers.
template <typename Check>
MatVar read_variable(mat_t* file, const std::string& path, const char* name, Check check) {
  const MatVar info(Mat_VarReadInfo(file, name), Mat_VarFree);
  ESRUN_CHECK(info != nullptr, path, ": has no variable '", name,
              "' (expected X, uint8 32x32x3xN, and y, Nx1, as the official SVHN files)");
  ESRUN_CHECK(!info->isComplex && !info->isLogical && info->class_type != MAT_C_SPARSE, path, ": ", name,
              " is a complex, logical or sparse array; expected a real numeric one");
  check(*info);
  MatVar var(Mat_VarRead(file, name), Mat_VarFree);
  ESRUN_CHECK(var && var->data, path, ": the data of variable '", name, "' cannot be read (truncated or corrupt)");
  return var;
}

std::string dims_text(const matvar_t& var) {
  std::ostringstream out;
  for (int i = 0; i < var.rank; ++i) out << (i ? "x" : "") << var.dims[i];
  return out.str();
}

// The N labels of y as int64, whatever numeric class MATLAB stored them in.
torch::Tensor labels_of(const matvar_t& y, const std::string& path, int64_t n) {
  size_t count = 1;
  for (int i = 0; i < y.rank; ++i) count *= y.dims[i];
  ESRUN_CHECK(static_cast<int64_t>(count) == n && y.rank == 2 && (y.dims[0] == 1 || y.dims[1] == 1), path,
              ": y is ", dims_text(y), ", expected ", n, "x1 to match the ", n, " images of X");
  const auto c = static_cast<int64_t>(count);
  torch::Tensor values;
  switch (y.class_type) {
    case MAT_C_DOUBLE: values = torch::from_blob(y.data, {c}, torch::kDouble); break;
    case MAT_C_SINGLE: values = torch::from_blob(y.data, {c}, torch::kFloat); break;
    case MAT_C_UINT8: values = torch::from_blob(y.data, {c}, torch::kUInt8); break;
    case MAT_C_INT8: values = torch::from_blob(y.data, {c}, torch::kChar); break;
    case MAT_C_INT16: values = torch::from_blob(y.data, {c}, torch::kShort); break;
    case MAT_C_INT32: values = torch::from_blob(y.data, {c}, torch::kInt); break;
    case MAT_C_INT64: values = torch::from_blob(y.data, {c}, torch::kLong); break;
    default: ESRUN_FAIL(path, ": y has MATLAB class ", static_cast<int>(y.class_type), ", expected a numeric array of digits 1..10");
  }
  ESRUN_CHECK(static_cast<size_t>(c) * values.element_size() <= y.nbytes, path, ": y holds ", y.nbytes, " bytes for ", c,
              " labels (truncated or corrupt)");
  auto labels = values.to(torch::kDouble);
  ESRUN_CHECK(labels.eq(labels.round()).all().item<bool>() && labels.ge(1).all().item<bool>() &&
                  labels.le(10).all().item<bool>(),
              path, ": y holds values outside the digits 1..10 (10 stands for 0)");
  return labels.to(torch::kLong).remainder(10);
}

Split read_split(const std::string& path, const std::string& root_key) {
  ESRUN_CHECK(std::filesystem::is_regular_file(path), root_key, ": '", path,
              "' does not exist (expected the official SVHN file there)");
  MatFile file(Mat_Open(path.c_str(), MAT_ACC_RDONLY), Mat_Close);
  ESRUN_CHECK(file != nullptr, path, ": not a MAT file libmatio can read");
  // At most 1000 times the file's size in pixels: MAT files compress, but not by more.
  const double most = 1000.0 * static_cast<double>(std::filesystem::file_size(path));
  const MatVar x = read_variable(file.get(), path, "X", [&](const matvar_t& v) {
    ESRUN_CHECK(v.rank == 4 && v.dims[0] == 32 && v.dims[1] == 32 && v.dims[2] == 3 && v.class_type == MAT_C_UINT8 &&
                    static_cast<double>(v.dims[3]) * 3072.0 <= most,
                path, ": X is ", dims_text(v), " of MATLAB class ", static_cast<int>(v.class_type),
                ", expected uint8 32x32x3xN (N images within the file's size)");
  });
  const auto n = static_cast<int64_t>(x->dims[3]);
  ESRUN_CHECK(x->data_size == 1 && x->nbytes == static_cast<size_t>(n) * 3072, path, ": X holds ", x->nbytes,
              " bytes, expected ", n * 3072, " for ", n, " images");
  const MatVar y = read_variable(file.get(), path, "y", [&](const matvar_t& v) {
    size_t count = 1;
    for (int i = 0; i < v.rank; ++i) count *= v.dims[i];
    ESRUN_CHECK(static_cast<int64_t>(count) == n && v.rank == 2 && (v.dims[0] == 1 || v.dims[1] == 1), path, ": y is ",
                dims_text(v), ", expected ", n, "x1 to match the ", n, " images of X");
  });
  // Column-major 32 (h) x 32 (w) x 3 x N is row-major [N, 3, w, h]: swap the last two axes.
  const auto images = torch::from_blob(x->data, {n, 3, 32, 32}, torch::kUInt8).transpose(2, 3).contiguous();
  return Split{images, labels_of(*y, path, n), torch::arange(n, torch::kLong), {}};
}

Dataset make_svhn(const DataOptions& options) {
  const std::string root_key = options.where("data.root");
  ESRUN_CHECK(std::filesystem::is_directory(options.root), root_key, ": dataset directory '", options.root,
              "' does not exist (expected train_32x32.mat and test_32x32.mat there)");
  const auto file = [&](const char* name) { return (std::filesystem::path(options.root) / name).string(); };
  Dataset data;
  data.name = "svhn";
  data.num_classes = 10;
  data.train = read_split(file("train_32x32.mat"), root_key);
  if (options.svhn_extra) {
    const Split extra = read_split(file("extra_32x32.mat"), root_key);
    const auto offset = data.train.size();
    data.train = Split{torch::cat({data.train.inputs, extra.inputs}), torch::cat({data.train.targets, extra.targets}),
                       torch::cat({data.train.source_index, extra.source_index + offset}), {}};
  }
  data.test = read_split(file("test_32x32.mat"), root_key);
  data.mean = {0.4377, 0.4438, 0.4728};  // of train_32x32.mat, on the [0, 1] scale
  data.std = {0.1980, 0.2010, 0.1970};
  return data;
}

}  // namespace
}  // namespace esrun
#else
namespace esrun {
namespace {
Dataset make_svhn(const DataOptions& options) { fail_without_matio(options); }
}  // namespace
}  // namespace esrun
#endif

namespace esrun {
namespace {
const bool registered = datasets().add(
    "svhn", "SVHN cropped digits, official train_32x32.mat / test_32x32.mat (+ extra_32x32.mat) under data.root",
    make_svhn,
    {.reads = {"data.root", "data.svhn.extra", "data.augment.crop_padding", "data.augment.flip",
        "data.augment.normalize", "data.augment.mean", "data.augment.std"}});
}  // namespace
}  // namespace esrun
