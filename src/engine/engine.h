// Continuous batching over one causal model (issue 19). Requests are queued by submit() from any
// thread; one worker thread admits them into a running batch and runs steps: each step is one
// Model::forward_batch over a decode token of every generating sequence plus chunks of pending
// prompts (chunked prefill, at most max_batch_tokens rows a step, so a long prompt never stalls
// the others), then samples each sequence that produced logits with its own Sampler.
//
// Results do not depend on the batch: forward_batch is batch-invariant, and each request has its
// own sampler and seed, so a request's output is the same alone or among others, at any thread
// count.
//
// KV memory: kv_pool.h (one pool of blocks, paged: each sequence reads its rows through a block
// table, models/paged_cache.h; blocks reserved at admission for prompt + max_new_tokens; a
// request that does not fit waits in a bounded queue; a full queue makes submit() fail with
// HFK_E_BUSY; full blocks are shared between requests through the prefix cache: a prompt's as
// they are run, and when a request ends well (not cancelled, not failed) those of its prompt
// and generated ids whose every position has been run, so a chat's next turn reads the reply).
#pragma once

#include <atomic>
#include <condition_variable>
#include <cstdint>
#include <deque>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

#include "engine/constraint_cache.h"
#include "engine/kv_pool.h"
#include "runtime/loaded_model.h"
#include "runtime/session.h"

namespace hfk {

namespace models {
class KvArena;
}

struct EngineParams {
    int32_t max_sequences = 8;       // running at once (>= 1)
    int32_t max_batch_tokens = 256;  // rows of one step (>= max_sequences)
    uint64_t kv_budget_bytes = 0;    // 0: max_sequences full contexts
    int32_t n_threads = 0;           // <= 0: the model's default
    int32_t max_queued = 64;         // requests waiting beyond the running ones (>= 0)
    int32_t n_ctx = 0;               // per sequence; <= 0: the model's context
    int32_t block_tokens = 16;       // tokens per KV block
    DType kv_type = DType::F32;      // the KV cache's element type: F32, F16 or BF16
};

// A request: `ids` when not empty, else `prompt` tokenized (with options.add_special_tokens).
// Every GenerateOptions field is honoured as a Session does (runtime/generation_steps.h is the
// shared per-token logic): sampler, limits, stops, biases, logprobs and a constraint (looked up
// in submit() in the engine's cache of compiled constraints, engine/constraint_cache.h, and
// compiled there on a miss, so that a bad one fails with HFK_E_INVALID_ARG; each request then
// follows it with its own decoder).
struct EngineRequest {
    std::string prompt;
    std::vector<int32_t> ids;
    GenerateOptions options;
    // Called on the engine's worker thread, with no engine lock held, for each piece of text as
    // it becomes safe to show; returning true stops the request (HFK_STOP_CALLBACK). It may
    // call submit(), cancel() and stats(); it must not call wait() (the worker would wait for
    // itself) nor destroy the engine.
    std::function<bool(std::string_view)> on_piece;
};

struct EngineResult {
    int32_t status = 0;  // HFK_OK, HFK_E_CANCELLED, HFK_E_NUMERIC, ...
    std::string error;   // the message when status != HFK_OK
    std::string text;    // what was released (also when cancelled)
    int32_t stop_reason = 0;
    int32_t n_prompt_tokens = 0;
    int32_t n_generated_tokens = 0;
    std::vector<int32_t> tokens;         // generated ids
    std::vector<TokenLogprob> logprobs;  // with options.logprobs: one per generated id
    int32_t last_prompt_id = -1;         // the prompt's last id (the first token follows it)
    double time_to_first_token_ms = 0;   // from submit
};

struct EngineStats {
    int32_t queued = 0, running = 0;
    int32_t last_batch_sequences = 0, last_batch_tokens = 0;
    int64_t kv_blocks_used = 0, kv_blocks_total = 0;
    int32_t kv_block_tokens = 0;
    uint64_t kv_block_bytes = 0;
    uint64_t steps = 0, completed = 0, cancelled = 0, failed = 0;
    uint64_t prefix_cache_hits = 0;      // prompt tokens not prefilled: read from cached blocks
    uint64_t results_pending = 0;        // finished, not yet collected by wait()
    uint64_t sequence_steps = 0;         // requests summed over steps (/ steps: the mean batch)
    int32_t max_batch_sequences = 0;     // the most requests one step has run
    int64_t kv_blocks_cached = 0;        // held by no request, kept for their prefix (evictable)
    uint64_t constraint_cache_hits = 0;  // submits that reused a compiled constraint
};

class Engine {
  public:
    // HFK_E_UNSUPPORTED for a model without forward_batch, HFK_E_INVALID_ARG for bad params.
    Engine(std::shared_ptr<const LoadedModel> model, const EngineParams &params);
    // Cancels every request and joins the worker.
    ~Engine();
    Engine(const Engine &) = delete;
    Engine &operator=(const Engine &) = delete;

