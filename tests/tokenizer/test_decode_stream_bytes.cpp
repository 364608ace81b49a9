// DecodeStream over byte-fallback ids that are not valid UTF-8 (issue 16, item 4): the pieces a
// generation streams must join to decode() of the same ids, whatever the sampler produced. The
// ByteFallback decoder decodes a run of "<0xHH>" tokens as a whole (one U+FFFD per byte when the
// run is not valid UTF-8, as the Rust library does), so a byte token can turn the text of the
// run before it into replacement characters: "<0x74>" alone is "t", "<0x74><0xE2>" is two U+FFFD.
#include <gtest/gtest.h>

#include <random>
#include <string>
#include <vector>

#include "test_util.h"
#include "tokenizer/tokenizer.h"
#include "tokenizer/utf8.h"

namespace {

std::vector<std::string> pieces(const std::shared_ptr<const hfk::Tokenizer> &t,
                                const std::vector<int32_t> &ids, bool skip) {
    hfk::DecodeStream s(t, skip);
    std::vector<std::string> out;
    for (int32_t id : ids) out.push_back(s.step(id));
    out.push_back(s.flush());
    return out;
}

std::string joined(const std::vector<std::string> &p) {
    std::string s;
    for (const auto &x : p) s += x;
    return s;
}

std::string show(const std::shared_ptr<const hfk::Tokenizer> &t, const std::vector<int32_t> &ids) {
    std::string s;
    for (int32_t id : ids) s += "[" + t->id_to_token(id) + "]";
    return s;
}

// Byte tokens that make valid and invalid runs, and plain and special tokens between them.
std::vector<int32_t> alphabet(const hfk::Tokenizer &t) {
    std::vector<int32_t> ids;
    for (const char *tok : {"<0x74>", "<0xC3>", "<0xA9>", "<0xE2>", "<0x82>", "<0xAC>", "<0xF0>",
                            "<0x9F>", "<0xFF>", "t", "\xE2\x96\x81t", "a", "</s>"}) {
        const int32_t id = t.token_to_id(tok);
        EXPECT_GE(id, 0) << tok;
        if (id >= 0) ids.push_back(id);
    }
    return ids;
}

const char *kByteFallbackTokenizers[] = {"tokenizers/llama2", "models/aidreams260K"};

}  // namespace

// The zoo's case: a valid byte run ("t") made invalid by the next byte token. It used to stream
// "t" at once and then the two U+FFFD of decode() ("t\uFFFD\uFFFD" against "\uFFFD\uFFFD").
TEST(DecodeStreamBytes, AByteTokenThatInvalidatesTheRunBeforeIt) {
    for (auto dir : kByteFallbackTokenizers) {
        auto t = hfk::Tokenizer::load(hfk_test::shared_dir() / dir);
        const int32_t b74 = t->token_to_id("<0x74>"), bE2 = t->token_to_id("<0xE2>");
        const int32_t a = t->token_to_id("a");
        for (const std::vector<int32_t> &ids :
             {std::vector<int32_t>{b74, bE2}, std::vector<int32_t>{b74, bE2, a},
              std::vector<int32_t>{a, b74, bE2, a}}) {
            for (bool skip : {true, false})
                EXPECT_EQ(joined(pieces(t, ids, skip)), t->decode(ids, skip))
                    << dir << " " << show(t, ids);
        }
        // A skipped special token does not end the run (decode() drops it first).
        const int32_t eos = t->token_to_id("</s>");
        const std::vector<int32_t> ids = {b74, eos, bE2, a};
        EXPECT_EQ(joined(pieces(t, ids, true)), t->decode(ids, true)) << dir;
    }
}

// Every sequence of up to three tokens of the alphabet, and random longer ones: the pieces join
// to decode(), and each piece is valid UTF-8.
TEST(DecodeStreamBytes, PiecesJoinToDecodeForAnyByteSequence) {
    for (auto dir : kByteFallbackTokenizers) {
        auto t = hfk::Tokenizer::load(hfk_test::shared_dir() / dir);
        const std::vector<int32_t> alpha = alphabet(*t);
        const size_t n = alpha.size();
        std::vector<std::vector<int32_t>> cases;
        for (size_t len = 1, total = n; len <= 3; ++len, total *= n)
            for (size_t code = 0; code < total; ++code) {
                std::vector<int32_t> ids;
                for (size_t k = 0, c = code; k < len; ++k, c /= n) ids.push_back(alpha[c % n]);
                cases.push_back(std::move(ids));
            }
        std::mt19937 rng(16);
        for (int r = 0; r < 300; ++r) {
            std::vector<int32_t> ids;
            for (int k = 0; k < 10; ++k) ids.push_back(alpha[rng() % n]);
            cases.push_back(std::move(ids));
        }
        int bad = 0;
        for (const auto &ids : cases)
            for (bool skip : {true, false}) {
                const auto p = pieces(t, ids, skip);
                const std::string want = t->decode(ids, skip), got = joined(p);
                bool valid = true;
                for (const auto &piece : p) valid = valid && hfk::utf8::is_valid(piece);
                if ((want != got || !valid) && bad++ < 5)
                    ADD_FAILURE() << dir << " " << show(t, ids) << " skip=" << skip
                                  << " decode=" << want << " stream=" << got;
            }
        EXPECT_EQ(bad, 0) << dir << " of " << cases.size() << " sequences";
    }
}
