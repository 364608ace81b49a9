// Qwen3-MoE (qwen3_moe): Qwen3's attention (per-head q/k RMSNorm before RoPE, head_dim from the
// config) with sparse MoE blocks (moe.h): mlp.gate routes each token to num_experts_per_tok of
// num_experts SwiGLU experts (gate_proj / up_proj / down_proj of moe_intermediate_size), top-k
// weights renormalized only when norm_topk_prob. Layers in mlp_only_layers, or whose (i + 1) is
// not a multiple of decoder_sparse_step, keep a dense MLP of intermediate_size.
#include "models/decoder.h"

namespace hfk::models {

std::shared_ptr<const Model> make_qwen3_moe(ModelConfig cfg,
                                            std::shared_ptr<const WeightStore> store,
                                            const LoadOptions &opts,
                                            const std::function<bool(double)> &progress) {
    DecoderSpec spec = llama_like_spec(cfg);
    spec.qk_norm = true;
    spec.moe = {"mlp.gate",
                "mlp.experts.",
                "gate_proj",
                "up_proj",
                "down_proj",
                cfg.num_experts,
                cfg.num_experts_per_tok,
                cfg.moe_intermediate_size,
                cfg.norm_topk_prob,
                cfg.layer_sparse};
    return make_decoder(std::move(cfg), std::move(spec), std::move(store), opts, progress);
}

}  // namespace hfk::models
