// fuzz_tensorboard: the TensorBoard events reader (metrics/tensorboard.h: read_tensorboard_events):
// TFRecord framing with masked CRC-32C checksums, and protobuf Event records.
//
// Input: byte 0 picks how the rest becomes the file (byte 0 % 2):
//   0: the rest is the file as it is (the framing and its checksums are fuzzed);
//   1: the rest is records, each a length byte and that many payload bytes, framed here with
//      correct lengths and CRCs, so that the fuzzer reaches the Event parser past the checksums.
// Seeds are files written by esrun's own TensorBoardWriter, in both forms.
#include "esrun/metrics/tensorboard.h"
#include "fuzz_common.h"

namespace {

template <typename Int>
void put_little_endian(std::string& out, Int value) {
  for (size_t i = 0; i < sizeof(Int); ++i) out.push_back(static_cast<char>((value >> (8 * i)) & 0xff));
}

std::string frame(std::string_view data) {
  std::string length, out;
  put_little_endian<uint64_t>(length, data.size());
  out += length;
  put_little_endian<uint32_t>(out, esrun::masked_crc32c(length));
  out += data;
  put_little_endian<uint32_t>(out, esrun::masked_crc32c(data));
  return out;
}

// The payloads of a well-framed file, as variant 1's length-prefixed records (those under 256 bytes).
std::string unframed(const std::string& file) {
  std::string out;
  for (size_t offset = 0; offset + 12 <= file.size();) {
    uint64_t length = 0;
    for (size_t i = 0; i < 8; ++i) length |= static_cast<uint64_t>(static_cast<unsigned char>(file[offset + i])) << (8 * i);
    if (length < 256) out += static_cast<char>(length) + file.substr(offset + 12, length);
    offset += 12 + length + 4;
  }
  return out;
}

[[noreturn]] void write_seeds(const std::string& dir) {
  const auto folder = esrun_fuzz::scratch() / "board";
  std::filesystem::path path;
  {
    esrun::TensorBoardWriter writer(folder);
    writer.scalars(0, {{"train/loss", 2.5}, {"train/acc", 0.25}}, 1700000000.5);
    writer.scalars(1, {{"test/loss", 1.0}, {"lr", 0.1}}, 1700000001.0);
    writer.restart(1);
    writer.scalars(2, {{"nan", std::nan("")}, {"big", 1e300}}, 1700000002.0);
    writer.flush();
    path = writer.path();
  }
  const std::string file = esrun_fuzz::read_bytes(path);
  std::string bad_crc = file;
  bad_crc[bad_crc.size() - 1] = static_cast<char>(bad_crc[bad_crc.size() - 1] ^ 0x5a);
  std::string huge_length;
  put_little_endian<uint64_t>(huge_length, ~uint64_t{0} - 3);
  huge_length += std::string(4, '\0');
  {
    std::string crc;
    put_little_endian<uint32_t>(crc, esrun::masked_crc32c(huge_length.substr(0, 8)));
    huge_length.replace(8, 4, crc);
  }
  using esrun_fuzz::tagged;
  esrun_fuzz::write_seeds_and_exit(
      dir, {{"raw-esrun-file", tagged(0, file)},
            {"framed-esrun-records", tagged(1, unframed(file))},
            {"raw-truncated", tagged(0, file.substr(0, file.size() - 7))},
            {"raw-bad-data-crc", tagged(0, bad_crc)},
            {"raw-huge-length", tagged(0, huge_length)},
            {"framed-not-an-event", tagged(1, std::string("\x03\xff\xff\xff", 4))},
            {"framed-empty-record", tagged(1, std::string(1, '\0'))}});
}

}  // namespace

extern "C" int LLVMFuzzerInitialize(int*, char***) {
  esrun_fuzz::quiet();
  if (const std::string dir = esrun_fuzz::seeds_dir(); !dir.empty()) write_seeds(dir);
  return 0;
}

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size == 0) return 0;
  std::string_view rest = esrun_fuzz::as_view(data + 1, size - 1);
  std::string file;
  if (data[0] % 2 == 0) {
    file = rest;
  } else {
    while (!rest.empty()) {
      const size_t length = std::min<size_t>(static_cast<unsigned char>(rest[0]), rest.size() - 1);
      file += frame(rest.substr(1, length));
      rest.remove_prefix(1 + length);
    }
  }
  const auto path = esrun_fuzz::scratch() / "events.out.tfevents";
  esrun_fuzz::write_file(path, file);
  esrun_fuzz::guarded([&] { (void)esrun::read_tensorboard_events(path); });
  return 0;
}
