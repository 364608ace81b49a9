#include "http_server.h"

#include <httplib.h>
#include <sys/socket.h>

#include <atomic>
#include <chrono>
#include <csignal>
#include <cstdio>
#include <random>
#include <thread>

#include "api_error.h"
#include "auth.h"
#include "metrics.h"
#include "openai_response.h"
#include "peer_watch.h"

namespace server {

namespace {

using Clock = std::chrono::steady_clock;

int64_t unix_now() {
    return std::chrono::duration_cast<std::chrono::seconds>(
               std::chrono::system_clock::now().time_since_epoch())
        .count();
}

void send_error(httplib::Response &res, const ApiError &e) {
    res.status = e.status;
    if (e.status == 401) res.set_header("WWW-Authenticate", "Bearer");
    if (e.status == 503 || e.status == 429) res.set_header("Retry-After", "1");
    res.set_content(error_json(e), "application/json");
}

// The message for statuses httplib answers by itself (no route, body too large, bad request).
ApiError library_error(int status, size_t max_body) {
    switch (status) {
        case 404:
            return ApiError{404, "Unknown route", "", "not_found"};
        case 405:
            return ApiError{405, "Method not allowed", "", "method_not_allowed"};
        case 413:
            return ApiError{
                413, "The request body is larger than " + std::to_string(max_body) + " bytes", "",
                "request_too_large"};
        case 414:
            return ApiError{414, "The request URI is too long", "", "uri_too_long"};
        case 431:
            return ApiError{431, "The request headers are too large", "", "headers_too_large"};
        default:
            break;
    }
    return ApiError{status, status < 500 ? "Malformed HTTP request" : "Internal server error", "",
                    ""};
}

// Error of a generation that did not finish normally, before anything was streamed.
ApiError generation_error(const GenOutcome &out) {
    switch (out.status) {
        case HFK_E_CONTEXT_FULL:
            return bad_request("messages", "The prompt does not fit the context: " + out.message,
                               "context_length_exceeded");
        case HFK_E_INVALID_ARG:
            return bad_request("", out.message);
        case HFK_E_CANCELLED:
            return unavailable("The request was cancelled: the server is shutting down",
                               "shutting_down");
        case HFK_E_NOMEM:
        case HFK_E_RESOURCE:
            return unavailable(out.message, "out_of_resources");
        default:
            break;
    }
    return ApiError{500, "Generation failed: " + out.message, "", hfk_status_name(out.status)};
}

// Counts a request in flight while alive. It is released last, after the request's other
// counters, so a reader that sees nothing in flight sees every count of the finished requests.
struct InFlight {
    Metrics &m;
    explicit InFlight(Metrics &metrics) : m(metrics) { m.in_flight(1); }
    ~InFlight() { m.in_flight(-1); }
    InFlight(const InFlight &) = delete;
    InFlight &operator=(const InFlight &) = delete;
};

}  // namespace

struct HttpServer::Impl {
    Backend &backend;
    HttpOptions options;
    Metrics metrics;
    httplib::Server http;
    int64_t started = unix_now();
    std::atomic<bool> serving{false}, stop_requested{false}, finished{false};
    int listen_socket = -1;  // the last socket cpp-httplib created for bind(): the bound one

    Impl(Backend &b, HttpOptions o) : backend(b), options(std::move(o)) { routes(); }

    std::string default_model() {
        auto models = backend.models();
        return models.empty() ? "" : models.front().id;
    }

    // Runs a handler body, answering ApiError (and anything unexpected) in OpenAI's shape.
    template <typename F>
    void guarded(const char *endpoint, httplib::Response &res, F &&body) {
        std::shared_ptr<InFlight> flight;  // set by handlers that run inference
        try {
            body(flight);
        } catch (const ApiError &e) {
            send_error(res, e);
        } catch (const std::bad_alloc &) {
            send_error(res, unavailable("Out of memory", "out_of_resources"));
        } catch (const std::exception &e) {
            send_error(res, ApiError{500, std::string("Internal error: ") + e.what(), "", ""});
        }
        // A streamed response counts when its stream ends (see generate()).
        if (res.get_header_value("Content-Type") != "text/event-stream")
            metrics.request_done(endpoint, res.status == -1 ? 200 : res.status);
    }

