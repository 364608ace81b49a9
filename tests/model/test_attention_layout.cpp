// KvRows' and KvPages' layouts (kernels/attention.h): the same keys and values stored a row of
// every kv head per position or head-major (a session's CausalCache: each kv head's positions in
// one run, head_stride apart; the engine's pool: the same within each block) give attention(),
// attention_rows() and the paged attention_rows() the same bits: decode steps (the heads
// kernels, or one call per head), prefill blocks (sgemm over the rows, widened for a 16-bit
// cache), sliding windows and soft-capped scores, at one and two threads; attention_rows() the bits
// of one decode step of attention() per row; and a long decode step (keys cut into ranges across
// threads) the bits of one thread's step at 2 and 3 threads, as the engine's paged step has.
#include <gtest/gtest.h>

#include <algorithm>
#include <cstring>
#include <random>
#include <string>
#include <vector>

#include "kernels/attention.h"
#include "kernels/simd.h"

using namespace hfk;
using namespace hfk::kern;

namespace {

struct Layouts {
    std::vector<uint8_t> rows_k, rows_v, heads_k, heads_v;
    KvRows rows, heads;
};

// n positions of n_kv heads of hd values, the same values in both layouts.
Layouts make_layouts(DType t, int64_t n, int64_t n_kv, int64_t hd, std::mt19937 &rng) {
    const size_t elem = compute_elem_size(t), bytes = size_t(n * n_kv * hd) * elem;
    Layouts l{std::vector<uint8_t>(bytes),
              std::vector<uint8_t>(bytes),
              std::vector<uint8_t>(bytes),
              std::vector<uint8_t>(bytes),
              {},
              {}};
    std::normal_distribution<float> dist(0, 1);
    std::vector<float> head(static_cast<size_t>(hd));
    for (int which = 0; which < 2; ++which) {
        uint8_t *rows = (which ? l.rows_v : l.rows_k).data();
        uint8_t *heads = (which ? l.heads_v : l.heads_k).data();
        for (int64_t p = 0; p < n; ++p)
            for (int64_t j = 0; j < n_kv; ++j) {
                for (float &x : head) x = dist(rng);
                simd().from_f32(t, head.data(), hd, rows + size_t((p * n_kv + j) * hd) * elem);
                simd().from_f32(t, head.data(), hd, heads + size_t((j * n + p) * hd) * elem);
            }
    }
    l.rows = KvRows{t, l.rows_k.data(), l.rows_v.data(), n_kv * hd};
    l.heads = KvRows{t, l.heads_k.data(), l.heads_v.data(), hd, n * hd};
    return l;
}

// The rows of a Layouts' row layout copied into blocks of bt positions: by default each
// block holds its positions kv head by kv head, and the blocks are in reverse order of position
// (table), so each block is a run of its own; as the engine's pool (`pool`), a kv head's rows of
// every block lie side by side and the blocks come in order, so each kv head's rows are one run.
struct Pages {
    std::vector<uint8_t> k, v;
    std::vector<int32_t> table;
    KvPages kv;
};

Pages make_pages(const Layouts &l, int64_t n, int64_t n_kv, int64_t hd, int64_t bt,
                 bool pool = false) {
    const int64_t blocks = (n + bt - 1) / bt, kv_dim = n_kv * hd;
    const size_t elem = compute_elem_size(l.rows.type);
    Pages p{std::vector<uint8_t>(size_t(blocks * bt * kv_dim) * elem),
            std::vector<uint8_t>(size_t(blocks * bt * kv_dim) * elem),
            {},
            {}};
    for (int64_t b = 0; b < blocks; ++b) p.table.push_back(int32_t(pool ? b : blocks - 1 - b));
    const int64_t block_stride = pool ? bt * hd : bt * kv_dim,
                  head_stride = pool ? blocks * bt * hd : bt * hd;
    for (int64_t pos = 0; pos < n; ++pos)
        for (int64_t j = 0; j < n_kv; ++j) {
            const size_t at =
                size_t(p.table[size_t(pos / bt)] * block_stride + j * head_stride + pos % bt * hd) *
                elem;
            const size_t from = size_t(pos * kv_dim + j * hd) * elem;
            std::memcpy(p.k.data() + at, l.rows_k.data() + from, size_t(hd) * elem);
            std::memcpy(p.v.data() + at, l.rows_v.data() + from, size_t(hd) * elem);
        }
    p.kv = KvPages{p.k.data(),   p.v.data(), p.table.data(), bt,
                   block_stride, hd,         head_stride,    l.rows.type};
    return p;
}

}  // namespace

