// The network of a loaded checkpoint: one interface over every architecture (src/models/*.cpp).
// A Model is immutable after load and shared by many sessions; per-session state is a KvCache.
#pragma once

#include <cstdint>
#include <filesystem>
#include <functional>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "model/config.h"
#include "model/dtype.h"

namespace hfk {

// How weight matrices are held in memory. Auto: as stored (F32/F16/BF16 stay as they are, in
// the memory map). F32/BF16: converted at load. Q8/Q4: quantized at load to Q8_0 / Q4_1 blocks
// (kernels/quant.h). Only matrices change: norms and biases are F32 vectors in every format.
// Q8/Q4 quantize the embedding and lm_head too, as llama.cpp's Q8_0/Q4_0 files do (a tied lm_head
// kept in BF16 is a third of a small model's Q8 decode bytes); quantize_embeddings = false keeps
// them as stored (the higher-precision option). A converted matrix's
// source pages are given back (madvise) after load: no F32/BF16 copy of it stays in memory.
enum class WeightFormat : int32_t { Auto = 0, F32 = 1, BF16 = 2, Q8 = 3, Q4 = 4 };
const char *weight_format_name(WeightFormat f);  // "auto", "f32", "bf16", "q8", "q4"
// nullopt for anything else.
std::optional<WeightFormat> weight_format_from_name(std::string_view name);

struct PrequantConfig;  // model/prequant.h

struct LoadOptions {
    int32_t n_threads = 0;  // <= 0: all cores
    WeightFormat format = WeightFormat::Auto;
    bool quantize_embeddings = true;  // Q8/Q4 also for the embedding and lm_head
    // Set by Model::load from config.json for a pre-quantized checkpoint (MLX, GPTQ, AWQ).
    std::shared_ptr<const PrequantConfig> prequant = nullptr;
};
// Models loaded with different options are different models: a key for the registry ("" for
// the defaults).
std::string load_variant(const LoadOptions &o);

// Per-session state of a causal model: the keys and values of every token run so far.
class KvCache {
  public:
    virtual ~KvCache();
    virtual int32_t n_past() const = 0;    // tokens already in the cache
    virtual int32_t capacity() const = 0;  // max tokens
    virtual void truncate(int32_t n) = 0;  // keep the first n tokens (prefix reuse); 0 = clear
    // Bytes of weights the forward passes on this cache have read so far, for benchmarks: every
    // weight once per call, except a MoE layer's experts, counted only when a token is routed to
    // them. 0 for architectures that do not count.
    virtual uint64_t weight_bytes_read() const { return 0; }
    // The raw state, for saving, restoring and forking a session (runtime/session_state.cpp):
    // n_blocks() arrays of capacity() rows of row_floats() values each, stored as kv_type()
    // (F32, F16 or BF16), of which rows [0, n_past()) hold data. read_rows widens the first
    // n rows of block i to F32 (exact); write_rows stores n F32 rows into it (rounded to
    // kv_type()). set_n_past(n) declares rows [0, n) of every block written.
    virtual int64_t n_blocks() const = 0;
    virtual int64_t row_floats() const = 0;
    // Values of one kv head in a row (a row is row_floats() / head_floats() heads): the engine
    // lays its pool out by head with it.
    virtual int64_t head_floats() const { return row_floats(); }
    virtual DType kv_type() const = 0;
    virtual void read_rows(int64_t i, int64_t n, float *out) const = 0;
    virtual void write_rows(int64_t i, int64_t n, const float *in) = 0;
    virtual void set_n_past(int32_t n) = 0;
};

// One sequence of a batched forward (Model::forward_batch): its own cache, the new tokens to
// append at cache->n_past() (a decode token, or a chunk of a prompt), and where the logits after
// its last new token go (n_vocab floats; nullptr: none wanted, e.g. a prompt chunk that is not
// the last).
struct BatchItem {
    KvCache *cache = nullptr;
    std::span<const int32_t> tokens;
    float *logits = nullptr;
};

struct EncoderOutput {  // BERT, one sequence
    int32_t n_tokens = 0, hidden = 0;
    std::vector<float> last_hidden_state;  // n_tokens x hidden
    std::vector<float> pooled;             // pooler output (tanh dense on CLS), empty if no pooler
    std::vector<float> logits;             // classifier head output, empty if none
};

class Model {
  public:
    // Loads config.json + weights from a checkpoint directory. progress(fraction) returning true
    // cancels (HFK_E_CANCELLED). HFK_E_FORMAT / HFK_E_UNSUPPORTED / HFK_E_NOT_FOUND / HFK_E_IO.
    static std::shared_ptr<const Model> load(const std::filesystem::path &dir,
                                             const LoadOptions &opts,
                                             const std::function<bool(double)> &progress = {});
    virtual ~Model();
    virtual const ModelConfig &config() const = 0;
    virtual std::string architecture() const = 0;  // "gpt2", "llama", "qwen2", "mistral", "bert"
    virtual bool is_causal() const = 0;
    virtual int32_t vocab_size() const = 0;
    virtual int32_t context_length() const = 0;
    virtual uint64_t weight_bytes() const = 0;
    // The thread count used when a call passes n_threads <= 0.
    int32_t default_threads() const { return default_threads_; }

