#include "models/encoder.h"

#include <cmath>

#include "kernels/attention.h"
#include "kernels/ops.h"
#include "kernels/thread_pool.h"
#include "util/error.h"

namespace hfk::models {

using kern::Layout;

Act encoder_activation(const std::string &name, const std::string &arch) {
    if (name.empty() || name == "gelu") return Act::GeluErf;
    if (name == "gelu_new" || name == "gelu_pytorch_tanh") return Act::GeluTanh;
    if (name == "relu") return Act::Relu;
    fail(HFK_E_UNSUPPORTED, "config.json: activation '" + name + "' is not supported for " + arch);
}

PostNormEncoder::PostNormEncoder(ModelConfig cfg, std::string arch,
                                 std::shared_ptr<const WeightStore> store, const LoadOptions &opts,
                                 const EncoderNames &names,
                                 const std::function<bool(double)> &progress)
    : cfg_(std::move(cfg)), arch_(std::move(arch)), store_(store) {
    default_threads_ = opts.n_threads > 0 ? opts.n_threads : kern::hardware_threads();
    std::tie(dim_, n_heads_, head_dim_, ffn_, vocab_, n_pos_, eps_) =
        encoder_sizes(cfg_, arch_, false);
    max_tokens_ = n_pos_;
    act_ = encoder_activation(cfg_.hidden_act, arch_);

    loader_ = std::make_unique<WeightLoader>(store, names.prefixes, opts);
    WeightLoader &w = *loader_;
    w.ignore_matching("position_ids");  // a buffer, not a weight
    word_ = w.matrix(names.word, vocab_, dim_, kern::Layout::OutIn, MatUse::Embedding);
    auto sin_flag = cfg_.raw.is_object() ? cfg_.raw.find("sinusoidal_pos_embds") : cfg_.raw.end();
    const bool sinusoidal = names.sinusoidal_if_absent && sin_flag != cfg_.raw.end() &&
                            sin_flag->is_boolean() && sin_flag->get<bool>();
    if (sinusoidal && !w.has(names.position)) {
        // DistilBERT's create_sinusoidal_embeddings: sin on even columns, cos on odd ones, of
        // pos / 10000^(2 (j / 2) / dim).
        sinusoid_.resize(size_t(n_pos_ * dim_));
        for (int64_t p = 0; p < n_pos_; ++p)
            for (int64_t j = 0; j < dim_; ++j) {
                const double a = double(p) / std::pow(10000.0, 2.0 * double(j / 2) / double(dim_));
                sinusoid_[size_t(p * dim_ + j)] = float(j % 2 == 0 ? std::sin(a) : std::cos(a));
            }
        pos_ = kern::Mat{DType::F32, sinusoid_.data(), n_pos_, dim_};
    } else {
        pos_ = w.matrix(names.position, n_pos_, dim_, kern::Layout::OutIn, MatUse::Embedding);
    }
    if (!names.token_type.empty()) {
        n_types_ = cfg_.type_vocab_size > 0 ? cfg_.type_vocab_size : 2;
        type_ = w.matrix(names.token_type, n_types_, dim_, kern::Layout::OutIn, MatUse::Embedding);
    }
    emb_ln_w_ = w.vector(names.embedding_norm + ".weight", dim_);
    emb_ln_b_ = w.vector(names.embedding_norm + ".bias", dim_);
    for (int64_t l = 0; l < cfg_.num_layers; ++l) {
        const std::string p = names.layer_prefix + std::to_string(l) + ".";
        auto mat = [&](const std::string &m, int64_t rows, int64_t cols) {
            return w.matrix(p + m + ".weight", rows, cols);
        };
        auto vec = [&](const std::string &m, const char *what, int64_t n) {
            return w.vector(p + m + what, n);
        };
        Layer L;
        L.wq = mat(names.query, dim_, dim_);
        L.bq = vec(names.query, ".bias", dim_);
        L.wk = mat(names.key, dim_, dim_);
        L.bk = vec(names.key, ".bias", dim_);
        L.wv = mat(names.value, dim_, dim_);
        L.bv = vec(names.value, ".bias", dim_);
        L.wo = mat(names.attn_out, dim_, dim_);
        L.bo = vec(names.attn_out, ".bias", dim_);
        L.ln1_w = vec(names.attn_norm, ".weight", dim_);
        L.ln1_b = vec(names.attn_norm, ".bias", dim_);
        L.w_in = mat(names.ffn_in, ffn_, dim_);
        L.b_in = vec(names.ffn_in, ".bias", ffn_);
        L.w_out = mat(names.ffn_out, dim_, ffn_);
        L.b_out = vec(names.ffn_out, ".bias", dim_);
        L.ln2_w = vec(names.ffn_norm, ".weight", dim_);
        L.ln2_b = vec(names.ffn_norm, ".bias", dim_);
        layers_.push_back(std::move(L));
        report_progress(progress, double(l + 1) / double(cfg_.num_layers + 1));
    }
}

bool PostNormEncoder::bind_head(const std::string &dense_name, const std::string &out_name,
                                ClassifierHead &h) {
    WeightLoader &w = *loader_;
    const TensorInfo *t = w.store().find(out_name + ".weight");
    if (t == nullptr) return false;  // heads sit beside the base model, never under its prefix
    if (t->shape.size() != 2) fail(HFK_E_FORMAT, out_name + ".weight is not a matrix");
    h.n_labels = t->shape[0];
    if (!cfg_.id2label.empty() && int64_t(cfg_.id2label.size()) != h.n_labels)
        fail(HFK_E_FORMAT, out_name + ".weight has " + std::to_string(h.n_labels) +
                               " rows but config.json id2label has " +
                               std::to_string(cfg_.id2label.size()) + " labels");
    if (!w.has(dense_name + ".weight"))
        fail(HFK_E_FORMAT,
             out_name + ".weight is present but " + dense_name + ".weight is missing");
    h.dense = w.matrix(dense_name + ".weight", dim_, dim_);
    h.dense_b = w.vector(dense_name + ".bias", dim_);
    h.out = w.matrix(out_name + ".weight", h.n_labels, dim_);
    h.out_b = w.vector(out_name + ".bias", h.n_labels);
    return true;
}

void PostNormEncoder::finish() {
    loader_->finish();
    weight_bytes_ = loader_->bound_bytes();
    copies_ = loader_->take_copies();
    loader_.reset();
}

void PostNormEncoder::positions(std::span<const int32_t> ids, std::vector<int64_t> &out) const {
    out.resize(ids.size());
    for (size_t i = 0; i < ids.size(); ++i) out[i] = int64_t(i);
}

void PostNormEncoder::run_head(const ClassifierHead &h, const float *first,
                               std::vector<float> &logits, std::vector<float> *dense_out) const {
    std::vector<float> d(size_t(dim_), 0.0f);
    kern::linear(h.dense, Layout::OutIn, first, 1, h.dense_b.data(), d.data(), 1);
    if (h.tanh)
        for (float &v : d) v = std::tanh(v);
    else
        activate(h.act, d.data(), dim_);
    if (h.n_labels > 0) {
        logits.resize(size_t(h.n_labels));
        kern::linear(h.out, Layout::OutIn, d.data(), 1, h.out_b.data(), logits.data(), 1);
    }
    if (dense_out) *dense_out = std::move(d);
}

EncoderOutput PostNormEncoder::encode(std::span<const int32_t> ids,
                                      std::span<const int32_t> type_ids, int32_t n_threads) const {
    const int64_t m = int64_t(ids.size());
    check_encoder_ids(ids, vocab_, max_tokens_);
    if (!type_ids.empty() && int64_t(type_ids.size()) != m)
        fail(HFK_E_INVALID_ARG, "encode: " + std::to_string(type_ids.size()) +
                                    " token type ids for " + std::to_string(m) + " tokens");
    for (int32_t t : type_ids)
        if ((t < 0 || t >= n_types_) && !(n_types_ == 0 && t == 0))
            fail(HFK_E_INVALID_ARG, "token type id " + std::to_string(t) + " is outside [0, " +
                                        std::to_string(n_types_) + ")");
    std::vector<int64_t> pos;
    positions(ids, pos);
    const int nt = threads(n_threads);
    std::vector<float> x(size_t(m * dim_)), q(x.size()), k(x.size()), v(x.size()), att(x.size()),
        tmp(x.size()), hb(size_t(m * ffn_)), row(static_cast<size_t>(dim_));
    for (int64_t i = 0; i < m; ++i) {
        float *xi = x.data() + i * dim_;
        kern::get_row(word_, ids[size_t(i)], xi);
        kern::get_row(pos_, pos[size_t(i)], row.data());
        kern::add(xi, row.data(), dim_);
        if (n_types_ > 0) {
            kern::get_row(type_, type_ids.empty() ? 0 : type_ids[size_t(i)], row.data());
            kern::add(xi, row.data(), dim_);
        }
        kern::layernorm(xi, xi, emb_ln_w_.data(), emb_ln_b_.data(), dim_, eps_);
    }
    const kern::AttentionShape shape{n_heads_, n_heads_, head_dim_};
    const float scale = float(1.0 / std::sqrt(double(head_dim_)));
    for (const Layer &L : layers_) {
        kern::linear(L.wq, Layout::OutIn, x.data(), m, L.bq.data(), q.data(), nt);
        kern::linear(L.wk, Layout::OutIn, x.data(), m, L.bk.data(), k.data(), nt);
        kern::linear(L.wv, Layout::OutIn, x.data(), m, L.bv.data(), v.data(), nt);
        kern::attention(q.data(), m, 0, k.data(), v.data(), dim_, m, shape, false, scale,
                        att.data(), nt);
        kern::linear(L.wo, Layout::OutIn, att.data(), m, L.bo.data(), tmp.data(), nt);
        for (int64_t i = 0; i < m; ++i) {  // post-LN: norm(x + attention)
            float *xi = x.data() + i * dim_;
            kern::add(xi, tmp.data() + i * dim_, dim_);
            kern::layernorm(xi, xi, L.ln1_w.data(), L.ln1_b.data(), dim_, eps_);
        }
        kern::linear(L.w_in, Layout::OutIn, x.data(), m, L.b_in.data(), hb.data(), nt);
        for (int64_t i = 0; i < m; ++i) activate(act_, hb.data() + i * ffn_, ffn_);
        kern::linear(L.w_out, Layout::OutIn, hb.data(), m, L.b_out.data(), tmp.data(), nt);
        for (int64_t i = 0; i < m; ++i) {
            float *xi = x.data() + i * dim_;
            kern::add(xi, tmp.data() + i * dim_, dim_);
            kern::layernorm(xi, xi, L.ln2_w.data(), L.ln2_b.data(), dim_, eps_);
        }
    }
    EncoderOutput out;
    out.n_tokens = int32_t(m);
    out.hidden = int32_t(dim_);
    head(x.data(), out);
    out.last_hidden_state = std::move(x);
    return out;
}

}  // namespace hfk::models
