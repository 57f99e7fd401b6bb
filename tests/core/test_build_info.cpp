// What the binary says it was built with must be what it was built with. CMake decides
// ESRUN_WITH_CUDA from libtorch's config; the runtime facts come from libtorch_cuda's hooks, so a
// build whose CUDA library was not linked or not registered fails here, and the PyTorch flavour
// (ESRUN_REQUIRE_CUDA) also fails when its libtorch has no CUDA or was built without cuDNN. Whether
// CMake found cuDNN is checked at configure time.
#include <catch2/catch.hpp>

#include <cstdlib>
#include <fstream>
#include <sstream>
#include <sys/wait.h>

#include <torch/cuda.h>

#include "esrun/core/build_info.h"
#include "helpers.h"

using Catch::Matchers::Contains;
using Catch::Matchers::StartsWith;

TEST_CASE("The build reports CUDA exactly when its libtorch has it", "[build]") {
  const auto info = esrun::build_info();
#ifdef ESRUN_WITH_CUDA
  CHECK(info.cuda);
  CHECK_THAT(info.cuda_version, StartsWith("1"));
#else
  CHECK_FALSE(info.cuda);
  CHECK(info.cuda_version.empty());
  CHECK(info.cudnn_version.empty());
  CHECK(info.cuda_devices == 0);
#endif
}

#ifdef ESRUN_REQUIRE_CUDA
TEST_CASE("A build that requires CUDA has a libtorch with CUDA and cuDNN", "[build]") {
  const auto info = esrun::build_info();
  REQUIRE(info.cuda);
  CHECK_FALSE(info.cudnn_version.empty());
}
#endif

TEST_CASE("On a GPU machine cuDNN loads", "[.gpu]") { CHECK(torch::cuda::cudnn_is_available()); }

TEST_CASE("esrun --version prints esrun's and libtorch's versions and whether CUDA is compiled in", "[build][cli]") {
  esrun::testing::TempDir dir;
  const std::string log = dir / "version.txt";
  const int status = std::system((std::string(ESRUN_BINARY) + " --version > " + log + " 2>&1").c_str());
  CHECK(WEXITSTATUS(status) == 0);
  std::ifstream in(log);
  std::stringstream text;
  text << in.rdbuf();
  const auto info = esrun::build_info();
  CHECK_THAT(text.str(), StartsWith("esrun " + info.esrun_version + "\nlibtorch " + info.libtorch_version + ", "));
  CHECK_THAT(text.str(), Contains(info.cuda ? "CUDA " + info.cuda_version + " compiled in" : "CUDA not compiled in"));
}