    // Causal models. n_ctx <= 0 means the model's context length (HFK_E_INVALID_ARG above it).
    // HFK_E_UNSUPPORTED for encoders.
    // kv_type: what the cache stores keys and values as (F32, F16 or BF16; anything else is
    // HFK_E_INVALID_ARG). Attention reads them widened to F32.
    std::unique_ptr<KvCache> new_cache(int32_t n_ctx, DType kv_type = DType::F32) const {
        return make_cache(n_ctx, kv_type);
    }
    // Appends `tokens` at cache.n_past(), runs them (prefill as matrix products when > 1 token),
    // and writes logits: n_vocab floats for the last token, or tokens.size() x n_vocab when
    // all_positions. Token ids out of range -> HFK_E_INVALID_ARG; not enough room ->
    // HFK_E_CONTEXT_FULL, both checked before the cache changes; an empty `tokens` writes nothing.
    // Thread-safe across different caches; n_threads <= 0 means the model default. The cache must
    // come from this model's new_cache (HFK_E_INVALID_ARG otherwise).
    virtual void forward(KvCache &cache, std::span<const int32_t> tokens, float *logits,
                         bool all_positions, int32_t n_threads) const;
    // Continuous batching (src/engine). Runs every item's tokens in one pass: each weight matrix
    // is applied once to the rows of all items together, attention runs per item over its own
    // cache. Batch-invariant: an item's logits and cache rows are the same bits whatever the
    // other items are, however its prompt is cut into chunks, and at any n_threads (so they may
    // differ in the last bits from forward()'s, whose prefill uses sgemm). Every item is checked
    // as forward() checks it before any cache changes; the caches must be distinct.
    // HFK_E_UNSUPPORTED when !supports_batch() (GPT-2, Phi-2 and encoders today).
    virtual bool supports_batch() const { return false; }
    virtual void forward_batch(std::span<const BatchItem> items, int32_t n_threads) const;
    // Encoder models (BERT). type_ids may be empty (all zeros). HFK_E_UNSUPPORTED for causal
    // models.
    virtual EncoderOutput encode(std::span<const int32_t> ids, std::span<const int32_t> type_ids,
                                 int32_t n_threads) const;
    // Rows of the encoder's token-type table (BERT: 2); 0 or 1 when token types change nothing,
    // so a pair of texts is encoded without them, as transformers' tokenizers for RoBERTa,
    // XLM-RoBERTa, DistilBERT and ModernBERT (no token_type_ids input) do.
    virtual int32_t n_token_types() const { return 0; }

  protected:
    // new_cache(): causal models override it (HFK_E_UNSUPPORTED here, for encoders).
    virtual std::unique_ptr<KvCache> make_cache(int32_t n_ctx, DType kv_type) const;
    int32_t threads(int32_t requested) const {
        return requested > 0 ? requested : default_threads_;
    }
    int32_t default_threads_ = 1;
};

// Pooling helpers for embeddings.
void mean_pool(const EncoderOutput &, float *out);  // over all tokens, `hidden` floats
void l2_normalize(float *v, int32_t n);             // v / max(|v|, 1e-12)

}  // namespace hfk
