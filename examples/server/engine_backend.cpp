#include "engine_backend.h"

#include <algorithm>
#include <condition_variable>
#include <cstdio>
#include <deque>
#include <thread>

#include "api_error.h"
#include "token_logprobs.h"

namespace server {

namespace {

std::string last_error() {
    const char *m = hfk_last_error_message();
    return m ? m : "";
}

// A model whose engine refused the server's settings: every request to it fails (503: the
// server's configuration, not the request, is at fault).
ApiError refused_error(const std::string &model, const std::string &why) {
    return unavailable("Model '" + model + "' cannot be served with this server's settings: " +
                           why + "; restart the server with a larger --kv-budget",
                       "server_misconfigured");
}

// A refused hfk_engine_submit as the HTTP error the pool would give for the same cause.
ApiError submit_error(hfk_status s, const GenRequest &r, const std::string &model) {
    const std::string why = last_error();
    const char *prompt_param = r.chat ? "messages" : "prompt";
    switch (s) {
        case HFK_E_BUSY:
            return busy("Model '" + model + "' is running and queueing as many requests as it " +
                        "may (" + why + "); retry later");
        case HFK_E_CONTEXT_FULL:
            return bad_request(prompt_param, why, "context_length_exceeded");
        case HFK_E_RESOURCE:  // prompt + max_tokens need more KV than the whole budget
            return bad_request("max_tokens",
                               "The prompt plus max_tokens need more KV memory "
                               "than the server's --kv-budget: " +
                                   why);
        case HFK_E_INVALID_ARG:
            return bad_request("", why);
        case HFK_E_NOT_FOUND:
            return bad_request("model", "'" + model +
                                            "' has no chat template (a base model): use "
                                            "/v1/completions, or start the server with "
                                            "--chat-template");
        case HFK_E_FORMAT:
            return bad_request("messages", "The chat template failed: " + why);
        case HFK_E_STATE:
            return unavailable("The server is shutting down", "shutting_down");
        default:
            return ApiError{500, "Cannot start the generation: " + why, "", hfk_status_name(s)};
    }
}

}  // namespace

// One request on an engine. The engine's worker only appends its pieces to a queue (a slow
// client must not stall the batch); run() hands them to the HTTP layer on the request's own
// thread. A waiter thread collects the result (hfk_engine_wait blocks until the request ends).
class EngineJob final : public Job {
  public:
    EngineJob(EngineBackend &backend, hfk_engine *engine, ModelUse use, GenRequest request,
              int32_t prompt_tokens)
        : backend_(backend),
          engine_(engine),
          use_(std::move(use)),
          request_(std::move(request)),
          prompt_tokens_(prompt_tokens) {}

    ~EngineJob() override {
        if (waiter_.joinable()) {
            hfk_engine_cancel(engine_, id_);  // not run, or abandoned: stop it (else a no-op)
            waiter_.join();
        }
        if (started_) backend_.job_ended(this);
        backend_.pool_->end_use(use_.id, request_.keep_alive);
    }

    // Submits to the engine; throws ApiError when the engine refuses.
    void start(const std::string &chat_template) {
        std::vector<const char *> stops;
        for (const std::string &s : request_.stop) stops.push_back(s.c_str());
        hfk_gen_params params = request_.params;
        params.stop = stops.empty() ? nullptr : stops.data();
        params.n_stop = static_cast<int32_t>(stops.size());
        params.constraint = request_.constraint.c_str();
        const hfk_status s =
            request_.chat
                ? hfk_engine_submit_chat(engine_, request_.text.c_str(),
                                         chat_template.empty() ? nullptr : chat_template.c_str(),
                                         &params, &EngineJob::on_piece, this, &id_)
                : hfk_engine_submit(engine_, request_.text.c_str(), nullptr, 0, &params,
                                    &EngineJob::on_piece, this, &id_);
        if (s != HFK_OK) throw submit_error(s, request_, use_.id);
        waiter_ = std::thread([this] { collect(); });
        backend_.job_started(this);  // from now on cancel_running() reaches it
        started_ = true;
    }

    void cancel() { hfk_engine_cancel(engine_, id_); }

    int32_t prompt_tokens() const override { return prompt_tokens_; }

    GenOutcome run(const std::function<bool(std::string_view)> &on_piece) override {
        bool client_gone = false;  // on_piece said so
        for (;;) {
            std::deque<std::string> pieces;
            bool done;
            {
                std::unique_lock<std::mutex> lock(mu_);
                cv_.wait(lock, [&] { return done_ || !pieces_.empty(); });
                pieces.swap(pieces_);
                done = done_;  // every piece comes before the end (hfk_engine_wait's order)
            }
            for (const std::string &p : pieces) {
                if (client_gone || on_piece(p)) continue;
                client_gone = true;  // the client left: stop the request at the next step
                hfk_engine_cancel(engine_, id_);
            }
            if (done) break;
        }
        waiter_.join();
        {
            std::lock_guard<std::mutex> lock(mu_);
            client_gone = client_gone || client_gone_;
        }
        if (client_gone) {
            // As a session reports a piece callback that said stop (what the HTTP layer reads
            // as a departed client), even if the engine ended the request before the cancel.
            outcome_.status = HFK_OK;
            outcome_.message.clear();
            outcome_.stop_reason = HFK_STOP_CALLBACK;
        }
        return outcome_;
    }

