// Distributed start-up: the launch environment (torchrun, Slurm), Slurm node lists, the c10d
// rendezvous and collectives over Gloo on loopback (ranks as threads of this process).
#include <catch2/catch.hpp>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <map>
#include <mutex>
#include <thread>

#include "esrun/core/distributed.h"
#include "esrun/core/error.h"
#include "esrun/models/batch_norm.h"
#include "esrun/sampling/sample_columns.h"
#include "esrun/train/data_parallel.h"

using Catch::Matchers::Contains;

// libtorch 2.x records every collective in a process-wide flight recorder, which crashes when
// several process groups of one process enqueue from different threads at once, as the ranks of
// these tests do (an esrun process has one group, used from one thread at a time): switched off
// before any group exists.
[[maybe_unused]] const bool flight_recorder_off = [] { return ::setenv("TORCH_FR_BUFFER_SIZE", "0", 1) == 0; }();

// Catch2 v2's assertions are not thread-safe, and the ranks here are threads: they take turns
// (so an assertion must never wait for a collective inside it).
std::mutex assertions;
#define RANK_CHECK(...)                                  \
  do {                                                   \
    std::lock_guard<std::mutex> assertion_(assertions);  \
    CHECK(__VA_ARGS__);                                  \
  } while (false)
#define RANK_CHECK_FALSE(...)                            \
  do {                                                   \
    std::lock_guard<std::mutex> assertion_(assertions);  \
    CHECK_FALSE(__VA_ARGS__);                            \
  } while (false)
#define RANK_REQUIRE(...)                                \
  do {                                                   \
    std::lock_guard<std::mutex> assertion_(assertions);  \
    REQUIRE(__VA_ARGS__);                                \
  } while (false)

namespace {

esrun::Environment variables(std::map<std::string, std::string> values) {
  return [values](const std::string& name) -> std::optional<std::string> {
    const auto found = values.find(name);
    return found == values.end() ? std::nullopt : std::optional<std::string>(found->second);
  };
}

// A port for one test's rendezvous: one the system had free a moment ago (bound to port 0 on
// loopback and released), so that test binaries running side by side do not collide.
int free_port() {
  const int socket = ::socket(AF_INET, SOCK_STREAM, 0);
  RANK_REQUIRE(socket >= 0);
  sockaddr_in address{};
  address.sin_family = AF_INET;
  address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  socklen_t size = sizeof(address);
  const bool bound = ::bind(socket, reinterpret_cast<sockaddr*>(&address), sizeof(address)) == 0 &&
                     ::getsockname(socket, reinterpret_cast<sockaddr*>(&address), &size) == 0;
  ::close(socket);
  RANK_REQUIRE(bound);
  return ntohs(address.sin_port);
}

// Runs `body(group)` on `world` ranks, each a thread with its own process group.
void on_ranks(int world, int port, const std::function<void(esrun::ProcessGroup&)>& body,
              std::chrono::milliseconds timeout = std::chrono::seconds(20)) {
  std::vector<std::thread> threads;
  std::vector<std::exception_ptr> errors(static_cast<size_t>(world));
  for (int rank = 0; rank < world; ++rank)
    threads.emplace_back([&, rank] {
      try {
        esrun::LaunchEnvironment launch;
        launch.rank = rank;
        launch.world_size = world;
        launch.master_port = port;
        auto group = esrun::ProcessGroup::connect(launch, "gloo", timeout);
        body(*group);
      } catch (...) {
        errors[static_cast<size_t>(rank)] = std::current_exception();
      }
    });
  for (auto& thread : threads) thread.join();
  for (const auto& error : errors)
    if (error) std::rethrow_exception(error);
}

}  // namespace

