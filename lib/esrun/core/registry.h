// One registry mechanism for models, datasets, tasks, samplers, scorers, optimizers and schedules.
// Each component registers itself under its YAML name in its own .cpp, with what it declares
// about itself (ComponentFacts):
//
//   namespace { const bool registered = models().add("small_cnn", "help", make_small_cnn); }
//
// An unknown name throws, naming the bad key and listing the known ones. A name registered twice
// is remembered and reported (as an esrun::Error) the first time the registry is used, so a
// duplicate is a start-up error, never a silent override.
#pragma once

#include <functional>
#include <map>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "esrun/core/error.h"

namespace esrun {

// What a component declares about itself beside its creator, in its own file, so that code below
// the components (config/) can validate and resolve a config without naming them:
//   presets   the values of model.preset it knows (models)
//   tasks     the only tasks it serves (models: gpt) or yields (datasets: text_lm); empty: any
//   metrics   the metrics it reports, any of which task.metric may name (tasks)
//   defaults  the values it uses for its section's keys left null, as YAML or the name of the key
//             whose value it takes (samplers: sampler.ratio, sampler.beta1, ...)
//   reads     the keys of its section it reads that not every component of its kind reads
//             (config/schema.cpp derives each key's readers from these)
//   traits    named properties that cross-section rules read (datasets: "tokens" for pre-tokenised
//             or tokenised-at-load token ids; models: "positions" for a position embedding bounded
//             by model.max_positions)
struct ComponentFacts {
  std::vector<std::string> presets = {};
  std::vector<std::string> tasks = {};
  std::vector<std::string> metrics = {};
  std::map<std::string, std::string> defaults = {};
  std::vector<std::string> traits = {};
  std::vector<std::string> reads = {};
  bool has(const std::string& trait) const;
};

struct RegistryEntryInfo {
  std::string name;
  std::string help;
  ComponentFacts facts;
};

// What `esrun list` and the config validator need, independent of the product type.
class RegistryView {
 public:
  virtual ~RegistryView() = default;
  virtual const std::string& kind() const = 0;  // "model", "dataset", "sampler", ...
  virtual std::vector<RegistryEntryInfo> entries() const = 0;  // sorted by name
  virtual bool contains(const std::string& name) const = 0;

  // Throws unless `name` is registered; `where` is the key and its origin, e.g.
  // "sampler.name (configs/x.yaml:7)".
  void require(const std::string& name, const std::string& where) const {
    if (contains(name)) return;
    ESRUN_FAIL("unknown ", kind(), " '", name, "' at ", where, "; known: ", known_names());
  }

  // The facts `name` declared (none for an unknown name).
  ComponentFacts facts(const std::string& name) const {
    for (auto& entry : entries())
      if (entry.name == name) return entry.facts;
    return {};
  }

  std::string known_names() const {
    std::string out;
    for (const auto& e : entries()) out += (out.empty() ? "" : ", ") + e.name;
    return out;
  }
};

// Every registry, by its kind: each registers itself when it is made (at start-up, by the first
// component that adds itself). config/ finds the components' registries here.
void catalogue(const RegistryView& registry);
void uncatalogue(const RegistryView& registry);  // a registry that ends (a test's own)
const RegistryView& registry_of(const std::string& kind);

template <typename Product, typename... Args>
class Registry final : public RegistryView {
 public:
  using Creator = std::function<Product(Args...)>;

  explicit Registry(std::string kind) : kind_(std::move(kind)) { catalogue(*this); }
  ~Registry() override { uncatalogue(*this); }
  Registry(const Registry&) = delete;
  Registry& operator=(const Registry&) = delete;

  // Returns true so that it can initialise a namespace-scope constant in the registering .cpp.
  bool add(const std::string& name, const std::string& help, Creator create, ComponentFacts facts = {}) {
    if (entries_.count(name) != 0) {
      duplicates_.push_back(name);
      return false;
    }
    entries_.emplace(name, Entry{std::move(create), help, std::move(facts)});
    return true;
  }

  // A component made as Component(args..., extra...): the creator each registration would repeat.
  template <typename Component, typename... Extra>
  bool add_type(const std::string& name, const std::string& help, ComponentFacts facts = {}, Extra... extra) {
    return add(
        name, help, [=](Args... args) -> Product { return Product(std::make_unique<Component>(args..., extra...)); },
        std::move(facts));
  }

  Product create(const std::string& name, const std::string& where, Args... args) const {
    require(name, where);
    return entries_.at(name).create(std::forward<Args>(args)...);
  }

  const std::string& kind() const override { return kind_; }

  std::vector<RegistryEntryInfo> entries() const override {
    check_no_duplicates();
    std::vector<RegistryEntryInfo> out;
    for (const auto& [name, entry] : entries_) out.push_back({name, entry.help, entry.facts});
    return out;
  }

  bool contains(const std::string& name) const override {
    check_no_duplicates();
    return entries_.count(name) != 0;
  }

 private:
  struct Entry {
    Creator create;
    std::string help;
    ComponentFacts facts;
  };

  void check_no_duplicates() const {
    if (duplicates_.empty()) return;
    ESRUN_FAIL("the ", kind_, " registry has names registered twice: ", join(duplicates_),
               " (two .cpp files register the same YAML name)");
  }

  std::string kind_;
  std::map<std::string, Entry> entries_;
  std::vector<std::string> duplicates_;
};

}  // namespace esrun
