// Precompiled header: the heavy third-party headers every translation unit uses.
#pragma once

#include <torch/torch.h>
#include <yaml-cpp/yaml.h>
#include <spdlog/spdlog.h>
#include <nlohmann/json.hpp>

#include <algorithm>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <sstream>
#include <string>
#include <vector>