TEST(AttentionLayout, HeadMajorRowsGiveTheSameBits) {
    std::mt19937 rng(41);
    std::normal_distribution<float> dist(0, 1);
    struct Shape {
        int64_t heads, kv_heads, hd;
    };
    const int64_t n = 70;
    for (DType t : {DType::F32, DType::F16, DType::BF16})
        for (const Shape sh : {Shape{9, 3, 64}, Shape{4, 4, 32}, Shape{6, 2, 80}}) {
            const Layouts l = make_layouts(t, n, sh.kv_heads, sh.hd, rng);
            const AttentionShape shape{sh.heads, sh.kv_heads, sh.hd};
            for (const AttentionOptions opts :
                 {AttentionOptions{}, AttentionOptions{16, 0.0f}, AttentionOptions{5, 0.0f},
                  AttentionOptions{0, 30.0f}})
                for (int64_t m : {int64_t(1), int64_t(5), n})
                    for (int threads : {1, 2}) {
                        const int64_t p0 = n - m;
                        std::vector<float> q(size_t(m * sh.heads * sh.hd));
                        for (float &x : q) x = dist(rng);
                        std::vector<float> want(q.size(), -1.0f), got(q.size(), -2.0f);
                        const std::string where =
                            std::string(dtype_name(t)) + " " + std::to_string(sh.heads) + "/" +
                            std::to_string(sh.kv_heads) + "x" + std::to_string(sh.hd) + ", m " +
                            std::to_string(m) + ", window " + std::to_string(opts.window) +
                            ", softcap " + std::to_string(opts.softcap) + ", " +
                            std::to_string(threads) + " threads";
                        attention(q.data(), m, p0, l.rows, n, shape, true, 0.125f, opts,
                                  want.data(), threads);
                        // attention_rows' rows (several at a time: attend_tile) against one
                        // decode step of attention() each.
                        std::vector<float> one(q.size(), -4.0f);
                        for (int64_t i = 0; i < m; ++i)
                            attention(q.data() + i * shape.n_heads * sh.hd, 1, p0 + i, l.rows,
                                      p0 + i + 1, shape, true, 0.125f, opts,
                                      one.data() + i * shape.n_heads * sh.hd, threads);
                        attention(q.data(), m, p0, l.heads, n, shape, true, 0.125f, opts,
                                  got.data(), threads);
                        EXPECT_EQ(std::memcmp(want.data(), got.data(), 4 * want.size()), 0)
                            << "attention(), " << where;
                        attention_rows(q.data(), m, p0, l.rows, shape, 0.125f, opts, want.data(),
                                       threads);
                        EXPECT_EQ(std::memcmp(one.data(), want.data(), 4 * want.size()), 0)
                            << "attention_rows() against one step each, " << where;
                        attention_rows(q.data(), m, p0, l.heads, shape, 0.125f, opts, got.data(),
                                       threads);
                        EXPECT_EQ(std::memcmp(want.data(), got.data(), 4 * want.size()), 0)
                            << "attention_rows(), " << where;
                        const Pages pages = make_pages(l, n, sh.kv_heads, sh.hd, 16);
                        std::fill(got.begin(), got.end(), -3.0f);
                        attention_rows(q.data(), m, p0, pages.kv, shape, 0.125f, opts, got.data(),
                                       threads);
                        EXPECT_EQ(std::memcmp(want.data(), got.data(), 4 * want.size()), 0)
                            << "paged attention_rows(), " << where;
                    }
        }
}

