// Model::forward_batch (continuous batching): a sequence's logits are the same bits alone or
// among seven others of different lengths and phases, however its prompt is cut into chunks, at
// one or two threads; and they agree with forward() (which /tests/model checks against torch).
#include <gtest/gtest.h>

#include <cmath>
#include <cstring>
#include <memory>
#include <vector>

#include "model/model.h"
#include "runtime/sampler.h"
#include "util/error.h"
#include "../support/test_support.h"

namespace {

using hfk::BatchItem;
using hfk::KvCache;
using hfk::Model;

struct Seq {
    std::vector<int32_t> prompt;
    int32_t chunk = 1;  // prompt tokens per step
    int32_t start = 0;  // the step it joins the batch
    int32_t n_new = 6;  // greedy tokens to generate
};

struct Trace {
    std::vector<int32_t> ids;                // generated, greedy
    std::vector<std::vector<float>> logits;  // before each generated id
};

// A little scheduler: every step runs one chunk of each prefilling sequence and one token of
// each decoding one, all in one forward_batch call.
std::vector<Trace> run(const Model &model, const std::vector<Seq> &seqs, int threads) {
    const size_t n = seqs.size();
    const int32_t vocab = model.vocab_size();
    std::vector<std::unique_ptr<KvCache>> caches;
    for (size_t s = 0; s < n; ++s) caches.push_back(model.new_cache(100));
    std::vector<Trace> out(n);
    std::vector<size_t> fed(n, 0);
    std::vector<std::vector<float>> logits(n, std::vector<float>(size_t(vocab)));
    for (int32_t step = 0;; ++step) {
        std::vector<BatchItem> items;
        std::vector<size_t> who;
        std::vector<std::vector<int32_t>> toks(n);
        for (size_t s = 0; s < n; ++s) {
            const Seq &q = seqs[s];
            if (step < q.start || int32_t(out[s].ids.size()) >= q.n_new) continue;
            if (fed[s] < q.prompt.size()) {
                const size_t k = std::min(q.prompt.size() - fed[s], size_t(q.chunk));
                toks[s].assign(q.prompt.begin() + long(fed[s]),
                               q.prompt.begin() + long(fed[s] + k));
                fed[s] += k;
            } else {
                toks[s] = {out[s].ids.back()};
            }
            const bool wants = fed[s] == q.prompt.size();
            items.push_back({caches[s].get(), toks[s], wants ? logits[s].data() : nullptr});
            who.push_back(s);
        }
        if (items.empty()) {
            bool done = true;
            for (size_t s = 0; s < n; ++s)
                if (int32_t(out[s].ids.size()) < seqs[s].n_new) done = false;
            if (done) break;
            continue;
        }
        model.forward_batch(items, threads);
        for (size_t j = 0; j < items.size(); ++j) {
            if (!items[j].logits) continue;
            const size_t s = who[j];
            out[s].logits.push_back(logits[s]);
            out[s].ids.push_back(hfk::argmax(logits[s]));
        }
    }
    return out;
}

std::vector<int32_t> ids(int32_t n, int32_t seed, int32_t vocab) {
    std::vector<int32_t> v;
    uint32_t x = uint32_t(seed) * 2654435761u + 1;
    for (int32_t i = 0; i < n; ++i) {
        x = x * 1664525u + 1013904223u;
        v.push_back(int32_t((x >> 8) % uint32_t(vocab - 2)) + 1);
    }
    return v;
}

void expect_same_bits(const Trace &a, const Trace &b) {
    ASSERT_EQ(a.ids, b.ids);
    ASSERT_EQ(a.logits.size(), b.logits.size());
    for (size_t t = 0; t < a.logits.size(); ++t)
        EXPECT_EQ(0, std::memcmp(a.logits[t].data(), b.logits[t].data(),
                                 a.logits[t].size() * sizeof(float)))
            << "logits of generated token " << t << " differ";
}

void check_model(const std::string &dir) {
    auto model = Model::load(hfk_test::shared_models_dir() / dir, {});
    ASSERT_TRUE(model->supports_batch());
    const int32_t vocab = model->vocab_size();
    const Seq target{ids(13, 1, vocab), 13, 0, 8};
    const Trace alone = run(*model, {target}, 1)[0];

    // Seven others: different prompt lengths, chunk sizes and start steps; the target's prompt
    // cut in chunks of 3 this time, joining at step 2 while others decode.
    std::vector<Seq> mix;
    for (int32_t i = 0; i < 7; ++i)
        mix.push_back({ids(3 + 5 * i, 10 + i, vocab), 1 + i % 4, i % 3, 4 + i});
    Seq cut = target;
    cut.chunk = 3;
    cut.start = 2;
    mix.insert(mix.begin() + 3, cut);
    for (int threads : {1, 2}) {
        SCOPED_TRACE("threads " + std::to_string(threads));
        const std::vector<Trace> got = run(*model, mix, threads);
        expect_same_bits(alone, got[3]);
    }
    EXPECT_NO_FATAL_FAILURE(expect_same_bits(alone, run(*model, {target}, 2)[0]));

    // The same numbers as forward() (prefill as one matrix product, then one token a step), to
    // rounding: the batched path computes the same function.
    auto cache = model->new_cache(100);
    std::vector<float> lg(static_cast<size_t>(vocab));
    model->forward(*cache, target.prompt, lg.data(), false, 1);
    for (size_t t = 0; t < alone.ids.size(); ++t) {
        double worst = 0, scale = 0;
        for (int32_t v = 0; v < vocab; ++v) {
            worst = std::max(worst, double(std::fabs(lg[size_t(v)] - alone.logits[t][size_t(v)])));
            scale = std::max(scale, double(std::fabs(lg[size_t(v)])));
        }
        EXPECT_LE(worst, 1e-4 * std::max(1.0, scale)) << "token " << t;
        EXPECT_EQ(hfk::argmax(lg), alone.ids[t]) << "token " << t;
        const int32_t next = alone.ids[t];
        model->forward(*cache, std::span<const int32_t>(&next, 1), lg.data(), false, 1);
    }
}

TEST(BatchForward, SameBitsAloneOrAmongSevenTrainedLlama) {
    check_model("aidreams260K");
}

TEST(BatchForward, SameBitsAloneOrAmongSevenGqaBf16) {
    check_model("tiny/tiny-llama-gqa-bf16");
}

TEST(BatchForward, SameBitsAloneOrAmongSevenQwen2Bias) {
    check_model("tiny/tiny-qwen2-bias-f32");
}

TEST(BatchForward, RefusesOneCacheTwiceBeforeChangingIt) {
    auto model = Model::load(hfk_test::shared_models_dir() / "aidreams260K", {});
    auto cache = model->new_cache(64);
    const std::vector<int32_t> a{1, 2}, b{3};
    std::vector<BatchItem> items{{cache.get(), a, nullptr}, {cache.get(), b, nullptr}};
    EXPECT_THROW(model->forward_batch(items, 1), hfk::Error);
    EXPECT_EQ(cache->n_past(), 0);
}

TEST(BatchForward, Gpt2SaysUnsupported) {
    auto model = Model::load(hfk_test::shared_models_dir() / "tiny/tiny-gpt2-f32", {});
    EXPECT_FALSE(model->supports_batch());
    auto cache = model->new_cache(16);
    const std::vector<int32_t> a{1};
    std::vector<BatchItem> items{{cache.get(), a, nullptr}};
    EXPECT_THROW(model->forward_batch(items, 1), hfk::Error);
}

}  // namespace
