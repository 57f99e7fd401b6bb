// fuzz_tokenizer: SentencePiece through esrun's Tokenizer (data/tokenizer.cpp) in its three uses:
//   variant 0: a model file (data.tokenizer.model: a serialized ModelProto) loaded by
//     Tokenizer::load, then used to encode, decode and build BERT-style examples;
//   variant 1: text encoded with a fixed model (as every GLUE and text_lm example is): encode,
//     decode, and a pair split at the first '\t' through encode_examples;
//   variant 2: a tokenizer trained on the text's lines (a run without data.tokenizer.model trains
//     one on the training split), vocabulary 60, model type unigram/bpe/word/char by byte 0 / 3.
// Input: byte 0 picks the variant (byte 0 % 3); the rest is the model or the text.
// SentencePiece itself is Debian's (not instrumented): its memory errors show as crashes only.
#include "esrun/data/tokenizer.h"
#include "fuzz_common.h"

namespace {

const std::vector<std::string> kTypes = {"unigram", "bpe", "word", "char"};
const std::vector<std::string> kSample = {"The quick brown fox jumps over the lazy dog.",
                                          "a plane is taking off", "caf\xc3\xa9 \xe2\x82\xac 42 !?"};

std::optional<esrun::Tokenizer>& fixed() {
  static std::optional<esrun::Tokenizer> tokenizer;
  return tokenizer;
}

esrun::TokenizerOptions options_of(const std::string& type) {
  esrun::TokenizerOptions options;
  options.vocab_size = 60;
  options.model_type = type;
  options.max_length = 8;
  return options;
}

// Protobuf wire format, just enough to shrink a seed: a varint at `at`, advancing it.
uint64_t varint(const std::string& bytes, size_t& at) {
  uint64_t value = 0;
  for (int shift = 0; at < bytes.size() && shift < 64; shift += 7) {
    const auto byte = static_cast<unsigned char>(bytes[at++]);
    value |= static_cast<uint64_t>(byte & 0x7f) << shift;
    if ((byte & 0x80) == 0) break;
  }
  return value;
}

std::string put_varint(uint64_t value) {
  std::string out;
  do {
    out += static_cast<char>((value & 0x7f) | (value > 0x7f ? 0x80 : 0));
    value >>= 7;
  } while (value != 0);
  return out;
}

// `message` with the length-delimited field `field` replaced by `edit(its bytes)`.
std::string edit_field(const std::string& message, uint64_t field,
                       const std::function<std::string(const std::string&)>& edit) {
  std::string out;
  for (size_t at = 0; at < message.size();) {
    const size_t start = at;
    const uint64_t key = varint(message, at);
    switch (key & 7) {
      case 0: varint(message, at); break;
      case 1: at += 8; break;
      case 5: at += 4; break;
      case 2: {
        const uint64_t length = varint(message, at);
        if ((key >> 3) == field) {
          const std::string value = edit(message.substr(at, length));
          out += put_varint(key) + put_varint(value.size()) + value;
          at += length;
          continue;
        }
        at += length;
        break;
      }
      default: return message;  // groups: not in a SentencePiece model
    }
    out += message.substr(start, at - start);
  }
  return out;
}

// A trained model without most of its normaliser's precompiled character map
// (ModelProto.normalizer_spec = 3, NormalizerSpec.precompiled_charsmap = 2): 238 KB of NFKC rules
// cut to `keep` bytes (0: none, an identity normaliser), so that the seeds stay small.
std::string small_model(const std::string& model, size_t keep) {
  return edit_field(model, 3, [&](const std::string& spec) {
    return edit_field(spec, 2, [&](const std::string& charsmap) { return charsmap.substr(0, keep); });
  });
}

void exercise(const esrun::Tokenizer& tokenizer, const std::vector<std::string>& first,
              const std::vector<std::string>& second) {
  for (const auto& text : first) (void)tokenizer.decode(tokenizer.encode(text));
  (void)tokenizer.encode_examples(first, second);
  (void)tokenizer.vocab_size();
}

}  // namespace

extern "C" int LLVMFuzzerInitialize(int*, char***) {
  esrun_fuzz::quiet();
  const std::vector<std::string> text = {"the quick brown fox jumps over the lazy dog",
                                         "a plane is taking off and an air plane is landing",
                                         "what is the answer? it is forty two."};
  if (const std::string dir = esrun_fuzz::seeds_dir(); !dir.empty()) {
    using esrun_fuzz::tagged;
    std::vector<std::pair<std::string, std::string>> seeds;
    for (size_t t = 0; t < kTypes.size(); ++t) {
      const std::string trained = esrun::Tokenizer::train(text, options_of(kTypes[t]), 1).serialized();
      const std::string model = small_model(trained, 0);
      seeds.emplace_back("model-" + kTypes[t], tagged(0, model));
      if (t == 0) {
        seeds.emplace_back("model-charsmap-cut", tagged(0, small_model(trained, 2048)));
        seeds.emplace_back("model-truncated", tagged(0, model.substr(0, model.size() / 2)));
        std::string flipped = model;
        flipped[flipped.size() / 3] = static_cast<char>(flipped[flipped.size() / 3] ^ 0x40);
        seeds.emplace_back("model-flipped-byte", tagged(0, flipped));
      }
      seeds.emplace_back("train-" + kTypes[t], tagged(static_cast<uint8_t>(2 + 3 * t), "the cat sat\non the mat\n"
                                                                                        "the dog sat on the log\n"));
    }
    seeds.emplace_back("encode-pair", tagged(1, "Is it raining?\tIt IS   raining\r\n"));
    seeds.emplace_back("encode-utf8", tagged(1, "\xe6\x97\xa5\xe6\x9c\xac \xf0\x9f\x98\x80 \xc3 \xff\xfe"));
    seeds.emplace_back("train-one-line", tagged(2, "ab"));  // (blank-looking lines: tests/fuzz/crashes)
    esrun_fuzz::write_seeds_and_exit(dir, seeds);
  }
  fixed().emplace(esrun::Tokenizer::train(text, options_of("unigram"), 1));
  return 0;
}

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size == 0) return 0;
  const auto bytes = esrun_fuzz::as_view(data + 1, size - 1);
  switch (data[0] % 3) {
    case 0: {
      const auto path = esrun_fuzz::scratch() / "input.model";
      esrun_fuzz::write_file(path, bytes);
      esrun_fuzz::guarded([&] {
        const auto tokenizer = esrun::Tokenizer::load(path.string(), options_of("unigram"), "data.tokenizer.model");
        exercise(tokenizer, kSample, {kSample[1], kSample[2], kSample[0]});
      });
      break;
    }
    case 1: {
      const std::string text(bytes);
      const auto tab = text.find('\t');
      const std::string a = text.substr(0, tab), b = tab == std::string::npos ? "" : text.substr(tab + 1);
      esrun_fuzz::guarded([&] {
        exercise(*fixed(), {a}, {});
        exercise(*fixed(), {a}, {b});
      });
      break;
    }
    default: {
      std::vector<std::string> lines;
      std::string line;
      for (const char c : bytes) {
        if (c == '\n') lines.push_back(std::move(line)), line.clear();
        else line += c;
      }
      lines.push_back(line);
      esrun_fuzz::guarded([&] {
        const auto tokenizer = esrun::Tokenizer::train(lines, options_of(kTypes[(data[0] / 3) % kTypes.size()]), 1);
        exercise(tokenizer, lines, {});
      });
    }
  }
  return 0;
}
