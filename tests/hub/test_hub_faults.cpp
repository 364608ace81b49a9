// Faults of RELIABILITY.md (b) "Download, cache, concurrency, faults" against the local Hub.
#include <fcntl.h>
#include <sched.h>
#include <signal.h>
#include <sys/mount.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

#include <fstream>
#include <sstream>
#include <thread>

#include "hub_server_fixture.h"
#include "util/error.h"

namespace fs = std::filesystem;
using hfk::hub::Options;

namespace {

std::string read_all(const fs::path &p) {
    std::ifstream f(p, std::ios::binary);
    std::stringstream ss;
    ss << f.rdbuf();
    return ss.str();
}

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

const std::string kModelSha = "255f510375d6fdceeae590cc9b07ddbbe124610ac805bd15e80b9026f12dcbfd";

std::string model_bytes() {
    return read_all(fs::path(hfk_test::shared_dir()) / "models" / "aidreams260K" /
                    "model.safetensors");
}

// Forks a child that runs f() and exits with its status (0 = ok, 100 + -status otherwise).
template <class F>
pid_t spawn(F &&f) {
    pid_t pid = fork();
    if (pid == 0) {
        int code = 0;
        try {
            f();
        } catch (const hfk::Error &e) {
            code = 100 - e.status();
        } catch (...) {
            code = 99;
        }
        _exit(code);
    }
    return pid;
}

int wait_code(pid_t pid) {
    int st = 0;
    waitpid(pid, &st, 0);
    return WIFEXITED(st) ? WEXITSTATUS(st) : -WTERMSIG(st);
}

// RELIABILITY (b) I1-I3: every blob hashes to its name is checked by content comparison
// in the tests; here: pointers lead to files and no temp link is left.
void check_pointers(const fs::path &repo) {
    std::error_code ec;
    for (auto it = fs::recursive_directory_iterator(repo / "snapshots", ec);
         !ec && it != fs::end(it); ++it)
        if (it->is_symlink()) {
            EXPECT_TRUE(fs::is_regular_file(it->path())) << it->path();
        }
}

Options only_weights(Options o) {
    o.allow_patterns = {"model.safetensors"};
    return o;
}

}  // namespace

class Faults : public hfk_test::HubServerTest {
  protected:
    std::vector<std::string> server_args() override {
        return {"--slow-bps", "1000000", "--drop-count", "3", "--stall-interval", "2"};
    }
    fs::path repo(const std::string &name) const {
        return repo_root("models--hfkit-test--" + name);
    }
};

TEST_F(Faults, KilledMidDownloadThenResumesWithOnlyTheRemainingBytes) {
    Options o = only_weights(options());
    fs::path part = repo("slow") / "blobs" / (kModelSha + ".incomplete");
    pid_t child = spawn([&] { hfk::hub::prepare("hfkit-test/slow", o); });
    std::error_code ec;
    for (int i = 0; i < 2000; ++i) {  // until the partial file has some bytes
        if (fs::exists(part, ec) && fs::file_size(part, ec) >= 150000) break;
        std::this_thread::sleep_for(std::chrono::milliseconds(5));
    }
    kill(child, SIGKILL);
    EXPECT_EQ(wait_code(child), -SIGKILL);
    ASSERT_TRUE(fs::exists(part));
    uint64_t have = fs::file_size(part);
    EXPECT_GT(have, 0u);
    EXPECT_LT(have, 927832u);
    EXPECT_FALSE(fs::exists(repo("slow") / "blobs" / kModelSha));
    EXPECT_FALSE(fs::exists(repo("slow") / "refs" / "main"));
    server->clear_log();
    auto snap = hfk::hub::prepare("hfkit-test/slow", o);
    EXPECT_EQ(read_all(snap.dir / "model.safetensors"), model_bytes());
    EXPECT_FALSE(fs::exists(part));
    int cdn_gets = 0;
    for (auto &e : server->log()) {
        // The killed child's request may be recorded late (when the server notices the hang-up).
        if (e["host"] != "cdn" || e["range"].is_null()) continue;
        ++cdn_gets;
        EXPECT_EQ(e["range"], "bytes=" + std::to_string(have) + "-");
        EXPECT_EQ(e["status"], 206);
        EXPECT_EQ(e["bytes"].get<uint64_t>(), 927832u - have);
    }
    EXPECT_EQ(cdn_gets, 1);
}

TEST_F(Faults, PlantedPartialIsResumedAndVerified) {
    Options o = only_weights(options());
    fs::create_directories(repo("aidreams260K") / "blobs");
    std::string bytes = model_bytes();
    std::ofstream(repo("aidreams260K") / "blobs" / (kModelSha + ".incomplete"), std::ios::binary)
        << bytes.substr(0, 400000);
    auto snap = hfk::hub::prepare("hfkit-test/aidreams260K", o);
    EXPECT_EQ(read_all(snap.dir / "model.safetensors"), bytes);
    EXPECT_EQ(server->count("cdn", "GET"), 1);
    for (auto &e : server->log())
        if (e["host"] == "cdn") {
            EXPECT_EQ(e["range"], "bytes=400000-");
        }
}

