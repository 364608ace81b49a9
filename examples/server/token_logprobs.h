// A generation's logprobs as OpenAI shows them: each token with its text as it reads in the
// output. Shared by the session pool (hfk_session_last_logprobs) and the engine backend
// (hfk_engine_result's arrays), so both answer the same.
#pragma once

#include <cstdint>
#include <vector>

#include "backend.h"

namespace server {

// n ids with their logprobs, and n x n_top alternatives (row-major; may be NULL when n_top
// is 0); `prev` is the prompt's last id (< 0: unknown), after which the first token reads.
std::vector<TokenLogprob> token_logprobs(const hfk_tokenizer *tok, int32_t prev, const int32_t *ids,
                                         const float *logprobs, int64_t n, const int32_t *top_ids,
                                         const float *top_logprobs, int32_t n_top);

}  // namespace server
