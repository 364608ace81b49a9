// Parsing and validating the JSON bodies of OpenAI's endpoints. Every problem is an ApiError
// (400) naming the field, so nothing a client sends reaches the engine unchecked.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

namespace server {

struct RequestLimits {
    size_t max_stop_strings = 16;  // OpenAI allows 4; llama-server's clients send a few more
    size_t max_stop_bytes = 256;   // per stop string
    size_t max_embedding_inputs = 256;
    int max_json_depth = 64;  // nesting of the request body
};

// Fields shared by chat and text completions.
struct Sampling {
    std::optional<int32_t> max_tokens;  // max_tokens or max_completion_tokens
    std::optional<float> temperature, top_p, presence_penalty, frequency_penalty;
    std::optional<uint64_t> seed;
    std::vector<std::string> stop;
    bool stream = false;
    bool include_usage = false;  // stream_options.include_usage
    // response_format: HFK_CONSTRAINT_NONE, or HFK_CONSTRAINT_JSON_SCHEMA with the schema
    // (json_object is the schema of any object), checked to compile.
    int32_t constraint_kind = 0;
    std::string constraint;
    // Chat: logprobs (bool) and top_logprobs; text completions: logprobs (int) = top_logprobs.
    bool logprobs = false;
    int32_t top_logprobs = 0;
    // ollama's keep_alive: seconds the model stays loaded after this request (< 0: forever).
    std::optional<double> keep_alive;
};

struct ChatRequest {
    std::string model;
    std::string conversation_json;  // {"messages", "tools"?, "add_generation_prompt": true}
    Sampling sampling;
};

struct CompletionRequest {
    std::string model;
    std::string prompt;
    Sampling sampling;
};

struct EmbeddingRequest {
    std::string model;
    std::vector<std::string> inputs;
    bool base64 = false;  // encoding_format "base64" (the OpenAI SDK's default)
};

// Each throws ApiError. An absent "model" is "" (the server's first model).
ChatRequest parse_chat_request(const std::string &body, const RequestLimits &limits);
CompletionRequest parse_completion_request(const std::string &body, const RequestLimits &limits);
EmbeddingRequest parse_embedding_request(const std::string &body, const RequestLimits &limits);

}  // namespace server
