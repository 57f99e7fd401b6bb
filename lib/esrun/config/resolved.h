// Layered configuration: schema defaults < --config files in order < --set key.path=value.
// Every leaf remembers where its value came from, so any later error can name the file and line.
#pragma once

#include <yaml-cpp/yaml.h>

#include <cstdint>
#include <functional>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "esrun/config/schema.h"

namespace esrun {

struct Origin {
  std::string source = "default";  // a file path, "--set ...", or "default"
  int line = 0;                    // 1-based; 0 when unknown
  int column = 0;
  // Where a component chose the value of a key left null: "default (es)", "derived: ratio *
  // meta_batch". Written as the key's comment in config.resolved.yaml and read back from it.
  std::string note;
  std::string describe() const;    // "configs/x.yaml:7", "--set train.epochs=3", "default"
};

class ResolvedConfig {
 public:
  ResolvedConfig();  // every key at its schema default

  // Layers; type and choice errors throw at once, unknown keys are collected into `unknown`
  // (one message per key, with its origin and a suggestion) so they can be reported together.
  void merge_file(const std::string& path, std::vector<std::string>& unknown);
  void merge_set(const std::string& assignment, std::vector<std::string>& unknown);
  // Sets a null key to the value a component chose for it (a policy default), marked with `note`.
  void resolve_null(const std::string& path, const YAML::Node& value, const std::string& note);
  // Sets a nullable key back to null ("not set"), as if no layer had named it.
  void forget(const std::string& path);
  void drop_note(const std::string& path);

  const YAML::Node& value(const std::string& path) const;
  const Origin& origin(const std::string& path) const;
  bool user_set(const std::string& path) const { return origin(path).source != "default"; }
  std::string where(const std::string& path) const;  // "train.epochs (configs/x.yaml:4)"

  int64_t get_int(const std::string& path) const;
  double get_float(const std::string& path) const;
  bool get_bool(const std::string& path) const;
  std::string get_string(const std::string& path) const;
  std::optional<int64_t> get_optional_int(const std::string& path) const;
  std::optional<double> get_optional_float(const std::string& path) const;
  std::vector<double> get_floats(const std::string& path) const;
  std::optional<std::vector<std::string>> get_optional_strings(const std::string& path) const;
  std::optional<std::string> get_optional_string(const std::string& path) const;
  std::optional<std::vector<int64_t>> get_optional_ints(const std::string& path) const;

  // The resolved YAML in schema order; loading it back as a --config gives the same config.
  // `notes`: each key's Origin::note as a comment (config.resolved.yaml, print-config).
  std::string to_yaml(bool notes = false) const;
  // 16 hex digits identifying the resolved values (FNV-1a of to_yaml()).
  std::string hash() const;

 private:
  struct Leaf {
    YAML::Node value;
    Origin origin;
  };
  // `lines`: the file's text, whose comments may carry notes; empty for --set.
  void merge_node(const std::string& prefix, const YAML::Node& node, const Origin& origin,
                  const std::vector<std::string>& lines, std::vector<std::string>& unknown);
  void assign(const KeySpec& key, const YAML::Node& node, const Origin& origin);
  const Leaf& leaf(const std::string& path) const;

  std::map<std::string, Leaf> leaves_;
};

// Applies the layers in order and reports every unknown key in one error.
ResolvedConfig resolve_config(const std::vector<std::string>& files, const std::vector<std::string>& sets);

// A YAML value on one line in flow style ("[0.9, 0.999]", "{kind: flip}", "0.1").
std::string flow_yaml(const YAML::Node& node);
// A number as the shortest text that reads back as the same double ("0.25", "0.390625").
YAML::Node yaml_number(double value);

// One key per line in schema order, sections as headers: "key: <value_text(key)><comment(key)>"
// (the comment, when not empty, starts with "  # ").
std::string schema_tree(const std::function<std::string(const KeySpec&)>& value_text,
                        const std::function<std::string(const KeySpec&)>& comment);

}  // namespace esrun
