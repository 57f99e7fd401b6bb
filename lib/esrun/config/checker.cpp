#include "esrun/config/checker.h"

#include <spdlog/spdlog.h>

#include <algorithm>
#include <cmath>

#include "esrun/core/error.h"

namespace esrun {

int64_t Checker::int_at_least(const std::string& path, int64_t low, int64_t high) const {
  const int64_t v = c_.get_int(path);
  ESRUN_CHECK(v >= low, c_.where(path), ": expected an integer >= ", low, ", got ", v);
  ESRUN_CHECK(v <= high, c_.where(path), ": expected an integer in [", low, ", ", high, "], got ", v);
  return v;
}

std::optional<int64_t> Checker::optional_int_at_least(const std::string& path, int64_t low, int64_t high) const {
  if (!c_.get_optional_int(path)) return std::nullopt;
  return int_at_least(path, low, high);
}

double Checker::float_in(const std::string& path, double low, double high, bool include_high) const {
  const double v = c_.get_float(path);
  const bool ok = std::isfinite(v) && v >= low && (include_high ? v <= high : v < high);
  ESRUN_CHECK(ok, c_.where(path), ": expected a number in [", low, ", ", high, include_high ? "]" : ")", ", got ", v);
  return v;
}

double Checker::positive(const std::string& path) const {
  const double v = c_.get_float(path);
  ESRUN_CHECK(std::isfinite(v) && v > 0, c_.where(path), ": expected a number > 0, got ", v);
  return v;
}

std::string Checker::registered(const std::string& kind, const std::string& path) const {
  const std::string name = c_.get_string(path);
  registry_of(kind).require(name, c_.where(path));
  return name;
}

void Checker::warn_ignored(const std::string& section, const std::string& chosen) const {
  if (!warn_) return;
  for (const auto& key : config_schema()) {
    if (key.used_by.empty() || key.path.rfind(section + ".", 0) != 0 || !c_.user_set(key.path)) continue;
    // A resolved config written back as --config sets every key; only a changed value is news.
    if (flow_yaml(c_.value(key.path)) == flow_yaml(YAML::Load(key.default_yaml))) continue;
    if (std::find(key.used_by.begin(), key.used_by.end(), chosen) == key.used_by.end())
      spdlog::warn("{} is ignored by {} '{}'", c_.where(key.path), section, chosen);
  }
}

}  // namespace esrun
