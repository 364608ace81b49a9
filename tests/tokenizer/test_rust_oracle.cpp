// hfkit's tokenizers against the Rust `tokenizers` library itself (0.22.2, the version
// transformers uses, through the napi build in tests/tokenizer/rust_oracle, run here with node).
// For every tokenizer of ../shared/tokenizers and ../shared/models, a few variants built from them
// (Metaspace set-ups of Marian- and ChatGLM-style tokenizers) and the legacy-format ones (hfkit's
// own conversion, given to both), over the shared corpus and tests/tokenizer/scripts_corpus.jsonl:
// ids with and without special tokens, tokens, and the decode of Rust's ids with special tokens
// kept and skipped. Every mismatching case is reported with its text, expected and actual.
//
// Skipped, with the reason, when node or `npm ci --prefix tests/tokenizer/rust_oracle` is missing.
// The documented differences are in kKnown (tests/tokenizer/RUST_ORACLE.md explains each).
#include <gtest/gtest.h>

#include <stdlib.h>
#include <sys/wait.h>

#include <cstdio>
#include <functional>
#include <map>
#include <nlohmann/json.hpp>
#include <set>

#include "test_util.h"
#include "tokenizer/impl.h"
#include "tokenizer/tokenizer.h"

namespace fs = std::filesystem;
using nlohmann::json;
using Ids = std::vector<int32_t>;

