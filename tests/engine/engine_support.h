// Shared by the engine tests: the trained tiny Llama, loaded once per process.
#pragma once

#include <atomic>
#include <functional>
#include <memory>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include "../support/test_support.h"
#include "engine/engine.h"
#include "runtime/loaded_model.h"
#include "util/error.h"

namespace hfk_test {

inline std::shared_ptr<const hfk::LoadedModel> aidreams() {
    static std::shared_ptr<const hfk::LoadedModel> m =
        hfk::LoadedModel::load(shared_models_dir() / "aidreams260K", {}, {});
    return m;
}

// Prompts in the trained model's domain (children's stories), from one word to a long sentence.
inline const std::vector<std::string> kStoryPrompts = {
    "Once upon a time",
    "The little dog ran",
    "She looked at the sky and",
    "In a small village near the sea, there lived an old man who",
    "Tom",
    "The cat and the bird were friends. One day",
    "Lily wanted to play",
    "It was a sunny day. The children went to the park and saw a big tree with red",
};

// A story opening long enough to fill several KV blocks (the prefix-cache tests).
inline const char *const kLilyStory =
    "Once upon a time, there was a little girl named Lily. She loved to play outside in the "
    "sunshine with her dog, Max. One day,";

// A greedy request for n new tokens (the engine's default options otherwise).
inline hfk::EngineRequest greedy(const std::string &prompt, int32_t n) {
    hfk::EngineRequest r;
    r.prompt = prompt;
    r.options.max_new_tokens = n;
    return r;
}

// The status `fn` throws (an hfk::Error's), or HFK_OK when it returns.
inline int32_t status_of(const std::function<void()> &fn) {
    try {
        fn();
    } catch (const hfk::Error &e) {
        return e.status();
    }
    return HFK_OK;
}

// What run_cancelling_clients saw: requests that ended otherwise than expected, and requests
// that ended cancelled.
struct ClientTally {
    int failures = 0;
    int cancelled = 0;
};

// `threads` clients submit `per_thread` requests each at once (client t's k-th is request
// (t * per_thread + k) % solo.size()), cancel every third right after submitting it, then wait
// for all of theirs. A request must end with its solo output, or cancelled if it was one of the
// cancelled ones (a cancel may also come too late, when it already finished).
inline ClientTally run_cancelling_clients(hfk::Engine &e, size_t threads, size_t per_thread,
                                          const std::function<hfk::EngineRequest(size_t)> &request,
                                          const std::vector<hfk::EngineResult> &solo) {
    std::atomic<int> failures{0}, cancelled{0};
    std::vector<std::thread> clients;
    for (size_t t = 0; t < threads; ++t)
        clients.emplace_back([&, t] {
            std::vector<std::pair<size_t, uint64_t>> mine;
            for (size_t k = 0; k < per_thread; ++k) {
                const size_t i = (t * per_thread + k) % solo.size();
                const uint64_t id = e.submit(request(i));
                mine.push_back({i, id});
                if (k % 3 == 2) e.cancel(id);  // queued or running, whichever it is now
            }
            for (size_t k = 0; k < mine.size(); ++k) {
                const hfk::EngineResult r = e.wait(mine[k].second);
                if (r.status == HFK_E_CANCELLED) {
                    ++cancelled;
                    if (k % 3 != 2) ++failures;
                    continue;
                }
                if (r.status != HFK_OK || r.tokens != solo[mine[k].first].tokens) ++failures;
            }
        });
    for (auto &c : clients) c.join();
    return {failures.load(), cancelled.load()};
}

}  // namespace hfk_test
