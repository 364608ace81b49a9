#include "kernels/attention.h"

#include <cblas.h>

#include <algorithm>
#include <cmath>
#include <cstring>
#include <vector>

#include "kernels/attention_heads.h"
#include "kernels/cpu.h"
#include "kernels/rows_per_pass.h"
#include "kernels/simd.h"
#include "kernels/thread_pool.h"

namespace hfk::kern {

void softmax(float *x, int64_t n) {
    if (n <= 0) return;
    const SimdOps &ops = simd();
    const double sum = ops.exp_sum(x, n, ops.max(x, n));
    ops.scale(x, n, float(1.0 / sum));
}

void attention(const float *q, int64_t m, int64_t p0, const float *k, const float *v,
               int64_t kv_stride, int64_t n_keys, const AttentionShape &s, bool causal, float scale,
               float *out, int n_threads) {
    attention(q, m, p0, k, v, kv_stride, n_keys, s, causal, scale, AttentionOptions{}, out,
              n_threads);
}

namespace {
void soft_cap(float *x, int64_t n, float cap) {
    const float inv = 1.0f / cap;
    for (int64_t i = 0; i < n; ++i) x[i] = cap * std::tanh(x[i] * inv);
}
}  // namespace

void attention(const float *q, int64_t m, int64_t p0, const float *k, const float *v,
               int64_t kv_stride, int64_t n_keys, const AttentionShape &s, bool causal, float scale,
               const AttentionOptions &opts, float *out, int n_threads) {
    attention(q, m, p0, KvRows{DType::F32, k, v, kv_stride}, n_keys, s, causal, scale, opts, out,
              n_threads);
}

namespace {
// The first element of kv head j's keys (and values) in a KvRows or a KvPages' block.
template <class Kv>
int64_t head_col(const Kv &kv, int64_t j, int64_t hd) {
    return j * (kv.head_stride > 0 ? kv.head_stride : hd);
}

// Rows [lo, lo + n) of one head's keys or values (`hd` columns from `col`) as F32: the cache
// itself when it is F32 (ld = stride), else widened into `buf` (ld = hd).
const float *f32_rows(const KvRows &kv, const void *base, int64_t lo, int64_t n, int64_t col,
                      int64_t hd, std::vector<float> &buf, int64_t &ld) {
    const size_t elem = compute_elem_size(kv.type);
    const auto *p = static_cast<const char *>(base) + (size_t(lo * kv.stride + col)) * elem;
    if (kv.type == DType::F32) {
        ld = kv.stride;
        return reinterpret_cast<const float *>(p);
    }
    buf.resize(size_t(n * hd));
    const SimdOps &ops = simd();
    for (int64_t r = 0; r < n; ++r)
        ops.to_f32(kv.type, p + size_t(r * kv.stride) * elem, hd, buf.data() + r * hd);
    ld = hd;
    return buf.data();
}

// A run of keys and values stored one row after another (rows `ld` elements apart).
struct KvSegment {
    const void *k, *v;
    int64_t rows;
};

// The first key a query row at `pos` sees under a sliding window (0: no window).
int64_t first_key(int64_t pos, int64_t window) {
    return window > 0 ? std::max<int64_t>(0, pos - window + 1) : 0;
}

// One head's scores of one query row, scaled, soft-capped and normalised.
void normalize_scores(float *scores, int64_t span, float scale, float softcap) {
    simd().scale(scores, span, scale);
    if (softcap > 0) soft_cap(scores, span, softcap);
    softmax(scores, span);
}

// Query heads [0, n) of one query row (q and out: n heads, hd apart) over the keys of `segs`, in
// order (`span` in all): each head's scores, scaled, soft-capped and normalised, then its values,
// through the ISA's heads kernels: a key's and a value's row is read once for the n heads, and
// every output has the bits of one dot_rows / axpy_rows call per head over the same rows.
void attend_heads(const SimdOps &ops, DType type, int64_t ld, const KvSegment *segs, size_t n_segs,
                  int64_t span, const float *q, int64_t n, int64_t hd, float scale, float softcap,
                  float *out) {
    thread_local std::vector<float> scores;
    scores.resize(size_t(n * span));
    // The kernels prefetch within a segment; across segments (a paged cache's blocks of a few
    // rows) the rows up to heads_prefetch_rows past the current segment's end are prefetched
    // here, each once, from a cursor (segment `pf_seg`, starting at row `pf_first` of the run,
    // prefetched up to row `pf_at`).
    const int64_t ahead = heads_prefetch_rows(type, hd);
    const size_t elem = compute_elem_size(type);
    size_t pf_seg = 1;
    int64_t pf_first = segs[0].rows, pf_at = pf_first;
    auto prefetch_until = [&](const void *KvSegment::*base, int64_t until) {
#if defined(__x86_64__)
        while (pf_seg < n_segs && pf_at < until) {
            const int64_t seg_end = pf_first + segs[pf_seg].rows, end = std::min(until, seg_end);
            prefetch_heads_rows(type,
                                static_cast<const char *>(segs[pf_seg].*base) +
                                    size_t((pf_at - pf_first) * ld) * elem,
                                ld, end - pf_at, hd);
            pf_at = end;
            if (pf_at == seg_end) {
                pf_first = seg_end;
                ++pf_seg;
            }
        }
#else
        (void)base, (void)until;
#endif
    };
    int64_t at = 0;
    for (size_t s = 0; s < n_segs; ++s) {
        prefetch_until(&KvSegment::k, at + segs[s].rows + ahead);
        ops.dot_rows_heads(type, segs[s].k, ld, segs[s].rows, q, hd, n, hd, scores.data() + at,
                           span);
        at += segs[s].rows;
    }
    for (int64_t g = 0; g < n; ++g)
        normalize_scores(scores.data() + g * span, span, scale, softcap);
    pf_seg = 1;
    pf_first = pf_at = segs[0].rows;
    at = 0;
    for (size_t s = 0; s < n_segs; ++s) {
        prefetch_until(&KvSegment::v, at + segs[s].rows + ahead);
        ops.axpy_rows_heads(type, segs[s].v, ld, segs[s].rows, scores.data() + at, span, n, hd, out,
                            hd, s > 0);
        at += segs[s].rows;
    }
}

// Rows of a prompt attend_tile takes at once.
constexpr int64_t kTileRows = 8;

// Query rows at positions pos0 .. pos0 + n_rows - 1 of one sequence (each sees keys [lo, pos],
// lo from the window) for the n query heads of one kv head (q and out: rows q_stride apart, heads
// hd apart), over the keys of `segs` from position key0 (the first row's lo) to the last row's
// position: attend_heads' steps for all rows at once, so that a prompt's keys and values are read
// once per tile of rows instead of once per row. Every output has attend_heads' bits: each score
// is one dot product (a row's scores past its position are computed and never used), each row
// normalises its own span, and each output column is one chain over the row's keys in order --
// the keys are cut at every row's lo and position + 1, so each piece is a call for the rows that
// see all of it, continuing their chains (from zeros: what accumulate == false starts from).
void attend_tile(const SimdOps &ops, DType type, int64_t ld, const KvSegment *segs, size_t n_segs,
                 int64_t key0, int64_t pos0, int64_t n_rows, int64_t window, const float *q,
                 int64_t q_stride, int64_t n, int64_t hd, float scale, float softcap, float *out) {
    const int64_t pos_last = pos0 + n_rows - 1, span = pos_last + 1 - key0, n_q = n_rows * n;
    if (n_rows == 1) {  // a decode step's row: no copies, and the prefetch across segments
        attend_heads(ops, type, ld, segs, n_segs, span, q, n, hd, scale, softcap, out);
        return;
    }
    thread_local std::vector<float> qs, scores, outs;
    qs.resize(size_t(n_q * hd));
    scores.resize(size_t(n_q * span));
    outs.assign(size_t(n_q * hd), 0.0f);
    for (int64_t i = 0; i < n_rows; ++i)
        std::copy_n(q + i * q_stride, n * hd, qs.data() + i * n * hd);
    int64_t at = 0;
    for (size_t s = 0; s < n_segs; ++s) {
        ops.dot_rows_heads(type, segs[s].k, ld, segs[s].rows, qs.data(), hd, n_q, hd,
                           scores.data() + at, span);
        at += segs[s].rows;
    }
    for (int64_t i = 0; i < n_rows; ++i) {
        const int64_t lo = first_key(pos0 + i, window);
        for (int64_t g = 0; g < n; ++g)
            normalize_scores(scores.data() + (i * n + g) * span + (lo - key0), pos0 + i + 1 - lo,
                             scale, softcap);
    }
    // Rows i0 .. i1 - 1 see all of [a, b) when lo(pos0 + i1 - 1) <= a and pos0 + i0 >= b - 1;
    // the pieces end at the next lo or position + 1 of any row (both grow with the row).
    const size_t elem = compute_elem_size(type);
    at = 0;
    for (size_t s = 0; s < n_segs; ++s) {
        const int64_t seg_a = key0 + at, seg_b = seg_a + segs[s].rows;
        for (int64_t a = seg_a; a < seg_b;) {
            int64_t b = seg_b;
            for (int64_t i = 0; i < n_rows; ++i) {
                const int64_t lo = first_key(pos0 + i, window), end = pos0 + i + 1;
                if (lo > a) b = std::min(b, lo);
                if (end > a) b = std::min(b, end);
            }
            int64_t i0 = 0, i1 = n_rows;
            while (i0 < n_rows && pos0 + i0 < b - 1) ++i0;                 // rows that reach b - 1
            while (i1 > i0 && first_key(pos0 + i1 - 1, window) > a) --i1;  // rows that start by a
            if (i1 > i0)
                ops.axpy_rows_heads(
                    type, static_cast<const char *>(segs[s].v) + size_t((a - seg_a) * ld) * elem,
                    ld, b - a, scores.data() + i0 * n * span + (a - key0), span, (i1 - i0) * n, hd,
                    outs.data() + i0 * n * hd, hd, true);
            a = b;
        }
        at += segs[s].rows;
    }
    for (int64_t i = 0; i < n_rows; ++i)
        std::copy_n(outs.data() + i * n * hd, n * hd, out + i * q_stride);
}

// Whether attend_heads serves heads of this width on this ISA.
bool heads_kernels(const SimdOps &ops, int64_t hd) {
    return ops.dot_rows_heads && ops.axpy_rows_heads && hd <= kHeadsMaxDim;
}

// A decode step over a long context on several threads (heads kernels), in three dispatches:
// the scores of every kv head's keys cut into ranges, one a task (each key row read once,
// where one task per part of a group reads them once per part); each head's softmax; the values
// by kv head (each value row read once). The bits of attend_heads: each score is one dot product
// whatever rows a call gets, and each output column one chain over the rows in order whatever
// columns a call gets.
// From kDecodeSplitKeysBytes (attention.h) of a layer's keys on: below, the two more dispatches
// (~2 us each) cost more than reading the keys once per part of a group. bench_attention,
// llama-135m's shape (3 kv heads of 64), AMD EPYC Zen 5, two threads, medians of 3 in two
// alternated runs, one task per part of a group -> this: F32 context 512 (384 KiB) 628 / 628 ->
// 643 / 665 us, 768 (576 KiB) 995 / 1013 -> 875 / 900, 1024 1481 / 1484 -> 1157 / 1230, 2048
// 3.8 / 3.2 -> 2.1 / 2.2 ms; BF16 1024 (384 KiB) 856 / 869 -> 894 / 1046 us, 2048 (768 KiB) 1.74
// / 1.65 -> 1.51 / 1.47 ms; context 256 300 -> 440 us.
void decode_split_keys(const SimdOps &ops, const KvRows &kv, int64_t lo, int64_t span,
                       const AttentionShape &s, const float *q, float scale, float softcap,
                       float *out, int n_threads) {
    const int64_t hd = s.head_dim, group = s.n_heads / s.n_kv_heads;
    const size_t elem = compute_elem_size(kv.type);
    // Tasks write disjoint parts of the calling thread's scratch.
    thread_local std::vector<float> scores;
    scores.resize(size_t(s.n_heads * span));
    float *sc = scores.data();
    auto rows_of = [&](const void *base, int64_t j, int64_t r, int64_t col) {
        return static_cast<const char *>(base) +
               size_t((lo + r) * kv.stride + head_col(kv, j, hd) + col) * elem;
    };
    const int64_t ranges = n_threads;
    parallel_for(s.n_kv_heads * ranges, n_threads, [&](int64_t task) {
        const int64_t j = task / ranges, c = task % ranges;
        const int64_t r0 = span * c / ranges, r1 = span * (c + 1) / ranges;
        ops.dot_rows_heads(kv.type, rows_of(kv.k, j, r0, 0), kv.stride, r1 - r0, q + j * group * hd,
                           hd, group, hd, sc + j * group * span + r0, span);
    });
    parallel_for(s.n_heads, n_threads,
                 [&](int64_t h) { normalize_scores(sc + h * span, span, scale, softcap); });
    // Values by kv head, each task all of a kv head's columns: measured faster than the columns
    // cut in parts (a part of every row is a stream with gaps), the tasks uneven as they may be
    // (3 kv heads on 2 threads). With fewer kv heads than threads, columns in parts of 16 (a
    // vector on AVX-512, two on AVX2) or more.
    const int64_t parts =
        s.n_kv_heads >= n_threads
            ? 1
            : std::clamp<int64_t>(hd / 16, 1, (n_threads + s.n_kv_heads - 1) / s.n_kv_heads);
    parallel_for(s.n_kv_heads * parts, n_threads, [&](int64_t task) {
        const int64_t j = task / parts, c = task % parts;
        const int64_t c0 = hd / 16 * c / parts * 16,
                      c1 = c + 1 == parts ? hd : hd / 16 * (c + 1) / parts * 16;
        ops.axpy_rows_heads(kv.type, rows_of(kv.v, j, 0, c0), kv.stride, span,
                            sc + j * group * span, span, group, c1 - c0, out + j * group * hd + c0,
                            hd, false);
    });
}

// Parts each kv head's group of query heads is cut into, so that a step has work for every
// thread (two tasks each when it can): one part a group on one thread. Only the speed depends on
// it: each head's outputs are the same whatever part computes them.
int64_t group_parts(int64_t units, int64_t group, int n_threads) {
    if (n_threads <= 1) return 1;
    return std::clamp<int64_t>((2 * int64_t(n_threads) + units - 1) / units, 1, group);
}
}  // namespace

void attention(const float *q, int64_t m, int64_t p0, const KvRows &kv, int64_t n_keys,
               const AttentionShape &s, bool causal, float scale, const AttentionOptions &opts,
               float *out, int n_threads) {
    const int64_t kv_stride = kv.stride;
    const size_t elem = compute_elem_size(kv.type);
    const int64_t window = causal ? opts.window : 0;
    const int64_t hd = s.head_dim, q_stride = s.n_heads * hd, group = s.n_heads / s.n_kv_heads;
    constexpr int64_t kRowBlock = 64;
    const int64_t row_blocks = (m + kRowBlock - 1) / kRowBlock;
    const SimdOps &ops = simd();
    if (m == 1 && heads_kernels(ops, hd)) {
        const int64_t lo = first_key(p0, window),
                      span = (causal ? std::min(n_keys, p0 + 1) : n_keys) - lo;
        if (n_threads > 1 && s.n_kv_heads * span * hd * int64_t(elem) >= kDecodeSplitKeysBytes) {
            decode_split_keys(ops, kv, lo, span, s, q, scale, opts.softcap, out, n_threads);
            return;
        }
        // A short decode step: one task per part of a kv head's group of query heads.
        const int64_t parts = group_parts(s.n_kv_heads, group, n_threads);
        parallel_for(s.n_kv_heads * parts, n_threads, [&](int64_t task) {
            const int64_t j = task / parts, part = task % parts;
            const int64_t h0 = j * group + part * group / parts,
                          h1 = j * group + (part + 1) * group / parts;
            const size_t first = size_t(lo * kv_stride + head_col(kv, j, hd)) * elem;
            const KvSegment seg{static_cast<const char *>(kv.k) + first,
                                static_cast<const char *>(kv.v) + first, span};
            attend_heads(ops, kv.type, kv_stride, &seg, 1, span, q + h0 * hd, h1 - h0, hd, scale,
                         opts.softcap, out + h0 * hd);
        });
        return;
    }
    if (m > 1) blas_setup();

    // One task per (kv head, block of rows): the group's query heads stacked into one matrix of
    // group x rb rows, so that each product packs (and a 16-bit cache widens) the keys and values
    // once for the group rather than once per head.
    parallel_for(s.n_kv_heads * row_blocks, n_threads, [&](int64_t task) {
        const int64_t j = task / row_blocks, i0 = (task % row_blocks) * kRowBlock, h0 = j * group;
        const int64_t i1 = std::min(m, i0 + kRowBlock), rb = i1 - i0;
        // Keys any row of this block may see: [lo, lo + span).
        const int64_t lo = first_key(p0 + i0, window), col = head_col(kv, j, hd);
        const int64_t span = (causal ? std::min(n_keys, p0 + i1) : n_keys) - lo;
        thread_local std::vector<float> scores;

        if (rb == 1) {
            scores.resize(size_t(span));
            const size_t first = size_t(lo * kv_stride + col) * elem;
            const void *kh = static_cast<const char *>(kv.k) + first;
            const void *vh = static_cast<const char *>(kv.v) + first;
            for (int64_t h = h0; h < h0 + group; ++h) {
                const float *qi = q + i0 * q_stride + h * hd;
                float *oi = out + i0 * q_stride + h * hd;
                // One call per head for each product (the keys and values are matrices of
                // `span` rows): per-position calls cost decode ~4% of its time.
                ops.dot_rows(kv.type, kh, kv_stride, span, qi, hd, scores.data(),
                             dot_rows_per_pass(kv.type));
                ops.scale(scores.data(), span, scale);
                if (opts.softcap > 0) soft_cap(scores.data(), span, opts.softcap);
                softmax(scores.data(), span);
                ops.axpy_rows(kv.type, vh, kv_stride, span, scores.data(), hd, oi,
                              axpy_rows_per_pass(kv.type));
            }
            return;
        }
        thread_local std::vector<float> k32, v32, qs, os;
        int64_t k_ld = 0, v_ld = 0;
        const float *kh = f32_rows(kv, kv.k, lo, span, col, hd, k32, k_ld);
        const float *vh = f32_rows(kv, kv.v, lo, span, col, hd, v32, v_ld);
        // Row g * rb + i: query head h0 + g of row i0 + i (one head: q itself).
        const int64_t n_rows = group * rb;
        const float *qa = q + i0 * q_stride + h0 * hd;
        int64_t q_ld = q_stride;
        if (group > 1) {
            qs.resize(size_t(n_rows * hd));
            for (int64_t g = 0; g < group; ++g)
                for (int64_t i = 0; i < rb; ++i)
                    std::copy_n(qa + i * q_stride + g * hd, hd, qs.data() + (g * rb + i) * hd);
            qa = qs.data();
            q_ld = hd;
        }
        scores.resize(size_t(n_rows * span));
        cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, int(n_rows), int(span), int(hd), scale,
                    qa, int(q_ld), kh, int(k_ld), 0.0f, scores.data(), int(span));
        for (int64_t r = 0; r < n_rows; ++r) {
            const int64_t i = r % rb;
            float *row = scores.data() + r * span;
            // Row i sees keys [start, start + len) of this block's span.
            const int64_t start = first_key(p0 + i0 + i, window) - lo;
            const int64_t len = (causal ? std::min(span, p0 + i0 + i + 1 - lo) : span) - start;
            std::fill(row, row + start, 0.0f);
            if (opts.softcap > 0) soft_cap(row + start, len, opts.softcap);
            softmax(row + start, len);
            std::fill(row + start + len, row + span, 0.0f);
        }
        float *oa = out + i0 * q_stride + h0 * hd;
        if (group > 1) os.resize(size_t(n_rows * hd));
        cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, int(n_rows), int(hd), int(span),
                    1.0f, scores.data(), int(span), vh, int(v_ld), 0.0f, group > 1 ? os.data() : oa,
                    int(group > 1 ? hd : q_stride));
        if (group > 1)
            for (int64_t g = 0; g < group; ++g)
                for (int64_t i = 0; i < rb; ++i)
                    std::copy_n(os.data() + (g * rb + i) * hd, hd, oa + i * q_stride + g * hd);
    });
}

}  // namespace hfk::kern

