// The batching engine behind hfk_engine_* (src/engine/engine.h).
#include <cstddef>
#include <cstdlib>
#include <cstring>
#include <memory>
#include <thread>

#include "guard.h"
#include "handles.h"
#include "session_run.h"
#include "engine/engine.h"

struct hfk_engine {
    std::shared_ptr<hfk::capi::ModelCore> core;  // keeps the model alive
    std::unique_ptr<hfk::Engine> engine;
    std::string source_dir;  // the model's files, for its chat template (submit_chat)
};

namespace {

using hfk::capi::guard;
using hfk::capi::set_error;

const hfk_engine_params kEngineDefaults = {
    sizeof(hfk_engine_params), 8, 256, 0, 0, 64, 0, 16, HFK_KV_F32};
const hfk_engine_result kEngineResultDefaults = {sizeof(hfk_engine_result),
                                                 HFK_STOP_NONE,
                                                 0,
                                                 0,
                                                 0,
                                                 0,
                                                 0,
                                                 -1,
                                                 nullptr,
                                                 nullptr,
                                                 nullptr,
                                                 nullptr};
const hfk_engine_statistics kEngineStatsDefaults = {
    sizeof(hfk_engine_statistics), 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0};

// Copies the fields the caller's (possibly older, shorter) output struct has.
template <class Struct>
void write_out(Struct *out, const Struct &full) {
    std::memcpy(reinterpret_cast<char *>(out) + sizeof(uint32_t),
                reinterpret_cast<const char *>(&full) + sizeof(uint32_t),
                out->struct_size - sizeof(uint32_t));
}

template <class Struct>
bool bad_out(const Struct *out) {
    return out && (out->struct_size < sizeof(uint32_t) || out->struct_size > sizeof(Struct));
}

// An array the caller frees with hfk_free (nullptr when empty).
template <class T>
T *c_array(size_t n) {
    if (n == 0) return nullptr;
    T *p = static_cast<T *>(std::malloc(n * sizeof(T)));
    if (p == nullptr) throw std::bad_alloc();
    return p;
}

// r's logprobs into res's arrays, when the caller's struct (of struct_size) has them.
void put_logprobs(hfk_engine_result &res, uint32_t struct_size, const hfk::EngineResult &r) {
    res.last_prompt_token = r.last_prompt_id;
    if (struct_size < offsetof(hfk_engine_result, top_logprobs) + sizeof(float *) ||
        r.logprobs.empty())
        return;
    const size_t n = r.logprobs.size(), n_top = r.logprobs.front().top.size();
    std::unique_ptr<int32_t, decltype(&std::free)> ids(c_array<int32_t>(n), &std::free);
    std::unique_ptr<float, decltype(&std::free)> lps(c_array<float>(n), &std::free);
    std::unique_ptr<int32_t, decltype(&std::free)> top_ids(c_array<int32_t>(n * n_top), &std::free);
    std::unique_ptr<float, decltype(&std::free)> top_lps(c_array<float>(n * n_top), &std::free);
    for (size_t i = 0; i < n; ++i) {
        const hfk::TokenLogprob &t = r.logprobs[i];
        ids.get()[i] = t.id;
        lps.get()[i] = t.logprob;
        for (size_t k = 0; k < n_top && k < t.top.size(); ++k) {
            top_ids.get()[i * n_top + k] = t.top[k].first;
            top_lps.get()[i * n_top + k] = t.top[k].second;
        }
    }
    res.n_logprobs = int64_t(n);
    res.n_top_logprobs = int32_t(n_top);
    res.token_ids = ids.release();
    res.logprobs = lps.release();
    res.top_ids = top_ids.release();
    res.top_logprobs = top_lps.release();
}

}  // namespace

HFK_API hfk_status hfk_engine_params_init(hfk_engine_params *p, size_t caller_size) noexcept {
    return hfk::capi::init_options(p, caller_size, kEngineDefaults);
}

HFK_API hfk_status hfk_engine_result_init(hfk_engine_result *p, size_t caller_size) noexcept {
    return hfk::capi::init_options(p, caller_size, kEngineResultDefaults);
}

HFK_API hfk_status hfk_engine_statistics_init(hfk_engine_statistics *p,
                                              size_t caller_size) noexcept {
    return hfk::capi::init_options(p, caller_size, kEngineStatsDefaults);
}

