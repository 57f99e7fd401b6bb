// Every shipped config is valid, and every smoke config trains end to end.
#include <catch2/catch.hpp>

#include <cstdlib>
#include <filesystem>

#include "esrun/commands/run.h"
#include "helpers.h"

namespace {
std::vector<std::string> yaml_files(const std::string& folder) {
  std::vector<std::string> out;
  for (const auto& entry : std::filesystem::recursive_directory_iterator(std::string(ESRUN_SOURCE_DIR) + "/" + folder))
    if (entry.path().extension() == ".yaml") out.push_back(entry.path().string());
  std::sort(out.begin(), out.end());
  return out;
}
}  // namespace

TEST_CASE("Every config under configs/ resolves and validates", "[config][configs]") {
  const auto files = yaml_files("configs");
  CHECK(files.size() > 70);
  for (const auto& file : files) {
    // Sweep files and the published numbers: tests/scripts.
    if (file.find("/configs/sweeps/") != std::string::npos || file.find("/configs/paper/published/") != std::string::npos) continue;
    INFO(file);
    CHECK_NOTHROW(esrun::load_config(esrun::RunRequest{{file}, {}, std::nullopt}));
  }
}

#ifdef ESRUN_WITH_OPENCV
TEST_CASE("Every smoke config trains end to end", "[e2e][configs]") {
  esrun::testing::TempDir dir;
  // The GLUE smoke configs read the tiny synthetic TSVs of scripts/make_glue_fixture.py.
  const std::string fixture = dir / "glue_fixture";
  REQUIRE(std::system(("python3 " + std::string(ESRUN_SOURCE_DIR) + "/scripts/make_glue_fixture.py " + fixture +
                       " > /dev/null").c_str()) == 0);
  for (const auto& file : yaml_files("configs/smoke")) {
    INFO(file);
    const auto name = std::filesystem::path(file).stem().string();
    std::vector<std::string> sets = {"threads=2"};
    if (name.rfind("glue_", 0) == 0) {
      const auto root = esrun::load_config(esrun::RunRequest{{file}, {}, std::nullopt}).data.root;
      sets.push_back("data.root=" + fixture + "/" + std::filesystem::path(root).filename().string());
    }
    const auto result = esrun::run(esrun::RunRequest{{file}, sets, dir / name});
    const auto lines = esrun::testing::metrics(result);
    CHECK(lines.size() == static_cast<size_t>(result.summary["epochs"].get<int64_t>()));
    CHECK(result.summary["samples_backward_total"].get<int64_t>() > 0);
  }
}
#endif
