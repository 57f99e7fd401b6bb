#include "esrun/config/schema.h"

#include <algorithm>
#include <unordered_map>

#include "esrun/core/error.h"
#include "esrun/core/registry.h"

namespace esrun {

const char* to_string(ValueType type) {
  switch (type) {
    case ValueType::Int: return "an integer";
    case ValueType::Float: return "a number";
    case ValueType::Bool: return "true or false";
    case ValueType::String: return "a string";
    case ValueType::IntList: return "a list of integers";
    case ValueType::FloatList: return "a list of numbers";
    case ValueType::StringList: return "a list of strings";
  }
  return "?";
}

namespace {

KeySpec spec(std::string path, ValueType type, std::string default_yaml, std::string help, bool nullable = false,
             std::vector<std::string> choices = {}) {
  return KeySpec{std::move(path), type, std::move(default_yaml), std::move(help), nullable, std::move(choices), {}};
}

// Each key's readers (KeySpec::used_by), from what the components of its section declare they read
// (ComponentFacts::reads): a key no component declares is read by every one.
std::vector<KeySpec> with_readers(std::vector<KeySpec> keys) {
  static const std::pair<const char*, const char*> sections[] = {{"data", "dataset"},       {"model", "model"},
                                                                 {"task", "task"},          {"optimizer", "optimizer"},
                                                                 {"schedule", "schedule"}, {"sampler", "sampler"}};
  for (const auto& [section, kind] : sections) {
    for (const auto& entry : registry_of(kind).entries()) {
      for (const auto& path : entry.facts.reads) {
        const auto key = std::find_if(keys.begin(), keys.end(), [&](const KeySpec& k) { return k.path == path; });
        ESRUN_INTERNAL_CHECK(key != keys.end() && path.rfind(std::string(section) + ".", 0) == 0, kind, " '", entry.name,
                             "' declares that it reads '", path, "', which is no key of the ", section, " section");
        key->used_by.push_back(entry.name);
      }
    }
  }
  return keys;
}

}  // namespace

const std::vector<KeySpec>& config_schema() {
  using T = ValueType;
  static const std::vector<KeySpec> keys = with_readers({
      spec("name", T::String, "quickstart", "run name: results go to <out_root>/<name>/<YYYYmmdd-HHMMSS>-s<seed>/"),
      spec("seed", T::Int, "0", "run seed; every random stream (data, noise, init, shuffle, augment, policy) derives from it"),
      spec("device", T::String, "auto", "auto (cuda when available), cpu, cuda or cuda:N"),
      spec("threads", T::Int, "0", "libtorch intra-op threads; 0 = every core of the machine"),
      spec("precision", T::String, "fp32", "training and scoring precision: fp32, bf16 (autocast; CPU or CUDA) or fp16 (autocast with dynamic loss scaling; CUDA only)", false, {"fp32", "bf16", "fp16"}),
      spec("channels_last", T::Bool, "false", "keep conv weights and input batches in channels-last memory layout (faster convolutions on GPUs)"),
      spec("cudnn_benchmark", T::Bool, "true", "on CUDA, let cuDNN pick the fastest convolution algorithms (not bit-reproducible)"),
      spec("timing", T::String, "auto", "phase times: phases (seconds per phase; CUDA events on a GPU, read once per epoch, so no extra synchronisation), epoch (epoch totals only), auto = phases", false, {"auto", "phases", "epoch"}),
      spec("out_root", T::String, "runs", "parent folder of run directories (ignored when --out is given)"),

      spec("data.name", T::String, "synthetic_shapes", "dataset (esrun list datasets)"),
      spec("data.on_device", T::String, "auto", "keep the whole training set (uint8) on the device and gather, crop, flip and normalise batches there: true, false (CPU-side batches copied asynchronously), auto = true for in-memory datasets; file-backed datasets (image_folder) always decode on CPU worker threads", false, {"auto", "true", "false"}),
      spec("data.root", T::String, "data", "folder holding the dataset files", false, {}),
      spec("data.label", T::String, "fine", "CIFAR-100 label set", false, {"fine", "coarse"}),
      spec("data.train_files", T::StringList, "null",
       "training files relative to root; null = the official layout (all must exist)", true, {}),
      spec("data.test_files", T::StringList, "null",
       "test files relative to root; null = the official layout (all must exist)", true, {}),
      spec("data.seed", T::Int, "null", "seed of every data draw (subsets, synthetic data, splits, label noise); null = the run seed. esrun score's repeats vary the seed with this fixed", true),
      spec("data.train_subset", T::Int, "null", "train on a seeded random N of the training split; null = all", true),
      spec("data.test_subset", T::Int, "null", "evaluate on a seeded random N of the test split; null = all", true),
      spec("data.synthetic.train_size", T::Int, "5000", "synthetic_shapes: training images", false, {}),
      spec("data.synthetic.test_size", T::Int, "1000", "synthetic_shapes: test images", false, {}),
      spec("data.synthetic.classes", T::Int, "6", "synthetic_shapes: shape classes (2..8)", false, {}),
      spec("data.synthetic.image_size", T::Int, "32", "synthetic_shapes: image height and width in pixels", false, {}),
      spec("data.synthetic.noise", T::Float, "0.1", "synthetic_shapes: std of the background pixel noise (0..1 scale)", false, {}),
      spec("data.csv.file", T::String, "data.csv", "csv_table: the CSV file (header row, comma-separated) under data.root", false, {}),
      spec("data.csv.test_file", T::String, "null", "csv_table: a separate test CSV under data.root; null = split data.csv.file", true, {}),
      spec("data.csv.target", T::String, "null", "csv_table: the target column, required (numbers; class indices 0..K-1 for task.name: classification)", true, {}),
      spec("data.csv.features", T::StringList, "null", "csv_table: feature columns; null = every column but the target, data.csv.drop and data.csv.split_column", true, {}),
      spec("data.csv.drop", T::StringList, "[]", "csv_table: columns left out when features is null", false, {}),
      spec("data.csv.categorical", T::StringList, "[]", "csv_table: feature columns one-hot encoded (one column per value seen in the training split), never standardised", false, {}),
      spec("data.csv.test_fraction", T::Float, "0.2", "csv_table: seeded random fraction of the rows held out for testing (no test_file, no split_column)", false, {}),
      spec("data.csv.split_column", T::String, "null", "csv_table: rows whose value in this column is one of data.csv.test_values form the test split", true, {}),
      spec("data.csv.test_values", T::StringList, "[]", "csv_table: the split_column values of test rows", false, {}),
      spec("data.csv.split_seed", T::Int, "null", "csv_table: seed of the test_fraction split; null = derived from the run seed (each seed of a sweep then has its own split)", true, {}),
      spec("data.csv.standardize", T::Bool, "true", "csv_table: standardise numeric features with the training split's mean and std", false, {}),
      spec("data.linear.train_size", T::Int, "10000", "linear_synthetic: training samples", false, {}),
      spec("data.linear.test_size", T::Int, "5000", "linear_synthetic: test samples", false, {}),
      spec("data.linear.slope", T::Float, "2.0", "linear_synthetic: y = slope * x + intercept + noise", false, {}),
      spec("data.linear.intercept", T::Float, "1.0", "linear_synthetic: y = slope * x + intercept + noise", false, {}),
      spec("data.linear.noise", T::Float, "1.0", "linear_synthetic: std of the Gaussian noise on y", false, {}),
      spec("data.linear.x_low", T::Float, "-5.0", "linear_synthetic: x is uniform in [x_low, x_high)", false, {}),
      spec("data.linear.x_high", T::Float, "5.0", "linear_synthetic: x is uniform in [x_low, x_high)", false, {}),
      spec("data.svhn.extra", T::Bool, "false", "svhn: also train on extra_32x32.mat (531,131 more digits)", false, {}),
      spec("data.glue.task", T::String, "sst2", "glue: the GLUE task whose TSVs are in data.root (train.tsv; dev.tsv is the test split)", false, {"cola", "sst2", "mrpc", "qqp", "stsb", "mnli", "qnli", "rte", "wnli"}),
      spec("data.glue.dev", T::String, "matched", "glue mnli: the test split is dev_matched.tsv or dev_mismatched.tsv", false, {"matched", "mismatched"}),
      spec("data.tokenizer.model", T::String, "null", "text: a SentencePiece model file (e.g. ALBERT's spiece.model, with [CLS] and [SEP] pieces); null = train one on the training split at start, saved as tokenizer.model in the run directory and reused on resume", true, {}),
      spec("data.tokenizer.vocab_size", T::Int, "8000", "text, trained tokenizer: vocabulary size (a soft limit: a small corpus gets fewer pieces)", false, {}),
      spec("data.tokenizer.model_type", T::String, "unigram", "text, trained tokenizer: SentencePiece model type", false, {"unigram", "bpe", "word", "char"}),
      spec("data.tokenizer.lowercase", T::Bool, "true", "text: lowercase ASCII letters before tokenising (uncased models such as ALBERT)", false, {}),
      spec("data.tokenizer.max_length", T::Int, "128", "text: tokens per example with [CLS] and [SEP]s; longer pairs are truncated longest-first; text_lm: the block length", false, {}),
      spec("data.tokenizer.train_sentences", T::Int, "null", "text, trained tokenizer: train on a seeded random sample of this many sentences; null = all", true, {}),
      spec("data.text_lm.train", T::String, "wiki.train.tokens", "text_lm: the training text file under data.root (one paragraph or sentence per line, e.g. Wikitext's wiki.train.tokens)", false, {}),
      spec("data.text_lm.test", T::String, "wiki.test.tokens", "text_lm: the test text file under data.root", false, {}),
      spec("data.tokens_jsonl.train", T::String, "train.jsonl", "tokens_jsonl: the training records under data.root, one JSON object per line: {\"input_ids\": [...], \"loss_mask\": [...]} (causal_lm; loss_mask optional, 1 where the token is predicted) or {\"input_ids\": [...], \"token_type_ids\": [...], \"label\": K} (classification; token_type_ids optional)", false, {}),
      spec("data.tokens_jsonl.test", T::String, "test.jsonl", "tokens_jsonl: the test records under data.root", false, {}),
      spec("data.tokens_jsonl.vocab_size", T::Int, "null", "tokens_jsonl: the tokenizer's vocabulary size, required; every id must be below it", true, {}),
      spec("data.augment.crop_padding", T::Int, "4", "random crop after zero padding by this many pixels; 0 = no crop (in-memory datasets; image_folder uses a random resized crop)", false, {}),
      spec("data.augment.flip", T::Bool, "true", "random horizontal flip with probability 1/2 (images only)", false, {}),
      spec("data.augment.normalize", T::Bool, "true", "subtract the per-channel mean and divide by the std of the dataset (images only)", false, {}),
      spec("data.augment.mean", T::FloatList, "null", "images: per-channel means on the [0, 1] scale to normalise with instead of the dataset's own (a pretrained model's, e.g. [0.485, 0.456, 0.406]); with data.augment.std", true, {}),
      spec("data.augment.std", T::FloatList, "null", "images: per-channel standard deviations to normalise with instead of the dataset's own; with data.augment.mean", true, {}),
      spec("data.image_folder.train_dir", T::String, "train", "image_folder: training folder under data.root, one subfolder per class", false, {}),
      spec("data.image_folder.test_dir", T::String, "val", "image_folder: test folder under data.root, one subfolder per class", false, {}),
      spec("data.image_folder.image_size", T::Int, "224", "image_folder: side of the square crops the model sees", false, {}),
      spec("data.image_folder.resize", T::Int, "256", "image_folder: test images are resized to this shorter side, then centre-cropped to image_size", false, {}),
      spec("data.image_folder.min_scale", T::Float, "0.08", "image_folder: smallest area fraction of the random resized crop (torchvision's scale=(min_scale, 1))", false, {}),
      spec("data.loader.workers", T::Int, "0", "threads decoding file-backed datasets; 0 = as many as the run's threads", false, {}),
      spec("data.loader.prefetch", T::Int, "4", "batches decoded ahead of the training loop (bounds the loader's memory)", false, {}),
      spec("data.label_noise.kind", T::String, "none", "label noise on the training split (docs/methods.md)", false, {"none", "uniform", "flip"}),
      spec("data.label_noise.ratio", T::Float, "0.0", "fraction of training samples whose label is corrupted, in [0, 1)"),
      spec("data.label_noise.seed", T::Int, "null", "seed of the noise draw; null = derived from the run seed", true),

      spec("task.name", T::String, "null", "classification, regression or causal_lm (esrun list tasks); null = the dataset's own (csv_table and linear_synthetic: regression; image datasets: classification; text_lm: causal_lm; tokens_jsonl: causal_lm, or classification when its records have labels). A csv_table may be either", true),
      spec("task.metric", T::String, "null", "the headline metric: summary.json's metric, test_score, checkpoint.best and the final log line; null = the dataset's (GLUE: mcc for CoLA, f1 for MRPC and QQP, pearson for STS-B, else acc), else acc (classification), rmse (regression) or perplexity (causal_lm)", true, {"acc", "acc5", "f1", "mcc", "rmse", "mae", "mse", "r2", "pearson", "spearman", "perplexity", "loss"}),
      spec("task.loss", T::String, "mse", "regression: per-sample loss on standardised targets", false, {"mse", "l1", "huber"}),
      spec("task.huber_delta", T::Float, "1.0", "regression with loss huber: the quadratic zone's half-width (standardised units)", false, {}),
      spec("task.tolerance", T::Float, "0.5", "regression: a prediction within this many training-target standard deviations counts as correct (KA, Order, train_acc, test_acc)", false, {}),
      spec("task.standardize", T::Bool, "true", "regression: standardise targets with the training split's mean and std (metrics stay in original units)", false, {}),

      spec("model.name", T::String, "small_cnn", "model (esrun list models)"),
      spec("model.preset", T::String, "null", "standard sizes: gpt tiny (width 128, 2 layers, 4 heads) | small (GPT-2 small: 768, 12 layers, 12 heads); vit tiny | small | base | large (width 192/384/768/1024, depth 12/12/12/24, heads 3/6/12/16); mlp simple (one hidden layer of 32) | two_layer (64, 64), our reading of AdaSelection's unsized MLPs; transformer tiny (width 128, 2 layers, 2 heads) | bert-base | albert-base (768, 12 layers, 12 heads; albert-base: 128-wide embeddings, one shared layer, no dropout but the classifier's); explicit keys override the preset", true, {}),
      spec("model.width", T::Int, "null", "small_cnn, resnets: base channel count (null = 32, 64); vit, transformer, gpt: hidden width (null = the preset's, tiny without one)", true, {}),
      spec("model.stem", T::String, "cifar", "resnets' input stem: cifar (3x3 stride-1 conv, no max-pool; 32-pixel images) or imagenet (7x7 stride-2 conv + 3x3 stride-2 max-pool; 224-pixel images)", false, {"cifar", "imagenet"}),
      spec("model.hidden", T::IntList, "null", "mlp: hidden layer sizes; null = the preset's ([32] without one)", true, {}),
      spec("model.activation", T::String, "null", "mlp: activation after each hidden layer (null = relu); transformer: of the feed-forward blocks (null = the preset's: gelu, albert-base gelu_tanh); gpt: of the MLPs (null = gelu_tanh, GPT-2's)", true, {"relu", "gelu", "gelu_tanh", "tanh", "sigmoid"}),
      spec("model.batch_norm", T::Bool, "false", "mlp: BatchNorm1d after each hidden linear layer", false, {}),
      spec("model.dropout", T::Float, "null", "mlp: dropout after each hidden activation; vit: after the embedding, attention projection and MLP (null = 0); transformer: after the embeddings, attention output and feed-forward blocks (null = the preset's: 0.1, albert-base 0); gpt: after the embeddings, attention and MLP outputs and on the attention weights (null = 0.1)", true, {}),
      spec("model.patch_size", T::Int, "null", "vit: square patch side in pixels; must divide the image size; null = 4 for images up to 64 pixels, else 16", true, {}),
      spec("model.depth", T::Int, "null", "vit, transformer, gpt: transformer blocks; null = the preset's", true, {}),
      spec("model.heads", T::Int, "null", "vit, transformer, gpt: attention heads (must divide width); null = the preset's", true, {}),
      spec("model.mlp_ratio", T::Float, "4.0", "vit, transformer, gpt: hidden width of each block's MLP over the width", false, {}),
      spec("model.pool", T::String, "cls", "vit: the head reads the class token or the mean of the patch tokens", false, {"cls", "mean"}),
      spec("model.albert", T::String, "auto", "transformer: ALBERT's factorised embeddings and one layer shared by all depths; auto = the preset's (albert-base)", false, {"auto", "true", "false"}),
      spec("model.embedding_size", T::Int, "null", "transformer: width of the token, position and segment embeddings (a Linear maps them to the width); null = 128 with albert, else the width", true, {}),
      spec("model.norm", T::String, "post", "transformer: LayerNorm after each residual block (BERT, ALBERT) or before it with a final one", false, {"post", "pre"}),
      spec("model.attention_dropout", T::Float, "null", "transformer: dropout on the attention weights; null = the preset's (0.1, albert-base 0)", true, {}),
      spec("model.head_dropout", T::Float, "null", "transformer: dropout before the classifier; null = model.dropout, else the preset's (0.1)", true, {}),
      spec("model.max_positions", T::Int, "512", "transformer, gpt: learned position embeddings, the longest example it takes", false, {}),
      spec("model.torchscript.path", T::String, "null", "torchscript: the module file (torch.jit.save; scripts/export_torchscript.py), required", true, {}),
      spec("model.torchscript.output", T::String, "null", "torchscript: where the logits are in forward's output: a dict key, or a tuple index (\"0\"); null = the output itself when it is a tensor, a tuple's first element, a dict's \"logits\"", true, {}),
      spec("model.torchscript.head", T::String, "auto", "torchscript: the classifier replaced by a new Linear with the run's outputs: auto = the last Linear submodule, replaced only when its out_features differ; none = keep every layer; or a dotted submodule name (always replaced, freshly initialised)", false, {}),
      spec("model.torchscript.freeze", T::StringList, "[]", "torchscript: parameters left untrained, by glob patterns on their dotted names (\"patch_embed.*\", \"blocks.[0-5].*\"; * and ? and [...] as in shells)", false, {}),
      spec("model.torchscript.head_lr_scale", T::Float, "1.0", "torchscript: the replaced head's learning rate over the schedule's (optimizer.lr and its schedule times this)", false, {}),

      spec("train.epochs", T::Int, "15", "training epochs E"),
      spec("train.label_smoothing", T::Float, "0.0", "label smoothing of the per-sample cross entropy, in [0, 1)"),
      spec("train.eval_every", T::Int, "1", "evaluate on the test split every N epochs (and always after the last)"),
      spec("train.eval_batch", T::Int, "500", "batch size of evaluation forwards"),
      spec("train.clip_grad_norm", T::Float, "null", "clip the global L2 norm of the gradients to this value before each step (on the device, no host read); null = off", true),
      spec("train.accumulate", T::Int, "null", "train the chosen rows in micro-batches of at most this many, summing gradients into one optimizer step (the same gradient as one pass, up to BatchNorm's per-pass statistics); null = one pass", true),
      spec("train.budget.steps", T::Int, "null", "train for exactly this many optimizer steps (stopping mid-epoch); the LR schedule and the sampler's epoch schedules (annealing, pruning windows, InfoBatch's delta) span them; null = train.epochs epochs. At most one train.budget key", true),
      spec("train.budget.samples", T::Int, "null", "train until exactly this many samples were back-propagated (the last step trimmed to fit); schedules span them as for steps; null = train.epochs epochs", true),
      spec("train.budget.seconds", T::Float, "null", "train for this many seconds of training (evaluation and checkpoints excluded; checked before each step); schedules span them. Not reproducible: what it reached is in summary.json's budget; null = train.epochs epochs", true),
      spec("train.on_nan", T::String, "stop", "a non-finite training loss: stop (keeping the last good checkpoint) or skip the step (a host read per step)", false, {"stop", "skip"}),
      spec("eval.targets", T::FloatList, "[]", "values of the headline metric (task.metric; reached at or above it, at or below for errors and perplexity): summary.json's time_to_target gives the train seconds, epoch, optimizer step and samples back-propagated at the first evaluation that reached each"),
      spec("eval.every_steps", T::Int, "0", "also evaluate every N optimizer steps within epochs, for finer quality-against-time curves (evaluations.jsonl); evaluation is never train time; 0 = after epochs only (train.eval_every)"),
      spec("checkpoint.every", T::Int, "1", "write checkpoints/last.pt every N epochs (and after the last); 0 = only after the last"),
      spec("checkpoint.best", T::Bool, "false", "also keep checkpoints/best.pt, the epoch with the best test_score (accuracy; -RMSE for regression)"),
      spec("distributed.backend", T::String, "auto", "the c10d backend of multi-process runs (torchrun's or Slurm's launch variables; scripts/launch): gloo (CPU), nccl (CUDA), auto = nccl on CUDA, gloo on CPU", false, {"auto", "gloo", "nccl"}),
      spec("distributed.timeout_s", T::Float, "600", "multi-process runs: seconds a rank waits for the others (rendezvous, collectives) before failing with an error naming the rank that stopped answering"),
      spec("distributed.sync_bn", T::Bool, "false", "multi-process runs: BatchNorm layers of esrun's models normalise with the mean and variance of every rank's rows together (as PyTorch's SyncBatchNorm); false = each rank's own share, as DDP without it"),
      spec("distributed.check_sync", T::Bool, "false", "multi-process runs, a debug mode: after every epoch the ranks compare a checksum of the policy's per-sample state and of the model, and fail naming the ranks that diverged"),
      spec("progress.mode", T::String, "auto", "live progress: bar (one redrawn line), lines (periodic log lines), off; auto = bar on a terminal, lines otherwise", false, {"auto", "bar", "lines", "off"}),
      spec("progress.every", T::Float, "30", "seconds between progress lines in lines mode"),
      spec("logging.tensorboard", T::Bool, "false", "write TensorBoard event files into the run directory (tensorboard --logdir runs/): per epoch the losses, test metrics, learning rate, samples back-propagated, noisy fraction and time per phase (docs/tensorboard.md)"),
      spec("logging.tensorboard_steps", T::Int, "0", "with logging.tensorboard: also every this many training steps the mean training loss, the learning rate and the samples back-propagated; 0 = per epoch only"),

      spec("optimizer.name", T::String, "sgd", "optimizer (esrun list optimizers)"),
      spec("optimizer.lr", T::Float, "0.1", "learning rate (the maximum learning rate for onecycle)"),
      spec("optimizer.momentum", T::Float, "0.9", "SGD momentum", false, {}),
      spec("optimizer.nesterov", T::Bool, "false", "SGD Nesterov momentum", false, {}),
      spec("optimizer.weight_decay", T::Float, "5e-4", "L2 weight decay (decoupled for adamw)"),
      spec("optimizer.betas", T::FloatList, "[0.9, 0.999]", "Adam(W) beta1, beta2", false, {}),
      spec("optimizer.eps", T::Float, "1e-8", "Adam(W) epsilon", false, {}),
      spec("optimizer.no_decay_bias_norm", T::String, "auto", "no weight decay on biases, normalisation weights and (vit) the position embedding and class token; auto = on for transformers (vit), off otherwise", false, {"auto", "true", "false"}),

      spec("schedule.name", T::String, "onecycle", "learning-rate schedule over training progress (esrun list schedules)"),
      spec("schedule.pct_start", T::Float, "0.3", "onecycle: fraction of training spent rising to the maximum", false, {}),
      spec("schedule.div_factor", T::Float, "25", "onecycle: initial lr = lr / div_factor", false, {}),
      spec("schedule.final_div_factor", T::Float, "1e4", "onecycle: final lr = initial lr / final_div_factor", false, {}),
      spec("schedule.cycle_momentum", T::Bool, "true", "onecycle: move momentum (SGD) or beta1 (Adam) inversely to the lr, as torch's OneCycleLR does by default", false, {}),
      spec("schedule.base_momentum", T::Float, "0.85", "onecycle: momentum at the lr peak", false, {}),
      spec("schedule.max_momentum", T::Float, "0.95", "onecycle: momentum at the start and end (replaces optimizer.momentum while cycling)", false, {}),
      spec("schedule.warmup_epochs", T::Float, "0", "cosine, linear, poly: linear warm-up length in (fractional) epochs", false, {}),
      spec("schedule.min_lr", T::Float, "0", "cosine, linear, poly: learning rate at the end of training", false, {}),
      spec("schedule.power", T::Float, "1.0", "poly: exponent of the decay (1 = linear)", false, {}),
      spec("schedule.milestones", T::FloatList, "[]", "step: epochs at which the lr is multiplied by gamma", false, {}),
      spec("schedule.gamma", T::Float, "0.1", "step: multiplicative factor at each milestone", false, {}),

      spec("sampler.name", T::String, "uniform", "data-selection policy (esrun list samplers)"),
      spec("sampler.meta_batch", T::Int, "128", "meta-batch size B: samples drawn per step"),
      spec("sampler.mini_batch", T::Int, "null", "mini-batch size b <= B trained per step by batch-level policies; null = from ratio", true, {}),
      spec("sampler.ratio", T::Float, "null", "b/B when mini_batch is null, in (0, 1]; null = the policy's default (0.25; omission: keep; selective_backprop: 1)", true, {}),
      spec("sampler.drop_last", T::Bool, "false", "drop the last meta-batch of an epoch when it is smaller than B"),
      spec("sampler.beta1", T::Float, "null", "ES: weight of the score in w = beta1*s + (1-beta1)*loss (null = 0.2); omission: EMA factor of SCORE (null = 0.9)", true, {}),
      spec("sampler.beta2", T::Float, "null", "ES: EMA factor of the score s (null = 0.9 es, 0.8 eswp); omission: EMA factor of the scale G (null = 0.99); infobatch with ema: EMA factor of H (null = 0.9)", true, {}),
      spec("sampler.anneal_epochs", T::Int, "null", "ES: epochs without selection at each end of training; null = round(0.05 * epochs)", true, {}),
      spec("sampler.prune_ratio", T::Float, "null", "fraction r pruned per epoch (static_prune: once, before training); null = 0.2 (eswp), 0.5 (infobatch), 0.3 (ucb, epsilon_greedy, random_prune, static_prune, reduced_epochs: the fraction of epochs dropped)", true, {}),
      spec("sampler.delta", T::Float, "0.875", "infobatch: prune in epochs e < delta * epochs, then train on everything", false, {}),
      spec("sampler.rescale", T::Bool, "true", "infobatch: weight kept well-learned samples by 1/(1-r) (false: InfoBatch's 'soft pruning' ablation)", false, {}),
      spec("sampler.ema", T::Bool, "false", "infobatch: H <- beta2*H + (1-beta2)*loss instead of H = loss", false, {}),
      spec("sampler.level", T::String, "set", "omission: Bernoulli sampling over the whole set each epoch, or within each meta-batch", false, {"set", "batch"}),
      spec("sampler.keep", T::Float, "0.5", "omission (level set): expected fraction of the data kept per epoch", false, {}),
      spec("sampler.alpha", T::Float, "0.1", "omission: mixing of each score with the mean score", false, {}),
      spec("sampler.candidates", T::StringList, "[big_loss, small_loss, uniform]", "adaselection: candidate methods (big_loss, small_loss, uniform, grad_norm, adaboost, coreset1, coreset2)", false, {}),
      spec("sampler.method_beta", T::Float, "-1.0", "adaselection: beta in [-1, 1] of the method-weight update (-1: the best of the sweep in docs/methods.md on the paper's regressions; beta > 0 drifts to small_loss there)", false, {}),
      spec("sampler.cl_gamma", T::Float, "null", "adaselection: curriculum reward exponent gamma; null = no reward", true, {}),
      spec("sampler.full_batches", T::Bool, "true", "adaselection: the paper's Algorithm 2: chosen samples collect in a set C and one step on B rows is taken whenever C holds B (C carries over to the next epoch; what is left after the last is not trained); false = one step on the k chosen of each meta-batch", false, {}),
      spec("sampler.sb_beta", T::Float, "3.0", "selective_backprop: keep probability CDF(loss)^beta", false, {}),
      spec("sampler.p_min", T::Float, "0.0", "selective_backprop: smallest keep probability", false, {}),
      spec("sampler.history", T::Int, "1024", "selective_backprop: losses kept for the CDF", false, {}),
      spec("sampler.period", T::Int, "1", "ucb, epsilon_greedy: epochs between choices of the kept set", false, {}),
      spec("sampler.ucb_c", T::Float, "1.0", "ucb: weight c of the deviation in mean + c * deviation", false, {}),
      spec("sampler.epsilon", T::Float, "0.1", "epsilon_greedy: fraction of the kept set chosen at random", false, {}),
      spec("sampler.hide_fraction", T::Float, "0.3", "ka: maximum fraction F of the data hidden per epoch", false, {}),
      spec("sampler.confidence", T::Float, "0.7", "ka: a candidate is hidden only if last predicted correctly with this softmax confidence", false, {}),
      spec("sampler.unbiased", T::Bool, "false", "loss: weight each chosen sample by 1/(B p_i), normalised to mean 1", false, {}),
      spec("sampler.adaptive_q", T::Bool, "false", "order: train on b/2, b/4, b/8 once the previous epoch's train accuracy reaches 80/90/95%", false, {}),
      spec("sampler.scores", T::String, "null", "static_prune, rho_loss: the scores file esrun score wrote (docs/scoring.md)", true, {}),
      spec("sampler.score_keep", T::String, "high", "static_prune: keep the highest scores (the hardest), the lowest, or stratified (CCS: strata of equal score width, the hardest hard_cutoff pruned first)", false, {"high", "low", "stratified"}),
      spec("sampler.strata", T::Int, "50", "static_prune with score_keep stratified: number of equal-width score strata", false, {}),
      spec("sampler.hard_cutoff", T::Float, "0.0", "static_prune with score_keep stratified: fraction of the data with the highest scores pruned before the strata are filled (CCS's beta)", false, {}),

      spec("score.method", T::String, "null", "esrun score: the scoring method (esrun list scorers); --method sets it", true),
      spec("score.out", T::String, "null", "esrun score: the scores file to write (--out overrides); its scoring runs go to <file without extension>-runs/", true),
      spec("score.epoch", T::Int, "null", "esrun score: train the scoring model this many epochs (the LR schedule still spans train.epochs) and score it then; null = the method's default: 0 (at initialisation) for grand, train.epochs for the others", true),
      spec("score.holdout_fraction", T::Float, "0.5", "esrun score --method irreducible_loss (RHO-LOSS): fraction of the training split held out to train the irreducible-loss model, excluded from training (rho_loss never trains on it); 0 = no holdout: two models, each trained on one half, score the other half"),
      spec("score.repeats", T::Int, "1", "esrun score: independently initialised scoring models (seed, seed+1, ...; the data as with the first) whose scores are averaged (Paul et al.: 10)"),
      spec("score.checkpoint", T::String, "null", "esrun score: score the model of this run checkpoint (checkpoints/last.pt or best.pt of a run of the same model and data) instead of training one", true),
      spec("score.batch", T::Int, "500", "esrun score: rows per forward when scoring"),
  });
  return keys;
}

const KeySpec* find_key(const std::string& path) {
  static const std::unordered_map<std::string, const KeySpec*> index = [] {
    std::unordered_map<std::string, const KeySpec*> out;
    for (const auto& key : config_schema()) out.emplace(key.path, &key);
    return out;
  }();
  const auto it = index.find(path);
  return it == index.end() ? nullptr : it->second;
}

bool reads(const std::string& name, const std::string& path) {
  const KeySpec* key = find_key(path);
  ESRUN_INTERNAL_CHECK(key != nullptr, "configuration key '", path, "' is not in the schema");
  return key->used_by.empty() || std::find(key->used_by.begin(), key->used_by.end(), name) != key->used_by.end();
}

bool is_section(const std::string& path) {
  for (const auto& key : config_schema())
    if (key.path.size() > path.size() && key.path.compare(0, path.size(), path) == 0 && key.path[path.size()] == '.')
      return true;
  return false;
}

}  // namespace esrun
