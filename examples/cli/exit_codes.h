// The one table from library status to exit code. `hfkit help exit-codes` prints it, the README
// documents it, and tests/cli/test_cli_hardening.py checks every status of hfkit.h against both.
#pragma once

#include "hfkit/hfkit.h"

namespace cli {

// Exit codes (documented in `hfkit --help` and the README).
enum Exit : int {
    kOk = 0,
    kError = 1,         // any other failure
    kUsage = 2,         // bad command line
    kNotFound = 3,      // model, revision or file not found
    kAuth = 4,          // gated repository or bad token
    kNetwork = 5,       // network down, offline and not cached, server errors
    kBadModel = 6,      // malformed or unsupported checkpoint, or one that computes NaN
    kInterrupted = 130  // Ctrl-C
};

// The exit code of a status; kError for a status this table does not know.
int exit_code(hfk_status status);

// Prints every status of the table, one per line: "HFK_E_NOT_FOUND -6 3 not found".
void print_exit_code_table();

}  // namespace cli
