// Structured output on the command line: --json-schema FILE, --grammar FILE (GBNF), --regex RE.
#pragma once

#include <string>
#include <vector>

#include "cli.h"

namespace cli {

extern const std::vector<std::string> kConstraintValueOptions;
extern const char *const kConstraintOptionsHelp;

// Sets p.constraint_kind / p.constraint (pointing into `text`, which must outlive p).
// UsageError for an unreadable file or more than one constraint.
void apply_constraint_options(const Args &a, hfk_gen_params &p, std::string &text);

}  // namespace cli
