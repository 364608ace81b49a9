// Phi-3 / Phi-3.5 / Phi-4-mini (phi3): Llama-shaped with fused projections, split at load
// without copying (qkv_proj = [q; k; v] rows, gate_up_proj = [gate; up] rows), RoPE over the
// first head_dim * partial_rotary_factor dims (Phi-4-mini), LongRoPE ("longrope" / "su":
// short_factor and long_factor, cos/sin scaled by the context ratio's attention factor), and
// the config's sliding window on every layer.
#include "models/decoder.h"

namespace hfk::models {

std::shared_ptr<const Model> make_phi3(ModelConfig cfg, std::shared_ptr<const WeightStore> store,
                                       const LoadOptions &opts,
                                       const std::function<bool(double)> &progress) {
    DecoderSpec spec = llama_like_spec(cfg);
    spec.fused_qkv = true;
    spec.fused_gate_up = true;
    return make_decoder(std::move(cfg), std::move(spec), std::move(store), opts, progress);
}

}  // namespace hfk::models
