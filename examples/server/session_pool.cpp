#include "session_pool.h"

#include <algorithm>
#include <chrono>
#include <stdexcept>

#include "api_error.h"
#include "token_logprobs.h"

namespace server {

struct SessionPool::Model {
    std::string id;
    hfk_model *handle = nullptr;         // opened on first use
    std::vector<hfk_session *> idle;     // sessions free for the next request
    std::vector<hfk_session *> running;  // sessions generating now
    int32_t busy = 0;                    // requests holding capacity (sessions or embed calls)
    int32_t waiting = 0;                 // requests queued for capacity
    int32_t users = 0;                   // requests between ready_model() and unuse()
    // keep_alive: since when nobody uses it, and for how long it may stay so (< 0: forever).
    std::chrono::steady_clock::time_point idle_since = std::chrono::steady_clock::now();
    double keep_alive_s = -1;
    int64_t loads = 0, unloads = 0;
};

namespace {

std::string last_error() {
    const char *m = hfk_last_error_message();
    return m ? m : "";
}

int32_t count_tokens(hfk_model *model, const std::string &text, bool add_special) {
    int64_t n = 0;
    const hfk_status s = hfk_tokenize(hfk_model_tokenizer(model), text.data(), text.size(),
                                      add_special ? 1 : 0, nullptr, 0, &n);
    if (s == HFK_OK) return 0;
    if (s != HFK_E_BUFFER_TOO_SMALL) throw bad_request("", "Cannot tokenize: " + last_error());
    return static_cast<int32_t>(std::min<int64_t>(-n, INT32_MAX));
}

// The last generate's logprobs (hfk_session_last_logprobs), each token with its text.
std::vector<TokenLogprob> last_logprobs(hfk_session *session, const hfk_tokenizer *tok,
                                        int32_t n_prompt) {
    std::vector<TokenLogprob> out;
    int64_t n = 0;
    int32_t n_top = 0;
    hfk_status s = hfk_session_last_logprobs(session, nullptr, nullptr, nullptr, 0, &n, &n_top);
    if (s == HFK_OK) return out;  // no token
    if (s != HFK_E_BUFFER_TOO_SMALL) throw std::runtime_error("logprobs: " + last_error());
    n = -n;
    std::vector<float> lps(static_cast<size_t>(n)), top_lps(static_cast<size_t>(n * n_top));
    std::vector<int32_t> top_ids(static_cast<size_t>(n * n_top)), ids(static_cast<size_t>(n));
    int64_t got = 0, got_ids = 0;
    if (hfk_session_last_logprobs(session, lps.data(), n_top ? top_ids.data() : nullptr,
                                  n_top ? top_lps.data() : nullptr, n, &got, &n_top) != HFK_OK ||
        hfk_session_last_tokens(session, ids.data(), n, &got_ids) != HFK_OK || got_ids != got)
        throw std::runtime_error("logprobs: " + last_error());
    // The id before the first generated one: the prompt's last (the session holds the prompt
    // and all generated ids but the last).
    int64_t n_seq = 0;
    int32_t prev = -1;
    if (hfk_session_tokens(session, nullptr, 0, &n_seq) == HFK_E_BUFFER_TOO_SMALL) {
        std::vector<int32_t> seq(static_cast<size_t>(-n_seq));
        if (hfk_session_tokens(session, seq.data(), -n_seq, &n_seq) == HFK_OK && n_prompt > 0 &&
            n_prompt <= n_seq)
            prev = seq[static_cast<size_t>(n_prompt - 1)];
    }
    return token_logprobs(tok, prev, ids.data(), lps.data(), got, top_ids.data(), top_lps.data(),
                          n_top);
}

int32_t piece_trampoline(const char *piece, size_t len, void *user_data) {
    auto *on_piece = static_cast<const std::function<bool(std::string_view)> *>(user_data);
    return (*on_piece)(std::string_view(piece, len)) ? 0 : 1;
}

}  // namespace

// One admitted generation: owns a session of the pool until destroyed.
class PooledJob final : public Job {
  public:
    PooledJob(SessionPool &pool, SessionPool::Model &model, hfk_session *session,
              GenRequest request, int32_t prompt_tokens)
        : pool_(pool),
          model_(model),
          session_(session),
          request_(std::move(request)),
          prompt_tokens_(prompt_tokens) {}
    ~PooledJob() override {
        pool_.release(model_, session_);
        pool_.unuse(model_, request_.keep_alive);
    }

