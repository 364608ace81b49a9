// The golden test: every case of reference/tokenizers/<name>.jsonl (made by the JS port of the
// tokenizers library) must match exactly, except the documented cases where the JS port differs
// from the Rust library (shared/README.md, tests/tokenizer/RUST_ORACLE.md); those are listed in
// kJsDiffers by name, and test_rust_oracle.cpp checks them against the Rust library itself. Plus
// the Python transformers vectors.
#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

#include <map>
#include <set>

#include "test_util.h"
#include "tokenizer/tokenizer.h"

using nlohmann::json;

namespace {

// (tokenizer, case id) -> why the JS reference is not the target there.
// Beyond the four differences README lists, two more were found and checked against the Rust
// library's code: the JS TextDecoder drops a leading U+FEFF (BOM) when the ByteFallback decoder
// turns <0xEF><0xBB><0xBF> back into text (Rust's String::from_utf8 keeps it), and JS's \s does
// not include U+0085 (NEL) while Rust's char::is_whitespace does (WhitespaceSplit).
const char *kBom = "JS TextDecoder strips a U+FEFF produced by ByteFallback; Rust keeps it";
const char *kNel =
    "Rust char::is_whitespace includes U+0085 (WhitespaceSplit splits there); JS \\s does not";
const char *kCjkExt = "README difference 1: Rust isolates CJK extension B..F characters as words";
// The Rust library's Precompiled normalizer works per grapheme cluster (a cluster under 6 bytes
// with a match is replaced whole; longer ones go character by character); the JS port takes the
// longest match at each position as SentencePiece does.
const char *kGrapheme = "Rust's Precompiled normalizer goes by grapheme cluster (RUST_ORACLE.md)";
const char *kSigma = "README difference 3: Rust lowercases per character (no final sigma)";
// CLIP decode strips like transformers' CLIPTokenizerFast wrapper, i.e. Python's str.strip(),
// which strips U+001F but not U+FEFF; the JS port uses String.prototype.trim (the reverse).
const char *kStrip =
    "CLIP decode: Python str.strip() semantics (U+001F stripped, U+FEFF kept), not JS trim()";
// A normalized=false added token is matched only in the raw text in Rust (AddedVocabulary's
// split_trie), so "<|ENDOFTEXT|>" lowercased by the normalizer is not <|endoftext|>.
const char *kRawAdded = "Rust matches normalized=false added tokens in the raw text only";
const std::map<std::pair<std::string, int>, const char *> kJsDiffers = {
    {{"bert-base-uncased-wordpiece", 213}, kCjkExt},
    {{"bert-base-uncased-wordpiece", 359}, kSigma},
    {{"clip", 359}, kSigma},
    {{"clip", 283}, kStrip},
    {{"clip", 295}, kStrip},
    {{"clip", 339}, kRawAdded},
    {{"aidreams260K-hf", 283}, kBom},
    {{"aidreams260K-hf", 284}, kBom},
    {{"t5-small", 62}, kNel},
    {{"t5-small", 268}, kGrapheme},
    {{"t5-small", 269}, kGrapheme},
    {{"t5-small", 373}, kGrapheme},
};

std::string show(const std::vector<int32_t> &v) {
    std::string s = "[";
    for (size_t i = 0; i < v.size(); ++i) s += (i ? "," : "") + std::to_string(v[i]);
    return s + "]";
}

void run_golden(const std::string &name, const std::filesystem::path &tok_dir) {
    auto ref_path = hfk_test::shared_dir() / "reference/tokenizers" / (name + ".jsonl");
    std::ifstream in(ref_path);
    ASSERT_TRUE(in) << ref_path;
    auto tok = hfk::Tokenizer::load(hfk_test::shared_dir() / tok_dir);
    std::string line;
    std::getline(in, line);  // header
    int n = 0, failures = 0, skipped = 0;
    while (std::getline(in, line)) {
        json c = json::parse(line);
        int id = c["id"].get<int>();
        ++n;
        if (kJsDiffers.count({name, id})) {
            ++skipped;
            continue;
        }
        std::string text = c["text"].get<std::string>();
        auto ids = tok->encode(text, true);
        auto ids_ns = tok->encode(text, false);
        auto want_ids = c["ids"].get<std::vector<int32_t>>();
        auto want_ns = c["ids_no_special"].get<std::vector<int32_t>>();
        std::vector<std::string> tokens;
        // hfkit returns ids; the reference's token strings are compared through id_to_token, except
        // for the unknown token and added tokens, whose string in an Encoding is the text matched.
        auto want_tokens = c["tokens"].get<std::vector<std::string>>();
        for (size_t k = 0; k < ids_ns.size(); ++k)
            tokens.push_back((ids_ns[k] == tok->unk_id() || tok->is_special(ids_ns[k])) &&
                                     k < want_tokens.size()
                                 ? want_tokens[k]
                                 : tok->id_to_token(ids_ns[k]));
        std::string dec = tok->decode(want_ids, false);
        std::string dec_skip = tok->decode(want_ids, true);
        bool ok = ids == want_ids && ids_ns == want_ns && tokens == want_tokens &&
                  dec == c["decode"].get<std::string>() &&
                  dec_skip == c["decode_skip"].get<std::string>();
        if (!ok && ++failures <= 8) {
            ADD_FAILURE() << name << " case " << id << " (" << c["cat"].get<std::string>()
                          << ") text " << json(text).dump() << "\n  ids      " << show(ids)
                          << "\n  want     " << show(want_ids) << "\n  ids_ns   " << show(ids_ns)
                          << "\n  want     " << show(want_ns) << "\n  decode   " << json(dec).dump()
                          << "\n  want     " << c["decode"].dump() << "\n  skip     "
                          << json(dec_skip).dump() << "\n  want     " << c["decode_skip"].dump();
        }
    }
    EXPECT_EQ(failures, 0) << name << ": " << failures << " of " << n << " cases differ";
    EXPECT_GT(n, 300);
    ::testing::Test::RecordProperty("skipped_js_differences", skipped);
}

}  // namespace

