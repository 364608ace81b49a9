// Issue 20: logprobs, the token-level API (eval, logits, sample, logit bias, generate from ids),
// scoring, truncate and fork, through the public C API. The reference for every logprob is a
// log-softmax computed here, in double, over logits the API returns.
#include <algorithm>
#include <cmath>
#include <numeric>
#include <set>

#include "api_support.h"

using namespace hfk_api_test;

namespace {

struct TokenApi : ::testing::Test {
    void SetUp() override {
        model = load(default_model(), 1);
        ASSERT_TRUE(model);
        tok = hfk_model_tokenizer(model.get());
        prompt = tokenize(tok, "Once upon a time, there was", true);
        ASSERT_GT(prompt.size(), 3u);
    }
    SessionPtr fresh() { return session(model.get(), 1); }
    ModelPtr model;
    const hfk_tokenizer *tok = nullptr;
    std::vector<int32_t> prompt;
};

std::vector<float> logits_of(hfk_session *s) {
    std::vector<float> out(static_cast<size_t>(hfk_session_n_logits(s)));
    int64_t n = 0;
    EXPECT_EQ(hfk_session_logits(s, out.data(), int64_t(out.size()), &n), HFK_OK)
        << hfk_last_error_message();
    EXPECT_EQ(n, int64_t(out.size()));
    return out;
}

std::vector<double> log_softmax(const std::vector<float> &l) {
    const double m = *std::max_element(l.begin(), l.end());
    double z = 0;
    for (float x : l) z += std::exp(double(x) - m);
    std::vector<double> out(l.size());
    for (size_t i = 0; i < l.size(); ++i) out[i] = double(l[i]) - m - std::log(z);
    return out;
}

std::vector<int32_t> session_tokens(hfk_session *s) {
    int64_t n = 0;
    hfk_status st = hfk_session_tokens(s, nullptr, 0, &n);
    EXPECT_TRUE(st == HFK_OK || st == HFK_E_BUFFER_TOO_SMALL);
    std::vector<int32_t> ids(size_t(n < 0 ? -n : n));
    EXPECT_EQ(hfk_session_tokens(s, ids.data(), int64_t(ids.size()), &n), HFK_OK);
    return ids;
}

void eval(hfk_session *s, const std::vector<int32_t> &ids) {
    ASSERT_EQ(hfk_session_eval(s, ids.data(), int64_t(ids.size()), nullptr, 0), HFK_OK)
        << hfk_last_error_message();
}

std::vector<int32_t> generate_ids(hfk_session *s, const std::vector<int32_t> &ids,
                                  const hfk_gen_params &p) {
    EXPECT_EQ(hfk_session_generate_tokens(s, ids.data(), int64_t(ids.size()), &p, nullptr, nullptr,
                                          nullptr, nullptr),
              HFK_OK)
        << hfk_last_error_message();
    return last_tokens(s);
}

}  // namespace

TEST_F(TokenApi, EvalAllPositionsMatchesLastLogitsAndStepwiseEval) {
    auto a = fresh();
    const int32_t width = hfk_session_n_logits(a.get());
    ASSERT_GT(width, 0);
    std::vector<float> all(prompt.size() * size_t(width));
    EXPECT_EQ(hfk_session_eval(a.get(), prompt.data(), int64_t(prompt.size()), all.data(),
                               int64_t(all.size()) - 1),
              HFK_E_BUFFER_TOO_SMALL);
    EXPECT_TRUE(session_tokens(a.get()).empty()) << "a refused eval changes nothing";
    ASSERT_EQ(hfk_session_eval(a.get(), prompt.data(), int64_t(prompt.size()), all.data(),
                               int64_t(all.size())),
              HFK_OK);
    EXPECT_EQ(session_tokens(a.get()), prompt);
    const auto last = logits_of(a.get());
    EXPECT_TRUE(std::equal(last.begin(), last.end(), all.end() - width));

    // One token at a time (decode steps) gives every row of the prefill again.
    auto b = fresh();
    for (size_t i = 0; i < prompt.size(); ++i) {
        eval(b.get(), {prompt[i]});
        const auto row = logits_of(b.get());
        for (int32_t j = 0; j < width; ++j)
            ASSERT_NEAR(row[size_t(j)], all[i * size_t(width) + size_t(j)], 1e-4)
                << "position " << i << " id " << j;
    }
}

