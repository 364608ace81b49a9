// libcurl glue. Why a fresh handle per request: the token must never ride along to another
// origin, and a reused handle can carry auth state between transfers (RELIABILITY.md TOK2).
#include "hub/http.h"

#include <curl/curl.h>

#include <algorithm>
#include <cctype>
#include <cstring>
#include <mutex>

#include "util/error.h"

namespace hfk::hub {

namespace {

void global_init_once() {
    static std::once_flag once;
    std::call_once(once, [] {
        if (curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK)
            fail(HFK_E_NETWORK, "curl_global_init failed");
    });
}

struct Transfer {
    const HttpRequest *req;
    HttpResponse *resp;
    bool started = false;  // on_start decided
    bool to_sink = false;  // body goes to on_body
};

size_t on_header(char *buf, size_t size, size_t n, void *user) {
    auto *t = static_cast<Transfer *>(user);
    size_t len = size * n;
    std::string line(buf, len);
    while (!line.empty() && (line.back() == '\r' || line.back() == '\n')) line.pop_back();
    if (line.rfind("HTTP/", 0) == 0) {  // a new response (after 100 Continue): start over
        t->resp->headers.clear();
        return len;
    }
    size_t colon = line.find(':');
    if (colon == std::string::npos || colon == 0) return len;
    std::string name = line.substr(0, colon);
    std::transform(name.begin(), name.end(), name.begin(),
                   [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
    size_t v = colon + 1;
    while (v < line.size() && (line[v] == ' ' || line[v] == '\t')) ++v;
    if (t->resp->headers.size() < 256) t->resp->headers[name] = line.substr(v, 8192);
    return len;
}

int on_progress(void *user, curl_off_t, curl_off_t, curl_off_t, curl_off_t) {
    auto *t = static_cast<Transfer *>(user);
    if (t->req->cancelled && t->req->cancelled()) {
        t->resp->cancelled = true;
        t->resp->aborted_by_callback = true;
        return 1;
    }
    return 0;
}

struct Write2 {
    Transfer t;
    CURL *h;
};

size_t on_write2(char *buf, size_t size, size_t n, void *user) {
    auto *w = static_cast<Write2 *>(user);
    Transfer &t = w->t;
    size_t len = size * n;
    if (!t.started) {
        t.started = true;
        long status = 0;
        curl_easy_getinfo(w->h, CURLINFO_RESPONSE_CODE, &status);
        t.resp->status = status;
        bool ok2xx = status >= 200 && status < 300;
        t.to_sink = ok2xx && t.req->on_body != nullptr;
        if (ok2xx && t.req->on_start && !t.req->on_start(status, t.resp->headers)) {
            t.resp->aborted_by_callback = true;
            return 0;
        }
    }
    if (t.to_sink) {
        if (!t.req->on_body(buf, len)) {
            t.resp->aborted_by_callback = true;
            return 0;
        }
        t.resp->body_bytes += len;
        return len;
    }
    bool ok2xx = t.resp->status >= 200 && t.resp->status < 300;
    // API answers (2xx without a sink) may be large listings; error bodies are capped at 4 KiB.
    size_t cap = ok2xx ? (size_t(64) << 20) : 4096;
    if (t.resp->body.size() + len > cap) {
        if (ok2xx) {
            t.resp->aborted_by_callback = true;
            return 0;
        }
        t.resp->body.append(buf, cap - t.resp->body.size());
        return len;
    }
    t.resp->body.append(buf, len);
    return len;
}

int on_progress2(void *user, curl_off_t, curl_off_t, curl_off_t, curl_off_t) {
    auto *w = static_cast<Write2 *>(user);
    return on_progress(&w->t, 0, 0, 0, 0);
}

}  // namespace

HttpResponse http_perform(const HttpRequest &req) {
    global_init_once();
    HttpResponse resp;
    CURL *h = curl_easy_init();
    if (!h) fail(HFK_E_NOMEM, "curl_easy_init failed");
    Write2 w{Transfer{&req, &resp}, h};
    char errbuf[CURL_ERROR_SIZE] = {0};
    curl_slist *hdrs = nullptr;
    std::string auth;
    if (req.token) {
        auth = "Authorization: Bearer " + *req.token;
        hdrs = curl_slist_append(hdrs, auth.c_str());
    }
    // Identity encoding: Content-Length is then the real size (HUB.md 2.2, HR4).
    hdrs = curl_slist_append(hdrs, "Accept-Encoding: identity");
    curl_easy_setopt(h, CURLOPT_URL, req.url.c_str());
    curl_easy_setopt(h, CURLOPT_HTTPHEADER, hdrs);
    curl_easy_setopt(h, CURLOPT_USERAGENT, "hfkit/0.1; hf_hub-compatible");
    curl_easy_setopt(h, CURLOPT_FOLLOWLOCATION, 0L);
    curl_easy_setopt(h, CURLOPT_PROTOCOLS_STR, "http,https");
    curl_easy_setopt(h, CURLOPT_REDIR_PROTOCOLS_STR, "https");
    curl_easy_setopt(h, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(h, CURLOPT_ERRORBUFFER, errbuf);
    curl_easy_setopt(h, CURLOPT_CONNECTTIMEOUT_MS, 10000L);
    curl_easy_setopt(h, CURLOPT_LOW_SPEED_LIMIT, 1L);
    curl_easy_setopt(h, CURLOPT_LOW_SPEED_TIME, std::max(1L, req.stall_timeout_s));
    if (req.total_timeout_ms > 0) curl_easy_setopt(h, CURLOPT_TIMEOUT_MS, req.total_timeout_ms);
    curl_easy_setopt(h, CURLOPT_HEADERFUNCTION, on_header);
    curl_easy_setopt(h, CURLOPT_HEADERDATA, &w.t);
    curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, on_write2);
    curl_easy_setopt(h, CURLOPT_WRITEDATA, &w);
    curl_easy_setopt(h, CURLOPT_NOPROGRESS, 0L);
    curl_easy_setopt(h, CURLOPT_XFERINFOFUNCTION, on_progress2);
    curl_easy_setopt(h, CURLOPT_XFERINFODATA, &w);
    curl_easy_setopt(h, CURLOPT_BUFFERSIZE, 512L * 1024L);
    if (req.method == "HEAD") curl_easy_setopt(h, CURLOPT_NOBODY, 1L);
    if (!req.range.empty()) curl_easy_setopt(h, CURLOPT_RANGE, req.range.c_str() + 6);

    CURLcode rc = curl_easy_perform(h);
    resp.curl_code = static_cast<int>(rc);
    long status = 0;
    curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, &status);
    if (status) resp.status = status;
    // A 2xx with an empty body never reached on_write: still let on_start see it.
    if (rc == CURLE_OK && !w.t.started && status >= 200 && status < 300 && req.on_start &&
        req.method != "HEAD") {
        if (!req.on_start(status, resp.headers)) resp.aborted_by_callback = true;
    }
    char *loc = nullptr;
    if (status >= 300 && status < 400 &&
        curl_easy_getinfo(h, CURLINFO_REDIRECT_URL, &loc) == CURLE_OK && loc)
        resp.redirect_url = loc;
    if (rc != CURLE_OK) resp.curl_error = errbuf[0] ? errbuf : curl_easy_strerror(rc);
    curl_slist_free_all(hdrs);
    curl_easy_cleanup(h);
    return resp;
}

bool parse_url(const std::string &url, UrlParts &out) {
    global_init_once();
    CURLU *u = curl_url();
    if (!u) return false;
    bool ok = curl_url_set(u, CURLUPART_URL, url.c_str(), 0) == CURLUE_OK;
    char *scheme = nullptr, *host = nullptr, *port = nullptr;
    if (ok) ok = curl_url_get(u, CURLUPART_SCHEME, &scheme, 0) == CURLUE_OK;
    if (ok) ok = curl_url_get(u, CURLUPART_HOST, &host, 0) == CURLUE_OK;
    if (ok) ok = curl_url_get(u, CURLUPART_PORT, &port, CURLU_DEFAULT_PORT) == CURLUE_OK;
    if (ok) {
        out.scheme = scheme;
        out.host = host;
        out.port = port;
        std::transform(out.scheme.begin(), out.scheme.end(), out.scheme.begin(),
                       [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
        std::transform(out.host.begin(), out.host.end(), out.host.begin(),
                       [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
    }
    curl_free(scheme);
    curl_free(host);
    curl_free(port);
    curl_url_cleanup(u);
    return ok;
}

bool is_loopback_host(const std::string &host) {
    return host == "localhost" || host == "[::1]" || host == "::1" || host.rfind("127.", 0) == 0;
}

bool url_allowed(const std::string &url, const std::string &from) {
    UrlParts p;
    if (!parse_url(url, p)) return false;
    if (p.scheme == "https") return true;
    if (p.scheme != "http" || !is_loopback_host(p.host)) return false;
    if (!from.empty()) {
        UrlParts f;
        if (!parse_url(from, f) || f.scheme == "https") return false;  // no downgrade
    }
    return true;
}

bool same_origin(const std::string &a, const std::string &b) {
    UrlParts x, y;
    if (!parse_url(a, x) || !parse_url(b, y)) return false;
    return x.scheme == y.scheme && x.host == y.host && x.port == y.port;
}

std::string url_encode(const std::string &s, bool keep_slash) {
    static const char *hex = "0123456789ABCDEF";
    std::string out;
    for (unsigned char c : s) {
        if (std::isalnum(c) || c == '.' || c == '_' || c == '~' || c == '-' ||
            (keep_slash && c == '/')) {
            out += static_cast<char>(c);
        } else {
            out += '%';
            out += hex[c >> 4];
            out += hex[c & 15];
        }
    }
    return out;
}

}  // namespace hfk::hub
