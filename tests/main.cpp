// Catch2 runner. The data tier ([.data]) needs ESRUN_DATA_DIR and the GPU tier ([.gpu]) a CUDA
// device; without them, a run that asks for that tier exits 77, which ctest reports as skipped
// rather than passed.
#define CATCH_CONFIG_RUNNER
#include <catch2/catch.hpp>
#include <spdlog/spdlog.h>
#include <torch/cuda.h>

#include <cstdlib>
#include <string>

int main(int argc, char** argv) {
  for (int i = 1; i < argc; ++i) {
    if (std::string(argv[i]).find("[.data]") != std::string::npos && std::getenv("ESRUN_DATA_DIR") == nullptr) {
      std::printf("ESRUN_DATA_DIR is not set: skipping the data tier\n");
      return 77;
    }
    if (std::string(argv[i]).find("[.gpu]") != std::string::npos && !torch::cuda::is_available()) {
      std::printf("no CUDA device: skipping the GPU tier\n");
      return 77;
    }
  }
  spdlog::set_level(spdlog::level::warn);  // keep test output to failures; runs log at info
  return Catch::Session().run(argc, argv);
}
