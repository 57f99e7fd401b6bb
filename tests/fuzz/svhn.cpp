// fuzz_svhn: the SVHN MAT-file reader (data/svhn.cpp, libmatio) through load_dataset, as a run
// loads data.name: svhn.
//
// Input: byte 0 picks the variant (0: train and test files, 1: also data.svhn.extra, modulo 2);
// the rest is the MAT file, written as train_32x32.mat, test_32x32.mat (and extra_32x32.mat).
//
// libmatio and libtorch are not instrumented, so reading past the end of matio's buffer inside
// libtorch's copy goes unseen by ASan. One oracle makes that visible: when esrun accepts a file,
// X and y as matio reads them must be real (not complex: then matio's `data` is a
// mat_complex_split_t of two pointers, not the array) and not sparse. A violation aborts.
#include "fuzz_common.h"

#ifdef ESRUN_WITH_MATIO
#include <matio.h>
#endif

using esrun_fuzz::variants;

namespace {

#ifdef ESRUN_WITH_MATIO

// A MAT file with X (uint8 32x32x3xN, or `x_dims`) and y (`y_class`, N x 1, digits 1..10).
std::string mat_file(mat_ft version, matio_compression compression, std::vector<size_t> x_dims, matio_classes y_class,
                     matio_types y_type, bool complex_x = false, bool complex_y = false) {
  const auto path = esrun_fuzz::scratch() / "seed.mat";
  std::filesystem::remove(path);
  mat_t* mat = Mat_CreateVer(path.c_str(), nullptr, version);
  if (!mat) std::abort();
  size_t pixels = 1;
  for (const size_t d : x_dims) pixels *= d;
  const size_t n = x_dims.back();
  std::vector<uint8_t> x(pixels), xi(pixels, 1);
  for (size_t i = 0; i < pixels; ++i) x[i] = static_cast<uint8_t>(i * 31);
  mat_complex_split_t x_split{x.data(), xi.data()};
  matvar_t* xv = Mat_VarCreate("X", MAT_C_UINT8, MAT_T_UINT8, static_cast<int>(x_dims.size()), x_dims.data(),
                               complex_x ? static_cast<void*>(&x_split) : x.data(), complex_x ? MAT_F_COMPLEX : 0);
  std::vector<double> yd(n);
  std::vector<uint8_t> yb(n);
  std::vector<int32_t> yi(n);
  for (size_t i = 0; i < n; ++i) yd[i] = static_cast<double>(1 + i % 10), yb[i] = yi[i] = static_cast<uint8_t>(1 + i % 10);
  std::vector<double> y_im(n, 0.5);
  mat_complex_split_t y_split{yd.data(), y_im.data()};
  void* y_data = y_class == MAT_C_DOUBLE ? static_cast<void*>(yd.data())
                 : y_class == MAT_C_INT32 ? static_cast<void*>(yi.data()) : static_cast<void*>(yb.data());
  size_t y_dims[2] = {n, 1};
  matvar_t* yv = Mat_VarCreate("y", y_class, y_type, 2, y_dims, complex_y ? static_cast<void*>(&y_split) : y_data,
                               complex_y ? MAT_F_COMPLEX : 0);
  if (!xv || !yv || Mat_VarWrite(mat, xv, compression) != 0 || Mat_VarWrite(mat, yv, compression) != 0) std::abort();
  Mat_VarFree(xv);
  Mat_VarFree(yv);
  Mat_Close(mat);
  return esrun_fuzz::read_bytes(path);
}

void check_accepted(const std::string& file) {
  mat_t* mat = Mat_Open(file.c_str(), MAT_ACC_RDONLY);
  if (!mat) return;
  for (const char* name : {"X", "y"}) {
    matvar_t* var = Mat_VarRead(mat, name);
    if (var && (var->isComplex || var->class_type == MAT_C_SPARSE)) {
      std::fprintf(stderr, "esrun-fuzz: svhn accepted a %s %s (class %d): esrun reads its data pointer as the array, "
                   "but matio holds a %s there\n", var->isComplex ? "complex" : "sparse", name,
                   static_cast<int>(var->class_type), var->isComplex ? "mat_complex_split_t" : "mat_sparse_t");
      std::abort();
    }
    if (var) Mat_VarFree(var);
  }
  Mat_Close(mat);
}

#endif

}  // namespace

extern "C" int LLVMFuzzerInitialize(int*, char***) {
  esrun_fuzz::quiet();
#ifdef ESRUN_WITH_MATIO
  if (const std::string dir = esrun_fuzz::seeds_dir(); !dir.empty()) {
    using esrun_fuzz::tagged;
    const std::vector<size_t> one = {32, 32, 3, 1}, two = {32, 32, 3, 2};
    esrun_fuzz::write_seeds_and_exit(
        dir, {{"v5-one-digit", tagged(0, mat_file(MAT_FT_MAT5, MAT_COMPRESSION_NONE, one, MAT_C_DOUBLE, MAT_T_DOUBLE))},
              {"v5-zlib-two-digits", tagged(0, mat_file(MAT_FT_MAT5, MAT_COMPRESSION_ZLIB, two, MAT_C_UINT8, MAT_T_UINT8))},
              {"v5-extra-int32-y", tagged(1, mat_file(MAT_FT_MAT5, MAT_COMPRESSION_ZLIB, one, MAT_C_INT32, MAT_T_INT32))},
              {"v5-complex-x", tagged(0, mat_file(MAT_FT_MAT5, MAT_COMPRESSION_NONE, one, MAT_C_DOUBLE, MAT_T_DOUBLE, true))},
              {"v5-complex-y", tagged(0, mat_file(MAT_FT_MAT5, MAT_COMPRESSION_ZLIB, two, MAT_C_DOUBLE, MAT_T_DOUBLE,
                                                 false, true))},
              {"v5-x-wrong-shape", tagged(0, mat_file(MAT_FT_MAT5, MAT_COMPRESSION_ZLIB, {32, 32, 1, 2}, MAT_C_DOUBLE,
                                                      MAT_T_DOUBLE))},
              {"v4-rank2", tagged(0, mat_file(MAT_FT_MAT4, MAT_COMPRESSION_NONE, {32, 96}, MAT_C_DOUBLE, MAT_T_DOUBLE))}});
  }
#endif
  const std::string root = "data.root=" + (esrun_fuzz::scratch() / "svhn").string();
  variants().push_back(esrun_fuzz::config_with({"data.name=svhn", root}));
  variants().push_back(esrun_fuzz::config_with({"data.name=svhn", root, "data.svhn.extra=true"}));
  return 0;
}

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size == 0) return 0;
  const size_t variant = data[0] % variants().size();
  const auto bytes = esrun_fuzz::as_view(data + 1, size - 1);
  const auto folder = esrun_fuzz::scratch() / "svhn";
  for (const char* name : {"train_32x32.mat", "test_32x32.mat", "extra_32x32.mat"}) esrun_fuzz::write_file(folder / name, bytes);
  bool accepted = false;
  esrun_fuzz::guarded([&] {
    (void)esrun::load_dataset(variants()[variant]);
    accepted = true;
  });
#ifdef ESRUN_WITH_MATIO
  if (accepted) check_accepted((folder / "train_32x32.mat").string());
#endif
  return 0;
}
