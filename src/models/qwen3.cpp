// Qwen3: Llama-shaped, with a per-head RMSNorm of q and k before RoPE, no q/k/v bias, and
// head_dim from the config (not hidden / heads). Sliding layers (use_sliding_window) are those
// >= max_window_layers, or as `layer_types` says.
#include "models/decoder.h"

namespace hfk::models {

std::shared_ptr<const Model> make_qwen3(ModelConfig cfg, std::shared_ptr<const WeightStore> store,
                                        const LoadOptions &opts,
                                        const std::function<bool(double)> &progress) {
    DecoderSpec spec = llama_like_spec(cfg);
    spec.qk_norm = true;
    return make_decoder(std::move(cfg), std::move(spec), std::move(store), opts, progress);
}

}  // namespace hfk::models