    void routes() {
        http.set_pre_routing_handler([this](const httplib::Request &req, httplib::Response &res) {
            if (options.api_key.empty() || req.path == "/health")
                return httplib::Server::HandlerResponse::Unhandled;
            if (authorized(req.get_header_value("Authorization"), options.api_key))
                return httplib::Server::HandlerResponse::Unhandled;
            send_error(res, ApiError{401,
                                     "Missing or incorrect API key: send "
                                     "'Authorization: Bearer KEY'",
                                     "", "invalid_api_key"});
            metrics.request_done(req.path, 401);
            return httplib::Server::HandlerResponse::Handled;
        });
        http.set_error_handler(httplib::Server::HandlerWithResponse(
            [this](const httplib::Request &, httplib::Response &res) {
                if (!res.body.empty()) return httplib::Server::HandlerResponse::Unhandled;
                const ApiError e = library_error(res.status, options.max_body_bytes);
                res.set_content(error_json(e), "application/json");
                return httplib::Server::HandlerResponse::Handled;
            }));
        http.set_exception_handler(
            [](const httplib::Request &, httplib::Response &res, std::exception_ptr) {
                send_error(res, ApiError{500, "Internal error", "", ""});
            });

        http.Get("/health", [this](const httplib::Request &, httplib::Response &res) {
            const auto models = backend.models();
            // A model unloaded for idleness is available: the next request loads it again.
            const bool ready =
                !models.empty() &&
                ((models.front().requested && models.front().state == HFK_MODEL_READY) ||
                 models.front().unloaded);
            res.status = ready ? 200 : 503;
            res.set_content(health_body(models, ready), "application/json");
        });
        http.Get("/metrics", [this](const httplib::Request &, httplib::Response &res) {
            res.set_content(metrics.render(backend.queue_depth(), backend.models()),
                            "text/plain; version=0.0.4");
        });
        http.Get("/v1/models", [this](const httplib::Request &, httplib::Response &res) {
            guarded("/v1/models", res, [&](auto &) {
                res.set_content(models_body(backend.models(), started), "application/json");
            });
        });
        http.Get(R"(/v1/models/(.+))", [this](const httplib::Request &req, httplib::Response &res) {
            guarded("/v1/models/{id}", res, [&](auto &) {
                const std::string id = req.matches[1];
                for (const ModelState &m : backend.models())
                    if (m.id == id)
                        return res.set_content(model_body(m, started), "application/json");
                throw not_found_model(id);
            });
        });
        http.Post(
            "/v1/chat/completions", [this](const httplib::Request &req, httplib::Response &res) {
                guarded("/v1/chat/completions", res, [&](auto &flight) {
                    ChatRequest r = parse_chat_request(req.body, options.limits);
                    generate(req, res, flight, true, r.model, r.conversation_json, r.sampling);
                });
            });
        http.Post("/v1/completions", [this](const httplib::Request &req, httplib::Response &res) {
            guarded("/v1/completions", res, [&](auto &flight) {
                CompletionRequest r = parse_completion_request(req.body, options.limits);
                generate(req, res, flight, false, r.model, r.prompt, r.sampling);
            });
        });
        http.Post("/v1/embeddings", [this](const httplib::Request &req, httplib::Response &res) {
            guarded("/v1/embeddings", res, [&](auto &flight) {
                EmbeddingRequest r = parse_embedding_request(req.body, options.limits);
                const std::string model = r.model.empty() ? default_model() : r.model;
                flight = std::make_shared<InFlight>(metrics);
                EmbedOutcome out = backend.embed(model, r.inputs);
                metrics.tokens(out.prompt_tokens, 0);
                res.set_content(embeddings_body(model, out, r.base64), "application/json");
            });
        });
    }

