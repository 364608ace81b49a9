// The bandwidth baseline of bench_model and bench_kernels: the fastest plain read one thread can do
// over a buffer, found at run time. A read loop that is not the best the CPU allows makes a kernel
// look better than it is (a single-stream, latency-bound loop on an Intel Xeon read ~10.5 GB/s
// where ~15.9 was possible, and decode then printed "150% of the bandwidth"), and the best loop
// differs by CPU family (Intel cores need several concurrent streams or software prefetch; on AMD
// Zen 5 prefetch gains nothing). So the loop is swept here rather than chosen for one machine:
//   - streams: the buffer is cut into S equal parts read side by side (S sequential streams);
//   - accumulators: each stream loads U cache lines per step into U independent accumulators (two
//     registers per line with AVX2), so neither an add's latency nor one dependency chain limits
//     it;
//   - software prefetch: none, or D bytes ahead of every stream with hint T0, T1 or NTA;
//   - the widest loads the CPU has (AVX-512: 64 bytes, AVX2: 32 bytes), whatever HFK_KERNELS says.
// The sweep is staged (streams x accumulators without prefetch, then every prefetch distance and
// hint for the best of those, then streams x accumulators again with the best prefetch), and each
// loop is scored by its best of several passes over the whole buffer, in thread CPU time (below):
// the shape of the loop is a property of the CPU; the figure set beside decode is measured
// afterwards, alternated with it.
#pragma once

#include <immintrin.h>
#include <time.h>

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <vector>

#include "kernels/cpu.h"

namespace hfk_bench {

enum class PrefetchHint { T0 = 0, T1 = 1, NTA = 2 };

struct ReadLoop {
    const char *isa = "scalar";  // "avx512", "avx2" or "scalar"
    int streams = 1;
    int lines = 1;           // cache lines loaded per stream and step (accumulators per stream)
    int prefetch_bytes = 0;  // 0: no software prefetch
    PrefetchHint hint = PrefetchHint::T0;
    // Sums the buffer (the sum only keeps the loads alive); reads bytes_read(bytes) of it.
    uint64_t (*fn)(const uint8_t *p, size_t bytes, size_t prefetch) = nullptr;

