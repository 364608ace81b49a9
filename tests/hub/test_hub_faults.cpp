// Faults of RELIABILITY.md (b) "Download, cache, concurrency, faults" against the local Hub.
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

#include "hub_server_fixture.h"
#include "util/error.h"

namespace fs = std::filesystem;
using hfk::hub::Options;

namespace {

using hfk_test::read_all;

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

// Files in blobs/ that are not a published blob (40 or 64 hex characters): partial downloads
// and temp files, whatever the engine names them.
std::vector<std::string> partial_files(const fs::path &repo) {
    std::vector<std::string> out;
    std::error_code ec;
    for (const auto &e : fs::directory_iterator(repo / "blobs", ec)) {
        const std::string n = e.path().filename().string();
        if (!hfk::hub::valid_etag(n)) out.push_back(n);
    }
    return out;
}

// Regular files and symlinks anywhere under `dir` (empty when it does not exist).
std::vector<std::string> files_under(const fs::path &dir) {
    std::vector<std::string> out;
    std::error_code ec;
    for (auto it = fs::recursive_directory_iterator(dir, ec); !ec && it != fs::end(it);
         it.increment(ec))
        if (!it->is_directory()) out.push_back(it->path().string());
    return out;
}

// A signed CDN URL is a bearer capability: its query must never appear in a message (D38).
void expect_no_signed_query(const std::string &msg) {
    EXPECT_EQ(msg.find("X-Amz-Signature"), std::string::npos) << msg;
    EXPECT_EQ(msg.find("secret"), std::string::npos) << msg;
}

// The requests of the log on one host, in the order they completed.
std::vector<nlohmann::json> requests_on(const nlohmann::json &log, const std::string &host) {
    std::vector<nlohmann::json> out;
    for (const auto &e : log)
        if (e["host"] == host) out.push_back(e);
    return out;
}

// Lifts the fixture's short waits (backoff base 20 ms, cap 200 ms) for one scope.
struct LongerWaits {
    LongerWaits(const char *base_ms, const char *max_ms) {
        setenv("HFK_HUB_RETRY_BASE_MS", base_ms, 1);
        setenv("HFK_HUB_MAX_WAIT_MS", max_ms, 1);
    }
    ~LongerWaits() {
        setenv("HFK_HUB_RETRY_BASE_MS", "20", 1);
        setenv("HFK_HUB_MAX_WAIT_MS", "200", 1);
    }
    LongerWaits(const LongerWaits &) = delete;
    LongerWaits &operator=(const LongerWaits &) = delete;
};

}  // namespace

