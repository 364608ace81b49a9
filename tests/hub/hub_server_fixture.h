// GoogleTest fixture around the local Hub (hub_server.h): SetUp starts hub_server.py on free
// ports, TearDown kills it; each test gets a fresh temporary cache.
//   class MyTest : public hfk_test::HubServerTest {};
//   TEST_F(MyTest, X) { hfk::hub::Options o = options(); ... server->count(...) ... }
#pragma once

#include <gtest/gtest.h>

#include <memory>
#include <string>

#include "hub/hub.h"
#include "hub_server.h"
#include "util/error.h"

namespace hfk_test {

// Runs f and returns the hfk::Error status it throws (0 when it does not throw); the error's
// message goes to *message.
template <class F>
int status_of(F &&f, std::string *message = nullptr) {
    try {
        f();
    } catch (const hfk::Error &e) {
        if (message) *message = e.what();
        return e.status();
    }
    return 0;
}

class HubServerTest : public ::testing::Test {
  protected:
    void SetUp() override {
        // Short waits in tests: Retry-After and backoff are capped (the client reads these).
        setenv("HFK_HUB_RETRY_BASE_MS", "20", 1);
        setenv("HFK_HUB_MAX_WAIT_MS", "200", 1);
        unsetenv("HF_TOKEN");
        unsetenv("HF_HUB_OFFLINE");
        setenv("HF_HOME", (cache.path / "hf_home").c_str(), 1);  // no stray token file
        server = std::make_unique<HubServer>(server_args());
    }
    void TearDown() override { server.reset(); }
    virtual std::vector<std::string> server_args() { return {}; }

    hfk::hub::Options options() const {
        hfk::hub::Options o;
        o.endpoint = server->endpoint;
        o.cache_dir = (cache.path / "hub").string();
        o.token = std::string();  // no token unless a test sets one
        return o;
    }
    std::filesystem::path repo_root(const std::string &folder) const {
        return cache.path / "hub" / folder;
    }

    TempDir cache;
    std::unique_ptr<HubServer> server;
};

}  // namespace hfk_test
