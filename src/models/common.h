// What the architecture files share: binding weights from the memory map, the key/value cache of
// causal models, and the checks every forward() makes before touching the cache.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <span>
#include <string>
#include <tuple>
#include <vector>

#include "kernels/attention.h"
#include "kernels/matmul.h"
#include "model/model.h"
#include "model/weight_arena.h"
#include "model/weights.h"

namespace hfk::models {

// Binds tensors by name with shape checks (WeightBinder) and turns them into what the kernels take:
// matrices stay in the memory map in their stored type; 1-D parameters (norm weights, biases: a
// fraction of a percent of the model) become F32 vectors. A tensor whose data is not aligned for
// its type (safetensors does not promise alignment) is copied once into owned memory.
//
// With a LoadOptions format other than Auto, matrices are converted at load (F32, BF16, or
// quantized Q8_0/Q4_1 blocks along the input dimension of `layout`) into owned memory, and the
// source pages of the memory map are given back (MADV_DONTNEED: they are the file's, so nothing
// is lost). Embeddings (MatUse::Embedding, also used as a tied lm_head) are quantized unless
// quantize_embeddings is false; F32/BF16 apply to them too.
// Linear: a product's matrix; Embedding: the token table (also a tied lm_head); LinearSliced: a
// product's matrix that row_slice cuts at rows not all multiples of kern::kQRowGroup (a fused
// q/k/v or gate/up of odd sizes), so never interleaved (Q8_0x16, Q4_1x16).
enum class MatUse { Linear, Embedding, LinearSliced };

class WeightLoader {
  public:
    WeightLoader(std::shared_ptr<const WeightStore> store, std::vector<std::string> prefixes,
                 const LoadOptions &opts = {});
    kern::Mat matrix(const std::string &name, int64_t rows, int64_t cols,
                     kern::Layout layout = kern::Layout::OutIn, MatUse use = MatUse::Linear);
    // A linear layer stored [in, out] (GPT-2's Conv1D), returned transposed as an [out, in]
    // matrix (kern::Layout::OutIn) in owned memory: decode then runs the [out, in] kernels, whose
    // several long streams read the weights near the bandwidth of a plain read, where the
    // [in, out] kernel (axpy_rows) reached ~70% with BF16. The copy is in the stored type (or the
    // LoadOptions format; quantized formats give the blocks matrix() gives for Layout::InOut,
    // which are already one row per output), and the tensor's pages of the memory map are given
    // back, so the resident memory stays one copy of the weights.
    kern::Mat transposed_matrix(const std::string &name, int64_t in, int64_t out);
    // GPT-2's choice for a Conv1D layer stored [in, out]: transposed_matrix() when the weights
    // it keeps are 16-bit or quantized, else (F32) matrix() as stored, *layout saying which.
    // F32 stays [in, out]: its [in, out] kernel (four rows per pass) read GPT-2's F32 weights as
    // fast as the [out, in] one (74-78% against 75-76% of a plain read in thread CPU time, AMD
    // EPYC Zen 5, loaded machine), so a copy of 340 MB at load would buy nothing.
    kern::Mat conv1d_matrix(const std::string &name, int64_t in, int64_t out, kern::Layout *layout);
    // A matrix the architecture binds but never reads (a saved copy of a tied head): as stored.
    void unused_matrix(const std::string &name, int64_t rows, int64_t cols) {
        to_mat(binder_.take(name, {rows, cols}), rows, cols);
    }
    std::vector<float> vector(const std::string &name, int64_t n);
    std::vector<float> optional_vector(const std::string &name, int64_t n);  // empty if absent
    bool has(const std::string &name) const { return binder_.has(name); }
    void ignore_matching(std::string_view s) { binder_.ignore_matching(s); }
    void finish() const { binder_.finish(); }
    const WeightStore &store() const { return binder_.store(); }
    // Bytes of every bound tensor, and the owned copies (moved into the model).
    uint64_t bound_bytes() const { return bound_bytes_; }
    WeightArena take_copies() { return std::move(arena_); }