HFK_API hfk_status hfk_engine_create(hfk_engine **out, hfk_model *model,
                                     const hfk_engine_params *params) noexcept {
    HFK_REQUIRE_ARG(out);
    *out = nullptr;
    HFK_REQUIRE_ARG(model);
    hfk_engine_params p;
    if (hfk_status s = hfk::capi::read_options(p, params, kEngineDefaults); s != HFK_OK) return s;
    hfk::DType kv_type = hfk::DType::F32;
    if (hfk_status s = hfk::capi::kv_type_of(p.kv_dtype, "hfk_engine_params.kv_dtype", kv_type);
        s != HFK_OK)
        return s;
    return guard([&]() -> hfk_status {
        hfk::capi::ModelCore *core = hfk::capi::ready_core(model);
        if (core == nullptr)
            return set_error(HFK_E_STATE,
                             "the model is not ready: wait for HFK_MODEL_READY "
                             "(hfk_model_wait) before creating an engine");
        hfk::EngineParams ep;
        ep.max_sequences = p.max_sequences;
        ep.max_batch_tokens = p.max_batch_tokens;
        ep.kv_budget_bytes = p.kv_budget_bytes;
        ep.n_threads = p.n_threads > 0 ? p.n_threads : core->n_threads;
        ep.max_queued = p.max_queued;
        ep.n_ctx = p.n_ctx > 0 ? p.n_ctx : core->n_ctx;
        ep.block_tokens = p.kv_block_tokens;
        ep.kv_type = kv_type;
        auto handle = std::make_unique<hfk_engine>();
        handle->core = model->core;
        handle->source_dir = hfk::capi::model_source_dir(model);
        handle->engine = std::make_unique<hfk::Engine>(core->lm, ep);
        *out = handle.release();
        return HFK_OK;
    });
}

HFK_API void hfk_engine_free(hfk_engine *engine) noexcept {
    if (engine == nullptr) return;
    // From the worker itself (a callback) the join could never finish: refuse quietly.
    if (engine->engine && engine->engine->worker_id() == std::this_thread::get_id()) {
        set_error(HFK_E_REENTRANT, "hfk_engine_free from one of the engine's callbacks");
        return;
    }
    delete engine;
}

HFK_API hfk_status hfk_engine_submit(hfk_engine *engine, const char *prompt, const int32_t *ids,
                                     int64_t n_ids, const hfk_gen_params *params,
                                     hfk_piece_cb on_piece, void *user_data,
                                     hfk_request_id *id_out) noexcept {
    HFK_REQUIRE_ARG(id_out);
    *id_out = 0;
    HFK_REQUIRE_ARG(engine);
    if (n_ids < 0) return set_error(HFK_E_INVALID_ARG, "n_ids is negative");
    if (n_ids > 0 && ids == nullptr)
        return set_error(HFK_E_INVALID_ARG, "argument 'ids' is NULL with n_ids > 0");
    if (n_ids == 0 && prompt == nullptr)
        return set_error(HFK_E_INVALID_ARG, "argument 'prompt' is NULL and no ids are given");
    hfk_gen_params p;
    if (hfk_status s = hfk::capi::read_options(p, params, hfk::capi::gen_defaults()); s != HFK_OK)
        return s;
    return guard([&]() -> hfk_status {
        hfk::EngineRequest r;
        r.options = hfk::capi::resolve(p, engine->core->lm->generation);
        if (n_ids > 0)
            r.ids.assign(ids, ids + n_ids);
        else
            r.prompt = prompt;
        if (on_piece)
            r.on_piece = [on_piece, user_data](std::string_view piece) {
                return on_piece(piece.data(), piece.size(), user_data) != 0;
            };
        *id_out = engine->engine->submit(std::move(r));
        return HFK_OK;
    });
}

HFK_API hfk_status hfk_engine_submit_chat(hfk_engine *engine, const char *conversation_json,
                                          const char *chat_template, const hfk_gen_params *params,
                                          hfk_piece_cb on_piece, void *user_data,
                                          hfk_request_id *id_out) noexcept {
    HFK_REQUIRE_ARG(id_out);
    *id_out = 0;
    HFK_REQUIRE_ARG(engine);
    HFK_REQUIRE_ARG(conversation_json);
    hfk_gen_params p;
    if (hfk_status s = hfk::capi::read_options(p, params, hfk::capi::gen_defaults()); s != HFK_OK)
        return s;
    return guard([&]() -> hfk_status {
        hfk::capi::ChatTurn turn = hfk::capi::prepare_chat_turn(
            engine->source_dir, chat_template, conversation_json, *engine->core->lm->tokenizer);
        hfk::EngineRequest r;
        r.options = hfk::capi::resolve(p, engine->core->lm->generation);
        r.options.add_special_tokens = false;
        r.options.stop_ids.insert(r.options.stop_ids.end(), turn.stop_ids.begin(),
                                  turn.stop_ids.end());
        if (!turn.terminator.empty()) r.options.stop_strings.push_back(turn.terminator);
        r.prompt = std::move(turn.text);
        if (on_piece)
            r.on_piece = [on_piece, user_data](std::string_view piece) {
                return on_piece(piece.data(), piece.size(), user_data) != 0;
            };
        *id_out = engine->engine->submit(std::move(r));
        return HFK_OK;
    });
}

