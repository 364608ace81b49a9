#include "kernels/rows_per_pass.h"

#include <atomic>
#include <cstdlib>

namespace hfk::kern {
namespace {

std::atomic<int> g_override{0};

int valid_rows(int r) {
    return r == 1 || r == 2 || r == 4 ? r : 0;
}

struct Choice {
    int rows;
    const char *source;
};

// By CPU family, from measurements, rather than by a calibration at load: the choices give the
// same bits, so only speed is at stake, and a calibration on a shared VM measures the neighbours
// (wall-clock shares of one choice ranged 43-169% of the read within one run here); it would also
// add tens of milliseconds to a load whose target is 100 ms to first token. Measured, one thread,
// one decode token's matrix-vector products against the best plain read of as many bytes:
//   - AMD EPYC Zen 5 (2026-12-06, a token of products through linear() in thread CPU time, 25
//     alternated rounds on a loaded machine): BF16 llama-135m [out, in] 1 row ~100%, 2 rows 58%,
//     4 rows 56%; BF16 GPT-2 [in, out] 1 row 84%, 2 rows 41%, 4 rows 54%. One sequential stream
//     is what its prefetchers follow best.
//   - Intel Xeon Emerald Rapids (../shared/BENCH.md, tools/probes/bf16_matvec_rows.c): a BF16
//     product read 9.1-9.8 GB/s with 1, 2, 4 or 8 rows per pass alike, against ~16 for a plain
//     read: several streams do not help there (software prefetch did, in the same probes), so it
//     keeps one row too until a measurement on that CPU says otherwise.
Choice family_choice() {
#if defined(__x86_64__)
    __builtin_cpu_init();
    if (__builtin_cpu_is("amd")) return {1, "CPU family AMD"};
    if (__builtin_cpu_is("intel")) return {1, "CPU family Intel"};
#endif
    return {1, "CPU family other"};
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
    return o ? o : default_choice().rows;
}

int dot_rows_per_pass(DType type) {
    return type == DType::F32 ? 1 : decode_rows();
}

int axpy_rows_per_pass(DType type) {
    return type == DType::F32 ? 4 : decode_rows();
}

void set_decode_rows(int rows) {
    g_override.store(valid_rows(rows), std::memory_order_relaxed);
}

const char *decode_rows_source() {
    return g_override.load(std::memory_order_relaxed) ? "set_decode_rows" : default_choice().source;
}

}  // namespace hfk::kern
