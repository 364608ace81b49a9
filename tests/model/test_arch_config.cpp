// Config fields the decoder architectures read or used to assume (issue 15 items 4 and 6):
// hidden_act is honoured or refused naming the field, never silently replaced by SiLU; a config
// without max_position_embeddings gets its family's documented default and can generate; other
// fields that change the computation (layer_types, use_sliding_window, rope_parameters per layer
// type) are read or refused. That the honoured activations compute what torch computes is
// test_zoo_forward's job (llama-gelu, llama-relu, llama-gelu-tanh).
#include <gtest/gtest.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>

#include "model/config.h"
#include "model/model.h"
#include "models/decoder.h"
#include "util/error.h"

namespace fs = std::filesystem;
using nlohmann::json;
using namespace hfk;

namespace {

fs::path shared_dir() {
    if (const char *d = std::getenv("HFK_SHARED_DIR")) return d;
    return HFK_TEST_SHARED_DIR;
}

json llama_config(const std::string &type) {
    return json{{"model_type", type},       {"vocab_size", 100},
                {"hidden_size", 64},        {"num_hidden_layers", 2},
                {"num_attention_heads", 4}, {"num_key_value_heads", 2},
                {"intermediate_size", 128}, {"max_position_embeddings", 512}};
}

// Runs check_supported_for_inference on the config; returns the status (0 = accepted).
int32_t check(const json &cfg, std::string *message = nullptr) {
    try {
        check_supported_for_inference(parse_config(cfg.dump()));
        return 0;
    } catch (const Error &e) {
        if (message) *message = e.what();
        return e.status();
    }
}

// A copy of a shared tiny checkpoint (weights symlinked) with its config.json edited.
fs::path edited_copy(const std::string &name, const std::function<void(json &)> &edit) {
    const fs::path src = shared_dir() / "models" / "tiny" / name;
    const fs::path dst =
        fs::temp_directory_path() / ("hfk_arch_config_" + std::to_string(::getpid()) + "_" + name +
                                     std::to_string(std::rand()));
    fs::create_directories(dst);
    fs::create_symlink(src / "model.safetensors", dst / "model.safetensors");
    std::ifstream in(src / "config.json");
    json cfg = json::parse(in);
    edit(cfg);
    std::ofstream(dst / "config.json") << cfg.dump();
    return dst;
}

void models_llama_like_rope_for_test(const ModelConfig &cfg) {
    (void)models::llama_like_spec(cfg);
}

std::vector<float> last_logits(const Model &m, const std::vector<int32_t> &ids) {
    auto cache = m.new_cache(32);
    std::vector<float> out(size_t(m.vocab_size()));
    m.forward(*cache, ids, out.data(), false, 1);
    return out;
}

TEST(ArchConfig, UnknownHiddenActIsRefusedNamingTheField) {
    for (const char *type : {"llama", "mistral", "qwen2", "qwen3", "smollm3"}) {
        SCOPED_TRACE(type);
        json cfg = llama_config(type);
        cfg["hidden_act"] = "foo";
        std::string msg;
        EXPECT_EQ(check(cfg, &msg), HFK_E_UNSUPPORTED);
        EXPECT_NE(msg.find("hidden_act"), std::string::npos) << msg;
        EXPECT_NE(msg.find("foo"), std::string::npos) << msg;
    }
    json gemma = llama_config("gemma2");
    gemma["hidden_activation"] = "tanh";
    std::string msg;
    EXPECT_EQ(check(gemma, &msg), HFK_E_UNSUPPORTED);
    EXPECT_NE(msg.find("hidden_activation"), std::string::npos) << msg;
}

TEST(ArchConfig, AllowedActivationsAreAccepted) {
    for (const char *type : {"llama", "mistral", "qwen2"})
        for (const char *act : {"silu", "swish", "gelu", "gelu_pytorch_tanh", "gelu_new", "relu"}) {
            json cfg = llama_config(type);
            cfg["hidden_act"] = act;
            EXPECT_EQ(check(cfg), 0) << type << " " << act;
        }
}

TEST(ArchConfig, HiddenActChangesTheComputation) {
    // The same weights with gelu / relu / silu must give three different answers (they were all
    // SiLU before).
    const std::vector<int32_t> ids{1, 5, 9, 13};
    std::vector<std::vector<float>> outs;
    for (const char *act : {"silu", "gelu", "relu"}) {
        fs::path dir = edited_copy("tiny-llama-gqa-f32", [&](json &c) { c["hidden_act"] = act; });
        outs.push_back(last_logits(*Model::load(dir, LoadOptions{1}), ids));
        fs::remove_all(dir);
    }
    EXPECT_NE(outs[0], outs[1]);
    EXPECT_NE(outs[0], outs[2]);
    EXPECT_NE(outs[1], outs[2]);
}

TEST(ArchConfig, MissingMaxPositionEmbeddingsUsesTheFamilyDefault) {
    const std::pair<const char *, int64_t> defaults[] = {
        {"llama", 2048}, {"mistral", 131072}, {"qwen2", 32768},       {"qwen3", 32768},
        {"gemma", 8192}, {"gemma2", 8192},    {"gemma3_text", 131072}};
    for (auto [type, ctx] : defaults) {
        json cfg = llama_config(type);
        cfg.erase("max_position_embeddings");
        EXPECT_EQ(parse_config(cfg.dump()).max_position_embeddings, ctx) << type;
    }
}

TEST(ArchConfig, LlamaWithoutMaxPositionEmbeddingsLoadsAndGenerates) {
    fs::path dir =
        edited_copy("tiny-llama-gqa-f32", [](json &c) { c.erase("max_position_embeddings"); });
    auto model = Model::load(dir, LoadOptions{1});
    EXPECT_EQ(model->context_length(), 2048);
    auto cache = model->new_cache(0);
    EXPECT_EQ(cache->capacity(), 2048);
    std::vector<float> out(size_t(model->vocab_size()));
    const std::vector<int32_t> ids{1, 2, 3};
    model->forward(*cache, ids, out.data(), false, 1);
    EXPECT_EQ(cache->n_past(), 3);
    fs::remove_all(dir);
}

TEST(ArchConfig, SlidingWindowLayers) {
    json mistral = llama_config("mistral");
    mistral["sliding_window"] = 16;
    EXPECT_EQ(parse_config(mistral.dump()).layer_window, (std::vector<int64_t>{16, 16}));
    mistral["sliding_window"] = nullptr;
    EXPECT_EQ(parse_config(mistral.dump()).layer_window, (std::vector<int64_t>{0, 0}));

    json qwen = llama_config("qwen2");
    qwen["sliding_window"] = 8;
    EXPECT_EQ(parse_config(qwen.dump()).layer_window, (std::vector<int64_t>{0, 0}));  // not used
    qwen["use_sliding_window"] = true;
    qwen["max_window_layers"] = 1;
    EXPECT_EQ(parse_config(qwen.dump()).layer_window, (std::vector<int64_t>{0, 8}));

    json gemma3 = llama_config("gemma3_text");
    gemma3["num_hidden_layers"] = 7;
    gemma3["sliding_window"] = 32;
    EXPECT_EQ(parse_config(gemma3.dump()).layer_window,
              (std::vector<int64_t>{32, 32, 32, 32, 32, 0, 32}));

    gemma3["sliding_window_pattern"] = 1;  // every layer global
    EXPECT_EQ(parse_config(gemma3.dump()).layer_window, std::vector<int64_t>(7, 0));
    json gemma2 = llama_config("gemma2");
    gemma2["num_hidden_layers"] = 4;
    gemma2["sliding_window"] = 8;
    EXPECT_EQ(parse_config(gemma2.dump()).layer_window, (std::vector<int64_t>{8, 0, 8, 0}));

    json typed = llama_config("qwen3");
    typed["sliding_window"] = 4;
    typed["layer_types"] = {"full_attention", "sliding_attention"};
    EXPECT_EQ(parse_config(typed.dump()).layer_window, (std::vector<int64_t>{0, 4}));
    typed["layer_types"] = {"full_attention", "chunked_attention"};
    std::string msg;
    EXPECT_EQ(check(typed, &msg), HFK_E_UNSUPPORTED);
    EXPECT_NE(msg.find("layer_types"), std::string::npos) << msg;
}

TEST(ArchConfig, SmolLM3NoRopeLayers) {
    json c = llama_config("smollm3");
    c["num_hidden_layers"] = 8;
    EXPECT_EQ(parse_config(c.dump()).layer_rope,
              (std::vector<bool>{true, true, true, false, true, true, true, false}));
    c["no_rope_layers"] = {1, 0, 1, 0, 1, 1, 1, 1};
    EXPECT_EQ(parse_config(c.dump()).layer_rope,
              (std::vector<bool>{true, false, true, false, true, true, true, true}));
}

TEST(ArchConfig, Phi3LongRopeNeedsFactorsOfTheRotaryHalf) {
    json c = llama_config("phi3");  // head_dim 16: 8 factors
    c["rope_scaling"] = {{"type", "su"}, {"short_factor", {1.0, 2.0}}, {"long_factor", {1.0, 2.0}}};
    c["original_max_position_embeddings"] = 64;
    ModelConfig cfg = parse_config(c.dump());
    EXPECT_EQ(cfg.rope_scaling.type, "longrope");
    EXPECT_EQ(cfg.rope_scaling.original_max_position_embeddings, 64);
    EXPECT_EQ(check(c), 0);
    try {
        models_llama_like_rope_for_test(cfg);
        ADD_FAILURE() << "2 factors for 8 frequencies were accepted";
    } catch (const Error &e) {
        EXPECT_EQ(e.status(), HFK_E_FORMAT);
        EXPECT_NE(std::string(e.what()).find("short_factor"), std::string::npos) << e.what();
    }
}

TEST(ArchConfig, UnknownRopeTypesAreRefused) {
    for (const char *type : {"foo", "mrope", "ntk"}) {
        json c = llama_config("qwen3");
        c["rope_scaling"] = {{"rope_type", type}, {"factor", 2.0}};
        std::string msg;
        EXPECT_EQ(check(c, &msg), HFK_E_UNSUPPORTED) << type;
        EXPECT_NE(msg.find("rope_scaling"), std::string::npos) << msg;
        EXPECT_NE(msg.find(std::string("\"") + type + "\""), std::string::npos) << msg;
    }
    // Every type transformers computes runs, on every rotary architecture.
    for (const char *fam : {"llama", "qwen3", "gemma", "phi3", "phi"})
        for (const char *type : {"linear", "dynamic", "yarn", "llama3"}) {
            json c = llama_config(fam);
            c["rope_scaling"] = {
                {"rope_type", type}, {"factor", 2.0}, {"original_max_position_embeddings", 64}};
            EXPECT_EQ(check(c), 0) << fam << " " << type;
        }
}

}  // namespace