TEST_F(TokenApi, EvalRefusesBadIdsAndOverflowBeforeChanging) {
    auto s = fresh();
    eval(s.get(), {prompt[0]});
    const int32_t bad[2] = {prompt[1], hfk_session_n_logits(s.get())};
    EXPECT_EQ(hfk_session_eval(s.get(), bad, 2, nullptr, 0), HFK_E_INVALID_ARG);
    EXPECT_EQ(session_tokens(s.get()).size(), 1u);
    std::vector<int32_t> many(100000, prompt[1]);
    EXPECT_EQ(hfk_session_eval(s.get(), many.data(), int64_t(many.size()), nullptr, 0),
              HFK_E_CONTEXT_FULL);
    EXPECT_EQ(session_tokens(s.get()).size(), 1u);
    auto empty = fresh();
    float one = 0;
    int64_t n = 0;
    EXPECT_EQ(hfk_session_logits(empty.get(), &one, 1, &n), HFK_E_STATE);
}

// logprobs are the model's distribution: log_softmax of the raw logits, whatever the sampling
// transforms (here temperature, top-k and a logit bias) did to choose the token.
TEST_F(TokenApi, LogprobsAgreeWithSoftmaxOverTheLogits) {
    for (int sampled = 0; sampled < 2; ++sampled) {
        auto s = fresh();
        hfk_gen_params p = greedy(12);
        p.logprobs = 1;
        p.top_logprobs = 5;
        // The bias arrays are read by the generate call below: they must outlive it.
        const int32_t ids[1] = {prompt[1]};
        const float vals[1] = {2.5f};
        if (sampled) {
            p.temperature = 1.3f;
            p.top_k = 40;
            p.seed = 11;
            p.logit_bias_ids = ids;
            p.logit_bias_values = vals;
            p.n_logit_bias = 1;
        }
        const auto gen = generate_ids(s.get(), prompt, p);
        ASSERT_EQ(gen.size(), 12u);
        int64_t n = 0;
        int32_t n_top = 0;
        EXPECT_EQ(hfk_session_last_logprobs(s.get(), nullptr, nullptr, nullptr, 0, &n, &n_top),
                  HFK_E_BUFFER_TOO_SMALL);
        ASSERT_EQ(n, -12);
        ASSERT_EQ(n_top, 5);
        std::vector<float> lp(12), top_lp(12 * 5);
        std::vector<int32_t> top_ids(12 * 5);
        ASSERT_EQ(hfk_session_last_logprobs(s.get(), lp.data(), top_ids.data(), top_lp.data(), 12,
                                            &n, &n_top),
                  HFK_OK);

        // The reference: the same sequence run step by step in another session.
        auto ref = fresh();
        eval(ref.get(), prompt);
        for (size_t i = 0; i < gen.size(); ++i) {
            const auto l = logits_of(ref.get());
            const auto want = log_softmax(l);
            EXPECT_NEAR(lp[i], want[size_t(gen[i])], 1e-5) << "step " << i;
            std::vector<int32_t> order(l.size());
            std::iota(order.begin(), order.end(), 0);
            std::stable_sort(order.begin(), order.end(),
                             [&](int32_t a, int32_t b) { return l[a] > l[b]; });
            for (size_t j = 0; j < 5; ++j) {
                EXPECT_EQ(top_ids[i * 5 + j], order[j]) << "step " << i << " rank " << j;
                EXPECT_NEAR(top_lp[i * 5 + j], want[size_t(order[j])], 1e-5);
            }
            if (!sampled) {
                EXPECT_EQ(gen[i], order[0]) << "greedy picks the top logprob";
            }
            eval(ref.get(), {gen[i]});
        }
    }
}

