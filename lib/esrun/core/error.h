// esrun's two kinds of failure. Everything a user can get wrong ends in an esrun::Error whose
// message names the file, the YAML key path (and line where known), the value and what was
// expected (ESRUN_CHECK; exit code 2). What only a bug can break is an InternalError
// (ESRUN_INTERNAL_CHECK; exit code 1, as libtorch's own errors). Only apps/esrun/main.cpp catches.
#pragma once

#include <sstream>
#include <stdexcept>
#include <string>
#include <vector>

namespace esrun {

class Error : public std::runtime_error {
 public:
  explicit Error(const std::string& message) : std::runtime_error(message) {}
};

// A broken invariant of esrun's own code: never the user's input.
class InternalError : public std::logic_error {
 public:
  explicit InternalError(const std::string& message) : std::logic_error(message) {}
};

namespace detail {
template <typename... Parts>
std::string concat(const Parts&... parts) {
  std::ostringstream out;
  (out << ... << parts);
  return out.str();
}
}  // namespace detail

// "a, b, c": lists of names in messages.
inline std::string join(const std::vector<std::string>& items, const char* separator = ", ") {
  std::string out;
  for (const auto& item : items) out += (out.empty() ? "" : separator) + item;
  return out;
}

// The line of a libtorch exception's message that says what went wrong, for wrapping it in an
// esrun::Error: the first, or for the TorchScript interpreter's tracebacks the last non-empty one.
inline std::string libtorch_reason(const std::exception& error) {
  std::string text(error.what());
  if (text.find("Traceback") != std::string::npos) {
    while (!text.empty() && (text.back() == '\n' || text.back() == ' ' || text.back() == '\r' || text.back() == '\t'))
      text.pop_back();
    return text.substr(text.rfind('\n') + 1);
  }
  return text.substr(0, text.find('\n'));
}

}  // namespace esrun

// ESRUN_CHECK(cond, "expected ", a, " but got ", b): throws esrun::Error with the concatenated message.
#define ESRUN_CHECK(cond, ...)                                          \
  do {                                                                  \
    if (!(cond)) throw ::esrun::Error(::esrun::detail::concat(__VA_ARGS__)); \
  } while (false)

#define ESRUN_FAIL(...) throw ::esrun::Error(::esrun::detail::concat(__VA_ARGS__))

// ESRUN_INTERNAL_CHECK(cond, "what must hold"): throws esrun::InternalError, naming the source line.
#define ESRUN_INTERNAL_CHECK(cond, ...)                                                                      \
  do {                                                                                                       \
    if (!(cond))                                                                                             \
      throw ::esrun::InternalError(::esrun::detail::concat("internal invariant broken at ", __FILE__, ":", \
                                                           __LINE__, ": ", __VA_ARGS__));                    \
  } while (false)
