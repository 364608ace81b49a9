// Sentence embeddings and sequence classification with an encoder model (BERT, RoBERTa,
// XLM-RoBERTa, DistilBERT).
#pragma once

#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <vector>

#include "runtime/loaded_model.h"
#include "runtime/sentence_transformers.h"

namespace hfk {

struct EmbedOptions {
    std::optional<Pooling> pooling;  // unset: the repository's (LoadedModel::embedding)
    std::optional<bool> normalize;   // unset: the repository's
    int32_t n_threads = 0;
};

// Embeds each text (tokenized with special tokens: [CLS] ... [SEP]) into out[i * dim ...]. A text
// longer than the model's maximum (sentence_bert_config.json's max_seq_length, else the model's
// positions) is cut to it, special tokens kept, as sentence-transformers does; truncated[i] (if
// not empty) says whether text i was.
void embed_texts(const LoadedModel &lm, std::span<const std::string_view> texts,
                 const EmbedOptions &opts, std::span<float> out, std::span<uint8_t> truncated);

// Softmax probabilities over the classifier head's labels.
std::vector<float> classify_text(const LoadedModel &lm, std::string_view text, int32_t n_threads);
// The classifier head's raw logits (a reranker's single logit is its score).
std::vector<float> classify_logits(const LoadedModel &lm, std::string_view text, int32_t n_threads);

struct RerankOptions {
    int32_t n_threads = 0;
    // -1: the sigmoid of a one-label head's logit and the raw logits of a head with several (as
    // sentence-transformers' CrossEncoder by default); 0: raw logits; 1: the sigmoid of each.
    int32_t activation = -1;
};

// A cross-encoder (*ForSequenceClassification) on each (query, document) pair: the tokenizer's
// pair template (BERT: [CLS] q [SEP] d [SEP] with d's token types 1), truncated longest first to
// the model's maximum (sentence_bert_config.json's max_seq_length, else its positions) as
// transformers' truncation=True does; the head's n_labels values per document, row-major, into
// out (n_docs x n_labels). truncated[i] (if not empty) says whether pair i was cut.
void rerank(const LoadedModel &lm, std::string_view query, std::span<const std::string_view> docs,
            const RerankOptions &opts, std::span<float> out, std::span<uint8_t> truncated);

// ids (with special tokens) cut to at most max_tokens, keeping the special tokens the
// post-processor added around the text (content = encode(text, false) as it appears in ids).
// Returns whether anything was cut.
bool truncate_encoding(std::vector<int32_t> &ids, const std::vector<int32_t> &content,
                       int64_t max_tokens);

}  // namespace hfk
