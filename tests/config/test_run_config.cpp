#include <catch2/catch.hpp>

#include "esrun/commands/print_config.h"
#include "esrun/commands/resume.h"
#include "esrun/commands/run.h"
#include "esrun/commands/summary.h"
#include "esrun/config/resolved.h"
#include "esrun/config/run_config.h"
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

TEST_CASE("Every policy's resolved config holds the values it runs with, its defaults marked", "[config][effective]") {
  for (const auto& entry : esrun::samplers().entries()) {
    const std::string& name = entry.name;
    CAPTURE(name);
    const auto config = load({}, {"sampler.name=" + name, "sampler.scores=s.pt"});
    const auto& c = config.resolved;
    const auto& p = config.sampler;
    const auto reads = [&](const std::string& key) {
      const auto& readers = esrun::find_key(key)->used_by;
      return std::find(readers.begin(), readers.end(), name) != readers.end();
    };
    // The keys with policy defaults hold the typed options' values where the policy reads them.
    if (reads("sampler.beta1")) CHECK(c.get_float("sampler.beta1") == p.beta1);
    if (reads("sampler.beta2")) CHECK(c.get_float("sampler.beta2") == p.beta2);
    if (reads("sampler.anneal_epochs")) CHECK(c.get_int("sampler.anneal_epochs") == p.anneal_epochs);
    if (reads("sampler.prune_ratio")) CHECK(c.get_float("sampler.prune_ratio") == p.prune_ratio);
    if (reads("sampler.mini_batch")) {
      CHECK(c.get_int("sampler.mini_batch") == p.resolved_mini_batch);
      CHECK(std::llround(c.get_float("sampler.ratio") * 128) == p.resolved_mini_batch);
      CHECK(c.origin("sampler.mini_batch").note == "derived: round(ratio * meta_batch)");
    }
    // A key the policy does not read stays as written.
    for (const char* key : {"sampler.beta1", "sampler.beta2", "sampler.anneal_epochs", "sampler.prune_ratio",
                            "sampler.mini_batch", "sampler.ratio"})
      CHECK(c.value(key).IsNull() == !reads(key));
    // summary.json's "sampler" repeats them, and only the keys the policy reads.
    const auto settings = esrun::sampler_settings(config);
    CHECK(settings["name"] == name);
    CHECK(settings["meta_batch"] == 128);
    CHECK(settings.contains("beta1") == reads("sampler.beta1"));
    if (reads("sampler.beta1")) CHECK(settings["beta1"].get<double>() == p.beta1);
    if (reads("sampler.mini_batch")) CHECK(settings["mini_batch"] == p.resolved_mini_batch);
    // Loading the resolved file back runs the same experiment, with the same notes.
    TempDir dir;
    const auto again = load({write_file(dir / "resolved.yaml", c.to_yaml(true))});
    CHECK(again.resolved.to_yaml(true) == c.to_yaml(true));
    CHECK(again.resolved.hash() == c.hash());
    CHECK(again.sampler.resolved_mini_batch == p.resolved_mini_batch);
  }
}

TEST_CASE("The resolved config marks each policy default with a comment", "[config][effective]") {
  const auto es = load({}, {"sampler.name=es", "train.epochs=40", "sampler.beta2=0.7"}).resolved.to_yaml(true);
  CHECK_THAT(es, Contains("  beta1: 0.2  # default (es)\n"));
  CHECK_THAT(es, Contains("  beta2: 0.7\n"));  // the user's value has no note
  CHECK_THAT(es, Contains("  anneal_epochs: 2  # default (es): round(0.05 * train.epochs)\n"));
  CHECK_THAT(es, Contains("  ratio: 0.25  # default (es)\n"));
  CHECK_THAT(es, Contains("  mini_batch: 32  # derived: round(ratio * meta_batch)\n"));
  const auto eswp = load({}, {"sampler.name=eswp"}).resolved.to_yaml(true);
  CHECK_THAT(eswp, Contains("  beta2: 0.8  # default (eswp)\n") && Contains("  prune_ratio: 0.2  # default (eswp)\n"));
  const auto omission = load({}, {"sampler.name=omission", "sampler.keep=0.4"}).resolved.to_yaml(true);
  CHECK_THAT(omission, Contains("  ratio: 0.4  # default (omission): keep\n") && Contains("  beta2: 0.99  # default (omission)\n"));
  const auto by_b = load({}, {"sampler.name=loss", "sampler.mini_batch=50"}).resolved.to_yaml(true);
  CHECK_THAT(by_b, Contains("  ratio: 0.390625  # derived: mini_batch / meta_batch\n"));
  CHECK_THAT(load({}, {"sampler.name=infobatch"}).resolved.to_yaml(true), Contains("  prune_ratio: 0.5  # default (infobatch)\n"));
  // The hash covers values only: the notes never change it.
  const auto plain = load({}, {"sampler.name=es"}).resolved;
  CHECK(plain.hash() == esrun::ResolvedConfig(plain).hash());
  CHECK(plain.to_yaml().find('#') == std::string::npos);
}

TEST_CASE("A run that relied on policy defaults has the config of one that spelled them out", "[config][effective]") {
  const auto defaulted = load({}, {"sampler.name=es", "train.epochs=40"}).resolved;
  const auto spelled = load({}, {"sampler.name=es", "train.epochs=40", "sampler.beta1=0.2", "sampler.beta2=0.9",
                                 "sampler.anneal_epochs=2", "sampler.mini_batch=32"}).resolved;
  CHECK(defaulted.to_yaml() == spelled.to_yaml());
  CHECK(defaulted.hash() == spelled.hash());
  CHECK(load({}, {"sampler.name=es", "sampler.beta1=0.3"}).resolved.hash() != load({}, {"sampler.name=es"}).resolved.hash());
}

