// ModernBERT: a pre-norm encoder. Token embeddings and a LayerNorm; per layer attn_norm (none on
// layer 0), fused Wqkv with RoPE, bidirectional attention that is global on every
// global_attn_every_n_layers-th layer (RoPE base global_rope_theta) and a symmetric sliding window
// |i - j| <= local_attention / 2 elsewhere (base local_rope_theta), mlp_norm and a GeGLU MLP
// (Wi = [input; gate], act(input) * gate); a final norm. Norms and projections have no biases
// unless norm_bias / attention_bias / mlp_bias say so. ModernBertForSequenceClassification pools
// the final states (classifier_pooling: cls or mean), then head.dense, classifier_activation,
// head.norm and the classifier. Rotary tables and the gated activation are the decoders' blocks.
#include <cmath>
#include <string>

#include "kernels/matmul.h"
#include "kernels/ops.h"
#include "kernels/thread_pool.h"
#include "models/decoder.h"
#include "util/error.h"

namespace hfk::models {
namespace {

using kern::Layout;
using kern::Mat;
using json = nlohmann::json;

double number_or(const json &raw, const char *key, double fallback) {
    auto it = raw.find(key);
    if (it == raw.end() || it->is_null()) return fallback;
    if (!it->is_number() || !(it->get<double>() > 0))
        fail(HFK_E_FORMAT, std::string("config.json: \"") + key + "\" must be a positive number");
    return it->get<double>();
}
bool flag_or(const json &raw, const char *key, bool fallback) {
    auto it = raw.find(key);
    if (it == raw.end() || it->is_null()) return fallback;
    if (!it->is_boolean())
        fail(HFK_E_FORMAT, std::string("config.json: \"") + key + "\" must be true or false");
    return it->get<bool>();
}
std::string string_or(const json &raw, const char *key, const char *fallback) {
    auto it = raw.find(key);
    if (it == raw.end() || it->is_null()) return fallback;
    if (!it->is_string())
        fail(HFK_E_FORMAT, std::string("config.json: \"") + key + "\" must be a string");
    return it->get<std::string>();
}

struct Norm {
    std::vector<float> w, b;  // b: zeros without norm_bias
    void apply(float *x, int64_t n, float eps) const {
        kern::layernorm(x, x, w.data(), b.data(), n, eps);
    }
};

struct Layer {
    bool has_attn_norm = false, local = false;
    Norm attn_norm, mlp_norm;
    Mat wqkv, wo, wi, wo2;
    std::vector<float> bqkv, bo, bi, bo2;  // empty without biases
};

const float *or_null(const std::vector<float> &v) {
    return v.empty() ? nullptr : v.data();
}

class ModernBert final : public Model {
  public:
    ModernBert(ModelConfig cfg, std::shared_ptr<const WeightStore> store, const LoadOptions &opts,
               const std::function<bool(double)> &progress)
        : cfg_(std::move(cfg)), store_(store) {
        default_threads_ = opts.n_threads > 0 ? opts.n_threads : kern::hardware_threads();
        std::tie(dim_, n_heads_, head_dim_, ffn_, vocab_, n_pos_, eps_) =
            encoder_sizes(cfg_, "ModernBERT", true);
        const json &raw = cfg_.raw;
        const double global_theta = number_or(raw, "global_rope_theta", 160000.0);
        const double local_theta = number_or(raw, "local_rope_theta", 10000.0);
        half_window_ = int64_t(number_or(raw, "local_attention", 128)) / 2;
        const int64_t every = int64_t(number_or(raw, "global_attn_every_n_layers", 3));
        const bool norm_bias = flag_or(raw, "norm_bias", false);
        const bool attn_bias = flag_or(raw, "attention_bias", false);
        const bool mlp_bias = flag_or(raw, "mlp_bias", false);
        act_ = activation_from_config(cfg_.hidden_act.empty() ? "gelu" : cfg_.hidden_act);
        mean_pool_head_ = string_or(raw, "classifier_pooling", "cls") == "mean";
        if (!mean_pool_head_ && string_or(raw, "classifier_pooling", "cls") != "cls")
            fail(HFK_E_UNSUPPORTED, "config.json: classifier_pooling must be cls or mean");
        head_act_ = activation_from_config(string_or(raw, "classifier_activation", "gelu"));
        const bool head_bias = flag_or(raw, "classifier_bias", false);
        global_rope_ = make_rope(RopeScaling{}, global_theta, head_dim_);
        local_rope_ = make_rope(RopeScaling{}, local_theta, head_dim_);

        WeightLoader w(store, {"model."}, opts);
        auto norm = [&](const std::string &name) {
            Norm n;
            n.w = w.vector(name + ".weight", dim_);
            n.b = norm_bias ? w.vector(name + ".bias", dim_) : std::vector<float>(size_t(dim_));
            return n;
        };
        auto bias = [&](bool on, const std::string &name, int64_t n) {
            return on ? w.vector(name + ".bias", n) : std::vector<float>();
        };
        tok_ = w.matrix("embeddings.tok_embeddings.weight", vocab_, dim_, kern::Layout::OutIn,
                        MatUse::Embedding);
        emb_norm_ = norm("embeddings.norm");
        for (int64_t l = 0; l < cfg_.num_layers; ++l) {
            const std::string p = "layers." + std::to_string(l) + ".";
            Layer L;
            L.local = every <= 0 || l % every != 0;
            L.has_attn_norm = l != 0;  // layer 0: nn.Identity (the embeddings are normed)
            if (L.has_attn_norm) L.attn_norm = norm(p + "attn_norm");
            L.wqkv = w.matrix(p + "attn.Wqkv.weight", 3 * dim_, dim_);
            L.bqkv = bias(attn_bias, p + "attn.Wqkv", 3 * dim_);
            L.wo = w.matrix(p + "attn.Wo.weight", dim_, dim_);
            L.bo = bias(attn_bias, p + "attn.Wo", dim_);
            L.mlp_norm = norm(p + "mlp_norm");
            L.wi = w.matrix(p + "mlp.Wi.weight", 2 * ffn_, dim_);
            L.bi = bias(mlp_bias, p + "mlp.Wi", 2 * ffn_);
            L.wo2 = w.matrix(p + "mlp.Wo.weight", dim_, ffn_);
            L.bo2 = bias(mlp_bias, p + "mlp.Wo", dim_);
            layers_.push_back(std::move(L));
            report_progress(progress, double(l + 1) / double(cfg_.num_layers + 1));
        }
        final_norm_ = norm("final_norm");
        if (const TensorInfo *t = w.store().find("classifier.weight"); t && t->shape.size() == 2) {
            n_labels_ = t->shape[0];
            if (!cfg_.id2label.empty() && int64_t(cfg_.id2label.size()) != n_labels_)
                fail(HFK_E_FORMAT, "classifier.weight has " + std::to_string(n_labels_) +
                                       " rows but config.json id2label has " +
                                       std::to_string(cfg_.id2label.size()) + " labels");
            head_dense_ = w.matrix("head.dense.weight", dim_, dim_);
            head_dense_b_ = bias(head_bias, "head.dense", dim_);
            head_norm_ = norm("head.norm");
            classifier_ = w.matrix("classifier.weight", n_labels_, dim_);
            classifier_b_ = w.vector("classifier.bias", n_labels_);
        } else {
            w.ignore_matching("head.");     // ModernBertForMaskedLM's prediction head
            w.ignore_matching("decoder.");  // and its (tied) decoder
        }
        w.finish();
        weight_bytes_ = w.bound_bytes();
        copies_ = w.take_copies();
    }