namespace hfk::kern {

void attention_rows(const float *q, int64_t m, int64_t p0, const float *k, const float *v,
                    int64_t kv_stride, const AttentionShape &s, float scale,
                    const AttentionOptions &opts, float *out, int n_threads) {
    attention_rows(q, m, p0, KvRows{DType::F32, k, v, kv_stride}, s, scale, opts, out, n_threads);
}

void attention_rows(const float *q, int64_t m, int64_t p0, const KvRows &kv,
                    const AttentionShape &s, float scale, const AttentionOptions &opts, float *out,
                    int n_threads) {
    const int64_t kv_stride = kv.stride;
    const size_t elem = compute_elem_size(kv.type);
    const int64_t hd = s.head_dim, q_stride = s.n_heads * hd, group = s.n_heads / s.n_kv_heads;
    const SimdOps &ops = simd();
    if (heads_kernels(ops, hd)) {
        // One task per (tile of up to kTileRows rows, part of a kv head's group): attend_tile
        // (for a single row attention()'s one-row path).
        const int64_t tiles = (m + kTileRows - 1) / kTileRows;
        const int64_t parts = group_parts(tiles * s.n_kv_heads, group, n_threads);
        parallel_for(tiles * s.n_kv_heads * parts, n_threads, [&](int64_t task) {
            const int64_t i = task / (s.n_kv_heads * parts) * kTileRows,
                          j = task / parts % s.n_kv_heads, part = task % parts, pos = p0 + i;
            const int64_t rows = std::min(kTileRows, m - i);
            const int64_t h0 = j * group + part * group / parts,
                          h1 = j * group + (part + 1) * group / parts;
            const int64_t lo = first_key(pos, opts.window);
            const size_t first = size_t(lo * kv_stride + head_col(kv, j, hd)) * elem;
            const KvSegment seg{static_cast<const char *>(kv.k) + first,
                                static_cast<const char *>(kv.v) + first, pos + rows - lo};
            attend_tile(ops, kv.type, kv_stride, &seg, 1, lo, pos, rows, opts.window,
                        q + i * q_stride + h0 * hd, q_stride, h1 - h0, hd, scale, opts.softcap,
                        out + i * q_stride + h0 * hd);
        });
        return;
    }
    // One task per (row, head): the same steps as attention()'s one-row path.
    parallel_for(m * s.n_heads, n_threads, [&](int64_t task) {
        const int64_t i = task / s.n_heads, h = task % s.n_heads, pos = p0 + i;
        const int64_t lo = first_key(pos, opts.window);
        const int64_t span = pos + 1 - lo;
        const size_t first = size_t(lo * kv_stride + head_col(kv, h / group, hd)) * elem;
        const void *kh = static_cast<const char *>(kv.k) + first;
        const void *vh = static_cast<const char *>(kv.v) + first;
        thread_local std::vector<float> scores;
        scores.resize(size_t(span));
        ops.dot_rows(kv.type, kh, kv_stride, span, q + i * q_stride + h * hd, hd, scores.data(),
                     dot_rows_per_pass(kv.type));
        ops.scale(scores.data(), span, scale);
        if (opts.softcap > 0) soft_cap(scores.data(), span, opts.softcap);
        softmax(scores.data(), span);
        ops.axpy_rows(kv.type, vh, kv_stride, span, scores.data(), hd, out + i * q_stride + h * hd,
                      axpy_rows_per_pass(kv.type));
    });
}

}  // namespace hfk::kern

