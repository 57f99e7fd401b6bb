// svhn: the official MAT-file layout, written here with the same library (libmatio) the loader reads.
#include <catch2/catch.hpp>

#include "esrun/commands/run.h"
#include "esrun/data/dataset.h"
#include "helpers.h"

#ifdef ESRUN_WITH_MATIO
#include <matio.h>

using Catch::Matchers::Contains;
using esrun::testing::TempDir;

namespace {

// Writes `variables` (name, MATLAB class, dims, column-major bytes) to a MAT v5 file.
struct MatVariable {
  std::string name;
  matio_classes type;
  matio_types data_type;
  std::vector<size_t> dims;
  std::vector<uint8_t> bytes;
};

void write_mat(const std::string& path, const std::vector<MatVariable>& variables) {
  std::filesystem::create_directories(std::filesystem::path(path).parent_path());
  mat_t* file = Mat_CreateVer(path.c_str(), nullptr, MAT_FT_MAT5);
  REQUIRE(file != nullptr);
  for (auto v : variables) {
    matvar_t* var = Mat_VarCreate(v.name.c_str(), v.type, v.data_type, static_cast<int>(v.dims.size()), v.dims.data(),
                                  v.bytes.data(), MAT_F_DONT_COPY_DATA);
    REQUIRE(var != nullptr);
    CHECK(Mat_VarWrite(file, var, MAT_COMPRESSION_NONE) == 0);
    Mat_VarFree(var);
  }
  Mat_Close(file);
}

// X: 32x32x3xN uint8 whose pixel (h, w, c) of image n is (h + 2 w + 3 c + 7 n) mod 256; y: N x 1
// double labels 1..10.
MatVariable images(int64_t n) {
  std::vector<uint8_t> bytes(static_cast<size_t>(32 * 32 * 3 * n));
  for (int64_t i = 0; i < n; ++i)
    for (int64_t c = 0; c < 3; ++c)
      for (int64_t w = 0; w < 32; ++w)
        for (int64_t h = 0; h < 32; ++h)
          bytes[static_cast<size_t>(h + 32 * (w + 32 * (c + 3 * i)))] = static_cast<uint8_t>((h + 2 * w + 3 * c + 7 * i) % 256);
  return {"X", MAT_C_UINT8, MAT_T_UINT8, {32, 32, 3, static_cast<size_t>(n)}, bytes};
}

MatVariable labels(const std::vector<double>& values) {
  std::vector<uint8_t> bytes(values.size() * sizeof(double));
  std::memcpy(bytes.data(), values.data(), bytes.size());
  return {"y", MAT_C_DOUBLE, MAT_T_DOUBLE, {values.size(), 1}, bytes};
}

esrun::Dataset load(const TempDir& dir, std::vector<std::string> extra = {}) {
  std::vector<std::string> sets = {"data.name=svhn", "data.root=" + (dir.path() / "svhn").string()};
  sets.insert(sets.end(), extra.begin(), extra.end());
  return esrun::load_dataset(esrun::load_config(esrun::RunRequest{{}, sets, std::nullopt}));
}

}  // namespace

TEST_CASE("SVHN reads X in MATLAB's column-major order and maps label 10 to digit 0", "[data][svhn]") {
  TempDir dir;
  write_mat(dir / "svhn/train_32x32.mat", {images(3), labels({10, 1, 9})});
  write_mat(dir / "svhn/test_32x32.mat", {images(2), labels({5, 10})});
  const auto data = load(dir);
  CHECK(data.num_classes == 10);
  REQUIRE(data.train.inputs.sizes() == torch::IntArrayRef({3, 3, 32, 32}));
  CHECK(data.train.inputs.dtype() == torch::kUInt8);
  CHECK(data.train.targets.equal(torch::tensor({0, 1, 9}, torch::kLong)));
  CHECK(data.test.targets.equal(torch::tensor({5, 0}, torch::kLong)));
  // Image 2, channel 1, row h = 4, column w = 6: (4 + 12 + 3 + 14) = 33.
  CHECK(data.train.inputs[2][1][4][6].item<int64_t>() == 33);
  CHECK(data.train.inputs[0][0][31][0].item<int64_t>() == 31);
  CHECK(data.train.inputs[0][0][0][31].item<int64_t>() == 62);
}

TEST_CASE("SVHN's extra split joins training on request", "[data][svhn]") {
  TempDir dir;
  write_mat(dir / "svhn/train_32x32.mat", {images(2), labels({1, 2})});
  write_mat(dir / "svhn/test_32x32.mat", {images(1), labels({3})});
  write_mat(dir / "svhn/extra_32x32.mat", {images(4), labels({4, 5, 6, 7})});
  CHECK(load(dir).train.size() == 2);
  const auto data = load(dir, {"data.svhn.extra=true"});
  CHECK(data.train.size() == 6);
  CHECK(data.train.targets.equal(torch::tensor({1, 2, 4, 5, 6, 7}, torch::kLong)));
  CHECK(data.train.source_index.equal(torch::arange(6, torch::kLong)));
}

TEST_CASE("Bad SVHN files are rejected naming the file and what was expected", "[data][svhn][errors]") {
  TempDir dir;
  const std::string train = dir / "svhn/train_32x32.mat";
  write_mat(dir / "svhn/test_32x32.mat", {images(1), labels({3})});
  write_mat(train, {labels({1, 2})});
  CHECK_THROWS_WITH(load(dir), Contains(train + ": has no variable 'X'"));
  write_mat(train, {images(2)});
  CHECK_THROWS_WITH(load(dir), Contains(train + ": has no variable 'y'"));
  write_mat(train, {images(2), labels({1, 2, 3})});
  CHECK_THROWS_WITH(load(dir), Contains(train + ": y is 3x1, expected 2x1 to match the 2 images of X"));
  auto wrong = images(2);
  wrong.dims = {32, 16, 6, 2};
  write_mat(train, {wrong, labels({1, 2})});
  CHECK_THROWS_WITH(load(dir), Contains(train + ": X is 32x16x6x2") && Contains("expected uint8 32x32x3xN"));
  write_mat(train, {images(2), labels({0, 2})});
  CHECK_THROWS_WITH(load(dir), Contains("outside the digits 1..10"));
  std::filesystem::remove(train);
  CHECK_THROWS_WITH(load(dir), Contains(train + "' does not exist"));
  esrun::testing::write_file(train, "not a mat file");
  CHECK_THROWS_WITH(load(dir), Contains(train + ": not a MAT file"));
}
#else
TEST_CASE("svhn without libmatio is a clear error", "[data][svhn]") {
  esrun::testing::TempDir dir;
  const auto config = esrun::load_config(
      esrun::RunRequest{{}, {"data.name=svhn", "data.root=" + dir.path().string()}, std::nullopt});
  REQUIRE_THROWS_WITH(esrun::load_dataset(config), Catch::Contains("ESRUN_WITH_MATIO=OFF"));
}
#endif
