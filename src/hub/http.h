// A small libcurl wrapper for the Hub client: one fresh easy handle per request (no state, such
// as auth, survives between requests), no automatic redirects (the caller decides per hop whether
// the token may go along), https only except plain http to a loopback host.
#pragma once

#include <atomic>
#include <cstdint>
#include <functional>
#include <map>
#include <string>
#include <vector>

namespace hfk::hub {

struct HttpRequest {
    std::string method = "GET";  // GET or HEAD
    std::string url;
    const std::string *token = nullptr;  // sent as Authorization: Bearer only when non-null
    std::string range;                   // "bytes=N-" or ""
    long total_timeout_ms = 0;           // whole request (HEAD, API); 0 = none (downloads)
    long stall_timeout_s = 10;           // abort when no byte arrives for this long
    // Called once before the first body byte of a 2xx response; return false to abort.
    std::function<bool(long status, const std::map<std::string, std::string> &headers)> on_start;
    // Body bytes of a 2xx response (other statuses are captured, capped, in body). Return false
    // to abort the transfer (a write error, too many bytes).
    std::function<bool(const char *data, size_t n)> on_body;
    std::function<bool()> cancelled;  // polled during the transfer
};

struct HttpResponse {
    long status = 0;                             // 0 when no response arrived
    std::map<std::string, std::string> headers;  // lower-case names, last value wins
    std::string body;                            // for non-2xx or when no on_body
    std::string redirect_url;                    // absolute Location of a 3xx
    int curl_code = 0;                           // CURLE_OK == 0
    std::string curl_error;
    bool aborted_by_callback = false;  // on_start/on_body refused, or cancelled
    bool cancelled = false;
    uint64_t body_bytes = 0;  // bytes handed to on_body
    bool sent_token = false;  // the request carried Authorization (set by Client::request)
    std::string header(const std::string &lower_name) const {
        auto it = headers.find(lower_name);
        return it == headers.end() ? std::string() : it->second;
    }
};

// Performs one request without following redirects. Never throws for HTTP statuses.
HttpResponse http_perform(const HttpRequest &req);

struct UrlParts {
    std::string scheme, host, port;  // port filled with the scheme default when absent
};
// Parses an absolute URL; false for anything else.
bool parse_url(const std::string &url, UrlParts &out);
bool is_loopback_host(const std::string &host);
// https anywhere, or http to a loopback host. `from` (may be empty) is the previous hop:
// https -> http is refused.
bool url_allowed(const std::string &url, const std::string &from);
bool same_origin(const std::string &a, const std::string &b);
// Percent-encodes every byte outside [A-Za-z0-9._~-] (keep_slash keeps '/').
std::string url_encode(const std::string &s, bool keep_slash);

}  // namespace hfk::hub
