// Multi-turn equivalence through the public C API (issue 23): a second turn on a session that
// keeps its KV cache gives exactly the tokens a fresh session gives over the concatenated text,
// greedy and seeded. The cases include histories whose tokens diverge from the cached ones
// mid-way (turn one cut by a stop string, whose tokens stay in the cache while the conversation
// continues with other text, or with nothing: an empty second prompt), and each case checks that
// the cache was reused only up to the first token that differs.
#include <algorithm>
#include <string>
#include <vector>

#include "api_support.h"

namespace {

using namespace hfk_api_test;

struct Turns {
    std::string first, second;
    // Stop strings for turn one, taken from the model's greedy and seeded continuations of
    // `first`: the text is cut before them while their first tokens stay in the cache.
    std::vector<const char *> stops = {};
};

hfk_gen_params options(bool seeded, int32_t max_new_tokens) {
    hfk_gen_params p = greedy(max_new_tokens);
    if (seeded) {
        p.temperature = 0.9f;
        p.top_p = 0.95f;
        p.seed = 20261205;
    }
    return p;
}

size_t first_difference(const std::vector<int32_t> &a, const std::vector<int32_t> &b) {
    size_t i = 0;
    while (i < a.size() && i < b.size() && a[i] == b[i]) ++i;
    return i;
}

// Runs the two turns on one session and the second turn fresh; returns how far before the end
// of the cached tokens the new conversation's tokens diverged from them (0: at the end).
size_t check_equivalence(hfk_model *model, const Turns &t, bool seeded) {
    SCOPED_TRACE(std::string(seeded ? "seeded" : "greedy") + ": \"" + t.first + "\" then \"" +
                 t.second + "\"");
    const hfk_tokenizer *tok = hfk_model_tokenizer(model);
    auto s = session(model, 1);
    hfk_gen_params p1 = options(seeded, 24);
    p1.stop = t.stops.empty() ? nullptr : t.stops.data();
    p1.n_stop = static_cast<int32_t>(t.stops.size());
    std::vector<int32_t> gen1;
    const std::string text1 = generate(s.get(), t.first, p1, &gen1);
    // What the cache holds now: the prompt and every generated token but the last.
    std::vector<int32_t> cached = tokenize(tok, t.first, true);
    if (!gen1.empty()) cached.insert(cached.end(), gen1.begin(), gen1.end() - 1);

    const hfk_gen_params p2 = options(seeded, 16);
    hfk_gen_result r;
    HFK_GEN_RESULT_INIT(&r);
    char *out = nullptr;
    EXPECT_EQ(hfk_session_generate(s.get(), t.second.c_str(), &p2, nullptr, nullptr, &out, &r),
              HFK_OK)
        << hfk_last_error_message();
    const std::string text2 = out ? out : "";
    hfk_free(out);
    const std::vector<int32_t> gen2 = last_tokens(s.get());

    const std::string conversation = t.first + text1 + t.second;
    auto fresh = session(model, 1);
    std::vector<int32_t> want;
    const std::string want_text = generate(fresh.get(), conversation, p2, &want);
    EXPECT_EQ(gen2, want);
    EXPECT_EQ(text2, want_text);

    // Reuse stops at the first token that differs from the cache (and leaves one to run).
    const std::vector<int32_t> ids = tokenize(tok, conversation, true);
    EXPECT_EQ(r.n_prompt_tokens, static_cast<int32_t>(ids.size()));
    const size_t d = first_difference(cached, ids);
    EXPECT_EQ(r.n_reused_tokens, static_cast<int32_t>(std::min(d, ids.size() - 1)));
    // The empty-second-turn cases are there for a conversation wholly inside the cache.
    if (t.second.empty()) {
        EXPECT_EQ(d, ids.size()) << "the conversation is not a prefix of the cache";
    }
    return cached.size() - std::min(d, cached.size());
}

void check_model(const std::filesystem::path &dir, const std::vector<Turns> &cases) {
    auto model = load(dir);
    ASSERT_TRUE(model);
    for (bool seeded : {false, true}) {
        size_t mid_way = 0;
        for (const Turns &t : cases)
            if (check_equivalence(model.get(), t, seeded) >= 2) ++mid_way;
        // The cases must exercise a cache that is wrong for more than its last token: else a
        // session that trusted its cache would pass too.
        EXPECT_GE(mid_way, 1u) << "no case diverged from the cached tokens mid-way";
    }
}

// aidreams260K: SentencePiece-style BPE with byte fallback.
TEST(MultiTurn, SecondTurnEqualsAFreshSessionAidreams) {
    check_model(default_model(),
                {
                    {"Once upon a time", " Then the dog said"},
                    {"One day", " Lily was happy.", {"unfold like petals", "edges sharpen, a"}},
                    {"The cat sat", "\nThe end.", {"gentle hum of", "secrets, Hkindling"}},
                    {"", " Bob went home", {"vectors unfold, a", "knowledge later,"}},
                    // An empty second prompt continues the cut text: the whole new conversation
                    // is then a prefix of the cache, and its last token must run again.
                    // The stop strings start at a token boundary (the space is part of the
                    // token), so the conversation ends exactly on a cached token.
                    {"One day", "", {" unfold like petals", " edges sharpen, a"}},
                });
}

// tiny-gpt2: byte-level BPE, random weights.
TEST(MultiTurn, SecondTurnEqualsAFreshSessionGpt2) {
    check_model(shared_dir() / "models" / "tiny-gpt2",
                {
                    {"Hello, my dog is cute", " and", {"stairs stairs stairs", "basatorial?????"}},
                    {"The capital of France is", " Paris.", {"tentative CF surv"}},
                    {"A", "B", {"factors factors factors", "eclipse structure openly"}},
                    {"A", "", {" factors factors factors", " eclipse structure openly"}},
                });
}

}  // namespace
