// TensorBoard event files: what the writer puts in them, TensorBoard's wire format, and the
// reader's checks of the TFRecord framing.
#include <catch2/catch.hpp>

#include <algorithm>
#include <bit>
#include <chrono>
#include <cstdint>
#include <map>
#include <string>

#include "esrun/commands/run.h"
#include "esrun/metrics/tensorboard.h"
#include "helpers.h"

using Catch::Matchers::Contains;
using esrun::testing::TempDir;

namespace {

double now_seconds() {
  return std::chrono::duration<double>(std::chrono::system_clock::now().time_since_epoch()).count();
}

template <typename Int>
std::string little_endian(Int value) {
  std::string out;
  for (size_t i = 0; i < sizeof(Int); ++i) out.push_back(static_cast<char>((value >> (8 * i)) & 0xff));
  return out;
}

// A length-delimited protobuf field under 128 bytes: its key, its length, its bytes.
std::string field(char key, const std::string& payload) {
  return std::string{key, static_cast<char>(payload.size())} + payload;
}

// The data of the record at `offset` of `file` (its checksums not checked).
std::string record_data(const std::string& file, size_t offset) {
  size_t length = 0;
  for (size_t i = 0; i < 8; ++i) length |= size_t{static_cast<unsigned char>(file[offset + i])} << (8 * i);
  return file.substr(offset + 12, length);
}

// A file holding the file-version record (40 bytes: 12 of header, 24 of data, 4 of CRC) and one
// scalars record at byte 40.
std::filesystem::path one_step_file(const TempDir& dir) {
  esrun::TensorBoardWriter writer(dir.path() / "tb");
  writer.scalars(1, {{"loss", 0.5}}, 1700000000.0);
  writer.flush();
  return writer.path();
}

}  // namespace

TEST_CASE("TensorBoard files read back with every scalar and a valid checksum", "[tensorboard]") {
  TempDir dir;
  const double before = now_seconds();
  esrun::TensorBoardWriter writer(dir.path() / "runs" / "tb");  // folders created
  const double after = now_seconds();
  CHECK(writer.path().parent_path() == dir.path() / "runs" / "tb");
  CHECK(writer.path().filename().string().starts_with("events.out.tfevents."));
  CHECK(writer.path().filename().string().ends_with(".esrun"));

  for (int64_t step = 1; step <= 3; ++step)
    writer.scalars(step, {{"train/loss", 1.0 / step}, {"test/acc", 0.25 * step}}, 1700000000.0 + step);
  CHECK(esrun::read_tensorboard_events(writer.path()).size() == 1);  // buffered until flush()
  writer.flush();
  writer.restart(2);
  writer.scalars(2, {{"train/loss", 0.75}});
  writer.flush();

  const auto events = esrun::read_tensorboard_events(writer.path());
  REQUIRE(events.size() == 6);
  CHECK(events[0].file_version == "brain.Event:2");
  CHECK(events[0].wall_time >= before);
  CHECK(events[0].wall_time <= after);
  CHECK(events[0].scalars.empty());
  for (int64_t step = 1; step <= 3; ++step) {
    const auto& event = events[static_cast<size_t>(step)];
    CHECK(event.step == step);
    CHECK(event.wall_time == 1700000000.0 + step);
    CHECK(event.file_version.empty());
    CHECK(event.session_status == 0);
    REQUIRE(event.scalars.size() == 2);
    CHECK(event.scalars[0] == std::pair<std::string, float>{"train/loss", static_cast<float>(1.0 / step)});
    CHECK(event.scalars[1] == std::pair<std::string, float>{"test/acc", static_cast<float>(0.25 * step)});
  }
  CHECK(events[4].step == 2);
  CHECK(events[4].session_status == 1);  // SessionLog START
  CHECK(events[4].scalars.empty());
  CHECK(events[5].step == 2);
  CHECK(events[5].wall_time >= after);
  CHECK(events[5].scalars == std::vector<std::pair<std::string, float>>{{"train/loss", 0.75f}});
}