TEST_F(Faults, ServerIgnoringRangeRestartsInANewFile) {
    Options o = only_weights(options());
    fs::create_directories(repo("norange") / "blobs");
    std::string bytes = model_bytes();
    // A wrong prefix: appending the 200 body to it would corrupt the blob.
    std::ofstream(repo("norange") / "blobs" / (kModelSha + ".incomplete"), std::ios::binary)
        << std::string(300000, 'x');
    auto snap = hfk::hub::prepare("hfkit-test/norange", o);
    EXPECT_EQ(read_all(snap.dir / "model.safetensors"), bytes);
    bool saw_200_to_range = false;
    for (auto &e : server->log())
        if (e["host"] == "cdn" && !e["range"].is_null() && e["status"] == 200)
            saw_200_to_range = true;
    EXPECT_TRUE(saw_200_to_range);
}

TEST_F(Faults, TwoProcessesDownloadTheSameFileOnce) {
    Options o = only_weights(options());
    pid_t a = spawn([&] { hfk::hub::prepare("hfkit-test/slow", o); });
    pid_t b = spawn([&] { hfk::hub::prepare("hfkit-test/slow", o); });
    EXPECT_EQ(wait_code(a), 0);
    EXPECT_EQ(wait_code(b), 0);
    EXPECT_EQ(server->count("cdn", "GET"), 1);
    auto snap = hfk::hub::find_cached("hfkit-test/slow", "main", o.cache_dir);
    ASSERT_FALSE(snap.has_value());  // only weights: no config.json, so not "complete"
    fs::path blob = repo("slow") / "blobs" / kModelSha;
    EXPECT_EQ(read_all(blob), model_bytes());
}

TEST_F(Faults, ThreadsDownloadTheSameFileOnce) {
    Options o = only_weights(options());
    std::vector<std::thread> threads;
    std::atomic<int> ok{0};
    for (int i = 0; i < 4; ++i)
        threads.emplace_back([&] {
            if (status_of([&] { hfk::hub::prepare("hfkit-test/slow", o); }) == 0) ++ok;
        });
    for (auto &t : threads) t.join();
    EXPECT_EQ(ok.load(), 4);
    EXPECT_EQ(server->count("cdn", "GET"), 1);
}

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

TEST_F(Faults, CorruptDownloadIsChecksumErrorAndNothingPublished) {
    Options o = options();
    std::string msg;
    EXPECT_EQ(status_of([&] { hfk::hub::prepare("hfkit-test/corrupt", o); }, &msg), HFK_E_CHECKSUM);
    EXPECT_NE(msg.find(kModelSha), std::string::npos) << msg;
    fs::path r = repo("corrupt");
    EXPECT_FALSE(fs::exists(r / "blobs" / kModelSha));
    EXPECT_FALSE(fs::exists(r / "blobs" / (kModelSha + ".incomplete")));
    EXPECT_FALSE(fs::exists(r / "refs" / "main"));
    EXPECT_FALSE(hfk::hub::is_downloaded("hfkit-test/corrupt", "main", o.cache_dir));
    check_pointers(r);
}

TEST_F(Faults, CorruptedCachedBlobIsFoundByVerifyAndReplacedByAVerifyingPrepare) {
    Options o = options();
    auto snap = hfk::hub::prepare("hfkit-test/aidreams260K", o);
    EXPECT_TRUE(hfk::hub::verify_cached("hfkit-test/aidreams260K", "main", o.cache_dir).empty());
    fs::path blob = repo("aidreams260K") / "blobs" / kModelSha;
    fs::permissions(blob, fs::perms::owner_write, fs::perm_options::add);
    {
        std::fstream f(blob, std::ios::in | std::ios::out | std::ios::binary);
        f.seekp(1000);
        f.put('\x5a');
    }
    EXPECT_EQ(hfk::hub::verify_cached("hfkit-test/aidreams260K", "main", o.cache_dir),
              std::vector<std::string>{"model.safetensors"});

    // A normal prepare only stats the cache: it does not notice (and downloads nothing).
    server->get("/_log/clear");
    hfk::hub::prepare("hfkit-test/aidreams260K", o);
    EXPECT_EQ(server->count("cdn", "GET"), 0);
    EXPECT_NE(read_all(snap.dir / "model.safetensors"), model_bytes());

    // A verifying prepare re-hashes, downloads the bad file again (and only it) and renames it
    // over the corrupt blob, leaving no temporary file.
    o.verify = true;
    auto again = hfk::hub::prepare("hfkit-test/aidreams260K", o);
    EXPECT_EQ(server->count("cdn", "GET"), 1);
    EXPECT_EQ(read_all(again.dir / "model.safetensors"), model_bytes());
    EXPECT_TRUE(hfk::hub::verify_cached("hfkit-test/aidreams260K", "main", o.cache_dir).empty());
    for (const auto &e : fs::directory_iterator(repo("aidreams260K") / "blobs"))
        EXPECT_EQ(e.path().extension(), "") << "left behind: " << e.path();
}

