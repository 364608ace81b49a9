// Options and environment -> Client; requests with redirects, retries and the error mapping.
#include "hub/client.h"

#include <pwd.h>
#include <unistd.h>

#include <chrono>
#include <cstdlib>
#include <fstream>
#include <sstream>
#include <thread>
#include <vector>

#include <nlohmann/json.hpp>

#include "util/error.h"

namespace hfk::hub {

namespace {

std::string env(const char *name) {
    const char *v = std::getenv(name);
    return v ? std::string(v) : std::string();
}

long env_long(const char *name, long fallback, long scale = 1) {
    std::string v = env(name);
    if (v.empty()) return fallback;
    char *end = nullptr;
    double d = std::strtod(v.c_str(), &end);
    if (end == v.c_str() || d < 0 || d > 1e7) return fallback;
    return static_cast<long>(d * scale);
}

bool env_true(const char *name) {
    std::string v = env(name);
    for (auto &c : v) c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
    return v == "1" || v == "ON" || v == "YES" || v == "TRUE";
}

std::string trim(std::string s) {
    size_t a = s.find_first_not_of(" \t\r\n");
    size_t b = s.find_last_not_of(" \t\r\n");
    return a == std::string::npos ? std::string() : s.substr(a, b - a + 1);
}

std::optional<std::string> read_token_file(const std::string &path) {
    std::ifstream f(path);
    if (!f) return std::nullopt;
    std::string line;
    std::getline(f, line);
    line = trim(line);
    if (line.empty()) return std::nullopt;
    return line;
}

// "~" as huggingface_hub sees it (Python's os.path.expanduser): $HOME, else the user's entry in
// the password database; "" when neither gives one.
std::string home_dir() {
    std::string h = env("HOME");
    if (!h.empty()) return h;
    struct passwd pw, *found = nullptr;
    std::vector<char> buf(16384);
    if (getpwuid_r(getuid(), &pw, buf.data(), buf.size(), &found) == 0 && found && found->pw_dir &&
        found->pw_dir[0] == '/')
        return found->pw_dir;
    return {};
}

// $HF_HOME, $XDG_CACHE_HOME/huggingface, ~/.cache/huggingface; "" when there is no home.
std::string hf_home() {
    std::string h = env("HF_HOME");
    if (!h.empty()) return h;
    std::string xdg = env("XDG_CACHE_HOME");
    if (!xdg.empty()) return xdg + "/huggingface";
    std::string home = home_dir();
    return home.empty() ? std::string() : home + "/.cache/huggingface";
}

}  // namespace

std::filesystem::path default_cache_dir() {
    for (const char *name : {"HF_HUB_CACHE", "HUGGINGFACE_HUB_CACHE"}) {
        std::string v = env(name);
        if (!v.empty()) return v;
    }
    const std::string home = hf_home();
    // Never a cache under "/" (HOME unset used to give /.cache/huggingface/hub).
    if (home.empty())
        fail(HFK_E_INVALID_ARG,
             "cannot locate the Hugging Face cache: HOME is not set and the user has no home "
             "directory; set HF_HUB_CACHE (or HF_HOME) or pass a cache directory");
    return std::filesystem::path(home) / "hub";
}

Client Client::from_options(const Options &opts) {
    Client c;
    c.endpoint = !opts.endpoint.empty() ? opts.endpoint : env("HF_ENDPOINT");
    if (c.endpoint.empty()) c.endpoint = "https://huggingface.co";
    while (!c.endpoint.empty() && c.endpoint.back() == '/') c.endpoint.pop_back();
    UrlParts p;
    if (!parse_url(c.endpoint, p) || !url_allowed(c.endpoint, ""))
        fail(HFK_E_INVALID_ARG, "endpoint '" + sanitize(redact_url(c.endpoint)) +
                                    "' must be https:// (or http:// to a loopback address)");
    if (opts.token) {
        if (!opts.token->empty()) c.token = *opts.token;
    } else {
        std::string t = trim(env("HF_TOKEN"));
        if (!t.empty()) {
            c.token = t;
        } else {
            std::string path = env("HF_TOKEN_PATH");
            if (path.empty() && !hf_home().empty()) path = hf_home() + "/token";
            if (!path.empty()) c.token = read_token_file(path);
        }
    }
    if (c.token && c.token->find_first_of("\r\n") != std::string::npos)
        fail(HFK_E_INVALID_ARG, "the token contains a line break");
    c.cache_dir = !opts.cache_dir.empty() ? opts.cache_dir : default_cache_dir().string();
    c.offline = opts.offline >= 0 ? opts.offline != 0 : env_true("HF_HUB_OFFLINE");
    c.verify = opts.verify;
    c.force_download = opts.force_download;
    c.etag_timeout_ms = env_long("HF_HUB_ETAG_TIMEOUT", 10000, 1000);
    c.stall_timeout_s = env_long("HF_HUB_DOWNLOAD_TIMEOUT", 10);
    c.retry_base_ms = env_long("HFK_HUB_RETRY_BASE_MS", 1000);
    c.max_wait_ms = env_long("HFK_HUB_MAX_WAIT_MS", 60000);
    const std::atomic<bool> *flag = opts.cancel;
    if (flag) c.cancelled = [flag] { return flag->load(std::memory_order_relaxed); };
    return c;
}

std::string Client::resolve_url(std::string_view repo_id, std::string_view revision,
                                std::string_view filename) const {
    return endpoint + "/" + std::string(repo_id) + "/resolve/" +
           url_encode(std::string(revision), false) + "/" + url_encode(std::string(filename), true);
}

std::string Client::api_url(std::string_view repo_id, std::string_view revision) const {
    return endpoint + "/api/models/" + std::string(repo_id) + "/revision/" +
           url_encode(std::string(revision), false) + "?blobs=true";
}

bool retryable(const HttpResponse &r) {
    if (r.cancelled || r.aborted_by_callback) return false;
    if (r.curl_code != 0) return true;  // connect error, reset, timeout, premature close
    switch (r.status) {
        case 408:
        case 429:
        case 500:
        case 502:
        case 503:
        case 504:
            return true;
        default:
            return false;
    }
}

void Client::backoff(int attempt, const HttpResponse &r) const {
    long wait = retry_base_ms << std::min(attempt - 1, 3);  // 1, 2, 4, 8 s
    std::string ra = r.header("retry-after");
    if (!ra.empty() && ra.size() <= 6 && ra.find_first_not_of("0123456789") == std::string::npos)
        wait = std::stol(ra) * 1000;  // integer seconds only; the HTTP-date form is ignored
    wait = std::min(wait, max_wait_ms);
    auto until = std::chrono::steady_clock::now() + std::chrono::milliseconds(wait);
    while (std::chrono::steady_clock::now() < until) {
        if (is_cancelled()) fail(HFK_E_CANCELLED, "cancelled");
        std::this_thread::sleep_for(std::chrono::milliseconds(10));
    }
}

HttpResponse Client::request(HttpRequest req, Follow follow, bool retry) const {
    std::string prev;
    int hops = 0;
    for (;;) {
        if (!url_allowed(req.url, prev))
            fail(HFK_E_NETWORK, "refusing to fetch '" + sanitize(redact_url(req.url)) +
                                    "': only https (or http to a loopback host) is allowed");
        // The token goes to the endpoint's exact origin only (RELIABILITY TOK1).
        req.token = token && same_origin(req.url, endpoint) ? &*token : nullptr;
        if (!req.cancelled) req.cancelled = cancelled;
        HttpResponse r;
        for (int attempt = 1;; ++attempt) {
            if (is_cancelled()) fail(HFK_E_CANCELLED, "cancelled");
            r = http_perform(req);
            r.sent_token = req.token != nullptr;
            if (r.cancelled) fail(HFK_E_CANCELLED, "cancelled");
            if (!retry || !retryable(r) || attempt >= max_tries) break;
            backoff(attempt, r);
        }
        bool redirect = r.status == 301 || r.status == 302 || r.status == 303 || r.status == 307 ||
                        r.status == 308;
        if (!redirect || follow == Follow::none || r.redirect_url.empty()) return r;
        if (follow == Follow::same_origin && !same_origin(r.redirect_url, endpoint)) return r;
        if (++hops > 5)
            fail(HFK_E_NETWORK, "too many redirects fetching " + sanitize(redact_url(req.url)));
        prev = req.url;
        req.url = r.redirect_url;
    }
}

std::string redact_url(const std::string &url) {
    size_t q = url.find('?');
    return q == std::string::npos ? url : url.substr(0, q) + "?<redacted>";
}

std::string sanitize(const std::string &s, size_t cap) {
    std::string out;
    for (unsigned char c : s) {
        if (out.size() >= cap) break;
        if (c >= 0x20 && c != 0x7f) out += static_cast<char>(c);
    }
    return out;
}

void raise_for_response(const HttpResponse &r, const std::string &what) {
    if (r.status == 0 || (r.curl_code != 0 && r.status < 300)) {
        fail(HFK_E_NETWORK, "cannot reach the Hub for " + what + ": " + sanitize(r.curl_error));
    }
    std::string code = sanitize(r.header("x-error-code"), 64);
    std::string msg = sanitize(r.header("x-error-message"));
    if (msg.empty() && !r.body.empty()) {
        // {"error": "..."} or {"error": [...]} bodies; depth is bounded by a callback.
        auto depth_guard = [](int depth, nlohmann::json::parse_event_t, nlohmann::json &) {
            return depth <= 8;
        };
        nlohmann::json j = nlohmann::json::parse(r.body, depth_guard, false);
        if (j.is_object() && j.contains("error")) {
            const auto &e = j["error"];
            if (e.is_string()) msg = sanitize(e.get<std::string>());
        }
    }
    std::string rid = sanitize(r.header("x-request-id"), 80);
    std::string detail = "HTTP " + std::to_string(r.status) + (msg.empty() ? "" : ": " + msg) +
                         (rid.empty() ? "" : " (request id " + rid + ")");
    if (code == "RevisionNotFound")
        fail(HFK_E_REVISION_NOT_FOUND, "revision not found for " + what + " (" + detail + ")");
    if (code == "EntryNotFound")
        fail(HFK_E_ENTRY_NOT_FOUND, "file not found: " + what + " (" + detail + ")");
    // A token the Hub does not accept is the token's fault whatever the repository is (gated
    // ones included): HFK_E_AUTH, checked before the gated case.
    if (r.status == 401 && msg.find("Invalid credentials") != std::string::npos)
        fail(HFK_E_AUTH, "the token was refused for " + what +
                             " (invalid or expired: check HF_TOKEN or the saved login; " + detail +
                             ")");
    // Gated: without a token the Hub answers 401 and a token is what is missing; with one it
    // answers 403, and it is that account that has not been granted access.
    if (code == "GatedRepo") {
        if (r.sent_token || r.status == 403)
            fail(HFK_E_GATED, "gated repository " + what +
                                  ": the token given has no access to it; accept its conditions "
                                  "on the Hub with the account the token belongs to (" +
                                  detail + ")");
        fail(HFK_E_GATED, "gated repository " + what +
                              ": accept its conditions on the Hub and pass a token (HF_TOKEN) (" +
                              detail + ")");
    }
    if (msg == "Access to this resource is disabled.")
        fail(HFK_E_DISABLED, "repository " + what + " is disabled (" + detail + ")");
    if (code == "RepoNotFound" || r.status == 401)
        fail(HFK_E_NOT_FOUND, "repository not found: " + what +
                                  " (if it is private or gated, pass a token; " + detail + ")");
    if (r.status == 403) fail(HFK_E_AUTH, "forbidden: " + what + " (" + detail + ")");
    if (r.status == 404) fail(HFK_E_NOT_FOUND, "not found: " + what + " (" + detail + ")");
    if (r.status == 429)
        fail(HFK_E_RATE_LIMITED, "rate limited by the Hub for " + what + " (" + detail + ")");
    if (r.status >= 500) fail(HFK_E_SERVER, "Hub server error for " + what + " (" + detail + ")");
    if (r.status == 400 || r.status == 416)
        fail(HFK_E_INVALID_ARG, "bad request for " + what + " (" + detail + ")");
    fail(HFK_E_NETWORK, "unexpected answer for " + what + " (" + detail + ")");
}

}  // namespace hfk::hub