    int32_t prompt_tokens() const override { return prompt_tokens_; }

    GenOutcome run(const std::function<bool(std::string_view)> &on_piece) override {
        GenOutcome out;
        {
            std::lock_guard<std::mutex> lock(pool_.mu_);
            if (pool_.cancelling_) {
                out.status = HFK_E_CANCELLED;
                out.message = "the server is shutting down";
                return out;
            }
            model_.running.push_back(session_);
        }
        std::vector<const char *> stops;
        for (const std::string &s : request_.stop) stops.push_back(s.c_str());
        hfk_gen_params params = request_.params;
        params.stop = stops.empty() ? nullptr : stops.data();
        params.n_stop = static_cast<int32_t>(stops.size());
        params.constraint = request_.constraint.c_str();
        hfk_gen_result result;
        HFK_GEN_RESULT_INIT(&result);
        char *text = nullptr;
        // The KV entries stay as a cache: a prompt sharing a prefix with the last one reuses it.
        hfk_session_reset(session_);
        // Generation runs on this thread: the client is asked about between pieces.
        const std::function<bool(std::string_view)> piece = [&](std::string_view p) {
            if (request_.client_gone && request_.client_gone()) return false;
            return on_piece(p);
        };
        void *ud = const_cast<std::function<bool(std::string_view)> *>(&piece);
        const std::string &tpl = pool_.options_.chat_template;
        if (request_.chat)
            out.status = hfk_session_chat(session_, request_.text.c_str(),
                                          tpl.empty() ? nullptr : tpl.c_str(), &params,
                                          piece_trampoline, ud, &text, &result);
        else
            out.status = hfk_session_generate(session_, request_.text.c_str(), &params,
                                              piece_trampoline, ud, &text, &result);
        if (out.status != HFK_OK) out.message = last_error();
        if (text) out.text = text;
        hfk_free(text);
        out.stop_reason = result.stop_reason;
        out.prompt_tokens = result.n_prompt_tokens;
        out.completion_tokens = result.n_generated_tokens;
        if (params.logprobs && out.status == HFK_OK) {
            try {
                out.logprobs = last_logprobs(session_, hfk_model_tokenizer(model_.handle),
                                             result.n_prompt_tokens);
            } catch (const std::exception &e) {
                out.status = HFK_E_INTERNAL;
                out.message = e.what();
            }
        }
        {
            std::lock_guard<std::mutex> lock(pool_.mu_);
            auto &r = model_.running;
            r.erase(std::find(r.begin(), r.end(), session_));
        }
        return out;
    }

