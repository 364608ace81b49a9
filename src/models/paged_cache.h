// The paged KV cache of the batching engine (src/engine): the keys and values of every sequence
// live in fixed-size blocks of one pool (KvArena); a sequence's PagedCache maps its positions to
// blocks through a block table. Two sequences whose prompts start alike can hold the same blocks
// (the engine's prefix cache, engine/kv_pool.h): a block is shared only once it is full, and no
// sequence writes to a position below its own start, so a shared block never changes.
#pragma once

#include <cstdint>
#include <memory>
#include <vector>

#include "models/common.h"

namespace hfk::models {

// n_blocks blocks of block_tokens tokens, by layer, keys or values and kv head:
// [layer][k|v][kv_head][block][token][head_dim] elements of `type` (F32, F16 or BF16: rounded
// as they are stored, widened in registers as attention reads them, as a session's cache). A kv
// head's rows of a block are one run, and its runs of consecutive blocks are side by side: a
// sequence whose blocks are consecutive (engine/kv_pool.cpp hands them out in ascending order) has
// each kv head's keys and values as one run, as a session's head-major CausalCache, which attention
// reads as one stream (kern::attention_rows merges such blocks). With whole blocks of every layer
// between them, llama-135m's 4 KiB runs were 0.7 MiB apart and a long decode read them at about
// half the speed. An anonymous mapping: pages are committed when first written, and stay committed
// (the pool is reused, not given back).
class KvArena {
  public:
    KvArena(int64_t n_layers, int64_t kv_dim, int64_t head_dim, int32_t block_tokens,
            int64_t n_blocks, DType type = DType::F32);
    ~KvArena();
    KvArena(const KvArena &) = delete;
    KvArena &operator=(const KvArena &) = delete;
    // Kv head j of row `row` (< block_tokens) of block `block`'s keys (kv = 0) or values (kv = 1)
    // of `layer`: head_dim elements.
    uint8_t *head_row(int64_t block, int64_t layer, int kv, int64_t j, int64_t row) const {
        return base_ + (size_t((2 * layer + kv) * (kv_dim_ / head_dim_) + j) * head_elems_ +
                        size_t(block) * block_stride_ + size_t(row * head_dim_)) *
                           elem_;
    }
    // One layer's keys and values of the sequence whose blocks `table` lists.
    kern::KvPages pages(int64_t layer, const int32_t *table) const;
    int64_t n_layers() const { return n_layers_; }
    int64_t kv_dim() const { return kv_dim_; }
    int64_t head_dim() const { return head_dim_; }
    int32_t block_tokens() const { return block_tokens_; }
    int64_t n_blocks() const { return n_blocks_; }
    DType type() const { return type_; }

  private:
    int64_t n_layers_, kv_dim_, head_dim_;
    int32_t block_tokens_;
    int64_t n_blocks_;
    DType type_;
    size_t elem_;  // bytes of an element
    // Elements from a block's rows of a kv head to the next block's (block_tokens x head_dim);
    // of one kv head's keys or values of one layer in every block.
    size_t block_stride_ = 0, head_elems_ = 0, mapped_bytes_ = 0;
    uint8_t *base_ = nullptr;
};

// One sequence's view of the arena. Position p is row p % block_tokens of block
// table[p / block_tokens]; the table is fixed at creation (the engine reserves a sequence's
// blocks when it admits it), and capacity() is what it holds (at most n_ctx). n_past starts
// at `n_past` (the tokens of shared prefix blocks already in the table). Only forward_batch runs
// on it (forward() refuses it).
class PagedCache final : public BatchKvCache {
  public:
    PagedCache(const Model *owner, std::shared_ptr<const KvArena> arena, std::vector<int32_t> table,
               int32_t n_ctx, int32_t n_past);
    int32_t n_past() const override { return n_past_; }
    int32_t capacity() const override { return capacity_; }
    void truncate(int32_t n) override;
    int64_t n_blocks() const override { return 2 * arena_->n_layers(); }
    int64_t row_floats() const override { return arena_->kv_dim(); }
    int64_t head_floats() const override { return arena_->head_dim(); }
    DType kv_type() const override { return arena_->type(); }
    void read_rows(int64_t i, int64_t n, float *out) const override;
    void write_rows(int64_t i, int64_t n, const float *in) override;
    void set_n_past(int32_t n) override;

    const Model *owner() const override { return owner_; }
    void advance(int32_t n) override { n_past_ += n; }
    void store_rows(int64_t layer, int64_t p0, int64_t m, const float *k, const float *v) override;
    void attend_rows(int64_t layer, const float *q, int64_t m, int64_t p0,
                     const kern::AttentionShape &shape, float scale,
                     const kern::AttentionOptions &opts, float *out, int n_threads) const override;
    bool pages(int64_t layer, kern::KvPages &out) const override;
    const std::vector<int32_t> &table() const { return table_; }

  private:
    // KvCache block i (2 * layer + kv), position pos, kv head j.
    uint8_t *at(int64_t i, int64_t pos, int64_t j) const {
        const int64_t bt = arena_->block_tokens();
        return arena_->head_row(table_[size_t(pos / bt)], i / 2, int(i % 2), j, pos % bt);
    }
    // Positions [p0, p0 + m) of block i from / to [m][kv_dim] rows.
    void store_block_rows(int64_t i, int64_t p0, int64_t m, const float *in) const;
    void load_block_rows(int64_t i, int64_t p0, int64_t m, float *out) const;
    const Model *owner_;
    std::shared_ptr<const KvArena> arena_;
    std::vector<int32_t> table_;
    int32_t capacity_ = 0, n_past_ = 0;
};

}  // namespace hfk::models