TEST_F(TokenApi, LogprobOptionsAreChecked) {
    auto s = fresh();
    hfk_gen_params p = greedy(2);
    p.logprobs = 1;
    p.top_logprobs = 21;
    EXPECT_EQ(hfk_session_generate_tokens(s.get(), prompt.data(), int64_t(prompt.size()), &p,
                                          nullptr, nullptr, nullptr, nullptr),
              HFK_E_INVALID_ARG);
    EXPECT_NE(std::string(hfk_last_error_message()).find("top_logprobs"), std::string::npos);
    p.top_logprobs = 0;
    const auto gen = generate_ids(s.get(), prompt, p);
    int64_t n = 0;
    int32_t n_top = -1;
    std::vector<float> lp(gen.size());
    EXPECT_EQ(hfk_session_last_logprobs(s.get(), lp.data(), nullptr, nullptr, int64_t(lp.size()),
                                        &n, &n_top),
              HFK_OK);
    EXPECT_EQ(n, int64_t(gen.size()));
    EXPECT_EQ(n_top, 0);
    // Without logprobs requested, nothing is recorded.
    p.logprobs = 0;
    generate_ids(s.get(), {}, p);
    EXPECT_EQ(hfk_session_last_logprobs(s.get(), lp.data(), nullptr, nullptr, int64_t(lp.size()),
                                        &n, &n_top),
              HFK_OK);
    EXPECT_EQ(n, 0);
}

TEST_F(TokenApi, GenerateFromIdsEqualsGenerateFromText) {
    auto text_session = fresh();
    std::vector<int32_t> from_text;
    const std::string text =
        generate(text_session.get(), "Once upon a time, there was", greedy(10), &from_text);
    auto id_session = fresh();
    char *out = nullptr;
    hfk_gen_params p = greedy(10);
    ASSERT_EQ(hfk_session_generate_tokens(id_session.get(), prompt.data(), int64_t(prompt.size()),
                                          &p, nullptr, nullptr, &out, nullptr),
              HFK_OK);
    EXPECT_EQ(last_tokens(id_session.get()), from_text);
    EXPECT_EQ(std::string(out), text);
    hfk_free(out);
    // Every generated id is now in the session, and its logits are those after the last one.
    auto tokens = session_tokens(id_session.get());
    std::vector<int32_t> want = prompt;
    want.insert(want.end(), from_text.begin(), from_text.end());
    EXPECT_EQ(tokens, want);
    auto again = fresh();
    eval(again.get(), want);
    const auto a = logits_of(id_session.get()), b = logits_of(again.get());
    for (size_t i = 0; i < a.size(); ++i) ASSERT_NEAR(a[i], b[i], 1e-4);
    // An empty session with no ids has nothing to continue.
    auto empty = fresh();
    EXPECT_EQ(hfk_session_generate_tokens(empty.get(), nullptr, 0, &p, nullptr, nullptr, nullptr,
                                          nullptr),
              HFK_E_INVALID_ARG);
}

