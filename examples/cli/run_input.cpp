#include "run_input.h"

#include <sys/stat.h>

#include <cctype>

#include "cli.h"
#include "line_input.h"

namespace cli {
namespace {

bool is_directory(const std::string &path) {
    struct stat st {};
    return stat(path.c_str(), &st) == 0 && S_ISDIR(st.st_mode);
}

bool hub_id_part(const std::string &s) {
    if (s.empty() || s.size() > 96 || s.front() == '-' || s.front() == '.' || s.back() == '.' ||
        s.find("--") != std::string::npos || s.find("..") != std::string::npos)
        return false;
    for (const char c : s)
        if (!(std::isalnum(static_cast<unsigned char>(c)) || c == '-' || c == '_' || c == '.'))
            return false;
    return true;
}

}  // namespace

bool looks_like_model(const std::string &word) {
    if (word.empty()) return false;
    if (is_directory(word)) return true;
    if (word.find_first_of(" \t\n") == std::string::npos &&
        (word[0] == '/' || word.rfind("./", 0) == 0 || word.rfind("../", 0) == 0 ||
         word.rfind("~/", 0) == 0))
        return true;
    const auto slash = word.find('/');
    if (slash == std::string::npos) return hub_id_part(word);
    return hub_id_part(word.substr(0, slash)) && hub_id_part(word.substr(slash + 1));
}

RunInput resolve_run_input(const std::vector<std::string> &positional, bool stdin_is_terminal) {
    if (positional.size() > 2) throw UsageError{"run takes [MODEL] PROMPT (see hfkit run --help)"};
    if (positional.empty()) {
        if (stdin_is_terminal)
            throw UsageError{"run takes [MODEL] PROMPT, or the prompt on stdin (see --help)"};
        return {"", "", true};
    }
    if (positional.size() == 2) return {positional[0], positional[1], positional[1] == "-"};
    const std::string &word = positional[0];
    if (word == "-") return {"", "", true};
    if (!looks_like_model(word)) return {"", word, false};
    if (stdin_is_terminal)
        throw UsageError{"'" + terminal_safe(word) +
                         "' names a model but the prompt is missing: hfkit run MODEL PROMPT, "
                         "or pipe the prompt in (echo TEXT | hfkit run MODEL)"};
    return {word, "", true};
}

namespace {

[[noreturn]] void too_long(size_t max_bytes) {
    throw UsageError{"the prompt on stdin is longer than " + std::to_string(max_bytes) +
                     " bytes, more than the context can hold"};
}

}  // namespace

void check_prompt_size(const std::string &prompt, int64_t n_ctx) {
    if (prompt.size() > max_prompt_bytes(n_ctx)) too_long(max_prompt_bytes(n_ctx));
}

std::string read_prompt(std::FILE *in, size_t max_bytes) {
    std::string text;
    char buf[65536];
    size_t n;
    while ((n = std::fread(buf, 1, sizeof buf, in)) > 0) {
        if (text.size() + n > max_bytes + 2) too_long(max_bytes);  // + the newline dropped below
        text.append(buf, n);
    }
    if (!text.empty() && text.back() == '\n') text.pop_back();
    if (!text.empty() && text.back() == '\r') text.pop_back();
    if (text.size() > max_bytes) too_long(max_bytes);
    return text;
}

}  // namespace cli