TEST_CASE("A second TensorBoard writer in a folder adds a file that sorts after the first", "[tensorboard]") {
  TempDir dir;
  esrun::TensorBoardWriter first(dir.path());
  first.scalars(1, {{"loss", 1.0}});
  first.flush();
  esrun::TensorBoardWriter second(dir.path());  // same process, likely the same second
  CHECK(second.path() != first.path());
  CHECK(first.path().filename().string() < second.path().filename().string());
  CHECK(esrun::read_tensorboard_events(first.path()).size() == 2);
  CHECK(esrun::read_tensorboard_events(second.path()).size() == 1);
}

TEST_CASE("TensorBoard records use TensorBoard's field numbers", "[tensorboard]") {
  // Expected bytes built by hand from tensorflow/tensorboard's event.proto and summary.proto:
  // Event.wall_time = 1 (double), step = 2 (int64), file_version = 3, summary = 5, session_log = 7;
  // Summary.value = 1; Value.tag = 1, simple_value = 2 (float); SessionLog.status = 1, START = 1.
  TempDir dir;
  esrun::TensorBoardWriter writer(dir.path());
  writer.scalars(3, {{"loss", 0.25}}, 1700000000.5);
  writer.restart(5);
  writer.flush();
  const std::string file = esrun::testing::read_file(writer.path().string());

  const std::string version = record_data(file, 0);
  CHECK(version.size() == 24);
  CHECK(version[0] == '\x09');
  CHECK(version.substr(9) == field('\x1a', "brain.Event:2"));

  const std::string value = field('\x0a', "loss") + '\x15' + little_endian(std::bit_cast<uint32_t>(0.25f));
  const std::string scalars = std::string("\x09") + little_endian(std::bit_cast<uint64_t>(1700000000.5)) +
                              std::string("\x10\x03") + field('\x2a', field('\x0a', value));
  CHECK(record_data(file, 40) == scalars);

  const size_t restart_offset = 40 + 12 + scalars.size() + 4;
  const std::string restart = record_data(file, restart_offset);
  CHECK(restart[0] == '\x09');  // wall_time: now
  CHECK(restart.substr(9) == std::string("\x10\x05\x3a\x02\x08\x01", 6));
  CHECK(file.size() == restart_offset + 12 + restart.size() + 4);
}

TEST_CASE("A flipped byte in a TensorBoard file is reported with the offset of its record", "[tensorboard][errors]") {
  TempDir dir;
  const auto path = one_step_file(dir);
  const std::string good = esrun::testing::read_file(path.string());
  const auto read_with_flip = [&](size_t byte) {
    std::string bad = good;
    bad[byte] = static_cast<char>(bad[byte] ^ 0x01);
    esrun::testing::write_file(path.string(), bad);
    return esrun::read_tensorboard_events(path);
  };
  REQUIRE_THROWS_WITH(read_with_flip(40),
                      Contains(path.string()) && Contains("record at byte 40 has a bad length CRC"));
  REQUIRE_THROWS_WITH(read_with_flip(40 + 12 + 5), Contains("record at byte 40 has a bad data CRC"));
  REQUIRE_THROWS_WITH(read_with_flip(good.size() - 1), Contains("record at byte 40 has a bad data CRC"));
  REQUIRE_THROWS_WITH(read_with_flip(20), Contains("record at byte 0 has a bad data CRC"));

  // Checksums that hold around data that is not an Event.
  const std::string data = "\xff";
  const std::string length = little_endian<uint64_t>(data.size());
  esrun::testing::write_file(path.string(), length + little_endian(esrun::masked_crc32c(length)) + data +
                                                little_endian(esrun::masked_crc32c(data)));
  REQUIRE_THROWS_WITH(esrun::read_tensorboard_events(path), Contains("record at byte 0 is not a TensorBoard Event"));
}

