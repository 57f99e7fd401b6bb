#include "esrun/core/registry.h"

#include <algorithm>

namespace esrun {
namespace {

std::map<std::string, const RegistryView*>& catalog() {
  static std::map<std::string, const RegistryView*> all;
  return all;
}

}  // namespace

bool ComponentFacts::has(const std::string& trait) const {
  return std::find(traits.begin(), traits.end(), trait) != traits.end();
}

void catalogue(const RegistryView& registry) { catalog()[registry.kind()] = &registry; }

void uncatalogue(const RegistryView& registry) {
  const auto it = catalog().find(registry.kind());
  if (it != catalog().end() && it->second == &registry) catalog().erase(it);
}

const RegistryView& registry_of(const std::string& kind) {
  const auto it = catalog().find(kind);
  ESRUN_INTERNAL_CHECK(it != catalog().end(), "no ", kind, " registry was made (its components register at start-up)");
  return *it->second;
}

}  // namespace esrun
