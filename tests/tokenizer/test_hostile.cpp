// Malformed and hostile tokenizer.json (issue 3, RELIABILITY.md a.3 TK1-TK8, F16-F21): each gives
// HFK_E_FORMAT (or HFK_E_UNSUPPORTED for an unknown component) with a message naming the problem.
#include <gtest/gtest.h>

#include <chrono>
#include <utility>

#include "test_util.h"
#include "tokenizer/tokenizer.h"
#include "util/error.h"

namespace {

// Expects from_json(doc) to throw `status` with `needle` in the message.
void expect_error(const std::string &doc, int32_t status, const std::string &needle) {
    try {
        hfk::Tokenizer::from_json(doc);
        ADD_FAILURE() << "loaded: " << doc.substr(0, 200);
    } catch (const hfk::Error &e) {
        EXPECT_EQ(e.status(), status) << e.what();
        EXPECT_NE(std::string(e.what()).find(needle), std::string::npos)
            << e.what() << " lacks " << needle;
    }
}

std::string bpe(const std::string &vocab, const std::string &merges,
                const std::string &extra = "") {
    return R"({"model":{"type":"BPE","vocab":)" + vocab + R"(,"merges":)" + merges + "}" + extra +
           "}";
}

const std::string kVocab = R"({"a":0,"b":1,"ab":2,"c":3,"abc":4})";

}  // namespace

TEST(TokenizerHostile, NotJsonOrWrongShape) {
    expect_error("", HFK_E_FORMAT, "invalid JSON");
    expect_error("{\"model\":", HFK_E_FORMAT, "invalid JSON");
    expect_error("[]", HFK_E_FORMAT, "expected an object");
    expect_error("{}", HFK_E_FORMAT, "missing field 'model'");
    expect_error(R"({"model":{"type":"BPE","merges":[]}})", HFK_E_FORMAT, "missing field 'vocab'");
    expect_error(R"({"model":{"type":"BPE","vocab":[],"merges":[]}})", HFK_E_FORMAT, "vocab");
    expect_error(R"({"model":{"type":"BPE","vocab":{"a":"x"},"merges":[]}})", HFK_E_FORMAT,
                 "not an integer");
    expect_error(bpe(kVocab, "[]", R"(,"normalizer":{"type":"Lowercase","x":1},"decoder":7)"),
                 HFK_E_FORMAT, "decoder");
}

TEST(TokenizerHostile, InvalidUtf8InJson) {
    expect_error(bpe(R"({"a\xff":0})", "[]"), HFK_E_FORMAT, "invalid JSON");
}

TEST(TokenizerHostile, DeepNesting) {
    std::string deep = std::string(100000, '[') + std::string(100000, ']');
    expect_error(deep, HFK_E_FORMAT, "nested deeper than 64");
    expect_error(
        bpe(kVocab, "[]", R"(,"normalizer":)" + std::string(70, '[') + std::string(70, ']')),
        HFK_E_FORMAT, "nested");
}

TEST(TokenizerHostile, UnknownComponentTypes) {
    expect_error(R"({"model":{"type":"Magic","vocab":{}}})", HFK_E_UNSUPPORTED, "'Magic'");
    expect_error(bpe(kVocab, "[]", R"(,"normalizer":{"type":"Rot13"})"), HFK_E_UNSUPPORTED,
                 "'Rot13'");
    expect_error(bpe(kVocab, "[]",
                     R"(,"pre_tokenizer":{"type":"Sequence","pretokenizers":[{"type":"Nope"}]})"),
                 HFK_E_UNSUPPORTED, "pre_tokenizer.pretokenizers[0]");
    expect_error(bpe(kVocab, "[]", R"(,"decoder":{"type":"Bogus"})"), HFK_E_UNSUPPORTED, "'Bogus'");
    expect_error(bpe(kVocab, "[]", R"(,"post_processor":{"type":"Bogus"})"), HFK_E_UNSUPPORTED,
                 "'Bogus'");
}

TEST(TokenizerHostile, BadMerges) {  // TK4, F16
    expect_error(bpe(kVocab, R"(["a x"])"), HFK_E_FORMAT, "'x' is not in the vocabulary");
    expect_error(bpe(kVocab, R"(["b c"])"), HFK_E_FORMAT, "merged token 'bc'");
    expect_error(bpe(kVocab, R"(["abc"])"), HFK_E_FORMAT, "two tokens");
    expect_error(bpe(kVocab, R"(["a b c"])"), HFK_E_FORMAT, "merges[0]");
    expect_error(bpe(kVocab, R"(["a b","a b"])"), HFK_E_FORMAT, "duplicate merge");
    expect_error(bpe(kVocab, R"([["a"]])"), HFK_E_FORMAT, "merges[0]");
    expect_error(bpe(kVocab, R"([7])"), HFK_E_FORMAT, "merges[0]");
}