TEST_CASE("The launch environment is read from torchrun's variables, Slurm's, or neither", "[distributed]") {
  const auto single = esrun::launch_environment(variables({}));
  RANK_CHECK(single.world_size == 1);
  RANK_CHECK_FALSE(single.distributed());

  const auto torchrun = esrun::launch_environment(variables(
      {{"RANK", "3"}, {"WORLD_SIZE", "8"}, {"LOCAL_RANK", "1"}, {"MASTER_ADDR", "node7"}, {"MASTER_PORT", "29511"}}));
  RANK_CHECK(torchrun.source == "torchrun");
  RANK_CHECK(torchrun.rank == 3);
  RANK_CHECK(torchrun.world_size == 8);
  RANK_CHECK(torchrun.local_rank == 1);
  RANK_CHECK(torchrun.master_addr == "node7");
  RANK_CHECK(torchrun.master_port == 29511);

  const auto slurm = esrun::launch_environment(variables(
      {{"SLURM_PROCID", "5"}, {"SLURM_NTASKS", "16"}, {"SLURM_LOCALID", "1"}, {"SLURM_NODELIST", "gpu[03-06,09],cpu1"}}));
  RANK_CHECK(slurm.source == "slurm");
  RANK_CHECK(slurm.rank == 5);
  RANK_CHECK(slurm.world_size == 16);
  RANK_CHECK(slurm.local_rank == 1);
  RANK_CHECK(slurm.master_addr == "gpu03");
  RANK_CHECK(slurm.master_port == 29500);

  REQUIRE_THROWS_WITH(esrun::launch_environment(variables({{"RANK", "2"}, {"WORLD_SIZE", "2"}})),
                      Contains("RANK=2: expected a rank in [0, 2)"));
  REQUIRE_THROWS_WITH(esrun::launch_environment(variables({{"RANK", "x"}, {"WORLD_SIZE", "2"}})),
                      Contains("RANK='x': expected an integer"));
  REQUIRE_THROWS_WITH(esrun::launch_environment(variables({{"RANK", "0"}})), Contains("WORLD_SIZE is not set"));
  REQUIRE_THROWS_WITH(esrun::launch_environment(variables({{"RANK", "0"}, {"WORLD_SIZE", "2"}, {"MASTER_PORT", "70000"}})),
                      Contains("MASTER_PORT=70000"));
}

TEST_CASE("The first host of a Slurm node list", "[distributed]") {
  RANK_CHECK(esrun::first_host("node01") == "node01");
  RANK_CHECK(esrun::first_host("a1,b2") == "a1");
  RANK_CHECK(esrun::first_host("node[01-04,07]") == "node01");
  RANK_CHECK(esrun::first_host("node[7,9-10],gpu5") == "node7");
  RANK_CHECK(esrun::first_host("login1,node[3-4]") == "login1");
  REQUIRE_THROWS_WITH(esrun::first_host("node[01-04"), Contains("a '[' without its ']'"));
}

TEST_CASE("Ranks meet over Gloo on loopback: exchange, all-gather, all-reduce", "[distributed][e2e]") {
  for (const int world : {2, 3}) {
    INFO(world);
    on_ranks(world, free_port(), [world](esrun::ProcessGroup& group) {
      const auto values = group.exchange("rank", std::to_string(group.rank() * 10));
      RANK_REQUIRE(values.size() == static_cast<size_t>(world));
      for (int r = 0; r < world; ++r) RANK_CHECK(values[static_cast<size_t>(r)] == std::to_string(r * 10));
      group.require_same("config hash", "abc", "every rank must run the same config");
      const auto gathered = group.all_gather(torch::full({2}, static_cast<int64_t>(group.rank()), torch::kLong));
      RANK_CHECK(torch::equal(gathered, torch::arange(world, torch::kLong).repeat_interleave(2)));
      std::vector<torch::Tensor> sums{torch::ones({3}) * (group.rank() + 1)};
      group.all_reduce(sums);
      RANK_CHECK(torch::allclose(sums[0], torch::full({3}, world * (world + 1) / 2.0)));
      std::vector<torch::Tensor> largest{torch::tensor({group.rank(), -group.rank()}, torch::kLong)};
      group.all_reduce(largest, esrun::ProcessGroup::Reduce::Max);
      RANK_CHECK(torch::equal(largest[0], torch::tensor({world - 1, 0}, torch::kLong)));
      std::vector<torch::Tensor> from_rank0{torch::full({2, 2}, static_cast<double>(group.rank() + 7))};
      group.broadcast(from_rank0);
      RANK_CHECK(torch::equal(from_rank0[0], torch::full({2, 2}, 7.0)));
      group.finish();
    });
  }
}

