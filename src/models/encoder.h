// What the BERT-family encoders share (BERT, RoBERTa / XLM-RoBERTa, DistilBERT): word + position
// (+ token-type) embeddings and a LayerNorm, then post-LayerNorm blocks of bidirectional
// attention and a two-layer MLP, then a head on the first token. An architecture file names its
// tensors (EncoderNames), says how positions are numbered (positions()) and binds its head.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <span>
#include <string>
#include <vector>

#include "kernels/matmul.h"
#include "models/common.h"

namespace hfk::models {

// config.json's activation for an encoder ("gelu" is the exact erf form), or HFK_E_UNSUPPORTED.
Act encoder_activation(const std::string &name, const std::string &arch);

// Tensor names, relative to the checkpoint's prefix. Each layer name is a module path without
// ".weight" / ".bias"; every module has both.
struct EncoderNames {
    std::vector<std::string> prefixes;       // e.g. {"bert."}: tried before the bare name
    std::string word, position, token_type;  // token_type "": the model has none
    std::string embedding_norm;
    bool sinusoidal_if_absent = false;  // no table and sinusoidal_pos_embds: computed (DistilBERT)
    std::string layer_prefix;           // "encoder.layer." + i + "."
    std::string query, key, value, attn_out, attn_norm, ffn_in, ffn_out, ffn_norm;
};

// BERT's module names (RoBERTa and XLM-RoBERTa use the same ones), without a prefix.
EncoderNames bert_encoder_names();

// A dense layer and its activation, then the label projection: the sequence-classification
// heads (BERT: pooler tanh + classifier; RoBERTa: classifier.dense tanh + out_proj; DistilBERT:
// pre_classifier ReLU + classifier), all on the first token's hidden state.
struct ClassifierHead {
    kern::Mat dense, out;
    std::vector<float> dense_b, out_b;
    Act act = Act::Relu;
    bool tanh = false;  // tanh instead of `act` after the dense layer
    int64_t n_labels = 0;
};

class PostNormEncoder : public Model {
  public:
    const ModelConfig &config() const override { return cfg_; }
    std::string architecture() const override { return arch_; }
    bool is_causal() const override { return false; }
    int32_t vocab_size() const override { return int32_t(vocab_); }
    int32_t context_length() const override { return int32_t(max_tokens_); }
    uint64_t weight_bytes() const override { return weight_bytes_; }
    EncoderOutput encode(std::span<const int32_t> ids, std::span<const int32_t> type_ids,
                         int32_t n_threads) const override;
    int32_t n_token_types() const override { return int32_t(n_types_); }

  protected:
    // Binds the embeddings and layers; the derived constructor binds its head through loader()
    // and then calls finish().
    PostNormEncoder(ModelConfig cfg, std::string arch, std::shared_ptr<const WeightStore> store,
                    const LoadOptions &opts, const EncoderNames &names,
                    const std::function<bool(double)> &progress);
    WeightLoader &loader() { return *loader_; }
    // Binds a dense + label head; false (and nothing bound) when `out_name`.weight is absent.
    // The label count must agree with config.json's id2label.
    bool bind_head(const std::string &dense_name, const std::string &out_name,
                   ClassifierHead &head);
    // Checks that every tensor was bound and releases the loader.
    void finish();
    // The position id of each token (default 0, 1, 2, ...).
    virtual void positions(std::span<const int32_t> ids, std::vector<int64_t> &out) const;
    // Fills out.pooled / out.logits from the final hidden states (x: n x hidden).
    virtual void head(const float *x, EncoderOutput &out) const = 0;
    void run_head(const ClassifierHead &h, const float *first, std::vector<float> &logits,
                  std::vector<float> *dense_out) const;
    ModelConfig cfg_;
    std::string arch_;
    std::shared_ptr<const WeightStore> store_;
    WeightArena copies_;  // the weights converted at load
    int64_t dim_, n_heads_, head_dim_, ffn_, vocab_, n_pos_, n_types_ = 0;
    int64_t max_tokens_;  // tokens one sequence may have (RoBERTa: fewer than n_pos_)
    float eps_;
    Act act_ = Act::GeluErf;
    uint64_t weight_bytes_ = 0;

  private:
    std::unique_ptr<WeightLoader> loader_;
    struct Layer {
        kern::Mat wq, wk, wv, wo, w_in, w_out;
        std::vector<float> bq, bk, bv, bo, b_in, b_out, ln1_w, ln1_b, ln2_w, ln2_b;
    };
    kern::Mat word_, pos_, type_;
    std::vector<float> emb_ln_w_, emb_ln_b_, sinusoid_;
    std::vector<Layer> layers_;
};

}  // namespace hfk::models
