// RELIABILITY.md (b) "Download, cache, concurrency, faults", D24, D25: disk limits, against the
// local Hub. The fixture and helpers shared by every test_hub_faults_*.cpp are in
// hub_faults_fixture.h.
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

namespace {

bool write_proc(const char *path, const std::string &text) {
    int fd = open(path, O_WRONLY | O_CLOEXEC);
    if (fd < 0) return false;
    bool ok = write(fd, text.data(), text.size()) == ssize_t(text.size());
    close(fd);
    return ok;
}

// Mounts a tmpfs of `size` on `dir`, seen by this process only: a private mount namespace
// (entered as root, or through a user namespace otherwise). Call in a single-threaded child.
bool private_tmpfs(const std::string &dir, const std::string &size) {
    const uid_t uid = geteuid();
    const gid_t gid = getegid();
    if (uid == 0) {
        if (unshare(CLONE_NEWNS) != 0) return false;
    } else if (unshare(CLONE_NEWUSER | CLONE_NEWNS) != 0 ||
               !write_proc("/proc/self/setgroups", "deny") ||
               !write_proc("/proc/self/uid_map", "0 " + std::to_string(uid) + " 1") ||
               !write_proc("/proc/self/gid_map", "0 " + std::to_string(gid) + " 1")) {
        return false;
    }
    // Private first, so that the tmpfs never propagates to the parent's namespace.
    return mount(nullptr, "/", nullptr, MS_REC | MS_PRIVATE, nullptr) == 0 &&
           mount("tmpfs", dir.c_str(), "tmpfs", 0, ("size=" + size).c_str()) == 0;
}

}  // namespace

TEST_F(Faults, FileSizeLimitIsNoSpaceAndLeavesTheCacheConsistent) {
    Options o = options();
    pid_t child = spawn([&] {
        signal(SIGXFSZ, SIG_IGN);  // without this the kernel kills the process (documented)
        struct rlimit rl = {300000, 300000};
        setrlimit(RLIMIT_FSIZE, &rl);
        hfk::hub::prepare("hfkit-test/aidreams260K", o);
    });
    EXPECT_EQ(wait_code(child), 100 - HFK_E_NO_SPACE);
    fs::path r = repo("aidreams260K");
    EXPECT_FALSE(fs::exists(r / "blobs" / kModelSha));
    EXPECT_FALSE(fs::exists(r / "refs" / "main"));
    std::error_code ec;
    for (auto &s : fs::directory_iterator(r / "snapshots", ec))
        EXPECT_FALSE(fs::exists(s.path() / "model.safetensors"));
    check_pointers(r);
    // With the limit gone the next call resumes from the kept prefix and completes.
    server->clear_log();
    auto snap = hfk::hub::prepare("hfkit-test/aidreams260K", o);
    EXPECT_EQ(read_all(snap.dir / "model.safetensors"), model_bytes());
    for (auto &e : server->log())
        if (e["host"] == "cdn") {
            EXPECT_FALSE(e["range"].is_null());
        }
}

// RELIABILITY D24: the cache on a 256 KiB tmpfs cannot take the 908 KB weights. The download
// fails fast with HFK_E_NO_SPACE (statvfs, before any byte), publishes no blob and no
// snapshot link, and once the disk grows the same call completes. The checks run in the child
// (the tmpfs exists only in its namespace); its exit code says which failed.
TEST_F(Faults, DiskFullFailsFastPublishesNothingAndCompletesOnceThereIsSpace) {
    Options o = options();
    fs::create_directories(o.cache_dir);
    const std::string expected = model_bytes();
    pid_t child = fork();
    if (child == 0) {
        if (!private_tmpfs(o.cache_dir, "256k")) {
            std::perror("private tmpfs (unshare/mount)");
            _exit(10);
        }
        std::string msg;
        const int st = status_of([&] { hfk::hub::prepare("hfkit-test/aidreams260K", o); }, &msg);
        std::fprintf(stderr, "first prepare: %d %s\n", st, msg.c_str());
        if (st != HFK_E_NO_SPACE || msg.find("disk space") == std::string::npos) _exit(11);
        const fs::path r = fs::path(o.cache_dir) / "models--hfkit-test--aidreams260K";
        std::error_code ec;
        if (fs::exists(r / "blobs" / kModelSha, ec)) _exit(12);
        for (auto &s : fs::directory_iterator(r / "snapshots", ec))
            if (fs::exists(fs::symlink_status(s.path() / "model.safetensors"))) _exit(13);
        if (mount(nullptr, o.cache_dir.c_str(), nullptr, MS_REMOUNT, "size=4m") != 0) _exit(14);
        std::string dir;
        if (status_of([&] { dir = hfk::hub::prepare("hfkit-test/aidreams260K", o).dir; }, &msg)) {
            std::fprintf(stderr, "second prepare: %s\n", msg.c_str());
            _exit(15);
        }
        _exit(read_all(fs::path(dir) / "model.safetensors") == expected ? 0 : 16);
    }
    EXPECT_EQ(wait_code(child), 0)
        << "10 no namespace, 11 not NO_SPACE, 12 blob published, 13 snapshot link, 14 remount, "
           "15 second prepare failed, 16 wrong bytes";
}
