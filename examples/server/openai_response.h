// The JSON bodies and server-sent events of OpenAI's responses.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "backend.h"

namespace server {

// "stop" (EOS, stop string) or "length" (max_tokens, context full, or a constrained output cut
// short before it was complete).
const char *finish_reason(hfk_stop_reason reason);

// What every response of one request shares.
struct ResponseHead {
    std::string id;  // chatcmpl-..., cmpl-...
    std::string model;
    int64_t created = 0;
    bool chat = true;
    bool logprobs = false;  // the request asked for logprobs
};

std::string new_response_id(bool chat);

std::string completion_body(const ResponseHead &head, const GenOutcome &out);
// One SSE event "data: {...}\n\n": a piece of text, or (finish != nullptr) the closing chunk.
std::string stream_chunk(const ResponseHead &head, std::string_view text, bool first,
                         const char *finish, bool usage_null);
// The chunk carrying a stream's logprobs, sent once the generation is over (the C API gives
// them after the call): empty text, every token's logprobs.
std::string stream_logprobs_chunk(const ResponseHead &head, const GenOutcome &out, bool usage_null);
std::string stream_usage_chunk(const ResponseHead &head, int32_t prompt, int32_t completion);
std::string sse_event(const std::string &json);
inline constexpr std::string_view kSseDone = "data: [DONE]\n\n";

std::string embeddings_body(const std::string &model, const EmbedOutcome &out, bool base64);
std::string models_body(const std::vector<ModelState> &models, int64_t created);
std::string model_body(const ModelState &model, int64_t created);
std::string health_body(const std::vector<ModelState> &models, bool ready);

}  // namespace server
