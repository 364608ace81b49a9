// C ABI: sessions and generation. The engine's Session does the work; this layer resolves the
// "unset" option values against the model's generation_config.json, enforces one thread per
// session, and turns callbacks and cancellation into the documented statuses.
#include <cmath>
#include <cstring>
#include <string>
#include <vector>

#include "guard.h"
#include "handles.h"
#include "session_run.h"

using hfk::capi::guard;
using hfk::capi::set_error;

namespace {

const hfk_session_params kSessionDefaults = {sizeof(hfk_session_params), 0, 0, HFK_KV_F32,
                                             HFK_COMPUTE_F32};
const hfk_gen_params kGenDefaults = {
    sizeof(hfk_gen_params),
    -1,       // max_new_tokens
    -1.0f,    // temperature
    -1,       // top_k
    -1.0f,    // top_p
    -1.0f,    // min_p
    -1.0f,    // repetition_penalty
    0.0f,     // presence_penalty
    0.0f,     // frequency_penalty
    0,        // seed
    nullptr,  // stop
    0,        // n_stop
    -1,       // add_special_tokens
    0,        // ignore_eos
    nullptr,  // logit_bias_ids
    nullptr,  // logit_bias_values
    0,        // n_logit_bias
    0,        // logprobs
    0,        // top_logprobs
    0,        // constraint_kind
    nullptr,  // constraint
};
const hfk_gen_result kResultDefaults = {sizeof(hfk_gen_result), HFK_STOP_NONE, 0, 0, 0, 0, 0, 0};

}  // namespace

const hfk_gen_params &hfk::capi::gen_defaults() {
    return kGenDefaults;
}

// Library defaults are transformers' GenerationConfig defaults, so that a model behaves as it
// does there: greedy unless generation_config.json asks for sampling.
hfk::GenerateOptions hfk::capi::resolve(const hfk_gen_params &p, const hfk::GenerationDefaults &g) {
    hfk::GenerateOptions o;
    o.max_new_tokens = p.max_new_tokens >= 0 ? p.max_new_tokens : g.max_new_tokens.value_or(256);
    if (p.max_new_tokens < -1)
        hfk::fail(HFK_E_INVALID_ARG, "max_new_tokens must be >= 0 (or -1 for the model default)");
    const bool do_sample = g.do_sample.value_or(false);
    // -1 (what hfk_gen_params_init writes) is "unset"; any other negative number is a mistake,
    // named rather than read as "use the default". NaN compares false everywhere: it goes on to
    // the validator, which names it too.
    auto pick = [](float given, float fallback, const char *field) {
        if (given == -1.0f) return fallback;
        if (given < 0)
            hfk::fail(HFK_E_INVALID_ARG, std::string(field) +
                                             " must be >= 0, or -1 for the "
                                             "model default; got " +
                                             std::to_string(given));
        return given;
    };
    o.sampler.temperature =
        pick(p.temperature, do_sample ? g.temperature.value_or(1.0f) : 0.0f, "temperature");
    if (p.top_k < -1)
        hfk::fail(HFK_E_INVALID_ARG,
                  "top_k must be >= 0 (0 = off), or -1 for the model "
                  "default; got " +
                      std::to_string(p.top_k));
    o.sampler.top_k = p.top_k >= 0 ? p.top_k : (do_sample ? g.top_k.value_or(50) : 0);
    o.sampler.top_p = pick(p.top_p, do_sample ? g.top_p.value_or(1.0f) : 1.0f, "top_p");
    o.sampler.min_p = pick(p.min_p, do_sample ? g.min_p.value_or(0.0f) : 0.0f, "min_p");
    o.sampler.repetition_penalty =
        pick(p.repetition_penalty, g.repetition_penalty.value_or(1.0f), "repetition_penalty");
    o.sampler.presence_penalty = p.presence_penalty;
    o.sampler.frequency_penalty = p.frequency_penalty;
    o.sampler.seed = p.seed;
    if (p.n_stop < 0 || (p.n_stop > 0 && p.stop == nullptr))
        hfk::fail(HFK_E_INVALID_ARG, "stop must hold n_stop strings");
    for (int32_t i = 0; i < p.n_stop; ++i) {
        if (p.stop[i] == nullptr)
            hfk::fail(HFK_E_INVALID_ARG, "stop[" + std::to_string(i) + "] is NULL");
        o.stop_strings.emplace_back(p.stop[i]);
    }
    o.add_special_tokens = p.add_special_tokens != 0;
    o.ignore_eos = p.ignore_eos != 0;
    if (p.n_logit_bias < 0 ||
        (p.n_logit_bias > 0 && (p.logit_bias_ids == nullptr || p.logit_bias_values == nullptr)))
        hfk::fail(HFK_E_INVALID_ARG,
                  "logit_bias_ids and logit_bias_values must hold "
                  "n_logit_bias >= 0 entries");
    for (int32_t i = 0; i < p.n_logit_bias; ++i)
        o.logit_bias.push_back({p.logit_bias_ids[i], p.logit_bias_values[i]});
    o.logprobs = p.logprobs != 0;
    o.top_logprobs = p.top_logprobs;
    if (p.top_logprobs < 0 || p.top_logprobs > HFK_MAX_TOP_LOGPROBS)
        hfk::fail(HFK_E_INVALID_ARG, "top_logprobs must be in [0, " +
                                         std::to_string(HFK_MAX_TOP_LOGPROBS) + "], got " +
                                         std::to_string(p.top_logprobs));
    if (p.constraint_kind < HFK_CONSTRAINT_NONE || p.constraint_kind > HFK_CONSTRAINT_REGEX)
        hfk::fail(HFK_E_INVALID_ARG, "constraint_kind must be one of HFK_CONSTRAINT_*, got " +
                                         std::to_string(p.constraint_kind));
    if (p.constraint_kind != HFK_CONSTRAINT_NONE && p.constraint_kind != HFK_CONSTRAINT_JSON &&
        p.constraint == nullptr)
        hfk::fail(HFK_E_INVALID_ARG, "constraint is NULL but constraint_kind needs its text");
    o.constraint_kind = p.constraint_kind;
    if (p.constraint) o.constraint_text = p.constraint;
    return o;
}