TEST_CASE("A truncated TensorBoard file is reported with the offset of the cut record", "[tensorboard][errors]") {
  TempDir dir;
  const auto path = one_step_file(dir);
  const std::string good = esrun::testing::read_file(path.string());
  for (const size_t keep : {good.size() - 1, size_t{40 + 12 + 3}, size_t{40 + 5}}) {
    INFO(keep);
    esrun::testing::write_file(path.string(), good.substr(0, keep));
    REQUIRE_THROWS_WITH(esrun::read_tensorboard_events(path),
                        Contains(path.string()) && Contains("record at byte 40 is truncated"));
  }
  esrun::testing::write_file(path.string(), good.substr(0, 40));
  CHECK(esrun::read_tensorboard_events(path).size() == 1);
}

TEST_CASE("The masked CRC-32C equals an independent implementation's", "[tensorboard]") {
  // The constants come from Debian's python3-crc32c, e.g. for "123456789":
  //   /usr/bin/python3 -c "import crc32c; c = crc32c.crc32c(b'123456789');
  //                        print(hex((((c >> 15) | (c << 17)) + 0xa282ead8) & 0xffffffff))"
  CHECK(esrun::masked_crc32c("123456789") == 0xc78ab0e5u);  // CRC-32C check value 0xe3069283, masked
  CHECK(esrun::masked_crc32c("") == 0xa282ead8u);
  // The length field of a 24-byte record: 0x224b7fa3, as in TensorBoard's data server tests too.
  CHECK(esrun::masked_crc32c(std::string("\x18\0\0\0\0\0\0\0", 8)) == 0x224b7fa3u);
}

TEST_CASE("A TensorBoard folder that cannot be made is reported with its path", "[tensorboard][errors]") {
  TempDir dir;
  esrun::testing::write_file(dir / "blocker", "a file, not a folder");
  REQUIRE_THROWS_WITH(esrun::TensorBoardWriter(dir.path() / "blocker" / "tb"),
                      Contains("cannot create the TensorBoard folder") && Contains("blocker"));
}

namespace {

// The events files of a folder in name order (TensorBoard's reading order).
std::vector<std::filesystem::path> event_files(const std::filesystem::path& folder) {
  std::vector<std::filesystem::path> files;
  for (const auto& entry : std::filesystem::directory_iterator(folder))
    if (entry.path().filename().string().rfind("events.out.tfevents.", 0) == 0) files.push_back(entry.path());
  std::sort(files.begin(), files.end());
  return files;
}

std::map<std::string, float> scalars_of(const esrun::TensorBoardEvent& event) {
  return {event.scalars.begin(), event.scalars.end()};
}

std::vector<std::string> tiny_run(const TempDir& dir) {
  esrun::testing::write_cifar10_layout(dir.path() / "cifar", 40, 60);
  return {"data.name=cifar10", "data.root=" + (dir.path() / "cifar").string(), "model={name: small_cnn, width: 8}",
          "train.epochs=3", "sampler={name: es, meta_batch: 32, anneal_epochs: 0}", "threads=2",
          "data.label_noise={kind: uniform, ratio: 0.25}", "logging={tensorboard: true, tensorboard_steps: 2}"};
}

}  // namespace