namespace {

// Gemma3ForConditionalGeneration: the language model's settings come from text_config and run
// alone; with a vision tower the load says so, without one it is just the text model.
TEST(ArchConfig, Gemma3MultimodalRunsItsTextConfig) {
    json text = llama_config("gemma3_text");
    text["sliding_window"] = 4;
    json c = {{"model_type", "gemma3"},
              {"architectures", {"Gemma3ForConditionalGeneration"}},
              {"text_config", text},
              {"vision_config", {{"model_type", "siglip_vision_model"}, {"hidden_size", 8}}}};
    ModelConfig cfg = parse_config(c.dump());
    EXPECT_EQ(inference_family(cfg), "gemma3_text");
    EXPECT_TRUE(cfg.multimodal);
    EXPECT_TRUE(cfg.text_part_only);
    EXPECT_EQ(cfg.hidden_size, 64);
    EXPECT_NE(cfg.load_note.find("vision tower"), std::string::npos) << cfg.load_note;
    EXPECT_EQ(check(c), 0);
    c.erase("vision_config");
    cfg = parse_config(c.dump());
    EXPECT_TRUE(cfg.text_part_only);
    EXPECT_EQ(cfg.load_note, "");
    EXPECT_EQ(check(c), 0);
    // Other multimodal configs stay refused.
    json llava = {{"model_type", "llava"},
                  {"text_config", llama_config("llama")},
                  {"vision_config", {{"hidden_size", 8}}}};
    std::string msg;
    EXPECT_EQ(check(llava, &msg), HFK_E_UNSUPPORTED);
    EXPECT_NE(msg.find("vision"), std::string::npos) << msg;
}

// Phi-2's config: PhiConfig's defaults (RoPE over half of each head, untied biased head,
// gelu_new) and qk_layernorm.
TEST(ArchConfig, PhiDefaults) {
    json c = llama_config("phi");
    ModelConfig cfg = parse_config(c.dump());
    EXPECT_EQ(inference_family(cfg), "phi");
    EXPECT_DOUBLE_EQ(cfg.partial_rotary_factor, 0.5);
    EXPECT_FALSE(cfg.tie_word_embeddings);
    EXPECT_FALSE(cfg.qk_layernorm);
    EXPECT_EQ(cfg.hidden_act, "gelu_new");
    EXPECT_EQ(check(c), 0);
    c["qk_layernorm"] = true;
    c["partial_rotary_factor"] = 0.4;
    cfg = parse_config(c.dump());
    EXPECT_TRUE(cfg.qk_layernorm);
    EXPECT_DOUBLE_EQ(cfg.partial_rotary_factor, 0.4);
    json by_arch = llama_config("phi");
    by_arch.erase("model_type");
    by_arch["architectures"] = {"PhiForCausalLM"};
    EXPECT_EQ(inference_family(parse_config(by_arch.dump())), "phi");
}

}  // namespace
