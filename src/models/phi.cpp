// Phi-1/1.5/2 (phi): one LayerNorm feeds attention and the MLP in parallel, and both add to
// the residual at once:  h = LN(x);  x = x + dense(attn(h)) + fc2(gelu_new(fc1(h))).
// Everything carries a bias (q/k/v/dense, fc1/fc2, the untied lm_head); RoPE covers the first
// head_dim * partial_rotary_factor dims (0.5 by default); qk_layernorm adds a per-head
// LayerNorm (with bias) on q and k before RoPE; a final LayerNorm before the head.
// The blocks (Rope with its scaling types, attention over the causal cache, linear, LayerNorm)
// are the shared ones; only the block wiring is Phi's.
#include <cmath>
#include <string>

#include "kernels/attention.h"
#include "kernels/matmul.h"
#include "kernels/ops.h"
#include "kernels/thread_pool.h"
#include "models/common.h"
#include "models/decoder.h"
#include "util/error.h"

namespace hfk::models {
namespace {

using kern::Layout;
using kern::Mat;

struct PhiLayer {
    std::vector<float> ln_w, ln_b, q_ln_w, q_ln_b, k_ln_w, k_ln_b;
    Mat wq, wk, wv, dense, fc1, fc2;
    std::vector<float> bq, bk, bv, b_dense, b_fc1, b_fc2;
};

class Phi final : public Model {
  public:
    Phi(ModelConfig cfg, std::shared_ptr<const WeightStore> store, const LoadOptions &opts,
        const std::function<bool(double)> &progress)
        : cfg_(std::move(cfg)), store_(store) {
        default_threads_ = opts.n_threads > 0 ? opts.n_threads : kern::hardware_threads();
        dim_ = cfg_.hidden_size;
        n_heads_ = cfg_.num_heads;
        n_kv_heads_ = cfg_.num_kv_heads > 0 ? cfg_.num_kv_heads : n_heads_;
        head_dim_ = cfg_.head_dim > 0 ? cfg_.head_dim : dim_ / n_heads_;
        ffn_ = cfg_.intermediate_size;
        vocab_ = cfg_.vocab_size;
        if (n_heads_ % n_kv_heads_ != 0 || ffn_ <= 0 || cfg_.max_position_embeddings <= 0)
            fail(HFK_E_FORMAT, "config.json: unusable phi shape (heads " +
                                   std::to_string(n_heads_) + ", kv heads " +
                                   std::to_string(n_kv_heads_) + ", intermediate_size " +
                                   std::to_string(ffn_) + ")");
        q_dim_ = n_heads_ * head_dim_;
        kv_dim_ = n_kv_heads_ * head_dim_;
        eps_ = float(cfg_.norm_eps);
        act_ = activation_from_config(cfg_.hidden_act);
        int64_t rot_dim = int64_t(double(head_dim_) * cfg_.partial_rotary_factor);  // int(), as HF
        rot_dim -= rot_dim % 2;
        rope_ =
            make_rope(cfg_.rope_scaling, cfg_.rope_theta, rot_dim, cfg_.max_position_embeddings);

        WeightLoader w(store, {}, opts);
        w.ignore_matching("rotary_emb.inv_freq");
        embed_ =
            w.matrix("model.embed_tokens.weight", vocab_, dim_, Layout::OutIn, MatUse::Embedding);
        for (int64_t l = 0; l < cfg_.num_layers; ++l) {
            const std::string p = "model.layers." + std::to_string(l) + ".";
            PhiLayer L;
            L.ln_w = w.vector(p + "input_layernorm.weight", dim_);
            L.ln_b = w.vector(p + "input_layernorm.bias", dim_);
            L.wq = w.matrix(p + "self_attn.q_proj.weight", q_dim_, dim_);
            L.bq = w.vector(p + "self_attn.q_proj.bias", q_dim_);
            L.wk = w.matrix(p + "self_attn.k_proj.weight", kv_dim_, dim_);
            L.bk = w.vector(p + "self_attn.k_proj.bias", kv_dim_);
            L.wv = w.matrix(p + "self_attn.v_proj.weight", kv_dim_, dim_);
            L.bv = w.vector(p + "self_attn.v_proj.bias", kv_dim_);
            L.dense = w.matrix(p + "self_attn.dense.weight", dim_, q_dim_);
            L.b_dense = w.vector(p + "self_attn.dense.bias", dim_);
            if (cfg_.qk_layernorm) {
                L.q_ln_w = w.vector(p + "self_attn.q_layernorm.weight", head_dim_);
                L.q_ln_b = w.vector(p + "self_attn.q_layernorm.bias", head_dim_);
                L.k_ln_w = w.vector(p + "self_attn.k_layernorm.weight", head_dim_);
                L.k_ln_b = w.vector(p + "self_attn.k_layernorm.bias", head_dim_);
            }
            L.fc1 = w.matrix(p + "mlp.fc1.weight", ffn_, dim_);
            L.b_fc1 = w.vector(p + "mlp.fc1.bias", ffn_);
            L.fc2 = w.matrix(p + "mlp.fc2.weight", dim_, ffn_);
            L.b_fc2 = w.vector(p + "mlp.fc2.bias", dim_);
            layers_.push_back(std::move(L));
            report_progress(progress, double(l + 1) / double(cfg_.num_layers + 1));
        }
        final_w_ = w.vector("model.final_layernorm.weight", dim_);
        final_b_ = w.vector("model.final_layernorm.bias", dim_);
        if (cfg_.tie_word_embeddings) {
            lm_head_ = embed_;
            if (w.has("lm_head.weight"))
                w.unused_matrix("lm_head.weight", vocab_, dim_);  // a saved copy
        } else {
            lm_head_ = w.matrix("lm_head.weight", vocab_, dim_, Layout::OutIn, MatUse::Embedding);
        }
        head_bias_ = w.optional_vector("lm_head.bias", vocab_);
        w.finish();
        weight_bytes_ = w.bound_bytes();
        copies_ = w.take_copies();
    }

