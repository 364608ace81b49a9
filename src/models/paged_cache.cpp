#include "models/paged_cache.h"

#include <sys/mman.h>

#include <algorithm>
#include <string>

#include "kernels/attention.h"
#include "kernels/simd.h"
#include "util/error.h"

namespace hfk::models {

KvArena::KvArena(int64_t n_layers, int64_t kv_dim, int64_t head_dim, int32_t block_tokens,
                 int64_t n_blocks, DType type)
    : n_layers_(n_layers),
      kv_dim_(kv_dim),
      head_dim_(head_dim),
      block_tokens_(block_tokens),
      n_blocks_(n_blocks),
      type_(type),
      elem_(compute_elem_size(type)) {
    if (type != DType::F32 && type != DType::F16 && type != DType::BF16)
        fail(HFK_E_INVALID_ARG, std::string("KV arena: no cache of ") + dtype_name(type));
    if (n_layers <= 0 || kv_dim <= 0 || head_dim <= 0 || block_tokens <= 0 || n_blocks <= 0)
        fail(HFK_E_INVALID_ARG, "KV arena: every size must be positive");
    if (kv_dim % head_dim != 0)
        fail(HFK_E_INVALID_ARG, "KV arena: kv_dim " + std::to_string(kv_dim) +
                                    " is not a whole number of heads of " +
                                    std::to_string(head_dim));
    size_t bytes = 0;
    if (__builtin_mul_overflow(size_t(head_dim), size_t(block_tokens), &block_stride_) ||
        __builtin_mul_overflow(block_stride_, size_t(n_blocks), &head_elems_) ||
        __builtin_mul_overflow(head_elems_, size_t(2 * n_layers * (kv_dim / head_dim)), &bytes) ||
        __builtin_mul_overflow(bytes, elem_, &bytes))
        fail(HFK_E_NOMEM, "KV arena size overflows: " + std::to_string(n_blocks) + " blocks");
    void *p = mmap(nullptr, bytes, PROT_READ | PROT_WRITE,
                   MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
    if (p == MAP_FAILED)
        fail(HFK_E_NOMEM, "cannot reserve " + std::to_string(bytes >> 20) +
                              " MiB for a KV pool of " + std::to_string(n_blocks) + " blocks");
    base_ = static_cast<uint8_t *>(p);
    mapped_bytes_ = bytes;
}

KvArena::~KvArena() {
    munmap(base_, mapped_bytes_);
}

PagedCache::PagedCache(const Model *owner, std::shared_ptr<const KvArena> arena,
                       std::vector<int32_t> table, int32_t n_ctx, int32_t n_past)
    : owner_(owner), arena_(std::move(arena)), table_(std::move(table)) {
    for (int32_t b : table_)
        if (b < 0 || b >= arena_->n_blocks())
            fail(HFK_E_INTERNAL, "paged cache: block " + std::to_string(b) + " is not in the pool");
    capacity_ = int32_t(std::min<int64_t>(n_ctx, int64_t(table_.size()) * arena_->block_tokens()));
    set_n_past(n_past);
}

void PagedCache::truncate(int32_t n) {
    if (n < 0) n = 0;
    if (n < n_past_) n_past_ = n;
}

void PagedCache::set_n_past(int32_t n) {
    if (n < 0 || n > capacity_)
        fail(HFK_E_INVALID_ARG, "set_n_past: " + std::to_string(n) + " is outside [0, " +
                                    std::to_string(capacity_) + "]");
    n_past_ = n;
}

void PagedCache::store_block_rows(int64_t i, int64_t p0, int64_t m, const float *in) const {
    const int64_t d = arena_->kv_dim(), hd = arena_->head_dim();
    const kern::SimdOps &ops = kern::simd();
    for (int64_t p = 0; p < m; ++p)
        for (int64_t j = 0; j < d / hd; ++j)
            ops.from_f32(arena_->type(), in + p * d + j * hd, hd, at(i, p0 + p, j));
}

void PagedCache::load_block_rows(int64_t i, int64_t p0, int64_t m, float *out) const {
    const int64_t d = arena_->kv_dim(), hd = arena_->head_dim();
    const kern::SimdOps &ops = kern::simd();
    for (int64_t p = 0; p < m; ++p)
        for (int64_t j = 0; j < d / hd; ++j)
            ops.to_f32(arena_->type(), at(i, p0 + p, j), hd, out + p * d + j * hd);
}

void PagedCache::read_rows(int64_t i, int64_t n, float *out) const {
    load_block_rows(i, 0, n, out);
}

void PagedCache::write_rows(int64_t i, int64_t n, const float *in) {
    store_block_rows(i, 0, n, in);
}

void PagedCache::store_rows(int64_t layer, int64_t p0, int64_t m, const float *k, const float *v) {
    store_block_rows(2 * layer, p0, m, k);
    store_block_rows(2 * layer + 1, p0, m, v);
}

kern::KvPages KvArena::pages(int64_t layer, const int32_t *table) const {
    return kern::KvPages{head_row(0, layer, 0, 0, 0),
                         head_row(0, layer, 1, 0, 0),
                         table,
                         block_tokens_,
                         int64_t(block_stride_),
                         head_dim_,
                         int64_t(head_elems_),
                         type_};
}

bool PagedCache::pages(int64_t layer, kern::KvPages &out) const {
    out = arena_->pages(layer, table_.data());
    return true;
}

void PagedCache::attend_rows(int64_t layer, const float *q, int64_t m, int64_t p0,
                             const kern::AttentionShape &shape, float scale,
                             const kern::AttentionOptions &opts, float *out, int n_threads) const {
    kern::KvPages kv;
    pages(layer, kv);
    kern::attention_rows(q, m, p0, kv, shape, scale, opts, out, n_threads);
}

}  // namespace hfk::models
