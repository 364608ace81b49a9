// BERT encoder: word + position + token-type embeddings, LayerNorm, post-LayerNorm blocks with
// bidirectional attention and an exact-erf GELU MLP; optional pooler (tanh dense on [CLS]) and
// sequence-classification head. Names may carry the `bert.` prefix (BertFor* checkpoints).
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

struct BertLayer {
    Mat wq, wk, wv, wo, w_in, w_out;
    std::vector<float> bq, bk, bv, bo, b_in, b_out, ln1_w, ln1_b, ln2_w, ln2_b;
};

class Bert final : public Model {
  public:
    Bert(ModelConfig cfg, std::shared_ptr<const WeightStore> store, const LoadOptions &opts,
         const std::function<bool(double)> &progress)
        : cfg_(std::move(cfg)), store_(store) {
        default_threads_ = opts.n_threads > 0 ? opts.n_threads : kern::hardware_threads();
        dim_ = cfg_.hidden_size;
        n_heads_ = cfg_.num_heads;
        head_dim_ = dim_ / n_heads_;
        ffn_ = cfg_.intermediate_size;
        vocab_ = cfg_.vocab_size;
        n_pos_ = cfg_.max_position_embeddings;
        n_types_ = cfg_.type_vocab_size > 0 ? cfg_.type_vocab_size : 2;
        eps_ = float(cfg_.norm_eps);
        if (head_dim_ * n_heads_ != dim_ || ffn_ <= 0)
            fail(HFK_E_FORMAT, "config.json: hidden_size " + std::to_string(dim_) +
                                   " is not a multiple of num_attention_heads " +
                                   std::to_string(n_heads_));
        const std::string &act = cfg_.hidden_act;
        if (act.empty() || act == "gelu")
            act_tanh_ = false;
        else if (act == "gelu_new" || act == "gelu_pytorch_tanh")
            act_tanh_ = true;
        else
            fail(HFK_E_UNSUPPORTED,
                 "config.json: hidden_act '" + act + "' is not supported for BERT");

        WeightLoader w(store, {"bert."}, opts);
        w.ignore_matching("position_ids");  // a buffer, not a weight
        w.ignore_matching("cls.");          // masked-LM / next-sentence heads (not used)
        word_ = w.matrix("embeddings.word_embeddings.weight", vocab_, dim_, Layout::OutIn,
                         MatUse::Embedding);
        pos_ = w.matrix("embeddings.position_embeddings.weight", n_pos_, dim_, Layout::OutIn,
                        MatUse::Embedding);
        type_ = w.matrix("embeddings.token_type_embeddings.weight", n_types_, dim_, Layout::OutIn,
                         MatUse::Embedding);
        emb_ln_w_ = w.vector("embeddings.LayerNorm.weight", dim_);
        emb_ln_b_ = w.vector("embeddings.LayerNorm.bias", dim_);
        for (int64_t l = 0; l < cfg_.num_layers; ++l) {
            const std::string p = "encoder.layer." + std::to_string(l) + ".";
            BertLayer L;
            L.wq = w.matrix(p + "attention.self.query.weight", dim_, dim_);
            L.bq = w.vector(p + "attention.self.query.bias", dim_);
            L.wk = w.matrix(p + "attention.self.key.weight", dim_, dim_);
            L.bk = w.vector(p + "attention.self.key.bias", dim_);
            L.wv = w.matrix(p + "attention.self.value.weight", dim_, dim_);
            L.bv = w.vector(p + "attention.self.value.bias", dim_);
            L.wo = w.matrix(p + "attention.output.dense.weight", dim_, dim_);
            L.bo = w.vector(p + "attention.output.dense.bias", dim_);
            L.ln1_w = w.vector(p + "attention.output.LayerNorm.weight", dim_);
            L.ln1_b = w.vector(p + "attention.output.LayerNorm.bias", dim_);
            L.w_in = w.matrix(p + "intermediate.dense.weight", ffn_, dim_);
            L.b_in = w.vector(p + "intermediate.dense.bias", ffn_);
            L.w_out = w.matrix(p + "output.dense.weight", dim_, ffn_);
            L.b_out = w.vector(p + "output.dense.bias", dim_);
            L.ln2_w = w.vector(p + "output.LayerNorm.weight", dim_);
            L.ln2_b = w.vector(p + "output.LayerNorm.bias", dim_);
            layers_.push_back(std::move(L));
            report_progress(progress, double(l + 1) / double(cfg_.num_layers + 1));
        }
        if (w.has("pooler.dense.weight")) {
            pooler_ = w.matrix("pooler.dense.weight", dim_, dim_);
            pooler_b_ = w.vector("pooler.dense.bias", dim_);
            has_pooler_ = true;
        }
        // BertForSequenceClassification: classifier [num_labels, hidden] on the pooled output.
        if (const TensorInfo *t = w.store().find("classifier.weight"); t && t->shape.size() == 2) {
            n_labels_ = t->shape[0];
            if (!cfg_.id2label.empty() && int64_t(cfg_.id2label.size()) != n_labels_)
                fail(HFK_E_FORMAT, "classifier.weight has " + std::to_string(n_labels_) +
                                       " rows but config.json id2label has " +
                                       std::to_string(cfg_.id2label.size()) + " labels");
            if (!has_pooler_)
                fail(HFK_E_FORMAT,
                     "classifier.weight is present but pooler.dense.weight is missing");
            classifier_ = w.matrix("classifier.weight", n_labels_, dim_);
            classifier_b_ = w.vector("classifier.bias", n_labels_);
        }
        w.finish();
        weight_bytes_ = w.bound_bytes();
        copies_ = w.take_copies();
    }