TEST(AttentionLayout, LongDecodeStepSameBitsAtAnyThreadCount) {
    // Past kDecodeSplitKeysBytes a step on several threads cuts the keys into ranges and the
    // values by kv head (or, with fewer kv heads than threads, by columns); one thread takes the
    // group path. MQA (one kv head) and a width of 80 take the column parts. The engine's paged
    // step (a task per kv head at any length: cutting its keys into ranges measured slower,
    // the pool's blocks being runs of their own or not) has the same bits: a kv head's rows as
    // one run, or a run a block.
    std::mt19937 rng(43);
    std::normal_distribution<float> dist(0, 1);
    struct Shape {
        int64_t heads, kv_heads, hd;
    };
    int checked = 0;
    for (DType t : {DType::F32, DType::BF16})
        for (const Shape sh : {Shape{9, 3, 64}, Shape{8, 1, 128}, Shape{6, 2, 80}}) {
            const int64_t elem = compute_elem_size(t), row = sh.kv_heads * sh.hd * elem;
            const int64_t n = (kDecodeSplitKeysBytes + row - 1) / row * 2;  // twice the size
            const Layouts l = make_layouts(t, n, sh.kv_heads, sh.hd, rng);
            const AttentionShape shape{sh.heads, sh.kv_heads, sh.hd};
            for (const AttentionOptions opts :
                 {AttentionOptions{}, AttentionOptions{n * 3 / 4, 0.0f},
                  AttentionOptions{0, 30.0f}}) {
                // The window leaves 3/4 of the keys: still past the size.
                ASSERT_GE((opts.window ? opts.window : n) * row, kDecodeSplitKeysBytes);
                std::vector<float> q(size_t(sh.heads * sh.hd));
                for (float &x : q) x = dist(rng) * 0.3f;
                std::vector<float> want(q.size(), -1.0f);
                attention(q.data(), 1, n - 1, l.heads, n, shape, true, 0.125f, opts, want.data(),
                          1);
                for (int threads : {2, 3})
                    for (const KvRows *kv : {&l.heads, &l.rows}) {
                        std::vector<float> got(q.size(), -2.0f);
                        attention(q.data(), 1, n - 1, *kv, n, shape, true, 0.125f, opts, got.data(),
                                  threads);
                        EXPECT_EQ(std::memcmp(want.data(), got.data(), 4 * want.size()), 0)
                            << dtype_name(t) << " " << sh.heads << "/" << sh.kv_heads << "x"
                            << sh.hd << ", " << n << " keys, window " << opts.window << ", softcap "
                            << opts.softcap << ", " << threads << " threads, "
                            << (kv == &l.heads ? "head-major" : "rows");
                        ++checked;
                    }
                for (bool pool : {false, true}) {
                    const Pages pages = make_pages(l, n, sh.kv_heads, sh.hd, 16, pool);
                    for (int threads : {1, 2, 3}) {
                        std::vector<float> got(q.size(), -3.0f);
                        attention_rows(q.data(), 1, n - 1, pages.kv, shape, 0.125f, opts,
                                       got.data(), threads);
                        EXPECT_EQ(std::memcmp(want.data(), got.data(), 4 * want.size()), 0)
                            << dtype_name(t) << " " << sh.heads << "/" << sh.kv_heads << "x"
                            << sh.hd << ", " << n << " keys, window " << opts.window << ", softcap "
                            << opts.softcap << ", " << threads << " threads, paged, "
                            << (pool ? "one run" : "a run a block");
                        ++checked;
                    }
                }
            }
        }
    EXPECT_EQ(checked, 2 * 3 * 3 * (2 * 2 + 2 * 3));
}
