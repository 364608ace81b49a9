// C ABI: logprobs, the token-level calls, scoring, fork/truncate and saved sessions. Each call
// claims the session (one thread at a time, no re-entry from callbacks) and maps exceptions to
// statuses through guard().
#include <cmath>
#include <cstring>
#include <string>
#include <vector>

#include "guard.h"
#include "handles.h"
#include "runtime/session_state.h"
#include "session_run.h"

using hfk::capi::guard;
using hfk::capi::SessionClaim;
using hfk::capi::set_error;

namespace {

// Runs `body` with the session claimed, then honours a free requested from a callback.
template <class Body>
hfk_status with_session(hfk_session *session, Body &&body) noexcept {
    if (session == nullptr) return set_error(HFK_E_INVALID_ARG, "argument 'session' is NULL");
    SessionClaim claim(session);
    if (claim.status() != HFK_OK) return claim.status();
    return guard(body);
}

hfk_status too_small(int64_t *n_out, int64_t needed, const std::string &what) {
    *n_out = -needed;
    return set_error(HFK_E_BUFFER_TOO_SMALL,
                     what + " needs " + std::to_string(needed) + " entries");
}

}  // namespace

extern "C" {

HFK_API hfk_status hfk_session_last_logprobs(hfk_session *session, float *logprobs,
                                             int32_t *top_ids, float *top_logprobs, int64_t n_max,
                                             int64_t *n_out, int32_t *n_top_out) noexcept {
    HFK_REQUIRE_ARG(n_out);
    *n_out = 0;
    HFK_REQUIRE_ARG(n_top_out);
    *n_top_out = 0;
    if (n_max < 0 || (logprobs == nullptr && n_max > 0))
        return set_error(HFK_E_INVALID_ARG, "logprobs must hold n_max >= 0 entries");
    return with_session(session, [&]() -> hfk_status {
        const auto &lp = session->session->last_logprobs();
        const auto n = static_cast<int64_t>(lp.size());
        const int32_t n_top = lp.empty() ? 0 : static_cast<int32_t>(lp.front().top.size());
        *n_top_out = n_top;
        if (n > n_max) return too_small(n_out, n, "the last generation's logprobs");
        if (n_top > 0 && n > 0 && (top_ids == nullptr || top_logprobs == nullptr))
            return set_error(HFK_E_INVALID_ARG, "top_ids and top_logprobs must hold n_max x " +
                                                    std::to_string(n_top) +
                                                    " entries (top_logprobs was set)");
        for (int64_t i = 0; i < n; ++i) {
            logprobs[i] = lp[size_t(i)].logprob;
            for (int32_t j = 0; j < n_top; ++j) {
                top_ids[i * n_top + j] = lp[size_t(i)].top[size_t(j)].first;
                top_logprobs[i * n_top + j] = lp[size_t(i)].top[size_t(j)].second;
            }
        }
        *n_out = n;
        return HFK_OK;
    });
}

HFK_API int32_t hfk_session_n_logits(const hfk_session *session) noexcept {
    return session && session->session ? session->session->n_logits() : 0;
}

HFK_API hfk_status hfk_session_tokens(hfk_session *session, int32_t *ids, int64_t n_max,
                                      int64_t *n_out) noexcept {
    HFK_REQUIRE_ARG(n_out);
    *n_out = 0;
    if (n_max < 0 || (ids == nullptr && n_max > 0))
        return set_error(HFK_E_INVALID_ARG, "ids must hold n_max >= 0 entries");
    return with_session(session, [&]() -> hfk_status {
        const auto &t = session->session->tokens();
        const auto n = static_cast<int64_t>(t.size());
        if (n > n_max) return too_small(n_out, n, "the session's tokens");
        if (n > 0) std::memcpy(ids, t.data(), t.size() * sizeof(int32_t));
        *n_out = n;
        return HFK_OK;
    });
}

HFK_API hfk_status hfk_session_eval(hfk_session *session, const int32_t *ids, int64_t n_ids,
                                    float *all_logits, int64_t all_logits_len) noexcept {
    if (n_ids < 0 || (ids == nullptr && n_ids > 0))
        return set_error(HFK_E_INVALID_ARG, "ids must hold n_ids >= 0 entries");
    return with_session(session, [&]() -> hfk_status {
        if (all_logits) {
            const int64_t needed = n_ids * session->session->n_logits();
            if (all_logits_len < needed)
                return set_error(HFK_E_BUFFER_TOO_SMALL,
                                 "all_logits must hold " + std::to_string(needed) + " floats (" +
                                     std::to_string(n_ids) + " x " +
                                     std::to_string(session->session->n_logits()) + ")");
        }
        session->session->eval({ids, static_cast<size_t>(n_ids)}, all_logits);
        return HFK_OK;
    });
}

HFK_API hfk_status hfk_session_logits(hfk_session *session, float *out, int64_t n_max,
                                      int64_t *n_out) noexcept {
    HFK_REQUIRE_ARG(n_out);
    *n_out = 0;
    if (n_max < 0 || (out == nullptr && n_max > 0))
        return set_error(HFK_E_INVALID_ARG, "out must hold n_max >= 0 floats");
    return with_session(session, [&]() -> hfk_status {
        const std::span<const float> l = session->session->logits();
        const auto n = static_cast<int64_t>(l.size());
        if (n > n_max) return too_small(n_out, n, "the logits");
        std::memcpy(out, l.data(), l.size() * sizeof(float));
        *n_out = n;
        return HFK_OK;
    });
}

HFK_API hfk_status hfk_session_sample(hfk_session *session, const float *logits, int64_t n_logits,
                                      const hfk_gen_params *params, int32_t *id_out) noexcept {
    HFK_REQUIRE_ARG(id_out);
    *id_out = -1;
    HFK_REQUIRE_ARG(logits);
    if (n_logits < 0) return set_error(HFK_E_INVALID_ARG, "n_logits must be >= 0");
    hfk_gen_params p;
    if (hfk_status s = hfk::capi::read_options(p, params, hfk::capi::gen_defaults()); s != HFK_OK)
        return s;
    return with_session(session, [&]() -> hfk_status {
        const hfk::GenerateOptions o = hfk::capi::resolve(p, session->core->lm->generation);
        *id_out = session->session->sample({logits, static_cast<size_t>(n_logits)}, o.sampler,
                                           o.logit_bias);
        return HFK_OK;
    });
}

HFK_API hfk_status hfk_session_set_seed(hfk_session *session, uint64_t seed) noexcept {
    return with_session(session, [&]() -> hfk_status {
        session->session->set_seed(seed);
        return HFK_OK;
    });
}

HFK_API hfk_status hfk_session_score(hfk_session *session, const int32_t *ids, int64_t n_ids,
                                     double *logprobs_out) noexcept {
    if (n_ids < 0 || (n_ids > 0 && (ids == nullptr || logprobs_out == nullptr)))
        return set_error(HFK_E_INVALID_ARG, "ids and logprobs_out must hold n_ids >= 0 entries");
    return with_session(session, [&]() -> hfk_status {
        const std::vector<double> lp = session->session->score({ids, static_cast<size_t>(n_ids)});
        std::copy(lp.begin(), lp.end(), logprobs_out);
        return HFK_OK;
    });
}

HFK_API hfk_status hfk_session_truncate(hfk_session *session, int32_t n_tokens) noexcept {
    return with_session(session, [&]() -> hfk_status {
        session->session->truncate(n_tokens);
        return HFK_OK;
    });
}

HFK_API hfk_status hfk_session_fork(hfk_session **out, hfk_session *session) noexcept {
    HFK_REQUIRE_ARG(out);
    *out = nullptr;
    return with_session(session, [&]() -> hfk_status {
        const hfk::Session &src = *session->session;
        auto handle = std::make_unique<hfk_session>();
        handle->core = session->core;
        handle->source_dir = session->source_dir;
        handle->session = std::make_unique<hfk::Session>(
            src.model_ptr(), src.capacity(), src.n_threads(), src.cache().kv_type(), src.compute());
        handle->session->restore(src.snapshot());
        *out = handle.release();
        return HFK_OK;
    });
}

HFK_API hfk_status hfk_session_save(hfk_session *session, const char *path) noexcept {
    HFK_REQUIRE_ARG(path);
    return with_session(session, [&]() -> hfk_status {
        hfk::save_session(*session->session, path);
        return HFK_OK;
    });
}

HFK_API hfk_status hfk_session_load(hfk_session *session, const char *path) noexcept {
    HFK_REQUIRE_ARG(path);
    return with_session(session, [&]() -> hfk_status {
        hfk::restore_session(*session->session, path);
        return HFK_OK;
    });
}

HFK_API hfk_status hfk_session_generate_tokens(hfk_session *session, const int32_t *ids,
                                               int64_t n_ids, const hfk_gen_params *params,
                                               hfk_piece_cb on_piece, void *user_data,
                                               char **text_out,
                                               hfk_gen_result *result_out) noexcept {
    if (text_out) *text_out = nullptr;
    if (n_ids < 0 || (ids == nullptr && n_ids > 0))
        return set_error(HFK_E_INVALID_ARG, "ids must hold n_ids >= 0 entries");
    std::vector<int32_t> prompt;
    try {
        prompt.assign(ids, ids + n_ids);
    } catch (...) {
        return set_error(HFK_E_NOMEM, "out of memory copying the ids");
    }
    return hfk::capi::session_generate(session, "", params, on_piece, user_data, text_out,
                                       result_out, {}, &prompt);
}

}  // extern "C"