#define GOLDEN(test, name, dir)   \
    TEST(TokenizerGolden, test) { \
        run_golden(name, dir);    \
    }

GOLDEN(Gpt2, "gpt2", "tokenizers/gpt2")
GOLDEN(TinyGpt2, "tiny-gpt2", "models/tiny-gpt2")
GOLDEN(Aidreams260K, "aidreams260K-hf", "models/aidreams260K")
GOLDEN(Llama2, "llama2", "tokenizers/llama2")
GOLDEN(Llama3, "llama3-npm-lenml", "tokenizers/llama3-npm-lenml")
GOLDEN(Phi2, "phi-2", "tokenizers/phi-2")
GOLDEN(Phi3Mini, "phi-3-mini", "tokenizers/phi-3-mini")
GOLDEN(Falcon, "falcon", "tokenizers/falcon")
GOLDEN(RobertaBase, "roberta-base", "tokenizers/roberta-base")
GOLDEN(Clip, "clip", "tokenizers/clip")
GOLDEN(T5Small, "t5-small", "tokenizers/t5-small")
GOLDEN(BertBaseUncased, "bert-base-uncased-wordpiece", "tokenizers/bert-base-uncased-wordpiece")

// ---- transformers vectors: texts in .inp separated by __ggml_vocab_test__ lines, ids in .out ----
namespace {

void run_vectors(const std::string &vec, const std::string &tok_dir) {
    auto base = hfk_test::shared_dir() / "reference/tokenizers/transformers-vectors" /
                ("ggml-vocab-" + vec + ".gguf");
    std::string inp = hfk_test::read_text(base.string() + ".inp");
    std::string out = hfk_test::read_text(base.string() + ".out");
    ASSERT_FALSE(inp.empty());
    std::vector<std::string> texts;
    const std::string sep = "\n__ggml_vocab_test__\n";
    for (size_t pos = 0;;) {
        size_t k = inp.find(sep, pos);
        if (k == std::string::npos) break;  // the file ends with a separator
        texts.push_back(inp.substr(pos, k - pos));
        pos = k + sep.size();
    }
    std::vector<std::vector<int32_t>> want;
    std::istringstream lines(out);
    std::string line;
    while (std::getline(lines, line)) {
        std::istringstream nums(line);
        std::vector<int32_t> ids;
        int32_t x;
        while (nums >> x) ids.push_back(x);
        want.push_back(ids);
    }
    ASSERT_EQ(texts.size(), want.size()) << vec;
    auto tok = hfk::Tokenizer::load(hfk_test::shared_dir() / tok_dir);
    int failures = 0;
    for (size_t i = 0; i < texts.size(); ++i) {
        auto ids = tok->encode(texts[i], false);
        if (ids != want[i] && ++failures <= 5)
            ADD_FAILURE() << vec << " text " << i << " " << json(texts[i]).dump() << "\n  got  "
                          << show(ids) << "\n  want " << show(want[i]);
    }
    EXPECT_EQ(failures, 0);
}

}  // namespace

TEST(TokenizerTransformersVectors, Gpt2) {
    run_vectors("gpt-2", "tokenizers/gpt2");
}
TEST(TokenizerTransformersVectors, Falcon) {
    run_vectors("falcon", "tokenizers/falcon");
}
TEST(TokenizerTransformersVectors, Phi3) {
    run_vectors("phi-3", "tokenizers/phi-3-mini");
}
TEST(TokenizerTransformersVectors, LlamaSpm) {
    run_vectors("llama-spm", "tokenizers/llama2");
}
TEST(TokenizerTransformersVectors, BertBge) {
    run_vectors("bert-bge", "tokenizers/bert-base-uncased-wordpiece");
}
TEST(TokenizerTransformersVectors, LlamaBpe) {
    run_vectors("llama-bpe", "tokenizers/llama3-npm-lenml");
}
TEST(TokenizerTransformersVectors, RobertaBpe) {
    run_vectors("roberta-bpe", "tokenizers/roberta-base");
}
