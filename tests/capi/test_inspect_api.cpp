// The inspector through the public C API (issue 9): the struct and the JSON agree, a Hub id is
// answered from the config and header bytes alone, errors carry their status, and the options
// struct is checked.
#include <gtest/gtest.h>

#include <cstddef>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <string>

#include "../hub/hub_server_fixture.h"
#include "hfkit/hfkit.h"

namespace {

namespace fs = std::filesystem;
using hfk_test::HubServerTest;

fs::path shared_models() {
    return fs::path(hfk_test::shared_dir()) / "models";
}

class InspectApi : public HubServerTest {
  protected:
    void SetUp() override {
        HubServerTest::SetUp();
        endpoint_ = server->endpoint;
        cache_dir_ = (cache.path / "hub").string();
        HFK_HUB_PARAMS_INIT(&hub_);
        hub_.endpoint = endpoint_.c_str();
        hub_.cache_dir = cache_dir_.c_str();
        hub_.token = "";
        HFK_INSPECT_PARAMS_INIT(&params_);
        params_.hub = &hub_;
    }
    // Bytes of weight files (by name, or CDN blobs) the server sent.
    uint64_t weight_bytes_sent() const {
        uint64_t bytes = 0;
        for (auto &e : server->log()) {
            const std::string path = e["path"].get<std::string>();
            const bool weights = path.find(".safetensors") != std::string::npos &&
                                 path.find(".index.json") == std::string::npos;
            if (weights || (e["host"] == "cdn" && path.rfind("/cdn/", 0) == 0))
                bytes += e["bytes"].get<uint64_t>();
        }
        return bytes;
    }
    std::string endpoint_, cache_dir_;
    hfk_hub_params hub_;
    hfk_inspect_params params_;
};

TEST_F(InspectApi, HubIdGivesExactCountsFromHeadersWithoutTheWeights) {
    hfk_inspection *ins = nullptr;
    ASSERT_EQ(hfk_inspect(&ins, "hfkit-test/tiny-gpt2", &params_), HFK_OK)
        << hfk_last_error_message();
    const hfk_model_info *info = hfk_inspection_info(ins);
    ASSERT_NE(info, nullptr);
    EXPECT_EQ(info->struct_size, sizeof(hfk_model_info));
    EXPECT_STREQ(info->source, "hfkit-test/tiny-gpt2");
    EXPECT_STREQ(info->model_type, "gpt2");
    EXPECT_STREQ(info->parameters_source, "safetensors_headers");
    EXPECT_EQ(info->parameters_exact, 1);
    EXPECT_EQ(info->parameters, 102'714u);
    const uint64_t file = fs::file_size(shared_models() / "tiny-gpt2" / "model.safetensors");
    EXPECT_EQ(info->stored_weight_bytes, file);
    EXPECT_EQ(info->download_bytes, file) << "nothing is cached yet";
    EXPECT_LT(weight_bytes_sent(), file / 100) << "more than the header bytes were fetched";
    EXPECT_EQ(info->supported_for_inference, 1);

    // The JSON says the same.
    const auto j = nlohmann::json::parse(hfk_inspection_json(ins));
    EXPECT_EQ(j["parameters"].get<uint64_t>(), info->parameters);
    EXPECT_EQ(j["kv_bytes_per_token"].get<uint64_t>(), info->kv_bytes_per_token);
    EXPECT_EQ(j["resident_estimate"].get<uint64_t>(), info->resident_estimate);
    EXPECT_EQ(j["weight_bytes"]["q4_0"].get<uint64_t>(), info->weight_bytes_q4_0);
    EXPECT_EQ(j["layers"].get<int64_t>(), info->layers);
    hfk_inspection_free(ins);
}

TEST_F(InspectApi, KvBytesFollowTheFormulaAndTheOptions) {
    // A GQA model: 2 x layers x kv_heads x head_dim x bytes per element.
    const std::string dir = (shared_models() / "tiny" / "tiny-llama-gqa-f32").string();
    params_.context_length = 100;
    params_.batch = 3;
    params_.kv_bytes_per_element = 4;
    hfk_inspection *ins = nullptr;
    ASSERT_EQ(hfk_inspect(&ins, dir.c_str(), &params_), HFK_OK) << hfk_last_error_message();
    const hfk_model_info *i = hfk_inspection_info(ins);
    const auto cfg = nlohmann::json::parse(std::ifstream(dir + "/config.json"));
    const int64_t layers = cfg["num_hidden_layers"], heads = cfg["num_attention_heads"],
                  kv_heads = cfg.value("num_key_value_heads", heads),
                  head_dim = cfg["hidden_size"].get<int64_t>() / heads;
    EXPECT_LT(kv_heads, heads) << "the fixture should be GQA";
    EXPECT_EQ(i->kv_bytes_per_token, static_cast<uint64_t>(2 * layers * kv_heads * head_dim * 4));
    EXPECT_EQ(i->kv_context_length, 100);
    EXPECT_EQ(i->batch, 3);
    EXPECT_EQ(i->kv_bytes_total, i->kv_bytes_per_token * 100 * 3);
    EXPECT_EQ(i->download_bytes, 0u) << "a local directory has nothing to download";
    EXPECT_EQ(weight_bytes_sent(), 0u);
    hfk_inspection_free(ins);
}

TEST_F(InspectApi, ErrorsCarryTheirStatusAndMessage) {
    hfk_inspection *ins = reinterpret_cast<hfk_inspection *>(0x1);
    EXPECT_EQ(hfk_inspect(&ins, "hfkit-test/gated", &params_), HFK_E_GATED);
    EXPECT_EQ(ins, nullptr) << "*out is cleared on failure";
    EXPECT_NE(std::string(hfk_last_error_message()).find("restricted"), std::string::npos)
        << hfk_last_error_message();
    EXPECT_EQ(hfk_inspect(&ins, "hfkit-test/no-such-model", &params_), HFK_E_NOT_FOUND);
    EXPECT_EQ(hfk_inspect(&ins, "/no/such/dir", &params_), HFK_E_NOT_FOUND);
    EXPECT_EQ(hfk_inspect(&ins, nullptr, &params_), HFK_E_INVALID_ARG);
    EXPECT_EQ(hfk_inspect(nullptr, "x", &params_), HFK_E_INVALID_ARG);
    params_.kv_bytes_per_element = 3;
    EXPECT_EQ(hfk_inspect(&ins, "hfkit-test/tiny-gpt2", &params_), HFK_E_INVALID_ARG);
    EXPECT_NE(std::string(hfk_last_error_message()).find("kv_bytes_per_element"),
              std::string::npos);
    params_.kv_bytes_per_element = 0;
    params_.struct_size = 2;  // never initialised
    EXPECT_EQ(hfk_inspect(&ins, "hfkit-test/tiny-gpt2", &params_), HFK_E_INVALID_ARG);

    // Unreachable Hub: a network error, not a crash or a hang.
    params_.struct_size = sizeof params_;
    hub_.endpoint = "http://127.0.0.1:1";
    EXPECT_EQ(hfk_inspect(&ins, "hfkit-test/tiny-gpt2", &params_), HFK_E_NETWORK)
        << hfk_last_error_message();

    EXPECT_EQ(hfk_inspection_info(nullptr), nullptr);
    EXPECT_EQ(hfk_inspection_json(nullptr), nullptr);
    hfk_inspection_free(nullptr);
}

TEST_F(InspectApi, AnOlderCallerStructGetsDefaultsForTheRest) {
    // A caller built when hfk_inspect_params ended at `batch` (no kv_bytes_per_element, no hub):
    // the library must not read past its struct_size.
    hfk_inspect_params old;
    ASSERT_EQ(hfk_inspect_params_init(&old, offsetof(hfk_inspect_params, kv_bytes_per_element)),
              HFK_OK);
    old.context_length = 64;
    const std::string cfg =
        (shared_models() / "tiny" / "tiny-llama-gqa-f32" / "config.json").string();
    hfk_inspection *ins = nullptr;
    ASSERT_EQ(hfk_inspect(&ins, cfg.c_str(), &old), HFK_OK) << hfk_last_error_message();
    EXPECT_EQ(hfk_inspection_info(ins)->kv_bytes_per_element, 2);
    EXPECT_EQ(hfk_inspection_info(ins)->kv_context_length, 64);
    hfk_inspection_free(ins);
}

}  // namespace
