// Disk faults that a test cannot cause for real (RELIABILITY D26, D28), injected through an I/O
// shim: this executable defines rename(), fsync() and flock() itself, so the engine (linked in
// statically) calls these, which forward to the C library's through dlsym(RTLD_NEXT) unless a
// fault is armed. SQLite's test VFS works the same way. Only this test binary has the shim.
#include <dlfcn.h>
#include <sys/file.h>

#include <atomic>
#include <cerrno>
#include <cstring>
#include <fstream>
#include <sstream>
#include <thread>

#include "hub_server_fixture.h"
#include "util/error.h"

namespace {
std::atomic<bool> g_fail_fsync{false};
std::atomic<bool> g_fail_blob_rename{false};  // a rename whose target is in blobs/
std::atomic<bool> g_no_locks{false};          // flock always "succeeds" (Lustre, some NFS)
std::atomic<int> g_flock_calls{0};

template <class Fn>
Fn next_symbol(const char *name) {
    return reinterpret_cast<Fn>(dlsym(RTLD_NEXT, name));
}
}  // namespace

extern "C" int fsync(int fd) {
    static auto real = next_symbol<int (*)(int)>("fsync");
    if (g_fail_fsync) {
        errno = EIO;
        return -1;
    }
    return real(fd);
}

extern "C" int rename(const char *from, const char *to) {
    static auto real = next_symbol<int (*)(const char *, const char *)>("rename");
    if (g_fail_blob_rename && std::strstr(to, "/blobs/") != nullptr) {
        errno = EIO;
        return -1;
    }
    return real(from, to);
}

extern "C" int flock(int fd, int op) {
    static auto real = next_symbol<int (*)(int, int)>("flock");
    g_flock_calls.fetch_add(1);
    if (g_no_locks) return 0;
    return real(fd, op);
}

namespace {

namespace fs = std::filesystem;

std::string read_all(const fs::path &p) {
    std::ifstream f(p, std::ios::binary);
    std::stringstream ss;
    ss << f.rdbuf();
    return ss.str();
}

std::string model_bytes() {
    return read_all(fs::path(hfk_test::shared_dir()) / "models" / "aidreams260K" /
                    "model.safetensors");
}

class IoFaults : public hfk_test::HubServerTest {
  protected:
    void TearDown() override {
        g_fail_fsync = g_fail_blob_rename = g_no_locks = false;
        HubServerTest::TearDown();
    }
    hfk::hub::Options weights_only() const {
        hfk::hub::Options o = options();
        o.allow_patterns = {"model.safetensors"};
        return o;
    }
    // Files in the repo's blobs/ folder, by name.
    std::vector<std::string> blob_names(const std::string &repo) const {
        std::vector<std::string> out;
        std::error_code ec;
        for (const auto &e :
             fs::directory_iterator(repo_root("models--hfkit-test--" + repo) / "blobs", ec))
            out.push_back(e.path().filename().string());
        return out;
    }
    int status_of(const std::function<void()> &f, std::string *msg = nullptr) {
        try {
            f();
        } catch (const hfk::Error &e) {
            if (msg) *msg = e.what();
            return e.status();
        }
        return 0;
    }
};

TEST_F(IoFaults, ShimIsInPlace) {
    // Guards the others: if the engine did not call our flock, they would test nothing.
    const int before = g_flock_calls.load();
    hfk::hub::prepare("hfkit-test/aidreams260K", weights_only());
    EXPECT_GT(g_flock_calls.load(), before);
}

TEST_F(IoFaults, FsyncFailureIsAnIoErrorAndPublishesNothing) {
    g_fail_fsync = true;
    std::string msg;
    EXPECT_EQ(
        status_of([&] { hfk::hub::prepare("hfkit-test/aidreams260K", weights_only()); }, &msg),
        HFK_E_IO);
    EXPECT_NE(msg.find("Input/output error"), std::string::npos) << msg;
    EXPECT_TRUE(blob_names("aidreams260K").empty()) << "a blob or temp file was left behind";
    EXPECT_FALSE(hfk::hub::is_downloaded("hfkit-test/aidreams260K", "main", options().cache_dir));
    // The disk is back: the library is still usable and the next call completes.
    g_fail_fsync = false;
    auto snap = hfk::hub::prepare("hfkit-test/aidreams260K", weights_only());
    EXPECT_EQ(read_all(snap.dir / "model.safetensors"), model_bytes());
}

TEST_F(IoFaults, RenameFailureIsAnIoErrorAndRemovesTheTemp) {
    g_fail_blob_rename = true;
    EXPECT_EQ(status_of([&] { hfk::hub::prepare("hfkit-test/aidreams260K", weights_only()); }),
              HFK_E_IO);
    EXPECT_TRUE(blob_names("aidreams260K").empty()) << "a blob or temp file was left behind";
    g_fail_blob_rename = false;
    auto snap = hfk::hub::prepare("hfkit-test/aidreams260K", weights_only());
    EXPECT_EQ(read_all(snap.dir / "model.safetensors"), model_bytes());
}

// RELIABILITY D28: where locking silently does nothing, two downloaders of one file may both
// download, but the cache must still be correct: each verifies what it received before the
// rename, and nothing is appended twice.
TEST_F(IoFaults, WithoutWorkingLocksTwoDownloadersStillLeaveACorrectCache) {
    g_no_locks = true;
    hfk::hub::Snapshot snaps[2];
    int status[2] = {-1, -1};
    auto run = [&](int i) {
        status[i] =
            status_of([&] { snaps[i] = hfk::hub::prepare("hfkit-test/slow", weights_only()); });
    };
    std::thread a(run, 0), b(run, 1);
    a.join();
    b.join();
    ASSERT_EQ(status[0], 0);
    ASSERT_EQ(status[1], 0);
    EXPECT_EQ(read_all(snaps[0].dir / "model.safetensors"), model_bytes());
    EXPECT_EQ(read_all(snaps[1].dir / "model.safetensors"), model_bytes());
    EXPECT_TRUE(hfk::hub::verify_cached("hfkit-test/slow", "main", options().cache_dir).empty());
    for (const auto &name : blob_names("slow"))
        EXPECT_EQ(name.find(".incomplete"), std::string::npos) << "left behind: " << name;
}

}  // namespace
