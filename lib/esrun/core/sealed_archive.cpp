#include "esrun/core/sealed_archive.h"

#include <fmt/format.h>

#include <filesystem>
#include <sstream>
#include <string_view>

#include "esrun/core/error.h"
#include "esrun/core/files.h"
#include "esrun/core/rng.h"

namespace esrun {
namespace {

constexpr std::string_view kTag = "esrun-fnv1a64:";
constexpr size_t kTrailerSize = kTag.size() + 16;

std::string checksum(std::string_view bytes) { return fmt::format("{:016x}", fnv1a64(bytes)); }

}  // namespace

std::string seal_archive(torch::serialize::OutputArchive& archive) {
  std::ostringstream out;
  archive.save_to(out);
  std::string bytes = out.str();
  bytes += std::string(kTag) + checksum(bytes);
  return bytes;
}

torch::serialize::InputArchive open_sealed_archive(const std::string& file, const std::string& what,
                                                   std::optional<torch::Device> device) {
  ESRUN_CHECK(std::filesystem::is_regular_file(file), what, " '", file, "' does not exist");
  const std::string bytes = read_file(file);
  ESRUN_CHECK(!bytes.empty(), what, " '", file, "' is damaged (truncated or corrupt): the file is empty");
  std::string_view archive_bytes(bytes);
  ESRUN_CHECK(bytes.size() > kTrailerSize && archive_bytes.substr(bytes.size() - kTrailerSize, kTag.size()) == kTag,
              what, " '", file, "' is damaged (truncated or corrupt) or not an esrun file: it does not end with ",
              "esrun's checksum (files from an esrun before checksums are refused)");
  archive_bytes.remove_suffix(kTrailerSize);
  const std::string recorded(std::string_view(bytes).substr(bytes.size() - 16));
  const std::string now = checksum(archive_bytes);
  ESRUN_CHECK(now == recorded, what, " '", file, "' is damaged (truncated or corrupt): its checksum does not match ",
              "its contents (", recorded, " recorded, ", now, " now)");
  c10::optional<torch::Device> on;  // libtorch's own optional (std::optional from 2.x on)
  if (device) on = *device;
  torch::serialize::InputArchive archive;
  try {
    archive.load_from(archive_bytes.data(), archive_bytes.size(), on);
  } catch (const std::exception& e) {  // libtorch's reader: not a zip archive, a record cut short, ...
    ESRUN_FAIL(what, " '", file, "' is damaged (truncated or corrupt) or not an esrun file: ", libtorch_reason(e));
  }
  return archive;
}

}  // namespace esrun
