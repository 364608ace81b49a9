#include "kernels/rows_per_pass.h"

#include <atomic>
#include <cstdlib>
#include <string_view>

namespace hfk::kern {
namespace {

std::atomic<int> g_override{0};

int valid_rows(int r) {
    return r == 1 || r == 2 || r == 4 ? r : 0;
}

struct Choice {
    int value;  // rows per pass, or prefetch bytes
    const char *source;
};

// By CPU family, from measurements, rather than by a calibration at load: the choices give the
// same bits, so only speed is at stake, and a calibration on a shared VM measures the neighbours
// (wall-clock shares of one choice ranged 30-230% of the read within one run here); it would also
// add tens of milliseconds to a load whose target is 100 ms to first token.
//
// What "rows per pass" reads (simd.cpp): for [out, in] matrices (dot_rows: Llama, every lm_head)
// the rows are cut into that many blocks read side by side, so that many long sequential streams;
// for [in, out] matrices (axpy_rows: GPT-2's Conv1D) each output must take the rows in order, so
// a pass takes rows next to each other, streams that restart every pass.
//
// Measured, one thread, one decode token's matrix-vector products through linear() against the
// best plain read of as many bytes (read_bandwidth.h's sweep), alternated, medians of the shares
// in thread CPU time:
//   - AMD EPYC Zen 5, 2026-12-06, quiet machine (load average below 2, 3 runs):
//     BF16 llama-135m ([out, in]), AVX-512: 1 row 86-89%, 2 blocks 90-98%, 4 blocks 94-102%;
//     AVX2: 1 row 84%, 2 blocks 92%, 4 blocks 97%. Decode tg128 1 thread 95.2 -> 106.7 tok/s
//     with 4 blocks. BF16 GPT-2 ([in, out], rows next to each other): 1 row 71%, 2 rows 42%,
//     4 rows 53%. (Earlier runs on a heavily loaded machine could not tell the [out, in] choices
//     apart: 71-88% each, spreads wider than the gaps.)
//   - Intel Xeon Emerald Rapids (../shared/BENCH.md, tools/probes/bf16_matvec_rows.c, rows next
//     to each other): a BF16 product read 9.1-9.8 GB/s with 1, 2, 4 or 8 rows per pass alike,
//     against ~16 for a plain read with several streams. Blocks read side by side (several long
//     streams, what a several-stream plain read does) were not measured there; four, as on AMD,
//     until they are (bench_model prints each choice's share).
// So [out, in] matrices take 4 blocks on both families and [in, out] matrices one row: each
// layout its own measured best (axpy_rows_per_pass). No [in, out] choice came near the [out, in]
// kernels (nor did reading 2-4 chunks of input rows side by side, or column panels held in
// registers: 70% and 27-54%), so GPT-2's 16-bit Conv1D matrices are transposed at load
// (models/common.h, WeightLoader::conv1d_matrix) and decode through dot_rows; axpy_rows serves
// F32 GPT-2 and direct callers.
Choice family_choice() {
#if defined(__x86_64__)
    __builtin_cpu_init();
    if (__builtin_cpu_is("amd")) return {4, "CPU family AMD"};
    if (__builtin_cpu_is("intel")) return {4, "CPU family Intel"};
#endif
    return {4, "CPU family other"};
}

const Choice &default_choice() {
    static const Choice c = [] {
        const char *env = std::getenv("HFK_DECODE_ROWS");
        if (env && valid_rows(std::atoi(env))) return Choice{std::atoi(env), "HFK_DECODE_ROWS"};
        return family_choice();
    }();
    return c;
}

}  // namespace

int decode_rows() {
    const int o = g_override.load(std::memory_order_relaxed);
    return o ? o : default_choice().value;
}

int dot_rows_per_pass(DType type) {
    return type == DType::F32 ? 1 : decode_rows();
}

int axpy_rows_per_pass(DType type) {
    if (type == DType::F32) return 4;
    // One row unless told otherwise: every measured [in, out] product read best that way.
    const bool told = g_override.load(std::memory_order_relaxed) != 0 ||
                      std::string_view(default_choice().source) == "HFK_DECODE_ROWS";
    return told ? decode_rows() : 1;
}

void set_decode_rows(int rows) {
    g_override.store(valid_rows(rows), std::memory_order_relaxed);
}

const char *decode_rows_source() {
    return g_override.load(std::memory_order_relaxed) ? "set_decode_rows" : default_choice().source;
}

namespace {

constexpr int kNoOverride = -1;
std::atomic<int> g_prefetch_override{kNoOverride};

int valid_prefetch(int bytes) {
    return bytes >= 0 && bytes <= 65536 && bytes % 64 == 0 ? bytes : kNoOverride;
}

// By CPU family, as the rows per pass above:
//   - Intel Xeon Emerald Rapids (../shared/BENCH.md, "Why 16-bit decode is slow on that Intel
//     CPU"): a one-thread BF16 matrix-vector product read 9.1-9.8 GB/s with any number of rows
//     per pass against ~16 GB/s for a plain read; _MM_HINT_T1 prefetch 4-8 KiB ahead of the
//     loads gave 15.9-16.2 GB/s (T0 14.9, NTA at most 11.7). 6 KiB, the middle of that range.
//     Those are the probes' figures (tools/probes/): this kernel has not yet been measured with
//     it on an Intel CPU (bench_model prints the share with and without it).
//   - AMD Zen 5: none. The hardware prefetcher keeps up with aligned loads there, and a
//     prefetch 4 KiB ahead once cost F32 decode a third (simd.cpp).
Choice family_prefetch() {
#if defined(__x86_64__)
    __builtin_cpu_init();
    if (__builtin_cpu_is("intel")) return {6144, "CPU family Intel"};
    if (__builtin_cpu_is("amd")) return {0, "CPU family AMD"};
#endif
    return {0, "CPU family other"};
}

const Choice &default_prefetch() {
    static const Choice c = [] {
        const char *env = std::getenv("HFK_DECODE_PREFETCH");
        if (env && *env && valid_prefetch(std::atoi(env)) != kNoOverride)
            return Choice{std::atoi(env), "HFK_DECODE_PREFETCH"};
        return family_prefetch();
    }();
    return c;
}

}  // namespace

int decode_prefetch_bytes() {
    const int o = g_prefetch_override.load(std::memory_order_relaxed);
    return o != kNoOverride ? o : default_prefetch().value;
}

void set_decode_prefetch(int bytes) {
    g_prefetch_override.store(valid_prefetch(bytes), std::memory_order_relaxed);
}

const char *decode_prefetch_source() {
    return g_prefetch_override.load(std::memory_order_relaxed) != kNoOverride
               ? "set_decode_prefetch"
               : default_prefetch().source;
}

}  // namespace hfk::kern
