// One registry mechanism for models, datasets, samplers, optimizers and schedules.
// Each component registers itself under its YAML name in its own .cpp:
//
//   namespace { const bool registered = models().add("small_cnn", "help", make_small_cnn); }
//
// An unknown name throws, naming the bad key and listing the known ones. A name registered twice
// is remembered and reported (as an esrun::Error) the first time the registry is used, so a
// duplicate is a start-up error, never a silent override.
#pragma once

#include <functional>
#include <map>
#include <string>
#include <utility>
#include <vector>

#include "esrun/core/error.h"

namespace esrun {

struct RegistryEntryInfo {
  std::string name;
  std::string help;
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

  std::string known_names() const {
    std::string out;
    for (const auto& e : entries()) out += (out.empty() ? "" : ", ") + e.name;
    return out;
  }
};

template <typename Product, typename... Args>
class Registry final : public RegistryView {
 public:
  using Creator = std::function<Product(Args...)>;

  explicit Registry(std::string kind) : kind_(std::move(kind)) {}

  // Returns true so that it can initialise a namespace-scope constant in the registering .cpp.
  bool add(const std::string& name, const std::string& help, Creator create) {
    if (entries_.count(name) != 0) {
      duplicates_.push_back(name);
      return false;
    }
    entries_.emplace(name, Entry{std::move(create), help});
    return true;
  }

  Product create(const std::string& name, const std::string& where, Args... args) const {
    require(name, where);
    return entries_.at(name).create(std::forward<Args>(args)...);
  }

  const std::string& kind() const override { return kind_; }

  std::vector<RegistryEntryInfo> entries() const override {
    check_no_duplicates();
    std::vector<RegistryEntryInfo> out;
    for (const auto& [name, entry] : entries_) out.push_back({name, entry.help});
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
