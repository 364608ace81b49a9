// C ABI: loading models, and what encoder models do (embeddings, classification).
#include <algorithm>
#include <cstring>
#include <functional>
#include <optional>
#include <string>
#include <vector>

#include <chrono>
#include <condition_variable>
#include <deque>
#include <mutex>

#include "guard.h"
#include "handles.h"
#include "hub_options.h"
#include "runtime/embedder.h"

using hfk::capi::guard;
using hfk::capi::set_error;

namespace {

const hfk_load_params kLoadDefaults = {
    sizeof(hfk_load_params), 0, nullptr, nullptr, nullptr, nullptr, nullptr, 0, 0,
    HFK_QUANT_AUTO,          0, 0};
const hfk_model_status kStatusDefaults = {
    sizeof(hfk_model_status), HFK_MODEL_PENDING, HFK_OK, 0.0, 0, -1, 0, 0, nullptr};

hfk_model_status to_c_status(const hfk::ModelStatus &s, hfk_model *model) {
    hfk_model_status c = kStatusDefaults;
    c.model = model;
    c.state = static_cast<hfk_model_state>(s.state);
    c.error = s.state == hfk::ModelState::Failed ? s.error : HFK_OK;
    c.load_fraction = s.load_fraction;
    c.bytes_done = s.bytes_done;
    c.bytes_total = s.bytes_total;
    c.files_done = s.files_done;
    c.files_total = s.files_total;
    return c;
}

bool is_classifier(const hfk::ModelConfig &cfg) {
    for (const auto &a : cfg.architectures)
        if (a.size() >= 25 && a.compare(a.size() - 25, 25, "ForSequenceClassification") == 0)
            return true;
    return false;
}
const hfk_embed_params kEmbedDefaults = {sizeof(hfk_embed_params), HFK_POOLING_MODEL, -1, 0,
                                         nullptr};
const hfk_rerank_params kRerankDefaults = {sizeof(hfk_rerank_params), 0, -1, nullptr};

// The architecture names as static strings (the ABI promises static storage).
const char *static_architecture(const std::string &arch) {
    static const char *const known[] = {
        "gpt2",        "llama",      "mistral",    "qwen2", "bert",    "roberta",
        "xlm-roberta", "distilbert", "modernbert", "qwen3", "gemma",   "gemma2",
        "gemma3_text", "smollm3",    "phi3",       "phi",   "mixtral", "qwen3_moe"};
    for (const char *k : known)
        if (arch == k) return k;
    return "unknown";
}

// Told every state change, with the handle it is about (which exists before the worker starts,
// so a callback may use it even before hfk_model_open has returned it).
using HandleListener = std::function<bool(const hfk::ModelStatus &, hfk_model *)>;

// hfk_model_open's body, with the listener given directly (the blocking load uses its own).
hfk_status open_model(hfk_model **out, const char *id_or_path, const hfk_load_params &p,
                      HandleListener listener) {
    hfk_hub_params hp;
    if (hfk_status s = hfk::capi::read_options(hp, p.hub, hfk::capi::kHubDefaults); s != HFK_OK)
        return s;
    if (p.quantization < HFK_QUANT_AUTO || p.quantization > HFK_QUANT_Q4)
        return set_error(HFK_E_INVALID_ARG, "hfk_load_params.quantization " +
                                                std::to_string(p.quantization) +
                                                " is not one of HFK_QUANT_AUTO .. HFK_QUANT_Q4");
    if (p.keep_embeddings != 0 && p.quantize_embeddings != 0)
        return set_error(HFK_E_INVALID_ARG,
                         "hfk_load_params.keep_embeddings and quantize_embeddings contradict each "
                         "other (the embedding and lm_head are quantized by default)");
    return guard([&]() -> hfk_status {
        hfk::OpenRequest req;
        req.id_or_path = id_or_path;
        hp.progress = nullptr;  // download progress reaches the caller through the model state
        req.hub = hfk::capi::hub_options_from(hp);
        req.n_threads = p.n_threads;
        req.skip_resource_check = p.skip_resource_check != 0;
        req.format = static_cast<hfk::WeightFormat>(p.quantization);
        req.quantize_embeddings = p.keep_embeddings == 0;
        req.n_ctx = p.n_ctx;
        auto handle = std::make_unique<hfk_model>();
        handle->n_threads = p.n_threads;
        handle->n_ctx = p.n_ctx;
        handle->source = req.id_or_path;
        handle->source_revision = req.hub.revision;
        handle->source_cache_dir = req.hub.cache_dir;
        hfk::ModelOpening::Listener with_handle;
        if (listener)
            with_handle = [listener = std::move(listener),
                           h = handle.get()](const hfk::ModelStatus &s) { return listener(s, h); };
        handle->opening = hfk::ModelOpening::create(std::move(req), std::move(with_handle));
        // From here the state callback owns the handle as much as the caller does (it may free
        // it, even before this function returns): the handle is complete before the worker
        // starts, and nothing here touches it once the worker runs.
        hfk_model *raw = handle.release();
        try {
            hfk::ModelOpening::begin(raw->opening);
        } catch (...) {
            delete raw;  // no worker: nothing else has seen the handle
            throw;
        }
        *out = raw;
        return HFK_OK;
    });
}

// texts[0..n) as views into `out`; HFK_E_INVALID_ARG naming `what`[i] at the first NULL.
hfk_status text_views(const char *const *texts, size_t n, const char *what,
                      std::vector<std::string_view> &out) {
    out.clear();
    out.reserve(n);
    for (size_t i = 0; i < n; ++i) {
        if (texts[i] == nullptr)
            return set_error(HFK_E_INVALID_ARG,
                             std::string(what) + "[" + std::to_string(i) + "] is NULL");
        out.emplace_back(texts[i]);
    }
    return HFK_OK;
}

// HFK_E_UNSUPPORTED for a generator: `need` says what the call needs instead.
hfk_status require_encoder(const hfk::LoadedModel &lm, const char *need) {
    if (!lm.model->is_causal()) return HFK_OK;
    return set_error(HFK_E_UNSUPPORTED, std::string("a '") + lm.model->architecture() +
                                            "' model generates text; " + need);
}

// Every state change of a blocking load, queued by the worker and replayed on the caller's
// thread, so its progress callback sees each phase even when a phase is over in a millisecond.
struct StatusQueue {
    std::mutex mu;
    std::condition_variable cv;
    std::deque<hfk::ModelStatus> events;
};

}  // namespace

