#include "tokenizer/regex.h"

#define PCRE2_CODE_UNIT_WIDTH 8
#include <pcre2.h>

#include "util/error.h"

namespace hfk::tok {

namespace {

// Real tokenizer regexes are a few hundred bytes; anything much longer is hostile.
constexpr size_t kMaxPatternBytes = 16 * 1024;
// Per match call. The tokenizer regexes need a few dozen steps per match; the limits only stop
// pathological patterns (e.g. nested quantifiers) on long inputs.
constexpr uint32_t kMatchLimit = 20'000'000;
constexpr uint32_t kDepthLimit = 100'000;
constexpr uint32_t kHeapLimitKiB = 64 * 1024;

// Match data, match context and JIT stack are per thread, so one compiled Regex can be shared by
// every thread without locking. A single ovector pair is enough: we only use the whole match.
struct ThreadMatcher {
    pcre2_match_data *md = nullptr;
    pcre2_match_context *mctx = nullptr;
    pcre2_jit_stack *jit = nullptr;
    ThreadMatcher() {
        md = pcre2_match_data_create(1, nullptr);
        mctx = pcre2_match_context_create(nullptr);
        jit = pcre2_jit_stack_create(32 * 1024, 8 * 1024 * 1024, nullptr);
        if (mctx) {
            pcre2_set_match_limit(mctx, kMatchLimit);
            pcre2_set_depth_limit(mctx, kDepthLimit);
            pcre2_set_heap_limit(mctx, kHeapLimitKiB);
            if (jit) pcre2_jit_stack_assign(mctx, nullptr, jit);
        }
    }
    ~ThreadMatcher() {
        pcre2_match_data_free(md);
        pcre2_match_context_free(mctx);
        if (jit) pcre2_jit_stack_free(jit);
    }
};

ThreadMatcher &thread_matcher() {
    thread_local ThreadMatcher m;
    if (!m.md || !m.mctx) fail(HFK_E_NOMEM, "tokenizer regex: cannot allocate match data");
    return m;
}

}  // namespace

std::string to_pcre2(std::string_view p) {
    std::string out;
    out.reserve(p.size() + 16);
    bool in_class = false;
    for (size_t i = 0; i < p.size(); ++i) {
        char c = p[i];
        if (c == '\\' && i + 1 < p.size()) {
            char n = p[i + 1];
            if (n == 'h')
                out += in_class ? "0-9a-fA-F" : "[0-9a-fA-F]";
            else if (n == 'H')
                out += in_class ? "\\x00-\\x2F\\x3A-\\x40\\x47-\\x60\\x67-\\x{10FFFF}"
                                : "[^0-9a-fA-F]";
            else {
                out += c;
                out += n;
            }
            ++i;
            continue;
        }
        if (c == '[' && !in_class)
            in_class = true;
        else if (c == ']' && in_class && out.size() && out.back() != '[')
            in_class = false;
        out += c;
    }
    return out;
}

Regex::Regex(std::string_view onig, std::string_view what) : pattern_(onig) {
    if (onig.size() > kMaxPatternBytes)
        fail(HFK_E_FORMAT, std::string(what) + ": regex longer than " +
                               std::to_string(kMaxPatternBytes) + " bytes");
    std::string p = to_pcre2(onig);
    int err = 0;
    PCRE2_SIZE off = 0;
    pcre2_code *code = pcre2_compile(reinterpret_cast<PCRE2_SPTR>(p.data()), p.size(),
                                     PCRE2_UTF | PCRE2_UCP, &err, &off, nullptr);
    if (!code) {
        PCRE2_UCHAR buf[256];
        pcre2_get_error_message(err, buf, sizeof buf);
        fail(HFK_E_FORMAT, std::string(what) + ": invalid regex '" +
                               std::string(onig.substr(0, 200)) + "' at offset " +
                               std::to_string(off) + ": " + reinterpret_cast<const char *>(buf));
    }
    pcre2_jit_compile(code, PCRE2_JIT_COMPLETE);  // optional: falls back to the interpreter
    code_ = code;
}

Regex::~Regex() {
    pcre2_code_free(static_cast<pcre2_code *>(code_));
}

bool Regex::find(std::string_view s, size_t from, size_t &ms, size_t &me) const {
    ThreadMatcher &m = thread_matcher();
    int rc = pcre2_match(static_cast<pcre2_code *>(code_), reinterpret_cast<PCRE2_SPTR>(s.data()),
                         s.size(), from, PCRE2_NO_UTF_CHECK, m.md, m.mctx);
    if (rc == PCRE2_ERROR_NOMATCH) return false;
    if (rc < 0) {
        PCRE2_UCHAR buf[256];
        pcre2_get_error_message(rc, buf, sizeof buf);
        fail(HFK_E_RESOURCE, "tokenizer regex '" + pattern_.substr(0, 200) +
                                 "' failed on the input: " + reinterpret_cast<const char *>(buf));
    }
    PCRE2_SIZE *ov = pcre2_get_ovector_pointer(m.md);
    ms = ov[0];
    me = ov[1];
    if (me < ms) me = ms;  // \K can produce this; treat as empty
    return true;
}

}  // namespace hfk::tok
