// Decode's matrix-vector products alone, against the machine's read bandwidth (Google
// Benchmark). It separates the kernels from the rest of a decode step: if the products of one
// llama-135m token reach the bandwidth of a plain read but bench_model's decode does not, the
// time goes elsewhere (attention, norms, dispatch). Weights are random and each matrix has its
// own allocation, as the tensors of a memory-mapped checkpoint do. The 16-bit rows are given for
// each rows-per-pass choice of the kernels (argument rows: 1, 2, 4; 0 is the CPU family's
// choice), for llama-135m ([out, in]: dot_rows) and GPT-2 ([in, out]: axpy_rows).
//   bench_kernels [--benchmark_repetitions=5 --benchmark_report_aggregates_only=true]
#include <benchmark/benchmark.h>

#include <chrono>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <memory>
#include <random>
#include <string>
#include <utility>
#include <vector>

#include "kernels/matmul.h"
#include "kernels/rows_per_pass.h"
#include "kernels/simd.h"
#include "read_bandwidth.h"

namespace {

using hfk::DType;
using hfk::kern::Layout;
using hfk::kern::Mat;

struct Matrix {
    std::unique_ptr<uint16_t[]> data;  // 2-byte units, enough for any dtype
    Mat mat;
};

Matrix random_matrix(DType t, int64_t rows, int64_t cols, std::mt19937 &rng) {
    const size_t units = size_t(rows * cols) * compute_elem_size(t) / 2;
    Matrix m{std::make_unique<uint16_t[]>(units), Mat{t, nullptr, rows, cols}};
    // Small finite values in every format: a sign, a small exponent and random mantissa bits.
    std::uniform_int_distribution<uint32_t> bits(0, 0xffff);
    for (size_t i = 0; i < units; ++i) {
        const uint32_t r = bits(rng);
        m.data[i] = t == DType::F16 ? uint16_t((r & 0x83ff) | 0x2c00)   // |x| in [2^-4, 2^-3)
                                    : uint16_t((r & 0x807f) | 0x3d80);  // BF16 (or F32 halves)
    }
    m.mat.data = m.data.get();
    return m;
}

struct Weight {
    Matrix m;
    Layout layout;
};

// The [out, in] shapes of the matrices one llama-135m token reads (SmolLM-135M), in decode
// order: 30 layers of q, k, v, o, gate, up, down, then the tied lm_head.
std::vector<std::pair<int64_t, int64_t>> llama135m_shapes() {
    const int64_t dim = 576, kv = 192, ffn = 1536, vocab = 49152, layers = 30;
    std::vector<std::pair<int64_t, int64_t>> shapes;
    for (int64_t l = 0; l < layers; ++l)
        for (auto rc : {std::pair{dim, dim},
                        {kv, dim},
                        {kv, dim},
                        {dim, dim},
                        {ffn, dim},
                        {ffn, dim},
                        {dim, ffn}})
            shapes.push_back(rc);
    shapes.push_back({vocab, dim});
    return shapes;
}

// The weights one llama-135m token reads, stored [out, in].
std::vector<Weight> llama135m_weights(DType t) {
    std::mt19937 rng(7);
    std::vector<Weight> w;
    for (auto [r, c] : llama135m_shapes())
        w.push_back({random_matrix(t, r, c, rng), Layout::OutIn});
    return w;
}

// The weights one GPT-2 124M token reads: Conv1D matrices stored [in, out] (axpy_rows), then the
// tied lm_head [vocab, dim].
std::vector<Weight> gpt2_weights(DType t) {
    std::mt19937 rng(9);
    const int64_t dim = 768, vocab = 50257, layers = 12;
    std::vector<Weight> w;
    for (int64_t l = 0; l < layers; ++l)
        for (auto [r, c] : {std::pair{dim, 3 * dim}, {dim, dim}, {dim, 4 * dim}, {4 * dim, dim}})
            w.push_back({random_matrix(t, r, c, rng), Layout::InOut});
    w.push_back({random_matrix(t, vocab, dim, rng), Layout::OutIn});
    return w;
}

// The plain-read baseline: the fastest loop of read_bandwidth.h's sweep (streams x accumulators,
// prefetch distance and hint) over a buffer of the F32 token's size, chosen once per process.
hfk_bench::AlignedBuffer &baseline_buffer() {
    static hfk_bench::AlignedBuffer buf(size_t(134515008) * 4);  // llama-135m weights as F32
    return buf;
}
const hfk_bench::SweptRead &read_baseline() {
    static const hfk_bench::SweptRead swept = [] {
        const hfk_bench::AlignedBuffer &buf = baseline_buffer();
        hfk_bench::SweptRead s = hfk_bench::sweep_read_loops(buf.data, buf.size);
        std::fprintf(stderr, "read baseline: %s, best of %d loops, %.1f GB/s\n",
                     s.loop.describe().c_str(), s.loops_tried, s.best_gbs);
        return s;
    }();
    return swept;
}

// One token's matrix-vector products. Arguments: dtype, threads, and the rows per pass of the
// 16-bit kernels (rows_per_pass.h; 0: the CPU family's choice).
void token_matvecs(benchmark::State &state, const std::vector<Weight> &w) {
    const DType t = static_cast<DType>(state.range(0));
    const int threads = int(state.range(1));
    hfk::kern::set_decode_rows(int(state.range(2)));
    state.SetLabel("rows per pass " + std::to_string(hfk::kern::dot_rows_per_pass(t)));
    const double read_gbs = read_baseline().best_gbs;
    std::vector<float> x(50304, 0.01f), y(50304);
    int64_t bytes = 0;
    for (const Weight &m : w) bytes += m.m.mat.rows * m.m.mat.cols * int64_t(compute_elem_size(t));
    double secs = 0;
    for (auto _ : state) {
        const auto a = std::chrono::steady_clock::now();
        for (const Weight &m : w)
            hfk::kern::linear(m.m.mat, m.layout, x.data(), 1, nullptr, y.data(), threads);
        benchmark::DoNotOptimize(y.data());
        secs += std::chrono::duration<double>(std::chrono::steady_clock::now() - a).count();
    }
    state.counters["GB/s"] =
        benchmark::Counter(double(bytes), benchmark::Counter::kIsIterationInvariantRate);
    state.counters["tok/s"] = benchmark::Counter(1, benchmark::Counter::kIsIterationInvariantRate);
    // Share of the best read's bandwidth (read_baseline's best pass): above 100 means the
    // baseline is not the best read of this CPU, and the share says nothing.
    const double share = 100 * double(bytes) * double(state.iterations()) / secs / 1e9 / read_gbs;
    state.counters["read%"] = share;
    if (threads == 1 && share > 100)
        std::fprintf(stderr,
                     "WARNING: one thread's matrix-vector products at %.0f%% of the read baseline "
                     "(> 100%%): the baseline is not the best read of this CPU\n",
                     share);
    hfk::kern::set_decode_rows(0);
}

void BM_Llama135mTokenMatvecs(benchmark::State &state) {
    token_matvecs(state, llama135m_weights(static_cast<DType>(state.range(0))));
}

void BM_Gpt2TokenMatvecs(benchmark::State &state) {
    token_matvecs(state, gpt2_weights(static_cast<DType>(state.range(0))));
}

// A quantized llama-135m's products for m activation rows at once (m = 1: a decode step; m = 8:
// the engine's step over 8 streams; m = 64: a prefill's rows), weights quantized as the loader
// quantizes them (Q8_0x16 or Q4_1x16 where the kernels read them interleaved). Arguments: 8 or 4
// bits, m, threads.
struct QuantWeight {
    std::vector<uint8_t> bytes;
    Mat mat;
};

std::vector<QuantWeight> llama135m_quantized(int bits) {
    std::vector<QuantWeight> out;
    const hfk::kern::QType from = bits == 8 ? hfk::kern::QType::Q8_0 : hfk::kern::QType::Q4_1;
    const bool interleave = hfk::kern::quant_ops().rows16;
    std::mt19937 rng(11);
    std::normal_distribution<float> normal(0.0f, 0.02f);
    for (auto [n, k] : llama135m_shapes()) {
        const size_t rb = hfk::kern::q_row_bytes(from, k);
        QuantWeight q{std::vector<uint8_t>(rb * size_t(n)), Mat{DType::F32, nullptr, n, k}};
        std::vector<float> row(static_cast<size_t>(k));
        for (int64_t r = 0; r < n; ++r) {
            for (float &v : row) v = normal(rng);
            hfk::kern::quantize_row(from, row.data(), k, q.bytes.data() + size_t(r) * rb);
        }
        q.mat.quant = from;
        if (interleave && n % hfk::kern::kQRowGroup == 0) {
            hfk::kern::interleave_rows16(from, q.bytes.data(), n, k);
            q.mat.quant = bits == 8 ? hfk::kern::QType::Q8_0x16 : hfk::kern::QType::Q4_1x16;
        }
        q.mat.data = q.bytes.data();
        out.push_back(std::move(q));
    }
    return out;
}

void BM_Llama135mQuantizedRows(benchmark::State &state) {
    const int bits = int(state.range(0)), threads = int(state.range(2));
    const int64_t m = state.range(1);
    const std::vector<QuantWeight> w = llama135m_quantized(bits);
    state.SetLabel(hfk::kern::qtype_name(w.front().mat.quant));
    std::vector<float> x(size_t(m) * 1536, 0.01f), y(size_t(m) * 49152);
    std::mt19937 rng(3);
    std::uniform_real_distribution<float> uni(-1.0f, 1.0f);
    for (float &v : x) v = uni(rng);
    int64_t bytes = 0;
    for (const QuantWeight &q : w) bytes += int64_t(q.bytes.size());
    for (auto _ : state) {
        for (const QuantWeight &q : w)
            hfk::kern::linear(q.mat, Layout::OutIn, x.data(), m, nullptr, y.data(), threads);
        benchmark::DoNotOptimize(y.data());
    }
    state.counters["GB/s"] =
        benchmark::Counter(double(bytes), benchmark::Counter::kIsIterationInvariantRate);
    state.counters["tok/s"] =
        benchmark::Counter(double(m), benchmark::Counter::kIsIterationInvariantRate);
}

// The baseline itself, measured like the kernels (its loop is printed once on stderr).
void BM_ReadBandwidth(benchmark::State &state) {
    const hfk_bench::SweptRead &swept = read_baseline();
    const hfk_bench::AlignedBuffer &buf = baseline_buffer();
    const size_t bytes = swept.loop.bytes_read(buf.size);
    for (auto _ : state) benchmark::DoNotOptimize(swept.loop.read(buf.data, buf.size));
    state.SetLabel(swept.loop.describe());
    state.counters["GB/s"] =
        benchmark::Counter(double(bytes), benchmark::Counter::kIsIterationInvariantRate);
}

}  // namespace

