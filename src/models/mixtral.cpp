// Mixtral (mixtral): Mistral's decoder (GQA, RoPE, the sliding window on every layer when
// configured) whose every MLP is a sparse MoE block (moe.h): block_sparse_moe.gate routes each
// token to num_experts_per_tok of num_local_experts SwiGLU experts (w1 = gate, w3 = up,
// w2 = down, intermediate_size each), whose top-k weights are always renormalized to sum 1.
#include "models/decoder.h"

namespace hfk::models {

std::shared_ptr<const Model> make_mixtral(ModelConfig cfg, std::shared_ptr<const WeightStore> store,
                                          const LoadOptions &opts,
                                          const std::function<bool(double)> &progress) {
    DecoderSpec spec = llama_like_spec(cfg);
    spec.moe = {"block_sparse_moe.gate",
                "block_sparse_moe.experts.",
                "w1",
                "w3",
                "w2",
                cfg.num_experts,
                cfg.num_experts_per_tok,
                cfg.moe_intermediate_size,
                /*renormalize=*/true,
                cfg.layer_sparse};
    return make_decoder(std::move(cfg), std::move(spec), std::move(store), opts, progress);
}

}  // namespace hfk::models
