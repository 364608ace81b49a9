// hfk_session_generate's body, shared with hfk_session_chat (chat_api.cpp): `prepare` runs with
// the session claimed, before generating (a chat turn replaces the conversation text there and
// adds its stop ids).
#pragma once

#include <functional>
#include <string>
#include <vector>

#include "hfkit/hfkit.h"
#include "runtime/session.h"
#include "tokenizer/tokenizer.h"

namespace hfk::capi {

using SessionPrepare = std::function<void(hfk::Session &, hfk::GenerateOptions &)>;

// `token_prompt` not null: generate from those ids after the session's tokens (prompt unused).
hfk_status session_generate(hfk_session *session, const char *prompt, const hfk_gen_params *params,
                            hfk_piece_cb on_piece, void *user_data, char **text_out,
                            hfk_gen_result *result_out, const SessionPrepare &prepare,
                            const std::vector<int32_t> *token_prompt = nullptr) noexcept;

// The defaults hfk_gen_params_init writes, and their resolution against the model's
// generation_config.json (throws HFK_E_INVALID_ARG naming a bad field).
const hfk_gen_params &gen_defaults();
hfk::GenerateOptions resolve(const hfk_gen_params &p, const hfk::GenerationDefaults &g);

// Marks the session as used by this thread for the duration of a call: HFK_E_BUSY from
// another thread, HFK_E_REENTRANT from inside the session's own callback.
class SessionClaim {
  public:
    explicit SessionClaim(hfk_session *s);
    ~SessionClaim();
    SessionClaim(const SessionClaim &) = delete;
    SessionClaim &operator=(const SessionClaim &) = delete;
    hfk_status status() const { return status_; }

  private:
    hfk_session *s_;
    hfk_status status_ = HFK_E_INTERNAL;
};

// The local directory of an opened model's files ("" when unknown); never throws.
std::string model_source_dir(const hfk_model *model) noexcept;

// A chat turn ready to generate (hfk_session_chat, hfk_engine_submit_chat): the conversation
// rendered with the template of `dir` (or `chat_template`), and where the turn ends: the
// template's terminator as a stop string, and as a stop id when it is one vocabulary entry.
struct ChatTurn {
    std::string text;
    std::string terminator;
    std::vector<int32_t> stop_ids;
};
// Throws hfk::Error (HFK_E_INVALID_ARG, HFK_E_FORMAT, HFK_E_NOT_FOUND, HFK_E_RESOURCE).
ChatTurn prepare_chat_turn(const std::string &dir, const char *chat_template,
                           const char *conversation_json, const hfk::Tokenizer &tok);

}  // namespace hfk::capi