    const ModelConfig &config() const override { return cfg_; }
    std::string architecture() const override { return "phi"; }
    bool is_causal() const override { return true; }
    int32_t vocab_size() const override { return int32_t(vocab_); }
    int32_t context_length() const override {
        return int32_t(rope_context_length(cfg_.rope_scaling, cfg_.max_position_embeddings));
    }
    uint64_t weight_bytes() const override { return weight_bytes_; }

    std::unique_ptr<KvCache> make_cache(int32_t n_ctx, DType kv_type) const override {
        return new_causal_cache(*this, kv_type, cfg_.num_layers, kv_dim_, head_dim_, n_ctx);
    }

    void forward(KvCache &cache_base, std::span<const int32_t> tokens, float *logits,
                 bool all_positions, int32_t n_threads) const override {
        CausalCache &c = check_forward(*this, cache_base, tokens, vocab_);
        const int64_t m = int64_t(tokens.size()), p0 = c.n_past();
        if (m == 0) return;
        const int nt = threads(n_threads);
        const CausalCache::Activations a = c.activations(m, dim_, q_dim_, q_dim_, ffn_, false);
        float *x = a.x, *xb = a.xb, *q = a.q, *att = a.att, *tmp = a.tmp, *hb = a.hb;

        for (int64_t i = 0; i < m; ++i) kern::get_row(embed_, tokens[size_t(i)], x + i * dim_);
        std::vector<float> cos_t, sin_t;
        rope_.tables(p0, m, cos_t, sin_t);
        const int64_t half = rope_.rot_dim / 2;
        auto head_norm = [&](float *v, int64_t n_h, const std::vector<float> &w,
                             const std::vector<float> &b) {
            for (int64_t h = 0; h < n_h; ++h)
                kern::layernorm(v + h * head_dim_, v + h * head_dim_, w.data(), b.data(), head_dim_,
                                eps_);
        };

        const kern::AttentionShape shape{n_heads_, n_kv_heads_, head_dim_};
        const float scale = float(1.0 / std::sqrt(double(head_dim_)));
        for (size_t l = 0; l < layers_.size(); ++l) {
            const PhiLayer &L = layers_[l];
            float *kn = c.new_keys(m), *vn = c.new_values(m);
            layernorm_rows(xb, x, m, dim_, L.ln_w, L.ln_b, eps_, nt);
            // Attention branch; new keys and values go to the cache by commit_rows.
            kern::linear(L.wq, Layout::OutIn, xb, m, L.bq.data(), q, nt);
            kern::linear(L.wk, Layout::OutIn, xb, m, L.bk.data(), kn, nt);
            kern::linear(L.wv, Layout::OutIn, xb, m, L.bv.data(), vn, nt);
            for_rows(m, nt, [&](int64_t i) {
                float *qi = q + i * q_dim_, *ki = kn + i * kv_dim_;
                if (cfg_.qk_layernorm) {
                    head_norm(qi, n_heads_, L.q_ln_w, L.q_ln_b);
                    head_norm(ki, n_kv_heads_, L.k_ln_w, L.k_ln_b);
                }
                const float *cs = &cos_t[size_t(i * half)], *sn = &sin_t[size_t(i * half)];
                rope_.apply(qi, n_heads_, head_dim_, cs, sn);
                rope_.apply(ki, n_kv_heads_, head_dim_, cs, sn);
            });
            c.commit_rows(int64_t(l), p0, m);
            kern::attention(q, m, p0, c.rows(int64_t(l)), p0 + m, shape, true, scale,
                            kern::AttentionOptions{}, att, nt);
            kern::linear(L.dense, Layout::OutIn, att, m, L.b_dense.data(), tmp, nt);
            kern::add(x, tmp, m * dim_);
            // MLP branch off the same normed input (xb), added to the same residual.
            kern::linear(L.fc1, Layout::OutIn, xb, m, L.b_fc1.data(), hb, nt);
            for_rows(m, nt, [&](int64_t i) { activate(act_, hb + i * ffn_, ffn_); });
            kern::linear(L.fc2, Layout::OutIn, hb, m, L.b_fc2.data(), tmp, nt);
            kern::add(x, tmp, m * dim_);
        }
        c.advance(int32_t(m));

        final_layernorm_logits(x, m, all_positions, dim_, final_w_, final_b_, eps_, lm_head_,
                               head_bias_, xb, logits, nt);
    }

  private:
    ModelConfig cfg_;
    std::shared_ptr<const WeightStore> store_;  // keeps the memory map alive
    WeightArena copies_;                        // the weights converted at load
    int64_t dim_, n_heads_, n_kv_heads_, head_dim_, q_dim_, kv_dim_, ffn_, vocab_;
    float eps_;
    Act act_ = Act::GeluTanh;
    Rope rope_;
    Mat embed_, lm_head_;
    std::vector<PhiLayer> layers_;
    std::vector<float> final_w_, final_b_, head_bias_;
    uint64_t weight_bytes_ = 0;
};

}  // namespace

std::shared_ptr<const Model> make_phi(ModelConfig cfg, std::shared_ptr<const WeightStore> store,
                                      const LoadOptions &opts,
                                      const std::function<bool(double)> &progress) {
    return std::make_shared<Phi>(std::move(cfg), std::move(store), opts, progress);
}

}  // namespace hfk::models
