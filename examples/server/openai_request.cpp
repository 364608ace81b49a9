#include "openai_request.h"

#include <cmath>
#include <limits>

#include "api_error.h"
#include "hfkit/hfkit.h"

namespace server {
namespace {

using json = nlohmann::json;

// Parses the body as one JSON object. nlohmann rejects invalid UTF-8 in strings, so every
// string that reaches the engine is valid UTF-8; the depth limit keeps later recursive walks
// (dump, the template engine) bounded.
json parse_object(const std::string &body, const RequestLimits &limits) {
    json j;
    try {
        j = json::parse(body, [&](int depth, json::parse_event_t, json &) {
            if (depth > limits.max_json_depth)
                throw bad_request("", "The request body nests deeper than " +
                                          std::to_string(limits.max_json_depth) + " levels");
            return true;
        });
    } catch (const json::exception &e) {
        throw bad_request("", std::string("The request body is not valid JSON: ") + e.what(),
                          "invalid_json");
    }
    if (!j.is_object()) throw bad_request("", "The request body must be a JSON object");
    return j;
}

// The field if present and not null.
const json *field(const json &j, const char *name) {
    auto it = j.find(name);
    if (it == j.end() || it->is_null()) return nullptr;
    return &*it;
}

std::string get_model(const json &j) {
    const json *m = field(j, "model");
    if (!m) return "";
    if (!m->is_string()) throw bad_request("model", "'model' must be a string");
    return m->get<std::string>();
}

std::optional<double> get_number(const json &j, const char *name, double lo, double hi,
                                 bool lo_excluded = false) {
    const json *v = field(j, name);
    if (!v) return std::nullopt;
    if (!v->is_number()) throw bad_request(name, std::string("'") + name + "' must be a number");
    const double d = v->get<double>();
    if (!std::isfinite(d) || d < lo || d > hi || (lo_excluded && d == lo))
        throw bad_request(name, std::string("'") + name + "' must be in " +
                                    (lo_excluded ? "(" : "[") + json(lo).dump() + ", " +
                                    json(hi).dump() + "], got " + v->dump());
    return d;
}

// An integer (a float with an integral value is accepted, as JSON does not tell them apart).
std::optional<int64_t> get_integer(const json &j, const char *name, int64_t lo, int64_t hi) {
    const json *v = field(j, name);
    if (!v) return std::nullopt;
    const std::string msg = std::string("'") + name + "' must be an integer in [" +
                            std::to_string(lo) + ", " + std::to_string(hi) + "]";
    if (v->is_number_integer()) {
        if (v->is_number_unsigned()) {
            const uint64_t u = v->get<uint64_t>();
            if (u > static_cast<uint64_t>(hi) || (lo > 0 && u < static_cast<uint64_t>(lo)))
                throw bad_request(name, msg + ", got " + v->dump());
            return static_cast<int64_t>(u);
        }
        const int64_t i = v->get<int64_t>();
        if (i < lo || i > hi) throw bad_request(name, msg + ", got " + v->dump());
        return i;
    }
    if (v->is_number_float()) {
        const double d = v->get<double>();
        if (std::isfinite(d) && std::floor(d) == d && d >= static_cast<double>(lo) &&
            d <= static_cast<double>(hi))
            return static_cast<int64_t>(d);
        throw bad_request(name, msg + ", got " + v->dump());
    }
    throw bad_request(name, msg);
}

bool get_bool(const json &j, const char *name, bool fallback) {
    const json *v = field(j, name);
    if (!v) return fallback;
    if (!v->is_boolean()) throw bad_request(name, std::string("'") + name + "' must be a boolean");
    return v->get<bool>();
}

std::vector<std::string> get_stop(const json &j, const RequestLimits &limits) {
    const json *v = field(j, "stop");
    std::vector<std::string> out;
    if (!v) return out;
    auto add = [&](const json &s) {
        if (!s.is_string())
            throw bad_request("stop", "'stop' must be a string or an array of strings");
        std::string text = s.get<std::string>();
        if (text.empty()) throw bad_request("stop", "'stop' strings must not be empty");
        if (text.size() > limits.max_stop_bytes)
            throw bad_request("stop", "'stop' strings are limited to " +
                                          std::to_string(limits.max_stop_bytes) + " bytes");
        if (text.find('\0') != std::string::npos)
            throw bad_request("stop", "'stop' strings must not contain NUL");
        out.push_back(std::move(text));
    };
    if (v->is_array()) {
        if (v->size() > limits.max_stop_strings)
            throw bad_request("stop", "'stop' holds " + std::to_string(v->size()) +
                                          " strings; the limit is " +
                                          std::to_string(limits.max_stop_strings));
        for (const json &s : *v) add(s);
    } else {
        add(*v);
    }
    return out;
}

void require_n_is_one(const json &j) {
    if (auto n = get_integer(j, "n", 1, 128); n && *n != 1)
        throw bad_request("n", "Only 'n': 1 is supported");
}

// OpenAI's response_format: "text", "json_object" (any JSON object) or "json_schema" (the
// library's JSON-Schema constraint). The constraint is compiled here, so a schema the library
// cannot express is a 400 naming it, before the request is queued or a stream starts.
void get_response_format(const json &j, Sampling &s) {
    const json *rf = field(j, "response_format");
    if (!rf) return;
    if (!rf->is_object())
        throw bad_request("response_format", "'response_format' must be an object");
    auto type = rf->find("type");
    if (type == rf->end() || !type->is_string())
        throw bad_request("response_format.type",
                          "'response_format.type' must be \"text\", \"json_object\" or "
                          "\"json_schema\"");
    if (*type == "text") return;
    if (*type == "json_object") {
        // JSON Schema's "additionalProperties" schema {} lets an object hold any members.
        s.constraint = R"({"type": "object", "additionalProperties": {}})";
    } else if (*type == "json_schema") {
        auto js = rf->find("json_schema");
        if (js == rf->end() || !js->is_object())
            throw bad_request("response_format.json_schema",
                              "'response_format.json_schema' must be an object with 'name' and "
                              "'schema'");
        auto name = js->find("name");
        if (name != js->end() && !name->is_string())
            throw bad_request("response_format.json_schema.name",
                              "'response_format.json_schema.name' must be a string");
        auto strict = js->find("strict");
        if (strict != js->end() && !strict->is_null() && !strict->is_boolean())
            throw bad_request("response_format.json_schema.strict",
                              "'response_format.json_schema.strict' must be a boolean");
        auto schema = js->find("schema");
        // OpenAI treats a missing schema as any JSON: the empty schema.
        if (schema == js->end() || schema->is_null())
            s.constraint = "{}";
        else if (!schema->is_object() && !schema->is_boolean())
            throw bad_request("response_format.json_schema.schema",
                              "'response_format.json_schema.schema' must be a JSON Schema object");
        else
            s.constraint = schema->dump();
    } else {
        throw bad_request("response_format.type",
                          "'response_format.type' must be \"text\", \"json_object\" or "
                          "\"json_schema\", got " +
                              type->dump());
    }
    s.constraint_kind = HFK_CONSTRAINT_JSON_SCHEMA;
    if (hfk_constraint_check(s.constraint_kind, s.constraint.c_str()) != HFK_OK) {
        const char *why = hfk_last_error_message();
        throw bad_request(
            *type == "json_object" ? "response_format" : "response_format.json_schema.schema",
            std::string("Unsupported schema: ") + (why ? why : ""));
    }
}

// ollama's keep_alive: a number of seconds or a duration such as "30s", "5m", "1h", "500ms";
// negative keeps the model loaded for good, 0 unloads it as soon as it is idle.
std::optional<double> get_keep_alive(const json &j) {
    const json *v = field(j, "keep_alive");
    if (!v) return std::nullopt;
    const char *msg =
        "'keep_alive' must be a number of seconds or a duration like \"30s\", \"5m\", \"1h\"";
    double seconds = 0;
    if (v->is_number()) {
        seconds = v->get<double>();
    } else if (v->is_string()) {
        const std::string text = v->get<std::string>();
        size_t used = 0;
        try {
            seconds = std::stod(text, &used);
        } catch (const std::exception &) {
            throw bad_request("keep_alive", msg);
        }
        const std::string unit = text.substr(used);
        if (unit == "ms")
            seconds /= 1000;
        else if (unit == "m")
            seconds *= 60;
        else if (unit == "h")
            seconds *= 3600;
        else if (!unit.empty() && unit != "s")
            throw bad_request("keep_alive", msg);
    } else {
        throw bad_request("keep_alive", msg);
    }
    if (!std::isfinite(seconds) || seconds > 1e9) throw bad_request("keep_alive", msg);
    return seconds < 0 ? -1.0 : seconds;
}

Sampling get_sampling(const json &j, const RequestLimits &limits) {
    Sampling s;
    constexpr int64_t kMaxInt32 = std::numeric_limits<int32_t>::max();
    auto max_tokens = get_integer(j, "max_completion_tokens", 1, kMaxInt32);
    if (!max_tokens) max_tokens = get_integer(j, "max_tokens", 1, kMaxInt32);
    if (max_tokens) s.max_tokens = static_cast<int32_t>(*max_tokens);
    if (auto t = get_number(j, "temperature", 0, 2)) s.temperature = static_cast<float>(*t);
    if (auto p = get_number(j, "top_p", 0, 1, true)) s.top_p = static_cast<float>(*p);
    if (auto p = get_number(j, "presence_penalty", -2, 2))
        s.presence_penalty = static_cast<float>(*p);
    if (auto p = get_number(j, "frequency_penalty", -2, 2))
        s.frequency_penalty = static_cast<float>(*p);
    if (auto seed = get_integer(j, "seed", std::numeric_limits<int64_t>::min(),
                                std::numeric_limits<int64_t>::max()))
        s.seed = static_cast<uint64_t>(*seed);
    s.stop = get_stop(j, limits);
    s.stream = get_bool(j, "stream", false);
    if (const json *so = field(j, "stream_options")) {
        if (!so->is_object())
            throw bad_request("stream_options", "'stream_options' must be an object");
        if (auto it = so->find("include_usage"); it != so->end() && !it->is_null()) {
            if (!it->is_boolean())
                throw bad_request("stream_options.include_usage",
                                  "'stream_options.include_usage' must be a boolean");
            s.include_usage = it->get<bool>();
        }
    }
    require_n_is_one(j);
    get_response_format(j, s);
    s.keep_alive = get_keep_alive(j);
    return s;
}

void check_message(const json &m, size_t i) {
    const std::string at = "messages[" + std::to_string(i) + "]";
    if (!m.is_object()) throw bad_request(at, "'" + at + "' must be an object");
    auto role = m.find("role");
    if (role == m.end() || !role->is_string())
        throw bad_request(at + ".role", "'" + at + ".role' must be a string");
    auto content = m.find("content");
    if (content != m.end() && !content->is_null() && !content->is_string()) {
        if (!content->is_array())
            throw bad_request(at + ".content",
                              "'" + at + ".content' must be a string or an array of parts");
        for (const json &part : *content) {
            auto type = part.is_object() ? part.find("type") : part.end();
            if (!part.is_object() || type == part.end() || *type != "text" ||
                !part.contains("text") || !part["text"].is_string())
                throw bad_request(at + ".content",
                                  "'" + at +
                                      ".content' parts must be {\"type\": \"text\", "
                                      "\"text\": string} (only text is supported)");
        }
    }
}

}  // namespace

ChatRequest parse_chat_request(const std::string &body, const RequestLimits &limits) {
    const json j = parse_object(body, limits);
    ChatRequest r;
    r.model = get_model(j);
    const json *messages = field(j, "messages");
    if (!messages) throw bad_request("messages", "'messages' is required");
    if (!messages->is_array() || messages->empty())
        throw bad_request("messages", "'messages' must be a non-empty array");
    for (size_t i = 0; i < messages->size(); ++i) check_message((*messages)[i], i);
    json conv = {{"messages", *messages}, {"add_generation_prompt", true}};
    if (const json *tools = field(j, "tools")) {
        if (!tools->is_array()) throw bad_request("tools", "'tools' must be an array");
        for (const json &t : *tools)
            if (!t.is_object()) throw bad_request("tools", "'tools' entries must be objects");
        if (!tools->empty()) conv["tools"] = *tools;
    }
    r.sampling = get_sampling(j, limits);
    r.sampling.logprobs = get_bool(j, "logprobs", false);
    if (auto top = get_integer(j, "top_logprobs", 0, HFK_MAX_TOP_LOGPROBS)) {
        if (!r.sampling.logprobs && *top > 0)
            throw bad_request("top_logprobs", "'top_logprobs' needs 'logprobs': true");
        r.sampling.top_logprobs = static_cast<int32_t>(*top);
    }
    r.conversation_json = conv.dump();
    return r;
}

CompletionRequest parse_completion_request(const std::string &body, const RequestLimits &limits) {
    const json j = parse_object(body, limits);
    CompletionRequest r;
    r.model = get_model(j);
    const json *prompt = field(j, "prompt");
    if (!prompt) throw bad_request("prompt", "'prompt' is required");
    if (prompt->is_array() && prompt->size() == 1 && (*prompt)[0].is_string())
        prompt = &(*prompt)[0];
    if (!prompt->is_string())
        throw bad_request("prompt", "'prompt' must be a string (or an array of one string)");
    r.prompt = prompt->get<std::string>();
    if (r.prompt.find('\0') != std::string::npos)
        throw bad_request("prompt", "'prompt' must not contain NUL");
    if (get_bool(j, "echo", false)) throw bad_request("echo", "'echo' is not supported");
    if (field(j, "suffix")) throw bad_request("suffix", "'suffix' is not supported");
    if (auto b = get_integer(j, "best_of", 1, 128); b && *b != 1)
        throw bad_request("best_of", "Only 'best_of': 1 is supported");
    r.sampling = get_sampling(j, limits);
    // Text completions take logprobs as an integer: the alternatives per token (0 still
    // reports the chosen tokens' logprobs).
    if (auto n = get_integer(j, "logprobs", 0, HFK_MAX_TOP_LOGPROBS)) {
        r.sampling.logprobs = true;
        r.sampling.top_logprobs = static_cast<int32_t>(*n);
    }
    if (field(j, "top_logprobs"))
        throw bad_request("top_logprobs",
                          "'top_logprobs' belongs to chat completions; text completions take "
                          "'logprobs': N");
    return r;
}

EmbeddingRequest parse_embedding_request(const std::string &body, const RequestLimits &limits) {
    const json j = parse_object(body, limits);
    EmbeddingRequest r;
    r.model = get_model(j);
    const json *input = field(j, "input");
    if (!input) throw bad_request("input", "'input' is required");
    auto add = [&](const json &s) {
        if (!s.is_string())
            throw bad_request("input",
                              "'input' must be a string or an array of strings "
                              "(token arrays are not supported)");
        std::string text = s.get<std::string>();
        if (text.empty()) throw bad_request("input", "'input' strings must not be empty");
        if (text.find('\0') != std::string::npos)
            throw bad_request("input", "'input' must not contain NUL");
        r.inputs.push_back(std::move(text));
    };
    if (input->is_array()) {
        if (input->empty()) throw bad_request("input", "'input' must not be empty");
        if (input->size() > limits.max_embedding_inputs)
            throw bad_request("input", "'input' holds " + std::to_string(input->size()) +
                                           " texts; the limit is " +
                                           std::to_string(limits.max_embedding_inputs));
        for (const json &s : *input) add(s);
    } else {
        add(*input);
    }
    if (const json *f = field(j, "encoding_format")) {
        if (*f == "base64")
            r.base64 = true;
        else if (*f != "float")
            throw bad_request("encoding_format",
                              "'encoding_format' must be \"float\" or \"base64\"");
    }
    if (field(j, "dimensions")) throw bad_request("dimensions", "'dimensions' is not supported");
    return r;
}

}  // namespace server
