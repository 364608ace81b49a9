// The sampling options `run` and `chat` share, from the command line into hfk_gen_params.
#pragma once

#include <string>
#include <vector>

#include "cli.h"

namespace cli {

extern const std::vector<std::string> kGenValueOptions;  // --max-tokens, --temperature, ...

// Fills `p` (already initialised) from `a`. `stops` owns the strings p.stop points into.
void apply_gen_options(const Args &a, hfk_gen_params &p, std::vector<std::string> &stops,
                       std::vector<const char *> &stop_ptrs);

extern const char *const kGenOptionsHelp;

}  // namespace cli
