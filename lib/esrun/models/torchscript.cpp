// torchscript: a TorchScript module (torch.jit.save; scripts/export_torchscript.py exports timm
// and Hugging Face models) fine-tuned like a built-in model.
//   inputs: images [N, C, H, W] to a forward with one tensor argument; token batches to a forward
//     that declares some of input_ids, attention_mask and token_type_ids (int64 [N, L], by the
//     argument names of its schema), each batch cut to its longest example unless the task is
//     per token. Any other signature is an error naming both sides.
//   output: the logits, found in forward's output as the tensor itself, a tuple element or a dict
//     entry (model.torchscript.output; auto: element 0, or "logits"); [N, outputs], or
//     [N, L, vocab] for causal_lm.
//   head surgery (model.torchscript.head): the classifier's weight and bias are replaced by new
//     tensors for the run's outputs, N(0, 0.02) and 0, as Hugging Face initialises classifiers;
//     auto takes the last Linear submodule and replaces it only when its size differs. The forward
//     code stays the module's own: a Linear's forward reads whatever weight it holds.
//   freezing (model.torchscript.freeze): parameters whose dotted names match a glob pattern keep
//     requires_grad false and stay out of the optimizer; a pattern matching nothing is an error.
//   the new head trains at model.torchscript.head_lr_scale times the schedule's learning rate.
// The module's parameters and buffers are registered with this Model under their dotted names with
// "." written "__" (libtorch's module names take no dots), sharing storage with the module, so
// that the optimizer, checkpoints, resume, device moves and frozen-BatchNorm scoring see them as a
// built-in model's. A probe forward of two samples at load time checks the inputs and the output's
// shape, so a mismatched module fails before training starts.
#include <fnmatch.h>
#include <spdlog/spdlog.h>
#include <torch/csrc/jit/frontend/error_report.h>
#include <torch/script.h>

#include <set>
#include <sstream>
#include <unordered_map>

#include "esrun/core/error.h"
#include "esrun/models/model.h"

namespace esrun {
namespace {

const std::vector<std::string> kTextInputs = {"input_ids", "attention_mask", "token_type_ids"};

// Traced graphs may name arguments "input_ids.1".
std::string plain_name(const std::string& name) {
  const auto dot = name.find('.');
  return dot == std::string::npos ? name : name.substr(0, dot);
}

std::string registered_name(std::string name) {
  for (size_t at = name.find('.'); at != std::string::npos; at = name.find('.', at + 2)) name.replace(at, 1, "__");
  return name;
}

bool is_linear(const torch::jit::Module& module) {
  const auto type = module.type()->name();
  const bool named = type && type->name().find("Linear") != std::string::npos;
  return named && module.hasattr("weight") && module.attr("weight").isTensor() && module.attr("weight").toTensor().dim() == 2;
}

class TorchScriptModel final : public Model {
 public:
  explicit TorchScriptModel(const ModelOptions& o)
      : options_(o.torchscript),
        per_token_(o.per_token),
        output_key_(o.where("model.torchscript.output")),
        file_(o.where("model.torchscript.path") + ": " + o.torchscript.path) {
    const std::string key = o.where("model.torchscript.path");
    try {
      module_ = torch::jit::load(options_.path, torch::Device(o.device));
    } catch (const std::exception& e) {  // c10::Error, or jit's ErrorReport for an op this libtorch lacks
      ESRUN_FAIL(key, ": '", options_.path, "' is not a TorchScript archive libtorch can read (", reason(e),
                 "); save one with torch.jit.save (scripts/export_torchscript.py)");
    }
    ESRUN_CHECK(module_.find_method("forward").has_value(), key, ": '", options_.path, "' has no forward method");
    try {
      adopt(o);
    } catch (const Error&) {
      throw;
    } catch (const std::exception& e) {  // libtorch's, for a module whose tensors esrun cannot train
      ESRUN_FAIL(key, ": '", options_.path, "' cannot be used as a model here (", reason(e), ")");
    }
  }

 private:
  // libtorch's reason. A TorchScript compile error (jit::ErrorReport) forms its message when asked,
  // from the archive's source: for a damaged archive that throws inside what(), which is noexcept,
  // and ends the process; so its message is not asked for.
  static std::string reason(const std::exception& e) {
    if (dynamic_cast<const torch::jit::ErrorReport*>(&e) != nullptr)
      return "TorchScript cannot compile the archive's code: it is damaged, or uses an operator this libtorch lacks";
    return libtorch_reason(e);
  }