namespace hfk::kern {

void attention_rows(const float *q, int64_t m, int64_t p0, const KvPages &kv,
                    const AttentionShape &s, float scale, const AttentionOptions &opts, float *out,
                    int n_threads) {
    const PagedRows one{q, m, p0, kv, out};
    attention_rows_batch(&one, 1, s, scale, opts, n_threads);
}

void attention_rows_batch(const PagedRows *seqs, size_t n_seqs, const AttentionShape &s,
                          float scale, const AttentionOptions &opts, int n_threads) {
    const int64_t hd = s.head_dim, q_stride = s.n_heads * hd, group = s.n_heads / s.n_kv_heads;
    const SimdOps &ops = simd();
    const bool heads = heads_kernels(ops, hd);
    // Units of work: a tile of up to kTileRows rows of one sequence (a prompt's, through
    // attend_tile: its keys and values read once for the tile) or one row (a decode step's).
    struct Unit {
        size_t seq;
        int64_t i0, rows;
    };
    thread_local std::vector<Unit> unit_list;
    unit_list.clear();
    for (size_t j = 0; j < n_seqs; ++j)
        for (int64_t i0 = 0; i0 < seqs[j].m;) {
            const int64_t rows = heads ? std::min(kTileRows, seqs[j].m - i0) : 1;
            unit_list.push_back(Unit{j, i0, rows});
            i0 += rows;
        }
    const Unit *const units = unit_list.data();  // the caller's (workers have their own)
    const int64_t n_units = int64_t(unit_list.size());
    // One task per (unit, kv head) when that gives every thread work: the keys and values the
    // rows see are read once for the kv head's `group` query heads (by the heads kernels, or
    // gathered once where the ISA has none). Else one per (unit, head). Each output is computed
    // the same way either way.
    const bool by_kv = n_units * s.n_kv_heads >= n_threads;
    const int64_t per_unit = by_kv ? s.n_kv_heads : s.n_heads;
    parallel_for(n_units * per_unit, n_threads, [&](int64_t task) {
        const Unit &u = units[task / per_unit];
        const PagedRows &sq = seqs[u.seq];
        const KvPages &kv = sq.kv;
        const int64_t bt = kv.block_tokens;
        const int64_t i = u.i0, pos = sq.p0 + i;
        const int64_t h0 = by_kv ? (task % per_unit) * group : task % per_unit;
        const int64_t h1 = by_kv ? h0 + group : h0 + 1;
        const int64_t lo = first_key(pos, opts.window);
        const int64_t span = pos + 1 - lo, col = head_col(kv, h0 / group, hd);
        const size_t elem = compute_elem_size(kv.type);
        // Element `off` of the keys or the values.
        auto at = [&](const void *base, int64_t off) {
            return static_cast<const char *>(base) + size_t(off) * elem;
        };
        if (heads) {
            // The keys and values in place, block by block: one chain per output across them.
            const int64_t last = pos + u.rows - 1;
            thread_local std::vector<KvSegment> segs;
            segs.clear();
            for (int64_t a = lo; a <= last;) {
                const int64_t b = std::min(last + 1, (a / bt + 1) * bt);
                const int64_t off = kv.table[a / bt] * kv.block_stride + (a % bt) * kv.stride + col;
                // Blocks next to each other in memory (the engine hands a sequence its fresh
                // blocks in ascending order) make one run, streamed as a session's cache is.
                if (!segs.empty() &&
                    at(segs.back().k, segs.back().rows * kv.stride) == at(kv.k, off))
                    segs.back().rows += b - a;
                else
                    segs.push_back(KvSegment{at(kv.k, off), at(kv.v, off), b - a});
                a = b;
            }
            attend_tile(ops, kv.type, kv.stride, segs.data(), segs.size(), lo, pos, u.rows,
                        opts.window, sq.q + i * q_stride + h0 * hd, q_stride, h1 - h0, hd, scale,
                        opts.softcap, sq.out + i * q_stride + h0 * hd);
            return;
        }
        // The values gathered in order, as stored (a contiguous attention_rows() call sums them
        // in their own type).
        thread_local std::vector<float> scores;
        thread_local std::vector<char> values;
        scores.resize(size_t(span));
        values.resize(size_t(span * hd) * elem);
        for (int64_t a = lo; a <= pos;) {
            const int64_t b = std::min(pos + 1, (a / bt + 1) * bt);
            const int64_t off = kv.table[a / bt] * kv.block_stride + (a % bt) * kv.stride + col;
            for (int64_t t = a; t < b; ++t)
                std::memcpy(values.data() + size_t((t - lo) * hd) * elem,
                            at(kv.v, off + (t - a) * kv.stride), size_t(hd) * elem);
            a = b;
        }
        for (int64_t h = h0; h < h1; ++h) {
            const float *qi = sq.q + i * q_stride + h * hd;
            // Block by block: each score is one dot product, the same whatever rows a call covers.
            for (int64_t a = lo; a <= pos;) {
                const int64_t b = std::min(pos + 1, (a / bt + 1) * bt);
                const int64_t off = kv.table[a / bt] * kv.block_stride + (a % bt) * kv.stride + col;
                ops.dot_rows(kv.type, at(kv.k, off), kv.stride, b - a, qi, hd,
                             scores.data() + (a - lo), dot_rows_per_pass(kv.type));
                a = b;
            }
            ops.scale(scores.data(), span, scale);
            if (opts.softcap > 0) soft_cap(scores.data(), span, opts.softcap);
            softmax(scores.data(), span);
            ops.axpy_rows(kv.type, values.data(), hd, span, scores.data(), hd,
                          sq.out + i * q_stride + h * hd, axpy_rows_per_pass(kv.type));
        }
    });
}

}  // namespace hfk::kern
