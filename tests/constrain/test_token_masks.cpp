// Token masks are exact over real vocabularies: at every state of seeded walks through several
// constraints, the mask from the trie walk equals brute force (each token's bytes fed one by
// one to a separate, unmemoised matcher). GPT-2's 50k byte-level vocabulary and Llama 2's
// SentencePiece vocabulary with byte fallback cover tokens that span grammar symbols and
// tokens that are part of a UTF-8 character.
#include <gtest/gtest.h>

#include <random>

#include "constrain/constraint.h"
#include "constrain/vocab_trie.h"
#include "../support/test_support.h"
#include "tokenizer/tokenizer.h"

namespace hfk::constrain {
namespace {

std::shared_ptr<const Tokenizer> load_tok(const char *name) {
    return Tokenizer::load(hfk_test::shared_dir() / "tokenizers" / name);
}

int32_t id_with_bytes(const VocabTrie &trie, const std::string &bytes) {
    for (int32_t id = 0; id < trie.n_ids(); ++id)
        if (trie.token_bytes(id) == bytes) return id;
    return -1;
}

TEST(VocabularyBytes, Gpt2TokensAreTheirBytesAndConcatenateToTheDecodedText) {
    auto tok = load_tok("gpt2");
    auto trie = VocabTrie::get(tok, tok->vocab_size());
    const int32_t eot = tok->token_to_id("<|endoftext|>");
    EXPECT_EQ(trie->token_bytes(eot), "");  // special: never part of the text
    EXPECT_EQ(trie->token_bytes(tok->token_to_id("\xC4\xA0{")), " {");  // "Ġ{"
    // A lone lead byte of a two-byte character exists as a token (byte-level).
    EXPECT_GE(id_with_bytes(*trie, "\xC3"), 0);
    std::mt19937 rng(7);
    for (int round = 0; round < 50; ++round) {
        std::vector<int32_t> ids;
        std::string concat;
        for (int k = 0; k < 12; ++k) {
            int32_t id = int32_t(rng() % uint32_t(eot));
            ids.push_back(id);
            concat += trie->token_bytes(id);
        }
        EXPECT_EQ(concat, tok->decode_raw(ids));
    }
}

TEST(VocabularyBytes, Llama2ByteFallbackAndWordStartMarkers) {
    auto tok = load_tok("llama2");
    auto trie = VocabTrie::get(tok, tok->vocab_size());
    EXPECT_EQ(trie->token_bytes(tok->token_to_id("<0x0A>")), "\n");
    EXPECT_EQ(trie->token_bytes(tok->token_to_id("<0xC3>")), "\xC3");
    EXPECT_EQ(trie->token_bytes(tok->token_to_id("\xE2\x96\x81{")), " {");  // "▁{" mid-text
    EXPECT_EQ(trie->token_bytes(tok->bos_id()), "");
    EXPECT_EQ(trie->token_bytes(tok->eos_id()), "");
}

// Brute force: which ids' bytes all step to a live state from `s` (a fresh engine, no memo).
TokenBits brute_force(StackEngine &oracle, StateId s, const VocabTrie &trie) {
    TokenBits bits((size_t(trie.n_ids()) + 63) / 64, 0);
    for (int32_t id = 0; id < trie.n_ids(); ++id) {
        const std::string &b = trie.token_bytes(id);
        if (b.empty()) continue;
        StateId t = s;
        for (char c : b) {
            t = oracle.step_uncached(t, uint8_t(c));
            if (t == kDeadState) break;
        }
        if (t != kDeadState) bits[size_t(id) >> 6] |= uint64_t(1) << (id & 63);
    }
    return bits;
}

// Follows the same bytes on the oracle engine (its state ids differ from the masker's).
void check_walk(const std::shared_ptr<const Tokenizer> &tok, Kind kind, const std::string &spec,
                int steps, uint32_t seed) {
    auto grammar = compile_constraint(kind, spec);
    auto trie = VocabTrie::get(tok, tok->vocab_size());
    ConstrainedDecoder dec(grammar, trie);
    StackEngine oracle(grammar);
    StateId os = oracle.start();
    std::mt19937 rng(seed);
    for (int step = 0; step < steps; ++step) {
        const TokenBits mask = dec.masker().id_mask(dec.state());
        const TokenBits expected = brute_force(oracle, os, *trie);
        ASSERT_EQ(mask, expected) << spec << " step " << step;
        std::vector<int32_t> allowed;
        for (int32_t id = 0; id < trie->n_ids(); ++id)
            if (has_bit(mask, id)) allowed.push_back(id);
        if (allowed.empty()) break;
        const int32_t id = allowed[rng() % allowed.size()];
        dec.accept(id);
        for (char c : trie->token_bytes(id)) os = oracle.step_uncached(os, uint8_t(c));
        ASSERT_NE(os, kDeadState);
        EXPECT_EQ(oracle.accepting(os), dec.accepting());
    }
}

const char *kSchema = R"({"type": "object", "properties": {
    "name": {"type": "string", "maxLength": 12},
    "age": {"type": "integer", "minimum": 0, "maximum": 150},
    "tags": {"type": "array", "items": {"enum": ["a", "bé", "ç"]}, "maxItems": 3},
    "ok": {"type": "boolean"}}, "required": ["name", "age"], "additionalProperties": false})";

