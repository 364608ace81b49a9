// The paged KV cache of the engine: attention through a block table gives the same bits as
// attention over the same rows stored contiguously (with grouped-query heads, a sliding window
// and a soft cap), and Model::forward_batch over a PagedCache whose blocks are scattered through
// a pool gives the same logits, bit for bit, as over a CausalCache (test_batch_forward checks
// that one against forward()).
#include <gtest/gtest.h>

#include <cstdint>
#include <cstring>
#include <memory>
#include <numeric>
#include <random>
#include <vector>

#include "kernels/attention.h"
#include "model/model.h"
#include "models/paged_cache.h"
#include "runtime/sampler.h"
#include "util/error.h"
#include "../support/test_support.h"

namespace {

using hfk::BatchItem;
using hfk::DType;
using hfk::KvCache;
using hfk::Model;

std::vector<float> random_floats(size_t n, uint32_t seed) {
    std::mt19937 g(seed);
    std::normal_distribution<float> d(0.0f, 1.0f);
    std::vector<float> v(n);
    for (float &x : v) x = d(g);
    return v;
}

TEST(PagedAttention, SameBitsAsContiguousRowsThroughAScatteredTable) {
    const hfk::kern::AttentionShape shape{6, 2, 8};  // three query heads per kv head
    const int64_t kv_dim = shape.n_kv_heads * shape.head_dim,
                  q_dim = shape.n_heads * shape.head_dim;
    const int64_t n_keys = 37, bt = 5, n_tb = (n_keys + bt - 1) / bt;
    const std::vector<float> k = random_floats(size_t(n_keys * kv_dim), 1),
                             v = random_floats(size_t(n_keys * kv_dim), 2);
    // The pool: 2 * n_tb blocks; the sequence's blocks in a scrambled order, others filled with
    // noise that a wrong index would read.
    std::vector<int32_t> table(static_cast<size_t>(n_tb));
    for (int64_t b = 0; b < n_tb; ++b) table[size_t(b)] = int32_t((b * 5 + 3) % (2 * n_tb));
    const int64_t block_stride = 2 * bt * kv_dim;  // keys then values of one layer
    std::vector<float> pool = random_floats(size_t(2 * n_tb * block_stride), 3);
    for (int64_t p = 0; p < n_keys; ++p) {
        float *blk = pool.data() + table[size_t(p / bt)] * block_stride;
        std::copy_n(&k[size_t(p * kv_dim)], kv_dim, blk + (p % bt) * kv_dim);
        std::copy_n(&v[size_t(p * kv_dim)], kv_dim, blk + (bt + p % bt) * kv_dim);
    }
    const hfk::kern::KvPages pages{
        pool.data(), pool.data() + bt * kv_dim, table.data(), bt, block_stride, kv_dim};
    // The contiguous rows one float past a cache line (the pool's rows at malloc's alignment, a
    // multiple of 4 floats): a score must not depend on where its key starts in a line.
    std::vector<float> kbuf(k.size() + 32), vbuf(v.size() + 32);
    auto past_line = [](float *p) {
        return reinterpret_cast<float *>((reinterpret_cast<uintptr_t>(p) + 63) & ~uintptr_t(63)) +
               1;
    };
    float *kc = past_line(kbuf.data()), *vc = past_line(vbuf.data());
    std::copy(k.begin(), k.end(), kc);
    std::copy(v.begin(), v.end(), vc);
    // 9 rows: a task per (row, kv head); one row on 4 threads: a task per (row, head).
    for (int64_t m : {9, 1})
        for (int64_t window : {0, 7, 100})
            for (float softcap : {0.0f, 3.0f})
                for (int threads : {1, 2, 4}) {
                    SCOPED_TRACE("rows " + std::to_string(m) + " window " + std::to_string(window) +
                                 " softcap " + std::to_string(softcap) + " threads " +
                                 std::to_string(threads));
                    const int64_t p0 = n_keys - m;
                    const std::vector<float> q = random_floats(size_t(m * q_dim), 4);
                    const hfk::kern::AttentionOptions o{window, softcap};
                    std::vector<float> want(size_t(m * q_dim)), got(size_t(m * q_dim), -1.0f);
                    hfk::kern::attention_rows(q.data(), m, p0, kc, vc, kv_dim, shape, 0.3f, o,
                                              want.data(), 1);
                    hfk::kern::attention_rows(q.data(), m, p0, pages, shape, 0.3f, o, got.data(),
                                              threads);
                    EXPECT_EQ(0, std::memcmp(want.data(), got.data(), want.size() * sizeof(float)));
                }
}

// Several sequences in one attention_rows_batch call (the engine's step: one decode row each, or
// a prefill chunk) give every row the bits of a separate attention_rows call over its own pages.
TEST(PagedAttention, BatchOfSequencesHasEachSequencesBitsAlone) {
    const hfk::kern::AttentionShape shape{6, 2, 8};
    const int64_t kv_dim = shape.n_kv_heads * shape.head_dim,
                  q_dim = shape.n_heads * shape.head_dim;
    const int64_t bt = 4, block_stride = 2 * bt * kv_dim, n_blocks = 24;
    // One pool; each sequence owns some of its blocks, in a scrambled order.
    std::vector<float> pool = random_floats(size_t(n_blocks * block_stride), 11);
    struct Seq {
        int64_t m, p0;
        std::vector<int32_t> table;
        std::vector<float> q, want, got;
    };
    std::vector<Seq> seqs{{1, 9, {7, 2, 19}, {}, {}, {}},
                          {5, 3, {4, 23, 0}, {}, {}, {}},
                          {1, 0, {12}, {}, {}, {}},
                          {2, 14, {1, 9, 15, 3}, {}, {}, {}}};
    for (float softcap : {0.0f, 2.5f})
        for (int64_t window : {0, 6})
            for (int threads : {1, 2, 3}) {
                SCOPED_TRACE("window " + std::to_string(window) + " softcap " +
                             std::to_string(softcap) + " threads " + std::to_string(threads));
                const hfk::kern::AttentionOptions o{window, softcap};
                std::vector<hfk::kern::PagedRows> batch;
                for (size_t j = 0; j < seqs.size(); ++j) {
                    Seq &sq = seqs[j];
                    sq.q = random_floats(size_t(sq.m * q_dim), uint32_t(20 + j));
                    sq.want.assign(size_t(sq.m * q_dim), 0.0f);
                    sq.got.assign(size_t(sq.m * q_dim), -1.0f);
                    const hfk::kern::KvPages pages{pool.data(),     pool.data() + bt * kv_dim,
                                                   sq.table.data(), bt,
                                                   block_stride,    kv_dim};
                    hfk::kern::attention_rows(sq.q.data(), sq.m, sq.p0, pages, shape, 0.3f, o,
                                              sq.want.data(), 1);
                    batch.push_back({sq.q.data(), sq.m, sq.p0, pages, sq.got.data()});
                }
                hfk::kern::attention_rows_batch(batch.data(), batch.size(), shape, 0.3f, o,
                                                threads);
                for (const Seq &sq : seqs)
                    EXPECT_EQ(0, std::memcmp(sq.want.data(), sq.got.data(),
                                             sq.want.size() * sizeof(float)));
            }
}

// A prompt run in chunks of 3 then greedy tokens, alone, in one forward_batch per step; the
// logits before each generated token.
std::vector<std::vector<float>> run(const Model &model, KvCache &cache,
                                    const std::vector<int32_t> &prompt, int n_new,
                                    KvCache *neighbour, int threads) {
    std::vector<std::vector<float>> out;
    std::vector<float> lg(size_t(model.vocab_size())), other(size_t(model.vocab_size()));
    size_t fed = 0;
    int32_t next = -1;
    const std::vector<int32_t> noise{5, 6};
    while (int(out.size()) < n_new) {
        std::span<const int32_t> toks;
        if (fed < prompt.size()) {
            const size_t n = std::min<size_t>(3, prompt.size() - fed);
            toks = std::span<const int32_t>(prompt.data() + fed, n);
            fed += n;
        } else {
            toks = std::span<const int32_t>(&next, 1);
        }
        const bool last = fed == prompt.size();
        std::vector<BatchItem> items{{&cache, toks, last ? lg.data() : nullptr}};
        // Another sequence writing into the same pool in the same steps.
        if (neighbour) items.push_back({neighbour, noise, other.data()});
        model.forward_batch(items, threads);
        if (last) {
            out.push_back(lg);
            next = hfk::argmax(lg);
        }
    }
    return out;
}

// A pool of `kv_type` against a contiguous cache of the same type.
void check_model(const std::string &dir, DType kv_type = DType::F32) {
    SCOPED_TRACE(std::string("KV ") + hfk::dtype_name(kv_type));
    auto model = Model::load(hfk_test::shared_models_dir() / dir, {});
    const auto probe = model->new_cache(1);
    const int64_t n_layers = probe->n_blocks() / 2, kv_dim = probe->row_floats(),
                  head_dim = probe->head_floats();
    std::vector<int32_t> prompt(23);
    const size_t vocab = size_t(model->vocab_size());
    for (size_t i = 0; i < prompt.size(); ++i) prompt[i] = int32_t(1 + (i * 37) % (vocab - 1));
    constexpr int kNew = 8;
    auto flat = model->new_cache(64, kv_type);
    const auto want = run(*model, *flat, prompt, kNew, nullptr, 1);

    constexpr int32_t bt = 4;
    auto arena =
        std::make_shared<const hfk::models::KvArena>(n_layers, kv_dim, head_dim, bt, 40, kv_type);
    std::vector<int32_t> table, other;  // 8 blocks each, interleaved and reversed
    for (int32_t b = 0; b < 8; ++b) {
        table.push_back(30 - 3 * b);
        other.push_back(31 - 3 * b);
    }
    for (int threads : {1, 2}) {
        SCOPED_TRACE("threads " + std::to_string(threads));
        hfk::models::PagedCache paged(model.get(), arena, table, 64, 0);
        hfk::models::PagedCache neighbour(model.get(), arena, other, 64, 0);
        EXPECT_EQ(paged.capacity(), 32);  // what the table holds
        const auto got = run(*model, paged, prompt, kNew, &neighbour, threads);
        ASSERT_EQ(got.size(), want.size());
        for (size_t t = 0; t < got.size(); ++t)
            EXPECT_EQ(0, std::memcmp(got[t].data(), want[t].data(), got[t].size() * sizeof(float)))
                << "logits of generated token " << t;
        // The rows, as a session would save them, are the contiguous cache's.
        const int32_t n = paged.n_past();
        ASSERT_EQ(n, flat->n_past());
        std::vector<float> a(size_t(n * kv_dim)), b(a.size());
        for (int64_t i = 0; i < paged.n_blocks(); ++i) {
            paged.read_rows(i, n, a.data());
            flat->read_rows(i, n, b.data());
            EXPECT_EQ(a, b) << "cache block " << i;
        }
    }
}

TEST(PagedCache, ForwardBatchGivesTheContiguousCachesBitsTrainedLlama) {
    check_model("aidreams260K");
}

TEST(PagedCache, ForwardBatchGivesTheContiguousCachesBitsIn16BitPools) {
    check_model("aidreams260K", DType::BF16);
    check_model("tiny/tiny-llama-gqa-bf16", DType::F16);
}

TEST(PagedCache, ForwardBatchGivesTheContiguousCachesBitsGqaBf16) {
    check_model("tiny/tiny-llama-gqa-bf16");
}

TEST(PagedCache, ForwardBatchGivesTheContiguousCachesBitsQwen2Bias) {
    check_model("tiny/tiny-qwen2-bias-f32");
}

TEST(PagedCache, OnlyItsModelsBatchedForwardRunsItAndTheTableBoundsIt) {
    auto model = Model::load(hfk_test::shared_models_dir() / "aidreams260K", {});
    auto other = Model::load(hfk_test::shared_models_dir() / "tiny/tiny-llama-gqa-f32", {});
    // aidreams260K: 4 layers, 4 kv heads of 16.
    auto arena = std::make_shared<const hfk::models::KvArena>(4, 64, 16, 4, 4);
    hfk::models::PagedCache c(model.get(), arena, {2, 0}, 128, 0);
    EXPECT_EQ(c.capacity(), 8);
    std::vector<float> lg(size_t(model->vocab_size()));
    const std::vector<int32_t> nine(9, 3), two{1, 2};
    try {  // more than the table holds: refused before anything changes
        std::vector<BatchItem> items{{&c, nine, lg.data()}};
        model->forward_batch(items, 1);
        ADD_FAILURE() << "no error";
    } catch (const hfk::Error &e) {
        EXPECT_EQ(e.status(), HFK_E_CONTEXT_FULL);
    }
    EXPECT_EQ(c.n_past(), 0);
    std::vector<BatchItem> mine{{&c, two, lg.data()}};
    EXPECT_THROW(other->forward_batch(mine, 1), hfk::Error);                // another model's
    EXPECT_THROW(model->forward(c, two, lg.data(), false, 1), hfk::Error);  // not forward()'s
    EXPECT_THROW(hfk::models::PagedCache(model.get(), arena, {4}, 128, 0), hfk::Error);
    model->forward_batch(mine, 1);
    EXPECT_EQ(c.n_past(), 2);
}

}  // namespace