  // The module's inputs, its head for this dataset, and its tensors as this Model's parameters and
  // buffers; then one forward pass on a probe batch.
  void adopt(const ModelOptions& o) {
    describe_inputs(o);
    replace_head(o);
    const auto frozen = frozen_parameters(o);
    // Every parameter trains unless frozen, whatever requires_grad it was saved with. Tied weights
    // (one tensor under several names) are registered once, under their first name.
    std::set<const c10::TensorImpl*> seen;
    const auto add = [&](const std::string& name, const torch::Tensor& tensor, bool buffer) {
      if (!seen.insert(tensor.unsafeGetTensorImpl()).second) return;
      const std::string registered = registered_name(name);
      ESRUN_CHECK(!named_parameters().contains(registered) && !named_buffers().contains(registered), file_,
                  ": two of the module's tensors are both named '", registered, "' once dots are written __");
      if (buffer) register_buffer(registered, tensor);
      else register_parameter(registered, tensor, frozen.count(tensor.unsafeGetTensorImpl()) == 0);
    };
    for (const auto& p : module_.named_parameters(/*recurse=*/true)) add(p.name, p.value, false);
    for (const auto& b : module_.named_buffers(/*recurse=*/true)) add(b.name, b.value, true);
    probe(o);
    module_.train(true);
  }

 public:
  torch::Tensor forward(torch::Tensor x) override {
    if (text_) {
      ESRUN_CHECK(x.dim() == 3 && x.size(1) == 2, "torchscript: expected token ids [N, 2, L], got ", x.sizes());
      if (!per_token_) {  // cut to the batch's longest example (one host read)
        const int64_t length = x.select(1, 1).gt(0).sum(1).max().item<int64_t>();
        x = x.narrow(2, 0, std::max<int64_t>(1, length));
      }
      // By name: a forward may declare other arguments with defaults between them.
      const auto segment_plus_one = x.select(1, 1).to(torch::kLong);
      std::unordered_map<std::string, torch::IValue> named;
      for (const auto& [argument, input] : arguments_) {
        if (input == "input_ids") named.emplace(argument, x.select(1, 0).to(torch::kLong));
        else if (input == "attention_mask") named.emplace(argument, segment_plus_one.gt(0).to(torch::kLong));
        else named.emplace(argument, (segment_plus_one - 1).clamp_min(0));
      }
      return logits_of(call({}, named, x.sizes()));
    }
    return logits_of(call({x}, {}, x.sizes()));
  }

  void train(bool on) override {
    Model::train(on);
    module_.train(on);
  }

  bool default_no_decay() const override { return true; }
  double lr_scale(const std::string& parameter) const override {
    return std::find(head_.begin(), head_.end(), parameter) != head_.end() ? options_.head_lr_scale : 1.0;
  }

 private:
  // The module's forward; its own failures (a trace specialised to other shapes, an op on the wrong
  // device) become errors naming the file, the batch and the signature.
  torch::IValue call(std::vector<torch::IValue> args, const std::unordered_map<std::string, torch::IValue>& named,
                     torch::IntArrayRef batch) {
    try {
      return module_.get_method("forward")(std::move(args), named);
    } catch (const Error&) {
      throw;
    } catch (const std::exception& e) {
      ESRUN_FAIL(file_, ": the module's forward failed on a batch ", batch, " (", libtorch_reason(e),
                 "); its signature is ", signature(), text_ ? "; are the sequences longer than its position embeddings?" : "");
    }
  }

  std::string signature() const {
    std::ostringstream out;
    out << module_.get_method("forward").function().getSchema();
    return out.str();
  }

