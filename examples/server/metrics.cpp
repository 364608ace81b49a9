#include "metrics.h"

#include <cstdio>

namespace server {

namespace {
std::string number(double v) {
    char buf[64];
    std::snprintf(buf, sizeof buf, "%.17g", v);
    return buf;
}

// Prometheus label values escape backslash, double quote and newline.
std::string label(const std::string &v) {
    std::string out;
    for (char c : v) {
        if (c == '\\' || c == '"') out += '\\';
        if (c == '\n') {
            out += "\\n";
            continue;
        }
        out += c;
    }
    return out;
}

}  // namespace

Histogram::Histogram(std::vector<double> bounds)
    : bounds_(std::move(bounds)), counts_(bounds_.size() + 1, 0) {}

void Histogram::observe(double value) {
    size_t i = 0;
    while (i < bounds_.size() && value > bounds_[i]) ++i;
    ++counts_[i];
    sum_ += value;
    ++count_;
}

void Histogram::render(std::string &out, const std::string &name, const std::string &help) const {
    out += "# HELP " + name + " " + help + "\n# TYPE " + name + " histogram\n";
    uint64_t cumulative = 0;
    for (size_t i = 0; i < bounds_.size(); ++i) {
        cumulative += counts_[i];
        char le[32];
        std::snprintf(le, sizeof le, "%g", bounds_[i]);
        out += name + "_bucket{le=\"" + le + "\"} " + std::to_string(cumulative) + "\n";
    }
    cumulative += counts_.back();
    out += name + "_bucket{le=\"+Inf\"} " + std::to_string(cumulative) + "\n";
    out += name + "_sum " + number(sum_) + "\n" + name + "_count " + std::to_string(count_) + "\n";
}

Metrics::Metrics()
    : ttft_({0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30}),
      tpot_({0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1}) {}

void Metrics::request_done(const std::string &endpoint, int status) {
    std::lock_guard<std::mutex> lock(mu_);
    ++requests_[{endpoint, status}];
}

void Metrics::tokens(int64_t prompt, int64_t completion) {
    std::lock_guard<std::mutex> lock(mu_);
    prompt_tokens_ += static_cast<uint64_t>(prompt);
    completion_tokens_ += static_cast<uint64_t>(completion);
}

void Metrics::cancelled() {
    std::lock_guard<std::mutex> lock(mu_);
    ++cancelled_;
}

void Metrics::in_flight(int delta) {
    std::lock_guard<std::mutex> lock(mu_);
    in_flight_ += delta;
}

void Metrics::time_to_first_token(double seconds) {
    std::lock_guard<std::mutex> lock(mu_);
    ttft_.observe(seconds);
}

void Metrics::time_per_output_token(double seconds) {
    std::lock_guard<std::mutex> lock(mu_);
    tpot_.observe(seconds);
}

std::string Metrics::render(int32_t queue_depth, const std::vector<ModelState> &models) {
    std::lock_guard<std::mutex> lock(mu_);
    std::string out;
    out +=
        "# HELP hfkit_requests_total HTTP requests answered, by endpoint and status.\n"
        "# TYPE hfkit_requests_total counter\n";
    for (const auto &[key, n] : requests_)
        out += "hfkit_requests_total{endpoint=\"" + label(key.first) + "\",status=\"" +
               std::to_string(key.second) + "\"} " + std::to_string(n) + "\n";
    out +=
        "# HELP hfkit_prompt_tokens_total Prompt tokens of completed generations.\n"
        "# TYPE hfkit_prompt_tokens_total counter\n"
        "hfkit_prompt_tokens_total " +
        std::to_string(prompt_tokens_) + "\n";
    out +=
        "# HELP hfkit_completion_tokens_total Tokens generated.\n"
        "# TYPE hfkit_completion_tokens_total counter\n"
        "hfkit_completion_tokens_total " +
        std::to_string(completion_tokens_) + "\n";
    out +=
        "# HELP hfkit_cancelled_total Generations stopped because the client went away.\n"
        "# TYPE hfkit_cancelled_total counter\n"
        "hfkit_cancelled_total " +
        std::to_string(cancelled_) + "\n";
    out +=
        "# HELP hfkit_requests_in_flight Requests admitted and not finished.\n"
        "# TYPE hfkit_requests_in_flight gauge\n"
        "hfkit_requests_in_flight " +
        std::to_string(in_flight_) + "\n";
    out +=
        "# HELP hfkit_queue_depth Requests waiting for a free slot.\n"
        "# TYPE hfkit_queue_depth gauge\n"
        "hfkit_queue_depth " +
        std::to_string(queue_depth) + "\n";
    out +=
        "# HELP hfkit_model_ready 1 when the model is loaded.\n"
        "# TYPE hfkit_model_ready gauge\n";
    for (const ModelState &m : models)
        out += "hfkit_model_ready{model=\"" + label(m.id) + "\",state=\"" + state_label(m) +
               "\"} " + (m.requested && m.state == HFK_MODEL_READY ? "1" : "0") + "\n";
    out +=
        "# HELP hfkit_model_unloads_total Times the model was unloaded after keep_alive idle "
        "time.\n"
        "# TYPE hfkit_model_unloads_total counter\n";
    for (const ModelState &m : models)
        out += "hfkit_model_unloads_total{model=\"" + label(m.id) + "\"} " +
               std::to_string(m.unloads) + "\n";
    out +=
        "# HELP hfkit_model_loads_total Times the model was opened (first use, or after an "
        "unload).\n"
        "# TYPE hfkit_model_loads_total counter\n";
    for (const ModelState &m : models)
        out += "hfkit_model_loads_total{model=\"" + label(m.id) + "\"} " + std::to_string(m.loads) +
               "\n";
    out +=
        "# HELP hfkit_model_busy_slots Slots of the model running a request.\n"
        "# TYPE hfkit_model_busy_slots gauge\n";
    for (const ModelState &m : models)
        out += "hfkit_model_busy_slots{model=\"" + label(m.id) + "\"} " + std::to_string(m.busy) +
               "\n";
    // The batching engine of each model that has one (hfk_engine_statistics).
    struct EngineGauge {
        const char *name, *type, *help;
        double (*value)(const ModelState &);
    };
    static const EngineGauge kEngine[] = {
        {"hfkit_engine_running", "gauge", "Requests in the model's running batch.",
         [](const ModelState &m) { return double(m.engine_running); }},
        {"hfkit_engine_queued", "gauge", "Requests waiting to join the batch.",
         [](const ModelState &m) { return double(m.engine_queued); }},
        {"hfkit_engine_batch_sequences", "gauge", "Requests in the last batched step.",
         [](const ModelState &m) { return double(m.last_batch_sequences); }},
        {"hfkit_engine_max_batch_sequences", "gauge", "The most requests one batched step has run.",
         [](const ModelState &m) { return double(m.max_batch_sequences); }},
        {"hfkit_engine_steps_total", "counter", "Batched forward passes run.",
         [](const ModelState &m) { return double(m.engine_steps); }},
        {"hfkit_engine_sequence_steps_total", "counter",
         "Requests summed over every step (divided by the steps: the mean batch).",
         [](const ModelState &m) { return double(m.sequence_steps); }},
        {"hfkit_engine_kv_blocks_used", "gauge", "KV cache blocks held by running requests.",
         [](const ModelState &m) { return double(m.kv_blocks_used); }},
        {"hfkit_engine_kv_blocks_total", "gauge", "KV cache blocks of the budget.",
         [](const ModelState &m) { return double(m.kv_blocks_total); }},
        {"hfkit_engine_kv_blocks_cached", "gauge",
         "KV cache blocks of published prompts and replies that no request holds (evicted "
         "first).",
         [](const ModelState &m) { return double(m.kv_blocks_cached); }},
        {"hfkit_engine_prefix_cache_hits_total", "counter",
         "Prompt tokens read from cached prefix blocks instead of being prefilled.",
         [](const ModelState &m) { return double(m.prefix_cache_hits); }},
        {"hfkit_engine_constraint_cache_hits_total", "counter",
         "Constrained requests that reused a compiled grammar (the same schema, grammar or "
         "regex as a recent request).",
         [](const ModelState &m) { return double(m.constraint_cache_hits); }},
    };
    for (const EngineGauge &g : kEngine) {
        out += std::string("# HELP ") + g.name + " " + g.help + "\n# TYPE " + g.name + " " +
               g.type + "\n";
        for (const ModelState &m : models)
            if (m.batching)
                out += std::string(g.name) + "{model=\"" + label(m.id) + "\"} " +
                       number(g.value(m)) + "\n";
    }
    ttft_.render(out, "hfkit_time_to_first_token_seconds",
                 "From the request's arrival to its first generated text.");
    tpot_.render(out, "hfkit_time_per_output_token_seconds",
                 "Mean time between generated tokens, per request.");
    return out;
}

}  // namespace server
