// HubServerTest for tests of the public C API: hub() gives the hfk_hub_params that point at the
// local Hub and at the test's private cache.
#pragma once

#include <string>

#include "../hub/hub_server_fixture.h"
#include "hfkit/hfkit.h"

namespace hfk_test {

class CapiHubServerTest : public HubServerTest {
  protected:
    void SetUp() override {
        HubServerTest::SetUp();
        // Kept here so that the pointers hub() hands out stay valid for the whole test, on every
        // thread that calls it.
        endpoint_ = server->endpoint;
        cache_dir_ = (cache.path / "hub").string();
    }
    hfk_hub_params hub(const char *token = "") const {
        hfk_hub_params h;
        HFK_HUB_PARAMS_INIT(&h);
        h.endpoint = endpoint_.c_str();
        h.cache_dir = cache_dir_.c_str();
        h.token = token;
        return h;
    }
    std::string endpoint_, cache_dir_;
};

}  // namespace hfk_test
