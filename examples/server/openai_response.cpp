#include "openai_response.h"

#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <random>

#include <nlohmann/json.hpp>

namespace server {

using json = nlohmann::ordered_json;

namespace {
std::string dump(const json &j) {
    return j.dump(-1, ' ', false, json::error_handler_t::replace);
}

json usage(int32_t prompt, int32_t completion) {
    return {{"prompt_tokens", prompt},
            {"completion_tokens", completion},
            {"total_tokens", static_cast<int64_t>(prompt) + completion}};
}

std::string base64(const unsigned char *data, size_t n) {
    static const char *const kAlphabet =
        "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    std::string out;
    out.reserve((n + 2) / 3 * 4);
    for (size_t i = 0; i < n; i += 3) {
        const uint32_t b = (uint32_t(data[i]) << 16) |
                           (i + 1 < n ? uint32_t(data[i + 1]) << 8 : 0) |
                           (i + 2 < n ? uint32_t(data[i + 2]) : 0);
        out += kAlphabet[(b >> 18) & 63];
        out += kAlphabet[(b >> 12) & 63];
        out += i + 1 < n ? kAlphabet[(b >> 6) & 63] : '=';
        out += i + 2 < n ? kAlphabet[b & 63] : '=';
    }
    return out;
}

json utf8_bytes(const std::string &s) {
    json out = json::array();
    for (unsigned char c : s) out.push_back(c);
    return out;
}

// OpenAI's chat shape: {"content": [{token, logprob, bytes, top_logprobs: [...]}]}.
json chat_logprobs(const std::vector<TokenLogprob> &lps) {
    json content = json::array();
    for (const TokenLogprob &t : lps) {
        json top = json::array();
        for (const TokenLogprob::Alternative &a : t.top)
            top.push_back(
                {{"token", a.token}, {"logprob", a.logprob}, {"bytes", utf8_bytes(a.token)}});
        content.push_back({{"token", t.token},
                           {"logprob", t.logprob},
                           {"bytes", utf8_bytes(t.token)},
                           {"top_logprobs", std::move(top)}});
    }
    return {{"content", std::move(content)}, {"refusal", nullptr}};
}

// Code points in s[0, n), the unit of text_offset (a character index, as in Python).
size_t code_points(const std::string &s) {
    size_t n = 0;
    for (unsigned char c : s) n += (c & 0xC0) != 0x80;
    return n;
}

// The legacy completions shape: parallel arrays, top_logprobs as {token: logprob} objects,
// text_offset the character offset of each token in the completion's text.
json legacy_logprobs(const std::vector<TokenLogprob> &lps) {
    json tokens = json::array(), token_lps = json::array(), tops = json::array(),
         offsets = json::array();
    size_t offset = 0;
    for (const TokenLogprob &t : lps) {
        tokens.push_back(t.token);
        token_lps.push_back(t.logprob);
        json top = json::object();
        for (const TokenLogprob::Alternative &a : t.top)
            if (!top.contains(a.token)) top[a.token] = a.logprob;
        tops.push_back(std::move(top));
        offsets.push_back(offset);
        offset += code_points(t.token);
    }
    return {{"tokens", std::move(tokens)},
            {"token_logprobs", std::move(token_lps)},
            {"top_logprobs", std::move(tops)},
            {"text_offset", std::move(offsets)}};
}

json logprobs_json(const ResponseHead &head, const GenOutcome &out) {
    if (!head.logprobs) return nullptr;
    return head.chat ? chat_logprobs(out.logprobs) : legacy_logprobs(out.logprobs);
}

}  // namespace

const char *finish_reason(hfk_stop_reason reason) {
    return reason == HFK_STOP_MAX_TOKENS || reason == HFK_STOP_CONTEXT_FULL ||
                   reason == HFK_STOP_CONSTRAINT_INCOMPLETE
               ? "length"
               : "stop";
}

std::string new_response_id(bool chat) {
    static std::atomic<uint64_t> counter{0};
    static const uint64_t salt = std::random_device{}();
    char buf[64];
    std::snprintf(buf, sizeof buf, "%s-%016llx%08llx", chat ? "chatcmpl" : "cmpl",
                  static_cast<unsigned long long>(salt),
                  static_cast<unsigned long long>(counter.fetch_add(1)));
    return buf;
}

std::string completion_body(const ResponseHead &head, const GenOutcome &out) {
    json choice = {{"index", 0}};
    if (head.chat)
        choice["message"] = {{"role", "assistant"}, {"content", out.text}};
    else
        choice["text"] = out.text;
    choice["logprobs"] = logprobs_json(head, out);
    choice["finish_reason"] = finish_reason(out.stop_reason);
    json body = {{"id", head.id},
                 {"object", head.chat ? "chat.completion" : "text_completion"},
                 {"created", head.created},
                 {"model", head.model},
                 {"choices", json::array({choice})},
                 {"usage", usage(out.prompt_tokens, out.completion_tokens)}};
    return dump(body);
}

std::string sse_event(const std::string &json_text) {
    return "data: " + json_text + "\n\n";
}

std::string stream_chunk(const ResponseHead &head, std::string_view text, bool first,
                         const char *finish, bool usage_null) {
    json choice = {{"index", 0}};
    if (head.chat) {
        json delta = json::object();
        if (first) delta["role"] = "assistant";
        if (!finish) delta["content"] = std::string(text);
        choice["delta"] = delta;
    } else {
        choice["text"] = std::string(text);
    }
    choice["logprobs"] = nullptr;
    choice["finish_reason"] = finish ? json(finish) : json(nullptr);
    json body = {{"id", head.id},
                 {"object", head.chat ? "chat.completion.chunk" : "text_completion"},
                 {"created", head.created},
                 {"model", head.model},
                 {"choices", json::array({choice})}};
    if (usage_null) body["usage"] = nullptr;
    return sse_event(dump(body));
}

std::string stream_logprobs_chunk(const ResponseHead &head, const GenOutcome &out,
                                  bool usage_null) {
    json choice = {{"index", 0}};
    if (head.chat)
        choice["delta"] = {{"content", ""}};
    else
        choice["text"] = "";
    choice["logprobs"] = logprobs_json(head, out);
    choice["finish_reason"] = nullptr;
    json body = {{"id", head.id},
                 {"object", head.chat ? "chat.completion.chunk" : "text_completion"},
                 {"created", head.created},
                 {"model", head.model},
                 {"choices", json::array({choice})}};
    if (usage_null) body["usage"] = nullptr;
    return sse_event(dump(body));
}

std::string stream_usage_chunk(const ResponseHead &head, int32_t prompt, int32_t completion) {
    json body = {{"id", head.id},
                 {"object", head.chat ? "chat.completion.chunk" : "text_completion"},
                 {"created", head.created},
                 {"model", head.model},
                 {"choices", json::array()},
                 {"usage", usage(prompt, completion)}};
    return sse_event(dump(body));
}

std::string embeddings_body(const std::string &model, const EmbedOutcome &out, bool b64) {
    json data = json::array();
    const size_t dim = static_cast<size_t>(out.dim);
    const size_t n = dim ? out.vectors.size() / dim : 0;
    for (size_t i = 0; i < n; ++i) {
        const float *v = out.vectors.data() + i * dim;
        json item = {{"object", "embedding"}, {"index", i}};
        if (b64) {
            // Little-endian float32, as OpenAI encodes it (x86 and ARM Linux are little-endian).
            item["embedding"] = base64(reinterpret_cast<const unsigned char *>(v), dim * 4);
        } else {
            json arr = json::array();
            for (size_t k = 0; k < dim; ++k) arr.push_back(v[k]);
            item["embedding"] = std::move(arr);
        }
        data.push_back(std::move(item));
    }
    json body = {
        {"object", "list"},
        {"data", std::move(data)},
        {"model", model},
        {"usage", {{"prompt_tokens", out.prompt_tokens}, {"total_tokens", out.prompt_tokens}}}};
    return dump(body);
}

std::string model_body(const ModelState &m, int64_t created) {
    return dump(
        json{{"id", m.id}, {"object", "model"}, {"created", created}, {"owned_by", "hfkit"}});
}

std::string models_body(const std::vector<ModelState> &models, int64_t created) {
    json data = json::array();
    for (const ModelState &m : models)
        data.push_back(
            {{"id", m.id}, {"object", "model"}, {"created", created}, {"owned_by", "hfkit"}});
    return dump(json{{"object", "list"}, {"data", std::move(data)}});
}

const char *state_label(const ModelState &m) {
    if (!m.requested) return m.unloaded ? "unloaded" : "not_loaded";
    switch (m.state) {
        case HFK_MODEL_DOWNLOADING:
            return "downloading";
        case HFK_MODEL_LOADING:
            return "loading";
        case HFK_MODEL_READY:
            return "ready";
        case HFK_MODEL_FAILED:
            return "failed";
        default:
            return "pending";
    }
}

std::string health_body(const std::vector<ModelState> &models, bool ready) {
    json list = json::array();
    for (const ModelState &m : models) {
        json item = {{"id", m.id}, {"state", state_label(m)}};
        if (m.state == HFK_MODEL_DOWNLOADING) {
            item["bytes_done"] = m.bytes_done;
            item["bytes_total"] = m.bytes_total;
        }
        if (m.state == HFK_MODEL_LOADING) item["load_fraction"] = m.load_fraction;
        if (m.state == HFK_MODEL_FAILED) item["error"] = m.error;
        item["busy"] = m.busy;
        item["waiting"] = m.waiting;
        item["loads"] = m.loads;
        item["unloads"] = m.unloads;
        list.push_back(std::move(item));
    }
    return dump(json{{"status", ready ? "ok" : "unavailable"}, {"models", std::move(list)}});
}

}  // namespace server
