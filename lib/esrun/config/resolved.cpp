#include "esrun/config/resolved.h"

#include <cctype>
#include <charconv>
#include <filesystem>
#include <fstream>
#include <iomanip>
#include <map>
#include <sstream>

#include "esrun/core/error.h"
#include "esrun/core/rng.h"

namespace esrun {
namespace {

std::string join_path(const std::string& prefix, const std::string& key) {
  return prefix.empty() ? key : prefix + "." + key;
}

size_t edit_distance(const std::string& a, const std::string& b) {
  std::vector<size_t> row(b.size() + 1);
  for (size_t j = 0; j <= b.size(); ++j) row[j] = j;
  for (size_t i = 1; i <= a.size(); ++i) {
    size_t diagonal = row[0];
    row[0] = i;
    for (size_t j = 1; j <= b.size(); ++j) {
      const size_t above = row[j];
      row[j] = std::min({row[j] + 1, row[j - 1] + 1, diagonal + (a[i - 1] == b[j - 1] ? 0 : 1)});
      diagonal = above;
    }
  }
  return row[b.size()];
}

std::string last_segment(const std::string& path) {
  const auto dot = path.rfind('.');
  return dot == std::string::npos ? path : path.substr(dot + 1);
}

// "did you mean" for an unknown key: the closest key path, or a key with the same last name in
// another section (train.lr -> optimizer.lr).
std::string suggestion(const std::string& path) {
  std::string best;
  size_t best_distance = std::string::npos;
  for (const auto& key : config_schema()) {
    const size_t d = edit_distance(path, key.path);
    if (d < best_distance) best_distance = d, best = key.path;
  }
  if (best_distance <= std::max<size_t>(2, path.size() / 4)) return best;
  for (const auto& key : config_schema())
    if (last_segment(key.path) == last_segment(path)) return key.path;
  return "";
}

std::string scalar_text(const YAML::Node& node) {
  if (node.IsScalar()) return "'" + node.Scalar() + "'";
  if (node.IsSequence()) return "a list";
  if (node.IsMap()) return "a mapping";
  return "null";
}

bool scalar_is(ValueType type, const YAML::Node& node) {
  if (!node.IsScalar()) return false;
  try {
    switch (type) {
      case ValueType::Int: case ValueType::IntList: node.as<int64_t>(); return true;
      case ValueType::Float: case ValueType::FloatList: node.as<double>(); return true;
      case ValueType::Bool: node.as<bool>(); return true;
      case ValueType::String: case ValueType::StringList: return true;
    }
  } catch (const YAML::Exception&) {
  }
  return false;
}

// The note of a key's line in a file esrun wrote ("beta1: 0.2  # default (es)", "mini_batch: 32  #
// derived: ..."), else "".
std::string note_on_line(const std::vector<std::string>& lines, int line) {
  if (line < 1 || line > static_cast<int>(lines.size())) return "";
  const std::string& text = lines[static_cast<size_t>(line - 1)];
  for (const char* kind : {"  # default (", "  # derived: "})
    if (const auto at = text.rfind(kind); at != std::string::npos) return text.substr(at + 4);
  return "";
}

bool is_list(ValueType type) {
  return type == ValueType::IntList || type == ValueType::FloatList || type == ValueType::StringList;
}

// The line of a second YAML document's '---' marker in `text`, else 0. (yaml-cpp's LoadAll would
// tell, but loops forever on some malformed text, a lone ',' among them.) A '---' at the start of
// a line always marks a document, even inside a block scalar.
int second_document_line(const std::string& text) {
  std::istringstream lines(text);
  bool content = false;
  int number = 0;
  for (std::string line; std::getline(lines, line);) {
    ++number;
    const bool marker = line.rfind("---", 0) == 0 && (line.size() == 3 || std::isspace(static_cast<unsigned char>(line[3])));
    if (marker && content) return number;
    const std::string rest = marker ? line.substr(3) : line;
    const auto first = rest.find_first_not_of(" \t\r");
    if (first != std::string::npos && rest[first] != '#' && rest[first] != '%') content = true;
  }
  return 0;
}

YAML::Node load_yaml_text(const std::string& text, const std::string& source) {
  YAML::Node root;
  try {
    root = YAML::Load(text);
  } catch (const YAML::ParserException& e) {
    ESRUN_FAIL(source, ":", e.mark.line + 1, ":", e.mark.column + 1, ": YAML syntax error: ", e.msg);
  }
  const int second = second_document_line(text);
  ESRUN_CHECK(second == 0, source, ":", second, ": a second YAML document (after '---'); a config is one document");
  return root;
}

}  // namespace

std::string schema_tree(const std::function<std::string(const KeySpec&)>& value_text,
                        const std::function<std::string(const KeySpec&)>& comment) {
  std::ostringstream out;
  std::vector<std::string> open;  // currently open section names
  for (const auto& key : config_schema()) {
    std::vector<std::string> parts;
    std::stringstream ss(key.path);
    for (std::string part; std::getline(ss, part, '.');) parts.push_back(part);
    size_t common = 0;
    while (common < open.size() && common + 1 < parts.size() && open[common] == parts[common]) ++common;
    open.resize(common);
    for (size_t i = common; i + 1 < parts.size(); ++i) {
      out << std::string(2 * i, ' ') << parts[i] << ":\n";
      open.push_back(parts[i]);
    }
    out << std::string(2 * (parts.size() - 1), ' ') << parts.back() << ": " << value_text(key)
        << comment(key) << "\n";
  }
  return out.str();
}

std::string flow_yaml(const YAML::Node& node) {
  YAML::Emitter emitter;
  emitter << YAML::Flow << node;
  return emitter.c_str();
}

YAML::Node yaml_number(double value) {
  char text[32];
  const auto end = std::to_chars(text, text + sizeof(text), value).ptr;
  return YAML::Load(std::string(text, end));
}

std::string Origin::describe() const {
  if (line <= 0) return source == "default" && !note.empty() ? note : source;
  return source + ":" + std::to_string(line);
}

ResolvedConfig::ResolvedConfig() {
  for (const auto& key : config_schema()) leaves_.emplace(key.path, Leaf{YAML::Load(key.default_yaml), Origin{}});
}

void ResolvedConfig::merge_file(const std::string& path, std::vector<std::string>& unknown) {
  std::ifstream in(path);
  ESRUN_CHECK(std::filesystem::is_regular_file(path) && in, "cannot read config file '", path,
              "': ", std::filesystem::exists(path) ? "not a readable file" : "no such file");
  std::stringstream text;
  text << in.rdbuf();
  const YAML::Node root = load_yaml_text(text.str(), path);
  if (root.IsNull()) return;  // an empty file changes nothing
  ESRUN_CHECK(root.IsMap(), path, ":", root.Mark().line + 1,
              ": expected a mapping of configuration keys at the top level, got ", scalar_text(root));
  std::vector<std::string> lines;
  for (std::string line; std::getline(text, line);) lines.push_back(line);
  merge_node("", root, Origin{path, 0, 0, ""}, lines, unknown);
}

void ResolvedConfig::merge_set(const std::string& assignment, std::vector<std::string>& unknown) {
  const auto eq = assignment.find('=');
  ESRUN_CHECK(eq != std::string::npos && eq > 0, "--set '", assignment, "': expected key.path=value");
  const std::string path = assignment.substr(0, eq);
  const Origin origin{"--set " + assignment, 0, 0, ""};
  const YAML::Node value = load_yaml_text(assignment.substr(eq + 1), "--set " + assignment);
  if (const KeySpec* key = find_key(path)) {
    assign(*key, value, origin);
  } else if (is_section(path)) {
    ESRUN_CHECK(value.IsMap(), "--set ", assignment, ": ", path, " is a section; expected a mapping such as ",
                path, "={key: value}");
    merge_node(path, value, origin, {}, unknown);
  } else {
    const std::string hint = suggestion(path);
    unknown.push_back("'" + path + "' (--set)" + (hint.empty() ? "" : "; did you mean '" + hint + "'?"));
  }
}

void ResolvedConfig::merge_node(const std::string& prefix, const YAML::Node& node, const Origin& origin,
                                const std::vector<std::string>& lines, std::vector<std::string>& unknown) {
  std::map<std::string, Origin> seen;  // YAML forbids a key twice in one mapping; yaml-cpp keeps both
  for (const auto& item : node) {
    const std::string path = join_path(prefix, item.first.Scalar());
    Origin here = origin;
    if (here.source.rfind("--set", 0) != 0) {  // a file: point at this key's own line
      here.line = item.first.Mark().line + 1;
      here.column = item.first.Mark().column + 1;
    }
    const auto [first, fresh] = seen.emplace(item.first.Scalar(), here);
    ESRUN_CHECK(fresh, here.describe(), ": ", path, " is given twice in one mapping (first at ",
                first->second.describe(), "); keep one");
    if (const KeySpec* key = find_key(path)) {
      here.note = note_on_line(lines, here.line);
      assign(*key, item.second, here);
    } else if (is_section(path)) {
      if (item.second.IsNull()) continue;
      ESRUN_CHECK(item.second.IsMap(), here.describe(), ": ", path, " is a section; expected a mapping, got ",
                  scalar_text(item.second));
      merge_node(path, item.second, here, lines, unknown);
    } else {
      const std::string hint = suggestion(path);
      unknown.push_back("'" + path + "' (" + here.describe() + ")" +
                        (hint.empty() ? "" : "; did you mean '" + hint + "'?"));
    }
  }
}

void ResolvedConfig::assign(const KeySpec& key, const YAML::Node& node, const Origin& origin) {
  const auto fail = [&](const std::string& expected) {
    ESRUN_FAIL(origin.describe(), ": ", key.path, ": expected ", expected, ", got ", scalar_text(node));
  };
  const std::string expected = std::string(to_string(key.type)) + (key.nullable ? " or null" : "");
  if (node.IsNull()) {
    if (!key.nullable) fail(expected);
  } else if (is_list(key.type)) {
    if (!node.IsSequence()) fail(expected);
    for (const auto& element : node)
      if (!scalar_is(key.type, element)) fail(expected);
  } else if (!scalar_is(key.type, node)) {
    fail(expected);
  }
  if (!key.choices.empty() && node.IsScalar()) {
    const std::string v = node.Scalar();
    if (std::find(key.choices.begin(), key.choices.end(), v) == key.choices.end()) fail("one of " + join(key.choices));
  }
  // reset() rebinds; operator= on a yaml-cpp node would write through to every copy sharing it.
  Leaf& leaf = leaves_[key.path];
  leaf.value.reset(YAML::Clone(node));
  leaf.origin = origin;
}

void ResolvedConfig::forget(const std::string& path) {
  Leaf& leaf = leaves_.at(path);
  leaf.value.reset(YAML::Load("null"));
  leaf.origin = Origin{};
}

void ResolvedConfig::drop_note(const std::string& path) { leaves_.at(path).origin.note.clear(); }

void ResolvedConfig::resolve_null(const std::string& path, const YAML::Node& value, const std::string& note) {
  Leaf& leaf = leaves_.at(path);
  ESRUN_INTERNAL_CHECK(leaf.value.IsNull(), where(path), " is not null");
  leaf.value.reset(YAML::Clone(value));
  leaf.origin = Origin{"default", 0, 0, note};
}

const ResolvedConfig::Leaf& ResolvedConfig::leaf(const std::string& path) const {
  const auto it = leaves_.find(path);
  ESRUN_INTERNAL_CHECK(it != leaves_.end(), "configuration key '", path, "' is not in the schema");
  return it->second;
}

const YAML::Node& ResolvedConfig::value(const std::string& path) const { return leaf(path).value; }
const Origin& ResolvedConfig::origin(const std::string& path) const { return leaf(path).origin; }

std::string ResolvedConfig::where(const std::string& path) const {
  return path + " (" + origin(path).describe() + ")";
}

int64_t ResolvedConfig::get_int(const std::string& path) const {
  const auto v = get_optional_int(path);
  ESRUN_INTERNAL_CHECK(v.has_value(), where(path), " is null");
  return *v;
}
double ResolvedConfig::get_float(const std::string& path) const {
  const auto v = get_optional_float(path);
  ESRUN_INTERNAL_CHECK(v.has_value(), where(path), " is null");
  return *v;
}
bool ResolvedConfig::get_bool(const std::string& path) const { return value(path).as<bool>(); }
std::string ResolvedConfig::get_string(const std::string& path) const { return value(path).as<std::string>(); }

std::optional<int64_t> ResolvedConfig::get_optional_int(const std::string& path) const {
  const auto& v = value(path);
  if (v.IsNull()) return std::nullopt;
  return v.as<int64_t>();
}
std::optional<double> ResolvedConfig::get_optional_float(const std::string& path) const {
  const auto& v = value(path);
  if (v.IsNull()) return std::nullopt;
  return v.as<double>();
}
std::vector<double> ResolvedConfig::get_floats(const std::string& path) const {
  const auto& v = value(path);
  return v.IsNull() ? std::vector<double>{} : v.as<std::vector<double>>();
}
std::optional<std::vector<std::string>> ResolvedConfig::get_optional_strings(const std::string& path) const {
  const auto& v = value(path);
  if (v.IsNull()) return std::nullopt;
  return v.as<std::vector<std::string>>();
}

std::optional<std::string> ResolvedConfig::get_optional_string(const std::string& path) const {
  const auto& v = value(path);
  if (v.IsNull()) return std::nullopt;
  return v.as<std::string>();
}

std::optional<std::vector<int64_t>> ResolvedConfig::get_optional_ints(const std::string& path) const {
  const auto& v = value(path);
  if (v.IsNull()) return std::nullopt;
  return v.as<std::vector<int64_t>>();
}

std::string ResolvedConfig::to_yaml(bool notes) const {
  return schema_tree([this](const KeySpec& key) { return flow_yaml(value(key.path)); },
                   [this, notes](const KeySpec& key) {
                     const std::string& note = origin(key.path).note;
                     return notes && !note.empty() ? "  # " + note : std::string();
                   });
}

std::string ResolvedConfig::hash() const {
  std::ostringstream out;
  out << std::hex << std::setw(16) << std::setfill('0') << fnv1a64(to_yaml());
  return out.str();
}

ResolvedConfig resolve_config(const std::vector<std::string>& files, const std::vector<std::string>& sets) {
  ResolvedConfig config;
  std::vector<std::string> unknown;
  for (const auto& file : files) config.merge_file(file, unknown);
  for (const auto& set : sets) config.merge_set(set, unknown);
  if (!unknown.empty()) {
    std::string message = std::to_string(unknown.size()) + " unknown configuration key" +
                          (unknown.size() == 1 ? "" : "s") + ":";
    for (const auto& u : unknown) message += "\n  " + u;
    message += "\n(esrun print-config --defaults lists every key)";
    ESRUN_FAIL(message);
  }
  return config;
}

}  // namespace esrun
