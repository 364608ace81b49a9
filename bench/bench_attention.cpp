// A decode step's attention over a llama-135m-shaped KV cache (30 layers, 9 query heads on 3 kv
// heads of 64), alone (Google Benchmark): kern::attention() for one query row, against the same
// step made of one dot_rows / softmax / axpy_rows call per query head (the way attention() ran
// before the heads kernels, kernels/attention_heads.h; the same bits), in one run. Arguments:
// the cache's element type, the context length, the path (0: one call per head, one thread;
// 1: attention(), one thread; 2: attention(), two threads) and the cache's layout (0: a row of
// every kv head per position, as both caches were once; 1: head-major, as a session's
// CausalCache: each kv head's positions in one run). BM_DecodeAttentionPaged: the engine's
// paged cache. BM_PrefillAttention: a whole prompt's rows over one layer, attention()'s blocks of
// 64 rows (two sgemm calls a head) against attention_rows()' tiles of 8 (the heads kernels, each
// row a decode step's bits).
//   bench_attention [--benchmark_repetitions=5 --benchmark_report_aggregates_only=true]
#include <benchmark/benchmark.h>

#include <sys/mman.h>

#include <cstdint>
#include <cstring>
#include <random>
#include <string>
#include <vector>

#include "kernels/attention.h"
#include "kernels/rows_per_pass.h"
#include "kernels/simd.h"
#include "models/paged_cache.h"

