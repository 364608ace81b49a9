#include "engine/engine.h"

#include <algorithm>
#include <chrono>
#include <cmath>

#include "models/paged_cache.h"
#include "runtime/generation_steps.h"
#include "tokenizer/tokenizer.h"
#include "util/error.h"

namespace hfk {
namespace {

using Clock = std::chrono::steady_clock;

// The KV bytes of one token: every block of the cache holds one row of row_floats elements of
// kv_type per token.
uint64_t kv_bytes_per_token(const Model &m, DType kv_type) {
    auto probe = m.new_cache(1);
    return uint64_t(probe->n_blocks()) * uint64_t(probe->row_floats()) * compute_elem_size(kv_type);
}

int32_t context_of(const Model &m, int32_t n_ctx) {
    if (n_ctx > m.context_length())
        fail(HFK_E_INVALID_ARG, "engine n_ctx " + std::to_string(n_ctx) +
                                    " exceeds the model's context length " +
                                    std::to_string(m.context_length()));
    return n_ctx > 0 ? n_ctx : m.context_length();
}

KvBlockPool make_pool(const LoadedModel &lm, const EngineParams &p) {
    if (!lm.model || !lm.model->is_causal())
        fail(HFK_E_UNSUPPORTED, "an engine needs a causal language model");
    if (!lm.model->supports_batch())
        fail(HFK_E_UNSUPPORTED, "the '" + lm.model->architecture() +
                                    "' model has no batched forward: the engine runs the "
                                    "rotary decoders (Llama, Mistral, Qwen, Gemma, Phi-3, ...)");
    if (p.max_sequences < 1) fail(HFK_E_INVALID_ARG, "max_sequences must be >= 1");
    if (p.max_batch_tokens < p.max_sequences)
        fail(HFK_E_INVALID_ARG, "max_batch_tokens must be >= max_sequences (" +
                                    std::to_string(p.max_sequences) + "), got " +
                                    std::to_string(p.max_batch_tokens));
    if (p.max_queued < 0) fail(HFK_E_INVALID_ARG, "max_queued must be >= 0");
    if (p.block_tokens < 1 || p.block_tokens > 4096)
        fail(HFK_E_INVALID_ARG, "block_tokens must be in [1, 4096]");
    if (p.kv_type != DType::F32 && p.kv_type != DType::F16 && p.kv_type != DType::BF16)
        fail(HFK_E_INVALID_ARG, std::string("kv_dtype: no KV cache of ") + dtype_name(p.kv_type));
    const int32_t n_ctx = context_of(*lm.model, p.n_ctx);
    const uint64_t block_bytes =
        kv_bytes_per_token(*lm.model, p.kv_type) * uint64_t(p.block_tokens);
    const int64_t per_seq = (int64_t(n_ctx) + p.block_tokens - 1) / p.block_tokens;
    const int64_t total = p.kv_budget_bytes == 0 ? per_seq * p.max_sequences
                                                 : int64_t(p.kv_budget_bytes / block_bytes);
    if (total < 1)
        fail(HFK_E_INVALID_ARG, "kv_budget_bytes " + std::to_string(p.kv_budget_bytes) +
                                    " is less than one KV block (" + std::to_string(block_bytes) +
                                    " bytes)");
    return KvBlockPool(p.block_tokens, block_bytes, total);
}

}  // namespace

struct Engine::Request {
    uint64_t id = 0;
    EngineRequest req;
    std::vector<int32_t> ids;      // the prompt
    int64_t blocks = 0;            // the blocks it holds while admitted (shared ones included)
    std::vector<uint64_t> hashes;  // of the prompt's full blocks (KvBlockPool::block_hashes)
    std::vector<int32_t> table;    // its blocks in the pool, while admitted
    size_t published = 0;          // leading blocks of table already shared or published
    Clock::time_point t_submit;
    std::atomic<bool> cancel{false};
    bool done = false;  // under mu_
    EngineResult result;
    // The worker's, from admission on.
    std::unique_ptr<KvCache> cache;
    size_t fed = 0;        // prompt tokens already run
    int32_t pending = -1;  // the generated id to run next
    // The constraint compiled by submit() (nullptr: none), and the per-token logic a Session
    // runs too (runtime/generation_steps.h), from admission on.
    std::unique_ptr<constrain::ConstrainedDecoder> constraint;
    std::unique_ptr<GenerationSteps> steps;
    std::vector<int32_t> context;   // prompt + generated, for the repetition penalty
    std::span<const float> logits;  // its row of the step's logits_, when it has one
    bool callback_threw = false;
};

Engine::Engine(std::shared_ptr<const LoadedModel> model, const EngineParams &params)
    : model_(std::move(model)),
      params_(params),
      n_ctx_(context_of(*model_->model, params.n_ctx)),
      pool_(make_pool(*model_, params)) {
    {
        const auto probe = model_->model->new_cache(1);
        arena_ = std::make_shared<const models::KvArena>(probe->n_blocks() / 2, probe->row_floats(),
                                                         probe->head_floats(), pool_.block_tokens(),
                                                         pool_.total(), params_.kv_type);
    }
    stats_.kv_blocks_total = pool_.total();
    stats_.kv_block_tokens = pool_.block_tokens();
    stats_.kv_block_bytes = pool_.block_bytes();
    logits_.resize(size_t(params_.max_sequences) * size_t(model_->model->vocab_size()));
    thread_ = std::thread([this] { worker(); });
}

Engine::~Engine() {
    {
        std::lock_guard lk(mu_);
        stopping_ = true;
    }
    work_cv_.notify_all();
    thread_.join();
}

uint64_t Engine::submit(EngineRequest request) {
    const GenerateOptions &o = request.options;
    const int32_t n_ids = std::max(1, model_->n_decodable);
    validate_generate_options(o, n_ids);
    auto r = std::make_shared<Request>();
    r->constraint = decoder_for(*model_, constraints_.get(o.constraint_kind, o.constraint_text));
    r->t_submit = Clock::now();
    if (!request.ids.empty()) {
        for (int32_t id : request.ids)
            if (id < 0 || id >= n_ids)
                fail(HFK_E_INVALID_ARG, "token id " + std::to_string(id) +
                                            " is outside the vocabulary [0, " +
                                            std::to_string(n_ids) + ")");
        r->ids = request.ids;
    } else {
        const Tokenizer &tok = *model_->tokenizer;
        r->ids = tok.encode(request.prompt, o.add_special_tokens);
        if (r->ids.empty()) {
            if (tok.bos_id() < 0)
                fail(HFK_E_INVALID_ARG,
                     "the prompt is empty and the tokenizer has no BOS token to start from");
            r->ids.push_back(tok.bos_id());
        }
    }
    if (int64_t(r->ids.size()) > n_ctx_)
        fail(HFK_E_CONTEXT_FULL, "the prompt is " + std::to_string(r->ids.size()) +
                                     " tokens but the context holds " + std::to_string(n_ctx_));
    // The most tokens the cache will hold: the prompt and every generated id but the last.
    const int64_t most = std::min<int64_t>(
        n_ctx_, int64_t(r->ids.size()) + std::max<int64_t>(0, int64_t(o.max_new_tokens) - 1));
    r->blocks = pool_.blocks_for(most);
    if (r->blocks > pool_.total())
        fail(HFK_E_RESOURCE, "the request needs " + std::to_string(r->blocks) +
                                 " KV blocks (prompt + max_new_tokens) but the budget holds " +
                                 std::to_string(pool_.total()));
    r->result.n_prompt_tokens = int32_t(r->ids.size());
    r->result.last_prompt_id = r->ids.back();
    r->hashes = pool_.block_hashes(r->ids);
    r->req = std::move(request);

    std::lock_guard lk(mu_);
    if (stopping_) fail(HFK_E_STATE, "the engine is stopping");
    r->id = next_id_++;
    all_[r->id] = r;
    if (r->req.options.max_new_tokens == 0) {  // nothing to run
        finish_locked(*r, HFK_OK, {}, nothing_generated_reason(r->constraint.get()));
        return r->id;
    }
    queue_.push_back(r);
    admit_locked();
    if (int64_t(queue_.size()) > params_.max_queued) {
        // Admission is in order, so an unadmitted request is the last one queued.
        queue_.pop_back();
        all_.erase(r->id);
        fail(HFK_E_BUSY, "the engine is busy: " + std::to_string(running_.size()) +
                             " requests running and " + std::to_string(queue_.size()) +
                             " queued (max_queued " + std::to_string(params_.max_queued) + ")");
    }
    stats_.queued = int32_t(queue_.size());
    work_cv_.notify_one();
    return r->id;
}

void Engine::admit_locked() {
    while (!queue_.empty() && int32_t(running_.size()) < params_.max_sequences) {
        Request &r = *queue_.front();
        // The prompt's longest cached prefix, but never its last token: that one's logits are
        // needed.
        const std::vector<int32_t> shared =
            pool_.match(r.ids, r.hashes, (int64_t(r.ids.size()) - 1) / pool_.block_tokens());
        if (!pool_.acquire(shared, r.blocks - int64_t(shared.size()), r.table))
            break;  // in order: the head waits for blocks
        std::shared_ptr<Request> keep = queue_.front();
        queue_.pop_front();
        r.fed = shared.size() * size_t(pool_.block_tokens());
        r.published = shared.size();
        stats_.prefix_cache_hits += r.fed;
        try {
            r.cache = std::make_unique<models::PagedCache>(model_->model.get(), arena_, r.table,
                                                           n_ctx_, int32_t(r.fed));
            r.steps = std::make_unique<GenerationSteps>(*model_, r.req.options, r.constraint.get(),
                                                        r.result.tokens, r.result.logprobs);
            r.context = r.ids;
        } catch (const Error &e) {
            running_.push_back(keep);  // finish_locked gives the blocks back
            finish_locked(r, e.status(), e.what(), HFK_STOP_NONE);
            continue;
        } catch (const std::bad_alloc &) {
            running_.push_back(keep);
            finish_locked(r, HFK_E_NOMEM, "out of memory admitting a request", HFK_STOP_NONE);
            continue;
        }
        running_.push_back(keep);
    }
    stats_.queued = int32_t(queue_.size());
    stats_.running = int32_t(running_.size());
}

void Engine::finish_locked(Request &r, int32_t status, std::string error, int32_t stop_reason) {
    if (r.done) return;
    r.done = true;
    r.result.status = status;
    r.result.error = std::move(error);
    r.result.stop_reason = stop_reason;
    r.result.n_generated_tokens = int32_t(r.result.tokens.size());
    auto it = std::find_if(running_.begin(), running_.end(),
                           [&](const std::shared_ptr<Request> &p) { return p.get() == &r; });
    if (it != running_.end()) {
        // A request that ended well leaves its reply for the next turn; a cancelled or failed
        // one only its prompt (published as it was run).
        if (status == HFK_OK) publish_generated_locked(r);
        pool_.release(r.table);
        r.table.clear();
        running_.erase(it);
    }
    r.cache.reset();
    if (status == HFK_OK)
        ++stats_.completed;
    else if (status == HFK_E_CANCELLED)
        ++stats_.cancelled;
    else
        ++stats_.failed;
    ++stats_.results_pending;
    stats_.running = int32_t(running_.size());
    done_cv_.notify_all();
    work_cv_.notify_one();  // blocks came back: the queue may move
}

bool Engine::cancel(uint64_t id) {
    std::lock_guard lk(mu_);
    auto it = all_.find(id);
    if (it == all_.end() || it->second->done) return false;
    Request &r = *it->second;
    r.cancel.store(true);
    auto q = std::find(queue_.begin(), queue_.end(), it->second);
    if (q != queue_.end()) {  // never admitted: nothing to stop
        queue_.erase(q);
        stats_.queued = int32_t(queue_.size());
        finish_locked(r, HFK_E_CANCELLED, "request cancelled before it started",
                      HFK_STOP_CANCELLED);
    }
    work_cv_.notify_one();
    return true;
}

int32_t Engine::cancel_queued() {
    std::lock_guard lk(mu_);
    const int32_t n = int32_t(queue_.size());
    while (!queue_.empty()) {
        std::shared_ptr<Request> r = queue_.front();
        queue_.pop_front();
        r->cancel.store(true);
        stats_.queued = int32_t(queue_.size());
        finish_locked(*r, HFK_E_CANCELLED, "request cancelled before it started",
                      HFK_STOP_CANCELLED);
    }
    return n;
}

EngineResult Engine::wait(uint64_t id) {
    std::unique_lock lk(mu_);
    auto it = all_.find(id);
    if (it == all_.end())
        fail(HFK_E_NOT_FOUND, "no engine request " + std::to_string(id) +
                                  " (unknown, or its result was already collected)");
    std::shared_ptr<Request> r = it->second;
    done_cv_.wait(lk, [&] { return r->done; });
    all_.erase(id);
    --stats_.results_pending;
    return std::move(r->result);
}

EngineStats Engine::stats() const {
    std::lock_guard lk(mu_);
    EngineStats s = stats_;
    s.kv_blocks_used = pool_.used();
    s.kv_blocks_cached = pool_.cached();
    s.constraint_cache_hits = constraints_.hits();
    return s;
}

// Releases a piece through the request's callback (no lock held); true: the callback said stop.
bool Engine::emit(Request &r, const std::string &piece) {
    if (piece.empty()) return false;
    r.result.text += piece;
    if (!r.req.on_piece) return false;
    try {
        return r.req.on_piece(piece);
    } catch (...) {  // a C++ callback that throws stops its request with HFK_E_CALLBACK
        r.callback_threw = true;
        return true;
    }
}

void Engine::worker() {
    for (;;) {
        std::vector<std::shared_ptr<Request>> batch;
        bool stopping;
        {
            std::unique_lock lk(mu_);
            work_cv_.wait(lk, [&] { return stopping_ || !running_.empty() || !queue_.empty(); });
            stopping = stopping_;
            if (!stopping) admit_locked();
            if (stopping) {
                while (!queue_.empty()) {
                    std::shared_ptr<Request> r = queue_.front();
                    queue_.pop_front();
                    finish_locked(*r, HFK_E_CANCELLED, "the engine was freed", HFK_STOP_CANCELLED);
                }
                stats_.queued = 0;
            }
            batch = running_;
        }
        // Cancelled (or the engine is stopping): the held text is released, as a session does.
        bool any_cancelled = false;
        for (const auto &r : batch) {
            if (!stopping && !r->cancel.load()) continue;
            end(*r, HFK_E_CANCELLED, stopping ? "the engine was freed" : "request cancelled",
                HFK_STOP_CANCELLED);
            any_cancelled = true;
        }
        if (stopping) return;
        if (any_cancelled) continue;  // take a fresh view of the running set
        if (!batch.empty()) step_batch(batch);
    }
}

}  // namespace hfk