    void generate(const httplib::Request &req, httplib::Response &res,
                  std::shared_ptr<InFlight> &flight, bool chat, const std::string &model,
                  const std::string &text, const Sampling &s) {
        const auto t0 = Clock::now();
        GenRequest g;
        g.model = model.empty() ? default_model() : model;
        g.chat = chat;
        g.text = text;
        g.stop = s.stop;
        HFK_GEN_PARAMS_INIT(&g.params);
        if (s.max_tokens) g.params.max_new_tokens = *s.max_tokens;
        if (s.temperature) g.params.temperature = *s.temperature;
        if (s.top_p) g.params.top_p = *s.top_p;
        if (s.presence_penalty) g.params.presence_penalty = *s.presence_penalty;
        if (s.frequency_penalty) g.params.frequency_penalty = *s.frequency_penalty;
        g.params.seed = s.seed ? *s.seed : std::random_device{}();
        g.params.constraint_kind = s.constraint_kind;
        g.constraint = s.constraint;
        g.params.logprobs = s.logprobs ? 1 : 0;
        g.params.top_logprobs = s.top_logprobs;
        g.keep_alive = s.keep_alive;

        // A client that hangs up on a non-streaming request stops its generation at the next
        // piece, as a stream's does (its write fails). Asked on the generating thread; the
        // socket is looked up here, once, so that thread only peeks.
        if (!s.stream) {
            auto peer = std::make_shared<PeerWatch>(req.local_addr, req.local_port, req.remote_addr,
                                                    req.remote_port);
            peer->gone();
            g.client_gone = [peer] { return peer->gone(); };
        }

        ResponseHead head{new_response_id(chat), g.model, unix_now(), chat, s.logprobs};
        std::shared_ptr<Job> job = backend.submit(std::move(g));
        // In flight until the last holder (the handler, or the stream) lets go.
        flight = std::make_shared<InFlight>(metrics);
        // Times the first piece and the rest of the stream.
        struct Timing {
            Clock::time_point t0, first;
            bool got_first = false;
        };
        auto timing = std::make_shared<Timing>(Timing{t0, {}, false});
        auto finish = [this, timing](const GenOutcome &out, bool client_gone) {
            if (client_gone) metrics.cancelled();
            if (out.status == HFK_OK || out.status == HFK_E_CANCELLED)
                metrics.tokens(out.prompt_tokens, out.completion_tokens);
            if (timing->got_first && out.completion_tokens > 1) {
                const double rest =
                    std::chrono::duration<double>(Clock::now() - timing->first).count();
                metrics.time_per_output_token(rest / (out.completion_tokens - 1));
            }
        };
        auto note_piece = [this, timing] {
            if (timing->got_first) return;
            timing->got_first = true;
            timing->first = Clock::now();
            metrics.time_to_first_token(
                std::chrono::duration<double>(timing->first - timing->t0).count());
        };

        if (!s.stream) {
            GenOutcome out = job->run([&](std::string_view) {
                note_piece();
                return true;  // g.client_gone watches the client
            });
            job.reset();  // frees the slot before the response is written
            if (out.status == HFK_OK && out.stop_reason == HFK_STOP_CALLBACK) {
                finish(out, true);
                // Nobody reads it; the status is what the metrics count (nginx's 499).
                send_error(res, ApiError{499, "The client closed the request", "",
                                         "client_closed_request"});
                return;
            }
            finish(out, false);
            if (out.status != HFK_OK) throw generation_error(out);
            res.set_content(completion_body(head, out), "application/json");
            return;
        }

        const bool include_usage = s.include_usage;
        const char *endpoint = chat ? "/v1/chat/completions" : "/v1/completions";
        res.set_header("Cache-Control", "no-cache");
        res.set_header("X-Accel-Buffering", "no");  // nginx: pass events through at once
        // The provider runs on this connection's thread once the headers are out; the job's
        // slot is held until it ends (or, if the client left before, until res is destroyed).
        res.set_chunked_content_provider(
            "text/event-stream", [this, job, flight, head, include_usage, endpoint, finish,
                                  note_piece](size_t, httplib::DataSink &sink) mutable {
                bool gone = false;
                auto send = [&](const std::string &event) {
                    if (!gone && !sink.write(event.data(), event.size())) gone = true;
                    return !gone;
                };
                // Chat streams open with the assistant's role; text completions have none.
                if (head.chat) send(stream_chunk(head, "", true, nullptr, include_usage));
                GenOutcome out = job->run([&](std::string_view piece) {
                    note_piece();
                    // false stops the generation: the client disconnected.
                    return send(stream_chunk(head, piece, false, nullptr, include_usage));
                });
                job.reset();
                gone = gone || out.stop_reason == HFK_STOP_CALLBACK;
                finish(out, gone);
                if (gone) {
                    metrics.request_done(endpoint, 499);  // nginx's "client closed request"
                    flight.reset();
                    return false;
                }
                if (out.status != HFK_OK) {
                    send(sse_event(error_json(generation_error(out))));
                } else {
                    if (head.logprobs) send(stream_logprobs_chunk(head, out, include_usage));
                    send(stream_chunk(head, "", false, finish_reason(out.stop_reason),
                                      include_usage));
                    if (include_usage)
                        send(stream_usage_chunk(head, out.prompt_tokens, out.completion_tokens));
                }
                send(std::string(kSseDone));
                metrics.request_done(endpoint, out.status == HFK_OK ? 200 : 500);
                flight.reset();
                if (!gone) sink.done();
                return !gone;
            });
    }
};

HttpServer::HttpServer(Backend &backend, HttpOptions options)
    : impl_(std::make_unique<Impl>(backend, std::move(options))) {
    auto &http = impl_->http;
    const HttpOptions &o = impl_->options;
    http.set_payload_max_length(o.max_body_bytes);
    http.set_read_timeout(o.read_timeout_s, 0);
    http.set_write_timeout(o.write_timeout_s, 0);
    http.set_keep_alive_timeout(o.keep_alive_timeout_s);
    const int threads = o.threads;
    http.new_task_queue = [threads] { return new httplib::ThreadPool(threads); };
    // cpp-httplib's default options set SO_REUSEPORT, with which a second `hfkit serve` on a
    // port already served (same user) binds too and the kernel splits the connections between
    // the two processes, an old version and a new one say. SO_REUSEADDR alone still lets a
    // restarted server bind while its old connections sit in TIME_WAIT, and a port in use is
    // an error ("cannot listen").
    http.set_socket_options([impl = impl_.get()](socket_t sock) {
        int yes = 1;
        setsockopt(sock, SOL_SOCKET, SO_REUSEADDR, &yes, sizeof(yes));
        impl->listen_socket = sock;
    });
}

HttpServer::~HttpServer() = default;

int HttpServer::bind(std::string &error) {
    auto &http = impl_->http;
    const HttpOptions &o = impl_->options;
    int port = o.port;
    if (port == 0) {
        port = http.bind_to_any_port(o.host);
    } else if (!http.bind_to_port(o.host, port)) {
        port = -1;
    }
    if (port < 0) {
        error = "cannot listen on " + o.host + ":" + std::to_string(o.port);
        return port;
    }
    // cpp-httplib listens with a backlog of 5 (compiled into Debian's library): a burst of more
    // simultaneous connects than that overflows the accept queue, and the kernel drops the
    // overflow's handshakes for the clients to retry after a timeout (server.load's 32 clients:
    // 32 overflows in 20 runs under TSan, nstat's TcpExtListenOverflows). listen() again on the
    // bound socket raises the backlog to the system's limit (net.core.somaxconn).
    ::listen(impl_->listen_socket, SOMAXCONN);
    return port;
}

void HttpServer::serve() {
    impl_->serving = true;
    if (!impl_->stop_requested) impl_->http.listen_after_bind();
    impl_->finished = true;
}

void HttpServer::stop() {
    // cpp-httplib's stop() does nothing before its listen loop runs: a stop that comes between
    // bind() and that moment waits for the loop to start (or for serve() to give up).
    impl_->stop_requested = true;
    if (impl_->serving)
        while (!impl_->http.is_running() && !impl_->finished) std::this_thread::yield();
    impl_->http.stop();
}

}  // namespace server
