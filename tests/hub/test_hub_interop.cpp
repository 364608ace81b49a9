// Interop with the npm package @huggingface/hub (tests/hub/js, installed with
// `npm ci --prefix tests/hub/js`): it reads the cache hfkit writes, and hfkit finds offline what
// it downloads. Fails (does not skip) when the package is not installed.
#include <cstdio>
#include <set>

#include "hub_server_fixture.h"
#include "util/error.h"

namespace fs = std::filesystem;
using hfk::hub::Options;

namespace {

fs::path js_dir() {
    return fs::path(hfk_test::source_dir()) / "tests" / "hub" / "js";
}

// Runs a node script from tests/hub/js and returns its last stdout line parsed as JSON.
nlohmann::json run_node(const std::string &script, const std::vector<std::string> &args) {
    std::string cmd = "cd '" + js_dir().string() + "' && node " + script;
    for (auto &a : args) cmd += " '" + a + "'";
    cmd += " 2>&1";
    FILE *p = popen(cmd.c_str(), "r");
    if (!p) return nullptr;
    std::string out, last;
    char buf[4096];
    while (fgets(buf, sizeof buf, p)) out += buf;
    int rc = pclose(p);
    size_t end = out.find_last_not_of('\n');
    if (end != std::string::npos) {
        size_t start = out.rfind('\n', end);
        last = out.substr(start == std::string::npos ? 0 : start + 1,
                          end + 1 - (start == std::string::npos ? 0 : start + 1));
    }
    auto j = nlohmann::json::parse(last, nullptr, false);
    EXPECT_EQ(rc, 0) << cmd << "\n" << out;
    EXPECT_FALSE(j.is_discarded()) << out;
    return j;
}

}  // namespace

class NpmInterop : public hfk_test::HubServerTest {
  protected:
    void SetUp() override {
        HubServerTest::SetUp();
        ASSERT_TRUE(fs::exists(js_dir() / "node_modules" / "@huggingface" / "hub" / "package.json"))
            << "@huggingface/hub is not installed: run `npm ci --prefix " << js_dir().string()
            << "`";
    }
};

TEST_F(NpmInterop, ScanCacheDirReadsTheCacheHfkitWrote) {
    Options o = options();
    auto a = hfk::hub::prepare("hfkit-test/aidreams260K", o);
    auto b = hfk::hub::prepare("hfkit-test/tiny-gpt2", o);
    auto j = run_node("scan_cache.mjs", {o.cache_dir});
    ASSERT_TRUE(j.is_object());
    EXPECT_TRUE(j["warnings"].empty()) << j.dump();
    ASSERT_EQ(j["repos"].size(), 2u) << j.dump();
    std::set<std::string> ids;
    for (auto &r : j["repos"]) {
        ids.insert(r["id"]);
        EXPECT_EQ(r["type"], "model");
        ASSERT_EQ(r["revisions"].size(), 1u);
        auto &rev = r["revisions"][0];
        const auto &snap = r["id"] == "hfkit-test/aidreams260K" ? a : b;
        EXPECT_EQ(rev["commit"], snap.commit);
        EXPECT_EQ(rev["refs"], nlohmann::json::array({"main"}));
        std::set<std::string> files;
        for (auto &e : fs::directory_iterator(snap.dir)) files.insert(e.path().filename().string());
        EXPECT_EQ(rev["files"].get<std::set<std::string>>(), files);
        EXPECT_EQ(r["size"].get<uint64_t>(),
                  hfk::hub::disk_usage(o.cache_dir, r["id"].get<std::string>()));
    }
    EXPECT_EQ(ids, (std::set<std::string>{"hfkit-test/aidreams260K", "hfkit-test/tiny-gpt2"}));
    EXPECT_EQ(j["size"].get<uint64_t>(), hfk::hub::disk_usage(o.cache_dir, ""));
}

TEST_F(NpmInterop, HfkitFindsOfflineWhatTheNpmPackageDownloaded) {
    Options o = options();
    auto j = run_node("snapshot_download.mjs",
                      {server->endpoint, o.cache_dir, "hfkit-test/aidreams260K"});
    ASSERT_TRUE(j.is_object());
    std::string dir = j["dir"];
    server->stop();  // no network from here on
    EXPECT_TRUE(hfk::hub::is_downloaded("hfkit-test/aidreams260K", "main", o.cache_dir));
    auto cached = hfk::hub::find_cached("hfkit-test/aidreams260K", "main", o.cache_dir);
    ASSERT_TRUE(cached.has_value());
    EXPECT_EQ(cached->dir, fs::path(dir));
    o.offline = 1;
    auto snap = hfk::hub::prepare("hfkit-test/aidreams260K", o);
    EXPECT_EQ(snap.dir, fs::path(dir));
    EXPECT_EQ(hfk::hub::fetch_file("hfkit-test/aidreams260K", "tokenizer.json", o),
              snap.dir / "tokenizer.json");
    auto repos = hfk::hub::scan_cache(o.cache_dir);
    ASSERT_EQ(repos.size(), 1u);
    EXPECT_EQ(repos[0].revisions.at(0).n_files, 7);  // PROVENANCE.md too: it downloads everything
}

TEST_F(NpmInterop, NpmReusesBlobsHfkitDownloaded) {
    Options o = options();
    hfk::hub::prepare("hfkit-test/aidreams260K", o);
    server->clear_log();
    run_node("snapshot_download.mjs", {server->endpoint, o.cache_dir, "hfkit-test/aidreams260K"});
    // Only PROVENANCE.md (which hfkit skips) is fetched; the weights are not downloaded again.
    EXPECT_EQ(server->count("cdn", "GET"), 0);
}
