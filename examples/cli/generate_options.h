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

// --threads (0: one per core; at most kMaxThreads) and --ctx-size (0: the model's), checked.
constexpr int64_t kMaxThreads = 4096;
int32_t thread_option(const Args &a);
int32_t context_option(const Args &a);
// --quant: an HFK_QUANT_* value (UsageError for anything else).
int32_t quant_option(const Args &a);
// --kv-dtype: an HFK_KV_* value (UsageError for anything else).
int32_t kv_dtype_option(const Args &a);
// --compute: an HFK_COMPUTE_* value (UsageError for anything else).
int32_t compute_option(const Args &a);

}  // namespace cli
