// Scaled dot-product attention over a key/value cache, for every head (grouped-query heads share
// a key/value head).
#pragma once

#include <cstddef>
#include <cstdint>

#include "model/dtype.h"

namespace hfk::kern {

struct AttentionShape {
    int64_t n_heads = 0, n_kv_heads = 0, head_dim = 0;
};

// q:   [m, n_heads * head_dim]; query row i sits at absolute position p0 + i.
// k,v: [n_keys, kv_stride] (the cache of one layer); kv head g is at columns g*head_dim.
//      Query head h reads kv head h / (n_heads / n_kv_heads).
// out: [m, n_heads * head_dim].
// causal: row i attends to keys [0, p0 + i] (needs n_keys >= p0 + m); else to all n_keys.
// softmax(q k^T * scale) v, heads and blocks of 64 rows spread over n_threads.
void attention(const float *q, int64_t m, int64_t p0, const float *k, const float *v,
               int64_t kv_stride, int64_t n_keys, const AttentionShape &shape, bool causal,
               float scale, float *out, int n_threads);

// What some architectures add to causal attention (zero = off).
struct AttentionOptions {
    // Masked sliding window: row at position p sees keys (p - window, p], i.e. `window` keys
    // including itself (Mistral, Gemma 2/3 local layers, as the transformers masks define it).
    int64_t window = 0;
    // Scores become softcap * tanh(scores / softcap) after scaling, before masking (Gemma 2).
    float softcap = 0;
};
void attention(const float *q, int64_t m, int64_t p0, const float *k, const float *v,
               int64_t kv_stride, int64_t n_keys, const AttentionShape &shape, bool causal,
               float scale, const AttentionOptions &opts, float *out, int n_threads);

// Keys and values as a causal cache stores them, of `type` (F32, F16 or BF16): key p of kv head
// j starts at element p * stride + j * head_stride of k (values likewise). head_stride 0 means
// head_dim: the heads side by side in one row per position, [n_keys, stride]. A session's cache
// is head-major (stride = head_dim, head_stride = capacity * head_dim): a decode step then reads
// each kv head's keys as one contiguous run rather than 64 floats of every kv_dim-wide row.
struct KvRows {
    DType type = DType::F32;
    const void *k = nullptr, *v = nullptr;
    int64_t stride = 0;
    int64_t head_stride = 0;
};
// attention() over F16/BF16 keys and values too: one-row (decode) calls read them widened in
// registers (SimdOps::dot_rows / axpy_rows of `type`); a block of query rows widens the keys and
// values it sees into F32 scratch for its matrix products. The same bits for any n_threads.
// A decode step on several threads whose keys (all kv heads', the step's span) make at least
// kDecodeSplitKeysBytes cuts them into ranges, one a thread, so that each key is read once
// (attention.cpp says why this size); a shorter one gives each thread a part of a group of query
// heads.
constexpr int64_t kDecodeSplitKeysBytes = 512 << 10;
void attention(const float *q, int64_t m, int64_t p0, const KvRows &kv, int64_t n_keys,
               const AttentionShape &shape, bool causal, float scale, const AttentionOptions &opts,
               float *out, int n_threads);

// Causal attention where every query row is computed alone, exactly as a one-row decode call of
// attention() computes it (dot products, softmax, weighted sum of values): the bits of a row do
// not depend on m, on the row's place among the m rows, nor on n_threads. The batched forward
// uses it so that a prompt gives the same numbers however it is cut into chunks.
void attention_rows(const float *q, int64_t m, int64_t p0, const float *k, const float *v,
                    int64_t kv_stride, const AttentionShape &shape, float scale,
                    const AttentionOptions &opts, float *out, int n_threads);
void attention_rows(const float *q, int64_t m, int64_t p0, const KvRows &kv,
                    const AttentionShape &shape, float scale, const AttentionOptions &opts,
                    float *out, int n_threads);

// Keys and values of one layer of a paged cache, of `type` (F32, F16 or BF16): kv head j of
// position p is at element table[p / block_tokens] * block_stride + (p % block_tokens) * stride +
// j * head_stride of k (v likewise), so a sequence's rows live in blocks of an engine-wide pool
// (models/paged_cache.h).
struct KvPages {
    const void *k = nullptr, *v = nullptr;  // this layer's rows in block 0 of the pool
    const int32_t *table = nullptr;         // the sequence's blocks, in position order
    int64_t block_tokens = 0, block_stride = 0, stride = 0;
    // Elements from kv head j's first column to head j + 1's (0: head_dim, the heads side by
    // side in a row; the engine's pool: a kv head's rows of every block, then the next head's).
    int64_t head_stride = 0;
    DType type = DType::F32;
};
// attention_rows() through a block table: the same bits as attention_rows() over the same rows
// stored contiguously (scores are per key; the values a row sees are summed block by block in
// place, each output one chain across the blocks, by the heads kernels of attention_heads.h, or,
// where the ISA has none, gathered in order and summed as the contiguous call sums them).
void attention_rows(const float *q, int64_t m, int64_t p0, const KvPages &kv,
                    const AttentionShape &shape, float scale, const AttentionOptions &opts,
                    float *out, int n_threads);

// One sequence of a batched call: its m query rows (q, at positions p0..) over its own pages,
// into out (rows n_heads * head_dim apart, as q).
struct PagedRows {
    const float *q = nullptr;
    int64_t m = 0, p0 = 0;
    KvPages kv;
    float *out = nullptr;
};
// attention_rows() of several sequences in one pass of the thread pool: every row's bits are
// those attention_rows() gives it alone. The engine's decode step has one row per sequence, and
// a call per sequence cost a dispatch and a join of the pool each, with fewer tasks (kv heads)
// than threads could share evenly.
void attention_rows_batch(const PagedRows *seqs, size_t n_seqs, const AttentionShape &shape,
                          float scale, const AttentionOptions &opts, int n_threads);

// In place over n values: exp(x - max) / sum.
void softmax(float *x, int64_t n);

}  // namespace hfk::kern
