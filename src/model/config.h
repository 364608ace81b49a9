// config.json: the model's hyperparameters, from either naming convention (GPT-2 style n_embd /
// n_layer / n_head, or the HF style hidden_size / num_hidden_layers / ...). The file is untrusted:
// RELIABILITY.md a.2 (depth bound, type checks, range caps, divisibility).
#pragma once

#include <cstdint>
#include <filesystem>
#include <string>
#include <string_view>
#include <vector>

#include <nlohmann/json.hpp>

namespace hfk {

struct RopeScaling {
    // "", "linear", "dynamic", "yarn", "longrope", "llama3" (others are kept here; rejected at
    // inference, models/rope.h)
    std::string type;
    double factor = 1;
    double low_freq_factor = 1;
    double high_freq_factor = 4;
    int64_t original_max_position_embeddings = 0;
    // longrope (Phi-3 "su"): per-frequency divisors for sequences up to / beyond the original
    // context, and the cos/sin scale (0 = derived from the context ratio, as transformers does).
    std::vector<double> short_factor, long_factor;
    double attention_factor = 0;
    bool factor_given = false;  // "factor" was in the config (yarn derives it otherwise)
    // yarn: the ramp's rotation bounds, the mscale pair of the attention factor (0 = unset), and
    // whether the ramp bounds are rounded outwards.
    double beta_fast = 32, beta_slow = 1, mscale = 0, mscale_all_dim = 0;
    bool truncate = true;
};

struct ModelConfig {
    std::string model_type;
    std::vector<std::string> architectures;
    int64_t vocab_size = 0, hidden_size = 0, num_layers = 0, num_heads = 0, num_kv_heads = 0,
            head_dim = 0, intermediate_size = 0, max_position_embeddings = 0, type_vocab_size = 0;
    double norm_eps = 1e-5;
    double rope_theta = 10000;
    RopeScaling rope_scaling;
    bool tie_word_embeddings = false;
    bool attention_bias = false;
    bool mlp_bias = false;
    bool qkv_bias = false;  // q/k/v projections carry biases: attention_bias, or Qwen2 (always)
    int64_t sliding_window =
        0;  // 0 = full attention (Mistral's sliding_window; Qwen2 only if enabled)
    // Per layer (num_layers entries, decoders only): the attention window (0 = full attention),
    // from `layer_types` or the family's rule (Mistral: all; Qwen2/3: layers >= max_window_layers
    // when use_sliding_window; Gemma 2: even layers; Gemma 3: all but every
    // sliding_window_pattern-th), and whether the layer applies RoPE (SmolLM3's no_rope_layers).
    std::vector<int64_t> layer_window;
    std::vector<bool> layer_rope;
    // Gemma family: attention scale query_pre_attn_scalar^-0.5 (0: head_dim^-0.5), tanh soft-caps
    // of attention scores and final logits (0: none), Gemma 3's RoPE base of sliding layers.
    double query_pre_attn_scalar = 0, attn_logit_softcapping = 0, final_logit_softcapping = 0;
    double rope_local_base_freq = 0;
    double partial_rotary_factor = 1;  // RoPE over the first head_dim * this dims (Phi-2/3/4)
    bool qk_layernorm = false;         // Phi-2: per-head LayerNorm of q and k
    // Why this config cannot run although its family can (an unknown activation, layer type,
    // ...): HFK_E_UNSUPPORTED at check_supported_for_inference. Empty when fine.
    std::string unsupported_reason;
    std::string hidden_act;
    std::string torch_dtype;
    std::vector<int32_t> bos_token_ids, eos_token_ids;
    int32_t pad_token_id = -1;
    std::vector<std::string> id2label;  // sequence-classification labels, index = class id
    int64_t num_experts = 0, num_experts_per_tok = 0;  // MoE (num_local_experts / num_experts)
    // Sparse MoE (mixtral, qwen3_moe): the intermediate size of one expert (Mixtral:
    // intermediate_size; Qwen3-MoE: moe_intermediate_size), whether the top-k routing weights are
    // renormalized to sum 1 (Mixtral always; Qwen3-MoE when norm_topk_prob), and per layer
    // whether its MLP is the routed experts (Qwen3-MoE: not in mlp_only_layers and
    // (i + 1) % decoder_sparse_step == 0; a dense MLP of intermediate_size otherwise).
    int64_t moe_intermediate_size = 0;
    bool norm_topk_prob = false;
    std::vector<bool> layer_sparse;
    bool multimodal = false;
    std::string multimodal_reason;  // vision/audio sub-configs
    // A multimodal checkpoint whose language model runs alone (gemma3: text_config and the
    // language_model.* weights; the vision tower is not loaded). load_note says so to the user.
    bool text_part_only = false;
    std::string load_note;
    nlohmann::json raw;  // the (depth-bounded) parsed object, for anything else
};

// Caps (RELIABILITY.md CJ1, CJ3).
inline constexpr size_t kConfigMaxBytes = 1 << 20;
inline constexpr int kJsonMaxDepth = 64;
inline constexpr int64_t kConfigMaxDim = int64_t(1) << 24;
inline constexpr int64_t kConfigMaxLayers = 1024;
inline constexpr int64_t kConfigMaxVocab = (int64_t(1) << 31) - 1;

// Parses untrusted JSON text with a depth bound (> kJsonMaxDepth is rejected while parsing, before
// any DOM is copied or dumped), duplicate-key rejection and UTF-8 checking. HFK_E_FORMAT naming
// file_name on any failure. Shared by config.json, generation_config.json and the index.json.
nlohmann::json parse_untrusted_json(std::string_view text, std::string_view file_name,
                                    size_t max_bytes = kConfigMaxBytes);

// Parses any config.json (see the file comment). Wrong types, non-positive or absurd sizes, heads
// not dividing hidden (without head_dim), kv heads not dividing heads, non-object JSON and depth
// bombs are HFK_E_FORMAT naming the field. Unknown rope_scaling types are kept (not an error here).
ModelConfig parse_config(std::string_view json_text, std::string_view file_name = "config.json");
// Reads dir/config.json (HFK_E_NOT_FOUND if absent, HFK_E_IO if unreadable).
ModelConfig load_config(const std::filesystem::path &dir);

// Inference support: model_type (or architectures) in the families of kInferenceFamilies, not
// multimodal, a rope_scaling type models/rope.h computes, an activation the family allows; else
// HFK_E_UNSUPPORTED with the reason (naming the config field).
void check_supported_for_inference(const ModelConfig &cfg);

// The architecture family a config would run as ("" if none): model_type, else architectures[0].
std::string inference_family(const ModelConfig &cfg);

// Reads a whole small file (HFK_E_NOT_FOUND / HFK_E_IO; HFK_E_FORMAT if larger than max_bytes).
std::string read_small_file(const std::filesystem::path &path, size_t max_bytes);

}  // namespace hfk
