// The inspector against the local Hub (tests/hub/hub_server.py): it downloads config.json and the
// header bytes of the weights, never the weights; the request log is the witness.
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <iterator>

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "../hub/hub_server_fixture.h"
#include "inspect/inspect.h"
#include "util/error.h"

namespace {

namespace fs = std::filesystem;

fs::path models_dir() {
    return fs::path(hfk_test::shared_dir()) / "models";
}

using hfk_test::read_all;
using hfk_test::write_all;

// A sharded copy of tiny-llama-gqa-f32 (two shards + index), served as hfkit-test/sharded.
// Made before the server starts (server_args() runs in SetUp).
class ShardedDir : public hfk_test::TempDir {
  public:
    ShardedDir() : TempDir("hfk-inspect-sharded") {
        const fs::path src = models_dir() / "tiny" / "tiny-llama-gqa-f32";
        fs::copy_file(src / "config.json", path / "config.json");
        const std::string bytes = read_all(src / "model.safetensors");
        uint64_t hlen = 0;
        for (int i = 7; i >= 0; --i) hlen = (hlen << 8) | uint8_t(bytes[size_t(i)]);
        nlohmann::json header = nlohmann::json::parse(bytes.substr(8, hlen));
        header.erase("__metadata__");
        const std::string data = bytes.substr(8 + hlen);
        nlohmann::json heads[2] = {nlohmann::json::object(), nlohmann::json::object()};
        std::string datas[2];
        nlohmann::json index = {{"metadata", {{"total_size", data.size()}}},
                                {"weight_map", nlohmann::json::object()}};
        const char *names[2] = {"model-00001-of-00002.safetensors",
                                "model-00002-of-00002.safetensors"};
        int k = 0;
        for (auto it = header.begin(); it != header.end(); ++it, ++k) {
            const int s = k % 2;
            const uint64_t b = it.value()["data_offsets"][0], e = it.value()["data_offsets"][1];
            nlohmann::json t = it.value();
            t["data_offsets"] = {datas[s].size(), datas[s].size() + (e - b)};
            datas[s] += data.substr(b, e - b);
            heads[s][it.key()] = t;
            index["weight_map"][it.key()] = names[s];
        }
        for (int s = 0; s < 2; ++s) {
            std::string h = heads[s].dump();
            std::string len(8, '\0');
            for (int i = 0; i < 8; ++i) len[size_t(i)] = char((h.size() >> (8 * i)) & 0xff);
            write_all(path / names[s], len + h + datas[s]);
        }
        write_all(path / "model.safetensors.index.json", index.dump(2));
    }
};

class InspectHub : public hfk_test::HubServerTest {
  protected:
    std::vector<std::string> server_args() override {
        return {"--repo", "sharded=" + sharded.path.string()};
    }
    hfk::InspectOptions opts() const {
        hfk::InspectOptions o;
        o.hub = options();
        return o;
    }
    // Every request for a .safetensors file (Hub and CDN): it must carry a Range, and the bytes
    // sent for them all are returned.
    uint64_t weight_bytes_sent(int *requests) const {
        uint64_t bytes = 0;
        int n = 0;
        for (auto &e : server->log()) {
            const std::string path = e["path"].get<std::string>();
            const bool weights = path.find(".safetensors") != std::string::npos &&
                                 path.find(".index.json") == std::string::npos;
            // CDN paths name the blob by sha256, not by file name.
            const bool cdn_blob = e["host"] == "cdn" && path.rfind("/cdn/", 0) == 0;
            if (!weights && !cdn_blob) continue;
            ++n;
            EXPECT_FALSE(e["range"].is_null()) << "request without Range: " << e.dump();
            bytes += e["bytes"].get<uint64_t>();
        }
        *requests = n;
        return bytes;
    }
    ShardedDir sharded;
};

TEST_F(InspectHub, DownloadsOnlyTheConfigAndTheHeaderBytes) {
    const fs::path local = models_dir() / "tiny-gpt2";
    hfk::Inspection r = hfk::inspect_model("hfkit-test/tiny-gpt2", opts());
    EXPECT_TRUE(r.parameters_exact);
    EXPECT_EQ(r.parameters, 102'714u);
    EXPECT_EQ(r.stored_weight_bytes, fs::file_size(local / "model.safetensors"));
    EXPECT_EQ(r.download_bytes, r.stored_weight_bytes);
    EXPECT_EQ(r.source, "hfkit-test/tiny-gpt2");

    int requests = 0;
    const uint64_t sent = weight_bytes_sent(&requests);
    EXPECT_GE(requests, 2);  // 8 bytes, then the header
    // The header is 2432 bytes (+8) of a 413 KB file: only that may have been sent (plus the
    // Hub's short "Found. Redirecting" bodies of the LFS redirects).
    EXPECT_LE(sent, 8u + 2432u + 2 * 64u);
    EXPECT_LT(sent, r.stored_weight_bytes / 100);
    EXPECT_GE(
        server->count("hub", "GET", "/config.json") + server->count("hub", "HEAD", "/config.json"),
        1);
    EXPECT_EQ(server->count("hub", "GET", "tokenizer"), 0);
    EXPECT_FALSE(server->token_reached_cdn());
}

TEST_F(InspectHub, ShardedRepoReadsEachShardHeader) {
    hfk::Inspection r = hfk::inspect_model("hfkit-test/sharded", opts());
    EXPECT_TRUE(r.parameters_exact);
    EXPECT_EQ(r.parameters, 21'664u);
    EXPECT_EQ(r.weight_files.size(), 2u);
    uint64_t total = 0;
    for (auto &f : r.weight_files) total += fs::file_size(sharded.path / f);
    EXPECT_EQ(r.stored_weight_bytes, total);
    int requests = 0;
    const uint64_t sent = weight_bytes_sent(&requests);
    EXPECT_GE(requests, 4);
    EXPECT_LT(sent, total / 10);
    EXPECT_GE(server->count("hub", "GET", "model.safetensors.index.json"), 1);
}

TEST_F(InspectHub, GatedRepoGivesTheGatedStatusAndMessage) {
    try {
        hfk::inspect_model("hfkit-test/gated", opts());
        ADD_FAILURE() << "expected HFK_E_GATED";
    } catch (const hfk::Error &e) {
        EXPECT_EQ(e.status(), HFK_E_GATED) << e.what();
        EXPECT_NE(std::string(e.what()).find("restricted"), std::string::npos) << e.what();
    }
    int requests = 0;
    EXPECT_EQ(weight_bytes_sent(&requests), 0u);
}

TEST_F(InspectHub, MissingRepoIsNotFound) {
    try {
        hfk::inspect_model("hfkit-test/no-such-model", opts());
        ADD_FAILURE() << "expected HFK_E_NOT_FOUND";
    } catch (const hfk::Error &e) {
        EXPECT_EQ(e.status(), HFK_E_NOT_FOUND) << e.what();
    }
}

TEST_F(InspectHub, ServerIgnoringRangeStillYieldsTheHeader) {
    // hfkit-test/norange is aidreams260K behind a CDN that always sends 200 with the whole body.
    hfk::Inspection r = hfk::inspect_model("hfkit-test/norange", opts());
    EXPECT_TRUE(r.parameters_exact);
    EXPECT_EQ(r.parameters, 230'976u);
}

TEST_F(InspectHub, OfflineWithoutCacheIsOffline) {
    hfk::InspectOptions o = opts();
    o.hub.offline = 1;
    try {
        hfk::inspect_model("hfkit-test/tiny-gpt2", o);
        ADD_FAILURE() << "expected HFK_E_OFFLINE";
    } catch (const hfk::Error &e) {
        EXPECT_EQ(e.status(), HFK_E_OFFLINE) << e.what();
    }
}

TEST_F(InspectHub, OfflineAnswersFromACompleteCachedSnapshot) {
    hfk::hub::prepare("hfkit-test/tiny-llama-gqa-f32", options());
    hfk::InspectOptions o = opts();
    o.hub.offline = 1;
    hfk::Inspection r = hfk::inspect_model("hfkit-test/tiny-llama-gqa-f32", o);
    EXPECT_EQ(r.parameters, 21'664u);
    EXPECT_TRUE(r.parameters_exact);
    EXPECT_EQ(r.download_bytes, 0u);
}

}  // namespace
