// The model inspector: "will this model run on my machine?", answered from config.json (a few KB)
// and the safetensors headers (read with HTTP Range requests), before a single weight byte is
// downloaded. Like an LLM inference calculator built into the library.
//
// Where the numbers come from:
//  - parameters: the sum of the tensor shapes in the safetensors headers when they can be read
//    (parameters_exact = true; non-parameter buffers such as GPT-2's causal-mask "attn.bias" and a
//    duplicate lm_head of a tied checkpoint are left out, as transformers' num_parameters() does),
//    otherwise count_parameters_from_config() (formulas per family, see param_count.cpp).
//    Pre-quantized checkpoints (MLX, GPTQ, AWQ; model/prequant.h): a packed 32-bit word counts
//    32 / bits weights, and scales, biases, zeros and g_idx are not parameters (a note names the
//    method); resident_weight_bytes is what loading them as stored holds: 4-bit layers as
//    Q4_1F blocks (24 bytes per 32 weights: the larger of Q4_1 / Q4_1F, whose choice depends on
//    the scale values), 8/2-bit codes and GPTQ act-order layers as F16, vectors as F32.
//  - weight_bytes: f32 = 4 P, f16 = 2 P, q8 = 34 bytes per block of 32 (Q8_0: 32 int8 + an f16
//    scale), q4 = 18 bytes per block of 32 (Q4_0), q4_1 = 20 (Q4_1: scale and minimum, what
//    hfkit's own q4 uses), with P the parameter count. Real quantizers keep
//    norms in f32; those are well under 0.1% of a model, so this is not modelled.
//  - kv_bytes_per_token = 2 (K and V) x layers x kv_heads x head_dim x kv_bytes_per_element
//    (2 by default: an f16 cache; hfkit's own runtime keeps f32, pass 4 for that). Encoder-only
//    models (BERT) have no KV cache: 0.
//  - kv_bytes_total = kv_bytes_per_token x kv_context_length x batch.
//  - resident_estimate = resident_weight_bytes + kv_bytes_total + overhead_bytes, where
//    overhead_bytes = 32 MiB (code, tokenizer, allocator slack)
//                     + batch x 4 x (vocab + 4 hidden + 2 intermediate + heads x kv_context_length)
//    (f32 logits, the residual stream and its scratch copies, the MLP activations and one layer's
//    attention scores).
//  - available_memory: MemAvailable of /proc/meminfo, lowered to the cgroup v2 limit when one is
//    set; free_disk: statvfs of the HF cache (a Hub id) or of the model directory (local).
#pragma once

#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include "hub/hub.h"
#include "model/config.h"

namespace hfk {

// Bytes the weights take in each precision.
struct DtypeBytes {
    uint64_t f32 = 0, f16 = 0, q8 = 0, q4 = 0, q4_1 = 0;
};

struct Inspection {
    std::string source;                    // the id or path inspected
    std::string model_type, architecture;  // architecture = architectures[0]
    bool supported_for_inference = false;
    std::string unsupported_reason;  // why not (multimodal, MoE, unknown architecture, ...)
    bool multimodal = false;

    uint64_t parameters = 0;
    bool parameters_exact = false;  // true: summed from the safetensors headers
    // "safetensors_headers", "config" (a formula for a known family), "estimate" (the generic
    // decoder formula for an unknown model_type) or "unknown" (the config lacks the sizes).
    std::string parameters_source = "unknown";
    uint64_t active_parameters = 0;  // per token (MoE: routed experts only); = parameters otherwise

    int64_t vocab_size = 0, context_length = 0, layers = 0, heads = 0, kv_heads = 0, head_dim = 0,
            hidden_size = 0, intermediate_size = 0, num_experts = 0, experts_per_token = 0;
    bool tied_embeddings = false;

    std::string stored_dtype;                             // dominant header dtype, else torch_dtype
    std::map<std::string, uint64_t> parameters_by_dtype;  // from the headers
    std::vector<std::string> weight_files;                // the safetensors files read
    uint64_t stored_weight_bytes = 0;  // sum of the weight file sizes (from the headers)
    // The weights once loaded as stored: stored_weight_bytes, except for a pre-quantized
    // checkpoint (4-bit layers as Q4_1F blocks, 24 bytes per 32 weights; other codes as F16;
    // vectors as F32). resident_estimate counts this.
    uint64_t resident_weight_bytes = 0;
    DtypeBytes weight_bytes;

    int kv_bytes_per_element = 2;
    int64_t kv_context_length = 0;  // the context the KV total is for
    int64_t batch = 1;
    uint64_t kv_bytes_per_token = 0;
    uint64_t kv_bytes_total = 0;
    uint64_t overhead_bytes = 0;
    uint64_t resident_estimate = 0;

    uint64_t download_bytes = 0;  // weights still to fetch (0 for a local or fully cached model)
    uint64_t available_memory = 0, free_disk = 0;
    bool fits_memory = false, fits_disk = false;
    std::vector<std::string> notes;  // assumptions made, in plain words

    // One JSON object whose keys are the field names above (weight_bytes is an object with keys
    // f32, f16, q8_0, q4_0, q4_1). Keys are only ever added. Sizes are integers of bytes.
    std::string to_json() const;
};

struct InspectOptions {
    int64_t context_length = 0;    // 0 = the model's maximum
    int64_t batch = 1;             // >= 1
    int kv_bytes_per_element = 2;  // 1 (8-bit), 2 (f16, the default) or 4 (f32)
    hub::Options hub;
    // false: a Hub id's config.json and index are read without writing the cache (the memory
    // check before a download, whose refusal must leave nothing that looks like a model).
    bool write_cache = true;
};

// `what`: a local directory, a path to a config.json (headers are then read from its directory),
// or a Hub repo id. For a Hub id only config.json is fetched (through the cache), the file list is
// asked for, and ONLY the safetensors headers are read with HTTP Range requests (8 bytes, then the
// header, capped at 25 MB as huggingface_hub does); a sharded model's index is fetched and each
// shard's header read. Never the weights. Errors: HFK_E_NOT_FOUND (no such path, not a repo id),
// HFK_E_FORMAT (malformed config, index or header; absurd sizes), HFK_E_INVALID_ARG (options),
// and the Hub's codes (HFK_E_GATED with the Hub's message, HFK_E_AUTH, HFK_E_NETWORK, ...).
Inspection inspect_model(const std::string &what, const InspectOptions &opts);

// The parameter count from the config alone (used when the headers are unavailable). Exact for
// gpt2, llama, mistral, qwen2, qwen3, gemma/gemma2/gemma3_text, phi3, smollm3, mixtral and bert
// (with its pooler); other decoders get the llama-style formula as an estimate. Returns 0 when the
// config lacks the sizes. *active_out gets the per-token count (MoE). HFK_E_FORMAT when the sizes
// multiply to more than 2^50 parameters.
uint64_t count_parameters_from_config(const ModelConfig &cfg, uint64_t *active_out = nullptr);

// How count_parameters_from_config() counts this config: "config", "estimate" or "unknown".
std::string parameter_count_method(const ModelConfig &cfg);

}  // namespace hfk
