// Llama, Mistral and Qwen2: the shared decoder with its defaults (decoder.h). Pre-RMSNorm blocks,
// RoPE (linear / llama3 scaling), grouped-query attention, a gated MLP with the config's
// activation; q/k/v biases for Qwen2 (or attention_bias), mlp_bias; Mistral's sliding window on
// every layer, Qwen2's on layers >= max_window_layers when use_sliding_window.
#include "models/decoder.h"

namespace hfk::models {

std::shared_ptr<const Model> make_llama(ModelConfig cfg, std::shared_ptr<const WeightStore> store,
                                        const LoadOptions &opts,
                                        const std::function<bool(double)> &progress) {
    DecoderSpec spec = llama_like_spec(cfg);
    return make_decoder(std::move(cfg), std::move(spec), std::move(store), opts, progress);
}

}  // namespace hfk::models