  private:
    static int32_t on_piece(const char *piece, size_t len, void *user_data) {
        auto *job = static_cast<EngineJob *>(user_data);
        // Asked here, on the engine's worker, before the piece goes on: the request stops at
        // this step, however long the handler's thread takes to read the pieces (a small model
        // finishes a whole reply before that thread wakes).
        const bool gone = job->request_.client_gone && job->request_.client_gone();
        {
            std::lock_guard<std::mutex> lock(job->mu_);
            if (gone)
                job->client_gone_ = true;
            else
                job->pieces_.emplace_back(piece, len);
        }
        job->cv_.notify_one();
        return gone ? 1 : 0;
    }

    void collect() {
        char *text = nullptr;
        hfk_engine_result result;
        HFK_ENGINE_RESULT_INIT(&result);
        GenOutcome out;
        out.status = hfk_engine_wait(engine_, id_, &text, &result);
        if (out.status != HFK_OK) out.message = last_error();
        if (text) out.text = text;
        hfk_free(text);
        out.stop_reason = result.stop_reason;
        out.prompt_tokens = result.n_prompt_tokens;
        out.completion_tokens = result.n_generated_tokens;
        if (out.status == HFK_OK && result.n_logprobs > 0) {
            try {
                out.logprobs =
                    token_logprobs(hfk_model_tokenizer(use_.handle), result.last_prompt_token,
                                   result.token_ids, result.logprobs, result.n_logprobs,
                                   result.top_ids, result.top_logprobs, result.n_top_logprobs);
            } catch (const std::exception &e) {
                out.status = HFK_E_INTERNAL;
                out.message = std::string("logprobs: ") + e.what();
            }
        }
        hfk_free(result.token_ids);
        hfk_free(result.logprobs);
        hfk_free(result.top_ids);
        hfk_free(result.top_logprobs);
        {
            std::lock_guard<std::mutex> lock(mu_);
            outcome_ = std::move(out);
            done_ = true;
        }
        cv_.notify_one();
    }

