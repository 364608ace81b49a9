// The fast paths of the token mask stay exact. The mask walk decides whole trie subtrees at once
// where the matcher runs through the same or the next state on nearly every byte (inside JSON
// strings, bounded or not, and any `[...]*` or `{m,n}` of a grammar), keeps masks in the trie's
// slot order, and the matcher fills one computed step into every byte of its byte class. Each is
// checked against an oracle that knows none of that (mask_oracle.h): at every state of seeded
// random walks through several schemas and grammars, on GPT-2's byte-level vocabulary and on
// Llama 2's SentencePiece vocabulary with byte fallback, the mask by id and the masked logits
// equal brute force.
#include <gtest/gtest.h>

#include <cmath>
#include <random>

#include "../support/test_support.h"
#include "constrain/constraint.h"
#include "constrain/vocab_trie.h"
#include "mask_oracle.h"
#include "tokenizer/tokenizer.h"

namespace hfk::constrain {
namespace {

std::shared_ptr<const Tokenizer> load_tok(const char *name) {
    return Tokenizer::load(hfk_test::shared_dir() / "tokenizers" / name);
}

// Strings of every kind the schema compiler emits: bounded (maxLength, minLength), unbounded,
// formats and patterns made of bounded repetitions, and enums beside them.
const char *kStringsSchema = R"({"type": "object", "properties": {
    "name": {"type": "string", "maxLength": 24},
    "code": {"type": "string", "minLength": 3, "maxLength": 6},
    "note": {"type": "string"},
    "email": {"type": "string", "format": "email"},
    "zip": {"type": "string", "pattern": "^\\d{5}$"},
    "when": {"type": "string", "format": "date-time"},
    "kind": {"enum": ["a", "bé", "ç"]},
    "tags": {"type": "array", "items": {"type": "string", "maxLength": 12}, "maxItems": 3}},
  "required": ["name", "code", "note", "email", "zip", "when", "kind", "tags"],
  "additionalProperties": false})";

struct Case {
    Kind kind;
    const char *spec;
};

const Case kCases[] = {
    {Kind::JsonSchema, kStringsSchema},
    {Kind::Json, ""},
    {Kind::Gbnf, "root ::= ([a-z ]* \"\\n\")+ [^\\n]{0,40} \"!\""},
    {Kind::Regex, "[^x]{2,30}x(é|[0-9]+)*"},
};

// Walks from the start, at each step taking a random allowed token, and compares the mask and
// the masked logits with the oracle. Returns how many states it checked.
int check_random_walk(const std::shared_ptr<const Tokenizer> &tok, const Case &c, int steps,
                      uint32_t seed, ConstrainedDecoder &dec, test::MaskOracle &oracle) {
    const auto &trie = dec.masker().trie();
    std::mt19937 rng(seed);
    dec.restart();
    StateId os = oracle.start();
    std::vector<float> logits;
    int checked = 0;
    for (int step = 0; step < steps; ++step) {
        const TokenBits expected = oracle.allowed(os, trie);
        const TokenBits by_id = dec.masker().id_mask(dec.state());
        EXPECT_EQ(by_id, expected) << c.spec << " seed " << seed << " step " << step;
        if (by_id != expected) return checked;
        // The masked logits: exactly the allowed ids stay finite (no end ids given here).
        logits.assign(size_t(tok->vocab_size()) + 3, 1.0f);  // a few ids past the vocabulary
        const bool any = dec.mask_logits(logits, {});
        bool any_expected = false;
        size_t first_wrong = logits.size();
        for (size_t id = 0; id < logits.size(); ++id) {
            const bool allowed = int32_t(id) < trie.n_ids() && has_bit(expected, int32_t(id));
            any_expected |= allowed;
            if (std::isfinite(logits[id]) != allowed && first_wrong == logits.size())
                first_wrong = id;
        }
        EXPECT_EQ(first_wrong, logits.size()) << "masked logit of this id wrong, step " << step;
        EXPECT_EQ(any, any_expected);
        ++checked;
        std::vector<int32_t> allowed;
        for (int32_t id = 0; id < trie.n_ids(); ++id)
            if (has_bit(expected, id)) allowed.push_back(id);
        if (allowed.empty()) break;
        // Favour long tokens half of the time: they reach deep into bounded repetitions.
        int32_t id = allowed[rng() % allowed.size()];
        if (rng() % 2)
            for (int k = 0; k < 8; ++k) {
                const int32_t other = allowed[rng() % allowed.size()];
                if (trie.token_bytes(other).size() > trie.token_bytes(id).size()) id = other;
            }
        dec.accept(id);
        os = oracle.step_bytes(os, trie.token_bytes(id));
        EXPECT_NE(os, kDeadState);
        EXPECT_EQ(oracle.accepting(os), dec.accepting());
    }
    return checked;
}

