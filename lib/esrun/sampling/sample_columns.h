// The per-sample columns one forward pass yields, as the policies read them (DESIGN.md's
// Observation fields). One type carries them all, for the scoring forward and the training step
// alike, and the code that treats them alike (concatenating micro-batches, gathering them over the
// ranks) goes through kSampleColumns. A column may be left undefined (the scoring forward computes
// no confidence): it then stays undefined through pack, unpack and cat. Adding a column: a member and its entry in kSampleColumns
// here, and its computation in Trainer::measure (train/step.cpp).
#pragma once

#include <torch/torch.h>

#include <vector>

namespace esrun {

struct SampleColumns {
  torch::Tensor losses = {};      // float [n]: the per-sample loss the step uses
  torch::Tensor grad_norms = {};  // float [n]: squared norm of dl/dlogits
  torch::Tensor correct = {};     // bool [n]: argmax == target, or the task's notion of correct
  torch::Tensor confidence = {};  // float [n]: the largest softmax probability

  bool defined() const { return losses.defined(); }
  // float [n, defined columns], one column each, for a collective that moves them in one piece.
  torch::Tensor pack() const;
  // The columns of pack()'s layout, each in this record's column types (bool from 0/1); this
  // record's undefined columns stay undefined.
  SampleColumns unpack(const torch::Tensor& packed) const;
  // The columns of no rows, on `device`.
  static SampleColumns none(torch::Device device);
  // The parts' rows, in order.
  static SampleColumns cat(const std::vector<SampleColumns>& parts);
};

// Every column, in pack()'s order.
inline constexpr torch::Tensor SampleColumns::*kSampleColumns[] = {&SampleColumns::losses, &SampleColumns::grad_norms,
                                                                  &SampleColumns::correct, &SampleColumns::confidence};

}  // namespace esrun
