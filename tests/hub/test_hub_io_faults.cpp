// Disk faults that a test cannot cause for real (RELIABILITY D26, D28), injected through an I/O
// shim: this executable defines rename(), fsync() and flock() itself, so the engine (linked in
// statically) calls these, which forward to the C library's through dlsym(RTLD_NEXT) unless a
// fault is armed. SQLite's test VFS works the same way. Only this test binary has the shim.
// It also counts connect() calls to network addresses (D33): libcurl, a shared library, binds
// to the executable's definition, which the linker exports because libcurl refers to it.
#include <dlfcn.h>
#include <openssl/evp.h>
#include <netinet/in.h>
#include <sys/file.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <vector>
#include <string>
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
// The next fsync of a blob's .incomplete file unlinks that path first: what a second writer
// without working locks does when it starts over (D28), placed where it leaves our verified
// inode with no name to publish.
std::atomic<bool> g_unlink_partial_on_fsync{false};
std::atomic<int> g_flock_calls{0};
std::atomic<int> g_inet_connects{0};  // connect() to an AF_INET / AF_INET6 address

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
    char path[4096];
    const std::string self = "/proc/self/fd/" + std::to_string(fd);
    const ssize_t n = readlink(self.c_str(), path, sizeof path - 1);
    const std::string name = n > 0 ? std::string(path, size_t(n)) : std::string();
    const std::string suffix = ".incomplete";
    if (name.size() > suffix.size() &&
        name.compare(name.size() - suffix.size(), suffix.size(), suffix) == 0 &&
        g_unlink_partial_on_fsync.exchange(false))
        unlink(name.c_str());
    return real(fd);
}

std::atomic<int> g_blob_publishes{0}, g_bad_publishes{0};

// SHA-256 of a file, in hex ("" if unreadable).
std::string sha256_of(const char *path) {
    std::ifstream f(path, std::ios::binary);
    if (!f) return "";
    EVP_MD_CTX *ctx = EVP_MD_CTX_new();
    EVP_DigestInit_ex(ctx, EVP_sha256(), nullptr);
    std::vector<char> buf(1 << 16);
    while (f.read(buf.data(), std::streamsize(buf.size())) || f.gcount() > 0)
        EVP_DigestUpdate(ctx, buf.data(), size_t(f.gcount()));
    unsigned char md[32];
    unsigned int n = 0;
    EVP_DigestFinal_ex(ctx, md, &n);
    EVP_MD_CTX_free(ctx);
    std::string hex;
    for (unsigned int i = 0; i < n; ++i) {
        hex += "0123456789abcdef"[md[i] >> 4];
        hex += "0123456789abcdef"[md[i] & 15];
    }
    return hex;
}

extern "C" int rename(const char *from, const char *to) {
    static auto real = next_symbol<int (*)(const char *, const char *)>("rename");
    const char *blobs = std::strstr(to, "/blobs/");
    if (g_fail_blob_rename && blobs != nullptr) {
        errno = EIO;
        return -1;
    }
    // Every file published as blobs/<sha256> must be complete and hash to its name at the
    // moment it is published (RELIABILITY I1), whatever the other writers do (D28).
    const std::string name = blobs ? std::string(blobs + 7) : std::string();
    if (name.size() == 64 && name.find_first_not_of("0123456789abcdef") == std::string::npos) {
        g_blob_publishes.fetch_add(1);
        if (sha256_of(from) != name) g_bad_publishes.fetch_add(1);
    }
    return real(from, to);
}

extern "C" int flock(int fd, int op) {
    static auto real = next_symbol<int (*)(int, int)>("flock");
    g_flock_calls.fetch_add(1);
    if (g_no_locks) return 0;
    return real(fd, op);
}

// Default visibility: the build hides symbols (-fvisibility=hidden), and a hidden definition
// would not be exported, so libcurl would bind to the C library's connect().
extern "C" __attribute__((visibility("default"))) int connect(int fd, const struct sockaddr *addr,
                                                              socklen_t len) {
    static auto real = next_symbol<int (*)(int, const struct sockaddr *, socklen_t)>("connect");
    if (addr && (addr->sa_family == AF_INET || addr->sa_family == AF_INET6))
        g_inet_connects.fetch_add(1);
    return real(fd, addr, len);
}