namespace {

fs::path source_dir() {
    const char *env = std::getenv("HFK_SOURCE_DIR");
    return env && *env ? fs::path(env) : fs::path(HFK_TEST_SOURCE_DIR);
}
fs::path oracle_dir() {
    return source_dir() / "tests" / "tokenizer" / "rust_oracle";
}

// Where hfkit deliberately follows transformers rather than the Rust library, as (tokenizer,
// corpus, case id) -> why. Empty: the one such difference (CLIP's decode wrapper) is applied to
// the Rust output below instead of skipping cases.
const std::map<std::tuple<std::string, std::string, int>, const char *> kKnown = {};

// Python's str.isspace() characters: what transformers' CLIPTokenizerFast strips with str.strip().
bool python_space(char32_t c) {
    return (c >= 0x09 && c <= 0x0D) || (c >= 0x1C && c <= 0x20) || c == 0x85 || c == 0xA0 ||
           c == 0x1680 || (c >= 0x2000 && c <= 0x200A) || c == 0x2028 || c == 0x2029 ||
           c == 0x202F || c == 0x205F || c == 0x3000;
}
std::u32string to_u32(const std::string &s) {
    std::u32string out;
    for (size_t i = 0; i < s.size();) {
        unsigned char b = s[i];
        int n = b < 0x80 ? 1 : b < 0xE0 ? 2 : b < 0xF0 ? 3 : 4;
        char32_t c = n == 1 ? b : b & (0x7F >> n);
        for (int k = 1; k < n && i + k < s.size(); ++k) c = (c << 6) | (s[i + k] & 0x3F);
        out.push_back(c);
        i += n;
    }
    return out;
}
// transformers' CLIPTokenizerFast.decode: the Rust decode, "</w>" -> " ", then str.strip().
std::string clip_wrapper(const std::string &rust) {
    std::string s;
    for (size_t i = 0; i < rust.size();) {
        if (rust.compare(i, 4, "</w>") == 0) {
            s += ' ';
            i += 4;
        } else {
            s += rust[i++];
        }
    }
    std::u32string u = to_u32(s);
    size_t b = 0, e = u.size();
    while (b < e && python_space(u[b])) ++b;
    while (e > b && python_space(u[e - 1])) --e;
    // Back to UTF-8 through byte offsets: count the bytes of the stripped prefix and suffix.
    size_t pre = 0, i = 0;
    for (size_t k = 0; k < b; ++k) {
        unsigned char c = s[i];
        size_t n = c < 0x80 ? 1 : c < 0xE0 ? 2 : c < 0xF0 ? 3 : 4;
        pre += n;
        i += n;
    }
    size_t keep = 0;
    for (size_t k = b; k < e; ++k) {
        unsigned char c = s[i];
        size_t n = c < 0x80 ? 1 : c < 0xE0 ? 2 : c < 0xF0 ? 3 : 4;
        keep += n;
        i += n;
    }
    return s.substr(pre, keep);
}

std::string show(const Ids &v) {
    std::string s = "[";
    for (size_t i = 0; i < v.size(); ++i) s += (i ? "," : "") + std::to_string(v[i]);
    return s + "]";
}

struct Subject {
    std::string name;
    // The hfkit side: a shared directory (relative to ../shared) ...
    std::string dir;
    // ... and what the Rust side loads: the directory's tokenizer.json, or a document built from
    // it (a variant), or hfkit's conversion of legacy files.
    std::function<json()> make_json;  // null: dir/tokenizer.json as is
    bool legacy = false;
    bool clip_decode = false;  // hfkit applies transformers' CLIP decode wrapper
};

void PrintTo(const Subject &s, std::ostream *os) {
    *os << s.name;
}

json read_json(const fs::path &p) {
    return json::parse(hfk_test::read_text(p));
}

// Variants of t5-small's tokenizer.json (its Precompiled charsmap and Unigram vocabulary) with the
// Metaspace set-ups of other SentencePiece conversions, and a leading and trailing special token so
// that decoding with special tokens skipped starts at a text token.
json t5_variant(const std::string &scheme, bool split) {
    json t = read_json(hfk_test::shared_dir() / "tokenizers/t5-small/tokenizer.json");
    json ms = {{"type", "Metaspace"},
               {"replacement", "\xE2\x96\x81"},
               {"prepend_scheme", scheme},
               {"split", split}};
    t["pre_tokenizer"] = ms;
    t["decoder"] = ms;
    t["post_processor"] = {
        {"type", "TemplateProcessing"},
        {"single", json::array({{{"SpecialToken", {{"id", "</s>"}, {"type_id", 0}}}},
                                {{"Sequence", {{"id", "A"}, {"type_id", 0}}}},
                                {{"SpecialToken", {{"id", "</s>"}, {"type_id", 0}}}}})},
        {"pair", json::array({{{"Sequence", {{"id", "A"}, {"type_id", 0}}}},
                              {{"Sequence", {{"id", "B"}, {"type_id", 1}}}}})},
        {"special_tokens",
         {{"</s>",
           {{"id", "</s>"}, {"ids", json::array({1})}, {"tokens", json::array({"</s>"})}}}}}};
    return t;
}

// ByteLevel components without their flags take the Rust library's ByteLevel::default() (all
// true) in hfkit; the Rust deserializer wants them spelled out.
void complete_byte_level(json &j) {
    if (j.is_object() && j.value("type", "") == "ByteLevel")
        for (const char *f : {"add_prefix_space", "trim_offsets", "use_regex"})
            if (!j.contains(f)) j[f] = true;
    if (j.is_structured())
        for (json &child : j) complete_byte_level(child);
}

// hfkit's conversion leaves optional added-token flags out (hfkit's defaults, which are the Rust
// library's AddedToken defaults); the Rust deserializer wants them all.
json complete_added_tokens(json tj) {
    for (const char *part : {"pre_tokenizer", "post_processor", "decoder"})
        if (tj.contains(part)) complete_byte_level(tj[part]);
    for (json &t : tj["added_tokens"]) {
        bool special = t.value("special", false);
        for (const char *f : {"single_word", "lstrip", "rstrip"})
            if (!t.contains(f)) t[f] = false;
        if (!t.contains("special")) t["special"] = special;
        if (!t.contains("normalized")) t["normalized"] = !special;
    }
    return tj;
}

json legacy_json(const std::string &dir) {
    fs::path d = hfk_test::shared_dir() / dir;
    auto opt = [&](const char *f) { return fs::exists(d / f) ? read_json(d / f) : json(); };
    json config = opt("tokenizer_config.json");
    if (fs::exists(d / "merges.txt"))
        return complete_added_tokens(hfk::tok::legacy_gpt2(hfk_test::read_text(d / "vocab.json"),
                                                           hfk_test::read_text(d / "merges.txt"),
                                                           config, opt("added_tokens.json")));
    for (auto &e : fs::directory_iterator(d))
        if (e.path().extension() == ".txt" &&
            e.path().filename().string().find("vocab") != std::string::npos)
            return complete_added_tokens(hfk::tok::legacy_wordpiece(
                hfk_test::read_text(e.path()), config,
                e.path().filename().string().find("uncased") != std::string::npos));
    return json();
}

const std::vector<Subject> &subjects() {
    static const std::vector<Subject> all = [] {
        std::vector<Subject> v;
        for (const char *t :
             {"gpt2", "llama2", "llama3-npm-lenml", "phi-2", "phi-3-mini", "falcon", "roberta-base",
              "t5-small", "bert-base-uncased-wordpiece", "added-tokens"})
            v.push_back({t, std::string("tokenizers/") + t, nullptr});
        v.push_back({"clip", "tokenizers/clip", nullptr, false, true});
        v.push_back({"aidreams260K", "models/aidreams260K", nullptr});
        v.push_back({"tiny-gpt2", "models/tiny-gpt2", nullptr});
        v.push_back({"t5-metaspace-split", "", [] { return t5_variant("always", true); }});
        v.push_back({"t5-metaspace-always", "", [] { return t5_variant("always", false); }});
        v.push_back({"t5-metaspace-first", "", [] { return t5_variant("first", false); }});
        v.push_back({"t5-metaspace-never", "", [] { return t5_variant("never", false); }});
        v.push_back(
            {"qwen2", "tokenizers/qwen2", [] { return legacy_json("tokenizers/qwen2"); }, true});
        v.push_back({"bert-base-cased-vocab", "tokenizers/bert-base-cased-vocab",
                     [] { return legacy_json("tokenizers/bert-base-cased-vocab"); }, true});
        return v;
    }();
    return all;
}

// A scratch directory removed at the end of the test.
struct TempDir {
    fs::path path;
    TempDir() {
        std::string tmpl = (fs::temp_directory_path() / "hfk_rust_oracle_XXXXXX").string();
        if (mkdtemp(tmpl.data())) path = tmpl;
    }
    ~TempDir() {
        std::error_code ec;
        if (!path.empty()) fs::remove_all(path, ec);
    }
};

std::string shell_quote(const std::string &s) {
    std::string q = "'";
    for (char c : s) q += c == '\'' ? std::string("'\\''") : std::string(1, c);
    return q + "'";
}

// Runs the oracle; returns its output lines (header first), or fails the test.
std::vector<json> run_oracle(const fs::path &tokenizer_json, const std::vector<fs::path> &corpora,
                             const fs::path &scratch) {
    fs::path err = scratch / "oracle.stderr";
    std::string cmd = "node " + shell_quote((oracle_dir() / "oracle.mjs").string()) + " " +
                      shell_quote(tokenizer_json.string());
    for (auto &c : corpora) cmd += " " + shell_quote(c.string());
    cmd += " 2>" + shell_quote(err.string());
    FILE *p = popen(cmd.c_str(), "r");
    if (!p) {
        ADD_FAILURE() << "cannot run " << cmd;
        return {};
    }
    std::string out;
    char buf[1 << 16];
    size_t n;
    while ((n = fread(buf, 1, sizeof buf, p)) > 0) out.append(buf, n);
    int status = pclose(p);
    std::vector<json> lines;
    size_t pos = 0;
    while (pos < out.size()) {
        size_t end = out.find('\n', pos);
        if (end == std::string::npos) end = out.size();
        if (end > pos) lines.push_back(json::parse(out.substr(pos, end - pos), nullptr, false));
        pos = end + 1;
    }
    bool ok = WIFEXITED(status) && WEXITSTATUS(status) == 0 && !lines.empty() &&
              lines[0].contains("_header") && !lines[0]["_header"].contains("error");
    if (!ok) {
        ADD_FAILURE() << "the Rust oracle failed (status " << status << "): " << cmd << "\n"
                      << (lines.empty() ? std::string() : lines[0].dump()) << "\n"
                      << hfk_test::read_text(err);
        return {};
    }
    // The pinned build (tokenizers 0.22.2), not whatever an older node_modules holds.
    if (lines[0]["_header"].value("version", "") != "0.6.0") {
        ADD_FAILURE() << "the oracle is not @anush008/tokenizers 0.6.0: " << lines[0].dump()
                      << "\nrun `npm ci --prefix " << oracle_dir().string() << "`";
        return {};
    }
    for (auto &l : lines)
        if (l.is_discarded()) {
            ADD_FAILURE() << "unparsable oracle output for " << tokenizer_json;
            return {};
        }
    return lines;
}

class RustOracle : public ::testing::TestWithParam<Subject> {};

TEST_P(RustOracle, MatchesCaseByCase) {
    const Subject &s = GetParam();
    if (!fs::exists(oracle_dir() / "node_modules" / "@anush008" / "tokenizers" / "package.json"))
        GTEST_SKIP() << "the Rust oracle is not installed: run `npm ci --prefix "
                     << oracle_dir().string() << "`";
    if (std::system("node --version >/dev/null 2>&1") != 0) GTEST_SKIP() << "node is not on PATH";

    TempDir scratch;
    ASSERT_FALSE(scratch.path.empty());
    fs::path tj = hfk_test::shared_dir() / s.dir / "tokenizer.json";
    std::shared_ptr<const hfk::Tokenizer> tok;
    if (s.make_json) {
        tj = scratch.path / "tokenizer.json";
        json doc = s.make_json();
        ASSERT_TRUE(doc.is_object()) << s.name;
        std::ofstream(tj) << doc.dump();
        // A variant is loaded by hfkit from the same document; a legacy tokenizer from its files.
        tok = s.legacy ? hfk::Tokenizer::load(hfk_test::shared_dir() / s.dir)
                       : hfk::Tokenizer::load(tj);
    } else {
        tok = hfk::Tokenizer::load(hfk_test::shared_dir() / s.dir);
    }
    std::vector<fs::path> corpora = {hfk_test::shared_dir() / "reference/tokenizers/corpus.jsonl",
                                     source_dir() / "tests/tokenizer/scripts_corpus.jsonl"};
    std::vector<json> lines = run_oracle(tj, corpora, scratch.path);
    ASSERT_FALSE(lines.empty());

    int compared = 0, mismatches = 0, known = 0;
    for (size_t i = 1; i < lines.size(); ++i) {
        const json &c = lines[i];
        std::string corpus = c["corpus"].get<std::string>(), text = c["text"].get<std::string>();
        int id = c["id"].get<int>();
        ++compared;
        std::string where = s.name + " " + corpus + " case " + std::to_string(id);
        if (c.contains("error")) {
            ++mismatches;
            ADD_FAILURE() << where << ": the Rust library failed: " << c["error"] << "\n  text "
                          << json(text).dump();
            continue;
        }
        Ids want = c["ids"].get<Ids>(), want_ns = c["ids_no_special"].get<Ids>();
        auto want_tokens = c["tokens"].get<std::vector<std::string>>();
        std::string want_dec = c["decode"].get<std::string>();
        std::string want_skip = c["decode_skip"].get<std::string>();
        if (s.clip_decode) {
            want_dec = clip_wrapper(want_dec);
            want_skip = clip_wrapper(want_skip);
        }
        Ids ids = tok->encode(text, true), ids_ns = tok->encode(text, false);
        // Token strings through id_to_token, except the unknown token and added tokens, whose
        // string in a Rust Encoding is the text they matched.
        std::vector<std::string> tokens;
        for (size_t k = 0; k < ids_ns.size(); ++k)
            tokens.push_back((ids_ns[k] == tok->unk_id() || tok->is_special(ids_ns[k])) &&
                                     k < want_tokens.size()
                                 ? want_tokens[k]
                                 : tok->id_to_token(ids_ns[k]));
        std::string dec, skip;
        try {
            dec = tok->decode(want, false);
            skip = tok->decode(want, true);
        } catch (const std::exception &e) {
            dec = skip = std::string("(threw) ") + e.what();
        }
        std::string diff;
        if (ids != want)
            diff += "\n  ids (special)   hfkit " + show(ids) + "\n                  rust  " +
                    show(want);
        if (ids_ns != want_ns)
            diff += "\n  ids             hfkit " + show(ids_ns) + "\n                  rust  " +
                    show(want_ns);
        else if (tokens != want_tokens)
            diff += "\n  tokens          hfkit " + json(tokens).dump() +
                    "\n                  rust  " + json(want_tokens).dump();
        if (dec != want_dec)
            diff += "\n  decode          hfkit " + json(dec).dump() + "\n                  rust  " +
                    json(want_dec).dump();
        if (skip != want_skip)
            diff += "\n  decode (skip)   hfkit " + json(skip).dump() +
                    "\n                  rust  " + json(want_skip).dump();
        if (diff.empty()) continue;
        auto k = kKnown.find({s.name, corpus, id});
        if (k != kKnown.end()) {
            ++known;
            continue;
        }
        ++mismatches;
        ADD_FAILURE() << where << " text " << json(text).dump() << diff;
    }
    EXPECT_GT(compared, 400) << s.name;
    std::printf("[ rust oracle ] %s: %d cases compared, %d mismatches, %d known differences\n",
                s.name.c_str(), compared, mismatches, known);
    RecordProperty("cases", compared);
    RecordProperty("mismatches", mismatches);
}

std::string param_name(const ::testing::TestParamInfo<Subject> &info) {
    std::string n;
    for (char c : info.param.name) n += std::isalnum(static_cast<unsigned char>(c)) ? c : '_';
    return n;
}

}  // namespace

INSTANTIATE_TEST_SUITE_P(Tokenizers, RustOracle, ::testing::ValuesIn(subjects()), param_name);
