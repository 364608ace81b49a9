// The Llama family (llama, mistral, qwen2): pre-RMSNorm decoder blocks, rotary position embedding
// in the Hugging Face rotate_half layout, grouped-query attention, SiLU-gated MLP; optional biases
// (Qwen2 has them on q/k/v; `attention_bias` / `mlp_bias` add them elsewhere); tied or separate
// lm_head. Weights are nn.Linear, stored [out, in].
#include <cmath>
#include <string>

#include "kernels/attention.h"
#include "kernels/matmul.h"
#include "kernels/ops.h"
#include "kernels/thread_pool.h"
#include "models/common.h"
#include "util/error.h"

namespace hfk::models {
namespace {

using kern::Layout;
using kern::Mat;

struct LlamaLayer {
    std::vector<float> attn_norm, ffn_norm;
    Mat wq, wk, wv, wo, w_gate, w_up, w_down;
    std::vector<float> bq, bk, bv, bo, b_gate, b_up, b_down;  // empty when absent
};

const float *bias(const std::vector<float> &b) {
    return b.empty() ? nullptr : b.data();
}

// Per-pair rotation frequencies, in double (then the angles, cos and sin), as the reference does.
std::vector<double> rope_inv_freq(const ModelConfig &cfg, int64_t head_dim) {
    std::vector<double> inv(size_t(head_dim / 2));
    for (size_t i = 0; i < inv.size(); ++i)
        inv[i] = 1.0 / std::pow(cfg.rope_theta, double(2 * i) / double(head_dim));
    const RopeScaling &s = cfg.rope_scaling;
    if (s.type == "linear") {
        for (double &f : inv) f /= s.factor;
    } else if (s.type == "llama3") {
        // Llama 3.1: long wavelengths slowed by `factor`, short ones kept, a smooth ramp between.
        const double old_ctx = double(s.original_max_position_embeddings);
        const double low_wavelen = old_ctx / s.low_freq_factor;
        const double high_wavelen = old_ctx / s.high_freq_factor;
        for (double &f : inv) {
            const double wavelen = 2 * M_PI / f;
            const double scaled = wavelen > low_wavelen ? f / s.factor : f;
            if (wavelen >= high_wavelen && wavelen <= low_wavelen) {
                const double smooth = (old_ctx / wavelen - s.low_freq_factor) /
                                      (s.high_freq_factor - s.low_freq_factor);
                f = (1 - smooth) * scaled / s.factor + smooth * scaled;
            } else {
                f = scaled;
            }
        }
    }
    return inv;
}

class Llama final : public Model {
  public:
    Llama(ModelConfig cfg, std::shared_ptr<const WeightStore> store, const LoadOptions &opts,
          const std::function<bool(double)> &progress)
        : cfg_(std::move(cfg)), store_(store) {
        default_threads_ = opts.n_threads > 0 ? opts.n_threads : kern::hardware_threads();
        dim_ = cfg_.hidden_size;
        n_heads_ = cfg_.num_heads;
        n_kv_heads_ = cfg_.num_kv_heads > 0 ? cfg_.num_kv_heads : n_heads_;
        head_dim_ = cfg_.head_dim > 0 ? cfg_.head_dim : dim_ / n_heads_;
        ffn_ = cfg_.intermediate_size;
        vocab_ = cfg_.vocab_size;
        if (n_heads_ % n_kv_heads_ != 0 || head_dim_ % 2 != 0 || ffn_ <= 0)
            fail(HFK_E_FORMAT, "config.json: unusable attention shape (heads " +
                                   std::to_string(n_heads_) + ", kv heads " +
                                   std::to_string(n_kv_heads_) + ", head_dim " +
                                   std::to_string(head_dim_) + ")");
        q_dim_ = n_heads_ * head_dim_;
        kv_dim_ = n_kv_heads_ * head_dim_;
        eps_ = float(cfg_.norm_eps);
        inv_freq_ = rope_inv_freq(cfg_, head_dim_);

        WeightLoader w(store, {});
        w.ignore_matching("rotary_emb.inv_freq");
        embed_ = w.matrix("model.embed_tokens.weight", vocab_, dim_);
        for (int64_t l = 0; l < cfg_.num_layers; ++l) {
            const std::string p = "model.layers." + std::to_string(l) + ".";
            LlamaLayer L;
            L.attn_norm = w.vector(p + "input_layernorm.weight", dim_);
            L.wq = w.matrix(p + "self_attn.q_proj.weight", q_dim_, dim_);
            L.wk = w.matrix(p + "self_attn.k_proj.weight", kv_dim_, dim_);
            L.wv = w.matrix(p + "self_attn.v_proj.weight", kv_dim_, dim_);
            L.wo = w.matrix(p + "self_attn.o_proj.weight", dim_, q_dim_);
            L.bq = w.optional_vector(p + "self_attn.q_proj.bias", q_dim_);
            L.bk = w.optional_vector(p + "self_attn.k_proj.bias", kv_dim_);
            L.bv = w.optional_vector(p + "self_attn.v_proj.bias", kv_dim_);
            L.bo = w.optional_vector(p + "self_attn.o_proj.bias", dim_);
            L.ffn_norm = w.vector(p + "post_attention_layernorm.weight", dim_);
            L.w_gate = w.matrix(p + "mlp.gate_proj.weight", ffn_, dim_);
            L.w_up = w.matrix(p + "mlp.up_proj.weight", ffn_, dim_);
            L.w_down = w.matrix(p + "mlp.down_proj.weight", dim_, ffn_);
            L.b_gate = w.optional_vector(p + "mlp.gate_proj.bias", ffn_);
            L.b_up = w.optional_vector(p + "mlp.up_proj.bias", ffn_);
            L.b_down = w.optional_vector(p + "mlp.down_proj.bias", dim_);
            layers_.push_back(std::move(L));
            report_progress(progress, double(l + 1) / double(cfg_.num_layers + 1));
        }
        final_norm_ = w.vector("model.norm.weight", dim_);
        if (cfg_.tie_word_embeddings) {
            lm_head_ = embed_;
            if (w.has("lm_head.weight")) w.matrix("lm_head.weight", vocab_, dim_);  // a saved copy
        } else {
            lm_head_ = w.matrix("lm_head.weight", vocab_, dim_);
        }
        w.finish();
        weight_bytes_ = w.bound_bytes();
        copies_ = w.take_copies();
    }

