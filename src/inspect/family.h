// Family facts the inspector needs beyond the parameter formulas (param_count.cpp).
#pragma once

#include "model/config.h"

namespace hfk {

// BERT-like encoders: no KV cache.
bool encoder_only(const ModelConfig &cfg);
// tie_word_embeddings with the family's default when the config does not say.
bool tied_embeddings(const ModelConfig &cfg);

}  // namespace hfk