    EngineBackend &backend_;
    hfk_engine *engine_;
    ModelUse use_;
    GenRequest request_;
    int32_t prompt_tokens_;
    hfk_request_id id_ = 0;
    bool started_ = false;
    std::thread waiter_;
    std::mutex mu_;
    std::condition_variable cv_;
    std::deque<std::string> pieces_;
    bool client_gone_ = false;  // request_.client_gone said so, on the engine's worker
    bool done_ = false;
    GenOutcome outcome_;
};

EngineBackend::EngineBackend(PoolOptions pool, EngineOptions engine)
    : options_(engine), chat_template_(pool.chat_template) {
    pool.on_unload = [this](hfk_model *handle) { model_unloading(handle); };
    pool_ = std::make_unique<SessionPool>(std::move(pool));
}

EngineBackend::~EngineBackend() {
    pool_.reset();  // joins the keep_alive thread; the engines keep their models alive
    for (auto &[handle, me] : engines_) hfk_engine_free(me.engine);
}

hfk_engine *EngineBackend::engine_for(const ModelUse &use) {
    std::lock_guard<std::mutex> lock(mu_);
    auto it = engines_.find(use.handle);
    if (it != engines_.end()) {
        if (!it->second.refused.empty()) throw refused_error(use.id, it->second.refused);
        return it->second.engine;
    }
    ModelEngine me;
    me.id = use.id;
    hfk_engine_params ep;
    HFK_ENGINE_PARAMS_INIT(&ep);
    ep.max_sequences = options_.max_sequences;
    ep.max_batch_tokens = std::max<int32_t>(ep.max_batch_tokens, options_.max_sequences);
    ep.max_queued = options_.max_queued;
    ep.kv_budget_bytes = options_.kv_budget_bytes;
    ep.n_ctx = options_.n_ctx;
    ep.n_threads = options_.n_threads;
    ep.kv_dtype = options_.kv_dtype;
    // Unsupported (GPT-2, Phi-2): the pool runs the model's requests. Settings the engine
    // refuses for this model (HFK_E_INVALID_ARG: a KV budget below one of its blocks) fail its
    // requests: the pool would run them outside the budget the operator set. Any other failure
    // (memory): the pool serves, so that a model that loads always serves, with a line in the log.
    const hfk_status s = hfk_engine_create(&me.engine, use.handle, &ep);
    if (s != HFK_OK) me.engine = nullptr;
    if (s == HFK_E_INVALID_ARG) me.refused = last_error();
    if (s != HFK_OK && s != HFK_E_UNSUPPORTED)
        std::fprintf(stderr, "hfkit serve: no batching for '%s': %s\n", use.id.c_str(),
                     last_error().c_str());
    engines_[use.handle] = me;
    if (!me.refused.empty()) throw refused_error(use.id, me.refused);
    return me.engine;
}

void EngineBackend::model_unloading(hfk_model *handle) {
    hfk_engine *engine = nullptr;
    {
        std::lock_guard<std::mutex> lock(mu_);
        auto it = engines_.find(handle);
        if (it == engines_.end()) return;
        engine = it->second.engine;
        engines_.erase(it);
    }
    hfk_engine_free(engine);  // nobody uses the model: no request is on it
}

void EngineBackend::job_started(EngineJob *job) {
    std::lock_guard<std::mutex> lock(mu_);
    jobs_.insert(job);
    if (cancelling_) job->cancel();  // submitted as the grace period ended
}

void EngineBackend::job_ended(EngineJob *job) {
    std::lock_guard<std::mutex> lock(mu_);
    jobs_.erase(job);
}

std::unique_ptr<Job> EngineBackend::submit(GenRequest request) {
    // Every request of a model with an engine runs on it (constraints and logprobs included);
    // the pool serves when batching is off and models without the batched forward (below).
    if (!options_.enabled) return pool_->submit(std::move(request));
    ModelUse use = pool_->use_model(request.model);
    const std::string id = use.id;
    const std::optional<double> keep_alive = request.keep_alive;
    std::unique_ptr<EngineJob> job;
    try {
        hfk_engine *engine = hfk_model_is_generator(use.handle) ? engine_for(use) : nullptr;
        if (!engine) {
            pool_->end_use(id, keep_alive);
            return pool_->submit(std::move(request));
        }
        {
            std::lock_guard<std::mutex> lock(mu_);
            if (cancelling_) throw unavailable("The server is shutting down", "shutting_down");
        }
        const int32_t n_prompt = pool_->check_prompt(use, request);
        // From here the job ends the model's use when destroyed.
        job = std::make_unique<EngineJob>(*this, engine, std::move(use), std::move(request),
                                          n_prompt);
    } catch (...) {
        if (!job) pool_->end_use(id, keep_alive);
        throw;
    }
    job->start(chat_template_);
    return job;
}

EmbedOutcome EngineBackend::embed(const std::string &model,
                                  const std::vector<std::string> &inputs) {
    return pool_->embed(model, inputs);
}

std::vector<ModelState> EngineBackend::models() {
    std::vector<ModelState> out = pool_->models();
    std::lock_guard<std::mutex> lock(mu_);
    for (ModelState &st : out)
        for (auto &[handle, me] : engines_) {
            if (me.id != st.id || !me.engine) continue;
            hfk_engine_statistics es;
            HFK_ENGINE_STATISTICS_INIT(&es);
            if (hfk_engine_stats(me.engine, &es) != HFK_OK) continue;
            st.batching = true;
            st.busy += es.running;
            st.waiting += es.queued;
            st.engine_running += es.running;
            st.engine_queued += es.queued;
            st.last_batch_sequences = es.last_batch_sequences;
            st.max_batch_sequences = std::max(st.max_batch_sequences, es.max_batch_sequences);
            st.kv_blocks_used += es.kv_blocks_used;
            st.kv_blocks_total += es.kv_blocks_total;
            st.engine_steps += es.steps;
            st.kv_blocks_cached += es.kv_blocks_cached;
            st.prefix_cache_hits += es.prefix_cache_hits;
            st.constraint_cache_hits += es.constraint_cache_hits;
            st.sequence_steps += es.sequence_steps;
        }
    return out;
}

int32_t EngineBackend::queue_depth() {
    int32_t n = pool_->queue_depth();
    std::lock_guard<std::mutex> lock(mu_);
    for (auto &[handle, me] : engines_) {
        if (!me.engine) continue;
        hfk_engine_statistics es;
        HFK_ENGINE_STATISTICS_INIT(&es);
        if (hfk_engine_stats(me.engine, &es) == HFK_OK) n += es.queued;
    }
    return n;
}

void EngineBackend::stop_admitting() {
    pool_->stop_admitting();  // new requests get 503 shutting_down (use_model refuses them)
    // What the engines queued but have not started is refused as the pool's queue is: each
    // ends HFK_E_CANCELLED, which the HTTP layer answers 503 shutting_down. Running requests
    // get the grace period.
    std::lock_guard<std::mutex> lock(mu_);
    for (auto &[handle, me] : engines_)
        if (me.engine) (void)hfk_engine_cancel_queued(me.engine, nullptr);
}

void EngineBackend::cancel_running() {
    pool_->cancel_running();
    std::lock_guard<std::mutex> lock(mu_);
    cancelling_ = true;
    for (EngineJob *job : jobs_) job->cancel();
}

}  // namespace server
