// RELIABILITY D36: a cache on a filesystem without symlinks (here forced with
// HF_HUB_DISABLE_SYMLINKS=1): snapshots hold the files themselves (hard links to the blobs, or
// copies), and everything else holds: complete means complete, a second prepare downloads
// nothing, the model loads and generates. Its own binary: the variable is process-wide.
#include <sys/stat.h>

#include "capi_hub_fixture.h"
#include "hfkit/hfkit.h"

namespace {

namespace fs = std::filesystem;
using hfk_test::CapiHubServerTest;

class NoSymlinks : public CapiHubServerTest {
  protected:
    void SetUp() override {
        CapiHubServerTest::SetUp();
        setenv("HF_HUB_DISABLE_SYMLINKS", "1", 1);
    }
    void TearDown() override {
        unsetenv("HF_HUB_DISABLE_SYMLINKS");
        CapiHubServerTest::TearDown();
    }
};

TEST_F(NoSymlinks, SnapshotsHoldTheFilesAndEverythingStillWorks) {
    const hfk_hub_params h = hub();
    char *dir = nullptr;
    ASSERT_EQ(hfk_prepare("hfkit-test/aidreams260K", &h, &dir), HFK_OK) << hfk_last_error_message();
    const fs::path snapshot = dir;
    hfk_free(dir);
    const fs::path blobs = fs::path(cache_dir_) / "models--hfkit-test--aidreams260K" / "blobs";
    int files = 0;
    for (const auto &e : fs::directory_iterator(snapshot)) {
        ++files;
        EXPECT_FALSE(fs::is_symlink(e.symlink_status())) << e.path();
        ASSERT_TRUE(fs::is_regular_file(e.path())) << e.path();
        // The same bytes as one blob (a hard link here: same inode).
        struct stat a;
        ASSERT_EQ(stat(e.path().c_str(), &a), 0);
        bool found = false;
        for (const auto &b : fs::directory_iterator(blobs)) {
            struct stat s;
            if (stat(b.path().c_str(), &s) == 0 && s.st_ino == a.st_ino) found = true;
        }
        EXPECT_TRUE(found) << e.path() << " is not one of the blobs";
    }
    EXPECT_GE(files, 3);

    int32_t yes = 0;
    ASSERT_EQ(hfk_is_downloaded("hfkit-test/aidreams260K", &h, &yes), HFK_OK);
    EXPECT_EQ(yes, 1);
    server->clear_log();
    ASSERT_EQ(hfk_prepare("hfkit-test/aidreams260K", &h, &dir), HFK_OK) << hfk_last_error_message();
    EXPECT_EQ(fs::path(dir), snapshot);
    hfk_free(dir);
    EXPECT_EQ(server->count("cdn", "GET"), 0) << "a complete cache was downloaded again";

    // A forced download replaces the snapshot's file too, not only the blob.
    struct stat old_weights, new_weights, blob;
    ASSERT_EQ(stat((snapshot / "model.safetensors").c_str(), &old_weights), 0);
    hfk_hub_params force = h;
    force.force_download = 1;
    ASSERT_EQ(hfk_prepare("hfkit-test/aidreams260K", &force, &dir), HFK_OK);
    hfk_free(dir);
    ASSERT_EQ(stat((snapshot / "model.safetensors").c_str(), &new_weights), 0);
    EXPECT_NE(new_weights.st_ino, old_weights.st_ino);
    bool is_a_blob = false;
    for (const auto &b : fs::directory_iterator(blobs))
        if (stat(b.path().c_str(), &blob) == 0 && blob.st_ino == new_weights.st_ino)
            is_a_blob = true;
    EXPECT_TRUE(is_a_blob);

    hfk_model *m = nullptr;
    ASSERT_EQ(hfk_model_load(&m, snapshot.c_str(), nullptr), HFK_OK) << hfk_last_error_message();
    hfk_session *s = nullptr;
    ASSERT_EQ(hfk_session_create(&s, m, nullptr), HFK_OK);
    hfk_gen_params p;
    HFK_GEN_PARAMS_INIT(&p);
    p.max_new_tokens = 6;
    p.temperature = 0;
    char *text = nullptr;
    ASSERT_EQ(hfk_session_generate(s, "", &p, nullptr, nullptr, &text, nullptr), HFK_OK);
    EXPECT_EQ(std::string(text).rfind("\"Echoes", 0), 0u) << text;
    hfk_free(text);
    hfk_session_free(s);
    hfk_model_free(m);
}

}  // namespace
