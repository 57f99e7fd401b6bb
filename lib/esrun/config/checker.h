// The validation helpers of the config readers: one message grammar,
// "<key> (<origin>): expected <rule>, got <value>".
#pragma once

#include <cstdint>
#include <limits>
#include <optional>
#include <string>

#include "esrun/config/resolved.h"
#include "esrun/core/registry.h"

namespace esrun {

inline constexpr int64_t kMaxCount = 2147483647;  // 2^31 - 1
inline constexpr int64_t kMaxEpochs = 1000000;
inline constexpr int64_t kMaxSteps = int64_t{1} << 50;  // optimizer steps and samples of a budget
inline constexpr int64_t kMaxSeed = std::numeric_limits<int64_t>::max();

class Checker {
 public:
  Checker(const ResolvedConfig& c, bool warn) : c_(c), warn_(warn) {}

  const ResolvedConfig& config() const { return c_; }
  // Counts and sizes stay below 2^31 (libtorch's and the data formats' int32 indices) unless
  // `high` says otherwise.
  int64_t int_at_least(const std::string& path, int64_t low, int64_t high = kMaxCount) const;
  std::optional<int64_t> optional_int_at_least(const std::string& path, int64_t low, int64_t high = kMaxCount) const;
  // low <= v < high, or low <= v <= high when `include_high`.
  double float_in(const std::string& path, double low, double high, bool include_high) const;
  double positive(const std::string& path) const;
  // The name at `path`, which must be registered in the registry of `kind` ("sampler", ...).
  std::string registered(const std::string& kind, const std::string& path) const;
  // Keys the user set that the chosen component does not read: warn, never silently ignore.
  void warn_ignored(const std::string& section, const std::string& chosen) const;

 private:
  const ResolvedConfig& c_;
  bool warn_;
};

}  // namespace esrun
