// What this binary was built with: esrun's version, libtorch's, and whether CUDA and cuDNN are in
// it. `esrun --version` prints it, summary.json and `esrun bench` record it.
#pragma once

#include <nlohmann/json.hpp>

#include <string>

namespace esrun {

struct BuildInfo {
  std::string esrun_version;
  std::string libtorch_version;
  bool cuda = false;          // libtorch's CUDA library is linked and its hooks are registered
  std::string cuda_version;   // the CUDA runtime libtorch was built with ("13.0"); empty without CUDA
  std::string cudnn_version;  // the cuDNN libtorch was built with ("9.19.0"); empty without cuDNN
  bool opencv = false;        // synthetic_shapes and image_folder are built in
  int cuda_devices = 0;       // visible now, on this machine
};

BuildInfo build_info();

// "esrun 0.1.0\nlibtorch 2.11.0, CUDA 13.0 compiled in (cuDNN 9.19.0), 0 CUDA device(s) visible\nOpenCV built in"
std::string version_text(const BuildInfo& info);

nlohmann::json to_json(const BuildInfo& info);

}  // namespace esrun
