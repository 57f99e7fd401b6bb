#include "esrun/train/checkpoint.h"

#include <iomanip>
#include <sstream>

#include "esrun/core/error.h"
#include "esrun/core/rng.h"

namespace esrun {
namespace {

std::string checksum(const std::string& bytes) {
  std::ostringstream out;
  out << std::hex << std::setw(16) << std::setfill('0') << fnv1a64(bytes);
  return out.str();
}

}  // namespace

std::string seal_checkpoint(torch::serialize::OutputArchive& archive) {
  std::ostringstream out;
  archive.save_to(out);
  std::string content = out.str();
  const std::string sum = checksum(content);
  torch::serialize::OutputArchive sealed;
  sealed.write("content", c10::IValue(std::move(content)));
  sealed.write("checksum", c10::IValue(sum));
  std::ostringstream bytes;
  sealed.save_to(bytes);
  return bytes.str();
}

torch::serialize::InputArchive open_checkpoint(const std::string& file, std::optional<torch::Device> device) {
  c10::optional<torch::Device> on;  // libtorch's own optional (std::optional from 2.x on)
  if (device) on = *device;
  torch::serialize::InputArchive archive;
  archive.load_from(file, on);
  c10::IValue content;
  if (!archive.try_read("content", content)) return archive;  // written before checkpoints were sealed
  c10::IValue stored;
  archive.read("checksum", stored);
  const std::string now = checksum(content.toStringRef());
  ESRUN_CHECK(now == stored.toStringRef(), "checkpoint '", file, "': its checksum does not match its contents (",
              stored.toStringRef(), " recorded, ", now, " now)");
  std::istringstream in(content.toStringRef());
  torch::serialize::InputArchive inner;
  inner.load_from(in, on);
  return inner;
}

}  // namespace esrun