hfk::capi::SessionClaim::SessionClaim(hfk_session *s) : s_(s) {
    std::thread::id idle{};
    const auto me = std::this_thread::get_id();
    if (s_->owner.compare_exchange_strong(idle, me)) {
        status_ = HFK_OK;
    } else if (idle == me) {
        status_ = set_error(HFK_E_REENTRANT, "the session was called from inside its own callback");
    } else {
        status_ = set_error(HFK_E_BUSY, "the session is in use by another thread");
    }
}

hfk::capi::SessionClaim::~SessionClaim() {
    if (status_ == HFK_OK) s_->owner.store(std::thread::id{});
}

using hfk::capi::resolve;
using hfk::capi::SessionClaim;

extern "C" {

HFK_API hfk_status hfk_session_params_init(hfk_session_params *p, size_t caller_size) noexcept {
    return hfk::capi::init_options(p, caller_size, kSessionDefaults);
}

HFK_API hfk_status hfk_gen_params_init(hfk_gen_params *p, size_t caller_size) noexcept {
    return hfk::capi::init_options(p, caller_size, kGenDefaults);
}

HFK_API hfk_status hfk_gen_result_init(hfk_gen_result *p, size_t caller_size) noexcept {
    return hfk::capi::init_options(p, caller_size, kResultDefaults);
}

HFK_API hfk_status hfk_session_create(hfk_session **out, hfk_model *model,
                                      const hfk_session_params *params) noexcept {
    HFK_REQUIRE_ARG(out);
    *out = nullptr;
    HFK_REQUIRE_ARG(model);
    hfk_session_params p;
    if (hfk_status s = hfk::capi::read_options(p, params, kSessionDefaults); s != HFK_OK) return s;
    hfk::DType kv_type = hfk::DType::F32;
    if (hfk_status s = hfk::capi::kv_type_of(p.kv_dtype, "hfk_session_params.kv_dtype", kv_type);
        s != HFK_OK)
        return s;
    if (p.compute != HFK_COMPUTE_F32 && p.compute != HFK_COMPUTE_BF16)
        return set_error(HFK_E_INVALID_ARG,
                         "hfk_session_params.compute " + std::to_string(p.compute) +
                             " is not HFK_COMPUTE_F32 (0) or HFK_COMPUTE_BF16 (1)");
    const hfk::kern::Compute compute =
        p.compute == HFK_COMPUTE_BF16 ? hfk::kern::Compute::BF16 : hfk::kern::Compute::F32;
    return guard([&]() -> hfk_status {
        hfk::capi::ModelCore *core = hfk::capi::ready_core(model);
        if (core == nullptr)
            return set_error(HFK_E_STATE,
                             "the model is not ready: wait for HFK_MODEL_READY "
                             "(hfk_model_wait) before creating sessions");
        auto handle = std::make_unique<hfk_session>();
        handle->core = model->core;
        handle->source_dir = hfk::capi::model_source_dir(model);
        handle->session = std::make_unique<hfk::Session>(
            core->lm, p.n_ctx > 0 ? p.n_ctx : core->n_ctx,
            p.n_threads > 0 ? p.n_threads : core->n_threads, kv_type, compute);
        *out = handle.release();
        return HFK_OK;
    });
}

HFK_API void hfk_session_free(hfk_session *session) noexcept {
    if (session == nullptr) return;
    if (session->owner.load() == std::this_thread::get_id()) {
        session->free_requested = true;  // inside its own callback: freed when generate returns
        return;
    }
    delete session;
}

HFK_API hfk_status hfk_session_reset(hfk_session *session) noexcept {
    HFK_REQUIRE_ARG(session);
    SessionClaim claim(session);
    if (claim.status() != HFK_OK) return claim.status();
    return guard([&]() -> hfk_status {
        session->session->reset();
        return HFK_OK;
    });
}

HFK_API void hfk_session_cancel(hfk_session *session) noexcept {
    if (session) session->cancel.store(true);
}

HFK_API hfk_status hfk_session_last_tokens(hfk_session *session, int32_t *ids, int64_t n_max,
                                           int64_t *n_out) noexcept {
    HFK_REQUIRE_ARG(n_out);
    *n_out = 0;
    HFK_REQUIRE_ARG(session);
    if (n_max < 0 || (ids == nullptr && n_max > 0))
        return set_error(HFK_E_INVALID_ARG, "ids must hold n_max >= 0 entries");
    SessionClaim claim(session);
    if (claim.status() != HFK_OK) return claim.status();
    const auto &tokens = session->session->last_tokens();
    const auto n = static_cast<int64_t>(tokens.size());
    if (n > n_max) {
        *n_out = -n;
        return set_error(HFK_E_BUFFER_TOO_SMALL,
                         "the last generation has " + std::to_string(n) + " tokens");
    }
    if (n > 0) std::memcpy(ids, tokens.data(), tokens.size() * sizeof(int32_t));
    *n_out = n;
    return HFK_OK;
}

HFK_API hfk_status hfk_session_generate(hfk_session *session, const char *prompt,
                                        const hfk_gen_params *params, hfk_piece_cb on_piece,
                                        void *user_data, char **text_out,
                                        hfk_gen_result *result_out) noexcept {
    return hfk::capi::session_generate(session, prompt, params, on_piece, user_data, text_out,
                                       result_out, {});
}

}  // extern "C"

