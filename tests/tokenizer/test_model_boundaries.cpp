// Boundaries of the tokenizer models that the golden corpus does not reach (issue 23's mutation
// pass): the expectations follow the Rust tokenizers library's rules, stated next to each test.
#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "test_util.h"
#include "tokenizer/tokenizer.h"

namespace {

using Ids = std::vector<int32_t>;

std::string repeat(const std::string &piece, int n) {
    std::string s;
    for (int i = 0; i < n; ++i) s += piece;
    return s;
}

// WordPiece: `if sequence.chars().count() > self.max_input_chars_per_word { unk }` -- a word of
// exactly the limit (100 for BERT) is split into pieces, one character more is one [UNK]; the
// count is of characters, not bytes (U+0434 is two bytes).
TEST(WordPieceLimit, AWordOfExactlyTheLimitIsSplitAndOneMoreIsUnknown) {
    auto t =
        hfk::Tokenizer::load(hfk_test::shared_dir() / "tokenizers/bert-base-uncased-wordpiece");
    const int32_t unk = t->unk_id();
    ASSERT_GE(unk, 0);
    for (const std::string ch : {"a", "\xD0\xB4"}) {
        SCOPED_TRACE(ch);
        const Ids at_limit = t->encode(repeat(ch, 100), false);
        EXPECT_GT(at_limit.size(), 1u);
        for (int32_t id : at_limit) EXPECT_NE(id, unk);
        EXPECT_EQ(t->encode(repeat(ch, 101), false), Ids{unk});
    }
}

// Unigram: a character no piece covers is an unknown node scored min_score - 10 (SentencePiece's
// kUnkPenalty = 10 in unigram_model.cc, K_UNK_PENALTY in the Rust library). For "abc" with the
// pieces below (no "a" or "b" alone), the Viterbi candidates are
//   "ab" + "c"        = -20 + -9            = -29
//   <unk>(a) + "bc"   = (-20 - 10) + -0.5   = -30.5
// so the penalty of 10 picks "ab" "c"; a penalty below 8.5 would pick <unk> "bc".
TEST(UnigramUnknown, PenaltyIsTenBelowTheLowestScore) {
    auto t = hfk::Tokenizer::from_json(R"({
        "version": "1.0", "added_tokens": [], "normalizer": null, "pre_tokenizer": null,
        "post_processor": null, "decoder": null,
        "model": {"type": "Unigram", "unk_id": 0, "byte_fallback": false,
                  "vocab": [["<unk>", 0.0], ["ab", -20.0], ["c", -9.0], ["bc", -0.5]]}})");
    EXPECT_EQ(t->encode("abc", false), (Ids{1, 2}));
}

}  // namespace