TEST(TokenizerHostile, CyclicLookingMergesAreBounded) {  // F17
    auto t = hfk::Tokenizer::from_json(
        bpe(R"({"a":0,"b":1,"ab":2,"aba":3,"abab":4,"ba":5})", R"(["a b","ab a","aba b","b a"])"));
    std::string text(100000, 'a');
    for (size_t i = 1; i < text.size(); i += 2) text[i] = 'b';
    auto ids = t->encode(text, false);
    // "a b" has the lowest rank and consumes every pair first: 50000 x "ab", nothing loops.
    EXPECT_EQ(ids, std::vector<int32_t>(50000, 2));
}

TEST(TokenizerHostile, VocabProblems) {  // TK3, F19
    expect_error(bpe(R"({"a":0,"b":0})", "[]"), HFK_E_FORMAT, "duplicate token id 0");
    expect_error(bpe(R"({"a":-1})", "[]"), HFK_E_FORMAT, "out of range");
    expect_error(bpe(R"({"a":4294967296})", "[]"), HFK_E_FORMAT, "out of range");
    expect_error(bpe(R"({"a":2000000000})", "[]"), HFK_E_FORMAT, "gap");
    expect_error(bpe("{\"" + std::string(2000, 'x') + "\":0}", "[]"), HFK_E_FORMAT, "1024");
    expect_error(R"({"model":{"type":"Unigram","vocab":[["a",1e999]]}})", HFK_E_FORMAT,
                 "invalid JSON");
    expect_error(R"({"model":{"type":"Unigram","vocab":[["a"]]}})", HFK_E_FORMAT, "[piece, score]");
    expect_error(R"({"model":{"type":"Unigram","vocab":[["a",0.0]],"unk_id":5}})", HFK_E_FORMAT,
                 "unk_id");
    expect_error(R"({"model":{"type":"WordPiece","vocab":{"a":0}}})", HFK_E_FORMAT,
                 "'[UNK]' is not in the vocabulary");
    expect_error(R"({"model":{"type":"BPE","unk_token":"<unk>","vocab":{"a":0},"merges":[]}})",
                 HFK_E_FORMAT, "unk_token");
}

TEST(TokenizerHostile, ByteFallbackTokensAreParsedStrictly) {  // TK5, F18
    for (const char *tok : {"<0x-1>", "<0xZZ>", "<0x100>", "<0x4>"}) {
        std::string doc = R"({"model":{"type":"BPE","byte_fallback":true,"vocab":{")" +
                          std::string(tok) + R"(":0,"a":1},"merges":[]}})";
        auto t = hfk::Tokenizer::from_json(doc);  // loads: such tokens are ordinary strings
        EXPECT_EQ(t->encode("a\xC3\xA9", false), (std::vector<int32_t>{1}))
            << tok;  // é: no byte tokens
        EXPECT_EQ(t->decode(std::vector<int32_t>{0, 1}, false),
                  std::string(tok) + " a");  // no decoder: " "-joined
    }
}

TEST(TokenizerHostile, AddedTokens) {  // TK6
    expect_error(bpe(kVocab, "[]", R"(,"added_tokens":[{"id":99999999,"content":"x"}])"),
                 HFK_E_FORMAT, "out of range");
    expect_error(bpe(kVocab, "[]", R"(,"added_tokens":[{"id":5,"content":""}])"), HFK_E_FORMAT,
                 "empty");
    expect_error(bpe(kVocab, "[]", R"(,"added_tokens":[{"id":5,"content":"x","special":"yes"}])"),
                 HFK_E_FORMAT, "special");
    expect_error(
        bpe(kVocab, "[]", R"(,"added_tokens":[{"id":5,"content":"x"},{"id":5,"content":"y"}])"),
        HFK_E_FORMAT, "two different");
    expect_error(
        bpe(kVocab, "[]", R"(,"added_tokens":[{"id":5,"content":"x"},{"id":6,"content":"x"}])"),
        HFK_E_FORMAT, "different ids");
    std::string many = "[";
    for (int i = 0; i < 300000; ++i)
        many += (i ? "," : "") + std::string(R"({"id":5,"content":"x"})");
    many += "]";
    expect_error(bpe(kVocab, "[]", ",\"added_tokens\":" + many), HFK_E_FORMAT,
                 "added tokens (limit");
}