namespace {

namespace fs = std::filesystem;

using hfk_test::read_all;

std::string model_bytes() {
    return read_all(fs::path(hfk_test::shared_dir()) / "models" / "aidreams260K" /
                    "model.safetensors");
}

class IoFaults : public hfk_test::HubServerTest {
  protected:
    void TearDown() override {
        g_fail_fsync = g_fail_blob_rename = g_no_locks = g_unlink_partial_on_fsync = false;
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
    g_blob_publishes = 0;
    g_bad_publishes = 0;
    hfk::hub::Snapshot snaps[2];
    int status[2] = {-1, -1};
    std::string message[2];
    auto run = [&](int i) {
        status[i] = status_of(
            [&] { snaps[i] = hfk::hub::prepare("hfkit-test/slow", weights_only()); }, &message[i]);
    };
    std::thread a(run, 0), b(run, 1);
    a.join();
    b.join();
    ASSERT_EQ(status[0], 0) << message[0];
    ASSERT_EQ(status[1], 0) << message[1];
    EXPECT_EQ(read_all(snaps[0].dir / "model.safetensors"), model_bytes());
    EXPECT_EQ(read_all(snaps[1].dir / "model.safetensors"), model_bytes());
    EXPECT_TRUE(hfk::hub::verify_cached("hfkit-test/slow", "main", options().cache_dir).empty());
    for (const auto &name : blob_names("slow"))
        EXPECT_EQ(name.find(".incomplete"), std::string::npos) << "left behind: " << name;
    EXPECT_GE(g_blob_publishes.load(), 1);
    EXPECT_EQ(g_bad_publishes.load(), 0) << "a blob was published before it was complete";
}

// D28, the step the race above hits only now and then: another writer unlinked our temp path
// after we verified our file, so our inode has no name to link. Its verified bytes must still
// be published, never the other writer's partial file, and the call succeeds.
TEST_F(IoFaults, VerifiedDownloadWhoseTempPathWasTakenOverIsStillPublished) {
    g_no_locks = true;
    g_unlink_partial_on_fsync = true;
    g_blob_publishes = 0;
    g_bad_publishes = 0;
    std::string message;
    hfk::hub::Snapshot snap;
    ASSERT_EQ(status_of([&] { snap = hfk::hub::prepare("hfkit-test/aidreams260K", weights_only()); },
                        &message),
              0)
        << message;
    EXPECT_FALSE(g_unlink_partial_on_fsync.load()) << "the fault was never injected";
    EXPECT_EQ(read_all(snap.dir / "model.safetensors"), model_bytes());
    EXPECT_EQ(g_blob_publishes.load(), 1);
    EXPECT_EQ(g_bad_publishes.load(), 0);
    for (const auto &name : blob_names("aidreams260K"))
        EXPECT_EQ(name.find(".publish"), std::string::npos) << "left behind: " << name;
}

}  // namespace

namespace {

// RELIABILITY D33: offline (Options::offline or HF_HUB_OFFLINE=1) with a complete cache,
// prepare() and fetch_file() resolve through refs/main and make no network connection at all.
TEST_F(IoFaults, OfflineWithACompleteCacheMakesNoConnection) {
    hfk::hub::Options o = options();
    // Guard: the shim sees the engine's connections (else the zero below would prove nothing).
    int before = g_inet_connects.load();
    const auto online = hfk::hub::prepare("hfkit-test/aidreams260K", o);
    EXPECT_GT(g_inet_connects.load(), before) << "connect() is not intercepted";

    hfk::hub::Options off = o;
    off.offline = 1;
    before = g_inet_connects.load();
    EXPECT_EQ(hfk::hub::prepare("hfkit-test/aidreams260K", off).dir, online.dir);
    EXPECT_EQ(hfk::hub::fetch_file("hfkit-test/aidreams260K", "config.json", off),
              online.dir / "config.json");
    EXPECT_EQ(g_inet_connects.load(), before);

    setenv("HF_HUB_OFFLINE", "1", 1);
    hfk::hub::Options env_off = o;  // offline = -1: read $HF_HUB_OFFLINE
    before = g_inet_connects.load();
    const auto snap = hfk::hub::prepare("hfkit-test/aidreams260K", env_off);
    const int after = g_inet_connects.load();
    unsetenv("HF_HUB_OFFLINE");
    EXPECT_EQ(snap.dir, online.dir);
    EXPECT_EQ(after, before);
}

}  // namespace
