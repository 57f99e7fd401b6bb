#include "esrun/data/tokenizer.h"

#include <dlfcn.h>
#include <spdlog/spdlog.h>

#include <algorithm>
#include <chrono>
#include <filesystem>
#include <fstream>
#include <optional>
#include <sstream>
#include <unordered_map>

#include "esrun/core/error.h"
#include "esrun/core/files.h"
#include "esrun/core/rng.h"
#include "esrun/core/sanitizer.h"
#include "esrun/data/sentencepiece/api.h"

namespace esrun {
namespace {

// The special pieces of BERT and ALBERT (ALBERT's spiece.model: <pad> 0, <unk> 1, [CLS] 2,
// [SEP] 3, [MASK] 4); a trained model gets the same ids.
constexpr const char* kCls = "[CLS]";
constexpr const char* kSep = "[SEP]";

// The SentencePiece module is opened with dlopen(RTLD_LOCAL | RTLD_DEEPBIND) (sentencepiece/api.h).
// AddressSanitizer's dlopen interceptor refuses RTLD_DEEPBIND (a deep-bound library's malloc would
// bypass ASan's; google/sanitizers#611), so the sanitizer build (scripts/sanitize.sh) calls the C
// library's dlopen past it. The module's C++ allocations still reach ASan: they go through
// libstdc++'s operator new, bound to ASan's malloc when libstdc++ loaded. Its option
// alloc_dealloc_mismatch=0 (tests/sanitize/options.sh) is the price: ASan sees that operator new
// as malloc, and esrun's operator delete of a string the module made as a mismatch.

void* open_module(const char* path) {
  constexpr int flags = RTLD_NOW | RTLD_LOCAL | RTLD_DEEPBIND;
#ifdef ESRUN_ADDRESS_SANITIZER
  using Dlopen = void* (*)(const char*, int);
  static const auto libc_dlopen = reinterpret_cast<Dlopen>(dlsym(RTLD_NEXT, "dlopen"));
  if (libc_dlopen != nullptr) return libc_dlopen(path, flags);
#endif
  return dlopen(path, flags);
}

// The SentencePiece module (sentencepiece/api.h), loaded once: from the executable's folder, else
// from the build folder it was built in.
const sentencepiece_module::Api& sentencepiece() {
  static const sentencepiece_module::Api* api = [] {
    namespace fs = std::filesystem;
    constexpr const char* kModule = "libesrun_sentencepiece.so";
    std::error_code ignored;
    const std::vector<fs::path> candidates = {fs::read_symlink("/proc/self/exe", ignored).parent_path() / kModule,
                                              fs::path(ESRUN_MODULE_DIR) / kModule};
    std::string tried;
    for (const auto& path : candidates) {
      void* handle = open_module(path.c_str());
      if (handle == nullptr) {
        const char* error = dlerror();
        tried += "\n  " + path.string() + ": " + (error ? error : "not loadable");
        continue;
      }
      // The module stays loaded for the life of the process: the Api and every Model live in it.
      using Entry = const sentencepiece_module::Api* (*)();
      if (auto* entry = reinterpret_cast<Entry>(dlsym(handle, "esrun_sentencepiece_api"))) return entry();
      dlclose(handle);
      tried += "\n  " + path.string() + ": no esrun_sentencepiece_api";
    }
    ESRUN_FAIL("text datasets need esrun's SentencePiece module ", kModule, ", built beside esrun; tried:", tried);
  }();
  return *api;
}

std::unique_ptr<sentencepiece_module::Model> load_model(const std::string& bytes, const std::string& what) {
  std::string error;
  auto model = sentencepiece().load(bytes, error);
  ESRUN_CHECK(model && model->piece_size() > 0, what, " is not a SentencePiece model (",
              model ? "no pieces" : error, ")");
  return model;
}

}  // namespace

Tokenizer::Tokenizer(std::unique_ptr<sentencepiece_module::Model> model, std::string serialized,
                     const TokenizerOptions& options, const std::string& what)
    : model_(std::move(model)),
      serialized_(std::move(serialized)),
      lowercase_(options.lowercase),
      max_length_(options.max_length) {
  const auto special = [&](const char* piece) {
    const int id = model_->piece_to_id(piece);
    ESRUN_CHECK(id != model_->unk_id() && id >= 0, what, ": the SentencePiece model has no '", piece,
                "' piece; BERT-style encoding needs [CLS] and [SEP] (ALBERT's spiece.model has both)");
    return id;
  };
  cls_ = special(kCls);
  sep_ = special(kSep);
  pad_ = std::max(0, model_->pad_id());  // padded positions are masked; any valid id will do
}

Tokenizer::~Tokenizer() = default;
Tokenizer::Tokenizer(Tokenizer&&) noexcept = default;
Tokenizer& Tokenizer::operator=(Tokenizer&&) noexcept = default;

Tokenizer Tokenizer::load(const std::string& path, const TokenizerOptions& options, const std::string& key) {
  std::ifstream in(path, std::ios::binary);
  ESRUN_CHECK(in, key, ": cannot open SentencePiece model file '", path, "'");
  std::stringstream bytes;
  bytes << in.rdbuf();
  std::string serialized = bytes.str();
  const std::string what = key + ": '" + path + "'";
  auto model = load_model(serialized, what);
  return Tokenizer(std::move(model), std::move(serialized), options, what);
}

Tokenizer Tokenizer::train(const std::vector<std::string>& sentences, const TokenizerOptions& options, uint64_t seed) {
  // SentencePiece's normalisation drops whitespace and control characters, and its trainer ends the
  // process when nothing is left: a sentence counts only with a visible character.
  const auto visible = [](const std::string& s) {
    return std::any_of(s.begin(), s.end(), [](char c) {
      const auto byte = static_cast<unsigned char>(c);
      return byte > 0x20 && byte != 0x7f;
    });
  };
  std::vector<const std::string*> chosen;
  for (const auto& s : sentences)
    if (visible(s)) chosen.push_back(&s);
  ESRUN_CHECK(!chosen.empty(), "data.tokenizer: the training split has no text to train a SentencePiece model on",
              " (only whitespace and control characters)");
  if (options.train_sentences && static_cast<int64_t>(chosen.size()) > *options.train_sentences) {
    auto gen = make_generator(seed, "tokenizer");
    const auto rows = std::get<0>(torch::randperm(static_cast<int64_t>(chosen.size()), gen, torch::kLong)
                                      .narrow(0, 0, *options.train_sentences).sort());
    const auto row = rows.accessor<int64_t, 1>();
    std::vector<const std::string*> sample;
    for (int64_t i = 0; i < rows.size(0); ++i) sample.push_back(chosen[static_cast<size_t>(row[i])]);
    chosen = std::move(sample);
  }
  // One thread and every given sentence (no sampling, no shuffling inside SentencePiece): the same
  // sentences give the same model on any machine.
  const std::unordered_map<std::string, std::string> args = {
      {"vocab_size", std::to_string(options.vocab_size)},
      {"model_type", options.model_type},
      {"pad_id", "0"},
      {"unk_id", "1"},
      {"bos_id", "-1"},
      {"eos_id", "-1"},
      {"control_symbols", std::string(kCls) + "," + kSep + ",[MASK]"},
      {"hard_vocab_limit", "false"},  // a small corpus gets the vocabulary it supports
      {"input_sentence_size", "0"},
      {"shuffle_input_sentence", "false"},
      {"num_threads", "1"},
      {"minloglevel", "2"},
  };
  std::string serialized, error;
  ESRUN_CHECK(sentencepiece().train(args, chosen, serialized, error), "data.tokenizer: training a SentencePiece model "
              "(vocab_size ", options.vocab_size, ", ", options.model_type, ") on ", chosen.size(),
              " sentences failed: ", error);
  auto model = load_model(serialized, "data.tokenizer: the trained model");
  return Tokenizer(std::move(model), std::move(serialized), options, "data.tokenizer");
}

int64_t Tokenizer::vocab_size() const { return model_->piece_size(); }

std::string Tokenizer::preprocess(const std::string& text) const {
  std::string out;
  out.reserve(text.size());
  bool space = false;
  for (const char raw : text) {
    const auto c = static_cast<unsigned char>(raw);
    if (c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\f' || c == '\v') {
      space = !out.empty();
      continue;
    }
    if (space) out.push_back(' ');
    space = false;
    out.push_back(lowercase_ && c >= 'A' && c <= 'Z' ? static_cast<char>(c - 'A' + 'a') : raw);
  }
  return out;
}

std::vector<int> Tokenizer::encode(const std::string& text) const {
  std::vector<int> ids;
  std::string error;
  ESRUN_CHECK(model_->encode(preprocess(text), ids, error), "SentencePiece could not encode '", text.substr(0, 80),
              "': ", error);
  return ids;
}

std::string Tokenizer::decode(const std::vector<int>& ids) const {
  std::string text, error;
  ESRUN_CHECK(model_->decode(ids, text, error), "SentencePiece could not decode ", ids.size(), " ids: ", error);
  return text;
}

Tokenizer tokenizer_for(const DataOptions& o, const std::vector<std::string>& training_text) {
  namespace fs = std::filesystem;
  const TokenizerOptions& t = o.tokenizer;
  constexpr const char* kFile = "tokenizer.model";
  std::optional<Tokenizer> tokenizer;
  if (t.model) {
    tokenizer = Tokenizer::load(*t.model, t, o.where("data.tokenizer.model"));
  } else if (!o.resume_dir.empty()) {
    const fs::path saved = fs::path(o.resume_dir) / kFile;
    ESRUN_CHECK(fs::exists(saved), "--resume ", o.resume_dir, ": no ", kFile, " in the run directory; the run trained "
                "its SentencePiece model at start and a resumed run must reuse it");
    // The checksum written beside it (runs of every esrun that seals its files) finds a damaged byte that still parses.
    const fs::path sum = saved.string() + ".fnv1a64";
    if (fs::exists(sum)) {
      const std::string recorded = read_file(sum), now = fmt::format("{:016x}", fnv1a64(read_file(saved)));
      ESRUN_CHECK(recorded.substr(0, 16) == now, "--resume ", o.resume_dir, ": '", saved.string(),
                  "' is damaged (truncated or corrupt): its checksum does not match its contents (",
                  recorded.substr(0, 16), " recorded in ", sum.filename().string(), ", ", now, " now)");
    }
    tokenizer = Tokenizer::load(saved.string(), t, "--resume " + o.resume_dir);
    spdlog::info("tokenizer: {} ({} pieces, from the run being resumed)", saved.string(), tokenizer->vocab_size());
  } else {
    const auto start = std::chrono::steady_clock::now();
    tokenizer = Tokenizer::train(training_text, t, o.seed);
    spdlog::info("tokenizer: trained a SentencePiece {} model of {} pieces on the training split in {:.1f}s",
                 t.model_type, tokenizer->vocab_size(),
                 std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count());
  }
  // A new run always writes its own (a leftover file in a reused --out folder is replaced); a
  // resumed one keeps what it has. A given model file is copied, so the run keeps what it used.
  if (!o.artifacts_dir.empty() && (o.resume_dir.empty() || !fs::exists(fs::path(o.artifacts_dir) / kFile))) {
    const std::string bytes = tokenizer->serialized();
    write_file_atomic(fs::path(o.artifacts_dir) / kFile, bytes);
    write_file_atomic(fs::path(o.artifacts_dir) / (std::string(kFile) + ".fnv1a64"),
                      fmt::format("{:016x}\n", fnv1a64(bytes)));
  }
  return std::move(*tokenizer);
}

void truncate_longest_first(size_t& a, size_t& b, size_t max_tokens) {
  while (a + b > max_tokens) {
    if (a > b) --a;
    else --b;
  }
}

torch::Tensor Tokenizer::encode_examples(const std::vector<std::string>& first,
                                         const std::vector<std::string>& second) const {
  const bool pairs = !second.empty();
  ESRUN_CHECK(!pairs || second.size() == first.size(), "encode_examples: ", first.size(), " first sentences but ",
              second.size(), " second ones");
  const auto n = first.size();
  const auto budget = static_cast<size_t>(max_length_ - (pairs ? 3 : 2));
  std::vector<std::vector<int>> a(n), b(n);
  size_t longest = 0;
  for (size_t i = 0; i < n; ++i) {
    a[i] = encode(first[i]);
    if (pairs) b[i] = encode(second[i]);
    size_t la = a[i].size(), lb = b[i].size();
    truncate_longest_first(la, lb, budget);
    a[i].resize(la);
    b[i].resize(lb);
    longest = std::max(longest, la + lb + (pairs ? 3 : 2));
  }
  const auto length = static_cast<int64_t>(longest);
  auto out = torch::zeros({static_cast<int64_t>(n), 2, length}, torch::kInt);
  out.select(1, 0).fill_(pad_);
  auto acc = out.accessor<int32_t, 3>();
  for (size_t i = 0; i < n; ++i) {
    const auto row = static_cast<int64_t>(i);
    int64_t t = 0;
    const auto put = [&](int id, int segment) {
      acc[row][0][t] = id;
      acc[row][1][t] = segment + 1;
      ++t;
    };
    put(cls_, 0);
    for (const int id : a[i]) put(id, 0);
    put(sep_, 0);
    if (!pairs) continue;
    for (const int id : b[i]) put(id, 1);
    put(sep_, 1);
  }
  return out;
}

}  // namespace esrun