    const ModelConfig &config() const override { return cfg_; }
    std::string architecture() const override {
        return cfg_.model_type == "mistral" || cfg_.model_type == "qwen2" ? cfg_.model_type
                                                                          : "llama";
    }
    bool is_causal() const override { return true; }
    int32_t vocab_size() const override { return int32_t(vocab_); }
    int32_t context_length() const override { return int32_t(cfg_.max_position_embeddings); }
    uint64_t weight_bytes() const override { return weight_bytes_; }

    std::unique_ptr<KvCache> new_cache(int32_t n_ctx) const override {
        if (n_ctx <= 0) n_ctx = context_length();
        if (n_ctx > context_length())
            fail(HFK_E_INVALID_ARG, "n_ctx " + std::to_string(n_ctx) +
                                        " exceeds the model's context length " +
                                        std::to_string(context_length()));
        return std::make_unique<CausalCache>(this, cfg_.num_layers, kv_dim_, n_ctx);
    }

    void forward(KvCache &cache_base, std::span<const int32_t> tokens, float *logits,
                 bool all_positions, int32_t n_threads) const override {
        CausalCache &c = check_forward(*this, cache_base, tokens, vocab_);
        const int64_t m = int64_t(tokens.size()), p0 = c.n_past();
        if (m == 0) return;
        const int nt = threads(n_threads);
        c.x.resize(size_t(m * dim_));
        c.xb.resize(size_t(m * dim_));
        c.q.resize(size_t(m * q_dim_));
        c.att.resize(size_t(m * q_dim_));
        c.tmp.resize(size_t(m * dim_));
        c.hb.resize(size_t(m * ffn_));
        c.hb2.resize(size_t(m * ffn_));
        float *x = c.x.data(), *xb = c.xb.data(), *q = c.q.data(), *att = c.att.data(),
              *tmp = c.tmp.data(), *hb = c.hb.data(), *hb2 = c.hb2.data();

        for (int64_t i = 0; i < m; ++i) kern::get_row(embed_, tokens[size_t(i)], x + i * dim_);

        // cos/sin of every (new position, frequency) pair, shared by all layers and heads.
        const int64_t half = head_dim_ / 2;
        std::vector<float> cos_t(size_t(m * half)), sin_t(size_t(m * half));
        for (int64_t i = 0; i < m; ++i)
            for (int64_t j = 0; j < half; ++j) {
                const double angle = double(p0 + i) * inv_freq_[size_t(j)];
                cos_t[size_t(i * half + j)] = float(std::cos(angle));
                sin_t[size_t(i * half + j)] = float(std::sin(angle));
            }
        auto rope = [&](float *v, int64_t row, int64_t n_h) {  // heads of one row, in place
            const float *cs = &cos_t[size_t(row * half)], *sn = &sin_t[size_t(row * half)];
            for (int64_t h = 0; h < n_h; ++h) {
                float *a = v + h * head_dim_, *b = a + half;
                for (int64_t j = 0; j < half; ++j) {
                    const float x1 = a[j], x2 = b[j];
                    a[j] = x1 * cs[j] - x2 * sn[j];
                    b[j] = x2 * cs[j] + x1 * sn[j];
                }
            }
        };

        const kern::AttentionShape shape{n_heads_, n_kv_heads_, head_dim_};
        const float scale = float(1.0 / std::sqrt(double(head_dim_)));
        for (size_t l = 0; l < layers_.size(); ++l) {
            const LlamaLayer &L = layers_[l];
            float *kc = c.keys(int64_t(l)), *vc = c.values(int64_t(l));
            // Attention block. New keys and values go straight into the cache rows p0..p0+m.
            for_rows(m, nt, [&](int64_t i) {
                kern::rmsnorm(xb + i * dim_, x + i * dim_, L.attn_norm.data(), dim_, eps_);
            });
            kern::linear(L.wq, Layout::OutIn, xb, m, bias(L.bq), q, nt);
            kern::linear(L.wk, Layout::OutIn, xb, m, bias(L.bk), kc + p0 * kv_dim_, nt);
            kern::linear(L.wv, Layout::OutIn, xb, m, bias(L.bv), vc + p0 * kv_dim_, nt);
            for_rows(m, nt, [&](int64_t i) {
                rope(q + i * q_dim_, i, n_heads_);
                rope(kc + (p0 + i) * kv_dim_, i, n_kv_heads_);
            });
            kern::attention(q, m, p0, kc, vc, kv_dim_, p0 + m, shape, true, scale, att, nt);
            kern::linear(L.wo, Layout::OutIn, att, m, bias(L.bo), tmp, nt);
            kern::add(x, tmp, m * dim_);
            // Feed-forward block: down(silu(gate(x)) * up(x)).
            for_rows(m, nt, [&](int64_t i) {
                kern::rmsnorm(xb + i * dim_, x + i * dim_, L.ffn_norm.data(), dim_, eps_);
            });
            kern::linear(L.w_gate, Layout::OutIn, xb, m, bias(L.b_gate), hb, nt);
            kern::linear(L.w_up, Layout::OutIn, xb, m, bias(L.b_up), hb2, nt);
            for_rows(m, nt,
                     [&](int64_t i) { kern::silu_mul(hb + i * ffn_, hb2 + i * ffn_, ffn_); });
            kern::linear(L.w_down, Layout::OutIn, hb, m, bias(L.b_down), tmp, nt);
            kern::add(x, tmp, m * dim_);
        }
        c.advance(int32_t(m));

        // Logits of every position, or of the last one only.
        const int64_t first = all_positions ? 0 : m - 1, rows = m - first;
        for (int64_t i = 0; i < rows; ++i)
            kern::rmsnorm(xb + i * dim_, x + (first + i) * dim_, final_norm_.data(), dim_, eps_);
        kern::linear(lm_head_, Layout::OutIn, xb, rows, nullptr, logits, nt);
    }

  private:
    ModelConfig cfg_;
    std::shared_ptr<const WeightStore> store_;  // keeps the memory map alive
    std::vector<std::unique_ptr<uint8_t[]>> copies_;
    int64_t dim_, n_heads_, n_kv_heads_, head_dim_, q_dim_, kv_dim_, ffn_, vocab_;
    float eps_;
    std::vector<double> inv_freq_;
    Mat embed_, lm_head_;
    std::vector<LlamaLayer> layers_;
    std::vector<float> final_norm_;
    uint64_t weight_bytes_ = 0;
};

}  // namespace

std::shared_ptr<const Model> make_llama(ModelConfig cfg, std::shared_ptr<const WeightStore> store,
                                        const LoadOptions &opts,
                                        const std::function<bool(double)> &progress) {
    return std::make_shared<Llama>(std::move(cfg), std::move(store), opts, progress);
}

}  // namespace hfk::models
