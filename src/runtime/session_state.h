// A session's state on disk: the KV cache, the tokens, the conversation text, the last logits
// and the sampler's generator, in a versioned binary file checked against the model it was
// saved from (capi/README.md, "Saved sessions", has the layout).
#pragma once

#include <cstdint>
#include <filesystem>

#include "runtime/session.h"

namespace hfk {

inline constexpr char kSessionMagic[8] = {'H', 'F', 'K', 'S', 'T', 'A', 'T', 'E'};
inline constexpr uint32_t kSessionVersion = 1;
inline constexpr uint32_t kSessionKvF32 = 1;

// Who a state file belongs to: a hash of config.json (and of the vocabulary width) and a hash
// of the weights files' names, sizes, safetensors headers and last bytes. An identity check
// against loading the state into another model, not a cryptographic proof.
struct ModelIdentity {
    uint64_t config_hash = 0;
    uint64_t weights_hash = 0;
};
ModelIdentity model_identity(const LoadedModel &model);

// Writes atomically (a temporary file renamed over `path`). HFK_E_IO, HFK_E_NO_SPACE.
void save_session(const Session &session, const std::filesystem::path &path);

// Reads and checks the whole file, then replaces the session's state; on any error the session
// is unchanged. HFK_E_NOT_FOUND, HFK_E_IO; HFK_E_FORMAT for a file that is not a session state
// or is truncated or corrupt (checksum); HFK_E_UNSUPPORTED for a newer version or another KV
// type; HFK_E_INVALID_ARG for a state saved from another model; HFK_E_CONTEXT_FULL when it
// holds more tokens than the session's context.
void restore_session(Session &session, const std::filesystem::path &path);

}  // namespace hfk
