// Focused tests of the places where hfkit used to differ from the Rust tokenizers library (issue
// 21). Expected values are the Rust library's (tokenizers 0.22.2 through
// tests/tokenizer/rust_oracle); test_rust_oracle.cpp compares whole corpora with it at test time.
#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

#include "test_util.h"
#include "tokenizer/tokenizer.h"

using Ids = std::vector<int32_t>;
using nlohmann::json;

namespace {
std::shared_ptr<const hfk::Tokenizer> load(const std::string &rel) {
    return hfk::Tokenizer::load(hfk_test::shared_dir() / rel);
}
}  // namespace

// 1. Precompiled: per extended grapheme cluster; a cluster under 6 bytes with a charsmap match is
// replaced whole (the first match's replacement), so marks after the matched part are dropped.
TEST(TokenizerRustFixes, PrecompiledReplacesShortClusterWhole) {
    auto t5 = load("tokenizers/t5-small");
    // "A\u0301\u0301" (5 bytes): "A\u0301" -> "\u00C1", the second accent goes with the cluster.
    EXPECT_EQ(t5->encode("A\xCC\x81\xCC\x81", false), (Ids{3, 2}));
    // "\uFB01\u0301" (5 bytes): the ligature's "fi" replaces the whole cluster.
    EXPECT_EQ(t5->encode("\xEF\xAC\x81\xCC\x81", false), (Ids{361}));
    EXPECT_EQ(t5->encode("E\xCC\x81", false), (Ids{7983}));
}
TEST(TokenizerRustFixes, PrecompiledLongClusterGoesCharByChar) {
    auto t5 = load("tokenizers/t5-small");
    // "e\u0301\u0301\u0301" (7 bytes): char by char, so "e" is not composed with its first accent.
    EXPECT_EQ(t5->encode("e\xCC\x81\xCC\x81\xCC\x81", false), (Ids{3, 15, 2}));
    EXPECT_EQ(t5->encode("a\xCC\x80\xCC\x81\xCC\x82\xCC\x83\xCC\x84", false), (Ids{3, 9, 2}));
}

// 2. BertNormalizer clean_text keeps unassigned code points and the format characters Unicode
// added after the unicode_categories crate's tables (they become [UNK]); it removes Cc, Co and
// the older Cf.
TEST(TokenizerRustFixes, BertCleanTextKeepsUnassignedAndNewFormatChars) {
    auto bert = load("tokenizers/bert-base-uncased-wordpiece");
    EXPECT_EQ(bert->encode("x\xEF\xBF\xBE\xCD\xB8y", false), (Ids{100}));  // U+FFFE U+0378
    // U+08E2 U+0890 U+110CD U+13430
    EXPECT_EQ(bert->encode("x\xE0\xA3\xA2\xE0\xA2\x90\xF0\x91\x83\x8D\xF0\x93\x90\xB0y", false),
              (Ids{100}));
    // U+00AD U+E000 U+200B U+F0000 are removed: "xy".
    EXPECT_EQ(bert->encode("x\xC2\xAD\xEE\x80\x80\xE2\x80\x8B\xF3\xB0\x80\x80y", false),
              (Ids{1060, 2100}));
}

// 3. Metaspace decoder, prepend_scheme always or first: every replacement character of the first
// token decoded is dropped (the first after skipping special tokens), not only a leading one.
TEST(TokenizerRustFixes, MetaspaceDecoderDropsEveryReplacementOfFirstToken) {
    json tj = {{"model",
                {{"type", "WordLevel"},
                 {"vocab",
                  {{"<s>", 0},
                   {"\xE2\x96\x81\xE2\x96\x81", 1},
                   {"\xE2\x96\x81two", 2},
                   {"\xE2\x96\x81\xE2\x96\x81x\xE2\x96\x81y", 3},
                   {"<unk>", 4}}},
                 {"unk_token", "<unk>"}}},
               {"added_tokens", json::array({{{"id", 0}, {"content", "<s>"}, {"special", true}}})},
               {"decoder",
                {{"type", "Metaspace"},
                 {"replacement", "\xE2\x96\x81"},
                 {"prepend_scheme", "always"},
                 {"split", true}}}};
    for (const char *scheme : {"always", "first"}) {
        tj["decoder"]["prepend_scheme"] = scheme;
        auto t = hfk::Tokenizer::from_json(tj.dump());
        EXPECT_EQ(t->decode(Ids{0, 1, 2}, true), " two") << scheme;
        EXPECT_EQ(t->decode(Ids{0, 1, 2}, false), "<s>   two") << scheme;
        EXPECT_EQ(t->decode(Ids{0, 3, 2}, true), "xy two") << scheme;
        EXPECT_EQ(t->decode(Ids{3, 1}, true), "xy  ") << scheme;
        EXPECT_EQ(t->decode(Ids{0, 0, 1}, true), "") << scheme;
    }
    tj["decoder"]["prepend_scheme"] = "never";
    auto never = hfk::Tokenizer::from_json(tj.dump());
    EXPECT_EQ(never->decode(Ids{0, 3, 2}, true), "  x y two");
}

// 4. Unigram scores are the doubles serde_json reads: "-12.486284255981445" is one ulp above the
// correctly rounded value there, which decides between segmentations of equal score on paper.
TEST(TokenizerRustFixes, UnigramScoresParsedAsSerdeJson) {
    json vocab = json::array({json::array({"<unk>", 0.0}), json::array({"99", -10.582542419433594}),
                              json::array({"999", -12.486284255981445})});
    json tj = {{"model", {{"type", "Unigram"}, {"unk_id", 0}, {"vocab", vocab}}}};
    auto t = hfk::Tokenizer::from_json(tj.dump());
    EXPECT_EQ(t->encode(std::string(11, '9'), false), (Ids{2, 2, 2, 1}));
    EXPECT_EQ(t->encode(std::string(13, '9'), false), (Ids{2, 2, 2, 1, 1}));
}
