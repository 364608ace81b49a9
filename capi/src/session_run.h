// hfk_session_generate's body, shared with hfk_session_chat (chat_api.cpp): `prepare` runs with
// the session claimed, before generating (a chat turn replaces the conversation text there and
// adds its stop ids).
#pragma once

#include <functional>
#include <string>

#include "hfkit/hfkit.h"
#include "runtime/session.h"

namespace hfk::capi {

using SessionPrepare = std::function<void(hfk::Session &, hfk::GenerateOptions &)>;

hfk_status session_generate(hfk_session *session, const char *prompt, const hfk_gen_params *params,
                            hfk_piece_cb on_piece, void *user_data, char **text_out,
                            hfk_gen_result *result_out, const SessionPrepare &prepare) noexcept;

// The local directory of an opened model's files ("" when unknown); never throws.
std::string model_source_dir(const hfk_model *model) noexcept;

}  // namespace hfk::capi
