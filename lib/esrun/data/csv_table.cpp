// csv_table: a table of numbers in a CSV file with a header row (RFC 4180: comma-separated, fields
// optionally in double quotes with "" for a quote). The target is data.csv.target; the features are
// data.csv.features, or every other column but data.csv.drop. Categorical features are one-hot
// encoded over the values seen in the training split (a value seen only in the test split encodes
// as all zeros); the other features must be numbers and are standardised with the training split's
// mean and std (data.csv.standardize). The test split is data.csv.test_file, the rows whose
// data.csv.split_column value is one of data.csv.test_values (that column is never a feature), or
// a random test_fraction drawn from data.csv.split_seed (else the run's data stream).
// Its natural task is regression; task.name: classification reads the target as class indices.
#include <filesystem>
#include <fstream>
#include <map>
#include <set>

#include "esrun/core/error.h"
#include "esrun/core/rng.h"
#include "esrun/data/dataset.h"

namespace esrun {
namespace {

struct Table {
  std::string path;
  std::vector<std::string> header;
  std::vector<std::vector<std::string>> rows;
  std::vector<int64_t> lines;  // the file line of each row (the header is line 1)
};

// One CSV record's fields; `line` for messages.
std::vector<std::string> split_record(const std::string& text, const std::string& path, int64_t line) {
  std::vector<std::string> fields(1);
  bool quoted = false;
  for (size_t i = 0; i < text.size(); ++i) {
    const char ch = text[i];
    if (quoted) {
      if (ch == '"' && i + 1 < text.size() && text[i + 1] == '"') fields.back() += '"', ++i;
      else if (ch == '"') quoted = false;
      else fields.back() += ch;
    } else if (ch == '"') {
      quoted = true;
    } else if (ch == ',') {
      fields.emplace_back();
    } else if (ch != '\r') {
      fields.back() += ch;
    }
  }
  ESRUN_CHECK(!quoted, path, ":", line, ": a quoted field is not closed");
  return fields;
}

Table read_table(const std::string& path, const std::string& key) {
  std::ifstream in(path);
  ESRUN_CHECK(in.good(), key, ": cannot open '", path, "' (expected a CSV file with a header row)");
  Table table{path, {}, {}, {}};
  std::string text;
  int64_t line = 0;
  while (std::getline(in, text)) {
    ++line;
    if (text.find_first_not_of(" \t\r") == std::string::npos) continue;  // blank lines
    auto fields = split_record(text, path, line);
    if (table.header.empty()) {
      table.header = std::move(fields);
      continue;
    }
    ESRUN_CHECK(fields.size() == table.header.size(), path, ":", line, ": expected ", table.header.size(),
                " fields as in the header, got ", fields.size());
    table.rows.push_back(std::move(fields));
    table.lines.push_back(line);
  }
  ESRUN_CHECK(!table.header.empty(), path, ": the file is empty; expected a header row and data rows");
  ESRUN_CHECK(!table.rows.empty(), path, ": has a header but no data rows");
  return table;
}

// `key` is the config key naming the column, with its origin.
size_t column_of(const Table& table, const std::string& name, const std::string& key) {
  const auto it = std::find(table.header.begin(), table.header.end(), name);
  if (it != table.header.end()) return static_cast<size_t>(it - table.header.begin());
  ESRUN_FAIL(key, ": column '", name, "' is not in the header of ", table.path, " (columns: ", join(table.header), ")");
}

double number_at(const Table& table, size_t row, size_t column) {
  const std::string& text = table.rows[row][column];
  size_t used = 0;
  double value = 0;
  try {
    value = std::stod(text, &used);
  } catch (const std::exception&) {
    used = 0;
  }
  while (used < text.size() && (text[used] == ' ' || text[used] == '\t')) ++used;
  ESRUN_CHECK(!text.empty() && used == text.size() && std::isfinite(value), table.path, ":", table.lines[row],
              ": column '", table.header[column], "': expected a number, got '", text, "'");
  return value;
}

struct Columns {
  size_t target = 0;
  std::vector<size_t> numeric, categorical;
};

Columns choose_columns(const Table& table, const CsvOptions& options, const KeyWhere& where) {
  Columns columns;
  columns.target = column_of(table, options.target, where("data.csv.target"));
  std::vector<std::string> names;
  if (options.features) {
    names = *options.features;
  } else {
    for (const auto& d : options.drop) column_of(table, d, where("data.csv.drop"));
    for (const auto& h : table.header)
      if (h != options.target && h != options.split_column.value_or("") &&
          std::find(options.drop.begin(), options.drop.end(), h) == options.drop.end())
        names.push_back(h);
  }
  ESRUN_CHECK(!names.empty(), where("data.csv.features"), ": no feature columns are left in ", table.path);
  for (const auto& c : options.categorical)
    ESRUN_CHECK(std::find(names.begin(), names.end(), c) != names.end(), where("data.csv.categorical"), ": column '", c,
                "' is not one of the feature columns");
  for (const auto& name : names) {
    const size_t index = column_of(table, name, where("data.csv.features"));
    ESRUN_CHECK(index != columns.target, where("data.csv.features"), ": the target column '", name, "' cannot be a feature");
    ESRUN_CHECK(name != options.split_column.value_or(""), where("data.csv.features"), ": the split column '", name,
                "' cannot be a feature (it would tell the model which split a row is in)");
    const bool categorical = std::find(options.categorical.begin(), options.categorical.end(), name) != options.categorical.end();
    (categorical ? columns.categorical : columns.numeric).push_back(index);
  }
  return columns;
}

// The feature matrix [rows, F] (numeric columns, then each categorical column's one-hot block) and
// targets of `rows` of `table`; `levels` holds each categorical column's values (from training).
void encode(const Table& table, const std::vector<int64_t>& rows, const Columns& columns,
            const std::vector<std::vector<std::string>>& levels, Split& split) {
  int64_t width = static_cast<int64_t>(columns.numeric.size());
  for (const auto& l : levels) width += static_cast<int64_t>(l.size());
  const auto n = static_cast<int64_t>(rows.size());
  auto features = torch::zeros({n, width}, torch::kDouble);
  auto targets = torch::empty({n}, torch::kDouble);
  auto f = features.accessor<double, 2>();
  auto t = targets.accessor<double, 1>();
  for (int64_t i = 0; i < n; ++i) {
    const auto row = static_cast<size_t>(rows[static_cast<size_t>(i)]);
    t[i] = number_at(table, row, columns.target);
    int64_t col = 0;
    for (const size_t c : columns.numeric) f[i][col++] = number_at(table, row, c);
    for (size_t k = 0; k < columns.categorical.size(); ++k) {
      const auto& values = levels[k];
      const auto it = std::lower_bound(values.begin(), values.end(), table.rows[row][columns.categorical[k]]);
      if (it != values.end() && *it == table.rows[row][columns.categorical[k]]) f[i][col + (it - values.begin())] = 1.0;
      col += static_cast<int64_t>(values.size());
    }
  }
  split.inputs = features;
  split.targets = targets.to(torch::kFloat);
  split.source_index = torch::tensor(rows, torch::kLong);
}

Dataset make_csv_table(const DataOptions& options) {
  const CsvOptions& csv = options.csv;
  const auto under_root = [&](const std::string& file) { return (std::filesystem::path(options.root) / file).string(); };
  const KeyWhere& where = options.where;
  const Table table = read_table(under_root(csv.file), where("data.csv.file"));
  const Columns columns = choose_columns(table, csv, where);
  std::vector<int64_t> train_rows, test_rows;
  const Table test_table = csv.test_file ? read_table(under_root(*csv.test_file), where("data.csv.test_file")) : Table{};
  if (csv.test_file) {
    ESRUN_CHECK(test_table.header == table.header, where("data.csv.test_file"), ": the header of ", test_table.path,
                " differs from that of ", table.path);
    for (int64_t i = 0; i < static_cast<int64_t>(table.rows.size()); ++i) train_rows.push_back(i);
    for (int64_t i = 0; i < static_cast<int64_t>(test_table.rows.size()); ++i) test_rows.push_back(i);
  } else if (csv.split_column) {
    const size_t column = column_of(table, *csv.split_column, where("data.csv.split_column"));
    for (int64_t i = 0; i < static_cast<int64_t>(table.rows.size()); ++i) {
      const auto& value = table.rows[static_cast<size_t>(i)][column];
      const bool test = std::find(csv.test_values.begin(), csv.test_values.end(), value) != csv.test_values.end();
      (test ? test_rows : train_rows).push_back(i);
    }
  } else {
    auto gen = csv.split_seed ? make_generator(*csv.split_seed, "csv_split") : make_generator(options.seed, "csv_split");
    const auto n = static_cast<int64_t>(table.rows.size());
    const auto order = torch::randperm(n, gen, torch::kLong);
    const int64_t test_count = std::llround(csv.test_fraction * static_cast<double>(n));
    auto pick = [&](int64_t begin, int64_t count) {
      const auto rows = std::get<0>(order.narrow(0, begin, count).sort());
      return std::vector<int64_t>(rows.data_ptr<int64_t>(), rows.data_ptr<int64_t>() + count);
    };
    test_rows = pick(0, test_count);
    train_rows = pick(test_count, n - test_count);
  }
  ESRUN_CHECK(!train_rows.empty(), where("data.csv.file"), ": the split leaves no training rows in ", table.path);
  ESRUN_CHECK(!test_rows.empty(), where("data.csv.test_fraction"), ": the split leaves no test rows in ",
              csv.test_file ? test_table.path : table.path);

  std::vector<std::vector<std::string>> levels;
  for (const size_t c : columns.categorical) {
    std::set<std::string> seen;
    for (const int64_t row : train_rows) seen.insert(table.rows[static_cast<size_t>(row)][c]);
    levels.emplace_back(seen.begin(), seen.end());
  }
  Dataset data;
  data.name = "csv_table";
  data.task = "regression";
  encode(table, train_rows, columns, levels, data.train);
  encode(csv.test_file ? test_table : table, test_rows, columns, levels, data.test);
  if (csv.standardize && !columns.numeric.empty()) {
    const auto numeric = static_cast<int64_t>(columns.numeric.size());
    const auto train = data.train.inputs.narrow(1, 0, numeric);
    const auto mean = train.mean(0);
    auto std = data.train.size() > 1 ? train.std(0) : torch::ones_like(mean);
    std = torch::where(std > 0, std, torch::ones_like(std));
    for (Split* split : {&data.train, &data.test}) split->inputs.narrow(1, 0, numeric).sub_(mean).div_(std);
  }
  data.train.inputs = data.train.inputs.to(torch::kFloat);
  data.test.inputs = data.test.inputs.to(torch::kFloat);
  return data;
}

const bool registered = datasets().add(
    "csv_table", "a CSV table with a header (data.csv.*): numeric and one-hot features, a numeric target; regression by default",
    make_csv_table,
    {.reads = {"data.root", "data.csv.file", "data.csv.test_file", "data.csv.target", "data.csv.features",
        "data.csv.drop", "data.csv.categorical", "data.csv.test_fraction", "data.csv.split_column",
        "data.csv.test_values", "data.csv.split_seed", "data.csv.standardize"}});

}  // namespace
}  // namespace esrun
