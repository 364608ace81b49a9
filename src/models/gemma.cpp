// Gemma (gemma), Gemma 2 (gemma2) and the text model of Gemma 3 (gemma3_text).
//   all:      RMSNorm weights applied as (1 + w); embeddings scaled by sqrt(hidden) (rounded to
//             F32, as the reference's normalizer tensor); GeGLU (gelu_pytorch_tanh); tied head.
//   Gemma 2:  norms after attention and after the MLP as well as before; attention scale
//             query_pre_attn_scalar^-0.5; tanh soft-caps of attention scores and logits; a
//             sliding window on even layers.
//   Gemma 3:  Gemma 2's norms and scale, per-head q/k norm, 5 sliding : 1 global layers (or
//             layer_types), sliding layers with their own RoPE base (rope_local_base_freq, no
//             scaling) and global ones with rope_theta and the config's scaling; no attention
//             soft-cap (the reference never applies it), an optional final one.
//   gemma3:   the multimodal checkpoint's language model (text_config, weights under
//             language_model.), its vision tower and projector left unloaded.
#include <cmath>

#include "models/decoder.h"

namespace hfk::models {

std::shared_ptr<const Model> make_gemma(ModelConfig cfg, std::shared_ptr<const WeightStore> store,
                                        const LoadOptions &opts,
                                        const std::function<bool(double)> &progress) {
    const std::string fam = inference_family(cfg);
    DecoderSpec spec = llama_like_spec(cfg);
    spec.norm_plus_one = true;
    spec.embed_scale = float(std::sqrt(double(cfg.hidden_size)));
    if (fam == "gemma2" || fam == "gemma3_text") {
        spec.post_attn_norm = "post_attention_layernorm";
        spec.ffn_norm = "pre_feedforward_layernorm";
        spec.post_ffn_norm = "post_feedforward_layernorm";
        spec.attn_scale = float(1.0 / std::sqrt(cfg.query_pre_attn_scalar));
        spec.attn_softcap = float(cfg.attn_logit_softcapping);
        spec.final_softcap = float(cfg.final_logit_softcapping);
    }
    if (fam == "gemma3_text") {
        spec.qk_norm = true;
        // ropes[0]: global layers (llama_like_spec's); ropes[1]: sliding layers.
        spec.ropes.push_back(
            make_rope(RopeScaling{}, cfg.rope_local_base_freq, spec.ropes[0].rot_dim));
        for (size_t l = 0; l < spec.layer_window.size(); ++l)
            if (spec.layer_window[l] > 0) spec.layer_rope[l] = 1;
    }
    if (cfg.text_part_only) {  // Gemma3ForConditionalGeneration: its language model alone
        spec.weight_prefixes = {"language_model."};
        spec.ignored_weights = {"vision_tower.", "multi_modal_projector."};
    }
    return make_decoder(std::move(cfg), std::move(spec), std::move(store), opts, progress);
}

}  // namespace hfk::models