namespace hfk {

void Engine::end(Request &r, int32_t status, std::string error, int32_t reason) {
    if (r.steps && emit(r, r.steps->rest(reason)) && reason != HFK_STOP_CANCELLED &&
        status == HFK_OK)
        reason = HFK_STOP_CALLBACK;
    if (r.callback_threw && status == HFK_OK) {
        status = HFK_E_CALLBACK;
        error = "the piece callback threw an exception";
    }
    std::lock_guard lk(mu_);
    finish_locked(r, status, std::move(error), reason);
}

void Engine::publish_locked(Request &r, size_t fed) {
    const size_t full = std::min(fed / size_t(pool_.block_tokens()), r.hashes.size());
    for (; r.published < full; ++r.published)
        pool_.publish(r.table[r.published], r.ids, r.hashes, int64_t(r.published));
}

void Engine::publish_generated_locked(Request &r) {
    if (!r.cache || r.fed < r.ids.size()) return;
    // r.context holds the prompt and every generated id run since (the last sampled id is
    // pushed only when the request goes on, and is then run by the next step). Only the
    // positions the cache holds are final; a block is published when all of its are.
    const size_t run = std::min(size_t(r.cache->n_past()), r.context.size());
    const std::span<const int32_t> ids(r.context.data(), run);
    std::vector<uint64_t> hashes = r.hashes;  // the prompt's blocks were hashed at submission
    pool_.extend_block_hashes(ids, hashes);
    const size_t full = std::min(hashes.size(), r.table.size());
    for (; r.published < full; ++r.published)
        pool_.publish(r.table[r.published], ids, hashes, int64_t(r.published));
}

int32_t Engine::sample_next(Request &r) {
    const std::vector<int32_t> &generated = r.result.tokens;
    const bool first = generated.empty();
    const int32_t reason =
        r.steps->step(std::span<const float>(r.logits.data(), sampleable_ids(*model_)), r.context,
                      r.cache->n_past() >= r.cache->capacity(),
                      [&](const std::string &piece) { return emit(r, piece); });
    if (first)
        r.result.time_to_first_token_ms =
            std::chrono::duration<double, std::milli>(Clock::now() - r.t_submit).count();
    if (reason != HFK_STOP_NONE) return reason;
    r.pending = r.steps->last_id();
    r.context.push_back(r.pending);
    return HFK_STOP_NONE;
}

void Engine::step_batch(const std::vector<std::shared_ptr<Request>> &batch) {
    // Decode rows first (one per generating sequence), then prompt chunks in admission order
    // with what is left of max_batch_tokens.
    std::vector<BatchItem> items;
    std::vector<Request *> who;
    std::vector<size_t> chunk;  // prompt tokens an item feeds (0: a decode row)
    int64_t budget = params_.max_batch_tokens;
    // The k-th item that wants logits gets row k of logits_: consecutive rows, which
    // forward_batch fills in place.
    const size_t vocab = size_t(model_->model->vocab_size());
    size_t rows = 0;
    auto logits_row = [&](Request &r) {
        float *row = logits_.data() + rows++ * vocab;
        r.logits = std::span<const float>(row, vocab);
        return row;
    };
    for (const auto &r : batch)
        if (r->fed == r->ids.size() && r->pending >= 0) {
            items.push_back(
                {r->cache.get(), std::span<const int32_t>(&r->pending, 1), logits_row(*r)});
            who.push_back(r.get());
            chunk.push_back(0);
            --budget;
        }
    for (const auto &r : batch) {
        if (r->fed >= r->ids.size() || budget <= 0) continue;
        const size_t k = std::min(r->ids.size() - r->fed, size_t(budget));
        const bool last = r->fed + k == r->ids.size();
        items.push_back({r->cache.get(), std::span<const int32_t>(r->ids.data() + r->fed, k),
                         last ? logits_row(*r) : nullptr});
        who.push_back(r.get());
        chunk.push_back(k);
        budget -= int64_t(k);
    }
    if (items.empty()) return;
    try {
        model_->model->forward_batch(items,
                                     params_.n_threads > 0 ? params_.n_threads : model_->n_threads);
    } catch (const Error &e) {
        for (Request *r : who) end(*r, e.status(), e.what(), HFK_STOP_NONE);
        return;
    } catch (const std::bad_alloc &) {
        for (Request *r : who) end(*r, HFK_E_NOMEM, "out of memory in a batched step", 0);
        return;
    }
    {
        std::lock_guard lk(mu_);
        ++stats_.steps;
        stats_.last_batch_sequences = int32_t(items.size());
        stats_.sequence_steps += items.size();
        stats_.max_batch_sequences = std::max(stats_.max_batch_sequences, int32_t(items.size()));
        stats_.last_batch_tokens = int32_t(params_.max_batch_tokens - budget);
        for (size_t j = 0; j < items.size(); ++j)
            if (chunk[j] > 0) publish_locked(*who[j], who[j]->fed + chunk[j]);
    }
    for (size_t j = 0; j < items.size(); ++j) {
        Request &r = *who[j];
        r.fed += chunk[j];
        if (!items[j].logits) continue;
        r.pending = -1;
        int32_t reason;
        try {
            reason = sample_next(r);
        } catch (const Error &e) {
            end(r, e.status(), e.what(), HFK_STOP_NONE);
            continue;
        } catch (const std::bad_alloc &) {
            end(r, HFK_E_NOMEM, "out of memory sampling", HFK_STOP_NONE);
            continue;
        }
        if (reason != HFK_STOP_NONE) end(r, HFK_OK, {}, reason);
    }
}

}  // namespace hfk