  private:
    // Whether a matrix of this use is quantized: Q8/Q4 asked, and not an embedding kept as
    // stored (quantize_embeddings false).
    bool quantizes(MatUse use) const {
        return (opts_.format == WeightFormat::Q8 || opts_.format == WeightFormat::Q4) &&
               (use != MatUse::Embedding || opts_.quantize_embeddings);
    }
    kern::Mat to_mat(const TensorInfo &t, int64_t rows, int64_t cols);
    kern::Mat transpose_tensor(const TensorInfo &t, int64_t in, int64_t out, DType to);
    kern::Mat convert(const TensorInfo &t, int64_t rows, int64_t cols, kern::Layout layout,
                      MatUse use);
    WeightBinder binder_;
    LoadOptions opts_;
    uint64_t bound_bytes_ = 0;
    WeightArena arena_;  // every owned copy: converted, transposed, or copied to align it
};

// A cache that Model::forward_batch can run (the rotary decoders'): the contiguous CausalCache
// below, or the engine's PagedCache (models/paged_cache.h), whose rows live in blocks of a pool
// shared by every sequence. Both store and read F32 rows the same way, so a sequence gets the
// same bits in either.
class BatchKvCache : public KvCache {
  public:
    virtual const Model *owner() const = 0;
    // Stores m new rows of keys and values (F32, kv_dim apart) of `layer` at positions p0...
    virtual void store_rows(int64_t layer, int64_t p0, int64_t m, const float *k,
                            const float *v) = 0;
    // kern::attention_rows of the m query rows at positions p0.. over `layer`'s rows [0, p0 + m).
    virtual void attend_rows(int64_t layer, const float *q, int64_t m, int64_t p0,
                             const kern::AttentionShape &shape, float scale,
                             const kern::AttentionOptions &opts, float *out,
                             int n_threads) const = 0;
    // `layer`'s rows as pages (kern::attention_rows_batch runs several sequences' attention in
    // one pass over such pages); false for a cache that is not paged.
    virtual bool pages(int64_t layer, kern::KvPages &out) const {
        (void)layer;
        (void)out;
        return false;
    }
    virtual void advance(int32_t n) = 0;
};

// The key/value cache of one session: for each layer, keys and values of `capacity` positions,
// head-major, [kv_head][position][head_dim], stored as kv_type (F32, or F16 / BF16 for half
// the bytes: the session option kv_dtype). A decode step's attention reads each kv head's keys
// and values as one contiguous run: with [position][kv_dim] rows it read 64 floats out of every
// 768-byte row and a long F32 context ran at ~7.5 GB/s, where the same bytes in one run read
// 1.9x faster. The memory is reserved lazily (anonymous mapping, pages committed when first
// written), so a long context costs only what is used. It also keeps the activation buffers of
// forward() between calls.
//
// A forward writes a layer's new rows in F32, [m][kv_dim], where new_keys/new_values point
// (scratch rows), changes them in place (RoPE, norms), then commit_rows() stores them into the
// cache by head (rounded for a 16-bit cache). Attention reads rows(layer). read_rows and
// write_rows (the session's saved state) move rows as [position][kv_dim], whatever the layout.
class CausalCache final : public BatchKvCache {
  public:
    CausalCache(const Model *owner, DType kv_type, int64_t n_layers, int64_t kv_dim,
                int64_t head_dim, int32_t capacity);
    ~CausalCache() override;
    int32_t n_past() const override { return n_past_; }
    int32_t capacity() const override { return capacity_; }
    void truncate(int32_t n) override;
    int64_t n_blocks() const override { return 2 * n_layers_; }
    int64_t row_floats() const override { return kv_dim_; }
    int64_t head_floats() const override { return head_dim_; }
    DType kv_type() const override { return kv_type_; }
    void read_rows(int64_t i, int64_t n, float *out) const override;
    void write_rows(int64_t i, int64_t n, const float *in) override;
    void set_n_past(int32_t n) override;

