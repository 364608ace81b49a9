// The shared pre-norm decoder of the rotary architectures (Llama, Mistral, Qwen2/3, Gemma 1/2/3,
// SmolLM3), and the blocks it is built from. An architecture file only describes how it differs
// (a DecoderSpec: activation, norms, q/k norm, soft-caps, per-layer windows and RoPE); the layer
// loop, the KV cache and the kernels are here once.
//
// Sliding windows are a masked window over the full cache (kern::AttentionOptions::window): the
// cache keeps every position, attention reads only the last `window` keys of each row.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "models/common.h"
#include "models/moe.h"
#include "models/rope.h"

namespace hfk::models {

// hidden_act -> Act (config.cpp has already refused anything else; "" is SiLU).
Act activation_from_config(const std::string &hidden_act);
// Gated MLP activations: gate[i] = act(gate[i]) * up[i] (Act: common.h)
void gated_act(float *gate, const float *up, int64_t n, Act act);

// What an architecture file says about itself.
struct DecoderSpec {
    Act act = Act::Silu;
    float embed_scale = 0;       // embeddings * this (Gemma: sqrt(hidden)); 0 = none
    bool norm_plus_one = false;  // RMSNorm weights stored as w, applied as (1 + w) (Gemma)
    bool qk_norm = false;        // per-head RMSNorm of q and k before RoPE (Qwen3, Gemma 3)
    bool fused_qkv = false;      // self_attn.qkv_proj = [q; k; v] rows (Phi-3)
    bool fused_gate_up = false;  // mlp.gate_up_proj = [gate; up] rows (Phi-3)
    float attn_scale = 0;        // 0: head_dim^-0.5
    float attn_softcap = 0;      // tanh soft-cap of attention scores (Gemma 2); 0 = none
    float final_softcap = 0;     // tanh soft-cap of the logits (Gemma 2/3); 0 = none
    // Norm weight names inside model.layers.N. ("" = the block has no such norm).
    std::string attn_norm = "input_layernorm";
    std::string post_attn_norm;                         // on the attention output (Gemma 2/3)
    std::string ffn_norm = "post_attention_layernorm";  // before the MLP
    std::string post_ffn_norm;                          // on the MLP output (Gemma 2/3)
    // Per layer: index into ropes (-1: NoPE layer) and attention window (0: full).
    std::vector<Rope> ropes;
    std::vector<int> layer_rope;
    std::vector<int64_t> layer_window;
    // Sparse MoE layers (Mixtral, Qwen3-MoE; moe.h): routed experts in place of the dense MLP.
    MoeSpec moe;
    // Where the weights are: prefixes tried before the names above (gemma3's
    // "language_model."), and tensors the model does not use (a vision tower).
    std::vector<std::string> weight_prefixes, ignored_weights;
};

// The spec's defaults filled from the config: activation, one RoPE (or NoPE per
// cfg.layer_rope), cfg.layer_window.
DecoderSpec llama_like_spec(const ModelConfig &cfg);

std::shared_ptr<const Model> make_decoder(ModelConfig cfg, DecoderSpec spec,
                                          std::shared_ptr<const WeightStore> store,
                                          const LoadOptions &opts,
                                          const std::function<bool(double)> &progress);

// Architecture files.
std::shared_ptr<const Model> make_qwen3(ModelConfig cfg, std::shared_ptr<const WeightStore> store,
                                        const LoadOptions &opts,
                                        const std::function<bool(double)> &progress);
std::shared_ptr<const Model> make_gemma(ModelConfig cfg, std::shared_ptr<const WeightStore> store,
                                        const LoadOptions &opts,
                                        const std::function<bool(double)> &progress);
std::shared_ptr<const Model> make_phi3(ModelConfig cfg, std::shared_ptr<const WeightStore> store,
                                       const LoadOptions &opts,
                                       const std::function<bool(double)> &progress);
std::shared_ptr<const Model> make_mixtral(ModelConfig cfg, std::shared_ptr<const WeightStore> store,
                                          const LoadOptions &opts,
                                          const std::function<bool(double)> &progress);
std::shared_ptr<const Model> make_qwen3_moe(ModelConfig cfg,
                                            std::shared_ptr<const WeightStore> store,
                                            const LoadOptions &opts,
                                            const std::function<bool(double)> &progress);
std::shared_ptr<const Model> make_smollm3(ModelConfig cfg, std::shared_ptr<const WeightStore> store,
                                          const LoadOptions &opts,
                                          const std::function<bool(double)> &progress);

}  // namespace hfk::models