  // Which of the data's inputs the forward takes, in its argument order.
  void describe_inputs(const ModelOptions& o) {
    text_ = o.vocab_size > 0;
    const auto& schema = module_.get_method("forward").function().getSchema();
    std::vector<std::string> required, unknown;
    for (size_t i = 1; i < schema.arguments().size(); ++i) {  // 0 is self
      const auto& argument = schema.arguments()[i];
      const std::string name = plain_name(argument.name());
      const bool known = std::find(kTextInputs.begin(), kTextInputs.end(), name) != kTextInputs.end();
      if (!argument.default_value()) required.push_back(name);
      if (text_ && known) arguments_.emplace_back(argument.name(), name);
      else if (text_ && !argument.default_value()) unknown.push_back(name);
    }
    const std::string given = text_ ? "token batches (input_ids, attention_mask, token_type_ids: int64 [N, L])"
                                    : "one tensor per batch: " + input_kind(o);
    const std::string where = o.where("model.torchscript.path") + ": " + options_.path + "'s " + signature();
    if (text_) {
      const bool ids = std::any_of(arguments_.begin(), arguments_.end(), [](const auto& a) { return a.second == "input_ids"; });
      ESRUN_CHECK(unknown.empty() && ids, where,
                  " does not take the data's inputs; the dataset gives ", given, ", passed by those argument names",
                  unknown.empty() ? "" : " (it requires " + join(unknown) + ")");
    } else {
      const bool takes_tokens = required.size() == 1 &&
                                std::find(kTextInputs.begin(), kTextInputs.end(), required[0]) != kTextInputs.end();
      ESRUN_CHECK(required.size() == 1 && !takes_tokens, where, " does not take the data's inputs; the dataset gives ", given);
    }
  }

  // The submodule that model.torchscript.head names, or the last Linear for auto; nullopt for none.
  std::optional<std::pair<std::string, torch::jit::Module>> find_head(const ModelOptions& o) const {
    if (options_.head == "none") return std::nullopt;
    std::optional<std::pair<std::string, torch::jit::Module>> found;
    std::vector<std::string> linears;
    for (const auto& item : module_.named_modules()) {
      if (is_linear(item.value)) linears.push_back(item.name);
      if (options_.head == "auto" ? is_linear(item.value) : item.name == options_.head) found.emplace(item.name, item.value);
    }
    const std::string where = o.where("model.torchscript.head");
    ESRUN_CHECK(found.has_value(), where, ": ",
                options_.head == "auto" ? std::string("the module has no Linear submodule to replace")
                                        : "the module has no submodule '" + options_.head + "'",
                linears.empty() ? std::string("; set none") : "; its Linear submodules: " + join(linears));
    ESRUN_CHECK(is_linear(found->second), where, ": '", found->first, "' is not a Linear layer with a 2-D weight",
                linears.empty() ? std::string() : "; the module's Linear submodules: " + join(linears));
    return found;
  }

  void replace_head(const ModelOptions& o) {
    auto head = find_head(o);
    if (!head) return;
    auto& [name, layer] = *head;
    const auto weight = layer.attr("weight").toTensor();
    if (options_.head == "auto" && weight.size(0) == o.outputs) return;  // already the run's size
    // A language model's head is its vocabulary: a new one would forget it (and untie it).
    ESRUN_CHECK(!(per_token_ && options_.head == "auto"), o.where("model.torchscript.head"), ": the module's last Linear '",
                name, "' has ", weight.size(0), " outputs but the run predicts ", o.outputs,
                " tokens (data.tokens_jsonl.vocab_size); give the model's own vocabulary size, or name the layer to "
                "replace it on purpose");
    torch::NoGradGuard no_grad;
    layer.register_parameter("weight", torch::empty({o.outputs, weight.size(1)}, weight.options()).normal_(0.0, 0.02), false);
    head_.push_back(registered_name(name + ".weight"));
    if (layer.hasattr("bias") && layer.attr("bias").isTensor()) {
      layer.register_parameter("bias", torch::zeros({o.outputs}, weight.options()), false);
      head_.push_back(registered_name(name + ".bias"));
    }
    spdlog::info("torchscript: replaced the head '{}' ({} outputs) with a new one of {}", name, weight.size(0), o.outputs);
  }

  // The tensors model.torchscript.freeze matches under any of their names.
  std::set<const c10::TensorImpl*> frozen_parameters(const ModelOptions& o) const {
    std::vector<std::string> names;
    for (const auto& p : module_.named_parameters(/*recurse=*/true)) names.push_back(p.name);
    std::set<const c10::TensorImpl*> frozen;
    for (const auto& pattern : options_.freeze) {
      bool matched = false;
      for (const auto& p : module_.named_parameters(/*recurse=*/true)) {
        if (fnmatch(pattern.c_str(), p.name.c_str(), 0) != 0) continue;
        matched = true;
        frozen.insert(p.value.unsafeGetTensorImpl());
      }
      const std::vector<std::string> some(names.begin(), names.begin() + static_cast<std::ptrdiff_t>(std::min<size_t>(names.size(), 6)));
      ESRUN_CHECK(matched, o.where("model.torchscript.freeze"), ": '", pattern, "' matches no parameter; the module's "
                  "parameters are named like ", join(some), names.size() > some.size() ? ", ..." : "");
    }
    return frozen;
  }