    const ModelConfig &config() const override { return cfg_; }
    std::string architecture() const override { return "modernbert"; }
    bool is_causal() const override { return false; }
    int32_t vocab_size() const override { return int32_t(vocab_); }
    int32_t context_length() const override { return int32_t(n_pos_); }
    uint64_t weight_bytes() const override { return weight_bytes_; }

    EncoderOutput encode(std::span<const int32_t> ids, std::span<const int32_t> type_ids,
                         int32_t n_threads) const override {
        const int64_t m = int64_t(ids.size());
        check_encoder_ids(ids, vocab_, n_pos_);
        for (int32_t t : type_ids)
            if (t != 0) fail(HFK_E_INVALID_ARG, "ModernBERT has no token types");
        const int nt = threads(n_threads);
        std::vector<float> x(size_t(m * dim_)), xn(x.size()), qkv(size_t(m * 3 * dim_)),
            att(x.size()), tmp(x.size()), hb(size_t(m * 2 * ffn_)), act(size_t(m * ffn_));
        for (int64_t i = 0; i < m; ++i) {
            kern::get_row(tok_, ids[size_t(i)], x.data() + i * dim_);
            emb_norm_.apply(x.data() + i * dim_, dim_, eps_);
        }
        std::vector<float> gcos, gsin, lcos, lsin;
        global_rope_.tables(0, m, gcos, gsin);
        local_rope_.tables(0, m, lcos, lsin);
        const int64_t half = head_dim_ / 2;
        const float scale = float(1.0 / std::sqrt(double(head_dim_)));
        std::vector<float> scores(static_cast<size_t>(m));
        for (const Layer &L : layers_) {
            xn = x;
            if (L.has_attn_norm)
                for (int64_t i = 0; i < m; ++i) L.attn_norm.apply(xn.data() + i * dim_, dim_, eps_);
            kern::linear(L.wqkv, Layout::OutIn, xn.data(), m, or_null(L.bqkv), qkv.data(), nt);
            const Rope &rope = L.local ? local_rope_ : global_rope_;
            const std::vector<float> &cs = L.local ? lcos : gcos, &sn = L.local ? lsin : gsin;
            for (int64_t i = 0; i < m; ++i) {
                float *row = qkv.data() + i * 3 * dim_;
                rope.apply(row, n_heads_, head_dim_, cs.data() + i * half, sn.data() + i * half);
                rope.apply(row + dim_, n_heads_, head_dim_, cs.data() + i * half,
                           sn.data() + i * half);
            }
            // Bidirectional attention; local layers see keys within half_window_ of the query.
            for (int64_t h = 0; h < n_heads_; ++h)
                for (int64_t i = 0; i < m; ++i) {
                    const float *q = qkv.data() + i * 3 * dim_ + h * head_dim_;
                    const int64_t lo = L.local ? std::max<int64_t>(0, i - half_window_) : 0;
                    const int64_t hi = L.local ? std::min<int64_t>(m - 1, i + half_window_) : m - 1;
                    float mx = -INFINITY;
                    for (int64_t j = lo; j <= hi; ++j) {
                        const float *k = qkv.data() + j * 3 * dim_ + dim_ + h * head_dim_;
                        double s = 0;
                        for (int64_t d = 0; d < head_dim_; ++d) s += double(q[d]) * k[d];
                        scores[size_t(j)] = float(s) * scale;
                        mx = std::max(mx, scores[size_t(j)]);
                    }
                    double sum = 0;
                    for (int64_t j = lo; j <= hi; ++j)
                        sum += (scores[size_t(j)] = std::exp(scores[size_t(j)] - mx));
                    float *o = att.data() + i * dim_ + h * head_dim_;
                    std::fill(o, o + head_dim_, 0.0f);
                    for (int64_t j = lo; j <= hi; ++j) {
                        const float *v = qkv.data() + j * 3 * dim_ + 2 * dim_ + h * head_dim_;
                        const float p = float(scores[size_t(j)] / sum);
                        for (int64_t d = 0; d < head_dim_; ++d) o[d] += p * v[d];
                    }
                }
            kern::linear(L.wo, Layout::OutIn, att.data(), m, or_null(L.bo), tmp.data(), nt);
            for (int64_t i = 0; i < m; ++i)
                kern::add(x.data() + i * dim_, tmp.data() + i * dim_, dim_);
            xn = x;
            for (int64_t i = 0; i < m; ++i) L.mlp_norm.apply(xn.data() + i * dim_, dim_, eps_);
            kern::linear(L.wi, Layout::OutIn, xn.data(), m, or_null(L.bi), hb.data(), nt);
            for (int64_t i = 0; i < m; ++i) {  // act(input) * gate, Wi = [input; gate]
                float *in = hb.data() + i * 2 * ffn_;
                gated_act(in, in + ffn_, ffn_, act_);
                std::copy_n(in, ffn_, act.data() + i * ffn_);
            }
            kern::linear(L.wo2, Layout::OutIn, act.data(), m, or_null(L.bo2), tmp.data(), nt);
            for (int64_t i = 0; i < m; ++i)
                kern::add(x.data() + i * dim_, tmp.data() + i * dim_, dim_);
        }
        for (int64_t i = 0; i < m; ++i) final_norm_.apply(x.data() + i * dim_, dim_, eps_);
        EncoderOutput out;
        out.n_tokens = int32_t(m);
        out.hidden = int32_t(dim_);
        out.last_hidden_state = std::move(x);
        if (n_labels_ > 0) {
            std::vector<float> pooled(static_cast<size_t>(dim_)), d(static_cast<size_t>(dim_));
            if (mean_pool_head_)
                mean_pool(out, pooled.data());
            else
                std::copy_n(out.last_hidden_state.begin(), dim_, pooled.begin());
            kern::linear(head_dense_, Layout::OutIn, pooled.data(), 1, or_null(head_dense_b_),
                         d.data(), 1);
            activate(head_act_, d.data(), dim_);
            head_norm_.apply(d.data(), dim_, eps_);
            out.logits.resize(size_t(n_labels_));
            kern::linear(classifier_, Layout::OutIn, d.data(), 1, classifier_b_.data(),
                         out.logits.data(), 1);
        }
        return out;
    }

  private:
    ModelConfig cfg_;
    std::shared_ptr<const WeightStore> store_;
    WeightArena copies_;  // the weights converted at load
    int64_t dim_, n_heads_, head_dim_, ffn_, vocab_, n_pos_, half_window_ = 64, n_labels_ = 0;
    float eps_;
    Act act_ = Act::GeluErf, head_act_ = Act::GeluErf;
    bool mean_pool_head_ = false;
    Rope global_rope_, local_rope_;
    Mat tok_, head_dense_, classifier_;
    Norm emb_norm_, final_norm_, head_norm_;
    std::vector<float> head_dense_b_, classifier_b_;
    std::vector<Layer> layers_;
    uint64_t weight_bytes_ = 0;
};

}  // namespace

std::shared_ptr<const Model> make_modernbert(ModelConfig cfg,
                                             std::shared_ptr<const WeightStore> store,
                                             const LoadOptions &opts,
                                             const std::function<bool(double)> &progress) {
    return std::make_shared<ModernBert>(std::move(cfg), std::move(store), opts, progress);
}

}  // namespace hfk::models
