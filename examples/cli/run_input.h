// Which words of `hfkit run` are the model and which the prompt, and reading a prompt from stdin.
#pragma once

#include <cstdint>
#include <cstdio>
#include <string>
#include <vector>

namespace cli {

struct RunInput {
    std::string model;       // empty: the bundled model
    std::string prompt;      // when !prompt_from_stdin
    bool prompt_from_stdin;  // "-", or a lone MODEL with stdin not a terminal
};

// [MODEL] PROMPT, where PROMPT "-" means stdin. A lone word that names an existing directory, a
// path or a plausible Hub id is a model whose prompt is missing: read from stdin when stdin is
// not a terminal, else a UsageError (rather than running the bundled model on the model's name).
RunInput resolve_run_input(const std::vector<std::string> &positional, bool stdin_is_terminal);

// True for an existing directory, a path ("/x", "./x", "../x", "~/x") or a string shaped like a
// Hub repository id ("gpt2", "org/name": letters, digits, "-", "_", "." and one "/").
bool looks_like_model(const std::string &word);

// All of `in` as the prompt (one trailing newline dropped, as `echo` adds one); a UsageError
// once it exceeds max_bytes, without reading further. Read before the model loads (an empty
// stdin after a lone MODEL is a missing prompt, found before any download), so the bound is
// --ctx-size's worth of bytes or kMaxStdinPrompt; the model's own context is checked after.
constexpr size_t kMaxStdinPrompt = size_t{64} << 20;
std::string read_prompt(std::FILE *in, size_t max_bytes);

// `prompt` (from stdin) against the context of the loaded model: UsageError when longer than
// max_prompt_bytes(n_ctx).
void check_prompt_size(const std::string &prompt, int64_t n_ctx);

}  // namespace cli