namespace {

using hfk::DType;
using namespace hfk::kern;

constexpr int64_t kLayers = 30, kHeads = 9, kKvHeads = 3, kHeadDim = 64;
constexpr int64_t kKvDim = kKvHeads * kHeadDim;

// Every layer's keys and values of `ctx` positions in an anonymous mapping (as CausalCache holds
// them: 4 KiB pages), random values of `type`, the same values in either layout.
struct Cache {
    DType type;
    int64_t ctx;
    bool head_major;
    size_t bytes;
    uint8_t *base;
    Cache(DType t, int64_t n, bool heads) : type(t), ctx(n), head_major(heads) {
        const size_t elem = compute_elem_size(t);
        bytes = size_t(2 * kLayers * n * kKvDim) * elem;
        base = static_cast<uint8_t *>(
            mmap(nullptr, bytes, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0));
        std::mt19937 rng(3);
        std::normal_distribution<float> dist(0, 1);
        std::vector<float> row(kKvDim);
        for (int64_t r = 0; r < 2 * kLayers * n; ++r) {  // block r / n, position r % n
            for (float &x : row) x = dist(rng);
            const int64_t block = r / n, pos = r % n;
            for (int64_t j = 0; j < kKvHeads; ++j) {
                const int64_t at = block * n * kKvDim + (heads ? j * n * kHeadDim + pos * kHeadDim
                                                               : pos * kKvDim + j * kHeadDim);
                simd().from_f32(t, row.data() + j * kHeadDim, kHeadDim, base + size_t(at) * elem);
            }
        }
    }
    ~Cache() { munmap(base, bytes); }
    KvRows layer(int64_t l) const {
        const size_t half = bytes / 2 / kLayers;
        KvRows kv{type, base + size_t(2 * l) * half, base + size_t(2 * l + 1) * half, kKvDim};
        if (head_major) {
            kv.stride = kHeadDim;
            kv.head_stride = ctx * kHeadDim;
        }
        return kv;
    }
};

// The step as one call per query head (attention()'s one-row path before the heads kernels).
void per_head(const KvRows &kv, int64_t ctx, const float *q, float scale, float *out) {
    const SimdOps &ops = simd();
    const size_t elem = compute_elem_size(kv.type);
    thread_local std::vector<float> scores;
    scores.resize(size_t(ctx));
    for (int64_t h = 0; h < kHeads; ++h) {
        const int64_t j = h / (kHeads / kKvHeads);
        const size_t first = size_t(j * (kv.head_stride > 0 ? kv.head_stride : kHeadDim)) * elem;
        ops.dot_rows(kv.type, static_cast<const char *>(kv.k) + first, kv.stride, ctx,
                     q + h * kHeadDim, kHeadDim, scores.data(), dot_rows_per_pass(kv.type));
        for (float &s : scores) s *= scale;
        softmax(scores.data(), ctx);
        ops.axpy_rows(kv.type, static_cast<const char *>(kv.v) + first, kv.stride, ctx,
                      scores.data(), kHeadDim, out + h * kHeadDim, axpy_rows_per_pass(kv.type));
    }
}

void BM_DecodeAttention(benchmark::State &state) {
    const auto type = static_cast<DType>(state.range(0));
    const int64_t ctx = state.range(1), path = state.range(2);
    const Cache cache(type, ctx, state.range(3) == 1);
    std::vector<float> q(kHeads * kHeadDim), out(q.size()), check(q.size());
    std::mt19937 rng(5);
    std::normal_distribution<float> dist(0, 1);
    for (float &x : q) x = dist(rng);
    const AttentionShape shape{kHeads, kKvHeads, kHeadDim};
    const float scale = 0.125f;
    for (auto _ : state) {
        for (int64_t l = 0; l < kLayers; ++l) {
            if (path == 0)
                per_head(cache.layer(l), ctx, q.data(), scale, out.data());
            else
                attention(q.data(), 1, ctx - 1, cache.layer(l), ctx, shape, true, scale,
                          AttentionOptions{}, out.data(), path == 2 ? 2 : 1);
        }
        benchmark::DoNotOptimize(out.data());
    }
    // Both paths give the same bits (tests/model/test_attention_heads.cpp); a bench that
    // measured something else would say so here.
    per_head(cache.layer(kLayers - 1), ctx, q.data(), scale, check.data());
    if (std::memcmp(check.data(), out.data(), 4 * out.size()) != 0)
        state.SkipWithError("attention() and the per-head calls disagree");
    state.SetLabel(std::string(hfk::dtype_name(type)) +
                   (path == 0 ? ", one call per head" : ", attention()") +
                   (cache.head_major ? ", head-major" : ", rows"));
    state.counters["KV GB/s"] =
        benchmark::Counter(double(cache.bytes), benchmark::Counter::kIsIterationInvariantRate);
}

// The same step over the engine's paged cache (models::KvArena, blocks of 16 positions), F32.
// Arguments: the context length, the threads and the blocks' order (0: in order, as a fresh
// pool hands them out, each kv head's rows one run; 1: reversed, as after churn, every block a
// run of its own).
void BM_DecodeAttentionPaged(benchmark::State &state) {
    const int64_t ctx = state.range(0), bt = 16, n_blocks = (ctx + bt - 1) / bt;
    const Cache flat(DType::F32, ctx, true);
    const hfk::models::KvArena arena(kLayers, kKvDim, kHeadDim, int32_t(bt), n_blocks);
    std::vector<int32_t> table(static_cast<size_t>(n_blocks));
    for (int64_t b = 0; b < n_blocks; ++b)
        table[size_t(b)] = int32_t(state.range(2) == 0 ? b : n_blocks - 1 - b);
    for (int64_t l = 0; l < kLayers; ++l) {
        const KvRows rows = flat.layer(l);
        for (int kv = 0; kv < 2; ++kv)
            for (int64_t j = 0; j < kKvHeads; ++j)
                for (int64_t p = 0; p < ctx; ++p)
                    std::memcpy(arena.head_row(table[size_t(p / bt)], l, kv, j, p % bt),
                                static_cast<const float *>(kv == 0 ? rows.k : rows.v) +
                                    j * rows.head_stride + p * kHeadDim,
                                4 * kHeadDim);
    }
    auto pages = [&](int64_t l) { return arena.pages(l, table.data()); };
    std::vector<float> q(kHeads * kHeadDim), out(q.size()), check(q.size());
    std::mt19937 rng(5);
    std::normal_distribution<float> dist(0, 1);
    for (float &x : q) x = dist(rng);
    const AttentionShape shape{kHeads, kKvHeads, kHeadDim};
    const int threads = int(state.range(1));
    for (auto _ : state) {
        for (int64_t l = 0; l < kLayers; ++l)
            attention_rows(q.data(), 1, ctx - 1, pages(l), shape, 0.125f, AttentionOptions{},
                           out.data(), threads);
        benchmark::DoNotOptimize(out.data());
    }
    attention(q.data(), 1, ctx - 1, flat.layer(kLayers - 1), ctx, shape, true, 0.125f,
              AttentionOptions{}, check.data(), 1);
    if (std::memcmp(check.data(), out.data(), 4 * out.size()) != 0)
        state.SkipWithError("the paged and the contiguous cache disagree");
    state.SetLabel(state.range(2) == 0 ? "F32, paged, blocks of 16 in order"
                                       : "F32, paged, blocks of 16 reversed");
    state.counters["KV GB/s"] =
        benchmark::Counter(double(flat.bytes), benchmark::Counter::kIsIterationInvariantRate);
}

// A prompt of `ctx` rows (positions 0 .. ctx - 1) over one layer of a head-major cache.
// Arguments: the cache's element type, ctx, the path (0: attention(), 1: attention_rows()) and
// the threads.
void BM_PrefillAttention(benchmark::State &state) {
    const auto type = static_cast<DType>(state.range(0));
    const int64_t ctx = state.range(1), path = state.range(2);
    const int threads = int(state.range(3));
    const Cache cache(type, ctx, true);
    std::vector<float> q(size_t(ctx * kHeads * kHeadDim)), out(q.size());
    std::mt19937 rng(5);
    std::normal_distribution<float> dist(0, 1);
    for (float &x : q) x = dist(rng);
    const AttentionShape shape{kHeads, kKvHeads, kHeadDim};
    for (auto _ : state) {
        if (path == 0)
            attention(q.data(), ctx, 0, cache.layer(0), ctx, shape, true, 0.125f,
                      AttentionOptions{}, out.data(), threads);
        else
            attention_rows(q.data(), ctx, 0, cache.layer(0), shape, 0.125f, AttentionOptions{},
                           out.data(), threads);
        benchmark::DoNotOptimize(out.data());
    }
    state.SetLabel(std::string(hfk::dtype_name(type)) +
                   (path == 0 ? ", attention() (sgemm)" : ", attention_rows() (tiles)"));
    // Scores and values: two multiply-adds per (row, key seen, head, column).
    const double flops = 4.0 * double(kHeads * kHeadDim) * double(ctx) * double(ctx + 1) / 2;
    state.counters["GFLOP/s"] =
        benchmark::Counter(flops * 1e-9, benchmark::Counter::kIsIterationInvariantRate);
}

}  // namespace

BENCHMARK(BM_PrefillAttention)
    ->ArgNames({"dtype", "ctx", "path", "threads"})
    ->ArgsProduct({{int(DType::F32), int(DType::BF16)}, {512, 2048}, {0, 1}, {1, 2}})
    ->Unit(benchmark::kMillisecond)
    ->UseRealTime();
BENCHMARK(BM_DecodeAttentionPaged)
    ->ArgNames({"ctx", "threads", "reversed"})
    ->ArgsProduct({{256, 2048}, {1, 2}, {0, 1}})
    ->Unit(benchmark::kMicrosecond)
    ->UseRealTime();
BENCHMARK(BM_DecodeAttention)
    ->ArgNames({"dtype", "ctx", "path", "layout"})
    ->ArgsProduct({{int(DType::F32), int(DType::BF16)}, {256, 2048}, {0, 1, 2}, {0, 1}})
    ->Unit(benchmark::kMicrosecond)
    ->UseRealTime();
BENCHMARK_MAIN();
