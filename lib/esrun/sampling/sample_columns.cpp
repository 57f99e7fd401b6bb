#include "esrun/sampling/sample_columns.h"

namespace esrun {

torch::Tensor SampleColumns::pack() const {
  std::vector<torch::Tensor> columns;
  for (const auto column : kSampleColumns)
    if ((this->*column).defined()) columns.push_back((this->*column).to(torch::kFloat));
  return torch::stack(columns, 1);
}

SampleColumns SampleColumns::unpack(const torch::Tensor& packed) const {
  SampleColumns out = *this;
  int64_t i = 0;
  for (const auto column : kSampleColumns) {
    if (!(this->*column).defined()) continue;
    const auto values = packed.select(1, i++);
    const auto type = (this->*column).scalar_type();
    out.*column = type == torch::kBool ? values.to(torch::kBool) : values.to(type).contiguous();
  }
  return out;
}

SampleColumns SampleColumns::none(torch::Device device) {
  const auto floats = torch::TensorOptions().dtype(torch::kFloat).device(device);
  SampleColumns out;
  for (const auto column : kSampleColumns) out.*column = torch::zeros({0}, floats);
  out.correct = torch::zeros({0}, floats.dtype(torch::kBool));
  return out;
}

SampleColumns SampleColumns::cat(const std::vector<SampleColumns>& parts) {
  if (parts.size() == 1) return parts[0];
  SampleColumns out;
  for (const auto column : kSampleColumns) {
    std::vector<torch::Tensor> pieces;
    for (const auto& part : parts) pieces.push_back(part.*column);
    if (pieces.front().defined()) out.*column = torch::cat(pieces);
  }
  return out;
}

}  // namespace esrun
