// Process-wide download jobs. A prepare of a model that is already being prepared in this
// process joins the running job instead of starting another; a failed job is forgotten, so the
// next prepare tries again. The download runs on a thread of its own; each caller waits on its
// own thread and gets progress there, so callbacks keep the API's "on the calling thread" rule.
#pragma once

#include <atomic>
#include <functional>
#include <string_view>

#include "hub/hub.h"

namespace hfk {

// `opts.progress` and `opts.cancel` are the caller's: progress is called on the calling thread
// (returning true cancels this caller's wait); the download itself stops only when every
// caller waiting on it has gone. The last caller to leave joins the download's thread (after
// cancelling it if unfinished, which takes at most a few hundred ms), so no download runs on
// once every prepare has returned. Throws what hub::prepare throws, or HFK_E_CANCELLED.
hub::Snapshot prepare_shared(std::string_view repo_id, const hub::Options &opts);

// Whether this process is preparing `repo_id` in `cache_dir` (any revision) right now.
bool download_running(const std::string &cache_dir, std::string_view repo_id);

// How many downloads this process started (for tests: a joined prepare starts none).
int64_t download_jobs_started();

}  // namespace hfk
