// fuzz_torchscript: importing a TorchScript file as model.name: torchscript does
// (models/torchscript.cpp): torch::jit::load, the forward's signature read, head surgery on the
// last Linear, parameters and buffers registered, and a probe forward of two samples. Each input
// is imported twice: as an image model (input [3, 2, 2], 2 classes) and as a text model (token
// batches [2, 4], vocabulary 10, 2 classes).
//
// Input: the TorchScript archive's bytes (a zip; libtorch's reader does not check the zip CRCs).
// Seeds are made here with torch::jit::Module (define + save), small and valid, plus nearly valid
// ones whose tensors esrun must refuse: an integer parameter, an integer or buffer head weight.
// A TorchScript file is a program: a forward that loops or allocates without end is a hang or an
// out-of-memory by design, not a parser finding.
#include <torch/script.h>

#include "esrun/models/model.h"
#include "fuzz_common.h"

namespace {

std::vector<esrun::ModelOptions>& variants() {
  static std::vector<esrun::ModelOptions> options;
  return options;
}

torch::jit::Module linear(const std::string& type, int64_t in, int64_t out, bool buffer_weight = false,
                          torch::Dtype dtype = torch::kFloat) {
  torch::jit::Module fc(type);
  const auto weight = (torch::arange(out * in).reshape({out, in}) % 3).to(dtype);
  if (buffer_weight) fc.register_buffer("weight", weight);
  else fc.register_parameter("weight", weight, false);
  fc.register_parameter("bias", torch::zeros({out}), false);
  fc.define("def forward(self, x):\n  return torch.linear(x, self.weight.float(), self.bias)\n");
  return fc;
}

std::string saved(torch::jit::Module& module) {
  std::ostringstream bytes;
  module.save(bytes);
  return bytes.str();
}

[[noreturn]] void write_seeds(const std::string& dir) {
  const std::string kLinear = "__torch__.torch.nn.modules.linear.Linear";
  std::vector<std::pair<std::string, std::string>> seeds;
  {
    torch::jit::Module net("__torch__.ImageNet");
    net.register_module("fc", linear(kLinear, 12, 2));
    net.define("def forward(self, x):\n  return self.fc.forward(x.flatten(1))\n");
    seeds.emplace_back("image-linear", saved(net));
  }
  {
    torch::jit::Module net("__torch__.ImageNet");
    net.register_module("fc", linear(kLinear, 12, 5));  // replaced: 5 outputs, the run has 2
    net.register_buffer("scale", torch::ones({1}));
    net.define("def forward(self, x):\n  return {'logits': self.fc.forward(x.flatten(1) * self.scale), 'aux': x}\n");
    seeds.emplace_back("image-dict-head-replaced", saved(net));
  }
  {
    torch::jit::Module net("__torch__.TextNet");
    net.register_parameter("embed", torch::ones({10, 3}), false);
    net.register_module("classifier", linear(kLinear, 3, 2));
    net.define("def forward(self, input_ids, attention_mask, token_type_ids: Optional[Tensor] = None):\n"
               "  h = torch.embedding(self.embed, input_ids) * attention_mask.unsqueeze(-1).float()\n"
               "  return (self.classifier.forward(h.mean(1)), h)\n");
    seeds.emplace_back("text-tuple", saved(net));
  }
  {
    torch::jit::Module net("__torch__.ImageNet");
    net.register_module("fc", linear(kLinear, 12, 2));
    net.register_parameter("steps", torch::zeros({1}, torch::kLong), false);
    net.define("def forward(self, x):\n  return self.fc.forward(x.flatten(1))\n");
    seeds.emplace_back("integer-parameter", saved(net));
  }
  {
    torch::jit::Module net("__torch__.ImageNet");
    net.register_module("fc", linear(kLinear, 12, 3, false, torch::kLong));
    net.define("def forward(self, x):\n  return self.fc.forward(x.flatten(1))\n");
    seeds.emplace_back("integer-head-weight", saved(net));
  }
  {
    torch::jit::Module net("__torch__.ImageNet");
    net.register_module("fc", linear(kLinear, 12, 3, true));
    net.define("def forward(self, x):\n  return self.fc.forward(x.flatten(1))\n");
    seeds.emplace_back("buffer-head-weight", saved(net));
  }
  {
    torch::jit::Module net("__torch__.ImageNet");
    net.define("def forward(self, x, y):\n  return x\n");
    seeds.emplace_back("two-arguments", saved(net));
  }
  seeds.emplace_back("truncated", seeds[0].second.substr(0, seeds[0].second.size() / 2));
  esrun_fuzz::write_seeds_and_exit(dir, seeds);
}

}  // namespace

extern "C" int LLVMFuzzerInitialize(int*, char***) {
  esrun_fuzz::quiet();
  if (const std::string dir = esrun_fuzz::seeds_dir(); !dir.empty()) write_seeds(dir);
  const std::string path = (esrun_fuzz::scratch() / "model.pt").string();
  esrun::ModelOptions image;
  image.name = "torchscript";
  image.torchscript.path = path;
  image.input_shape = {3, 2, 2};
  image.outputs = 2;
  esrun::ModelOptions text = image;
  text.input_shape = {2, 4};
  text.vocab_size = 10;
  variants() = {image, text};
  return 0;
}

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  esrun_fuzz::write_file(esrun_fuzz::scratch() / "model.pt", esrun_fuzz::as_view(data, size));
  for (const auto& options : variants())
    esrun_fuzz::guarded([&] { (void)esrun::models().create("torchscript", "model.name", options); });
  return 0;
}
