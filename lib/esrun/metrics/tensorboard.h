// TensorBoard event files: the scalars of a run, readable by `tensorboard --logdir`. Each record is
// an Event (tensorboard_event.proto) in TFRecord framing: uint64 length, uint32 masked CRC-32C of
// those 8 bytes, the data, uint32 masked CRC-32C of the data, all little-endian. The reader checks
// every checksum, for tests and tools.
#pragma once

#include <cstdint>
#include <filesystem>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "esrun/core/files.h"

namespace esrun {

class TensorBoardWriter {
 public:
  // Creates `folder` if missing and a new file events.out.tfevents.<unix seconds>.<host>.<pid>.esrun
  // in it whose first record, the file version, is written at once. A later writer (a resumed run)
  // adds another file; TensorBoard merges a folder's files.
  explicit TensorBoardWriter(const std::filesystem::path& folder);
  // Writes what is still buffered, without throwing.
  ~TensorBoardWriter();
  TensorBoardWriter(const TensorBoardWriter&) = delete;
  TensorBoardWriter& operator=(const TensorBoardWriter&) = delete;

  // The scalars of one step (tag -> value, stored as float) in one Event; wall_time defaults to now.
  void scalars(int64_t step, const std::vector<std::pair<std::string, double>>& values,
               std::optional<double> wall_time = {});
  // A SessionLog START at `step`, for a resumed run: TensorBoard then drops the events with a step
  // >= `step` that it read before (from this folder's earlier files), the ones the run writes again.
  void restart(int64_t step);
  // Writes the buffered records, whole, to the OS (call after every epoch); records the disk cannot
  // take are cut off again, so the file ends on a whole record, and the error names the file.
  void flush();
  const std::filesystem::path& path() const { return path_; }

 private:
  void append_record(const std::string& data);

  std::filesystem::path path_;
  AppendFile out_;
  std::string pending_;  // whole framed records not yet written
};

struct TensorBoardEvent {
  double wall_time = 0;
  int64_t step = 0;
  std::string file_version;                              // empty except in a file's first record
  std::vector<std::pair<std::string, float>> scalars;    // tag -> simple_value
  int session_status = 0;                                // SessionLog status: 1 START, 2 STOP, 3 CHECKPOINT
};

// Every record of one events file, in order. Throws esrun::Error naming the file and the byte
// offset of the record with a bad length CRC, a bad data CRC, a truncated end or data that is not
// an Event.
std::vector<TensorBoardEvent> read_tensorboard_events(const std::filesystem::path& file);

// TFRecord's masked CRC-32C: the CRC rotated right by 15 bits plus 0xa282ead8 (mod 2^32), so that
// a CRC of data that itself holds CRCs does not look like one.
uint32_t masked_crc32c(std::string_view data);

}  // namespace esrun
