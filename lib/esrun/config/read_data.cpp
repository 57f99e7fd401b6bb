// The data section's reader (config/readers.h).
#include <algorithm>
#include <cmath>

#include "esrun/config/readers.h"
#include "esrun/core/error.h"
#include "esrun/core/rng.h"

namespace esrun {
namespace {

// Augmentation, normalisation statistics, image folders and their loader.
void read_images(const Checker& check, DataOptions& d) {
  const ResolvedConfig& c = check.config();
  d.augment.crop_padding = check.int_at_least("data.augment.crop_padding", 0);
  d.augment.flip = c.get_bool("data.augment.flip");
  ImageFolderOptions& folder = d.image_folder;
  folder.train_dir = c.get_string("data.image_folder.train_dir");
  folder.test_dir = c.get_string("data.image_folder.test_dir");
  folder.image_size = check.int_at_least("data.image_folder.image_size", 1);
  folder.resize = check.int_at_least("data.image_folder.resize", 1);
  ESRUN_CHECK(folder.resize >= folder.image_size, c.where("data.image_folder.resize"), ": is ", folder.resize,
              ", smaller than data.image_folder.image_size (", folder.image_size, "); the centre crop needs resize >= image_size");
  folder.min_scale = check.float_in("data.image_folder.min_scale", 0.0, 1.0, true);
  ESRUN_CHECK(folder.min_scale > 0, c.where("data.image_folder.min_scale"), ": expected a number in (0, 1], got 0");
  d.loader.workers = check.int_at_least("data.loader.workers", 0);
  d.loader.prefetch = check.int_at_least("data.loader.prefetch", 1);
  d.augment.normalize = c.get_bool("data.augment.normalize");
  for (const char* key : {"data.augment.mean", "data.augment.std"}) {
    const auto values = c.get_floats(key);
    if (values.empty()) continue;
    ESRUN_CHECK(std::all_of(values.begin(), values.end(), [](double v) { return std::isfinite(v); }), c.where(key),
                ": expected finite numbers, one per image channel, got ", flow_yaml(c.value(key)));
    (std::string(key) == "data.augment.mean" ? d.augment.mean : d.augment.std) = values;
  }
  ESRUN_CHECK(d.augment.mean.has_value() == d.augment.std.has_value(), c.where(d.augment.mean ? "data.augment.std" : "data.augment.mean"),
              ": set data.augment.mean and data.augment.std together (a pretrained model's input statistics), or neither");
  if (d.augment.mean) {
    ESRUN_CHECK(reads(d.name, "data.augment.mean"), c.where("data.augment.mean"),
                ": ", d.name, " has no images to normalise; set null");
    ESRUN_CHECK(d.augment.normalize, c.where("data.augment.mean"), ": is set, but data.augment.normalize is false; "
                "set normalize: true to normalise with these statistics, or drop them");
  }
  if (d.augment.std)
    for (const double v : *d.augment.std)
      ESRUN_CHECK(v > 0, c.where("data.augment.std"), ": expected standard deviations > 0, got ", flow_yaml(c.value("data.augment.std")));
}

// csv_table and linear_synthetic.
void read_tables(const Checker& check, DataOptions& d) {
  const ResolvedConfig& c = check.config();
  CsvOptions& csv = d.csv;
  csv.file = c.get_string("data.csv.file");
  csv.test_file = c.get_optional_string("data.csv.test_file");
  csv.target = c.get_optional_string("data.csv.target").value_or("");
  ESRUN_CHECK(!reads(d.name, "data.csv.target") || !csv.target.empty(), c.where("data.csv.target"),
              ": expected the name of the target column");
  csv.features = c.get_optional_strings("data.csv.features");
  csv.drop = c.get_optional_strings("data.csv.drop").value_or(std::vector<std::string>{});
  csv.categorical = c.get_optional_strings("data.csv.categorical").value_or(std::vector<std::string>{});
  csv.test_fraction = check.float_in("data.csv.test_fraction", 0.0, 1.0, false);
  csv.split_column = c.get_optional_string("data.csv.split_column");
  csv.test_values = c.get_optional_strings("data.csv.test_values").value_or(std::vector<std::string>{});
  ESRUN_CHECK(!csv.split_column || !csv.test_values.empty(), c.where("data.csv.test_values"),
              ": expected the values of data.csv.split_column that mark test rows, got []");
  ESRUN_CHECK(!(csv.split_column && csv.test_file), c.where("data.csv.split_column"), " and ",
              c.where("data.csv.test_file"), ": set one of them, not both");
  ESRUN_CHECK(!reads(d.name, "data.csv.test_fraction") || csv.split_column || csv.test_file || csv.test_fraction > 0,
              c.where("data.csv.test_fraction"), ": is 0 with no data.csv.test_file or data.csv.split_column; "
              "the test split would be empty");
  csv.standardize = c.get_bool("data.csv.standardize");
  if (const auto split_seed = check.optional_int_at_least("data.csv.split_seed", 0, kMaxSeed))
    csv.split_seed = static_cast<uint64_t>(*split_seed);
  LinearOptions& linear = d.linear;
  linear.train_size = check.int_at_least("data.linear.train_size", 1);
  linear.test_size = check.int_at_least("data.linear.test_size", 1);
  linear.slope = c.get_float("data.linear.slope");
  linear.intercept = c.get_float("data.linear.intercept");
  linear.noise = check.float_in("data.linear.noise", 0.0, 1e300, true);
  linear.x_low = c.get_float("data.linear.x_low");
  linear.x_high = c.get_float("data.linear.x_high");
  ESRUN_CHECK(std::isfinite(linear.x_low) && std::isfinite(linear.x_high) && linear.x_low < linear.x_high,
              c.where("data.linear.x_low"), ": expected finite x_low < x_high = ", linear.x_high, ", got ", linear.x_low);
}

// Text: GLUE, raw text for causal LM, pre-tokenised records and the SentencePiece tokenizer.
void read_text(const Checker& check, DataOptions& d) {
  const ResolvedConfig& c = check.config();
  d.glue.task = c.get_string("data.glue.task");
  d.glue.dev = c.get_string("data.glue.dev");
  d.text_lm.train = c.get_string("data.text_lm.train");
  d.text_lm.test = c.get_string("data.text_lm.test");
  d.tokens_jsonl.train = c.get_string("data.tokens_jsonl.train");
  d.tokens_jsonl.test = c.get_string("data.tokens_jsonl.test");
  if (reads(d.name, "data.tokens_jsonl.vocab_size")) {
    const auto vocab = check.optional_int_at_least("data.tokens_jsonl.vocab_size", 1);
    ESRUN_CHECK(vocab.has_value(), c.where("data.tokens_jsonl.vocab_size"),
                ": expected the tokenizer's vocabulary size (every id in the records must be below it)");
    d.tokens_jsonl.vocab_size = *vocab;
  }
  TokenizerOptions& tok = d.tokenizer;
  tok.model = c.get_optional_string("data.tokenizer.model");
  tok.vocab_size = check.int_at_least("data.tokenizer.vocab_size", 8);
  tok.model_type = c.get_string("data.tokenizer.model_type");
  tok.lowercase = c.get_bool("data.tokenizer.lowercase");
  tok.max_length = check.int_at_least("data.tokenizer.max_length", 3);  // [CLS] a [SEP] b [SEP] needs room
  tok.train_sentences = check.optional_int_at_least("data.tokenizer.train_sentences", 1);
}

}  // namespace

DataOptions read_data(const Checker& check, uint64_t run_seed) {
  const ResolvedConfig& c = check.config();
  DataOptions d;
  const std::string on_device = c.get_string("data.on_device");
  if (on_device != "auto") d.on_device = on_device == "true";
  d.name = check.registered("dataset", "data.name");
  d.root = c.get_string("data.root");
  d.label = c.get_string("data.label");
  d.train_files = c.get_optional_strings("data.train_files");
  d.test_files = c.get_optional_strings("data.test_files");
  for (const char* key : {"data.train_files", "data.test_files"}) {
    const auto files = c.get_optional_strings(key);
    ESRUN_CHECK(!files || !files->empty(), c.where(key), ": expected a non-empty list of files or null, got []");
  }
  d.train_subset = check.optional_int_at_least("data.train_subset", 1);
  d.test_subset = check.optional_int_at_least("data.test_subset", 1);
  d.synthetic.train_size = check.int_at_least("data.synthetic.train_size", 1);
  d.synthetic.test_size = check.int_at_least("data.synthetic.test_size", 1);
  d.synthetic.classes = check.int_at_least("data.synthetic.classes", 2);
  ESRUN_CHECK(d.synthetic.classes <= 8, c.where("data.synthetic.classes"),
              ": expected at most 8 (the number of shape kinds), got ", d.synthetic.classes);
  d.synthetic.image_size = check.int_at_least("data.synthetic.image_size", 8);
  d.synthetic.noise = check.float_in("data.synthetic.noise", 0.0, 1.0, true);
  read_images(check, d);
  d.label_noise.kind = noise_kind_from_string(c.get_string("data.label_noise.kind"));
  d.label_noise.ratio = check.float_in("data.label_noise.ratio", 0.0, 1.0, false);
  ESRUN_CHECK(d.label_noise.kind != NoiseKind::None || d.label_noise.ratio == 0.0, c.where("data.label_noise.ratio"),
              ": is ", d.label_noise.ratio, " but data.label_noise.kind is none; set kind to uniform or flip");
  // Every data draw derives from data.seed when it is set, else from the run seed.
  const auto data_seed = check.optional_int_at_least("data.seed", 0, kMaxSeed);
  const uint64_t data_base = data_seed ? static_cast<uint64_t>(*data_seed) : run_seed;
  const auto noise_seed = check.optional_int_at_least("data.label_noise.seed", 0, kMaxSeed);
  d.label_noise.seed = noise_seed ? static_cast<uint64_t>(*noise_seed) : derive_seed(data_base, "label_noise");
  read_tables(check, d);
  d.svhn_extra = c.get_bool("data.svhn.extra");
  read_text(check, d);
  d.seed = derive_seed(data_base, "data");
  check.warn_ignored("data", d.name);

  return d;
}

}  // namespace esrun