TEST_F(TokenApi, SampleIsTheSamplerChainWithTheSessionsSeededGenerator) {
    auto s = fresh();
    eval(s.get(), prompt);
    const auto l = logits_of(s.get());
    const int32_t best = int32_t(std::max_element(l.begin(), l.end()) - l.begin());
    hfk_gen_params p;
    HFK_GEN_PARAMS_INIT(&p);
    int32_t id = -1;
    ASSERT_EQ(hfk_session_sample(s.get(), l.data(), int64_t(l.size()), &p, &id), HFK_OK);
    EXPECT_EQ(id, best) << "greedy by default";
    // A logit bias of -inf bans the best id; a large positive one forces another.
    const int32_t ban_ids[1] = {best};
    const float ban[1] = {-INFINITY};
    p.logit_bias_ids = ban_ids;
    p.logit_bias_values = ban;
    p.n_logit_bias = 1;
    ASSERT_EQ(hfk_session_sample(s.get(), l.data(), int64_t(l.size()), &p, &id), HFK_OK);
    auto without = l;
    without[size_t(best)] = -INFINITY;
    EXPECT_EQ(id, int32_t(std::max_element(without.begin(), without.end()) - without.begin()));
    const int32_t force_ids[1] = {7};
    const float force[1] = {1000.0f};
    p.logit_bias_ids = force_ids;
    p.logit_bias_values = force;
    ASSERT_EQ(hfk_session_sample(s.get(), l.data(), int64_t(l.size()), &p, &id), HFK_OK);
    EXPECT_EQ(id, 7);
    const int32_t bad_ids[1] = {int32_t(l.size())};
    p.logit_bias_ids = bad_ids;
    EXPECT_EQ(hfk_session_sample(s.get(), l.data(), int64_t(l.size()), &p, &id), HFK_E_INVALID_ARG);
    p.n_logit_bias = 0;
    EXPECT_EQ(hfk_session_sample(s.get(), l.data(), int64_t(l.size()) - 1, &p, &id),
              HFK_E_INVALID_ARG);

    // Sampling at temperature 1: the same seed gives the same draws, another seed others.
    p.temperature = 1.0f;
    auto draws = [&](uint64_t seed) {
        EXPECT_EQ(hfk_session_set_seed(s.get(), seed), HFK_OK);
        std::vector<int32_t> out;
        for (int i = 0; i < 40; ++i) {
            int32_t d = -1;
            EXPECT_EQ(hfk_session_sample(s.get(), l.data(), int64_t(l.size()), &p, &d), HFK_OK);
            out.push_back(d);
        }
        return out;
    };
    const auto a = draws(5), b = draws(5), c = draws(6);
    EXPECT_EQ(a, b);
    EXPECT_NE(a, c);
    EXPECT_GT(std::set<int32_t>(a.begin(), a.end()).size(), 1u) << "temperature 1 varies";
}

TEST_F(TokenApi, LogitBiasSteersGenerate) {
    auto plain = fresh();
    const auto want = generate_ids(plain.get(), prompt, greedy(3));
    auto biased = fresh();
    hfk_gen_params p = greedy(3);
    const int32_t ids[1] = {want[0]};
    const float vals[1] = {-INFINITY};
    p.logit_bias_ids = ids;
    p.logit_bias_values = vals;
    p.n_logit_bias = 1;
    const auto got = generate_ids(biased.get(), prompt, p);
    ASSERT_FALSE(got.empty());
    EXPECT_NE(got[0], want[0]);
    EXPECT_EQ(std::count(got.begin(), got.end(), want[0]), 0);
    p.n_logit_bias = -1;
    EXPECT_EQ(hfk_session_generate_tokens(biased.get(), nullptr, 0, &p, nullptr, nullptr, nullptr,
                                          nullptr),
              HFK_E_INVALID_ARG);
}

TEST_F(TokenApi, ScoreIsTheLogSoftmaxOfThePrecedingLogits) {
    auto s = fresh();
    std::vector<double> scores(prompt.size());
    ASSERT_EQ(hfk_session_score(s.get(), prompt.data(), int64_t(prompt.size()), scores.data()),
              HFK_OK);
    EXPECT_TRUE(std::isnan(scores[0])) << "the first id of an empty session has no context";
    auto ref = fresh();
    const int32_t width = hfk_session_n_logits(ref.get());
    std::vector<float> all(prompt.size() * size_t(width));
    ASSERT_EQ(hfk_session_eval(ref.get(), prompt.data(), int64_t(prompt.size()), all.data(),
                               int64_t(all.size())),
              HFK_OK);
    for (size_t i = 1; i < prompt.size(); ++i) {
        std::vector<float> row(all.begin() + (i - 1) * width, all.begin() + i * width);
        EXPECT_NEAR(scores[i], log_softmax(row)[size_t(prompt[i])], 1e-5) << i;
    }
    // A continuation after a prompt: its first id is scored from the prompt's last logits.
    auto c = fresh();
    const std::vector<int32_t> head(prompt.begin(), prompt.begin() + 3),
        tail(prompt.begin() + 3, prompt.end());
    eval(c.get(), head);
    std::vector<double> cont(tail.size());
    ASSERT_EQ(hfk_session_score(c.get(), tail.data(), int64_t(tail.size()), cont.data()), HFK_OK);
    for (size_t i = 0; i < tail.size(); ++i) EXPECT_NEAR(cont[i], scores[i + 3], 1e-5);
}

