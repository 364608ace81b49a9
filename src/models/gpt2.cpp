// GPT-2: learned absolute positions, pre-LayerNorm blocks, fused q/k/v projection, gelu_new MLP,
// lm_head tied to the token embedding. Its Conv1D layers store weights [in, out] (y = x W + b), the
// transpose of nn.Linear. Names may carry the `transformer.` prefix (GPT2LMHeadModel).
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

struct Gpt2Layer {
    std::vector<float> ln1_w, ln1_b, ln2_w, ln2_b;
    // Stored [in, out]; 16-bit ones transposed at load to [out, in] (WeightLoader::conv1d_matrix
    // says why), each with its layout.
    Mat c_attn, attn_proj, c_fc, mlp_proj;
    Layout c_attn_l{}, attn_proj_l{}, c_fc_l{}, mlp_proj_l{};
    std::vector<float> c_attn_b, attn_proj_b, c_fc_b, mlp_proj_b;
};

bool json_bool(const nlohmann::json &raw, const char *key, bool fallback) {
    if (!raw.is_object()) return fallback;
    auto it = raw.find(key);
    return it != raw.end() && it->is_boolean() ? it->get<bool>() : fallback;
}

class Gpt2 final : public Model {
  public:
    Gpt2(ModelConfig cfg, std::shared_ptr<const WeightStore> store, const LoadOptions &opts,
         const std::function<bool(double)> &progress)
        : cfg_(std::move(cfg)), store_(store) {
        default_threads_ = opts.n_threads > 0 ? opts.n_threads : kern::hardware_threads();
        dim_ = cfg_.hidden_size;
        n_heads_ = cfg_.num_heads;
        head_dim_ = dim_ / n_heads_;
        ffn_ = cfg_.intermediate_size > 0 ? cfg_.intermediate_size : 4 * dim_;
        vocab_ = cfg_.vocab_size;
        n_pos_ = cfg_.max_position_embeddings;
        eps_ = float(cfg_.norm_eps);
        if (head_dim_ * n_heads_ != dim_)
            fail(HFK_E_FORMAT, "config.json: n_embd " + std::to_string(dim_) +
                                   " is not a multiple of n_head " + std::to_string(n_heads_));
        std::string act = cfg_.hidden_act;
        if (act.empty() && cfg_.raw.is_object() && cfg_.raw.contains("activation_function") &&
            cfg_.raw["activation_function"].is_string())
            act = cfg_.raw["activation_function"].get<std::string>();
        if (act.empty() || act == "gelu_new" || act == "gelu_pytorch_tanh" || act == "gelu_fast")
            act_ = Act::GeluTanh;
        else if (act == "gelu")
            act_ = Act::GeluErf;
        else if (act == "relu")
            act_ = Act::Relu;
        else if (act == "silu" || act == "swish")
            act_ = Act::Silu;
        else
            fail(HFK_E_UNSUPPORTED,
                 "config.json: activation_function '" + act + "' is not supported");
        scale_by_layer_ = json_bool(cfg_.raw, "scale_attn_by_inverse_layer_idx", false);
        scale_weights_ = json_bool(cfg_.raw, "scale_attn_weights", true);

        WeightLoader w(store, {"transformer."}, opts);
        w.ignore_matching(".attn.bias");  // the causal-mask buffers older checkpoints carry
        w.ignore_matching(".attn.masked_bias");
        wte_ = w.matrix("wte.weight", vocab_, dim_, Layout::OutIn, MatUse::Embedding);
        wpe_ = w.matrix("wpe.weight", n_pos_, dim_, Layout::OutIn, MatUse::Embedding);
        for (int64_t l = 0; l < cfg_.num_layers; ++l) {
            const std::string p = "h." + std::to_string(l) + ".";
            Gpt2Layer L;
            L.ln1_w = w.vector(p + "ln_1.weight", dim_);
            L.ln1_b = w.vector(p + "ln_1.bias", dim_);
            L.c_attn = w.conv1d_matrix(p + "attn.c_attn.weight", dim_, 3 * dim_, &L.c_attn_l);
            L.c_attn_b = w.vector(p + "attn.c_attn.bias", 3 * dim_);
            L.attn_proj = w.conv1d_matrix(p + "attn.c_proj.weight", dim_, dim_, &L.attn_proj_l);
            L.attn_proj_b = w.vector(p + "attn.c_proj.bias", dim_);
            L.ln2_w = w.vector(p + "ln_2.weight", dim_);
            L.ln2_b = w.vector(p + "ln_2.bias", dim_);
            L.c_fc = w.conv1d_matrix(p + "mlp.c_fc.weight", dim_, ffn_, &L.c_fc_l);
            L.c_fc_b = w.vector(p + "mlp.c_fc.bias", ffn_);
            L.mlp_proj = w.conv1d_matrix(p + "mlp.c_proj.weight", ffn_, dim_, &L.mlp_proj_l);
            L.mlp_proj_b = w.vector(p + "mlp.c_proj.bias", dim_);
            layers_.push_back(std::move(L));
            report_progress(progress, double(l + 1) / double(cfg_.num_layers + 1));
        }
        lnf_w_ = w.vector("ln_f.weight", dim_);
        lnf_b_ = w.vector("ln_f.bias", dim_);
        // lm_head.weight [vocab, dim] (nn.Linear) when saved, else the tied token embedding.
        lm_head_ = w.has("lm_head.weight")
                       ? w.matrix("lm_head.weight", vocab_, dim_, Layout::OutIn, MatUse::Embedding)
                       : wte_;
        w.finish();
        weight_bytes_ = w.bound_bytes();
        copies_ = w.take_copies();
    }

