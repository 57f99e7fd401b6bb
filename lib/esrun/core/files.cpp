#include "esrun/core/files.h"

#include <fstream>

#include "esrun/core/error.h"

namespace esrun {

void write_file_atomic(const std::filesystem::path& target, const std::string& content) {
  namespace fs = std::filesystem;
  std::error_code error;
  if (target.has_parent_path()) fs::create_directories(target.parent_path(), error);
  ESRUN_CHECK(!error, "cannot create the folder '", target.parent_path().string(), "': ", error.message());
  const fs::path temporary = target.string() + ".tmp";
  {
    std::ofstream out(temporary, std::ios::trunc | std::ios::binary);
    out << content;
    out.flush();
    ESRUN_CHECK(out.good(), "cannot write '", temporary.string(), "'");
  }
  fs::rename(temporary, target, error);
  ESRUN_CHECK(!error, "cannot rename '", temporary.string(), "' to '", target.string(), "': ", error.message());
}

std::string read_file(const std::filesystem::path& source) {
  std::ifstream in(source, std::ios::binary);
  ESRUN_CHECK(in.good(), "cannot read '", source.string(), "'");
  return std::string(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
}

}  // namespace esrun