    uint64_t read(const uint8_t *p, size_t bytes) const {
        return fn(p, bytes, size_t(prefetch_bytes));
    }
    // The loop reads whole steps of every stream: the few bytes of a ragged end are left out.
    size_t bytes_read(size_t bytes) const {
        const size_t step = size_t(64 * lines);
        return bytes / size_t(streams) / step * step * size_t(streams);
    }
    std::string describe() const {
        const int per_line = std::string(isa) == "avx2" ? 2 : 1;
        std::string s = std::string(isa) + " loads, " + std::to_string(streams) + " stream" +
                        (streams > 1 ? "s" : "") + " x " + std::to_string(lines * per_line) +
                        " accumulators, ";
        if (prefetch_bytes == 0) return s + "no software prefetch";
        static const char *const names[] = {"T0", "T1", "NTA"};
        return s + "prefetch " + names[int(hint)] + " " + std::to_string(prefetch_bytes) +
               " B ahead";
    }
};

namespace detail {

template <int Hint>
inline void prefetch(const uint8_t *p) {
    if constexpr (Hint == 0)
        _mm_prefetch(reinterpret_cast<const char *>(p), _MM_HINT_T0);
    else if constexpr (Hint == 1)
        _mm_prefetch(reinterpret_cast<const char *>(p), _MM_HINT_T1);
    else
        _mm_prefetch(reinterpret_cast<const char *>(p), _MM_HINT_NTA);
}

template <int S, int U, int Hint>
__attribute__((target("avx512f"))) uint64_t read_avx512(const uint8_t *p, size_t bytes, size_t pf) {
    constexpr size_t step = 64 * U;
    const size_t seg = bytes / S / step * step;
    __m512i acc[S][U];
    for (int s = 0; s < S; ++s)
        for (int u = 0; u < U; ++u) acc[s][u] = _mm512_setzero_si512();
    for (size_t i = 0; i < seg; i += step) {
        for (int s = 0; s < S; ++s) {
            const uint8_t *q = p + size_t(s) * seg + i;
            // Prefetching past the end of the buffer is harmless: a prefetch never faults.
            if (pf)
                for (int u = 0; u < U; ++u) prefetch<Hint>(q + pf + 64 * u);
            for (int u = 0; u < U; ++u)
                acc[s][u] = _mm512_add_epi64(acc[s][u], _mm512_load_si512(q + 64 * u));
        }
    }
    __m512i t = _mm512_setzero_si512();
    for (int s = 0; s < S; ++s)
        for (int u = 0; u < U; ++u) t = _mm512_add_epi64(t, acc[s][u]);
    alignas(64) uint64_t lanes[8];  // not _mm512_reduce_add_epi64: GCC 12 warns inside it
    _mm512_store_si512(lanes, t);
    uint64_t sum = 0;
    for (uint64_t v : lanes) sum += v;
    return sum;
}

template <int S, int U, int Hint>
__attribute__((target("avx2"))) uint64_t read_avx2(const uint8_t *p, size_t bytes, size_t pf) {
    constexpr size_t step = 64 * U;
    const size_t seg = bytes / S / step * step;
    __m256i acc[S][2 * U];
    for (int s = 0; s < S; ++s)
        for (int u = 0; u < 2 * U; ++u) acc[s][u] = _mm256_setzero_si256();
    for (size_t i = 0; i < seg; i += step) {
        for (int s = 0; s < S; ++s) {
            const uint8_t *q = p + size_t(s) * seg + i;
            if (pf)
                for (int u = 0; u < U; ++u) prefetch<Hint>(q + pf + 64 * u);
            for (int u = 0; u < 2 * U; ++u)
                acc[s][u] = _mm256_add_epi64(
                    acc[s][u], _mm256_load_si256(reinterpret_cast<const __m256i *>(q + 32 * u)));
        }
    }
    __m256i t = _mm256_setzero_si256();
    for (int s = 0; s < S; ++s)
        for (int u = 0; u < 2 * U; ++u) t = _mm256_add_epi64(t, acc[s][u]);
    alignas(32) uint64_t lanes[4];
    _mm256_store_si256(reinterpret_cast<__m256i *>(lanes), t);
    return lanes[0] + lanes[1] + lanes[2] + lanes[3];
}

template <int S, int U, int Hint>
uint64_t read_scalar(const uint8_t *p, size_t bytes, size_t pf) {
    constexpr size_t step = 64 * U;
    const size_t seg = bytes / S / step * step;
    uint64_t acc[S][U] = {};
    for (size_t i = 0; i < seg; i += step)
        for (int s = 0; s < S; ++s) {
            const uint8_t *q = p + size_t(s) * seg + i;
            if (pf)
                for (int u = 0; u < U; ++u) prefetch<Hint>(q + pf + 64 * u);
            for (int u = 0; u < U; ++u)
                for (int w = 0; w < 8; ++w)
                    acc[s][u] += reinterpret_cast<const uint64_t *>(q + 64 * u)[w];
        }
    uint64_t t = 0;
    for (int s = 0; s < S; ++s)
        for (int u = 0; u < U; ++u) t += acc[s][u];
    return t;
}

using ReadFn = uint64_t (*)(const uint8_t *, size_t, size_t);

template <int S, int U, int Hint>
ReadFn pick(const std::string &isa) {
    if (isa == "avx512") return read_avx512<S, U, Hint>;
    if (isa == "avx2") return read_avx2<S, U, Hint>;
    return read_scalar<S, U, Hint>;
}

template <int S, int U>
ReadFn pick_hint(const std::string &isa, PrefetchHint h) {
    switch (h) {
        case PrefetchHint::T1:
            return pick<S, U, 1>(isa);
        case PrefetchHint::NTA:
            return pick<S, U, 2>(isa);
        default:
            return pick<S, U, 0>(isa);
    }
}

template <int S>
ReadFn pick_lines(const std::string &isa, int lines, PrefetchHint h) {
    switch (lines) {
        case 1:
            return pick_hint<S, 1>(isa, h);
        case 2:
            return pick_hint<S, 2>(isa, h);
        default:
            return pick_hint<S, 4>(isa, h);
    }
}

inline ReadFn lookup(const std::string &isa, int streams, int lines, PrefetchHint h) {
    switch (streams) {
        case 1:
            return pick_lines<1>(isa, lines, h);
        case 2:
            return pick_lines<2>(isa, lines, h);
        case 4:
            return pick_lines<4>(isa, lines, h);
        default:
            return pick_lines<8>(isa, lines, h);
    }
}

}  // namespace detail

// This thread's CPU time in seconds.
inline double thread_cpu_seconds() {
    timespec ts{};
    clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
    return double(ts.tv_sec) + double(ts.tv_nsec) * 1e-9;
}

// The loop's best GB/s over `passes` passes of the buffer, timed in the thread's CPU time (stalls
// on memory count; the slices other tenants of a shared machine take do not): timed by the wall
// clock, a pass that lost the core for a while scored a weak loop above a strong one, and the
// sweep picked loops at random on a loaded machine (1 stream x 1 accumulator at 12.5 GB/s where
// the same sweep in CPU time found 19-34 GB/s).
inline double best_pass_gbs(const ReadLoop &loop, const uint8_t *buf, size_t bytes, int passes,
                            volatile uint64_t *sink) {
    double best = 0;
    for (int i = 0; i < passes; ++i) {
        const double a = thread_cpu_seconds();
        *sink = *sink + loop.read(buf, bytes);
        const double s = thread_cpu_seconds() - a;
        best = std::max(best, double(loop.bytes_read(bytes)) / s / 1e9);
    }
    return best;
}

struct SweptRead {
    ReadLoop loop;
    double best_gbs = 0;  // the chosen loop's best pass during the sweep
    int loops_tried = 0;
};

// Sweeps the read loops over `buf` (64-byte aligned, `bytes` long; the size of the weights it is
// compared with, so the caches play the same part) and returns the fastest.
inline SweptRead sweep_read_loops(const uint8_t *buf, size_t bytes, int passes = 3) {
    const auto &cpu = hfk::kern::cpu_features();
    const char *isa = cpu.avx512 ? "avx512" : cpu.avx2_fma_f16c ? "avx2" : "scalar";
    volatile uint64_t sink = 0;
    SweptRead best;
    auto trial = [&](int streams, int lines, int prefetch, PrefetchHint hint) {
        ReadLoop l;
        l.isa = isa;
        l.streams = streams;
        l.lines = lines;
        l.prefetch_bytes = prefetch;
        l.hint = hint;
        l.fn = detail::lookup(isa, streams, lines, hint);
        const double gbs = best_pass_gbs(l, buf, bytes, passes, &sink);
        ++best.loops_tried;
        if (gbs > best.best_gbs) {
            best.loop = l;
            best.best_gbs = gbs;
        }
    };
    auto shapes = [&](int prefetch, PrefetchHint hint) {
        for (int streams : {1, 2, 4, 8})
            for (int lines : {1, 2, 4})
                if (streams * lines <= 16) trial(streams, lines, prefetch, hint);
    };
    best_pass_gbs(
        ReadLoop{isa, 4, 2, 0, PrefetchHint::T0, detail::lookup(isa, 4, 2, PrefetchHint::T0)}, buf,
        bytes, 1, &sink);  // first touch, page faults and clocks out of the way
    shapes(0, PrefetchHint::T0);
    const ReadLoop shape = best.loop;
    for (int distance : {256, 512, 1024, 2048, 4096, 8192})
        for (PrefetchHint hint : {PrefetchHint::T0, PrefetchHint::T1, PrefetchHint::NTA})
            trial(shape.streams, shape.lines, distance, hint);
    if (best.loop.prefetch_bytes) shapes(best.loop.prefetch_bytes, best.loop.hint);
    return best;
}

// A 64-byte aligned buffer of `bytes` (rounded up to whole lines), every page written.
struct AlignedBuffer {
    explicit AlignedBuffer(size_t bytes)
        : size(std::max<size_t>(64, (bytes + 63) / 64 * 64)),
          data(static_cast<uint8_t *>(aligned_alloc(64, size))) {
        for (size_t i = 0; i < size; i += 8) *reinterpret_cast<uint64_t *>(data + i) = i | 1;
    }
    ~AlignedBuffer() { free(data); }
    AlignedBuffer(const AlignedBuffer &) = delete;
    AlignedBuffer &operator=(const AlignedBuffer &) = delete;
    size_t size;
    uint8_t *data;
};

}  // namespace hfk_bench
