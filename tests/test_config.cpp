#include <catch2/catch.hpp>

#include "esrun/config/resolved.h"
#include "esrun/config/run_config.h"
#include "esrun/run.h"
#include "helpers.h"

using Catch::Matchers::Contains;
using esrun::testing::TempDir;
using esrun::testing::write_file;

namespace {
esrun::RunConfig load(const std::vector<std::string>& files, const std::vector<std::string>& sets = {}) {
  return esrun::load_config(esrun::RunRequest{files, sets, std::nullopt});
}
}  // namespace

TEST_CASE("Defaults apply when no config file is given", "[config]") {
  const auto config = load({});
  CHECK(config.sampler.name == "uniform");
  CHECK(config.sampler.meta_batch == 128);
  CHECK(config.train.epochs == 15);
  CHECK(config.optimizer.lr == Approx(0.1));
  CHECK_FALSE(config.data.train_subset.has_value());
}

TEST_CASE("Later config files override earlier ones and --set overrides files", "[config]") {
  TempDir dir;
  const auto a = write_file(dir / "a.yaml", "train:\n  epochs: 3\noptimizer:\n  lr: 0.5\n  momentum: 0.8\n");
  const auto b = write_file(dir / "b.yaml", "optimizer:\n  lr: 0.25\n");
  const auto config = load({a, b}, {"optimizer.momentum=0.7", "data.label_noise={kind: flip, ratio: 0.4}"});
  CHECK(config.train.epochs == 3);
  CHECK(config.optimizer.lr == Approx(0.25));
  CHECK(config.optimizer.momentum == Approx(0.7));
  CHECK(config.data.label_noise.kind == esrun::NoiseKind::Flip);
  CHECK(config.data.label_noise.ratio == Approx(0.4));
  CHECK(config.resolved.origin("optimizer.lr").describe() == b + ":2");
  CHECK(config.resolved.origin("train.epochs").describe() == a + ":2");
  CHECK_THAT(config.resolved.origin("optimizer.momentum").describe(), Contains("--set optimizer.momentum=0.7"));
}

TEST_CASE("The resolved YAML loads back to the same configuration", "[config]") {
  TempDir dir;
  const auto first = load({}, {"sampler.ratio=0.25", "data.train_files=[a.bin, b.bin]", "name=x"});
  const auto saved = write_file(dir / "resolved.yaml", first.resolved.to_yaml());
  const auto second = load({saved});
  CHECK(second.resolved.to_yaml() == first.resolved.to_yaml());
  CHECK(second.resolved.hash() == first.resolved.hash());
  CHECK(second.sampler.resolved_mini_batch == 32);
  CHECK(second.data.train_files.value() == std::vector<std::string>{"a.bin", "b.bin"});
}

TEST_CASE("Ratio resolves the mini-batch and is kept apart from the raw setting", "[config]") {
  const auto config = load({}, {"sampler.meta_batch=100", "sampler.ratio=0.25"});
  CHECK(config.sampler.resolved_mini_batch == 25);
  CHECK_FALSE(config.sampler.mini_batch.has_value());
  CHECK(load({}).sampler.resolved_mini_batch == 128);
}

TEST_CASE("A missing config file is an error naming the file", "[config][errors]") {
  REQUIRE_THROWS_WITH(load({"/nonexistent/x.yaml"}),
                      Contains("cannot read config file '/nonexistent/x.yaml'") && Contains("no such file"));
}

TEST_CASE("A YAML syntax error names the file, line and column", "[config][errors]") {
  TempDir dir;
  const auto bad = write_file(dir / "bad.yaml", "train:\n  epochs: 3\n  lr: [1, 2\n");
  REQUIRE_THROWS_WITH(load({bad}), Contains(bad + ":4:1: YAML syntax error: end of sequence flow not found"));
}

TEST_CASE("A value of the wrong type names the file, line, key and expected type", "[config][errors]") {
  TempDir dir;
  const auto bad = write_file(dir / "bad.yaml", "seed: 1\ntrain:\n  epochs: abc\n");
  REQUIRE_THROWS_WITH(load({bad}), Contains(bad + ":3: train.epochs: expected an integer, got 'abc'"));
  REQUIRE_THROWS_WITH(load({}, {"data.augment.flip=maybe"}),
                      Contains("--set data.augment.flip=maybe: data.augment.flip: expected true or false, got 'maybe'"));
  REQUIRE_THROWS_WITH(load({}, {"data.label_noise.kind=salt"}), Contains("expected one of none, uniform, flip, got 'salt'"));
}

TEST_CASE("Unknown keys are all reported at once with suggestions", "[config][errors]") {
  TempDir dir;
  const auto bad = write_file(dir / "bad.yaml", "sampler:\n  meta_bach: 64\ntrain:\n  lr: 0.1\nbogus: 1\n");
  REQUIRE_THROWS_WITH(load({bad}, {"sampler.nme=es"}),
                      Contains("4 unknown configuration keys") &&
                          Contains("'sampler.meta_bach' (" + bad + ":2); did you mean 'sampler.meta_batch'?") &&
                          Contains("'train.lr' (" + bad + ":4); did you mean 'optimizer.lr'?") &&
                          Contains("'bogus' (" + bad + ":5)") && Contains("'sampler.nme' (--set); did you mean 'sampler.name'?"));
}