  torch::Tensor logits_of(const torch::IValue& out) const {
    const std::string setting = options_.output ? "'" + *options_.output + "'" : std::string("auto");
    if (out.isTensor()) {
      ESRUN_CHECK(!options_.output, output_key_, ": is ", setting,
                  ", but the module's forward returns a tensor; set null");
      return out.toTensor();
    }
    if (out.isTuple()) {
      const auto& elements = out.toTupleRef().elements();
      size_t index = 0;
      if (options_.output) {
        try {
          index = std::stoul(*options_.output);
        } catch (const std::exception&) {
          ESRUN_FAIL(output_key_, ": is ", setting, ", but the module returns a tuple of ", elements.size(),
                     "; expected an index 0..", elements.size() - 1);
        }
      }
      ESRUN_CHECK(index < elements.size() && elements[index].isTensor(), output_key_, ": the module returns a tuple of ", elements.size(), " and element ", index, " is not a tensor of logits; set the index "
                  "of the logits");
      return elements[index].toTensor();
    }
    if (out.isGenericDict()) {
      const std::string wanted = options_.output.value_or("logits");
      std::vector<std::string> keys;
      for (const auto& entry : out.toGenericDict()) {
        if (!entry.key().isString()) continue;
        keys.push_back(entry.key().toStringRef());
        if (keys.back() == wanted && entry.value().isTensor()) return entry.value().toTensor();
      }
      ESRUN_FAIL(output_key_, ": the module returns a dict without a tensor \"", wanted, "\" (keys: ",
                 join(keys), "); set the key of the logits");
    }
    ESRUN_FAIL(output_key_, ": the module returns ", out.tagKind(),
               ", not logits (a tensor, or a tuple or dict holding them)");
  }

  // Two samples of the data's shape through the module: the inputs are accepted and the logits
  // have the run's size.
  void probe(const ModelOptions& o) {
    std::vector<int64_t> shape{2};
    shape.insert(shape.end(), o.input_shape.begin(), o.input_shape.end());
    auto x = torch::zeros(shape, torch::TensorOptions().device(torch::Device(o.device)).dtype(text_ ? torch::kInt : torch::kFloat));
    if (text_) x.select(1, 1).fill_(1);
    torch::Tensor logits;
    {
      torch::NoGradGuard no_grad;
      module_.train(false);
      logits = forward(x);
      if (text_ && !per_token_) {  // batches are cut to their longest example: one token long too
        auto short_batch = x.clone();
        short_batch.select(1, 1).narrow(1, 1, shape.back() - 1).zero_();
        forward(short_batch);
      }
    }
    std::vector<int64_t> expected{2};
    if (per_token_) expected.push_back(shape.back());
    expected.push_back(o.outputs);
    ESRUN_CHECK(logits.sizes() == torch::IntArrayRef(expected), file_, ": the logits have shape ", logits.sizes(),
                " for two samples, expected ", torch::IntArrayRef(expected),
                per_token_ ? " (logits per position over the vocabulary for causal_lm)"
                           : " (set model.torchscript.head to the classifier to replace, or to auto)");
  }

  TorchScriptOptions options_;
  bool per_token_ = false, text_ = false;
  torch::jit::Module module_;
  std::string output_key_, file_;       // for errors: model.torchscript.output and .path with their origin
  // text: the forward's arguments (schema name) and the input each takes (input_ids, ...)
  std::vector<std::pair<std::string, std::string>> arguments_;
  std::vector<std::string> head_;       // registered names of the replaced head's parameters
};

const bool registered = models().add(
    "torchscript",
    "an imported TorchScript module (model.torchscript.path; scripts/export_torchscript.py): images or token batches, "
    "head surgery, freezing by pattern, a separate head learning rate",
    [](const ModelOptions& o) -> std::shared_ptr<Model> { return std::make_shared<TorchScriptModel>(o); },
    {.reads = {"model.torchscript.path", "model.torchscript.output", "model.torchscript.head",
        "model.torchscript.freeze", "model.torchscript.head_lr_scale"}});

}  // namespace
}  // namespace esrun