// RELIABILITY D37: a server that stops sending (a byte every 2 s, below the low-speed limit of
// HF_HUB_DOWNLOAD_TIMEOUT=1 s) is detected, each retry resumes where the last one stopped, and
// the call ends with a network error in bounded time: it never blocks forever.
TEST_F(Faults, StalledTransferIsDetectedResumedAndFinallyFails) {
    setenv("HF_HUB_DOWNLOAD_TIMEOUT", "1", 1);
    Options o = only_weights(options());
    const auto t0 = std::chrono::steady_clock::now();
    std::string msg;
    EXPECT_EQ(status_of([&] { hfk::hub::prepare("hfkit-test/stall", o); }, &msg), HFK_E_NETWORK);
    unsetenv("HF_HUB_DOWNLOAD_TIMEOUT");
    EXPECT_LT(std::chrono::steady_clock::now() - t0, std::chrono::seconds(40));
    EXPECT_NE(msg.find("model.safetensors"), std::string::npos) << msg;
    EXPECT_NE(msg.find("slow"), std::string::npos) << msg;
    // Each try resumed: the server saw Range requests that start past zero.
    int resumed = 0;
    for (auto &e : server->log())
        if (e["host"] == "cdn" && e["range"].is_string() && e["range"] != "bytes=0-") ++resumed;
    EXPECT_GE(resumed, 1) << "the retries did not resume the partial file";
    // The partial file stays for a later resume; no blob appeared.
    std::error_code ec;
    const fs::path part = repo("stall") / "blobs" / (kModelSha + ".incomplete");
    EXPECT_GE(fs::file_size(part, ec), uint64_t(64 * 1024)) << ec.message();
    EXPECT_FALSE(fs::exists(repo("stall") / "blobs" / kModelSha));
}

TEST_F(Faults, Flaky5xxIsRetried) {
    Options o = options();
    auto t0 = std::chrono::steady_clock::now();
    auto snap = hfk::hub::prepare("hfkit-test/flaky", o);
    EXPECT_EQ(read_all(snap.dir / "model.safetensors"), model_bytes());
    int n503 = 0;
    for (auto &e : server->log()) n503 += e["status"] == 503;
    EXPECT_GE(n503, 2);
    EXPECT_LT(std::chrono::steady_clock::now() - t0, std::chrono::seconds(10));
}

TEST_F(Faults, RateLimitHonoursRetryAfterUpToTheCap) {
    Options o = options();
    auto snap = hfk::hub::prepare("hfkit-test/ratelimited", o);
    EXPECT_TRUE(fs::exists(snap.dir / "config.json"));
    int n429 = 0;
    for (auto &e : server->log()) n429 += e["status"] == 429;
    EXPECT_GE(n429, 1);
}

TEST_F(Faults, MidBodyDropsAreResumed) {
    Options o = only_weights(options());
    auto snap = hfk::hub::prepare("hfkit-test/drop", o);
    EXPECT_EQ(read_all(snap.dir / "model.safetensors"), model_bytes());
    int drops = 0, ranged = 0;
    for (auto &e : server->log()) {
        if (e["host"] != "cdn") continue;
        drops += e["dropped"].get<bool>();
        ranged += !e["range"].is_null();
    }
    EXPECT_EQ(drops, 3);
    EXPECT_EQ(ranged, 3);
}

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
    std::string endpoint = server->endpoint;
    server->stop();  // the Hub is now unreachable
    EXPECT_EQ(hfk::hub::prepare("hfkit-test/aidreams260K", o).dir, snap.dir);
    EXPECT_EQ(status_of([&] { hfk::hub::prepare("hfkit-test/tiny-gpt2", o); }), HFK_E_NETWORK);
}

TEST_F(Faults, CancelFromProgressAndFromAnotherThread) {
    Options o = only_weights(options());
    o.progress = [](const hfk::hub::Progress &p) { return p.file_bytes_done > 100000; };
    EXPECT_EQ(status_of([&] { hfk::hub::prepare("hfkit-test/slow", o); }), HFK_E_CANCELLED);
    EXPECT_FALSE(fs::exists(repo("slow") / "blobs" / kModelSha));
    std::atomic<bool> cancel{false};
    Options c = only_weights(options());
    c.cancel = &cancel;
    auto t0 = std::chrono::steady_clock::now();
    std::thread t([&] {
        std::this_thread::sleep_for(std::chrono::milliseconds(150));
        cancel = true;
    });
    EXPECT_EQ(status_of([&] { hfk::hub::prepare("hfkit-test/slow", c); }), HFK_E_CANCELLED);
    t.join();
    EXPECT_LT(std::chrono::steady_clock::now() - t0, std::chrono::milliseconds(800));
    // The partial file is kept for a later resume.
    EXPECT_TRUE(fs::exists(repo("slow") / "blobs" / (kModelSha + ".incomplete")));
}