TEST_CASE("A saved config read back re-derives its derived values and drops another policy's defaults",
          "[config][effective]") {
  TempDir dir;
  const std::string text = load({}, {"sampler.name=es", "train.epochs=40"}).resolved.to_yaml(true);
  const auto saved = write_file(dir / "saved.yaml", text);
  // Re-run with another policy: ESWP's beta2 and prune ratio, not ES's.
  const auto eswp = load({saved}, {"sampler.name=eswp"});
  CHECK(eswp.sampler.beta2 == 0.8);
  CHECK(eswp.sampler.prune_ratio == 0.2);
  CHECK(eswp.resolved.origin("sampler.beta2").note == "default (eswp)");
  // Another B: b follows the recorded ratio, not the recorded b.
  CHECK(load({saved}, {"sampler.meta_batch=256"}).sampler.resolved_mini_batch == 64);
  // More epochs: the recorded annealing length stays, and its note no longer claims the formula.
  const auto longer = load({saved}, {"train.epochs=80"});
  CHECK(longer.sampler.anneal_epochs == 2);
  CHECK_THAT(longer.resolved.to_yaml(true), Contains("  anneal_epochs: 2\n"));
  // A value edited in the file is the user's: kept, without the note.
  std::string edited = text;
  edited.replace(edited.find("beta2: 0.9"), 10, "beta2: 0.5");
  const auto mine = load({write_file(dir / "edited.yaml", edited)});
  CHECK(mine.sampler.beta2 == 0.5);
  CHECK_THAT(mine.resolved.to_yaml(true), Contains("  beta2: 0.5\n"));
  // Only esrun's own note forms count: a user's comment is not one.
  const auto user = load({write_file(dir / "user.yaml", "sampler:\n  name: es\n  beta1: 0.3  # default is 0.2 in the paper\n")});
  CHECK(user.resolved.origin("sampler.beta1").note.empty());
  CHECK(user.sampler.beta1 == 0.3);
}

TEST_CASE("mini_batch and ratio may both be set when they give the same b", "[config][effective]") {
  CHECK(load({}, {"sampler.name=es", "sampler.ratio=0.25", "sampler.mini_batch=32"}).sampler.resolved_mini_batch == 32);
  CHECK(load({}, {"sampler.name=es", "sampler.meta_batch=100", "sampler.ratio=0.333", "sampler.mini_batch=33"})
            .sampler.resolved_mini_batch == 33);
  // A saved config (both set) re-run with another B says which keys disagree.
  REQUIRE_THROWS_WITH(load({}, {"sampler.name=es", "sampler.ratio=0.25", "sampler.mini_batch=32", "sampler.meta_batch=256"}),
                      Contains("disagree: ratio * meta_batch 256 gives b = 64; set one of them and the other to null"));
}

TEST_CASE("Resume compares effective values, a saved null as the default it resolved to", "[config][effective][resume]") {
  TempDir dir;
  // A run directory written before esrun resolved defaults: null where es's defaults applied.
  const auto raw = esrun::resolve_config({}, {"sampler.name=es", "train.epochs=40"});
  CHECK(raw.value("sampler.beta1").IsNull());
  write_file(dir / "config.resolved.yaml", raw.to_yaml());
  esrun::check_resumable(load({}, {"sampler.name=es", "train.epochs=40"}).resolved, dir.path().string());
  esrun::check_resumable(load({}, {"sampler.name=es", "train.epochs=40", "sampler.beta1=0.2"}).resolved,
                         dir.path().string());
  // More epochs would move the default annealing length (2 -> 4): a different experiment.
  REQUIRE_THROWS_WITH(esrun::check_resumable(load({}, {"sampler.name=es", "train.epochs=80"}).resolved, dir.path().string()),
                      Contains("sampler.anneal_epochs: 2 -> 4"));
  // A run written now keeps its annealing length when epochs grow.
  write_file(dir / "config.resolved.yaml", load({}, {"sampler.name=es", "train.epochs=40"}).resolved.to_yaml(true));
  const auto grown = load({(dir / "config.resolved.yaml")}, {"train.epochs=80"});
  CHECK(grown.sampler.anneal_epochs == 2);
  esrun::check_resumable(grown.resolved, dir.path().string());
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
  // Counts that overflow 32 bits and absurd lengths are refused with their range; seeds may be 64-bit.
  REQUIRE_THROWS_WITH(load({}, {"train.epochs=1000000000000"}),
                      Contains("train.epochs (--set train.epochs=1000000000000): expected an integer in [1, 1000000], got "
                               "1000000000000"));
  REQUIRE_THROWS_WITH(load({}, {"sampler.meta_batch=4294967296"}),
                      Contains("sampler.meta_batch") && Contains("expected an integer in [1, 2147483647], got 4294967296"));
  REQUIRE_THROWS_WITH(load({}, {"data.train_subset=3000000000"}), Contains("[1, 2147483647]"));
  CHECK(load({}, {"seed=1099511627776"}).seed == 1099511627776ULL);
  REQUIRE_THROWS_WITH(load({}, {"data.label_noise.kind=uniform", "data.label_noise.ratio=1.0"}),
                      Contains("data.label_noise.ratio") && Contains("expected a number in [0, 1), got 1"));
  REQUIRE_THROWS_WITH(load({}, {"sampler.ratio=1.5"}), Contains("sampler.ratio") && Contains("expected a number in (0, 1], got 1.5"));
  REQUIRE_THROWS_WITH(load({}, {"sampler.ratio=0.5", "sampler.mini_batch=10"}),
                      Contains("sampler.mini_batch (--set sampler.mini_batch=10) = 10 and sampler.ratio (--set "
                               "sampler.ratio=0.5) = 0.5 disagree: ratio * meta_batch 128 gives b = 64"));
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