    // Scratch for the m new rows of keys / values of a forward ([m][kv_dim] F32), until
    // commit_rows stores them.
    float *new_keys(int64_t m);
    float *new_values(int64_t m);
    // Stores the new rows into the cache.
    void commit_rows(int64_t layer, int64_t p0, int64_t m);
    // The whole of one layer's keys and values, for attention (kernels/attention.h).
    kern::KvRows rows(int64_t layer) const {
        return {kv_type_, block_ptr(2 * layer), block_ptr(2 * layer + 1), head_dim_,
                int64_t(capacity_) * head_dim_};
    }
    const Model *owner() const override { return owner_; }
    void advance(int32_t n) override { n_past_ += n; }
    void store_rows(int64_t layer, int64_t p0, int64_t m, const float *k, const float *v) override;
    void attend_rows(int64_t layer, const float *q, int64_t m, int64_t p0,
                     const kern::AttentionShape &shape, float scale,
                     const kern::AttentionOptions &opts, float *out, int n_threads) const override;

    // forward()'s activations for m rows, kept between calls: x, xb and tmp [m][dim], q
    // [m][q_dim], att [m][att_dim], hb and hb2 [m][ffn] (hb2 null unless asked for: gated MLPs).
    struct Activations {
        float *x, *xb, *q, *att, *tmp, *hb, *hb2;
    };
    Activations activations(int64_t m, int64_t dim, int64_t q_dim, int64_t att_dim, int64_t ffn,
                            bool with_hb2);
    std::vector<float> moe;  // moe_forward's (moe.h)
    uint64_t weight_bytes_read() const override { return weight_bytes_read_; }
    void count_weight_bytes_read(uint64_t n) { weight_bytes_read_ += n; }