TEST_CASE("Ranks with different configs refuse to start, naming the ranks", "[distributed][errors]") {
  REQUIRE_THROWS_WITH(on_ranks(3, free_port(),
                               [](esrun::ProcessGroup& group) {
                                 group.require_same("config hash", group.rank() == 2 ? "ffff" : "abcd",
                                                    "every rank must run the same config");
                               }),
                      Contains("the ranks disagree on config hash: rank 0 has abcd, rank 2 (ffff): every rank must "
                               "run the same config"));
}

TEST_CASE("A rank that never comes makes the others fail within the timeout", "[distributed][errors]") {
  esrun::LaunchEnvironment launch;
  launch.world_size = 2;
  launch.master_port = free_port();
  // Returning at all is the point: rank 0 gives up after distributed.timeout_s instead of waiting forever.
  REQUIRE_THROWS_WITH(esrun::ProcessGroup::connect(launch, "gloo", std::chrono::milliseconds(1500)),
                      Contains("distributed: rank 0 of 2") && Contains("the rendezvous failed"));
}

namespace {
// The data-parallel pieces on `world` ranks as threads: each body gets its rank's DataParallel.
void on_replicas(int world, int port, const std::function<void(esrun::DataParallel&)>& body) {
  on_ranks(world, port, [&](esrun::ProcessGroup& group) {
    // A non-owning pointer: the group outlives the replicas in this scope.
    esrun::DataParallel replicas(std::shared_ptr<esrun::ProcessGroup>(&group, [](esrun::ProcessGroup*) {}));
    body(replicas);
  });
}
}  // namespace

TEST_CASE("Shares of a meta-batch are contiguous, cover every row once and differ by at most one row",
          "[distributed]") {
  for (const int world : {1, 2, 3}) {
    on_replicas(world, free_port(), [world](esrun::DataParallel& replicas) {
      for (const int64_t rows : {0, 1, 2, 5, 7, 128}) {
        const auto share = replicas.share(rows);
        RANK_CHECK(share.size >= rows / world);
        RANK_CHECK(share.size <= rows / world + 1);
        // Every rank sends its rows' positions; gathered they are 0 .. rows-1 in order.
        const auto mine = torch::arange(share.begin, share.begin + share.size, torch::kLong);
        const auto gathered = replicas.gather(mine, rows);  // a collective: outside the assertion's lock
        RANK_CHECK(torch::equal(gathered, torch::arange(rows, torch::kLong)));
      }
    });
  }
}

TEST_CASE("Every replica gets every rank's per-sample columns, packed in one piece and in their types", "[distributed]") {
  on_replicas(3, free_port(), [](esrun::DataParallel& replicas) {
    const int64_t rows = 7;
    const auto share = replicas.share(rows);
    const auto positions = torch::arange(share.begin, share.begin + share.size, torch::kFloat);
    esrun::SampleColumns local{positions, positions + 1, positions.gt(3), positions / 10};
    const auto gathered = local.unpack(replicas.gather(local.pack(), rows));  // a collective: outside the lock
    const auto every = torch::arange(rows, torch::kFloat);
    RANK_CHECK(torch::equal(gathered.losses, every));
    RANK_CHECK(torch::equal(gathered.grad_norms, every + 1));
    RANK_CHECK(gathered.correct.scalar_type() == torch::kBool);
    RANK_CHECK(torch::equal(gathered.correct, every.gt(3)));
    RANK_CHECK(torch::allclose(gathered.confidence, every / 10));
  });
}