TEST(TokenMasks, EqualBruteForceOnGpt2) {
    auto tok = load_tok("gpt2");
    check_walk(tok, Kind::JsonSchema, kSchema, 8, 1);
    check_walk(tok, Kind::Json, "", 6, 2);
    check_walk(tok, Kind::Regex, "[a-f]{2,5}-(x|yz)+é\\d{3}", 6, 3);
    check_walk(tok, Kind::Gbnf, "root ::= [^a-z]{1,3} \"ok\" \"😀\"", 6, 4);
}

TEST(TokenMasks, EqualBruteForceOnLlama2WithByteFallback) {
    auto tok = load_tok("llama2");
    check_walk(tok, Kind::JsonSchema, kSchema, 8, 5);
    check_walk(tok, Kind::Gbnf, "root ::= \"é\" [\\u4e00-\\u4e0f]+ \"\\n\"", 5, 6);
}

TEST(TokenMasks, PartialCharactersAreAllowedWhereTheCharacterIs) {
    auto tok = load_tok("gpt2");
    auto trie = VocabTrie::get(tok, tok->vocab_size());
    ConstrainedDecoder dec(compile_constraint(Kind::Gbnf, "root ::= \"é\""), trie);
    const TokenBits mask = dec.masker().id_mask(dec.state());
    EXPECT_TRUE(has_bit(mask, id_with_bytes(*trie, "\xC3")));
    EXPECT_TRUE(has_bit(mask, id_with_bytes(*trie, "\xC3\xA9")));
    EXPECT_FALSE(has_bit(mask, id_with_bytes(*trie, "e")));
}

TEST(TokenMasks, EndOfSequenceOnlyWhenComplete) {
    auto tok = load_tok("gpt2");
    auto trie = VocabTrie::get(tok, tok->vocab_size());
    ConstrainedDecoder dec(compile_constraint(Kind::Regex, "ab+"), trie);
    const int32_t eos = tok->token_to_id("<|endoftext|>");
    const int32_t end_ids[1] = {eos};
    std::vector<float> logits(size_t(tok->vocab_size()), 0.0f);
    ASSERT_TRUE(dec.mask_logits(logits, end_ids));
    EXPECT_EQ(logits[size_t(eos)], -INFINITY);
    dec.accept(tok->token_to_id("ab"));
    std::fill(logits.begin(), logits.end(), 0.0f);
    ASSERT_TRUE(dec.mask_logits(logits, end_ids));
    EXPECT_EQ(logits[size_t(eos)], 0.0f);
    EXPECT_FALSE(dec.finished());  // more b's may follow
}

}  // namespace
}  // namespace hfk::constrain
