#include "line_input.h"

namespace cli {

LineStatus read_line(std::FILE *in, size_t max_bytes, std::string &line) {
    line.clear();
    int c;
    while ((c = std::getc(in)) != EOF) {
        if (c == '\n') return LineStatus::kLine;
        if (line.size() == max_bytes) return LineStatus::kTooLong;
        line += static_cast<char>(c);
    }
    return line.empty() ? LineStatus::kEnd : LineStatus::kLine;
}

size_t max_prompt_bytes(int64_t n_ctx) {
    return static_cast<size_t>(n_ctx > 0 ? n_ctx : 1) * kMaxBytesPerToken;
}

}  // namespace cli