  private:
    SessionPool &pool_;
    SessionPool::Model &model_;
    hfk_session *session_;
    GenRequest request_;
    int32_t prompt_tokens_;
};

SessionPool::SessionPool(PoolOptions options) : options_(std::move(options)) {
    for (const std::string &id : options_.model_ids) {
        auto m = std::make_unique<Model>();
        m->id = id;
        models_.push_back(std::move(m));
    }
    reaper_ = std::thread([this] { reap_idle(); });
}

SessionPool::~SessionPool() {
    {
        std::lock_guard<std::mutex> lock(mu_);
        closing_ = true;
    }
    reaper_cv_.notify_all();
    reaper_.join();
    for (auto &m : models_) {
        for (hfk_session *s : m->idle) hfk_session_free(s);
        hfk_model_free(m->handle);
    }
}

void SessionPool::open_default() {
    if (models_.empty()) return;
    std::lock_guard<std::mutex> lock(mu_);
    Model &m = *models_.front();
    if (!m.handle) open_locked(m);
}

bool SessionPool::open_locked(Model &m) {
    hfk_load_params lp;
    HFK_LOAD_PARAMS_INIT(&lp);
    lp.n_threads = options_.n_threads;
    lp.hub = options_.hub;
    lp.n_ctx = options_.n_ctx;
    if (hfk_model_open(&m.handle, m.id.c_str(), &lp) != HFK_OK) {
        m.handle = nullptr;
        return false;
    }
    ++m.loads;
    m.idle_since = std::chrono::steady_clock::now();
    m.keep_alive_s = options_.keep_alive_s;
    reaper_cv_.notify_all();
    return true;
}

SessionPool::Model &SessionPool::find(const std::string &id) {
    if (id.empty() && !models_.empty()) return *models_.front();
    for (auto &m : models_)
        if (m->id == id) return *m;
    throw not_found_model(id);
}

hfk_model *SessionPool::ready_model(Model &m) {
    hfk_model *handle = nullptr;
    {
        std::lock_guard<std::mutex> lock(mu_);
        if (!admitting_) throw unavailable("The server is shutting down", "shutting_down");
        if (!m.handle && !open_locked(m))
            throw unavailable("Cannot open model '" + m.id + "': " + last_error(),
                              "model_load_failed");
        handle = m.handle;  // not unloaded while this request uses it
        ++m.users;
    }
    try {
        return wait_ready(m, handle);
    } catch (...) {
        unuse(m, std::nullopt);
        throw;
    }
}

hfk_model *SessionPool::wait_ready(Model &m, hfk_model *handle) {
    hfk_model_status st;
    HFK_MODEL_STATUS_INIT(&st);
    if (hfk_model_get_status(handle, &st) == HFK_OK && st.state != HFK_MODEL_READY &&
        st.state != HFK_MODEL_FAILED) {
        // Requests waiting for a download or load count against the queue like any other.
        {
            std::lock_guard<std::mutex> lock(mu_);
            if (m.waiting >= options_.queue)
                throw busy("Model '" + m.id + "' is loading and " + std::to_string(m.waiting) +
                           " requests are waiting for it; retry later");
            ++m.waiting;
        }
        const hfk_status s = hfk_model_wait(handle, -1);
        std::lock_guard<std::mutex> lock(mu_);
        --m.waiting;
        if (s != HFK_OK)
            throw unavailable(
                "Model '" + m.id + "' failed to load: " + hfk_model_error_message(handle),
                "model_load_failed");
        return handle;
    }
    if (hfk_model_wait(handle, -1) != HFK_OK)
        throw unavailable("Model '" + m.id + "' failed to load: " + hfk_model_error_message(handle),
                          "model_load_failed");
    return handle;
}

hfk_session *SessionPool::acquire(Model &m) {
    std::unique_lock<std::mutex> lock(mu_);
    if (!admitting_) throw unavailable("The server is shutting down", "shutting_down");
    if (m.busy >= options_.parallel) {
        if (m.waiting >= options_.queue)
            throw busy("All " + std::to_string(options_.parallel) + " slots of model '" + m.id +
                       "' are busy and " + std::to_string(m.waiting) +
                       " requests are queued; retry later");
        ++m.waiting;
        cv_.wait(lock, [&] { return m.busy < options_.parallel || !admitting_; });
        --m.waiting;
        if (!admitting_) throw unavailable("The server is shutting down", "shutting_down");
    }
    ++m.busy;
    if (!hfk_model_is_generator(m.handle)) return nullptr;
    if (!m.idle.empty()) {
        hfk_session *s = m.idle.back();
        m.idle.pop_back();
        return s;
    }
    lock.unlock();
    hfk_session_params sp;
    HFK_SESSION_PARAMS_INIT(&sp);
    sp.n_ctx = options_.n_ctx;
    sp.n_threads = options_.n_threads;
    sp.kv_dtype = options_.kv_dtype;
    hfk_session *s = nullptr;
    if (hfk_session_create(&s, m.handle, &sp) != HFK_OK) {
        const std::string why = last_error();
        lock.lock();
        --m.busy;
        cv_.notify_all();
        throw unavailable("Cannot create a session on '" + m.id + "': " + why, "out_of_resources");
    }
    return s;
}

void SessionPool::release(Model &m, hfk_session *session) {
    std::lock_guard<std::mutex> lock(mu_);
    if (session) m.idle.push_back(session);
    --m.busy;
    cv_.notify_all();
}

std::unique_ptr<Job> SessionPool::submit(GenRequest request) {
    Model &m = find(request.model);
    hfk_model *model = ready_model(m);
    const std::optional<double> keep_alive = request.keep_alive;
    try {
        return admit(m, model, std::move(request));
    } catch (...) {
        unuse(m, keep_alive);
        throw;
    }
}

ModelUse SessionPool::use_model(const std::string &id) {
    Model &m = find(id);
    return ModelUse{m.id, ready_model(m)};
}

void SessionPool::end_use(const std::string &id, std::optional<double> keep_alive) {
    unuse(find(id), keep_alive);
}

int32_t SessionPool::check_prompt(const ModelUse &use, const GenRequest &request) {
    return prompt_tokens_of(find(use.id), use.handle, request);
}

std::unique_ptr<Job> SessionPool::admit(Model &m, hfk_model *model, GenRequest request) {
    const int32_t n_prompt = prompt_tokens_of(m, model, request);
    hfk_session *session = acquire(m);
    return std::make_unique<PooledJob>(*this, m, session, std::move(request), n_prompt);
}

int32_t SessionPool::prompt_tokens_of(Model &m, hfk_model *model, const GenRequest &request) {
    if (!hfk_model_is_generator(model))
        throw bad_request("model", "'" + m.id + "' is an embedding model: use /v1/embeddings");
    // Count the prompt's tokens before queueing, so a prompt that cannot fit is a 400 at once.
    int32_t n_prompt = 0;
    if (request.chat) {
        char *rendered = nullptr;
        const std::string &tpl = options_.chat_template;
        const hfk_status s = hfk_chat_render(model, request.text.c_str(),
                                             tpl.empty() ? nullptr : tpl.c_str(), &rendered);
        if (s != HFK_OK) {
            hfk_free(rendered);
            if (s == HFK_E_NOT_FOUND)
                throw bad_request("model", "'" + m.id +
                                               "' has no chat template (a base model): "
                                               "use /v1/completions, or start the server with "
                                               "--chat-template");
            throw bad_request("messages", "The chat template failed: " + last_error());
        }
        const std::string text = rendered;
        hfk_free(rendered);
        n_prompt = count_tokens(model, text, false);
    } else {
        n_prompt = count_tokens(model, request.text, true);
    }
    int32_t n_ctx = hfk_model_context_length(model);
    if (options_.n_ctx > 0) n_ctx = std::min(n_ctx, options_.n_ctx);
    if (n_prompt >= n_ctx)
        throw bad_request(request.chat ? "messages" : "prompt",
                          "The prompt is " + std::to_string(n_prompt) +
                              " tokens; this model's context is " + std::to_string(n_ctx) +
                              " tokens, including the reply",
                          "context_length_exceeded");
    return n_prompt;
}

EmbedOutcome SessionPool::embed(const std::string &id, const std::vector<std::string> &inputs) {
    Model &m = find(id);
    hfk_model *model = ready_model(m);
    struct Unuse {
        SessionPool &pool;
        Model &m;
        ~Unuse() { pool.unuse(m, std::nullopt); }
    } unuse_at_end{*this, m};
    if (hfk_model_is_generator(model))
        throw bad_request("model", "'" + m.id + "' is a text generator, not an embedding model");
    EmbedOutcome out;
    const int32_t n_ctx = hfk_model_context_length(model);
    for (size_t i = 0; i < inputs.size(); ++i) {
        const int32_t n = count_tokens(model, inputs[i], true);
        if (n > n_ctx)
            throw bad_request("input",
                              "input[" + std::to_string(i) + "] is " + std::to_string(n) +
                                  " tokens; the model takes " + std::to_string(n_ctx),
                              "context_length_exceeded");
        out.prompt_tokens += n;
    }
    out.dim = hfk_model_embedding_dim(model);
    std::vector<const char *> texts;
    for (const std::string &s : inputs) texts.push_back(s.c_str());
    out.vectors.resize(inputs.size() * static_cast<size_t>(out.dim));
    hfk_embed_params ep;
    HFK_EMBED_PARAMS_INIT(&ep);
    ep.n_threads = options_.n_threads;
    acquire(m);
    const hfk_status s = hfk_model_embed(model, texts.data(), texts.size(), &ep, out.vectors.data(),
                                         out.vectors.size());
    const std::string why = s == HFK_OK ? "" : last_error();
    release(m, nullptr);
    if (s == HFK_E_CONTEXT_FULL || s == HFK_E_INVALID_ARG) throw bad_request("input", why);
    if (s != HFK_OK)
        throw ApiError{s == HFK_E_NOMEM || s == HFK_E_RESOURCE ? 503 : 500,
                       "Embedding failed: " + why, "", hfk_status_name(s)};
    return out;
}

std::vector<ModelState> SessionPool::models() {
    std::vector<ModelState> out;
    std::lock_guard<std::mutex> lock(mu_);
    for (auto &m : models_) {
        ModelState st;
        st.id = m->id;
        st.busy = m->busy;
        st.waiting = m->waiting;
        st.loads = m->loads;
        st.unloads = m->unloads;
        st.unloaded = !m->handle && m->unloads > 0;
        if (m->handle) {
            st.requested = true;
            hfk_model_status ms;
            HFK_MODEL_STATUS_INIT(&ms);
            if (hfk_model_get_status(m->handle, &ms) == HFK_OK) {
                st.state = ms.state;
                st.load_fraction = ms.load_fraction;
                st.bytes_done = ms.bytes_done;
                st.bytes_total = ms.bytes_total;
                if (ms.state == HFK_MODEL_FAILED) st.error = hfk_model_error_message(m->handle);
            }
        }
        out.push_back(std::move(st));
    }
    return out;
}

int32_t SessionPool::queue_depth() {
    std::lock_guard<std::mutex> lock(mu_);
    int32_t n = 0;
    for (auto &m : models_) n += m->waiting;
    return n;
}

void SessionPool::stop_admitting() {
    std::lock_guard<std::mutex> lock(mu_);
    admitting_ = false;
    cv_.notify_all();
}

void SessionPool::cancel_running() {
    std::lock_guard<std::mutex> lock(mu_);
    admitting_ = false;
    cancelling_ = true;
    for (auto &m : models_)
        for (hfk_session *s : m->running) hfk_session_cancel(s);
    cv_.notify_all();
}

}  // namespace server