namespace hfk::capi {

ModelCore *ready_core(const hfk_model *model) {
    if (model == nullptr) return nullptr;
    auto lm = model->opening->model();
    if (!lm) return nullptr;
    try {
        std::call_once(model->core_once, [&] {
            auto core = std::make_shared<ModelCore>();
            core->lm = lm;
            core->tokenizer.tok = lm->tokenizer;
            core->n_threads = model->n_threads > 0 ? model->n_threads : lm->n_threads;
            // The handle's context for its sessions, never beyond the model's own.
            core->n_ctx =
                model->n_ctx > 0 ? std::min(model->n_ctx, lm->model->context_length()) : 0;
            core->n_labels = is_classifier(lm->model->config())
                                 ? static_cast<int32_t>(lm->model->config().id2label.size())
                                 : 0;
            model->core = std::move(core);
        });
    } catch (...) {
        return nullptr;  // out of memory building the core: report "not ready"
    }
    return model->core.get();
}

}  // namespace hfk::capi

extern "C" {

HFK_API hfk_status hfk_load_params_init(hfk_load_params *p, size_t caller_size) noexcept {
    return hfk::capi::init_options(p, caller_size, kLoadDefaults);
}

HFK_API hfk_status hfk_embed_params_init(hfk_embed_params *p, size_t caller_size) noexcept {
    return hfk::capi::init_options(p, caller_size, kEmbedDefaults);
}

HFK_API hfk_status hfk_rerank_params_init(hfk_rerank_params *p, size_t caller_size) noexcept {
    return hfk::capi::init_options(p, caller_size, kRerankDefaults);
}

HFK_API hfk_status hfk_model_status_init(hfk_model_status *p, size_t caller_size) noexcept {
    return hfk::capi::init_options(p, caller_size, kStatusDefaults);
}

HFK_API hfk_status hfk_model_open(hfk_model **out, const char *id_or_path,
                                  const hfk_load_params *params) noexcept {
    HFK_REQUIRE_ARG(out);
    *out = nullptr;
    HFK_REQUIRE_ARG(id_or_path);
    hfk_load_params p;
    if (hfk_status s = hfk::capi::read_options(p, params, kLoadDefaults); s != HFK_OK) return s;
    HandleListener listener;
    if (p.on_state) {
        listener = [cb = p.on_state, ud = p.state_user_data](const hfk::ModelStatus &s,
                                                             hfk_model *handle) {
            const hfk_model_status c = to_c_status(s, handle);
            try {
                return cb(&c, ud) != 0;  // non-zero: stop, as for every callback
            } catch (...) {  // a C++ host's callback threw: it must not unwind our worker
                return true;
            }
        };
    }
    return open_model(out, id_or_path, p, std::move(listener));
}

HFK_API hfk_status hfk_model_get_status(const hfk_model *model,
                                        hfk_model_status *status_out) noexcept {
    HFK_REQUIRE_ARG(model);
    HFK_REQUIRE_ARG(status_out);
    if (status_out->struct_size < sizeof(uint32_t) || status_out->struct_size > sizeof *status_out)
        return set_error(HFK_E_INVALID_ARG,
                         "status_out was not initialised with "
                         "hfk_model_status_init");
    return guard([&]() -> hfk_status {
        const hfk_model_status c =
            to_c_status(model->opening->status(), const_cast<hfk_model *>(model));
        std::memcpy(reinterpret_cast<char *>(status_out) + sizeof(uint32_t),
                    reinterpret_cast<const char *>(&c) + sizeof(uint32_t),
                    status_out->struct_size - sizeof(uint32_t));
        return HFK_OK;
    });
}

HFK_API hfk_status hfk_model_wait(const hfk_model *model, int32_t timeout_ms) noexcept {
    HFK_REQUIRE_ARG(model);
    return guard([&]() -> hfk_status {
        if (!model->opening->wait(std::chrono::milliseconds(timeout_ms)))
            return set_error(HFK_E_STATE,
                             "the model is not ready after " + std::to_string(timeout_ms) + " ms");
        const hfk::ModelStatus s = model->opening->status();
        if (s.state == hfk::ModelState::Failed) return set_error(s.error, s.message);
        return HFK_OK;
    });
}

HFK_API const char *hfk_model_error_message(const hfk_model *model) noexcept {
    if (model == nullptr) return "";
    const hfk::ModelStatus s = model->opening->status();
    if (s.state != hfk::ModelState::Failed) return "";
    try {
        std::call_once(model->error_once, [&] { model->error_message = s.message; });
    } catch (...) {
        return "out of memory";
    }
    return model->error_message.c_str();
}

HFK_API hfk_status hfk_model_load(hfk_model **out, const char *id_or_path,
                                  const hfk_load_params *params) noexcept {
    HFK_REQUIRE_ARG(out);
    *out = nullptr;
    HFK_REQUIRE_ARG(id_or_path);
    hfk_load_params p;
    if (hfk_status s = hfk::capi::read_options(p, params, kLoadDefaults); s != HFK_OK) return s;
    auto queue = std::make_shared<StatusQueue>();
    hfk_model *model = nullptr;
    hfk_status st =
        open_model(&model, id_or_path, p, [queue](const hfk::ModelStatus &s, hfk_model *) {
            {
                std::lock_guard lock(queue->mu);
                queue->events.push_back(s);
            }
            queue->cv.notify_one();
            return false;  // the caller's progress callback stops through hfk_model_free
        });
    if (st != HFK_OK) return st;
    return guard([&]() -> hfk_status {
        std::unique_ptr<hfk_model, void (*)(hfk_model *)> owned(model, hfk_model_free);
        for (;;) {
            hfk::ModelStatus s;
            {
                std::unique_lock lock(queue->mu);
                queue->cv.wait(lock, [&] { return !queue->events.empty(); });
                s = std::move(queue->events.front());
                queue->events.pop_front();
            }
            if (p.progress && s.state != hfk::ModelState::Pending &&
                s.state != hfk::ModelState::Failed) {
                hfk_progress info{};
                info.struct_size = sizeof info;
                info.phase = s.state == hfk::ModelState::Downloading ? HFK_PHASE_DOWNLOADING
                             : s.state == hfk::ModelState::Loading   ? HFK_PHASE_LOADING
                                                                     : HFK_PHASE_READY;
                info.fraction = s.state == hfk::ModelState::Downloading
                                    ? (s.bytes_total > 0 ? static_cast<double>(s.bytes_done) /
                                                               static_cast<double>(s.bytes_total)
                                                         : -1.0)
                                    : s.load_fraction;
                info.bytes_done = s.bytes_done;
                info.bytes_total = s.bytes_total;
                info.files_done = s.files_done;
                info.files_total = s.files_total;
                info.file_name = s.file_name.empty() ? nullptr : s.file_name.c_str();
                if (p.progress(&info, p.progress_user_data) != 0)
                    return set_error(HFK_E_CANCELLED, "loading cancelled by the progress callback");
            }
            // The one progress story: on_state sees the same hfk_model_status events as with
            // hfk_model_open, here on the calling thread; non-zero cancels.
            if (p.on_state) {
                const hfk_model_status c = to_c_status(s, model);
                if (p.on_state(&c, p.state_user_data) != 0 && s.state != hfk::ModelState::Ready &&
                    s.state != hfk::ModelState::Failed)
                    return set_error(HFK_E_CANCELLED, "loading cancelled by the state callback");
            }
            if (s.state == hfk::ModelState::Failed) return set_error(s.error, s.message);
            if (s.state == hfk::ModelState::Ready) {
                hfk::capi::set_warning(s.warning);  // as hfk_prepare: the cache fallback
                *out = owned.release();
                return HFK_OK;
            }
        }
    });
}

HFK_API void hfk_model_free(hfk_model *model) noexcept {
    if (model == nullptr) return;
    model->opening->close();  // stops the worker; no state callback runs after this
    delete model;
}

HFK_API const char *hfk_model_architecture(const hfk_model *model) noexcept {
    const auto *core = hfk::capi::ready_core(model);
    return core ? static_architecture(core->lm->model->architecture()) : "";
}

HFK_API int32_t hfk_model_is_generator(const hfk_model *model) noexcept {
    const auto *core = hfk::capi::ready_core(model);
    return core && core->lm->model->is_causal() ? 1 : 0;
}

HFK_API int32_t hfk_model_context_length(const hfk_model *model) noexcept {
    const auto *core = hfk::capi::ready_core(model);
    return core ? core->lm->model->context_length() : 0;
}

HFK_API const hfk_tokenizer *hfk_model_tokenizer(const hfk_model *model) noexcept {
    auto *core = hfk::capi::ready_core(model);
    return core ? &core->tokenizer : nullptr;
}

HFK_API int32_t hfk_model_embedding_dim(const hfk_model *model) noexcept {
    const auto *core = hfk::capi::ready_core(model);
    if (core == nullptr || core->lm->model->is_causal()) return 0;
    return static_cast<int32_t>(core->lm->model->config().hidden_size);
}

HFK_API hfk_status hfk_model_embed(const hfk_model *model, const char *const *texts, size_t n_texts,
                                   const hfk_embed_params *params, float *out,
                                   size_t out_len) noexcept {
    HFK_REQUIRE_ARG(model);
    if (texts == nullptr && n_texts > 0) return set_error(HFK_E_INVALID_ARG, "texts is NULL");
    hfk_embed_params p;
    if (hfk_status s = hfk::capi::read_options(p, params, kEmbedDefaults); s != HFK_OK) return s;
    std::optional<hfk::Pooling> pooling;
    switch (p.pooling) {
        case HFK_POOLING_MODEL:
            break;
        case HFK_POOLING_MEAN:
            pooling = hfk::Pooling::Mean;
            break;
        case HFK_POOLING_CLS:
            pooling = hfk::Pooling::Cls;
            break;
        case HFK_POOLING_LAST_TOKEN:
            pooling = hfk::Pooling::LastToken;
            break;
        case HFK_POOLING_MAX:
            pooling = hfk::Pooling::Max;
            break;
        default:
            return set_error(HFK_E_INVALID_ARG, "pooling " + std::to_string(p.pooling) +
                                                    " is none of HFK_POOLING_MODEL, _MEAN, _CLS, "
                                                    "_LAST_TOKEN, _MAX");
    }
    if (p.normalize < -1 || p.normalize > 1)
        return set_error(HFK_E_INVALID_ARG, "normalize " + std::to_string(p.normalize) +
                                                " is none of -1 (the model's), 0, 1");
    return guard([&]() -> hfk_status {
        const auto *core = hfk::capi::ready_core(model);
        if (core == nullptr) return set_error(HFK_E_STATE, "the model is not ready");
        const auto &lm = *core->lm;
        if (hfk_status s = require_encoder(lm, "embeddings need an encoder (BERT)"); s != HFK_OK)
            return s;
        const auto dim = static_cast<size_t>(lm.model->config().hidden_size);
        if (out_len < n_texts * dim)
            return set_error(HFK_E_BUFFER_TOO_SMALL,
                             "the output needs " + std::to_string(n_texts * dim) +
                                 " floats but holds " + std::to_string(out_len));
        if (out == nullptr && n_texts > 0) return set_error(HFK_E_INVALID_ARG, "out is NULL");
        std::vector<std::string_view> views;
        if (hfk_status s = text_views(texts, n_texts, "texts", views); s != HFK_OK) return s;
        hfk::EmbedOptions opts;
        opts.pooling = pooling;
        if (p.normalize >= 0) opts.normalize = p.normalize == 1;
        opts.n_threads = p.n_threads;
        std::vector<uint8_t> cut(p.truncated_out ? n_texts : 0);
        hfk::embed_texts(lm, views, opts, std::span<float>(out, n_texts * dim), cut);
        for (size_t i = 0; i < cut.size(); ++i) p.truncated_out[i] = cut[i];
        return HFK_OK;
    });
}

HFK_API int32_t hfk_model_num_labels(const hfk_model *model) noexcept {
    const auto *core = hfk::capi::ready_core(model);
    return core ? core->n_labels : 0;
}

HFK_API const char *hfk_model_label(const hfk_model *model, int32_t index) noexcept {
    const auto *core = hfk::capi::ready_core(model);
    if (core == nullptr || index < 0 || index >= core->n_labels) return nullptr;
    const auto &labels = core->lm->model->config().id2label;
    return labels[static_cast<size_t>(index)].c_str();
}

HFK_API hfk_status hfk_model_classify(const hfk_model *model, const char *text, float *scores,
                                      size_t n_scores) noexcept {
    HFK_REQUIRE_ARG(model);
    HFK_REQUIRE_ARG(text);
    return guard([&]() -> hfk_status {
        const auto *core = hfk::capi::ready_core(model);
        if (core == nullptr) return set_error(HFK_E_STATE, "the model is not ready");
        const std::vector<float> p = hfk::classify_text(*core->lm, text, core->n_threads);
        if (n_scores < p.size())
            return set_error(HFK_E_BUFFER_TOO_SMALL, "the model has " + std::to_string(p.size()) +
                                                         " labels but scores holds " +
                                                         std::to_string(n_scores));
        if (scores == nullptr) return set_error(HFK_E_INVALID_ARG, "scores is NULL");
        std::memcpy(scores, p.data(), p.size() * sizeof(float));
        return HFK_OK;
    });
}

HFK_API hfk_status hfk_model_classify_logits(const hfk_model *model, const char *text,
                                             float *logits, size_t n_logits) noexcept {
    HFK_REQUIRE_ARG(model);
    HFK_REQUIRE_ARG(text);
    return guard([&]() -> hfk_status {
        const auto *core = hfk::capi::ready_core(model);
        if (core == nullptr) return set_error(HFK_E_STATE, "the model is not ready");
        const std::vector<float> z = hfk::classify_logits(*core->lm, text, core->n_threads);
        if (n_logits < z.size())
            return set_error(HFK_E_BUFFER_TOO_SMALL, "the model has " + std::to_string(z.size()) +
                                                         " labels but logits holds " +
                                                         std::to_string(n_logits));
        if (logits == nullptr) return set_error(HFK_E_INVALID_ARG, "logits is NULL");
        std::memcpy(logits, z.data(), z.size() * sizeof(float));
        return HFK_OK;
    });
}

HFK_API hfk_status hfk_model_rerank(const hfk_model *model, const char *query,
                                    const char *const *documents, size_t n_documents,
                                    const hfk_rerank_params *params, float *scores,
                                    size_t n_scores) noexcept {
    HFK_REQUIRE_ARG(model);
    HFK_REQUIRE_ARG(query);
    if (documents == nullptr && n_documents > 0)
        return set_error(HFK_E_INVALID_ARG, "documents is NULL");
    hfk_rerank_params p;
    if (hfk_status s = hfk::capi::read_options(p, params, kRerankDefaults); s != HFK_OK) return s;
    if (p.activation < -1 || p.activation > 1)
        return set_error(HFK_E_INVALID_ARG, "activation " + std::to_string(p.activation) +
                                                " is none of -1 (the default), 0, 1");
    return guard([&]() -> hfk_status {
        const auto *core = hfk::capi::ready_core(model);
        if (core == nullptr) return set_error(HFK_E_STATE, "the model is not ready");
        const auto &lm = *core->lm;
        if (hfk_status s = require_encoder(lm, "reranking needs a cross-encoder"); s != HFK_OK)
            return s;
        if (core->n_labels <= 0)
            return set_error(HFK_E_UNSUPPORTED,
                             "this checkpoint has no sequence-classification head");
        const size_t need = n_documents * static_cast<size_t>(core->n_labels);
        if (n_scores < need)
            return set_error(HFK_E_BUFFER_TOO_SMALL, "the scores need " + std::to_string(need) +
                                                         " floats but hold " +
                                                         std::to_string(n_scores));
        if (scores == nullptr && need > 0) return set_error(HFK_E_INVALID_ARG, "scores is NULL");
        std::vector<std::string_view> views;
        if (hfk_status s = text_views(documents, n_documents, "documents", views); s != HFK_OK)
            return s;
        hfk::RerankOptions opts;
        opts.n_threads = p.n_threads > 0 ? p.n_threads : core->n_threads;
        opts.activation = p.activation;
        std::vector<uint8_t> cut(p.truncated_out ? n_documents : 0);
        hfk::rerank(lm, query, views, opts, std::span<float>(scores, need), cut);
        for (size_t i = 0; i < cut.size(); ++i) p.truncated_out[i] = cut[i];
        return HFK_OK;
    });
}

}  // extern "C"