TEST_CASE("logging.tensorboard writes each epoch's metrics and every N steps' loss into the run directory",
          "[tensorboard][e2e]") {
  TempDir dir;
  const auto result = esrun::run(esrun::RunRequest{{}, tiny_run(dir), dir / "run"});
  const auto lines = esrun::testing::metrics(result);
  const auto files = event_files(result.run_dir);
  REQUIRE(files.size() == 1);
  const auto events = esrun::read_tensorboard_events(files[0]);
  REQUIRE(events.size() == 1 + lines.size());
  CHECK(events[0].file_version == "brain.Event:2");
  for (size_t e = 0; e < lines.size(); ++e) {
    const auto& event = events[e + 1];
    const auto tags = scalars_of(event);
    CHECK(event.step == static_cast<int64_t>(e) + 1);
    CHECK(tags.at("train/loss") == Approx(lines[e]["train_loss"].get<double>()));
    CHECK(tags.at("train/lr") == Approx(lines[e]["lr"].get<double>()));
    CHECK(tags.at("test/acc") == Approx(lines[e]["test_acc"].get<double>()));
    CHECK(tags.at("train/samples_backward_total") == Approx(lines[e]["samples_backward_total"].get<double>()));
    CHECK(tags.at("train/noisy_backward_fraction") == Approx(lines[e]["noisy_backward_fraction"].get<double>()));
    CHECK(tags.at("time/train_step") == Approx(lines[e]["time"]["train_step"].get<double>()));
    CHECK(tags.count("test/rmse") == 0);  // null for classification: left out
  }
  // 200 training samples in meta-batches of 32: 7 steps an epoch, of which es trains b = 8 rows
  // (2 of the last 8). A point every 2 steps, at the samples back-propagated so far: 16, 32, 48,
  // then epoch 2's first step, 50 + 8.
  const auto steps = esrun::read_tensorboard_events(event_files(result.run_dir / "steps").at(0));
  REQUIRE(steps.size() == 1 + 21 / 2);
  CHECK(steps[0].file_version == "brain.Event:2");
  CHECK((steps[1].step == 16 && steps[3].step == 48 && steps[4].step == 58));
  for (size_t i = 1; i < steps.size(); ++i) {
    const auto tags = scalars_of(steps[i]);
    CHECK(tags.at("steps/train_loss") > 0);
    CHECK(tags.at("steps/lr") > 0);
    if (i > 1) CHECK(steps[i].step > steps[i - 1].step);
  }
  CHECK(steps.back().step <= lines.back()["samples_backward_total"].get<int64_t>());
}

TEST_CASE("A resumed run's TensorBoard file restarts where its checkpoint was", "[tensorboard][e2e][resume]") {
  TempDir dir;
  esrun::RunRequest first{{}, tiny_run(dir), dir / "run"};
  first.stop_after = 1;
  esrun::run(first);
  esrun::RunRequest rest{{}, {}, std::nullopt};
  rest.resume = (dir / "run");
  esrun::run(rest);
  const auto files = event_files(dir / "run");
  REQUIRE(files.size() == 2);
  CHECK(esrun::read_tensorboard_events(files[0]).size() == 2);  // the version and epoch 1
  const auto resumed = esrun::read_tensorboard_events(files[1]);
  REQUIRE(resumed.size() == 4);  // the version, the restart mark, epochs 2 and 3
  CHECK((resumed[1].session_status == 1 && resumed[1].step == 2));
  CHECK((resumed[2].step == 2 && resumed[3].step == 3));
  // The steps folder's mark is at the first step after the checkpoint: epoch 1's 50 samples, then 8.
  const auto steps = esrun::read_tensorboard_events(event_files(dir.path() / "run" / "steps").at(1));
  REQUIRE(steps.size() >= 3);
  CHECK((steps[1].session_status == 1 && steps[1].step == 58));
  CHECK(steps[2].step == 66);
}

TEST_CASE("A run resumed in the middle of an epoch marks its first step in the steps folder", "[tensorboard][e2e][resume]") {
  TempDir dir;
  esrun::RunRequest first{{}, tiny_run(dir), dir / "run"};
  first.stop_after_steps = 3;  // a point at step 2 (16 samples), the checkpoint after step 3 (24)
  esrun::run(first);
  esrun::RunRequest rest{{}, {}, std::nullopt};
  rest.resume = (dir / "run");
  esrun::run(rest);
  const auto files = event_files(dir.path() / "run" / "steps");
  REQUIRE(files.size() == 2);
  const auto before = esrun::read_tensorboard_events(files[0]);
  REQUIRE(before.size() == 2);
  CHECK(before[1].step == 16);
  // Step 4 (32 samples) is the first after the checkpoint: the mark; then a point every 2 steps.
  const auto after = esrun::read_tensorboard_events(files[1]);
  REQUIRE(after.size() >= 3);
  CHECK((after[1].session_status == 1 && after[1].step == 32));
  CHECK(after[2].step == 40);
  // The epochs: no epoch was done, so the mark is at epoch 1, then every epoch follows.
  const auto epochs = esrun::read_tensorboard_events(event_files(dir.path() / "run").at(1));
  REQUIRE(epochs.size() == 5);
  CHECK((epochs[1].session_status == 1 && epochs[1].step == 1));
}
