// causal_lm: next-token prediction over a sequence. The model's outputs are logits per position
// [N, L, V]; targets [N, L] hold at position t the token that follows it, or -1 where nothing is
// predicted (the prompt of an instruction, padding, the end). A sample's loss is the mean token
// cross entropy over its T_i predicted tokens, the quantity every policy scores:
//   l_i = (1 / T_i) sum_t CE(z_it, y_it).
// ||dl_i/dz_i||^2 is sum_t ||softmax(z_it) - onehot(y_it)||^2 / T_i^2. "Correct" is teacher-forced
// exact match: every predicted token is the argmax (so KA hides nothing and train_acc stays near 0
// on free text; it counts on short answers). The confidence is exp(-l_i), the geometric mean of the
// predicted tokens' probabilities. Evaluation: loss per token over the whole test split (sum of CE
// over the sum of T_i, as language models report it), perplexity = exp(loss), acc = the fraction
// of exact matches. The headline metric is perplexity (lower is better).
#include <spdlog/fmt/fmt.h>

#include <cmath>

#include "esrun/core/error.h"
#include "esrun/tasks/task.h"

namespace esrun {
namespace {

namespace F = torch::nn::functional;

class CausalLm final : public Task {
 public:
  CausalLm(const TaskOptions& options, const TaskContext& context)
      : Task("perplexity", task_metrics("causal_lm"), options, context), vocab_(context.vocab_size) {
    ESRUN_CHECK(vocab_ > 0, options.where("task.name"),
                ": causal_lm predicts tokens; it needs a text dataset (text_lm, tokens_jsonl)");
  }

  int64_t outputs() const override { return vocab_; }
  bool per_token() const override { return true; }

  torch::Tensor loss(const torch::Tensor& logits, const torch::Tensor& targets) const override {
    return token_losses(logits, targets).sum(1) / predicted(targets);
  }

  torch::Tensor grad_sq_norm(const torch::Tensor& logits, const torch::Tensor& targets) const override {
    check(logits, targets);
    // ||p - e_y||^2 = ||p||^2 - 2 p_y + 1 per predicted token.
    const auto p = torch::softmax(logits, 2);
    const auto mask = targets.ge(0);
    const auto p_y = p.gather(2, targets.clamp_min(0).unsqueeze(2)).squeeze(2);
    // Clamped: the expansion cancels to rounding error for a confidently right token.
    const auto per_token = (p.pow(2).sum(2) - 2 * p_y + 1).clamp_min(0) * mask.to(p.scalar_type());
    const auto count = predicted(targets);
    return per_token.sum(1) / (count * count);
  }

  torch::Tensor correct(const torch::Tensor& logits, const torch::Tensor& targets) const override {
    check(logits, targets);
    return logits.argmax(2).eq(targets).logical_or(targets.lt(0)).all(1);
  }

  torch::Tensor confidence(const torch::Tensor& logits, const torch::Tensor& targets) const override {
    return torch::exp(-loss(logits, targets));
  }

  // Rows: the sample's summed token CE, its predicted tokens, exact match.
  torch::Tensor eval_rows(const torch::Tensor& logits, const torch::Tensor& targets) const override {
    return torch::stack({token_losses(logits, targets).sum(1).to(torch::kDouble),
                         targets.ge(0).sum(1).to(torch::kDouble), correct(logits, targets).to(torch::kDouble)},
                        1);
  }

  Evaluation eval_result(const torch::Tensor& rows) const override {
    const auto r = rows.cpu();
    const double tokens = std::max(1.0, r.size(0) > 0 ? r.select(1, 1).sum().item<double>() : 0.0);
    Evaluation result;
    result.loss = r.size(0) > 0 ? r.select(1, 0).sum().item<double>() / tokens : 0.0;
    result.perplexity = std::exp(result.loss);
    result.acc = r.size(0) > 0 ? r.select(1, 2).mean().item<double>() : 0.0;
    set_score(result);
    return result;
  }

  std::string describe(const Evaluation& e) const override {
    return fmt::format("perplexity {:.2f}", e.perplexity.value_or(0.0));  // the log line shows the loss already
  }

 private:
  void check(const torch::Tensor& logits, const torch::Tensor& targets) const {
    ESRUN_CHECK(logits.dim() == 3 && targets.dim() == 2 && logits.size(0) == targets.size(0) &&
                    logits.size(1) == targets.size(1) && logits.size(2) == vocab_,
                "causal_lm: expected logits [N, L, ", vocab_, "] per token for targets ", targets.sizes(), ", got ",
                logits.sizes(), "; the model must output one row of vocabulary logits per position");
  }

  // Cross entropy per position [N, L], 0 where targets are -1.
  torch::Tensor token_losses(const torch::Tensor& logits, const torch::Tensor& targets) const {
    check(logits, targets);
    return F::cross_entropy(logits.reshape({-1, vocab_}), targets.reshape({-1}),
                            F::CrossEntropyFuncOptions().reduction(torch::kNone).ignore_index(-1))
        .view(targets.sizes());
  }

  // T_i as floats (at least 1: a sample with nothing to predict has loss 0 and no gradient).
  static torch::Tensor predicted(const torch::Tensor& targets) {
    return targets.ge(0).sum(1).clamp_min(1).to(torch::kFloat);
  }

  int64_t vocab_;
};

const bool registered = tasks().add(
    "causal_lm", "next-token prediction: per-sample mean token cross entropy over the predicted (unmasked) tokens; "
                 "perplexity, loss per token, exact match",
    [](const TaskOptions& o, const TaskContext& c) -> std::unique_ptr<Task> { return std::make_unique<CausalLm>(o, c); },
    {.metrics = {"perplexity", "loss", "acc"}});

}  // namespace
}  // namespace esrun