// Scoring runs in chunks of 64; a bad id or an overflow anywhere is refused before the first.
TEST_F(TokenApi, ScoreRefusesBeforeChangingTheSession) {
    auto s = fresh();
    std::vector<int32_t> ids;
    while (ids.size() < 70) ids.insert(ids.end(), prompt.begin(), prompt.end());
    ids.resize(70);
    ids.push_back(hfk_session_n_logits(s.get()));
    std::vector<double> out(ids.size());
    EXPECT_EQ(hfk_session_score(s.get(), ids.data(), int64_t(ids.size()), out.data()),
              HFK_E_INVALID_ARG);
    EXPECT_TRUE(session_tokens(s.get()).empty());
    ids.back() = prompt[1];
    while (ids.size() < 200) ids.push_back(prompt[1]);
    out.resize(ids.size());
    EXPECT_EQ(hfk_session_score(s.get(), ids.data(), int64_t(ids.size()), out.data()),
              HFK_E_CONTEXT_FULL);
    EXPECT_TRUE(session_tokens(s.get()).empty());
}

TEST_F(TokenApi, TruncateGoesBackToAPrefix) {
    auto s = fresh();
    eval(s.get(), prompt);
    EXPECT_EQ(hfk_session_truncate(s.get(), int32_t(prompt.size()) + 1), HFK_E_INVALID_ARG);
    EXPECT_EQ(hfk_session_truncate(s.get(), -1), HFK_E_INVALID_ARG);
    ASSERT_EQ(hfk_session_truncate(s.get(), 3), HFK_OK);
    EXPECT_EQ(session_tokens(s.get()), std::vector<int32_t>(prompt.begin(), prompt.begin() + 3));
    auto ref = fresh();
    eval(ref.get(), std::vector<int32_t>(prompt.begin(), prompt.begin() + 3));
    const auto a = logits_of(s.get()), b = logits_of(ref.get());
    for (size_t i = 0; i < a.size(); ++i) ASSERT_NEAR(a[i], b[i], 1e-4);
    // Continuing after the truncation equals continuing the reference.
    EXPECT_EQ(generate_ids(s.get(), {}, greedy(6)), generate_ids(ref.get(), {}, greedy(6)));
    ASSERT_EQ(hfk_session_truncate(s.get(), 0), HFK_OK);
    EXPECT_TRUE(session_tokens(s.get()).empty());
}

TEST_F(TokenApi, ForkContinuesOnePrefixSeveralWays) {
    auto s = fresh();
    eval(s.get(), prompt);
    hfk_session *raw = nullptr;
    ASSERT_EQ(hfk_session_fork(&raw, s.get()), HFK_OK) << hfk_last_error_message();
    SessionPtr f(raw);
    EXPECT_EQ(session_tokens(f.get()), prompt);
    const auto greedy_fork = generate_ids(f.get(), {}, greedy(8));
    hfk_gen_params p = greedy(8);
    p.temperature = 1.0f;
    p.seed = 3;
    const auto sampled_orig = generate_ids(s.get(), {}, p);
    // The original was not affected by the fork's continuation, and vice versa.
    auto ref = fresh();
    eval(ref.get(), prompt);
    EXPECT_EQ(generate_ids(ref.get(), {}, greedy(8)), greedy_fork);
    auto ref2 = fresh();
    eval(ref2.get(), prompt);
    EXPECT_EQ(generate_ids(ref2.get(), {}, p), sampled_orig);
    EXPECT_EQ(hfk_session_fork(nullptr, s.get()), HFK_E_INVALID_ARG);
}