TEST_CASE("Gradients are summed over the ranks; a parameter no rank touched keeps no gradient", "[distributed]") {
  on_replicas(2, free_port(), [](esrun::DataParallel& replicas) {
    const auto used = torch::zeros({3, 2}, torch::requires_grad());
    const auto unused = torch::zeros({4}, torch::requires_grad());
    const auto frozen = torch::zeros({2});
    replicas.attach({used, unused, frozen});
    // Rank 0 has rows (its gradient is 1.5 everywhere); rank 1 had none this step.
    if (replicas.rank() == 0) used.mutable_grad() = torch::full({3, 2}, 1.5);
    const auto loss = torch::tensor(replicas.rank() == 0 ? 0.25f : 0.0f);
    const auto summed = replicas.reduce_gradients(loss);
    RANK_CHECK(summed.item<float>() == 0.25f);
    RANK_REQUIRE(used.grad().defined());
    RANK_CHECK(torch::equal(used.grad(), torch::full({3, 2}, 1.5)));
    RANK_CHECK_FALSE(unused.grad().defined());
    // Both ranks with rows: the sum.
    used.mutable_grad() = torch::full({3, 2}, static_cast<double>(replicas.rank() + 1));
    replicas.reduce_gradients(loss);
    RANK_CHECK(torch::equal(used.grad(), torch::full({3, 2}, 3.0)));
    RANK_CHECK(replicas.reduce_seconds() > 0);
  });
}

TEST_CASE("Buckets start their all-reduce from the backward pass and sum accumulated micro-batches", "[distributed]") {
  // Each rank: two micro-batches of its own rows through a two-layer net whose 33 MiB first layer
  // fills a bucket of its own; only the last pass is armed. The summed gradients equal those of
  // one process over every rank's rows.
  torch::manual_seed(5);
  const auto inputs = torch::randn({8, 4});
  auto reference = torch::nn::Sequential(torch::nn::Linear(4, 2200000), torch::nn::ReLU(),
                                         torch::nn::Linear(2200000, 1));
  std::vector<torch::Tensor> expected;
  {
    reference->forward(inputs).sum().backward();
    for (const auto& p : reference->parameters()) expected.push_back(p.grad().clone());
  }
  on_replicas(2, free_port(), [&](esrun::DataParallel& replicas) {
    auto model = torch::nn::Sequential(torch::nn::Linear(4, 2200000), torch::nn::ReLU(), torch::nn::Linear(2200000, 1));
    {
      torch::NoGradGuard no_grad;
      const auto from = reference->parameters();
      const auto to = model->parameters();
      for (size_t i = 0; i < to.size(); ++i) to[i].copy_(from[i]);
    }
    replicas.attach(model->parameters());
    const auto mine = inputs.narrow(0, replicas.rank() * 4, 4);
    model->forward(mine.narrow(0, 0, 2)).sum().backward();
    replicas.arm();
    model->forward(mine.narrow(0, 2, 2)).sum().backward();
    replicas.reduce_gradients(torch::zeros({}));
    const auto params = model->parameters();
    for (size_t i = 0; i < params.size(); ++i) RANK_CHECK(torch::allclose(params[i].grad(), expected[i], 1e-4, 1e-5));
  });
}

