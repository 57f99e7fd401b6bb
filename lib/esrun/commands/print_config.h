// `esrun print-config`: the resolved config of a run (RunConfig::resolved.to_yaml), each of many
// configs resolved alone (--each), or every key with its default and help (--defaults).
#pragma once

#include <ostream>
#include <string>

#include "esrun/commands/run.h"

namespace esrun {

// Every key with its default and help, as commented YAML or as the Markdown page docs/config.md.
std::string defaults_yaml();
std::string defaults_markdown();

// Each --config file resolved on its own (with every --set), one YAML document each headed
// "--- # FILE", in the order given, written to `out` as each resolves (a bad file after good ones
// leaves theirs printed).
void print_each(const RunRequest& request, std::ostream& out);

}  // namespace esrun
