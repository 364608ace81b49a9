// Runs tests/hub/hub_server.py (the local Hub) on free loopback ports from C++: spawned with
// fork/exec, ready when it prints its JSON line, killed by the destructor. No GoogleTest here
// (the benchmark uses it too); the fixture is hub_server_fixture.h.
#pragma once

#include <curl/curl.h>
#include <fcntl.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <stdexcept>
#include <random>
#include <string>
#include <thread>
#include <vector>

#include <nlohmann/json.hpp>

#include "../support/test_support.h"

namespace hfk_test {

// hub_server.py, in the source tree.
inline std::string server_script() {
    return (source_dir() / "tests" / "hub" / "hub_server.py").string();
}

// A running hub_server.py. Extra command-line arguments go to the server.
class HubServer {
  public:
    explicit HubServer(const std::vector<std::string> &extra = {}) {
        int out[2];
        if (pipe(out) != 0) throw std::runtime_error("pipe failed");
        std::vector<std::string> args = {
            "/usr/bin/python3", server_script(),      "--port", "0", "--cdn-port", "0",
            "--shared-dir",     shared_dir().string()};
        args.insert(args.end(), extra.begin(), extra.end());
        pid_ = fork();
        if (pid_ == 0) {
            // Die with the test: a test that aborts (sanitizer report, crash) must not leave the
            // server holding CTest's output pipe open until the timeout.
            prctl(PR_SET_PDEATHSIG, SIGKILL);
            if (getppid() == 1) _exit(127);
            dup2(out[1], 1);
            close(out[0]);
            close(out[1]);
            std::vector<char *> argv;
            for (auto &a : args) argv.push_back(const_cast<char *>(a.c_str()));
            argv.push_back(nullptr);
            execv(argv[0], argv.data());
            _exit(127);
        }
        close(out[1]);
        // Wait (at most 20 s) for the JSON ready line.
        std::string line;
        auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(20);
        char c;
        while (std::chrono::steady_clock::now() < deadline) {
            ssize_t n = read(out[0], &c, 1);
            if (n <= 0) break;
            if (c == '\n') break;
            line += c;
        }
        close(out[0]);
        auto j = nlohmann::json::parse(line, nullptr, false);
        if (!j.is_object()) {
            stop();
            throw std::runtime_error("hub_server.py did not start: '" + line + "'");
        }
        port = j["port"].get<int>();
        cdn_port = j["cdn_port"].get<int>();
        token = j["token"].get<std::string>();
        token_no_access = j["token_no_access"].get<std::string>();
        endpoint = "http://127.0.0.1:" + std::to_string(port);
    }
    ~HubServer() { stop(); }
    HubServer(const HubServer &) = delete;
    HubServer &operator=(const HubServer &) = delete;

    void stop() {
        if (pid_ > 0) {
            kill(pid_, SIGKILL);
            waitpid(pid_, nullptr, 0);
            pid_ = -1;
        }
    }

    // GET a control path (/_log, /_log/clear, /_ctl/move ...) and parse the JSON answer.
    nlohmann::json get(const std::string &path) const {
        std::string body;
        CURL *h = curl_easy_init();
        curl_easy_setopt(h, CURLOPT_URL, (endpoint + path).c_str());
        curl_easy_setopt(h, CURLOPT_NOSIGNAL, 1L);
        curl_easy_setopt(
            h, CURLOPT_WRITEFUNCTION, +[](char *p, size_t s, size_t n, void *u) {
                static_cast<std::string *>(u)->append(p, s * n);
                return s * n;
            });
        curl_easy_setopt(h, CURLOPT_WRITEDATA, &body);
        curl_easy_perform(h);
        curl_easy_cleanup(h);
        return nlohmann::json::parse(body, nullptr, false);
    }
    nlohmann::json log() const { return get("/_log"); }
    void clear_log() const { get("/_log/clear"); }
    // Requests in the log matching host ("hub"/"cdn"), method and a path substring.
    int count(const std::string &host, const std::string &method,
              const std::string &path_part = "") const {
        int n = 0;
        for (auto &e : log())
            if (e["host"] == host && e["method"] == method &&
                e["path"].get<std::string>().find(path_part) != std::string::npos)
                ++n;
        return n;
    }
    // Any request that reached the CDN with an Authorization header.
    bool token_reached_cdn() const {
        for (auto &e : log())
            if (e["host"] == "cdn" && e["auth"].get<bool>()) return true;
        return false;
    }

    int port = 0, cdn_port = 0;
    std::string endpoint, token, token_no_access;

  private:
    pid_t pid_ = -1;
};

}  // namespace hfk_test