TEST_CASE("esrun's BatchNorm computes what libtorch's does, and synchronised over ranks as over their rows together",
          "[distributed][model]") {
  torch::manual_seed(3);
  const auto input = torch::randn({8, 3, 4, 4}) * 2 + 1;
  esrun::BatchNorm ours(3);
  torch::nn::BatchNorm2d reference(3);
  const auto checked = [&](const torch::Tensor& x) {
    const auto a = ours->forward(x), b = reference->forward(x);
    RANK_CHECK(torch::allclose(a, b, 1e-5, 1e-6));
    RANK_CHECK(torch::allclose(ours->running_mean, reference->running_mean));
    RANK_CHECK(torch::allclose(ours->running_var, reference->running_var));
    RANK_CHECK(ours->num_batches_tracked.item<int64_t>() == reference->num_batches_tracked.item<int64_t>());
  };
  checked(input);
  ours->eval();
  reference->eval();
  checked(input);

  // Two ranks with 5 and 3 of the 8 rows, synchronised: each rank's outputs, the running statistics
  // and the summed gradients of weight, bias and input equal one BatchNorm over all 8 rows.
  const auto upstream = torch::randn({8, 3, 4, 4});
  esrun::BatchNorm whole(3);
  const auto all = input.clone().requires_grad_();
  const auto expected = whole->forward(all);
  (expected * upstream).sum().backward();
  std::vector<torch::Tensor> outputs(2), input_grads(2), weight_grads(2), running_means(2);
  on_ranks(2, free_port(), [&](esrun::ProcessGroup& group) {
    esrun::DataParallel replicas(std::shared_ptr<esrun::ProcessGroup>(&group, [](esrun::ProcessGroup*) {}));
    esrun::BatchNorm norm(3);
    esrun::synchronise_batch_norm(*norm, [&](const torch::Tensor& t) { return replicas.sum_over_ranks(t); });
    const int64_t begin = group.rank() == 0 ? 0 : 5, rows = group.rank() == 0 ? 5 : 3;
    const auto mine = input.narrow(0, begin, rows).clone().requires_grad_();
    const auto out = norm->forward(mine);
    (out * upstream.narrow(0, begin, rows)).sum().backward();
    std::vector<torch::Tensor> grads{norm->weight.grad().clone()};
    group.all_reduce(grads);
    const auto r = static_cast<size_t>(group.rank());
    outputs[r] = out.detach();
    input_grads[r] = mine.grad();
    weight_grads[r] = grads[0];
    running_means[r] = norm->running_mean.clone();
  });
  RANK_CHECK(torch::allclose(torch::cat(outputs), expected.detach(), 1e-5, 1e-5));
  RANK_CHECK(torch::allclose(torch::cat(input_grads), all.grad(), 1e-5, 1e-5));
  RANK_CHECK(torch::allclose(weight_grads[0], whole->weight.grad(), 1e-5, 1e-5));
  RANK_CHECK(torch::allclose(running_means[0], running_means[1]));
  RANK_CHECK(torch::allclose(running_means[1], whole->running_mean, 1e-6, 1e-6));
}

TEST_CASE("A parameter without a gradient in the last micro-batch still has its earlier passes' gradients summed",
          "[distributed]") {
  std::vector<torch::Tensor> sums_a(2), sums_b(2);
  on_ranks(2, free_port(), [&](esrun::ProcessGroup& group) {
    esrun::DataParallel replicas(std::shared_ptr<esrun::ProcessGroup>(&group, [](esrun::ProcessGroup*) {}));
    const auto a = torch::ones({3}, torch::requires_grad()), b = torch::ones({2}, torch::requires_grad());
    replicas.attach({a, b});
    const double r = group.rank() + 1;
    ((a * r).sum() + (b * 10 * r).sum()).backward();  // first pass: both
    replicas.arm();
    (a * 100 * r).sum().backward();  // last pass: a alone; b's bucket starts after the backward pass
    replicas.reduce_gradients(torch::zeros({}));
    sums_a[static_cast<size_t>(group.rank())] = a.grad().clone();
    sums_b[static_cast<size_t>(group.rank())] = b.grad().clone();
  });
  for (size_t rank = 0; rank < 2; ++rank) {
    CHECK(torch::allclose(sums_a[rank], torch::full({3}, 101.0 * 3)));  // (1 + 100) * (1 + 2)
    CHECK(torch::allclose(sums_b[rank], torch::full({2}, 10.0 * 3)));
  }
}
