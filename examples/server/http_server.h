// The OpenAI-compatible HTTP front of hfkit serve: routes, limits, auth, streaming, metrics.
// It talks to inference only through Backend (backend.h).
#pragma once

#include <cstdint>
#include <memory>
#include <string>

#include "backend.h"
#include "openai_request.h"

namespace server {

struct HttpOptions {
    std::string host = "127.0.0.1";
    int port = 8080;      // 0: any free port
    std::string api_key;  // "": no authentication
    size_t max_body_bytes = 4u << 20;
    int read_timeout_s = 10;       // per read of a request (headers or body)
    int write_timeout_s = 30;      // per write of a response (a client that stops reading)
    int keep_alive_timeout_s = 5;  // idle keep-alive connections are closed after this
    int threads = 32;              // connections served at once
    RequestLimits limits;
};

class HttpServer {
  public:
    HttpServer(Backend &backend, HttpOptions options);
    ~HttpServer();
    HttpServer(const HttpServer &) = delete;
    HttpServer &operator=(const HttpServer &) = delete;

    // Binds; returns the port (the one picked for port 0), or -1 with `error` set.
    int bind(std::string &error);
    // Serves until stop(); returns once every connection is finished.
    void serve();
    // Stops accepting; any thread.
    void stop();

  private:
    struct Impl;
    std::unique_ptr<Impl> impl_;
};

}  // namespace server
