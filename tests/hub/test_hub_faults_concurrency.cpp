// RELIABILITY.md (b) "Download, cache, concurrency, faults", D27, D29, D31: concurrent downloads,
// locks and cancellation, against the local Hub. The fixture and helpers shared by every
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
