// libesrun_sentencepiece.so: SentencePiece behind the interface of api.h (see there for why it is
// a separately loaded module).
#include <sentencepiece_processor.h>
#include <sentencepiece_trainer.h>

#include "esrun/data/sentencepiece/api.h"

namespace esrun::sentencepiece_module {
namespace {

class ProcessorModel final : public Model {
 public:
  explicit ProcessorModel(std::unique_ptr<sentencepiece::SentencePieceProcessor> processor)
      : processor_(std::move(processor)) {}
  int piece_size() const override { return processor_->GetPieceSize(); }
  int piece_to_id(const std::string& piece) const override { return processor_->PieceToId(piece); }
  int unk_id() const override { return processor_->unk_id(); }
  int pad_id() const override { return processor_->pad_id(); }
  bool encode(const std::string& text, std::vector<int>& ids, std::string& error) const override {
    const auto status = processor_->Encode(text, &ids);
    if (!status.ok()) error = status.ToString();
    return status.ok();
  }
  bool decode(const std::vector<int>& ids, std::string& text, std::string& error) const override {
    const auto status = processor_->Decode(ids, &text);
    if (!status.ok()) error = status.ToString();
    return status.ok();
  }

 private:
  std::unique_ptr<sentencepiece::SentencePieceProcessor> processor_;
};

class Sentences final : public sentencepiece::SentenceIterator {
 public:
  explicit Sentences(const std::vector<const std::string*>& sentences) : sentences_(sentences) {}
  bool done() const override { return next_ >= sentences_.size(); }
  void Next() override { ++next_; }
  const std::string& value() const override { return *sentences_[next_]; }
  sentencepiece::util::Status status() const override { return {}; }

 private:
  const std::vector<const std::string*>& sentences_;
  size_t next_ = 0;
};

class SentencePieceApi final : public Api {
 public:
  std::unique_ptr<Model> load(const std::string& bytes, std::string& error) const override {
    auto processor = std::make_unique<sentencepiece::SentencePieceProcessor>();
    const auto status = processor->LoadFromSerializedProto(bytes);
    if (!status.ok()) {
      error = status.ToString();
      return nullptr;
    }
    return std::make_unique<ProcessorModel>(std::move(processor));
  }

  bool train(const std::unordered_map<std::string, std::string>& args, const std::vector<const std::string*>& sentences,
             std::string& model, std::string& error) const override {
    Sentences iterator(sentences);
    const auto status = sentencepiece::SentencePieceTrainer::Train(args, &iterator, &model);
    if (!status.ok()) error = status.ToString();
    return status.ok();
  }
};

}  // namespace
}  // namespace esrun::sentencepiece_module

extern "C" const esrun::sentencepiece_module::Api* esrun_sentencepiece_api() {
  static const esrun::sentencepiece_module::SentencePieceApi api;
  return &api;
}