void check_cases(const char *tokenizer, int walks, int steps) {
    auto tok = load_tok(tokenizer);
    auto trie = VocabTrie::get(tok, tok->vocab_size());
    uint64_t shortcuts = 0;
    for (const Case &c : kCases) {
        auto grammar = compile_constraint(c.kind, c.spec);
        ConstrainedDecoder dec(grammar, trie);
        test::MaskOracle oracle(grammar);
        int checked = 0;
        for (int w = 0; w < walks; ++w)
            checked += check_random_walk(tok, c, steps, uint32_t(100 * w + 7), dec, oracle);
        EXPECT_GE(checked, walks * 3) << c.spec;
        shortcuts += dec.masker().n_shortcuts();
    }
    EXPECT_GT(shortcuts, 0u);  // the fast path was taken, so it is what was checked
}

TEST(MaskShortcuts, EqualBruteForceAtRandomStatesOnGpt2) {
    check_cases("gpt2", 4, 12);
}

TEST(MaskShortcuts, EqualBruteForceAtRandomStatesOnLlama2WithByteFallback) {
    check_cases("llama2", 3, 10);
}

// Inside an unbounded JSON string almost every token is allowed: the walk decides nearly all
// of the trie by whole subtrees instead of stepping each of its ~100k nodes.
TEST(MaskShortcuts, AStringStateIsDecidedByWholeSubtrees) {
    auto tok = load_tok("gpt2");
    auto trie = VocabTrie::get(tok, tok->vocab_size());
    auto grammar = compile_constraint(Kind::JsonSchema, R"({"type": "string"})");
    ConstrainedDecoder dec(grammar, trie);
    dec.accept(tok->token_to_id("\""));
    const TokenBits by_id = dec.masker().id_mask(dec.state());
    test::MaskOracle oracle(grammar);
    EXPECT_EQ(by_id, oracle.allowed(oracle.step(oracle.start(), '"'), *trie));
    EXPECT_GT(dec.masker().n_shortcuts(), 0u);
    EXPECT_LT(dec.masker().n_walked(), trie->nodes().size() / 20);
}

// The matcher's memo fills a computed step into every byte of the class; the classes are the
// bytes with the same membership in every byte set of the grammar.
TEST(MaskShortcuts, ByteClassStepsEqualStepsComputedFromScratch) {
    for (const Case &c : kCases) {
        auto grammar = compile_constraint(c.kind, c.spec);
        StackEngine engine(grammar);
        for (unsigned a = 0; a < 256; ++a)
            for (unsigned b = a + 1; b < 256; ++b) {
                bool same = true;
                for (const ByteSet &set : grammar->byte_sets)
                    same &= set.has(uint8_t(a)) == set.has(uint8_t(b));
                ASSERT_EQ(same, engine.class_of(uint8_t(a)) == engine.class_of(uint8_t(b)))
                    << c.spec << " bytes " << a << ", " << b;
            }
        std::mt19937 rng(3);
        StateId s = engine.start();
        for (int k = 0; k < 60; ++k) {
            for (unsigned b = 0; b < 256; ++b)
                ASSERT_EQ(engine.step(s, uint8_t(b)), engine.step_uncached(s, uint8_t(b)))
                    << c.spec << " byte " << b;
            std::vector<uint8_t> live;
            for (unsigned b = 0; b < 256; ++b)
                if (engine.step(s, uint8_t(b)) != kDeadState) live.push_back(uint8_t(b));
            if (live.empty()) break;
            s = engine.step(s, live[rng() % live.size()]);
        }
    }
}

// The per-node data of the trie against a recomputation from the tokens' bytes: a node's slot
// range holds exactly the tokens under its prefix, and the bytes below it and its height are
// those of their suffixes.
TEST(MaskShortcuts, TrieSubtreeRangesBytesAndHeights) {
    for (const char *name : {"gpt2", "llama2"}) {
        auto tok = load_tok(name);
        auto trie = VocabTrie::get(tok, tok->vocab_size());
        const auto &nodes = trie->nodes();
        const auto &ids = trie->token_ids();
        std::vector<std::string> prefix(trie->max_depth() + 1);
        for (uint32_t i = 1; i < nodes.size(); ++i) {
            prefix[nodes[i].depth] = prefix[nodes[i].depth - 1] + char(nodes[i].byte);
            if (i % 397 != 0 && nodes[i].depth > 1) continue;  // a sample of deep nodes
            const std::string &p = prefix[nodes[i].depth];
            ByteSet below;
            uint32_t height = 0, in_range = 0;
            for (int32_t id = 0; id < trie->n_ids(); ++id) {
                const std::string &b = trie->token_bytes(id);
                if (b.size() < p.size() || b.compare(0, p.size(), p) != 0) continue;
                for (size_t k = p.size(); k < b.size(); ++k) below.add(uint8_t(b[k]));
                height = std::max(height, uint32_t(b.size() - p.size()));
                ++in_range;
            }
            const uint32_t lo = nodes[i].first_token, hi = trie->subtree_end(i);
            ASSERT_EQ(hi - lo, in_range) << name << " node " << i;
            for (uint32_t j = lo; j < hi; ++j)
                ASSERT_EQ(trie->token_bytes(ids[j]).compare(0, p.size(), p), 0);
            ASSERT_EQ(trie->bytes_below(i), below) << name << " node " << i;
            ASSERT_EQ(trie->height(i), height) << name << " node " << i;
        }
    }
}

}  // namespace
}  // namespace hfk::constrain