class Faults : public hfk_test::HubServerTest {
  protected:
    std::vector<std::string> server_args() override {
        return {"--slow-bps", "1000000", "--drop-count", "3", "--stall-interval", "2"};
    }
    fs::path repo(const std::string &name) const {
        return repo_root("models--hfkit-test--" + name);
    }
    // The weights' partial file in a repository's cache, created holding `content`.
    fs::path plant_partial(const std::string &name, const std::string &content) const {
        const fs::path part = repo(name) / "blobs" / (kModelSha + ".incomplete");
        fs::create_directories(part.parent_path());
        std::ofstream(part, std::ios::binary) << content;
        return part;
    }
    // Takes the weights' blob lock of aidreams260K as another process would; -1 if it could not.
    int hold_weights_lock(const Options &o) const {
        const fs::path locks =
            fs::path(o.cache_dir) / ".locks" / "models--hfkit-test--aidreams260K";
        fs::create_directories(locks);
        const int fd =
            open((locks / (kModelSha + ".lock")).c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0644);
        if (fd >= 0 && flock(fd, LOCK_EX | LOCK_NB) != 0) {
            close(fd);
            return -1;
        }
        return fd;
    }
    // prepare() of a repository's config.json alone, with the waits lifted to base/max ms.
    struct ConfigRun {
        int status = 0;
        std::string message;
        fs::path dir;
        double seconds = 0;
    };
    ConfigRun prepare_config(const std::string &repo_id, const char *base_ms, const char *max_ms) {
        Options o = options();
        o.allow_patterns = {"config.json"};
        ConfigRun run;
        const auto t0 = std::chrono::steady_clock::now();
        run.status = status_of(
            [&] {
                LongerWaits waits(base_ms, max_ms);
                run.dir = hfk::hub::prepare(repo_id, o).dir;
            },
            &run.message);
        run.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
        return run;
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
    std::string bytes = model_bytes();
    plant_partial("aidreams260K", bytes.substr(0, 400000));
    auto snap = hfk::hub::prepare("hfkit-test/aidreams260K", o);
    EXPECT_EQ(read_all(snap.dir / "model.safetensors"), bytes);
    EXPECT_EQ(server->count("cdn", "GET"), 1);
    for (auto &e : server->log())
        if (e["host"] == "cdn") {
            EXPECT_EQ(e["range"], "bytes=400000-");
        }
}

// RELIABILITY D7: a partial as long as the file. With the right bytes it is verified and
// published without a request; with wrong bytes (a stale or damaged partial) it is downloaded
// again from the start, once, and the right blob is published.
TEST_F(Faults, WholePartialIsVerifiedAndRedownloadedOnceIfWrong) {
    Options o = only_weights(options());
    const fs::path blobs = repo("aidreams260K") / "blobs";
    const fs::path part = blobs / (kModelSha + ".incomplete");
    fs::create_directories(blobs);
    std::string bytes = model_bytes();
    std::ofstream(part, std::ios::binary) << bytes;
    auto snap = hfk::hub::prepare("hfkit-test/aidreams260K", o);
    EXPECT_EQ(read_all(snap.dir / "model.safetensors"), bytes);
    EXPECT_EQ(server->count("cdn", "GET"), 0);
    EXPECT_FALSE(fs::exists(part));

    hfk::hub::remove_from_cache(o.cache_dir, "hfkit-test/aidreams260K", "");
    fs::create_directories(blobs);
    std::string wrong = bytes;
    wrong[wrong.size() / 3] ^= 0x5A;
    std::ofstream(part, std::ios::binary) << wrong;
    server->clear_log();
    snap = hfk::hub::prepare("hfkit-test/aidreams260K", o);
    EXPECT_EQ(read_all(snap.dir / "model.safetensors"), bytes);
    EXPECT_EQ(server->count("cdn", "GET"), 1);
    for (auto &e : server->log())
        if (e["host"] == "cdn") {
            EXPECT_TRUE(e["range"].is_null()) << "the restart must not resume the wrong partial";
        }
    EXPECT_FALSE(fs::exists(part));
}

TEST_F(Faults, ServerIgnoringRangeRestartsInANewFile) {
    Options o = only_weights(options());
    std::string bytes = model_bytes();
    // A wrong prefix: appending the 200 body to it would corrupt the blob.
    const fs::path part = plant_partial("norange", std::string(300000, 'x'));
    // Another name for the partial's inode, as a writer that still has it open would see it:
    // the restart must leave it alone (RELIABILITY D5: a new file, never a truncate).
    const fs::path old_inode = cache.path / "old-partial";
    fs::create_hard_link(part, old_inode);
    auto snap = hfk::hub::prepare("hfkit-test/norange", o);
    EXPECT_EQ(read_all(snap.dir / "model.safetensors"), bytes);
    EXPECT_EQ(read_all(old_inode), std::string(300000, 'x'));
    bool saw_200_to_range = false;
    for (auto &e : server->log())
        if (e["host"] == "cdn" && !e["range"].is_null() && e["status"] == 200)
            saw_200_to_range = true;
    EXPECT_TRUE(saw_200_to_range);
}

// RELIABILITY D27: one network download; the other process waits and returns the same path.
TEST_F(Faults, TwoProcessesDownloadTheSameFileOnce) {
    Options o = only_weights(options());
    const fs::path out_a = cache.path / "dir-a", out_b = cache.path / "dir-b";
    auto run = [&](const fs::path &out) {
        const auto snap = hfk::hub::prepare("hfkit-test/slow", o);
        std::ofstream(out) << snap.dir.string();
    };
    pid_t a = spawn([&] { run(out_a); });
    pid_t b = spawn([&] { run(out_b); });
    EXPECT_EQ(wait_code(a), 0);
    EXPECT_EQ(wait_code(b), 0);
    EXPECT_EQ(server->count("cdn", "GET"), 1);
    EXPECT_FALSE(read_all(out_a).empty());
    EXPECT_EQ(read_all(out_a), read_all(out_b));
    EXPECT_EQ(fs::path(read_all(out_a)).parent_path(), repo("slow") / "snapshots");
    auto snap = hfk::hub::find_cached("hfkit-test/slow", "main", o.cache_dir);
    ASSERT_FALSE(snap.has_value());  // only weights: no config.json, so not "complete"
    fs::path blob = repo("slow") / "blobs" / kModelSha;
    EXPECT_EQ(read_all(blob), model_bytes());
}

TEST_F(Faults, ThreadsDownloadTheSameFileOnce) {
    Options o = only_weights(options());
    std::vector<std::thread> threads;
    std::atomic<int> ok{0};
    for (int i = 0; i < 8; ++i)  // RELIABILITY D29: 8 threads
        threads.emplace_back([&] {
            if (status_of([&] { hfk::hub::prepare("hfkit-test/slow", o); }) == 0) ++ok;
        });
    for (auto &t : threads) t.join();
    EXPECT_EQ(ok.load(), 8);
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

// RELIABILITY D12: 503, 503, then 200 succeeds after a doubling backoff (base 200 ms here
// instead of 1 s), and no longer. The log's `t` is when each request ended.
TEST_F(Faults, Flaky5xxBacksOffDoublingThenSucceeds) {
    const ConfigRun run = prepare_config("hfkit-test/flaky", "200", "5000");
    ASSERT_EQ(run.status, 0) << run.message;
    std::map<std::string, std::vector<nlohmann::json>> by_url;
    for (const auto &e : server->log())
        by_url[e["method"].get<std::string>() + " " + e["path"].get<std::string>()].push_back(e);
    int urls = 0;
    for (const auto &[url, reqs] : by_url) {
        if (reqs.empty() || reqs[0]["status"] != 503) continue;
        ++urls;
        ASSERT_EQ(reqs.size(), 3u) << url;
        EXPECT_EQ(reqs[1]["status"], 503) << url;
        EXPECT_EQ(reqs[2]["status"], 200) << url;
        const double gap1 = reqs[1]["t"].get<double>() - reqs[0]["t"].get<double>();
        const double gap2 = reqs[2]["t"].get<double>() - reqs[1]["t"].get<double>();
        EXPECT_GE(gap1, 0.19) << url;
        EXPECT_GE(gap2, 0.39) << url << ": the second wait doubles";
        EXPECT_LT(gap2, 2.0) << url;
    }
    EXPECT_GE(urls, 3) << "the revision call, the HEAD and the GET of config.json were flaky";
    EXPECT_LT(run.seconds, 10.0) << "total time bounded";
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

// ---------------------------------------------------------------------------------------------
// RELIABILITY D3: more mid-body drops than the try limit (5) still succeed in one call, because
// every drop came after real progress and progress resets the try counter.
class ManyDrops : public Faults {
  protected:
    std::vector<std::string> server_args() override { return {"--drop-count", "6"}; }
};

TEST_F(ManyDrops, SixDropsWithProgressEachTimeStillSucceedInOneCall) {
    Options o = only_weights(options());
    auto snap = hfk::hub::prepare("hfkit-test/drop", o);
    EXPECT_EQ(read_all(snap.dir / "model.safetensors"), model_bytes());
    auto cdn = requests_on(server->log(), "cdn");
    ASSERT_EQ(cdn.size(), 7u);  // 6 dropped + the one that finished
    uint64_t received = 0;
    int drops = 0;
    for (size_t i = 0; i < cdn.size(); ++i) {
        const auto &e = cdn[i];
        drops += e["dropped"].get<bool>();
        if (i == 0) {
            EXPECT_TRUE(e["range"].is_null());
        } else {  // each try resumes exactly where the previous one stopped
            EXPECT_EQ(e["range"], "bytes=" + std::to_string(received) + "-");
            EXPECT_EQ(e["status"], 206);
        }
        EXPECT_GT(e["bytes"].get<uint64_t>(), 0u) << "try " << i << " made no progress";
        received += e["bytes"].get<uint64_t>();
    }
    EXPECT_EQ(drops, 6);
    EXPECT_EQ(received, 927832u);  // nothing downloaded twice
    EXPECT_TRUE(partial_files(repo("drop")).empty());
}

// RELIABILITY D4: a CDN that closes every connection before the first body byte. The download
// gives up with HFK_E_NETWORK after the bounded tries (Client::max_tries = 5), keeps the
// partial file for a later resume and publishes no blob.
TEST_F(Faults, DropsWithoutProgressFailAfterTheBoundedTries) {
    Options o = only_weights(options());
    std::string msg;
    const auto t0 = std::chrono::steady_clock::now();
    EXPECT_EQ(status_of([&] { hfk::hub::prepare("hfkit-test/nobody", o); }, &msg), HFK_E_NETWORK);
    EXPECT_LT(std::chrono::steady_clock::now() - t0, std::chrono::seconds(5));
    EXPECT_NE(msg.find("model.safetensors"), std::string::npos) << msg;
    expect_no_signed_query(msg);
    auto cdn = requests_on(server->log(), "cdn");
    EXPECT_EQ(cdn.size(), 5u) << "tries must be bounded by max_tries (5)";
    for (const auto &e : cdn) {
        EXPECT_EQ(e["bytes"], 0);
        EXPECT_TRUE(e["dropped"].get<bool>());
    }
    const fs::path r = repo("nobody");
    EXPECT_FALSE(fs::exists(r / "blobs" / kModelSha));
    EXPECT_FALSE(fs::exists(r / "refs" / "main"));
    EXPECT_TRUE(files_under(r / "snapshots").empty());
    EXPECT_FALSE(partial_files(r).empty()) << "the partial file is kept for a later resume";
}

// D4 with a partial already there: every try asks for the rest (Range), none makes progress,
// and the partial survives the failure unchanged.
TEST_F(Faults, DropsWithoutProgressKeepThePlantedPartial) {
    Options o = only_weights(options());
    const std::string bytes = model_bytes();
    const fs::path part = plant_partial("nobody", bytes.substr(0, 400000));
    EXPECT_EQ(status_of([&] { hfk::hub::prepare("hfkit-test/nobody", o); }), HFK_E_NETWORK);
    auto cdn = requests_on(server->log(), "cdn");
    EXPECT_EQ(cdn.size(), 5u);
    EXPECT_FALSE(fs::exists(repo("nobody") / "blobs" / kModelSha));
    for (const auto &e : cdn)
        EXPECT_EQ(e["range"], "bytes=400000-") << "every try must resume the planted " << part;
    ASSERT_TRUE(fs::exists(part)) << "the partial was not kept";
    EXPECT_EQ(read_all(part), bytes.substr(0, 400000));
}

// RELIABILITY D6: a 206 whose Content-Range does not start at the requested offset. The engine
// rejects it, discards the partial and restarts once from zero (here the restart, a plain GET,
// gets the whole body and succeeds).
TEST_F(Faults, WrongContentRangeDiscardsThePartialAndRestartsOnce) {
    Options o = only_weights(options());
    const std::string bytes = model_bytes();
    const fs::path part = plant_partial("badrange", bytes.substr(0, 400000));
    auto snap = hfk::hub::prepare("hfkit-test/badrange", o);
    EXPECT_EQ(read_all(snap.dir / "model.safetensors"), bytes);
    EXPECT_TRUE(partial_files(repo("badrange")).empty());
    auto cdn = requests_on(server->log(), "cdn");
    ASSERT_FALSE(cdn.empty());
    ASSERT_EQ(cdn.size(), 2u) << "expected the rejected 206, then one restart from zero";
    EXPECT_EQ(cdn[0]["range"], "bytes=400000-");
    EXPECT_EQ(cdn[0]["status"], 206);
    EXPECT_TRUE(cdn[1]["range"].is_null()) << "the restart must not resume the discarded partial";
    EXPECT_EQ(cdn[1]["status"], 200);
}

// D6, repeated: every answer is a 206 with a wrong start (with or without Range). One restart,
// then HFK_E_NETWORK; no blob.
TEST_F(Faults, WrongContentRangeTwiceIsANetworkError) {
    Options o = only_weights(options());
    std::string msg;
    EXPECT_EQ(status_of([&] { hfk::hub::prepare("hfkit-test/badrange-always", o); }, &msg),
              HFK_E_NETWORK);
    EXPECT_NE(msg.find("model.safetensors"), std::string::npos) << msg;
    expect_no_signed_query(msg);
    EXPECT_EQ(server->count("cdn", "GET"), 2) << "one try and one restart, no more";
    EXPECT_FALSE(fs::exists(repo("badrange-always") / "blobs" / kModelSha));
    EXPECT_FALSE(fs::exists(repo("badrange-always") / "refs" / "main"));
}

// RELIABILITY D9: the CDN sends more bytes than X-Linked-Size, with a lying Content-Length or
// as a body that ends at connection close. The client stops reading at once (the server could
// write at most the blob plus what the socket buffers take, far below the 64 MiB it tried),
// the partial is deleted and no blob appears. The table says SIZE_MISMATCH; hfkit has no such
// code and reports HFK_E_CHECKSUM.
TEST_F(Faults, MoreBytesThanAnnouncedStopEarlyAndLeaveNothing) {
    Options o = only_weights(options());
    for (const std::string name : {"toolong", "toolong-eof"}) {
        SCOPED_TRACE(name);
        server->clear_log();
        std::string msg;
        const auto t0 = std::chrono::steady_clock::now();
        EXPECT_EQ(status_of([&] { hfk::hub::prepare("hfkit-test/" + name, o); }, &msg),
                  HFK_E_CHECKSUM);
        EXPECT_LT(std::chrono::steady_clock::now() - t0, std::chrono::seconds(5));
        EXPECT_NE(msg.find("927832"), std::string::npos) << msg;
        expect_no_signed_query(msg);
        auto cdn = requests_on(server->log(), "cdn");
        EXPECT_EQ(cdn.size(), 1u) << "a server that sends too much is not retried";
        for (const auto &e : cdn)
            EXPECT_LT(e["bytes"].get<uint64_t>(), 927832u + (16u << 20))
                << "the client kept reading past the announced size";
        EXPECT_FALSE(fs::exists(repo(name) / "blobs" / kModelSha));
        EXPECT_TRUE(partial_files(repo(name)).empty()) << "the partial must be deleted";
    }
}

// RELIABILITY D22: /resolve/ answers without ETag, X-Repo-Commit or a size. A clear
// HFK_E_FORMAT error naming the repo, and nothing written under blobs/, snapshots/ or refs/.
TEST_F(Faults, MissingFileMetadataIsAFormatErrorAndWritesNothing) {
    const std::pair<std::string, std::string> cases[] = {
        {"no-etag", "ETag"}, {"no-commit", "X-Repo-Commit"}, {"no-size", "size"}};
    for (const auto &[name, field] : cases) {
        SCOPED_TRACE(name);
        std::string msg;
        EXPECT_EQ(status_of([&] { hfk::hub::prepare("hfkit-test/" + name, options()); }, &msg),
                  HFK_E_FORMAT);
        EXPECT_NE(msg.find("hfkit-test/" + name), std::string::npos) << msg;
        EXPECT_NE(msg.find(field), std::string::npos) << msg;
        for (const char *sub : {"blobs", "snapshots", "refs"})
            EXPECT_TRUE(files_under(repo(name) / sub).empty()) << sub << " was written";
    }
    EXPECT_EQ(server->count("cdn", "GET"), 0);
}

// D22 with a complete cached copy of that revision: prepare() resolves the commit through the
// API and finds every file already in the cache, so it never asks for the broken metadata
// (no HEAD at all). fetch_file() does ask (HEAD), gets the broken answer and falls back to the
// cached copy (HR11: only REVISION_NOT_FOUND / ENTRY_NOT_FOUND skip the fallback).
TEST_F(Faults, MissingFileMetadataWithACompleteCacheUsesTheCache) {
    Options o = options();
    const auto base = hfk::hub::prepare("hfkit-test/aidreams260K", o);
    for (const std::string name : {"no-etag", "no-commit", "no-size"}) {
        SCOPED_TRACE(name);
        // The same files under this repo's own commit: blobs copied, pointers, refs/main.
        const std::string commit = server->get("/api/models/hfkit-test/" + name)["sha"];
        ASSERT_TRUE(hfk::hub::valid_commit(commit));
        const fs::path r = repo(name);
        fs::create_directories(r / "blobs");
        fs::create_directories(r / "snapshots" / commit);
        fs::create_directories(r / "refs");
        for (const auto &e : fs::directory_iterator(repo("aidreams260K") / "blobs"))
            if (hfk::hub::valid_etag(e.path().filename().string()))
                fs::copy_file(e.path(), r / "blobs" / e.path().filename());
        for (const auto &e : fs::directory_iterator(base.dir))
            fs::create_symlink(fs::read_symlink(e.path()),
                               r / "snapshots" / commit / e.path().filename());
        std::ofstream(r / "refs" / "main") << commit;
        ASSERT_TRUE(hfk::hub::is_downloaded("hfkit-test/" + name, "main", o.cache_dir));

        server->clear_log();
        const auto snap = hfk::hub::prepare("hfkit-test/" + name, o);
        EXPECT_EQ(snap.commit, commit);
        EXPECT_EQ(snap.dir, r / "snapshots" / commit);
        EXPECT_EQ(server->count("hub", "HEAD"), 0);
        EXPECT_EQ(read_all(snap.dir / "model.safetensors"), model_bytes());

        server->clear_log();
        std::string msg;
        fs::path got;
        EXPECT_EQ(
            status_of([&] { got = hfk::hub::fetch_file("hfkit-test/" + name, "config.json", o); },
                      &msg),
            0)
            << msg;
        EXPECT_EQ(got, r / "snapshots" / commit / "config.json");
        EXPECT_EQ(server->count("hub", "HEAD", "config.json"), 1);
        EXPECT_EQ(files_under(r / "blobs").size(), 6u) << "nothing new written";
    }
}

// RELIABILITY D13: 429 with Retry-After: 1 (integer seconds) is honoured: each retry of a
// rate-limited URL comes at least ~0.9 s after its 429 (the log's `t` is when each request
// ended). The fixture's 200 ms cap on waits is lifted for this test.
TEST_F(Faults, RateLimitWaitsForRetryAfterSeconds) {
    const ConfigRun run = prepare_config("hfkit-test/ratelimited", "20", "5000");
    ASSERT_EQ(run.status, 0) << run.message;
    EXPECT_TRUE(fs::exists(run.dir / "config.json"));
    auto log = server->log();
    int pairs = 0;
    for (size_t i = 0; i < log.size(); ++i) {
        if (log[i]["status"] != 429) continue;
        for (size_t k = i + 1; k < log.size(); ++k)
            if (log[k]["method"] == log[i]["method"] && log[k]["path"] == log[i]["path"]) {
                const double gap = log[k]["t"].get<double>() - log[i]["t"].get<double>();
                EXPECT_GE(gap, 0.9) << log[i]["method"] << " " << log[i]["path"];
                EXPECT_NE(log[k]["status"], 429);
                ++pairs;
                break;
            }
    }
    EXPECT_EQ(pairs, 3) << "the API call, the HEAD and the GET of config.json were each limited";
}

// D13, second half: a Retry-After in HTTP-date form (an hour ahead) is ignored: the default
// backoff (20 ms in tests) applies and the call succeeds quickly.
TEST_F(Faults, RetryAfterAsAnHttpDateIsIgnored) {
    const ConfigRun run = prepare_config("hfkit-test/ratelimited-date", "20", "5000");
    ASSERT_EQ(run.status, 0) << run.message;
    EXPECT_LT(run.seconds, 2.5);
    auto log = server->log();
    int pairs = 0;
    for (size_t i = 0; i < log.size(); ++i) {
        if (log[i]["status"] != 429) continue;
        for (size_t k = i + 1; k < log.size(); ++k)
            if (log[k]["method"] == log[i]["method"] && log[k]["path"] == log[i]["path"]) {
                EXPECT_LT(log[k]["t"].get<double>() - log[i]["t"].get<double>(), 0.9);
                ++pairs;
                break;
            }
    }
    EXPECT_EQ(pairs, 3);
}

// RELIABILITY D31: a prepare waiting for a blob's lock (held here by the test, as another
// process would) is cancelled promptly, and changes nothing: no partial, no blob, no CDN
// request.
TEST_F(Faults, CancelWhileWaitingForTheBlobLock) {
    Options o = only_weights(options());
    const int fd = hold_weights_lock(o);
    ASSERT_GE(fd, 0);
    std::atomic<bool> cancel{false};
    o.cancel = &cancel;
    std::chrono::steady_clock::time_point set_at;
    std::thread t([&] {
        std::this_thread::sleep_for(std::chrono::milliseconds(200));
        set_at = std::chrono::steady_clock::now();
        cancel = true;
    });
    std::string msg;
    const int st = status_of([&] { hfk::hub::prepare("hfkit-test/aidreams260K", o); }, &msg);
    const auto ended = std::chrono::steady_clock::now();
    t.join();
    close(fd);
    EXPECT_EQ(st, HFK_E_CANCELLED) << msg;
    EXPECT_LT(ended - set_at, std::chrono::milliseconds(500));
    // It was waiting for the lock: the metadata came, the CDN was never asked.
    EXPECT_EQ(server->count("hub", "HEAD", "model.safetensors"), 1);
    EXPECT_EQ(server->count("cdn", "GET"), 0);
    const fs::path r = repo("aidreams260K");
    EXPECT_FALSE(fs::exists(r / "blobs" / kModelSha));
    EXPECT_TRUE(partial_files(r).empty());
    EXPECT_FALSE(fs::exists(r / "refs" / "main"));
}

// RELIABILITY D27, the waiting side: while another holder has the blob's lock (the test, as
// another process would), the waiter reports that holder's partial file as its progress, then
// takes over the partial once the lock is free and fetches only the rest.
TEST_F(Faults, WaitingForTheBlobLockReportsTheHoldersProgress) {
    Options o = only_weights(options());
    const int fd = hold_weights_lock(o);
    ASSERT_GE(fd, 0);
    const std::string bytes = model_bytes();
    const fs::path part = plant_partial("aidreams260K", bytes.substr(0, 100000));

    std::atomic<int64_t> seen{0};
    o.progress = [&](const hfk::hub::Progress &p) {
        if (p.file_name == "model.safetensors") seen = std::max<int64_t>(seen, p.file_bytes_done);
        return false;
    };
    auto wait_for = [&](int64_t n) {
        const auto until = std::chrono::steady_clock::now() + std::chrono::seconds(10);
        while (seen.load() < n && std::chrono::steady_clock::now() < until)
            std::this_thread::sleep_for(std::chrono::milliseconds(10));
        return seen.load();
    };
    std::string msg;
    int st = -1;
    std::thread t(
        [&] { st = status_of([&] { hfk::hub::prepare("hfkit-test/aidreams260K", o); }, &msg); });
    EXPECT_EQ(wait_for(100000), 100000);
    std::ofstream(part, std::ios::binary | std::ios::app) << bytes.substr(100000, 200000);
    EXPECT_EQ(wait_for(300000), 300000) << "progress follows the holder's file while waiting";
    EXPECT_EQ(server->count("cdn", "GET"), 0) << "nothing is fetched while the lock is held";
    close(fd);  // the holder goes away, leaving its partial
    t.join();
    ASSERT_EQ(st, 0) << msg;
    EXPECT_EQ(read_all(repo("aidreams260K") / "blobs" / kModelSha), bytes);
    std::vector<std::string> ranges;
    for (const auto &e : requests_on(server->log(), "cdn"))
        ranges.push_back(e["range"].is_string() ? e["range"].get<std::string>() : "none");
    EXPECT_EQ(ranges, std::vector<std::string>{"bytes=300000-"});
}
