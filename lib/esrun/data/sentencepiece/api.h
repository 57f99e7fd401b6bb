// The boundary between esrun and SentencePiece. Debian's libsentencepiece carries its own copy of
// protobuf-lite and exports its symbols; Debian's libtorch loads the system libprotobuf, whose
// initialisers then bind to SentencePiece's copy and crash before main. So SentencePiece is never
// linked into esrun: the module libesrun_sentencepiece.so (module.cpp, the only code that includes
// SentencePiece's headers) is loaded with dlopen(RTLD_LOCAL | RTLD_DEEPBIND), which keeps its
// symbols out of the process's global scope and binds it to its own. Only this interface of
// virtual functions crosses the boundary; errors come back as strings, never as exceptions.
#pragma once

#include <memory>
#include <string>
#include <unordered_map>
#include <vector>

namespace esrun::sentencepiece_module {

class Model {
 public:
  virtual ~Model() = default;
  virtual int piece_size() const = 0;
  virtual int piece_to_id(const std::string& piece) const = 0;
  virtual int unk_id() const = 0;
  virtual int pad_id() const = 0;  // -1 when the model has none
  // false with `error` set when SentencePiece fails.
  virtual bool encode(const std::string& text, std::vector<int>& ids, std::string& error) const = 0;
  virtual bool decode(const std::vector<int>& ids, std::string& text, std::string& error) const = 0;
};

class Api {
 public:
  virtual ~Api() = default;
  // A model from a serialized ModelProto (a .model file's bytes); nullptr with `error` set.
  virtual std::unique_ptr<Model> load(const std::string& bytes, std::string& error) const = 0;
  // Trains on `sentences` with SentencePiece's trainer flags `args`; the model's bytes in `model`.
  virtual bool train(const std::unordered_map<std::string, std::string>& args,
                     const std::vector<const std::string*>& sentences, std::string& model, std::string& error) const = 0;
};

}  // namespace esrun::sentencepiece_module

// The module's one exported symbol.
extern "C" const esrun::sentencepiece_module::Api* esrun_sentencepiece_api();