    const ModelConfig &config() const override { return cfg_; }
    std::string architecture() const override { return "gpt2"; }
    bool is_causal() const override { return true; }
    int32_t vocab_size() const override { return int32_t(vocab_); }
    int32_t context_length() const override { return int32_t(n_pos_); }
    uint64_t weight_bytes() const override { return weight_bytes_; }

    std::unique_ptr<KvCache> make_cache(int32_t n_ctx, DType kv_type) const override {
        return new_causal_cache(*this, kv_type, cfg_.num_layers, dim_, head_dim_, n_ctx);
    }

    void forward(KvCache &cache_base, std::span<const int32_t> tokens, float *logits,
                 bool all_positions, int32_t n_threads) const override {
        CausalCache &c = check_forward(*this, cache_base, tokens, vocab_);
        const int64_t m = int64_t(tokens.size()), p0 = c.n_past();
        if (m == 0) return;
        const int nt = threads(n_threads);
        // q holds the fused [q | k | v] rows.
        const CausalCache::Activations a = c.activations(m, dim_, 3 * dim_, dim_, ffn_, false);
        float *x = a.x, *xb = a.xb, *qkv = a.q, *att = a.att, *tmp = a.tmp, *hb = a.hb;

        std::vector<float> pos(static_cast<size_t>(dim_));
        for (int64_t i = 0; i < m; ++i) {
            kern::get_row(wte_, tokens[size_t(i)], x + i * dim_);
            kern::get_row(wpe_, p0 + i, pos.data());
            kern::add(x + i * dim_, pos.data(), dim_);
        }

        const kern::AttentionShape shape{n_heads_, n_heads_, head_dim_};
        for (size_t l = 0; l < layers_.size(); ++l) {
            const Gpt2Layer &L = layers_[l];
            float *kn = c.new_keys(m), *vn = c.new_values(m);
            layernorm_rows(xb, x, m, dim_, L.ln1_w, L.ln1_b, eps_, nt);
            kern::linear(L.c_attn, L.c_attn_l, xb, m, L.c_attn_b.data(), qkv, nt);
            // qkv rows are [q | k | v]; keys and values move into the cache.
            for (int64_t i = 0; i < m; ++i) {
                const float *row = qkv + i * 3 * dim_;
                std::copy(row + dim_, row + 2 * dim_, kn + i * dim_);
                std::copy(row + 2 * dim_, row + 3 * dim_, vn + i * dim_);
            }
            c.commit_rows(int64_t(l), p0, m);
            float scale = scale_weights_ ? float(1.0 / std::sqrt(double(head_dim_))) : 1.0f;
            if (scale_by_layer_) scale /= float(l + 1);
            // Queries stay in qkv, whose rows are 3*dim apart: compact them first.
            for (int64_t i = 0; i < m; ++i)
                std::copy(qkv + i * 3 * dim_, qkv + i * 3 * dim_ + dim_, tmp + i * dim_);
            kern::attention(tmp, m, p0, c.rows(int64_t(l)), p0 + m, shape, true, scale,
                            kern::AttentionOptions{}, att, nt);
            kern::linear(L.attn_proj, L.attn_proj_l, att, m, L.attn_proj_b.data(), tmp, nt);
            kern::add(x, tmp, m * dim_);
            layernorm_rows(xb, x, m, dim_, L.ln2_w, L.ln2_b, eps_, nt);
            kern::linear(L.c_fc, L.c_fc_l, xb, m, L.c_fc_b.data(), hb, nt);
            for_rows(m, nt, [&](int64_t i) { activate(act_, hb + i * ffn_, ffn_); });
            kern::linear(L.mlp_proj, L.mlp_proj_l, hb, m, L.mlp_proj_b.data(), tmp, nt);
            kern::add(x, tmp, m * dim_);
        }
        c.advance(int32_t(m));

        final_layernorm_logits(x, m, all_positions, dim_, lnf_w_, lnf_b_, eps_, lm_head_, {}, xb,
                               logits, nt);
    }

  private:
    ModelConfig cfg_;
    std::shared_ptr<const WeightStore> store_;
    WeightArena copies_;  // the weights converted at load
    int64_t dim_, n_heads_, head_dim_, ffn_, vocab_, n_pos_;
    float eps_;
    Act act_ = Act::GeluTanh;
    bool scale_by_layer_ = false, scale_weights_ = true;
    Mat wte_, wpe_, lm_head_;
    std::vector<Gpt2Layer> layers_;
    std::vector<float> lnf_w_, lnf_b_;
    uint64_t weight_bytes_ = 0;
};

}  // namespace

std::shared_ptr<const Model> make_gpt2(ModelConfig cfg, std::shared_ptr<const WeightStore> store,
                                       const LoadOptions &opts,
                                       const std::function<bool(double)> &progress) {
    return std::make_shared<Gpt2>(std::move(cfg), std::move(store), opts, progress);
}

}  // namespace hfk::models
