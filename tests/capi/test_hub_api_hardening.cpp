// Issue 15 through the public API: hfk_last_warning after a fallback (item 2), "complete" in
// hfk_downloaded_models and a resource refusal that leaves no model behind (item 21), removal
// during a download (item 22) and of an absent model (item 23).
#include <condition_variable>
#include <mutex>

#include <nlohmann/json.hpp>

#include "capi_hub_fixture.h"
#include "hfkit/hfkit.h"

namespace {

namespace fs = std::filesystem;
using hfk_test::CapiHubServerTest;

class HubApiHardening : public CapiHubServerTest {
  protected:
    nlohmann::json downloaded() const {
        const hfk_hub_params h = hub();
        char *json = nullptr;
        EXPECT_EQ(hfk_downloaded_models(&h, &json), HFK_OK) << hfk_last_error_message();
        nlohmann::json j = nlohmann::json::parse(json ? json : "null");
        hfk_free(json);
        return j;
    }
};

// Item 2: the implicit fallback succeeds and says so in hfk_last_warning(); a clean prepare
// clears it; an explicit one (force_download) fails with HFK_E_AUTH.
TEST_F(HubApiHardening, FallbackToTheCacheIsReportedAsAWarning) {
    hfk_hub_params h = hub();
    char *dir = nullptr;
    ASSERT_EQ(hfk_prepare("hfkit-test/aidreams260K", &h, &dir), HFK_OK) << hfk_last_error_message();
    hfk_free(dir);
    EXPECT_STREQ(hfk_last_warning(), "");
    const hfk_hub_params bad = hub("hf_thisIsNotAValidTokenXXXXXXXXXXXXXXXXXXX");
    ASSERT_EQ(hfk_prepare("hfkit-test/aidreams260K", &bad, &dir), HFK_OK)
        << hfk_last_error_message();
    hfk_free(dir);
    const std::string warning = hfk_last_warning();
    EXPECT_NE(warning.find("without checking for updates"), std::string::npos) << warning;
    ASSERT_EQ(hfk_prepare("hfkit-test/aidreams260K", &h, &dir), HFK_OK);
    hfk_free(dir);
    EXPECT_STREQ(hfk_last_warning(), "");
    hfk_hub_params forced = bad;
    forced.force_download = 1;
    EXPECT_EQ(hfk_prepare("hfkit-test/aidreams260K", &forced, &dir), HFK_E_AUTH);
    EXPECT_EQ(dir, nullptr);
}

// Item 21: "complete" per model and per revision.
TEST_F(HubApiHardening, DownloadedModelsSaysWhetherEachRevisionIsComplete) {
    const hfk_hub_params h = hub();
    char *dir = nullptr;
    ASSERT_EQ(hfk_prepare("hfkit-test/aidreams260K", &h, &dir), HFK_OK);
    const fs::path snapshot = dir;
    hfk_free(dir);
    nlohmann::json j = downloaded();
    ASSERT_EQ(j.size(), 1u);
    EXPECT_EQ(j[0]["complete"], true);
    EXPECT_EQ(j[0]["revisions"][0]["complete"], true);
    fs::remove(snapshot / "model.safetensors");  // as an interrupted download leaves it
    j = downloaded();
    ASSERT_EQ(j.size(), 1u);
    EXPECT_EQ(j[0]["complete"], false);
    EXPECT_EQ(j[0]["revisions"][0]["complete"], false);
}

// Item 21: a model refused by the resource check before its download leaves nothing in the
// cache (no one-file snapshot with config.json that would look like a model).
TEST_F(HubApiHardening, ResourceRefusalLeavesNoModelInTheCache) {
    const hfk_hub_params h = hub();
    hfk_load_params lp;
    HFK_LOAD_PARAMS_INIT(&lp);
    lp.hub = &h;
    hfk_model *model = nullptr;
    const hfk_status s = hfk_model_load(&model, "hfkit-test/huge-header", &lp);
    // Its header claims 256 TB of weights: refused for disk space or memory, whichever the
    // check looks at first; either way before any download.
    EXPECT_TRUE(s == HFK_E_NO_SPACE || s == HFK_E_RESOURCE)
        << hfk_status_name(s) << ": " << hfk_last_error_message();
    hfk_model_free(model);
    EXPECT_FALSE(fs::exists(fs::path(cache_dir_) / "models--hfkit-test--huge-header"))
        << "the refused model left files in the cache";
    EXPECT_EQ(downloaded().size(), 0u);
}

// Item 22: removing a model while this process downloads it is HFK_E_IN_USE (force or not),
// and the download goes on unharmed until it is cancelled.
class RemoveWhileDownloading : public HubApiHardening {
  protected:
    std::vector<std::string> server_args() override { return {"--stall-interval", "0.2"}; }
};

TEST_F(RemoveWhileDownloading, IsRefusedWithInUse) {
    struct Seen {
        std::mutex mu;
        std::condition_variable cv;
        bool bytes = false;
    } seen;
    const hfk_hub_params h = hub();
    hfk_load_params lp;
    HFK_LOAD_PARAMS_INIT(&lp);
    lp.hub = &h;
    lp.skip_resource_check = 1;  // the stalled CDN would also stall the header reads
    lp.state_user_data = &seen;
    lp.on_state = [](const hfk_model_status *st, void *ud) -> int32_t {
        auto *s = static_cast<Seen *>(ud);
        if (st->state == HFK_MODEL_DOWNLOADING && st->bytes_done > 0) {
            std::lock_guard lock(s->mu);
            s->bytes = true;
            s->cv.notify_all();
        }
        return 0;
    };
    hfk_model *model = nullptr;
    ASSERT_EQ(hfk_model_open(&model, "hfkit-test/stall", &lp), HFK_OK);
    {
        std::unique_lock lock(seen.mu);
        ASSERT_TRUE(seen.cv.wait_for(lock, std::chrono::seconds(60), [&] { return seen.bytes; }))
            << "the download never started";
    }
    for (int32_t force : {0, 1}) {
        EXPECT_EQ(hfk_remove_from_disk("hfkit-test/stall", &h, force), HFK_E_IN_USE)
            << "force=" << force;
        EXPECT_NE(std::string(hfk_last_error_message()).find("being downloaded"), std::string::npos)
            << hfk_last_error_message();
    }
    hfk_model_free(model);  // cancels and joins the download
    EXPECT_EQ(hfk_remove_from_disk("hfkit-test/stall", &h, 0), HFK_OK) << hfk_last_error_message();
}

// Item 23: removing a model that is not in the cache is HFK_E_NOT_FOUND (documented).
TEST_F(HubApiHardening, RemovingAnAbsentModelIsNotFound) {
    const hfk_hub_params h = hub();
    EXPECT_EQ(hfk_remove_from_disk("hfkit-test/never-downloaded", &h, 0), HFK_E_NOT_FOUND);
    EXPECT_EQ(hfk_remove_from_disk("hfkit-test/never-downloaded", &h, 1), HFK_E_NOT_FOUND);
}

}  // namespace