TEST(TokenizerHostile, RegexProblems) {  // TK7, F20
    expect_error(
        bpe(kVocab, "[]",
            R"(,"pre_tokenizer":{"type":"Split","pattern":{"Regex":"(a"},"behavior":"Isolated"})"),
        HFK_E_FORMAT, "invalid regex '(a'");
    expect_error(
        bpe(kVocab, "[]",
            R"(,"pre_tokenizer":{"type":"Split","pattern":{"Regex":"a"},"behavior":"Sideways"})"),
        HFK_E_FORMAT, "'Sideways'");
    // Catastrophic backtracking is cut by the match limit: an error, never a hang.
    auto t = hfk::Tokenizer::from_json(bpe(
        kVocab, "[]",
        R"(,"pre_tokenizer":{"type":"Split","pattern":{"Regex":"(a+)+$"},"behavior":"Isolated"})"));
    auto t0 = std::chrono::steady_clock::now();
    try {
        t->encode(std::string(5000, 'a') + "!", false);
        ADD_FAILURE() << "the backtracking regex was not cut by the match limit";
    } catch (const hfk::Error &e) {
        EXPECT_EQ(e.status(), HFK_E_RESOURCE) << e.what();
        EXPECT_NE(std::string(e.what()).find("match limit"), std::string::npos) << e.what();
    }
    EXPECT_LT(std::chrono::steady_clock::now() - t0, std::chrono::seconds(20));
}

TEST(TokenizerHostile, TemplateNamesUnknownSpecialToken) {  // TK8
    expect_error(
        bpe(kVocab, "[]",
            R"(,"post_processor":{"type":"TemplateProcessing","single":[{"SpecialToken":{"id":"<s>","type_id":0}},{"Sequence":{"id":"A","type_id":0}}],"special_tokens":{}})"),
        HFK_E_FORMAT, "'<s>' is not in special_tokens");
    expect_error(
        bpe(kVocab, "[]",
            R"(,"post_processor":{"type":"TemplateProcessing","single":[{"SpecialToken":{"id":"<s>","type_id":0}}],"special_tokens":{"<s>":{"id":"<s>","ids":[77],"tokens":["<s>"]}}})"),
        HFK_E_FORMAT, "special token id 77");
    expect_error(
        bpe(kVocab, "[]",
            R"(,"post_processor":{"type":"BertProcessing","cls":["[CLS]",-3],"sep":["[SEP]",1]})"),
        HFK_E_FORMAT, "out of range");
}

// Each map is refused at load with the reason: not base64, shorter than its 4-byte header, a
// trie size of 2^32 - 1, and one of 256 bytes over 4 bytes of data.
TEST(TokenizerHostile, PrecompiledCharsmapGarbage) {
    const std::pair<const char *, const char *> maps[] = {
        {"!!!!", "not valid base64"},
        {"AAAA", "shorter than its header"},
        {"/////w==", "trie size 4294967295 does not fit"},
        {"AAEAAA==", "trie size 256 does not fit"}};
    for (const auto &[m, why] : maps) {
        SCOPED_TRACE(m);
        std::string doc =
            R"({"normalizer":{"type":"Precompiled","precompiled_charsmap":")" + std::string(m) +
            R"("},"model":{"type":"Unigram","unk_id":0,"vocab":[["<unk>",0.0],["a",-1.0]]}})";
        expect_error(doc, HFK_E_FORMAT, why);
    }
}

TEST(TokenizerHostile, LongInputsEncodeInLinearTime) {  // F21
    auto gpt2 = hfk::Tokenizer::load(hfk_test::shared_dir() / "tokenizers/gpt2");
    auto aid = hfk::Tokenizer::load(hfk_test::shared_dir() / "models/aidreams260K");
    const std::string inputs[] = {std::string(100000, 'A'), std::string(100000, '\n'),
                                  std::string(100000, ' '),
                                  [] {
                                      std::string s;
                                      for (int i = 0; i < 30000; ++i) s += "\xE4\xB8\xAD";  // 中
                                      return s;
                                  }(),
                                  std::string(100000, '\xFF')};
    for (const auto &in : inputs)
        for (auto &t : {gpt2, aid}) {
            auto t0 = std::chrono::steady_clock::now();
            auto ids = t->encode(in, true);
            EXPECT_FALSE(ids.empty());
            EXPECT_LT(std::chrono::steady_clock::now() - t0, std::chrono::seconds(10));
        }
}
