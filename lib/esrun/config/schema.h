// Every configuration key esrun knows: its type, default and one-line help. The defaults, the
// unknown-key check, `esrun print-config --defaults` and docs/config.md all come from this table.
#pragma once

#include <string>
#include <vector>

namespace esrun {

enum class ValueType { Int, Float, Bool, String, IntList, FloatList, StringList };

const char* to_string(ValueType type);

struct KeySpec {
  std::string path;          // "sampler.meta_batch"
  ValueType type;
  std::string default_yaml;  // parsed as YAML: "128", "null", "[0.9, 0.999]"
  std::string help;
  bool nullable = false;               // null is a valid value ("not set")
  std::vector<std::string> choices;    // closed set of strings, empty when open
  // Values of the section's `name` that read this key (as each declares, ComponentFacts::reads);
  // empty: all.
  std::vector<std::string> used_by;
};

const std::vector<KeySpec>& config_schema();

// nullptr when `path` is not a key.
const KeySpec* find_key(const std::string& path);

// Whether the component `name` of the key's section reads the key `path` (its used_by names it, or
// is empty: every component reads it).
bool reads(const std::string& name, const std::string& path);

// True when `path` is a section (a prefix of keys), e.g. "data" or "data.label_noise".
bool is_section(const std::string& path);

}  // namespace esrun
