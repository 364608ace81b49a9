// SmolLM3: Llama with NoPE layers. no_rope_layers[i] == 1 means layer i applies RoPE (0: no
// position encoding at all); without the list every no_rope_layer_interval-th layer is NoPE
// (config.cpp fills ModelConfig::layer_rope, llama_like_spec turns it into NoPE layers).
#include "models/decoder.h"

namespace hfk::models {

std::shared_ptr<const Model> make_smollm3(ModelConfig cfg, std::shared_ptr<const WeightStore> store,
                                          const LoadOptions &opts,
                                          const std::function<bool(double)> &progress) {
    DecoderSpec spec = llama_like_spec(cfg);
    return make_decoder(std::move(cfg), std::move(spec), std::move(store), opts, progress);
}

}  // namespace hfk::models
