// Typed options, one small struct per component, read from the resolved YAML and validated in
// one place (load_run_config) before any data is loaded. Raw user settings and values resolved
// from them (e.g. b = ratio * B) are kept apart.
#pragma once

#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <vector>

#include "esrun/config/resolved.h"

namespace esrun {

// Names a key with where its value came from ("data.csv.target (configs/bike_mlp.yaml:12)"), for
// the errors of components that can only check their input once they have it (datasets, models).
using KeyWhere = std::function<std::string(const std::string& key)>;
inline std::string key_only(const std::string& key) { return key; }

enum class NoiseKind { None, Uniform, Flip };
NoiseKind noise_kind_from_string(const std::string& name);
const char* to_string(NoiseKind kind);

// csv_table (data/csv_table.cpp): a CSV file with a header row.
struct CsvOptions {
  std::string file = "data.csv";
  std::optional<std::string> test_file;  // a separate test CSV; none = split `file`
  std::string target;
  std::optional<std::vector<std::string>> features;  // none = every column but target and drop
  std::vector<std::string> drop, categorical;
  double test_fraction = 0.2;
  std::optional<std::string> split_column;
  std::vector<std::string> test_values;
  std::optional<uint64_t> split_seed;  // none = the data stream's seed
  bool standardize = true;
};

// linear_synthetic (data/linear_synthetic.cpp): y = slope x + intercept + N(0, noise^2).
struct LinearOptions {
  int64_t train_size = 10000, test_size = 5000;
  double slope = 2.0, intercept = 1.0, noise = 1.0;
  double x_low = -5.0, x_high = 5.0;
};

// Text datasets (glue): SentencePiece tokenisation (data/tokenizer.h).
struct TokenizerOptions {
  std::optional<std::string> model;     // a SentencePiece model file; none = train one on the training split
  int64_t vocab_size = 8000;            // when training
  std::string model_type = "unigram";   // when training: unigram | bpe | word | char
  bool lowercase = true;                // lowercase ASCII letters before tokenising (uncased models)
  int64_t max_length = 128;             // tokens per example, [CLS] and [SEP]s included
  std::optional<int64_t> train_sentences;  // when training: a seeded random sample of this many sentences
};

// glue (data/glue.cpp): one GLUE task's TSVs under data.root.
struct GlueOptions {
  std::string task = "sst2";  // cola | sst2 | mrpc | qqp | stsb | mnli | qnli | rte | wnli
  std::string dev = "matched";  // mnli: matched | mismatched dev set as the test split
};

// text_lm (data/text_lm.cpp): raw text files under data.root, cut into blocks of
// data.tokenizer.max_length tokens.
struct TextLmOptions {
  std::string train = "wiki.train.tokens", test = "wiki.test.tokens";
};

// tokens_jsonl (data/tokens_jsonl.cpp): pre-tokenised JSON-lines records under data.root.
struct TokensJsonlOptions {
  std::string train = "train.jsonl", test = "test.jsonl";
  int64_t vocab_size = 0;  // required: every id must be below it
};

struct SyntheticOptions {
  int64_t train_size = 5000;
  int64_t test_size = 1000;
  int64_t classes = 6;
  int64_t image_size = 32;
  double noise = 0.1;
};

struct AugmentOptions {
  int64_t crop_padding = 4;
  bool flip = true;
  bool normalize = true;
  // Per-channel statistics on the [0, 1] scale instead of the dataset's (a pretrained model's own).
  std::optional<std::vector<double>> mean, std;
};

// image_folder's layout and decoding (data/image_folder.cpp).
struct ImageFolderOptions {
  std::string train_dir = "train", test_dir = "val";
  int64_t image_size = 224;  // the side of the square training and test crops
  int64_t resize = 256;      // test images: shorter side resized to this, then centre-cropped
  double min_scale = 0.08;   // RandomResizedCrop's smallest area fraction
};

// The worker threads that decode file-backed datasets (data/file_loader.h).
struct LoaderOptions {
  int64_t workers = 0;   // 0 = as many as the run's threads
  int64_t prefetch = 4;  // batches decoded ahead of the training loop
};

struct LabelNoiseOptions {
  NoiseKind kind = NoiseKind::None;
  double ratio = 0.0;
  uint64_t seed = 0;  // resolved: the user's seed, or one derived from the run seed
};

enum class Precision { Fp32, Bf16, Fp16 };

struct DataOptions {
  std::string name;
  std::string root;
  std::string label;  // cifar100: fine | coarse
  std::optional<std::vector<std::string>> train_files, test_files;
  std::optional<int64_t> train_subset, test_subset;
  SyntheticOptions synthetic;
  AugmentOptions augment;
  ImageFolderOptions image_folder;
  LoaderOptions loader;
  LabelNoiseOptions label_noise;
  CsvOptions csv;
  LinearOptions linear;
  bool svhn_extra = false;  // svhn: also train on extra_32x32.mat
  TokenizerOptions tokenizer;
  GlueOptions glue;
  TextLmOptions text_lm;
  TokensJsonlOptions tokens_jsonl;
  uint64_t seed = 0;  // the data stream's seed (synthetic generation, subsets)
  // The in-memory training set on the device (true), or batches built on the CPU (false);
  // nullopt = auto: on the device when the dataset is in memory.
  std::optional<bool> on_device;
  // Set by the runner, not by YAML: where a trained tokenizer is saved (the run directory) and
  // where a resumed run's is read from (the run being resumed); empty = neither (bench, tests).
  std::string artifacts_dir, resume_dir;
  KeyWhere where = key_only;
};

// torchscript (models/torchscript.cpp): an imported TorchScript module.
struct TorchScriptOptions {
  std::string path;                    // a torch.jit.save file
  std::optional<std::string> output;   // the logits in forward's output: a dict key or tuple index; none = auto
  std::string head = "auto";           // auto (the last Linear, replaced when its size differs) | none | a submodule
  std::vector<std::string> freeze;     // glob patterns on parameter names
  double head_lr_scale = 1.0;          // a replaced head's learning rate over optimizer.lr
};

struct ModelOptions {
  std::string name;
  std::optional<std::string> preset;   // mlp: simple | two_layer; vit: tiny | small | base | large;
                                       // transformer: tiny | bert-base | albert-base; gpt: tiny | small
  std::optional<int64_t> width;        // small_cnn, resnets: base channels; vit, transformer: hidden width
  std::string stem = "cifar";          // resnets: cifar | imagenet
  std::optional<std::vector<int64_t>> hidden;  // mlp
  std::optional<std::string> activation;  // mlp (relu), transformer (gelu; albert-base gelu_tanh)
  std::optional<double> dropout;       // mlp, vit (0), transformer (the preset's)
  bool batch_norm = false;             // mlp
  std::optional<int64_t> patch_size, depth, heads;  // vit, transformer, gpt
  double mlp_ratio = 4.0;              // vit, transformer
  std::string pool = "cls";            // vit: cls | mean
  // transformer
  std::optional<bool> albert;          // factorised embeddings and one layer shared by all depths (the preset's)
  std::optional<int64_t> embedding_size;  // the embeddings' width (the preset's; else width)
  std::optional<std::string> norm;     // post (BERT, ALBERT; the presets') | pre LayerNorm
  std::optional<double> attention_dropout, head_dropout;  // the preset's
  int64_t max_positions = 512;         // transformer, gpt
  TorchScriptOptions torchscript;
  // Filled in from the dataset and the task.
  std::vector<int64_t> input_shape;    // [C, H, W] images, [F] features or [2, L] token ids
  int64_t vocab_size = 0;              // text: the tokenizer's vocabulary
  int64_t outputs = 0;                 // classes, or 1 for regression; per token with per_token
  bool per_token = false;              // outputs [N, L, outputs] per position (causal_lm), not [N, outputs]
  std::string device = "cpu";          // where the model will run (torchscript loads its tensors there)
  KeyWhere where = key_only;
};

// The task (tasks/): the dataset's natural one unless task.name says otherwise.
struct TaskOptions {
  std::optional<std::string> name;     // as the user wrote it; Dataset::task after load_dataset
  double label_smoothing = 0.0;        // classification (train.label_smoothing)
  std::string loss = "mse";            // regression: mse | l1 | huber
  double huber_delta = 1.0;
  double tolerance = 0.5;              // regression: |error| <= tolerance (standardised units) is correct
  bool standardize = true;             // regression: standardise targets on the training split
  // The headline metric (summary.json's "metric", test_score, checkpoint.best): none = the
  // dataset's own (GLUE's per task), else acc for classification and rmse for regression.
  std::optional<std::string> metric;
  KeyWhere where = key_only;
};

struct OptimizerOptions {
  std::string name;
  double lr = 0.1;
  double momentum = 0.9;
  bool nesterov = false;
  double weight_decay = 5e-4;
  double beta1 = 0.9, beta2 = 0.999;
  double eps = 1e-8;
  // No weight decay on biases, normalisation weights and the model's own exempt tensors (ViT's
  // position embedding and class token); nullopt = auto: the model's default (on for transformers).
  std::optional<bool> no_decay_bias_norm;
};

struct ScheduleOptions {
  std::string name;
  double pct_start = 0.3;
  double div_factor = 25.0;
  double final_div_factor = 1e4;
  bool cycle_momentum = true;
  double base_momentum = 0.85, max_momentum = 0.95;
  double warmup_epochs = 0.0;
  double min_lr = 0.0;
  double power = 1.0;  // poly
  std::vector<double> milestones;
  double gamma = 0.1;
};

struct SamplerOptions {
  std::string name;
  int64_t meta_batch = 128;               // B
  std::optional<int64_t> mini_batch;      // b as the user wrote it
  std::optional<double> ratio;            // b/B as the user wrote it
  bool drop_last = false;
  bool unbiased = false;                  // loss
  bool adaptive_q = false;                // order
  // Resolved: the user's value, else the policy's paper default (docs/methods.md).
  int64_t resolved_mini_batch = 128;      // b
  double beta1 = 0.2, beta2 = 0.9;        // es, eswp
  int64_t anneal_epochs = 0;              // es, eswp: E_a
  double prune_ratio = 0.0;               // eswp, infobatch, ucb, epsilon_greedy, random_prune, reduced_epochs: r
  double delta = 0.875;                   // infobatch
  bool ema = false;                       // infobatch
  bool rescale = true;                    // infobatch
  std::string level = "set";              // omission
  double keep = 0.5, alpha = 0.1;         // omission
  std::vector<std::string> candidates;    // adaselection
  double method_beta = 1.0;               // adaselection
  std::optional<double> cl_gamma;         // adaselection
  bool full_batches = true;               // adaselection: Algorithm 2's set C, a step per B chosen
  double sb_beta = 3.0, p_min = 0.0;      // selective_backprop
  int64_t history = 1024;                 // selective_backprop
  int64_t period = 1;                     // ucb, epsilon_greedy
  double ucb_c = 1.0, epsilon = 0.1;      // ucb, epsilon_greedy
  double hide_fraction = 0.3, confidence = 0.7;  // ka
  std::optional<std::string> scores;      // static_prune, rho_loss: the scores file
  std::string score_keep = "high";        // static_prune: high | low | stratified
  int64_t strata = 50;                    // static_prune, stratified
  double hard_cutoff = 0.0;               // static_prune, stratified
  KeyWhere where = key_only;
};

// esrun score (scoring/score.h).
struct ScoreOptions {
  std::optional<std::string> method;
  std::optional<std::string> out;         // the scores file
  std::optional<int64_t> epoch;           // null: the method's default (Scorer::default_epoch)
  double holdout_fraction = 0.5;          // irreducible_loss
  int64_t repeats = 1;
  std::optional<std::string> checkpoint;
  int64_t batch = 500;
};

// How much a run trains (train.budget): epochs (train.epochs, the default), optimizer steps,
// samples back-propagated or seconds of training. The LR schedule and the policies' epoch-based
// schedules span the budget, so every run ends with its schedule fully decayed (train/budget.h).
enum class BudgetKind { Epochs, Steps, Samples, Seconds };
const char* to_string(BudgetKind kind);

struct BudgetOptions {
  BudgetKind kind = BudgetKind::Epochs;
  double amount = 15;  // in the kind's unit (epochs: train.epochs)
};

struct TrainOptions {
  int64_t epochs = 15;
  BudgetOptions budget;
  double label_smoothing = 0.0;
  int64_t eval_every = 1;
  int64_t eval_batch = 500;
  bool skip_nan = false;  // train.on_nan: skip
  std::optional<double> clip_grad_norm;
  std::optional<int64_t> accumulate;  // micro-batch rows: one optimizer step over several passes
};

struct EvalOptions {
  std::vector<double> targets;  // values of the headline metric: summary.json's time_to_target
  int64_t every_steps = 0;      // also evaluate every N optimizer steps within epochs; 0 = off
};

struct CheckpointOptions {
  int64_t every = 1;
  bool best = false;
};

// Data-parallel runs of several processes (core/distributed.h).
struct DistributedOptions {
  std::string backend = "auto";  // auto (nccl on CUDA, gloo on CPU) | gloo | nccl
  double timeout_s = 600;        // how long a rank waits for the others before failing
  bool check_sync = false;       // compare a checksum of the policy's state and the model every epoch
  bool sync_bn = false;          // BatchNorm statistics over every rank's rows (esrun's own models)
};

struct LoggingOptions {
  bool tensorboard = false;
  int64_t tensorboard_steps = 0;  // 0: per epoch only
};

struct ProgressOptions {
  std::string mode = "auto";  // auto | bar | lines | off
  double every = 30;          // seconds between lines in lines mode
};

struct RunConfig {
  std::string name;
  uint64_t seed = 0;
  std::string device;
  int64_t threads = 0;
  Precision precision = Precision::Fp32;
  bool channels_last = false;
  bool cudnn_benchmark = true;
  std::string timing = "auto";  // auto | phases | epoch
  std::string out_root;
  DataOptions data;
  TaskOptions task;
  ModelOptions model;
  TrainOptions train;
  EvalOptions eval;
  OptimizerOptions optimizer;
  ScheduleOptions schedule;
  SamplerOptions sampler;
  ScoreOptions score;
  CheckpointOptions checkpoint;
  ProgressOptions progress;
  LoggingOptions logging;
  DistributedOptions distributed;

  ResolvedConfig resolved;  // for printing, hashing and naming keys in later errors
};

// Reads every typed option and runs all checks of the configuration itself (types, ranges,
// cross-field rules, registry names); warns about keys the user set that the chosen component
// ignores. Needs nothing but the config, so print-config works anywhere.
// `warn`: false leaves the warnings out (a config read again, e.g. a resumed run's saved one).
RunConfig load_run_config(const ResolvedConfig& resolved, bool warn = true);

// The checks against this machine, before any data is loaded: the dataset folder exists and the
// device is available.
// `scores`: also that the sampler's scores file exists (not for esrun score, which may write it).
void check_environment(const RunConfig& config, bool scores = true);

}  // namespace esrun