  private:
    uint8_t *block_ptr(int64_t i) const { return base_ + size_t(i) * layer_bytes_; }
    // Position p, kv head j of block i (a layer's keys or values).
    uint8_t *head_row(int64_t i, int64_t j, int64_t p) const {
        return block_ptr(i) + size_t((j * capacity_ + p) * head_dim_) * elem_bytes_;
    }
    // Rows [p0, p0 + m) of block i from / to [m][kv_dim] F32 rows.
    void store_block_rows(int64_t i, int64_t p0, int64_t m, const float *in);
    void load_block_rows(int64_t i, int64_t p0, int64_t m, float *out) const;
    const Model *owner_;
    DType kv_type_;
    size_t elem_bytes_;
    int32_t capacity_;
    int32_t n_past_ = 0;
    size_t layer_bytes_ = 0;
    uint64_t weight_bytes_read_ = 0;
    int64_t n_layers_ = 0, kv_dim_ = 0, head_dim_ = 0;
    size_t mapped_bytes_ = 0;
    uint8_t *base_ = nullptr;
    std::vector<float> new_k_, new_v_;  // the new rows, [m][kv_dim], before commit_rows
    std::vector<float> x_, xb_, q_, att_, tmp_, hb_, hb2_;  // activations()
};

// A causal model's new_cache(): n_ctx <= 0 means the model's whole context; more than that, or
// a kv_type other than F32/F16/BF16, is HFK_E_INVALID_ARG.
std::unique_ptr<KvCache> new_causal_cache(const Model &model, DType kv_type, int64_t n_layers,
                                          int64_t kv_dim, int64_t head_dim, int32_t n_ctx);

// Validates a forward() call before anything changes: the cache belongs to `model`, every id is
// in [0, vocab), and n_past + tokens fits the capacity. Returns the cache.
CausalCache &check_forward(const Model &model, KvCache &cache, std::span<const int32_t> tokens,
                           int64_t vocab);

// check_forward for Model::forward_batch: a CausalCache or a PagedCache of `model`.
BatchKvCache &check_batch_forward(const Model &model, KvCache &cache,
                                  std::span<const int32_t> tokens, int64_t vocab);

// Calls progress(fraction); throws HFK_E_CANCELLED when it returns true.
void report_progress(const std::function<bool(double)> &progress, double fraction);

// Runs fn(row) for rows [0, m) on up to n_threads threads (cheap row-wise work in prefill).
void for_rows(int64_t m, int n_threads, const std::function<void(int64_t)> &fn);

// The activations of the MLPs (decoders' hidden_act, GPT-2's activation_function, the encoders'
// hidden_act and heads), and x = act(x) over n floats with the kernels of kernels/ops.h.
enum class Act { Silu, GeluTanh, GeluErf, Relu };
void activate(Act act, float *x, int64_t n);

// LayerNorm with a bias (GPT-2, Phi) of each of the m rows of `in` (m x dim) into `out`, rows
// shared among up to n_threads threads (each row's result is the same for any count).
void layernorm_rows(float *out, const float *in, int64_t m, int64_t dim,
                    const std::vector<float> &w, const std::vector<float> &b, float eps,
                    int n_threads);

// The end of a LayerNorm causal model's forward (GPT-2, Phi): the final LayerNorm of the last of
// the m rows of x (of every row when all_positions) into the scratch xb, then the LM head
// (plus its bias when not empty) into logits.
void final_layernorm_logits(const float *x, int64_t m, bool all_positions, int64_t dim,
                            const std::vector<float> &w, const std::vector<float> &b, float eps,
                            const kern::Mat &head, const std::vector<float> &head_bias, float *xb,
                            float *logits, int n_threads);

// The checks of an encoder's encode() before any work: at least one token, at most max_tokens
// (HFK_E_CONTEXT_FULL), every id in [0, vocab) (HFK_E_INVALID_ARG naming its position).
void check_encoder_ids(std::span<const int32_t> ids, int64_t vocab, int64_t max_tokens);

// What every encoder (BERT family, ModernBERT) reads from config.json, in this order: hidden size,
// heads, head size (hidden / heads), intermediate size, vocabulary, positions, norm eps.
// HFK_E_FORMAT naming `arch` when the hidden size is not a multiple of the heads (with
// even_head_dim, an odd head size too: RoPE rotates pairs) or a size is missing. Unpack it with
// std::tie into the model's members.
using EncoderSizes = std::tuple<int64_t, int64_t, int64_t, int64_t, int64_t, int64_t, float>;
EncoderSizes encoder_sizes(const ModelConfig &cfg, const std::string &arch, bool even_head_dim);

// Factories (one per architecture file).
std::shared_ptr<const Model> make_llama(ModelConfig cfg, std::shared_ptr<const WeightStore> store,
                                        const LoadOptions &opts,
                                        const std::function<bool(double)> &progress);
std::shared_ptr<const Model> make_gpt2(ModelConfig cfg, std::shared_ptr<const WeightStore> store,
                                       const LoadOptions &opts,
                                       const std::function<bool(double)> &progress);
std::shared_ptr<const Model> make_phi(ModelConfig cfg, std::shared_ptr<const WeightStore> store,
                                      const LoadOptions &opts,
                                      const std::function<bool(double)> &progress);
std::shared_ptr<const Model> make_bert(ModelConfig cfg, std::shared_ptr<const WeightStore> store,
                                       const LoadOptions &opts,
                                       const std::function<bool(double)> &progress);
std::shared_ptr<const Model> make_roberta(ModelConfig cfg, std::shared_ptr<const WeightStore> store,
                                          const LoadOptions &opts,
                                          const std::function<bool(double)> &progress);
std::shared_ptr<const Model> make_distilbert(ModelConfig cfg,
                                             std::shared_ptr<const WeightStore> store,
                                             const LoadOptions &opts,
                                             const std::function<bool(double)> &progress);
std::shared_ptr<const Model> make_modernbert(ModelConfig cfg,
                                             std::shared_ptr<const WeightStore> store,
                                             const LoadOptions &opts,
                                             const std::function<bool(double)> &progress);

}  // namespace hfk::models
