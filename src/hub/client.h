// The Hub client's context: endpoint, token, retry policy and cancellation, resolved once from
// Options and the environment, plus requests with the Hub's error mapping and retries.
#pragma once

#include <functional>
#include <optional>
#include <string>

#include "hub/http.h"
#include "hub/hub.h"

namespace hfk::hub {

struct Client {
    std::string endpoint;              // no trailing '/'
    std::optional<std::string> token;  // never logged, never put in a URL or a message
    std::string cache_dir;
    bool offline = false;
    bool verify = false;          // Options::verify
    bool force_download = false;  // Options::force_download
    std::function<bool()> cancelled;
    long etag_timeout_ms = 10000;  // HF_HUB_ETAG_TIMEOUT (metadata and API calls)
    long stall_timeout_s = 10;     // HF_HUB_DOWNLOAD_TIMEOUT (no byte for this long)
    int max_tries = 5;
    long retry_base_ms = 1000;  // HFK_HUB_RETRY_BASE_MS: backoff 1, 2, 4, 8 s
    long max_wait_ms = 60000;   // HFK_HUB_MAX_WAIT_MS: caps every wait (Retry-After too)

    static Client from_options(const Options &opts);

    enum class Follow { none, same_origin, any };
    // Sends `req` (token only to the endpoint's origin), retrying transient failures when
    // `retry`, following redirects as `follow` says (at most 5 hops).
    HttpResponse request(HttpRequest req, Follow follow, bool retry) const;
    bool is_cancelled() const { return cancelled && cancelled(); }
    // Sleeps before try number `attempt` (1-based) of a retryable failure; throws on cancel.
    void backoff(int attempt, const HttpResponse &r) const;
    std::string resolve_url(std::string_view repo_id, std::string_view revision,
                            std::string_view filename) const;
    std::string api_url(std::string_view repo_id, std::string_view revision) const;
};

bool retryable(const HttpResponse &r);
// Maps a failed response to hfk::Error (HUB.md 2.5, RELIABILITY HR8). `what` names the repo/file.
[[noreturn]] void raise_for_response(const HttpResponse &r, const std::string &what);
// A URL without its query string (signed CDN URLs are bearer capabilities).
std::string redact_url(const std::string &url);
// Untrusted text for a message: control characters dropped, at most `cap` bytes.
std::string sanitize(const std::string &s, size_t cap = 300);

}  // namespace hfk::hub