hfk_status hfk::capi::session_generate(hfk_session *session, const char *prompt,
                                       const hfk_gen_params *params, hfk_piece_cb on_piece,
                                       void *user_data, char **text_out, hfk_gen_result *result_out,
                                       const SessionPrepare &prepare,
                                       const std::vector<int32_t> *token_prompt) noexcept {
    if (text_out) *text_out = nullptr;
    HFK_REQUIRE_ARG(session);
    HFK_REQUIRE_ARG(prompt);
    if (result_out && (result_out->struct_size < sizeof(uint32_t) ||
                       result_out->struct_size > sizeof(hfk_gen_result)))
        return set_error(HFK_E_INVALID_ARG,
                         "result_out was not initialised with "
                         "hfk_gen_result_init");
    hfk_gen_params p;
    if (hfk_status s = hfk::capi::read_options(p, params, kGenDefaults); s != HFK_OK) return s;

    hfk_status status;
    {
        SessionClaim claim(session);
        if (claim.status() != HFK_OK) return claim.status();
        session->cancel.store(false);  // a cancel from before this call is forgotten
        std::string text;
        hfk::GenerateResult r;
        bool callback_failed = false;
        status = guard([&]() -> hfk_status {
            hfk::GenerateOptions opts = resolve(p, session->core->lm->generation);
            if (prepare) prepare(*session->session, opts);
            std::function<bool(std::string_view)> piece_fn;
            if (on_piece) {
                piece_fn = [&](std::string_view piece) {
                    try {
                        return on_piece(piece.data(), piece.size(), user_data) != 0;
                    } catch (...) {  // a C++ host's callback threw: stop, report, never unwind
                        callback_failed = true;
                        return true;
                    }
                };
            }
            if (token_prompt)
                session->session->generate_tokens(*token_prompt, opts, piece_fn, session->cancel,
                                                  text, r);
            else
                session->session->generate(prompt, opts, piece_fn, session->cancel, text, r);
            return HFK_OK;
        });
        if (callback_failed)
            status = set_error(HFK_E_CALLBACK, "the piece callback threw an exception");
        if (result_out) {
            hfk_gen_result res = kResultDefaults;
            res.stop_reason = status == HFK_E_CANCELLED ? HFK_STOP_CANCELLED : r.stop_reason;
            res.n_prompt_tokens = r.n_prompt_tokens;
            res.n_reused_tokens = r.n_reused_tokens;
            res.n_generated_tokens = r.n_generated_tokens;
            res.time_to_first_token_ms = r.time_to_first_token_ms;
            res.prefill_tokens_per_s = r.prefill_tokens_per_s;
            res.decode_tokens_per_s = r.decode_tokens_per_s;
            std::memcpy(reinterpret_cast<char *>(result_out) + sizeof(uint32_t),
                        reinterpret_cast<const char *>(&res) + sizeof(uint32_t),
                        result_out->struct_size - sizeof(uint32_t));
        }
        if (text_out && (status == HFK_OK || status == HFK_E_CANCELLED)) {
            try {
                *text_out = hfk::capi::dup_string(text);
            } catch (...) {
                status = set_error(HFK_E_NOMEM, "out of memory copying the generated text");
            }
        }
    }
    if (session->free_requested) delete session;
    return status;
}
