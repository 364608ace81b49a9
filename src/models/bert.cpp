// BERT: word + position + token-type embeddings, post-LayerNorm blocks (models/encoder.h), an
// optional pooler (tanh dense on [CLS]) and BertForSequenceClassification's classifier on the
// pooled output. Names may carry the `bert.` prefix (BertFor* checkpoints).
#include "models/encoder.h"
#include "util/error.h"

namespace hfk::models {
namespace {

class Bert final : public PostNormEncoder {
  public:
    Bert(ModelConfig cfg, std::shared_ptr<const WeightStore> store, const LoadOptions &opts,
         const std::function<bool(double)> &progress)
        : PostNormEncoder(std::move(cfg), "bert", std::move(store), opts, names(), progress) {
        loader().ignore_matching("cls.");  // masked-LM / next-sentence heads (not used)
        head_.tanh = true;
        if (loader().has("pooler.dense.weight")) {
            has_pooler_ = true;
            if (!bind_head("pooler.dense", "classifier", head_)) {
                head_.dense = loader().matrix("pooler.dense.weight", dim_, dim_);
                head_.dense_b = loader().vector("pooler.dense.bias", dim_);
            }
        } else if (loader().store().find("classifier.weight")) {
            fail(HFK_E_FORMAT, "classifier.weight is present but pooler.dense.weight is missing");
        }
        finish();
    }

  private:
    static EncoderNames names() {
        EncoderNames n = bert_encoder_names();
        n.prefixes = {"bert."};
        return n;
    }
    void head(const float *x, EncoderOutput &out) const override {
        if (has_pooler_) run_head(head_, x, out.logits, &out.pooled);
    }

    ClassifierHead head_;
    bool has_pooler_ = false;
};

}  // namespace

EncoderNames bert_encoder_names() {
    EncoderNames n;
    n.word = "embeddings.word_embeddings.weight";
    n.position = "embeddings.position_embeddings.weight";
    n.token_type = "embeddings.token_type_embeddings.weight";
    n.embedding_norm = "embeddings.LayerNorm";
    n.layer_prefix = "encoder.layer.";
    n.query = "attention.self.query";
    n.key = "attention.self.key";
    n.value = "attention.self.value";
    n.attn_out = "attention.output.dense";
    n.attn_norm = "attention.output.LayerNorm";
    n.ffn_in = "intermediate.dense";
    n.ffn_out = "output.dense";
    n.ffn_norm = "output.LayerNorm";
    return n;
}

std::shared_ptr<const Model> make_bert(ModelConfig cfg, std::shared_ptr<const WeightStore> store,
                                       const LoadOptions &opts,
                                       const std::function<bool(double)> &progress) {
    return std::make_shared<Bert>(std::move(cfg), std::move(store), opts, progress);
}

}  // namespace hfk::models
