// The per-sample record: one column list for packing, unpacking and concatenating.
#include <catch2/catch.hpp>

#include "esrun/sampling/sample_columns.h"

TEST_CASE("Per-sample columns pack into one float tensor and unpack in their own types", "[sampler]") {
  const esrun::SampleColumns columns{torch::tensor({1.5F, 2.5F}), torch::tensor({3.0F, 4.0F}),
                                     torch::tensor({true, false}), torch::tensor({0.25F, 0.75F})};
  const auto packed = columns.pack();
  CHECK(packed.sizes() == torch::IntArrayRef({2, std::size(esrun::kSampleColumns)}));
  CHECK(packed.scalar_type() == torch::kFloat);
  const auto back = columns.unpack(packed);
  CHECK(torch::equal(back.losses, columns.losses));
  CHECK(torch::equal(back.grad_norms, columns.grad_norms));
  CHECK(back.correct.scalar_type() == torch::kBool);
  CHECK(torch::equal(back.correct, columns.correct));
  CHECK(torch::equal(back.confidence, columns.confidence));
}

TEST_CASE("Per-sample columns of micro-batches concatenate in order, and no rows have every column", "[sampler]") {
  const esrun::SampleColumns a{torch::tensor({1.0F}), torch::tensor({2.0F}), torch::tensor({true}), torch::tensor({0.5F})};
  const esrun::SampleColumns b{torch::tensor({3.0F}), torch::tensor({4.0F}), torch::tensor({false}), torch::tensor({0.1F})};
  const auto both = esrun::SampleColumns::cat({a, b});
  CHECK(torch::equal(both.losses, torch::tensor({1.0F, 3.0F})));
  CHECK(torch::equal(both.correct, torch::tensor({true, false})));
  const auto none = esrun::SampleColumns::none(torch::kCPU);
  for (const auto column : esrun::kSampleColumns) CHECK((none.*column).size(0) == 0);
  CHECK(none.correct.scalar_type() == torch::kBool);
}