    // Any thread. Returns the request id (> 0). Checked here, before queueing:
    // HFK_E_INVALID_ARG (bad ids, sampler, bias), HFK_E_CONTEXT_FULL (prompt longer than the
    // context), HFK_E_RESOURCE (needs more KV blocks than the whole budget), HFK_E_BUSY (the
    // queue is full), HFK_E_UNSUPPORTED, HFK_E_STATE (the engine is stopping).
    uint64_t submit(EngineRequest request);
    // Any thread. Queued: finished at once; running: at the next step boundary. False when the
    // id is unknown or the request has already finished.
    bool cancel(uint64_t id);
    // Any thread. Ends every request still waiting to start (HFK_E_CANCELLED, at once); running
    // ones go on. Returns how many it ended. A server draining for shutdown calls it.
    int32_t cancel_queued();
    // Blocks until the request ends, then hands its result over (once: HFK_E_NOT_FOUND after).
    EngineResult wait(uint64_t id);
    EngineStats stats() const;
    const EngineParams &params() const { return params_; }
    // The worker thread, which runs every on_piece callback (the C API refuses a wait() from it).
    std::thread::id worker_id() const { return thread_.get_id(); }

  private:
    struct Request;
    void worker();
    void admit_locked();
    void step_batch(const std::vector<std::shared_ptr<Request>> &batch);
    // After a forward: samples r's next id and emits its text; returns the stop reason, or
    // HFK_STOP_NONE when r goes on.
    int32_t sample_next(Request &r);
    // Ends a running request from the worker: releases the held text (unless a stop string or
    // the callback ended it), then finish_locked.
    void end(Request &r, int32_t status, std::string error, int32_t stop_reason);
    void finish_locked(Request &r, int32_t status, std::string error, int32_t stop_reason);
    bool emit(Request &r, const std::string &piece);
    // After a step fed r's prompt up to `fed`: shares its newly completed full prompt blocks.
    void publish_locked(Request &r, size_t fed);
    // When r has ended well: publishes the full blocks of prompt + generated ids whose every
    // position has been run (a chat's next turn reads the reply's blocks too).
    void publish_generated_locked(Request &r);

    std::shared_ptr<const LoadedModel> model_;
    EngineParams params_;
    int32_t n_ctx_ = 0;
    mutable std::mutex mu_;
    std::condition_variable work_cv_, done_cv_;
    KvBlockPool pool_;
    ConstraintCache constraints_;  // thread-safe itself: submit() uses it before taking mu_
    std::shared_ptr<const models::KvArena> arena_;  // the rows of pool_'s blocks
    uint64_t next_id_ = 1;
    bool stopping_ = false;
    std::deque<std::shared_ptr<Request>> queue_;
    std::vector<std::shared_ptr<Request>> running_;     // in admission order
    std::map<uint64_t, std::shared_ptr<Request>> all_;  // until wait() collects them
    EngineStats stats_;
    // The worker's: the logits of one step, a row for each request that gets some (at most one
    // per running request), allocated once.
    std::vector<float> logits_;
    std::thread thread_;
};

}  // namespace hfk