HFK_API hfk_status hfk_engine_cancel(hfk_engine *engine, hfk_request_id id) noexcept {
    HFK_REQUIRE_ARG(engine);
    return guard([&]() -> hfk_status {
        if (!engine->engine->cancel(id))
            return set_error(HFK_E_NOT_FOUND,
                             "no running or queued engine request " + std::to_string(id));
        return HFK_OK;
    });
}

HFK_API hfk_status hfk_engine_cancel_queued(hfk_engine *engine, int32_t *n_cancelled) noexcept {
    if (n_cancelled) *n_cancelled = 0;
    HFK_REQUIRE_ARG(engine);
    return guard([&]() -> hfk_status {
        const int32_t n = engine->engine->cancel_queued();
        if (n_cancelled) *n_cancelled = n;
        return HFK_OK;
    });
}

HFK_API hfk_status hfk_engine_wait(hfk_engine *engine, hfk_request_id id, char **text_out,
                                   hfk_engine_result *result_out) noexcept {
    if (text_out) *text_out = nullptr;
    HFK_REQUIRE_ARG(engine);
    if (bad_out(result_out))
        return set_error(HFK_E_INVALID_ARG,
                         "result_out was not initialised with hfk_engine_result_init");
    if (engine->engine->worker_id() == std::this_thread::get_id())
        return set_error(HFK_E_REENTRANT,
                         "hfk_engine_wait from one of the engine's callbacks would wait for "
                         "itself");
    return guard([&]() -> hfk_status {
        hfk::EngineResult r = engine->engine->wait(id);
        const bool has_text = r.status == HFK_OK || r.status == HFK_E_CANCELLED;
        if (text_out && has_text) *text_out = hfk::capi::dup_string(r.text);
        if (result_out) {
            hfk_engine_result res = kEngineResultDefaults;
            res.stop_reason = r.stop_reason;
            res.n_prompt_tokens = r.n_prompt_tokens;
            res.n_generated_tokens = r.n_generated_tokens;
            res.time_to_first_token_ms = r.time_to_first_token_ms;
            if (has_text) put_logprobs(res, result_out->struct_size, r);
            write_out(result_out, res);
        }
        return r.status == HFK_OK ? HFK_OK : set_error(r.status, r.error);
    });
}

HFK_API hfk_status hfk_engine_stats(const hfk_engine *engine, hfk_engine_statistics *out) noexcept {
    HFK_REQUIRE_ARG(engine);
    HFK_REQUIRE_ARG(out);
    if (bad_out(out))
        return set_error(HFK_E_INVALID_ARG,
                         "out was not initialised with hfk_engine_statistics_init");
    return guard([&]() -> hfk_status {
        const hfk::EngineStats s = engine->engine->stats();
        hfk_engine_statistics o = kEngineStatsDefaults;
        o.queued = s.queued;
        o.running = s.running;
        o.last_batch_sequences = s.last_batch_sequences;
        o.last_batch_tokens = s.last_batch_tokens;
        o.kv_blocks_used = s.kv_blocks_used;
        o.kv_blocks_total = s.kv_blocks_total;
        o.kv_block_tokens = s.kv_block_tokens;
        o.kv_block_bytes = s.kv_block_bytes;
        o.steps = s.steps;
        o.completed = s.completed;
        o.cancelled = s.cancelled;
        o.failed = s.failed;
        o.prefix_cache_hits = s.prefix_cache_hits;
        o.results_pending = s.results_pending;
        o.sequence_steps = s.sequence_steps;
        o.max_batch_sequences = s.max_batch_sequences;
        o.kv_blocks_cached = s.kv_blocks_cached;
        o.constraint_cache_hits = s.constraint_cache_hits;
        write_out(out, o);
        return HFK_OK;
    });
}
