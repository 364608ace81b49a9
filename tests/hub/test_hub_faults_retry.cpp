// RELIABILITY.md (b) "Download, cache, concurrency, faults", D12, D13, D37: retries, backoff and
// stalls, against the local Hub. The fixture and helpers shared by every test_hub_faults_*.cpp are
// in hub_faults_fixture.h.
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
