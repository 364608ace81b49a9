// Sentence embeddings and sequence classification with an encoder model (BERT).
#pragma once

#include <cstdint>
#include <span>
#include <string>
#include <vector>

#include "runtime/loaded_model.h"

namespace hfk {

enum class Pooling { Mean, Cls };

// Embeds each text (tokenized with special tokens: [CLS] ... [SEP]) into out[i * dim ...].
void embed_texts(const LoadedModel &lm, std::span<const std::string_view> texts, Pooling pooling,
                 bool normalize, int32_t n_threads, std::span<float> out);

// Softmax probabilities over the classifier head's labels.
std::vector<float> classify_text(const LoadedModel &lm, std::string_view text, int32_t n_threads);

}  // namespace hfk
