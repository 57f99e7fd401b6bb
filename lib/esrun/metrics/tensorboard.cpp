#include "esrun/metrics/tensorboard.h"

#include <boost/crc.hpp>

#include <unistd.h>

#include <chrono>
#include <climits>
#include <iomanip>
#include <sstream>

#include "esrun/core/error.h"
#include "esrun/core/files.h"
#include "esrun/metrics/tensorboard_event.pb.h"

namespace esrun {
namespace fs = std::filesystem;

namespace {

constexpr size_t kLengthBytes = 8;
constexpr size_t kHeaderBytes = kLengthBytes + 4;  // length, its masked CRC
constexpr size_t kFooterBytes = 4;                 // masked CRC of the data

double now_seconds() {
  return std::chrono::duration<double>(std::chrono::system_clock::now().time_since_epoch()).count();
}

std::string host_name() {
  char name[256] = {};
  if (gethostname(name, sizeof(name) - 1) != 0 || name[0] == '\0') return "localhost";
  return name;
}

// The first free name at or after this second: two writers of one process in the same second (a
// run resumed in-process) get two files, still ordered by name as TensorBoard reads them.
fs::path new_file_name(const fs::path& folder) {
  for (auto second = static_cast<int64_t>(now_seconds());; ++second) {
    std::ostringstream name;
    name << "events.out.tfevents." << second << "." << host_name() << "." << getpid() << ".esrun";
    fs::path path = folder / name.str();
    std::error_code unknown;  // then opening it reports the problem
    if (!fs::exists(path, unknown)) return path;
  }
}

template <typename Int>
void put_little_endian(std::string& out, Int value) {
  for (size_t i = 0; i < sizeof(Int); ++i) out.push_back(static_cast<char>((value >> (8 * i)) & 0xff));
}

template <typename Int>
Int get_little_endian(std::string_view bytes) {
  Int value = 0;
  for (size_t i = 0; i < sizeof(Int); ++i) value |= static_cast<Int>(static_cast<unsigned char>(bytes[i])) << (8 * i);
  return value;
}

std::string hex(uint32_t value) {
  std::ostringstream out;
  out << "0x" << std::hex << std::setw(8) << std::setfill('0') << value;
  return out.str();
}

TensorBoardEvent from_proto(const tfevents::Event& event) {
  TensorBoardEvent out{event.wall_time(), event.step(), event.file_version(), {}, event.session_log().status()};
  for (const auto& value : event.summary().value())
    if (value.has_simple_value()) out.scalars.emplace_back(value.tag(), value.simple_value());
  return out;
}

}  // namespace

uint32_t masked_crc32c(std::string_view data) {
  // CRC-32C (Castagnoli): reflected polynomial 0x1EDC6F41, initial and final XOR 0xFFFFFFFF.
  boost::crc_optimal<32, 0x1EDC6F41, 0xFFFFFFFF, 0xFFFFFFFF, true, true> crc;
  crc.process_bytes(data.data(), data.size());
  const uint32_t value = crc.checksum();
  return ((value >> 15) | (value << 17)) + 0xa282ead8u;
}

TensorBoardWriter::TensorBoardWriter(const fs::path& folder) {
  std::error_code error;
  fs::create_directories(folder, error);
  ESRUN_CHECK(!error, "cannot create the TensorBoard folder '", folder.string(), "': ", error.message());
  path_ = new_file_name(folder);
  out_ = AppendFile(path_, /*truncate=*/false);
  tfevents::Event event;
  event.set_wall_time(now_seconds());
  event.set_file_version("brain.Event:2");
  append_record(event.SerializeAsString());
  flush();
}

TensorBoardWriter::~TensorBoardWriter() {
  try {
    if (!pending_.empty()) out_.append(pending_);
  } catch (const std::exception&) {  // the run is ending (often on that very error): nothing more to do
  }
}

void TensorBoardWriter::scalars(int64_t step, const std::vector<std::pair<std::string, double>>& values,
                                std::optional<double> wall_time) {
  tfevents::Event event;
  event.set_wall_time(wall_time.value_or(now_seconds()));
  event.set_step(step);
  auto* summary = event.mutable_summary();
  for (const auto& [tag, value] : values) {
    auto* entry = summary->add_value();
    entry->set_tag(tag);
    entry->set_simple_value(static_cast<float>(value));
  }
  append_record(event.SerializeAsString());
}

void TensorBoardWriter::restart(int64_t step) {
  tfevents::Event event;
  event.set_wall_time(now_seconds());
  event.set_step(step);
  event.mutable_session_log()->set_status(tfevents::SessionLog::START);
  append_record(event.SerializeAsString());
}

void TensorBoardWriter::flush() {
  // One write of whole records: a crash can cut at most the last record, which TensorBoard's
  // readers skip as an incomplete tail; a failed write is cut off again by AppendFile.
  if (!pending_.empty()) out_.append(pending_);
  pending_.clear();
}

void TensorBoardWriter::append_record(const std::string& data) {
  std::string length;
  put_little_endian<uint64_t>(length, data.size());
  pending_ += length;
  put_little_endian<uint32_t>(pending_, masked_crc32c(length));
  pending_ += data;
  put_little_endian<uint32_t>(pending_, masked_crc32c(data));
}

std::vector<TensorBoardEvent> read_tensorboard_events(const fs::path& file) {
  const std::string bytes = read_file(file);
  const std::string where = "TensorBoard events file '" + file.string() + "': the record at byte ";
  std::vector<TensorBoardEvent> events;
  for (size_t offset = 0; offset < bytes.size();) {
    const std::string_view record = std::string_view(bytes).substr(offset);
    ESRUN_CHECK(record.size() >= kHeaderBytes, where, offset, " is truncated: ", record.size(),
                " bytes left, its header alone takes ", kHeaderBytes);
    const uint32_t length_crc = masked_crc32c(record.substr(0, kLengthBytes));
    const uint32_t stored_length_crc = get_little_endian<uint32_t>(record.substr(kLengthBytes));
    ESRUN_CHECK(length_crc == stored_length_crc, where, offset, " has a bad length CRC (stored ",
                hex(stored_length_crc), ", computed ", hex(length_crc), ")");
    const auto length = get_little_endian<uint64_t>(record);
    const size_t room = record.size() - kHeaderBytes;
    ESRUN_CHECK(length <= room && room - length >= kFooterBytes, where, offset, " is truncated: its ", length,
                " bytes of data and 4-byte CRC need ", length + kFooterBytes, " bytes, ", room, " are left");
    const std::string_view data = record.substr(kHeaderBytes, length);
    const uint32_t data_crc = masked_crc32c(data);
    const uint32_t stored_data_crc = get_little_endian<uint32_t>(record.substr(kHeaderBytes + length));
    ESRUN_CHECK(data_crc == stored_data_crc, where, offset, " has a bad data CRC (stored ", hex(stored_data_crc),
                ", computed ", hex(data_crc), ")");
    tfevents::Event event;
    ESRUN_CHECK(data.size() <= INT_MAX && event.ParseFromArray(data.data(), static_cast<int>(data.size())), where,
                offset, " is not a TensorBoard Event");
    events.push_back(from_proto(event));
    offset += kHeaderBytes + length + kFooterBytes;
  }
  return events;
}

}  // namespace esrun