    const ModelConfig &config() const override { return cfg_; }
    std::string architecture() const override { return "bert"; }
    bool is_causal() const override { return false; }
    int32_t vocab_size() const override { return int32_t(vocab_); }
    int32_t context_length() const override { return int32_t(n_pos_); }
    uint64_t weight_bytes() const override { return weight_bytes_; }

    EncoderOutput encode(std::span<const int32_t> ids, std::span<const int32_t> type_ids,
                         int32_t n_threads) const override {
        const int64_t m = int64_t(ids.size());
        if (m == 0) fail(HFK_E_INVALID_ARG, "encode: no tokens");
        if (m > n_pos_)
            fail(HFK_E_CONTEXT_FULL, std::to_string(m) + " tokens exceed the model's " +
                                         std::to_string(n_pos_) + " positions");
        if (!type_ids.empty() && int64_t(type_ids.size()) != m)
            fail(HFK_E_INVALID_ARG, "encode: " + std::to_string(type_ids.size()) +
                                        " token type ids for " + std::to_string(m) + " tokens");
        for (int64_t i = 0; i < m; ++i) {
            if (ids[size_t(i)] < 0 || ids[size_t(i)] >= vocab_)
                fail(HFK_E_INVALID_ARG, "token id " + std::to_string(ids[size_t(i)]) +
                                            " at position " + std::to_string(i) +
                                            " is outside the vocabulary");
            if (!type_ids.empty() && (type_ids[size_t(i)] < 0 || type_ids[size_t(i)] >= n_types_))
                fail(HFK_E_INVALID_ARG, "token type id " + std::to_string(type_ids[size_t(i)]) +
                                            " is outside [0, " + std::to_string(n_types_) + ")");
        }
        const int nt = threads(n_threads);
        std::vector<float> x(size_t(m * dim_)), q(x.size()), k(x.size()), v(x.size()),
            att(x.size()), tmp(x.size()), hb(size_t(m * ffn_)), row(static_cast<size_t>(dim_));
        for (int64_t i = 0; i < m; ++i) {
            float *xi = x.data() + i * dim_;
            kern::get_row(word_, ids[size_t(i)], xi);
            kern::get_row(pos_, i, row.data());
            kern::add(xi, row.data(), dim_);
            kern::get_row(type_, type_ids.empty() ? 0 : type_ids[size_t(i)], row.data());
            kern::add(xi, row.data(), dim_);
            kern::layernorm(xi, xi, emb_ln_w_.data(), emb_ln_b_.data(), dim_, eps_);
        }
        const kern::AttentionShape shape{n_heads_, n_heads_, head_dim_};
        const float scale = float(1.0 / std::sqrt(double(head_dim_)));
        for (const BertLayer &L : layers_) {
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
            for (int64_t i = 0; i < m; ++i) {
                if (act_tanh_)
                    kern::gelu_tanh(hb.data() + i * ffn_, ffn_);
                else
                    kern::gelu_erf(hb.data() + i * ffn_, ffn_);
            }
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
        if (has_pooler_) {
            out.pooled.resize(size_t(dim_));
            kern::linear(pooler_, Layout::OutIn, x.data(), 1, pooler_b_.data(), out.pooled.data(),
                         1);
            for (float &p : out.pooled) p = std::tanh(p);
            if (n_labels_ > 0) {
                out.logits.resize(size_t(n_labels_));
                kern::linear(classifier_, Layout::OutIn, out.pooled.data(), 1, classifier_b_.data(),
                             out.logits.data(), 1);
            }
        }
        out.last_hidden_state = std::move(x);
        return out;
    }

  private:
    ModelConfig cfg_;
    std::shared_ptr<const WeightStore> store_;
    std::vector<std::unique_ptr<uint8_t[]>> copies_;
    int64_t dim_, n_heads_, head_dim_, ffn_, vocab_, n_pos_, n_types_, n_labels_ = 0;
    float eps_;
    bool act_tanh_ = false, has_pooler_ = false;
    Mat word_, pos_, type_, pooler_, classifier_;
    std::vector<float> emb_ln_w_, emb_ln_b_, pooler_b_, classifier_b_;
    std::vector<BertLayer> layers_;
    uint64_t weight_bytes_ = 0;
};

}  // namespace

std::shared_ptr<const Model> make_bert(ModelConfig cfg, std::shared_ptr<const WeightStore> store,
                                       const LoadOptions &opts,
                                       const std::function<bool(double)> &progress) {
    return std::make_shared<Bert>(std::move(cfg), std::move(store), opts, progress);
}

}  // namespace hfk::models
