// RoBERTa and XLM-RoBERTa: BERT's blocks and names (prefix `roberta.`), with positions numbered
// from padding_idx + 1 over the non-padding tokens (create_position_ids_from_input_ids: a padding
// token keeps padding_idx), so a sequence takes at most max_position_embeddings - padding_idx - 1
// tokens; one token type. RobertaForSequenceClassification's head: classifier.dense, tanh,
// classifier.out_proj on the first token (<s>).
#include "models/encoder.h"
#include "util/error.h"

namespace hfk::models {
namespace {

class Roberta final : public PostNormEncoder {
  public:
    Roberta(ModelConfig cfg, std::shared_ptr<const WeightStore> store, const LoadOptions &opts,
            const std::function<bool(double)> &progress)
        : PostNormEncoder(std::move(cfg), "roberta", std::move(store), opts, names(), progress) {
        pad_ = cfg_.pad_token_id >= 0 ? cfg_.pad_token_id : 1;  // RobertaConfig's default
        if (pad_ + 1 >= n_pos_)
            fail(HFK_E_FORMAT, "config.json: pad_token_id " + std::to_string(pad_) +
                                   " leaves no position below max_position_embeddings " +
                                   std::to_string(n_pos_));
        max_tokens_ = n_pos_ - pad_ - 1;
        if (cfg_.model_type == "xlm-roberta") arch_ = "xlm-roberta";
        loader().ignore_matching("lm_head.");  // the masked-LM head (not used)
        if (loader().has("pooler.dense.weight")) {
            pooler_.tanh = true;
            pooler_.dense = loader().matrix("pooler.dense.weight", dim_, dim_);
            pooler_.dense_b = loader().vector("pooler.dense.bias", dim_);
            has_pooler_ = true;
        }
        classifier_.tanh = true;
        bind_head("classifier.dense", "classifier.out_proj", classifier_);
        finish();
    }

  private:
    static EncoderNames names() {
        EncoderNames n = bert_encoder_names();
        n.prefixes = {"roberta."};
        return n;
    }
    void positions(std::span<const int32_t> ids, std::vector<int64_t> &out) const override {
        out.resize(ids.size());
        int64_t n = 0;
        for (size_t i = 0; i < ids.size(); ++i) out[i] = ids[i] == pad_ ? pad_ : pad_ + 1 + n++;
    }
    void head(const float *x, EncoderOutput &out) const override {
        std::vector<float> unused;
        if (has_pooler_) run_head(pooler_, x, unused, &out.pooled);
        if (classifier_.n_labels > 0) run_head(classifier_, x, out.logits, nullptr);
    }

    int64_t pad_ = 1;
    ClassifierHead pooler_, classifier_;
    bool has_pooler_ = false;
};

}  // namespace

std::shared_ptr<const Model> make_roberta(ModelConfig cfg, std::shared_ptr<const WeightStore> store,
                                          const LoadOptions &opts,
                                          const std::function<bool(double)> &progress) {
    return std::make_shared<Roberta>(std::move(cfg), std::move(store), opts, progress);
}

}  // namespace hfk::models
