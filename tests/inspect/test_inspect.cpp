// The inspector on local files: exact counts from the shared checkpoints' headers, config-only
// formulas against published totals, KV-cache arithmetic, multimodal configs and hostile input.
#include <cmath>
#include <map>

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "inspect/inspect.h"
#include "inspect_test_util.h"
#include "model/config.h"

namespace {

using namespace inspect_test;
using hfk::Inspection;
using hfk::InspectOptions;

hfk::ModelConfig fixture_config(const std::string &name) {
    return hfk::parse_config(read_all(fixtures() / (name + ".json")), name + ".json");
}

// ---- config-only counts for published configurations (issue 9's table) ----

struct Published {
    const char *name;
    uint64_t parameters;
};
const Published kPublished[] = {
    {"gpt2", 124'439'808},
    {"distilgpt2", 81'912'576},
    {"bert-base-uncased", 109'482'240},
    {"SmolLM-135M", 134'515'008},
    {"Qwen2.5-0.5B", 494'032'768},
    {"TinyLlama-1.1B", 1'100'048'384},
    {"Llama-2-7b", 6'738'415'616},
    {"Mistral-7B-v0.1", 7'241'732'096},
    {"Meta-Llama-3-8B", 8'030'261'248},
    {"Mixtral-8x7B-v0.1", 46'702'792'704},
    {"Qwen3-30B-A3B", 30'532'122'624},  // the Hub's safetensors total
};

TEST(InspectConfigCount, PublishedConfigsWithinPointOnePercent) {
    for (const Published &p : kPublished) {
        SCOPED_TRACE(p.name);
        const uint64_t n = hfk::count_parameters_from_config(fixture_config(p.name));
        EXPECT_LE(std::fabs(double(n) - double(p.parameters)), 0.001 * double(p.parameters))
            << n << " vs " << p.parameters;
        EXPECT_EQ(n, p.parameters);  // the formulas are exact for these families
        EXPECT_EQ(hfk::parameter_count_method(fixture_config(p.name)), "config");
    }
}

TEST(InspectConfigCount, MixtralActiveParameters) {
    uint64_t active = 0;
    const uint64_t total =
        hfk::count_parameters_from_config(fixture_config("Mixtral-8x7B-v0.1"), &active);
    EXPECT_EQ(total, 46'702'792'704u);
    // 2 of 8 experts per token: embeddings, head, attention, norms, routers + 2 expert MLPs.
    EXPECT_EQ(active, 12'879'925'248u);
    uint64_t dense_active = 0;
    EXPECT_EQ(hfk::count_parameters_from_config(fixture_config("Llama-2-7b"), &dense_active),
              dense_active);
}

// Qwen3-MoE (issue 17): 8 of 128 experts of moe_intermediate_size 768 per token. By hand: per
// layer attention 18'874'368 + q/k norms 256 + 2 norms 4'096 + router 262'144 + 8 experts of
// 3 * 2048 * 768 = 37'748'736; x 48 layers, + embeddings, head and final norm 622'331'904.
TEST(InspectConfigCount, Qwen3MoeActiveParameters) {
    uint64_t active = 0;
    EXPECT_EQ(hfk::count_parameters_from_config(fixture_config("Qwen3-30B-A3B"), &active),
              30'532'122'624u);
    EXPECT_EQ(active, 3'353'032'704u);  // "3.3B activated"
    Inspection r = hfk::inspect_model((fixtures() / "Qwen3-30B-A3B.json").string(), {});
    EXPECT_EQ(r.num_experts, 128);
    EXPECT_EQ(r.experts_per_token, 8);
    EXPECT_EQ(r.active_parameters, 3'353'032'704u);
    EXPECT_TRUE(r.supported_for_inference) << r.unsupported_reason;
}

TEST(InspectConfigCount, InspectingAFixturePathReportsTheConfigFields) {
    Inspection r = hfk::inspect_model((fixtures() / "Meta-Llama-3-8B.json").string(), {});
    EXPECT_EQ(r.parameters, 8'030'261'248u);
    EXPECT_FALSE(r.parameters_exact);
    EXPECT_EQ(r.parameters_source, "config");
    EXPECT_EQ(r.model_type, "llama");
    EXPECT_EQ(r.architecture, "LlamaForCausalLM");
    EXPECT_TRUE(r.supported_for_inference) << r.unsupported_reason;
    EXPECT_EQ(r.vocab_size, 128256);
    EXPECT_EQ(r.context_length, 8192);
    EXPECT_EQ(r.layers, 32);
    EXPECT_EQ(r.heads, 32);
    EXPECT_EQ(r.kv_heads, 8);
    EXPECT_EQ(r.head_dim, 128);
    EXPECT_EQ(r.hidden_size, 4096);
    EXPECT_EQ(r.intermediate_size, 14336);
    EXPECT_FALSE(r.tied_embeddings);
    EXPECT_EQ(r.stored_dtype, "BF16");
    EXPECT_EQ(r.stored_weight_bytes, 2 * r.parameters);  // estimated from torch_dtype
    EXPECT_EQ(r.weight_bytes.f32, 4 * r.parameters);
    EXPECT_EQ(r.weight_bytes.f16, 2 * r.parameters);
    const uint64_t blocks = (r.parameters + 31) / 32;
    EXPECT_EQ(r.weight_bytes.q8, 34 * blocks);
    EXPECT_EQ(r.weight_bytes.q4, 18 * blocks);
    EXPECT_EQ(r.download_bytes, 0u);  // a local path
}

TEST(InspectConfigCount, MixtralIsReportedAsMoeAndRunnable) {
    Inspection r = hfk::inspect_model((fixtures() / "Mixtral-8x7B-v0.1.json").string(), {});
    EXPECT_EQ(r.num_experts, 8);
    EXPECT_EQ(r.experts_per_token, 2);
    EXPECT_EQ(r.parameters, 46'702'792'704u);
    EXPECT_EQ(r.active_parameters, 12'879'925'248u);
    EXPECT_TRUE(r.supported_for_inference) << r.unsupported_reason;  // issue 17
}

// ---- exact counts from the headers of every shared checkpoint ----

// Totals summed independently (Python, over each header's shapes).
const std::map<std::string, uint64_t> kHeaderTotals = {
    {"aidreams260K", 230'976},
    {"tiny-gpt2", 102'714},
    {"tiny-random-llama", 1'032'272},
    {"tiny/tiny-bert-bf16", 23'392},
    {"tiny/tiny-bert-f16", 23'392},
    {"tiny/tiny-bert-f32", 23'392},
    {"tiny/tiny-gpt2-bf16", 30'592},
    {"tiny/tiny-gpt2-f16", 30'592},
    {"tiny/tiny-gpt2-f32", 30'592},
    {"tiny/tiny-gpt2-prefixed-f32", 30'592},
    {"tiny/tiny-llama-gqa-bf16", 21'664},
    {"tiny/tiny-llama-gqa-f16", 21'664},
    {"tiny/tiny-llama-gqa-f32", 21'664},
    {"tiny/tiny-llama-tied-f32", 17'568},
    {"tiny/tiny-qwen2-bias-f32", 35'728},
};

// Every model directory under shared/models (and models/tiny): none may be left unchecked.
std::vector<std::string> shared_model_dirs() {
    std::vector<std::string> out;
    for (const auto &e : fs::directory_iterator(shared_models())) {
        if (!e.is_directory()) continue;
        const std::string name = e.path().filename().string();
        if (name == "tiny") {
            for (const auto &t : fs::directory_iterator(e.path()))
                if (t.is_directory()) out.push_back("tiny/" + t.path().filename().string());
        } else {
            out.push_back(name);
        }
    }
    std::sort(out.begin(), out.end());
    return out;
}

TEST(InspectHeaders, EverySharedModelExactAndEqualToTheConfigFormula) {
    const std::vector<std::string> dirs = shared_model_dirs();
    ASSERT_GE(dirs.size(), 15u);
    for (const std::string &d : dirs) {
        SCOPED_TRACE(d);
        const fs::path dir = shared_models() / d;
        Inspection r = hfk::inspect_model(dir.string(), {});
        EXPECT_TRUE(r.parameters_exact);
        EXPECT_EQ(r.parameters_source, "safetensors_headers");
        auto it = kHeaderTotals.find(d);
        ASSERT_NE(it, kHeaderTotals.end()) << "a new shared model: add its header total";
        EXPECT_EQ(r.parameters, it->second);
        EXPECT_EQ(r.active_parameters, r.parameters);
        // The config formula reproduces the header count exactly.
        EXPECT_EQ(hfk::count_parameters_from_config(hfk::load_config(dir)), r.parameters);
        EXPECT_EQ(r.stored_weight_bytes, fs::file_size(dir / "model.safetensors"));
        ASSERT_EQ(r.weight_files.size(), 1u);
        EXPECT_EQ(r.weight_files[0], "model.safetensors");
        const std::string want_dtype = d.ends_with("bf16")  ? "BF16"
                                       : d.ends_with("f16") ? "F16"
                                                            : "F32";
        EXPECT_EQ(r.stored_dtype, want_dtype);
        EXPECT_TRUE(r.supported_for_inference) << r.unsupported_reason;
        EXPECT_TRUE(r.fits_disk);
        EXPECT_EQ(r.download_bytes, 0u);
    }
}

TEST(InspectHeaders, ConfigPathReadsTheHeadersBesideIt) {
    const fs::path dir = shared_models() / "tiny" / "tiny-qwen2-bias-f32";
    Inspection r = hfk::inspect_model((dir / "config.json").string(), {});
    EXPECT_TRUE(r.parameters_exact);
    EXPECT_EQ(r.parameters, 35'728u);
}

TEST(InspectHeaders, ShardedCheckpointThroughItsIndex) {
    TempDir t;
    const fs::path src = shared_models() / "tiny" / "tiny-llama-gqa-f32";
    fs::copy_file(src / "config.json", t.path / "config.json");
    auto shards = split_into_shards(src / "model.safetensors", t.path, 3);
    Inspection r = hfk::inspect_model(t.path.string(), {});
    EXPECT_TRUE(r.parameters_exact);
    EXPECT_EQ(r.parameters, 21'664u);
    EXPECT_EQ(r.weight_files, shards);
    uint64_t bytes = 0;
    for (auto &s : shards) bytes += fs::file_size(t.path / s);
    EXPECT_EQ(r.stored_weight_bytes, bytes);
}

// GPT-2 exports carry the causal mask ("h.N.attn.bias", [1,1,n,n]), and some tied checkpoints
// store lm_head.weight anyway: neither is a parameter.
TEST(InspectHeaders, BuffersAndATiedDuplicateHeadAreNotParameters) {
    TempDir t;
    t.write("config.json", read_all(shared_models() / "tiny" / "tiny-gpt2-f32" / "config.json"));
    // Rebuild the tiny GPT-2 file with two extra tensors appended.
    const std::string bytes =
        read_all(shared_models() / "tiny" / "tiny-gpt2-f32" / "model.safetensors");
    uint64_t hlen = 0;
    for (int i = 7; i >= 0; --i) hlen = (hlen << 8) | uint8_t(bytes[size_t(i)]);
    nlohmann::json h = nlohmann::json::parse(bytes.substr(8, hlen));
    std::string data = bytes.substr(8 + hlen);
    const uint64_t mask_bytes = 64 * 64 * 4, head_bytes = 96 * 32 * 4;
    h["h.0.attn.bias"] = {{"dtype", "F32"},
                          {"shape", {1, 1, 64, 64}},
                          {"data_offsets", {data.size(), data.size() + mask_bytes}}};
    data += std::string(mask_bytes, '\0');
    h["lm_head.weight"] = {{"dtype", "F32"},
                           {"shape", {96, 32}},
                           {"data_offsets", {data.size(), data.size() + head_bytes}}};
    data += std::string(head_bytes, '\0');
    std::string hs = h.dump();
    t.write("model.safetensors", le64(hs.size()) + hs + data);
    Inspection r = hfk::inspect_model(t.path.string(), {});
    EXPECT_EQ(r.parameters, 30'592u);
}

// ---- KV cache ----

TEST(InspectKv, GqaBytesPerTokenIsTwoLayersKvHeadsHeadDimBytes) {
    const std::string path = (fixtures() / "Meta-Llama-3-8B.json").string();
    Inspection r = hfk::inspect_model(path, {});
    EXPECT_EQ(r.kv_bytes_per_element, 2);  // f16 by default
    EXPECT_EQ(r.kv_bytes_per_token, 2u * 32 * 8 * 128 * 2);
    EXPECT_EQ(r.kv_context_length, 8192);
    EXPECT_EQ(r.kv_bytes_total, r.kv_bytes_per_token * 8192);

    InspectOptions o;
    o.context_length = 4096;
    o.batch = 3;
    o.kv_bytes_per_element = 4;
    r = hfk::inspect_model(path, o);
    EXPECT_EQ(r.kv_bytes_per_token, 2u * 32 * 8 * 128 * 4);
    EXPECT_EQ(r.kv_bytes_total, r.kv_bytes_per_token * 4096 * 3);
    EXPECT_EQ(r.batch, 3);

    // A real GQA checkpoint: 2 layers, 2 KV heads of 8.
    r = hfk::inspect_model((shared_models() / "tiny" / "tiny-llama-gqa-f32").string(), {});
    EXPECT_EQ(r.kv_bytes_per_token, 2u * 2 * 2 * 8 * 2);
    // 1 KV head.
    r = hfk::inspect_model((shared_models() / "tiny" / "tiny-llama-tied-f32").string(), {});
    EXPECT_EQ(r.kv_bytes_per_token, 2u * 2 * 1 * 8 * 2);
}

TEST(InspectKv, ResidentEstimateFollowsTheDocumentedFormula) {
    InspectOptions o;
    o.context_length = 1000;
    o.batch = 2;
    Inspection r = hfk::inspect_model((fixtures() / "TinyLlama-1.1B.json").string(), o);
    const uint64_t overhead = (32ull << 20) + 2 * 4 * (32000 + 4 * 2048 + 2 * 5632 + 32 * 1000);
    EXPECT_EQ(r.overhead_bytes, overhead);
    EXPECT_EQ(r.resident_estimate, r.stored_weight_bytes + r.kv_bytes_total + overhead);
    EXPECT_EQ(r.fits_memory, r.available_memory > 0 && r.resident_estimate <= r.available_memory);
    EXPECT_GT(r.available_memory, 0u);  // Linux: /proc/meminfo
    EXPECT_GT(r.free_disk, 0u);
}

TEST(InspectKv, EncoderHasNoKvCache) {
    Inspection r = hfk::inspect_model((fixtures() / "bert-base-uncased.json").string(), {});
    EXPECT_EQ(r.kv_bytes_per_token, 0u);
    EXPECT_EQ(r.kv_bytes_total, 0u);
    EXPECT_EQ(r.parameters, 109'482'240u);
}

// ---- multimodal, unknown architectures, JSON ----

TEST(InspectReport, MultimodalConfigIsReportedNotRun) {
    Inspection r = hfk::inspect_model((fixtures() / "llava-1.5-7b.json").string(), {});
    EXPECT_TRUE(r.multimodal);
    EXPECT_FALSE(r.supported_for_inference);
    EXPECT_NE(r.unsupported_reason.find("vision_config"), std::string::npos)
        << r.unsupported_reason;
    EXPECT_EQ(r.model_type, "llava");
    EXPECT_EQ(r.architecture, "LlavaForConditionalGeneration");
    EXPECT_EQ(r.vocab_size, 32064);  // from text_config
    // The published text_config relies on LlamaConfig's defaults for its sizes: not guessed.
    EXPECT_EQ(r.parameters_source, "unknown");
    nlohmann::json j = nlohmann::json::parse(r.to_json());
    EXPECT_TRUE(j["multimodal"].get<bool>());
}

TEST(InspectReport, MultimodalWithAFullTextConfigCountsTheLanguageModel) {
    TempDir t;
    nlohmann::json c = nlohmann::json::parse(read_all(fixtures() / "llava-1.5-7b.json"));
    nlohmann::json llama = nlohmann::json::parse(read_all(fixtures() / "Llama-2-7b.json"));
    llama["vocab_size"] = 32000;
    c["text_config"] = llama;
    c["pad_token_id"] = 0;
    t.write("config.json", c.dump());
    Inspection r = hfk::inspect_model(t.path.string(), {});
    EXPECT_TRUE(r.multimodal);
    EXPECT_EQ(r.parameters, 6'738'415'616u);
    EXPECT_FALSE(r.parameters_exact);
}

TEST(InspectReport, UnknownDecoderGetsTheGenericEstimate) {
    TempDir t;
    t.write("config.json", R"({"model_type": "brandnew", "architectures": ["BrandNewForCausalLM"],
        "vocab_size": 1000, "hidden_size": 64, "num_hidden_layers": 2, "num_attention_heads": 4,
        "intermediate_size": 128, "max_position_embeddings": 256, "tie_word_embeddings": true})");
    Inspection r = hfk::inspect_model(t.path.string(), {});
    EXPECT_EQ(r.parameters_source, "estimate");
    // embed + 2 x (4 x 64 x 64 attention + 3 x 64 x 128 MLP + 2 x 64 norms) + final norm.
    EXPECT_EQ(r.parameters, 1000u * 64 + 2 * (4 * 64 * 64 + 3 * 64 * 128 + 128) + 64);
    EXPECT_FALSE(r.supported_for_inference);
    EXPECT_NE(r.unsupported_reason.find("brandnew"), std::string::npos);
}

TEST(InspectReport, JsonHasTheDocumentedFields) {
    Inspection r =
        hfk::inspect_model((shared_models() / "tiny" / "tiny-llama-gqa-bf16").string(), {});
    nlohmann::json j = nlohmann::json::parse(r.to_json());
    for (const char *k : {"source",
                          "model_type",
                          "architecture",
                          "supported_for_inference",
                          "unsupported_reason",
                          "multimodal",
                          "parameters",
                          "parameters_exact",
                          "parameters_source",
                          "active_parameters",
                          "vocab_size",
                          "context_length",
                          "layers",
                          "heads",
                          "kv_heads",
                          "head_dim",
                          "hidden_size",
                          "intermediate_size",
                          "num_experts",
                          "experts_per_token",
                          "tied_embeddings",
                          "stored_dtype",
                          "parameters_by_dtype",
                          "weight_files",
                          "stored_weight_bytes",
                          "weight_bytes",
                          "kv_bytes_per_element",
                          "kv_context_length",
                          "batch",
                          "kv_bytes_per_token",
                          "kv_bytes_total",
                          "overhead_bytes",
                          "resident_estimate",
                          "download_bytes",
                          "available_memory",
                          "free_disk",
                          "fits_memory",
                          "fits_disk",
                          "notes"})
        EXPECT_TRUE(j.contains(k)) << k;
    EXPECT_EQ(j["parameters"].get<uint64_t>(), 21'664u);
    EXPECT_EQ(j["stored_dtype"], "BF16");
    EXPECT_EQ(j["parameters_by_dtype"]["BF16"].get<uint64_t>(), 21'664u);
    EXPECT_EQ(j["weight_bytes"]["f16"].get<uint64_t>(), 2 * 21'664u);
    EXPECT_EQ(j["weight_bytes"]["q4_0"].get<uint64_t>(), 18 * ((21'664u + 31) / 32));
    EXPECT_EQ(j["weight_bytes"]["q4_1"].get<uint64_t>(), 20 * ((21'664u + 31) / 32));  // hfkit q4
    EXPECT_TRUE(j["fits_memory"].get<bool>());
}

TEST(InspectReport, InvalidUtf8SourceStillGivesJson) {
    Inspection r;
    r.source = "bad \xff\xfe name";
    EXPECT_TRUE(nlohmann::json::accept(r.to_json()));
}

// ---- hostile input ----

void expect_config_format_error(const std::string &config, const std::string &fragment) {
    SCOPED_TRACE(config.substr(0, 120));
    TempDir t;
    t.write("config.json", config);
    expect_error([&] { hfk::inspect_model(t.path.string(), {}); }, HFK_E_FORMAT, {fragment});
}

TEST(InspectHostile, MalformedConfigsAreFormatErrors) {
    expect_config_format_error("not json", "config.json");
    expect_config_format_error("[1, 2]", "JSON object");
    expect_config_format_error(
        R"({"model_type": "llama", "vocab_size": 10, "hidden_size": "4096"})", "hidden_size");
    expect_config_format_error(R"({"model_type": "gpt2", "n_embd": -5, "n_layer": 2, "n_head": 1,
        "vocab_size": 10, "n_positions": 8})",
                               "n_embd");
    expect_config_format_error(R"({"model_type": "llama", "hidden_size": 4096,
        "num_hidden_layers": 1e300, "num_attention_heads": 32, "vocab_size": 32000,
        "intermediate_size": 11008})",
                               "num_hidden_layers");
    expect_config_format_error(std::string(100, '[') + std::string(100, ']'), "deeper");
    expect_config_format_error(R"({"model_type": "llama", "hidden_size": 99999999999,
        "num_hidden_layers": 2, "num_attention_heads": 1, "vocab_size": 10,
        "intermediate_size": 4})",
                               "hidden_size");
    // Each size within its own cap, but the products are absurd: checked, not wrapped.
    expect_config_format_error(R"({"model_type": "mixtral", "hidden_size": 16777216,
        "num_hidden_layers": 1024, "num_attention_heads": 1, "vocab_size": 2147483647,
        "intermediate_size": 16777216, "num_local_experts": 65536, "num_experts_per_tok": 2})",
                               "2^50");
    expect_config_format_error(R"({"model_type": "gpt2", "n_embd": 16777216, "n_layer": 1024,
        "n_head": 1, "vocab_size": 2147483647, "n_positions": 16777216})",
                               "2^50");
}

TEST(InspectHostile, MalformedHeadersAreFormatErrors) {
    const std::string cfg =
        read_all(shared_models() / "tiny" / "tiny-llama-gqa-f32" / "config.json");
    auto check = [&](const std::string &file, const std::string &fragment) {
        SCOPED_TRACE(fragment);
        TempDir t;
        t.write("config.json", cfg);
        t.write("model.safetensors", file);
        expect_error([&] { hfk::inspect_model(t.path.string(), {}); }, HFK_E_FORMAT, {fragment});
    };
    check("abc", "shorter than the 8-byte");
    check(le64(uint64_t(1) << 40), "exceeds");
    check(le64(30'000'000) + "{}", "exceeds the inspector's limit");
    check(le64(100) + "{\"a\":", "ends inside its safetensors header");
    check(le64(8) + "not json", "model.safetensors");
    const std::string h = R"({"a":{"dtype":"F32","shape":[2],"data_offsets":[0,8]}})";
    check(le64(h.size()) + h + std::string(4, '\0'), "the file has");   // truncated data
    check(le64(h.size()) + h + std::string(12, '\0'), "the file has");  // trailing bytes
}

TEST(InspectHostile, HostileIndexesAreRejectedBeforeAnyShardIsRead) {
    const std::string cfg =
        read_all(shared_models() / "tiny" / "tiny-llama-gqa-f32" / "config.json");
    auto check = [&](const std::string &index, int32_t status, const std::string &fragment) {
        SCOPED_TRACE(index);
        TempDir t;
        t.write("config.json", cfg);
        t.write("model.safetensors.index.json", index);
        expect_error([&] { hfk::inspect_model(t.path.string(), {}); }, status, {fragment});
    };
    check(R"({"weight_map": {"a": "../../x.safetensors"}})", HFK_E_FORMAT, "plain file name");
    check(R"({"weight_map": {"a": "/etc/passwd"}})", HFK_E_FORMAT, "rejected");
    check(R"({"weight_map": {"a": "C:\\x.safetensors"}})", HFK_E_FORMAT, "rejected");
    check(R"({"weight_map": {"a": 3}})", HFK_E_FORMAT, "not a string");
    check(R"({"weight_map": {}})", HFK_E_FORMAT, "empty");
    check(R"([])", HFK_E_FORMAT, "not a JSON object");
    check(R"({"weight_map": {"a": "model-1.safetensors"}})", HFK_E_NOT_FOUND, "missing");
}

TEST(InspectHostile, IndexAndShardsMustAgree) {
    const fs::path src = shared_models() / "tiny" / "tiny-llama-gqa-f32";
    TempDir t;
    fs::copy_file(src / "config.json", t.path / "config.json");
    auto shards = split_into_shards(src / "model.safetensors", t.path, 2);
    nlohmann::json index = nlohmann::json::parse(read_all(t.path / "model.safetensors.index.json"));
    // Claim a tensor lives in the other shard.
    auto it = index["weight_map"].begin();
    const std::string other = it.value() == shards[0] ? shards[1] : shards[0];
    it.value() = other;
    t.write("model.safetensors.index.json", index.dump());
    expect_error([&] { hfk::inspect_model(t.path.string(), {}); }, HFK_E_FORMAT,
                 {"not mapped to this shard"});
    // A tensor the index lists that no shard holds.
    TempDir t2;
    fs::copy_file(src / "config.json", t2.path / "config.json");
    shards = split_into_shards(src / "model.safetensors", t2.path, 2);
    index = nlohmann::json::parse(read_all(t2.path / "model.safetensors.index.json"));
    index["weight_map"]["ghost.weight"] = shards[0];
    t2.write("model.safetensors.index.json", index.dump());
    expect_error([&] { hfk::inspect_model(t2.path.string(), {}); }, HFK_E_FORMAT,
                 {"ghost.weight", "does not hold it"});
}

TEST(InspectHostile, BadArgumentsAndMissingPaths) {
    const std::string p = (fixtures() / "gpt2.json").string();
    InspectOptions o;
    o.batch = 0;
    expect_error([&] { hfk::inspect_model(p, o); }, HFK_E_INVALID_ARG, {"batch"});
    o = {};
    o.context_length = -1;
    expect_error([&] { hfk::inspect_model(p, o); }, HFK_E_INVALID_ARG, {"context_length"});
    o = {};
    o.kv_bytes_per_element = 3;
    expect_error([&] { hfk::inspect_model(p, o); }, HFK_E_INVALID_ARG, {"kv_bytes_per_element"});
    expect_error([] { hfk::inspect_model("", {}); }, HFK_E_INVALID_ARG, {"empty"});
    expect_error([] { hfk::inspect_model("/no/such/dir/../x", {}); }, HFK_E_NOT_FOUND, {"neither"});
    TempDir t;  // a directory without config.json
    expect_error([&] { hfk::inspect_model(t.path.string(), {}); }, HFK_E_NOT_FOUND,
                 {"config.json"});
}

}  // namespace