namespace server {

void SessionPool::unuse(Model &m, std::optional<double> keep_alive) {
    std::lock_guard<std::mutex> lock(mu_);
    --m.users;
    m.keep_alive_s = keep_alive.value_or(options_.keep_alive_s);  // as ollama: per request
    if (m.users == 0) {
        m.idle_since = std::chrono::steady_clock::now();
        reaper_cv_.notify_all();
    }
}

void SessionPool::reap_idle() {
    using Clock = std::chrono::steady_clock;
    std::unique_lock<std::mutex> lock(mu_);
    while (!closing_) {
        const auto now = Clock::now();
        auto next = Clock::time_point::max();
        std::vector<hfk_session *> sessions;
        std::vector<hfk_model *> handles;
        for (auto &mp : models_) {
            Model &m = *mp;
            if (!m.handle || m.keep_alive_s < 0 || m.users > 0 || m.busy > 0 || m.waiting > 0)
                continue;
            hfk_model_status st;
            HFK_MODEL_STATUS_INIT(&st);
            // A model still downloading or loading is not idle; one that failed stays, so
            // /health keeps reporting its error.
            if (hfk_model_get_status(m.handle, &st) != HFK_OK || st.state == HFK_MODEL_FAILED)
                continue;
            if (st.state != HFK_MODEL_READY) {  // look again soon: loading has no callback here
                next = std::min(next, now + std::chrono::milliseconds(50));
                continue;
            }
            const auto due = m.idle_since + std::chrono::duration_cast<Clock::duration>(
                                                std::chrono::duration<double>(m.keep_alive_s));
            if (due > now) {
                next = std::min(next, due);
                continue;
            }
            sessions.insert(sessions.end(), m.idle.begin(), m.idle.end());
            m.idle.clear();
            handles.push_back(m.handle);
            m.handle = nullptr;
            ++m.unloads;
        }
        if (!handles.empty()) {
            // Freed outside the lock (unmapping takes a while); nobody else holds them.
            lock.unlock();
            if (options_.on_unload)
                for (hfk_model *h : handles) options_.on_unload(h);
            for (hfk_session *s : sessions) hfk_session_free(s);
            for (hfk_model *h : handles) hfk_model_free(h);
            lock.lock();
            continue;
        }
        if (next == Clock::time_point::max())
            reaper_cv_.wait(lock);
        else
            reaper_cv_.wait_until(lock, next);
    }
}

}  // namespace server
