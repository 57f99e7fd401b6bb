// fuzz_config: the configuration loader as `esrun --config FILE --set key=value ...` runs it
// (esrun::load_config: YAML layers, --set overrides, every typed option read and validated), then
// what print-config and every run do with the result: the resolved YAML with notes and its hash.
//
// Input: leading lines that start with '@' are --set assignments (the rest of the line, e.g.
// "@sampler.name=es"); everything after them is the YAML of one --config file (none when empty).
//
// Beyond crashes and escaping exceptions, one property: a config that loads must load again from
// its own config.resolved.yaml (to_yaml(notes=true), which a run writes and --resume and esrun
// score read back) to the same values. A failure prints both texts and aborts.
#include <cstdio>

#include "fuzz_common.h"

namespace {

struct Parsed {
  std::vector<std::string> sets;
  std::string_view yaml;
};

Parsed parse_input(std::string_view text) {
  Parsed out;
  while (!text.empty() && text.front() == '@') {
    const auto end = text.find('\n');
    out.sets.emplace_back(text.substr(1, end == std::string_view::npos ? std::string_view::npos : end - 1));
    text.remove_prefix(end == std::string_view::npos ? text.size() : end + 1);
  }
  out.yaml = text;
  return out;
}

[[noreturn]] void round_trip_failure(const std::string& what, const std::string& first, const std::string& second) {
  std::fprintf(stderr, "esrun-fuzz: config round trip: %s\n--- resolved YAML ---\n%s\n--- read back ---\n%s\n",
               what.c_str(), first.c_str(), second.c_str());
  std::abort();
}

}  // namespace

extern "C" int LLVMFuzzerInitialize(int*, char***) {
  esrun_fuzz::quiet();
  return 0;
}

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const Parsed input = parse_input(esrun_fuzz::as_view(data, size));
  const auto dir = esrun_fuzz::scratch();
  esrun::RunRequest request;
  request.sets = input.sets;
  if (!input.yaml.empty()) {
    esrun_fuzz::write_file(dir / "config.yaml", input.yaml);
    request.configs = {(dir / "config.yaml").string()};
  }
  std::string resolved;
  esrun_fuzz::guarded([&] {
    const esrun::RunConfig config = esrun::load_config(request);
    resolved = config.resolved.to_yaml(/*notes=*/true);
    (void)config.resolved.hash();
  });
  if (resolved.empty()) return 0;

  // The run directory's config.resolved.yaml, read back as check_resumable and esrun score do.
  esrun_fuzz::write_file(dir / "config.resolved.yaml", resolved);
  std::string again;
  try {
    again = esrun::load_run_config(esrun::resolve_config({(dir / "config.resolved.yaml").string()}, {}),
                                   /*warn=*/false).resolved.to_yaml(/*notes=*/true);
  } catch (const esrun::Error& e) {
    round_trip_failure(std::string("the resolved YAML is rejected: ") + e.what(), resolved, "");
  }
  if (again != resolved) round_trip_failure("the values differ", resolved, again);
  return 0;
}
