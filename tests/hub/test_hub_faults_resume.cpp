// RELIABILITY.md (b) "Download, cache, concurrency, faults", D2-D8: interrupted downloads and
// resume, against the local Hub. The fixture and helpers shared by every test_hub_faults_*.cpp are
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