BENCHMARK(BM_Llama135mTokenMatvecs)
    ->ArgNames({"dtype", "threads", "rows"})
    ->Args({int(DType::BF16), 1, 0})
    ->Args({int(DType::BF16), 1, 1})
    ->Args({int(DType::BF16), 1, 2})
    ->Args({int(DType::BF16), 1, 4})
    ->Args({int(DType::F16), 1, 0})
    ->Args({int(DType::F32), 1, 0})
    ->Args({int(DType::BF16), 2, 0})
    ->Unit(benchmark::kMillisecond)
    ->UseRealTime();
BENCHMARK(BM_Gpt2TokenMatvecs)
    ->ArgNames({"dtype", "threads", "rows"})
    ->Args({int(DType::BF16), 1, 1})
    ->Args({int(DType::BF16), 1, 2})
    ->Args({int(DType::BF16), 1, 4})
    ->Unit(benchmark::kMillisecond)
    ->UseRealTime();
BENCHMARK(BM_Llama135mQuantizedRows)
    ->ArgNames({"bits", "m", "threads"})
    ->Args({8, 1, 1})
    ->Args({8, 8, 1})
    ->Args({8, 8, 2})
    ->Args({8, 64, 1})
    ->Args({4, 1, 1})
    ->Args({4, 8, 1})
    ->Args({4, 8, 2})
    ->Args({4, 64, 1})
    ->Unit(benchmark::kMillisecond)
    ->UseRealTime();
BENCHMARK(BM_ReadBandwidth)->Unit(benchmark::kMillisecond)->UseRealTime();
BENCHMARK_MAIN();
