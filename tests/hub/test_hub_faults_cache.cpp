// RELIABILITY.md (b) "Download, cache, concurrency, faults", D1, D33, D34: cache states: moving
// revisions, offline, against the local Hub. The fixture and helpers shared by every
// test_hub_faults_*.cpp are in hub_faults_fixture.h.
#include <fcntl.h>
#include <sched.h>
#include <signal.h>
#include <sys/mount.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

#include <sys/file.h>

#include <fstream>
#include <map>
#include <sstream>
#include <thread>

#include "hub_faults_fixture.h"
#include "util/error.h"

namespace fs = std::filesystem;
using hfk::hub::Options;
using namespace hfk_test::faults;

TEST_F(Faults, MovingBranchGivesANewSnapshotSharingBlobs) {
    Options o = options();
    auto a = hfk::hub::prepare("hfkit-test/moving", o);
    std::string new_commit = server->get("/_ctl/move")["commit"];
    auto b = hfk::hub::prepare("hfkit-test/moving", o);
    EXPECT_NE(a.commit, b.commit);
    EXPECT_EQ(b.commit, new_commit);
    EXPECT_EQ(read_all(repo("moving") / "refs" / "main"), b.commit);
    EXPECT_NE(read_all(a.dir / "generation_config.json"),
              read_all(b.dir / "generation_config.json"));
    EXPECT_EQ(fs::read_symlink(a.dir / "model.safetensors"),
              fs::read_symlink(b.dir / "model.safetensors"));
    EXPECT_EQ(server->count("cdn", "GET"), 1);  // the weights were not fetched again
    // Cache management: two revisions, shared blobs counted once, orphans collected.
    auto repos = hfk::hub::scan_cache(o.cache_dir);
    ASSERT_EQ(repos.size(), 1u);
    EXPECT_EQ(repos[0].repo_id, "hfkit-test/moving");
    EXPECT_EQ(repos[0].repo_type, "model");
    ASSERT_EQ(repos[0].revisions.size(), 2u);
    uint64_t usage = hfk::hub::disk_usage(o.cache_dir, "hfkit-test/moving");
    EXPECT_EQ(usage, repos[0].size_on_disk);
    EXPECT_LT(usage, repos[0].revisions[0].size_on_disk + repos[0].revisions[1].size_on_disk);
    EXPECT_EQ(hfk::hub::disk_usage(o.cache_dir, ""), usage);
    for (auto &r : repos[0].revisions) {
        EXPECT_EQ(r.n_files, 6);
        if (r.commit == b.commit) {
            EXPECT_EQ(r.refs, std::vector<std::string>{"main"});
        }
    }
    std::string old_gen = fs::read_symlink(a.dir / "generation_config.json").filename();
    hfk::hub::remove_from_cache(o.cache_dir, "hfkit-test/moving", a.commit);
    EXPECT_FALSE(fs::exists(a.dir));
    EXPECT_FALSE(fs::exists(repo("moving") / "blobs" / old_gen));   // orphan collected
    EXPECT_TRUE(fs::exists(repo("moving") / "blobs" / kModelSha));  // still used by b
    EXPECT_TRUE(hfk::hub::is_downloaded("hfkit-test/moving", "main", o.cache_dir));
    hfk::hub::remove_from_cache(o.cache_dir, "hfkit-test/moving", "");
    EXPECT_FALSE(fs::exists(repo("moving")));
    EXPECT_EQ(status_of([&] { hfk::hub::remove_from_cache(o.cache_dir, "hfkit-test/moving", ""); }),
              HFK_E_NOT_FOUND);
    EXPECT_EQ(hfk::hub::disk_usage(o.cache_dir, ""), 0u);
}

TEST_F(Faults, OfflineAndUnreachableUseTheCache) {
    Options o = options();
    Options off = o;
    off.offline = 1;
    EXPECT_EQ(status_of([&] { hfk::hub::prepare("hfkit-test/aidreams260K", off); }), HFK_E_OFFLINE);
    auto snap = hfk::hub::prepare("hfkit-test/aidreams260K", o);
    server->clear_log();
    setenv("HF_HUB_OFFLINE", "1", 1);
    Options env_off = o;  // offline = -1: read $HF_HUB_OFFLINE
    EXPECT_EQ(hfk::hub::prepare("hfkit-test/aidreams260K", env_off).dir, snap.dir);
    EXPECT_EQ(hfk::hub::fetch_file("hfkit-test/aidreams260K", "config.json", env_off),
              snap.dir / "config.json");
    unsetenv("HF_HUB_OFFLINE");
    EXPECT_EQ(server->log().size(), 0u);
    // D34: offline, an incomplete snapshot is an error that names the missing file.
    const fs::path weights = snap.dir / "model.safetensors";
    fs::remove(weights);
    std::string msg;
    EXPECT_EQ(status_of([&] { hfk::hub::prepare("hfkit-test/aidreams260K", off); }, &msg),
              HFK_E_OFFLINE);
    EXPECT_NE(msg.find("no *.safetensors weights"), std::string::npos) << msg;
    fs::remove(snap.dir / "config.json");
    EXPECT_EQ(status_of([&] { hfk::hub::prepare("hfkit-test/aidreams260K", off); }, &msg),
              HFK_E_OFFLINE);
    EXPECT_NE(msg.find("config.json is missing"), std::string::npos) << msg;
    hfk::hub::prepare("hfkit-test/aidreams260K", o);  // complete again
    ASSERT_TRUE(fs::exists(weights));
    std::string endpoint = server->endpoint;
    server->stop();  // the Hub is now unreachable
    EXPECT_EQ(hfk::hub::prepare("hfkit-test/aidreams260K", o).dir, snap.dir);
    EXPECT_EQ(status_of([&] { hfk::hub::prepare("hfkit-test/tiny-gpt2", o); }), HFK_E_NETWORK);
}
