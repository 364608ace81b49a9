// What the opaque handles of hfkit.h are. A model's state lives in a shared ModelCore so that
// sessions (and the borrowed tokenizer pointer) outlive hfk_model_free().
#pragma once

#include <atomic>
#include <memory>
#include <mutex>
#include <string>
#include <thread>

#include "hfkit/hfkit.h"
#include "runtime/loaded_model.h"
#include "runtime/model_opening.h"
#include "runtime/session.h"

struct hfk_tokenizer {
    std::shared_ptr<const hfk::Tokenizer> tok;
};

namespace hfk::capi {
struct ModelCore {
    std::shared_ptr<const LoadedModel> lm;
    hfk_tokenizer tokenizer;  // what hfk_model_tokenizer() lends out
    int32_t n_threads = 0;    // this handle's default for its sessions
    int32_t n_ctx = 0;        // this handle's default context for its sessions; 0: the model's
    int32_t n_labels = 0;     // classes of a sequence-classification head, else 0
};
}  // namespace hfk::capi

// A model handle: the opening (worker and state) and, once READY, the core that sessions share.
struct hfk_model {
    std::shared_ptr<hfk::ModelOpening> opening;
    int32_t n_threads = 0;
    int32_t n_ctx = 0;
    mutable std::once_flag core_once;
    mutable std::shared_ptr<hfk::capi::ModelCore> core;
    mutable std::once_flag error_once;
    mutable std::string error_message;
    // Where the model comes from, to find its chat template files (chat_api.cpp).
    std::string source;
    std::string source_revision, source_cache_dir;
};

namespace hfk::capi {
// The core of a READY model, or nullptr while it is not ready (or failed).
ModelCore *ready_core(const hfk_model *model);
}  // namespace hfk::capi

struct hfk_session {
    std::shared_ptr<hfk::capi::ModelCore> core;
    std::unique_ptr<hfk::Session> session;
    std::atomic<bool> cancel{false};
    // The thread inside hfk_session_generate, or a default id when idle: tells a second thread
    // (HFK_E_BUSY) from a callback calling back in (HFK_E_REENTRANT).
    std::atomic<std::thread::id> owner{};
    bool free_requested = false;  // hfk_session_free() from inside a callback: done on return
    std::string source_dir;       // the model's files (chat templates), set at creation
};