TEST_CASE("An unknown registry name lists the known ones", "[config][errors]") {
  TempDir dir;
  const auto bad = write_file(dir / "bad.yaml", "seed: 0\nsampler:\n  name: es2\n");
  REQUIRE_THROWS_WITH(load({bad}), Contains("unknown sampler 'es2' at sampler.name (" + bad + ":3); known: ") &&
                                       Contains("uniform"));
  REQUIRE_THROWS_WITH(load({}, {"model.name=resnet19"}),
                      Contains("unknown model 'resnet19' at model.name (--set model.name=resnet19); known: ") &&
                          Contains("resnet18, resnet50, small_cnn"));
}

TEST_CASE("Values out of range name the key and the rule", "[config][errors]") {
  REQUIRE_THROWS_WITH(load({}, {"sampler.meta_batch=64", "sampler.mini_batch=100"}),
                      Contains("sampler.mini_batch (--set sampler.mini_batch=100): expected mini-batch b <= meta-batch B = 64, got 100"));
  REQUIRE_THROWS_WITH(load({}, {"train.epochs=0"}), Contains("train.epochs (--set train.epochs=0): expected an integer >= 1, got 0"));
  REQUIRE_THROWS_WITH(load({}, {"data.label_noise.kind=uniform", "data.label_noise.ratio=1.0"}),
                      Contains("data.label_noise.ratio") && Contains("expected a number in [0, 1), got 1"));
  REQUIRE_THROWS_WITH(load({}, {"sampler.ratio=1.5"}), Contains("sampler.ratio") && Contains("expected a number in (0, 1], got 1.5"));
  REQUIRE_THROWS_WITH(load({}, {"sampler.ratio=0.5", "sampler.mini_batch=10"}), Contains("set one of them, not both"));
  REQUIRE_THROWS_WITH(load({}, {"device=tpu"}), Contains("device (--set device=tpu): expected auto, cpu, cuda or cuda:N, got 'tpu'"));
  REQUIRE_THROWS_WITH(load({}, {"device=cuda:1x"}), Contains("got 'cuda:1x'"));
  REQUIRE_THROWS_WITH(load({}, {"schedule.name=step", "schedule.milestones=[5, 20]", "train.epochs=10"}),
                      Contains("schedule.milestones (--set schedule.milestones=[5, 20]): expected increasing epochs in [0, "
                               "train.epochs = 10], got [5, 20]"));
  REQUIRE_THROWS_WITH(load({}, {"optimizer.betas=[0.9]"}), Contains("expected two numbers in [0, 1), got [0.9]"));
  REQUIRE_THROWS_WITH(load({}, {"schedule.base_momentum=0.99"}), Contains("schedule.base_momentum") && Contains("<= schedule.max_momentum"));
}

TEST_CASE("A --set without '=' or on a section without a mapping is an error", "[config][errors]") {
  REQUIRE_THROWS_WITH(load({}, {"train.epochs"}), Contains("--set 'train.epochs': expected key.path=value"));
  REQUIRE_THROWS_WITH(load({}, {"data=3"}), Contains("data is a section; expected a mapping"));
}

TEST_CASE("Default listing and docs/config.md agree", "[config][docs]") {
  std::ifstream in(std::string(ESRUN_SOURCE_DIR) + "/docs/config.md");
  REQUIRE(in.good());
  std::stringstream text;
  text << in.rdbuf();
  CHECK(text.str() == esrun::defaults_markdown());  // regenerate: esrun print-config --defaults --format markdown
}

TEST_CASE("Every schema key appears in the commented defaults with its help", "[config][docs]") {
  const auto yaml = esrun::defaults_yaml();
  for (const auto& key : esrun::config_schema()) CHECK_THAT(yaml, Contains(key.help));
  const auto reloaded = YAML::Load(yaml);
  CHECK(reloaded["sampler"]["meta_batch"].as<int>() == 128);
  CHECK(reloaded["data"]["label_noise"]["kind"].as<std::string>() == "none");
}

TEST_CASE("The schema lists each section's keys together, so no YAML section opens twice", "[config][docs]") {
  // Emitted YAML follows the schema's order; a section split in two would appear twice, and
  // readers that keep the last duplicate (PyYAML) would lose the first half.
  std::vector<std::string> closed;  // sections already left
  std::vector<std::string> open;    // the sections of the previous key, outermost first
  for (const auto& key : esrun::config_schema()) {
    std::vector<std::string> sections;
    for (size_t dot = key.path.find('.'); dot != std::string::npos; dot = key.path.find('.', dot + 1))
      sections.push_back(key.path.substr(0, dot));
    for (const auto& s : open)
      if (std::find(sections.begin(), sections.end(), s) == sections.end()) closed.push_back(s);
    for (const auto& s : sections) {
      INFO(key.path);
      CHECK(std::find(closed.begin(), closed.end(), s) == closed.end());
    }
    open = sections;
  }
}
