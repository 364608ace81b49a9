// DistilBERT: BERT's post-LayerNorm blocks under other names (`distilbert.` prefix,
// transformer.layer.N.attention.q_lin, sa_layer_norm, ffn.lin1, output_layer_norm), no token
// types, learned positions or, with sinusoidal_pos_embds and no stored table, the sinusoidal
// one. DistilBertForSequenceClassification: pre_classifier, ReLU, classifier on [CLS].
#include "models/encoder.h"
#include "util/error.h"

namespace hfk::models {
namespace {

class DistilBert final : public PostNormEncoder {
  public:
    DistilBert(ModelConfig cfg, std::shared_ptr<const WeightStore> store, const LoadOptions &opts,
               const std::function<bool(double)> &progress)
        : PostNormEncoder(std::move(cfg), "distilbert", std::move(store), opts, names(), progress) {
        // vocab_transform / vocab_layer_norm / vocab_projector: the masked-LM head (not used).
        loader().ignore_matching("vocab_");
        classifier_.act = Act::Relu;
        bind_head("pre_classifier", "classifier", classifier_);
        finish();
    }

  private:
    static EncoderNames names() {
        EncoderNames n;
        n.prefixes = {"distilbert."};
        n.word = "embeddings.word_embeddings.weight";
        n.position = "embeddings.position_embeddings.weight";
        n.sinusoidal_if_absent = true;
        n.embedding_norm = "embeddings.LayerNorm";
        n.layer_prefix = "transformer.layer.";
        n.query = "attention.q_lin";
        n.key = "attention.k_lin";
        n.value = "attention.v_lin";
        n.attn_out = "attention.out_lin";
        n.attn_norm = "sa_layer_norm";
        n.ffn_in = "ffn.lin1";
        n.ffn_out = "ffn.lin2";
        n.ffn_norm = "output_layer_norm";
        return n;
    }
    void head(const float *x, EncoderOutput &out) const override {
        if (classifier_.n_labels > 0) run_head(classifier_, x, out.logits, nullptr);
    }

    ClassifierHead classifier_;
};

}  // namespace

std::shared_ptr<const Model> make_distilbert(ModelConfig cfg,
                                             std::shared_ptr<const WeightStore> store,
                                             const LoadOptions &opts,
                                             const std::function<bool(double)> &progress) {
    return std::make_shared<DistilBert>(std::move(cfg), std::move(store), opts, progress);
}

}  // namespace hfk::models
