// config.json and generation_config.json: aliases, defaults, and every bad-config case of
// RELIABILITY.md a.2 / (b) F14, F15, each HFK_E_FORMAT naming the field.
#include <cmath>

#include "model/config.h"
#include "model/generation_config.h"
#include "st_builder.h"

using namespace hfk;
using namespace hfk_test;

namespace {

const std::string kLlama = R"({"model_type":"llama","vocab_size":32000,"hidden_size":4096,
  "num_hidden_layers":32,"num_attention_heads":32,"intermediate_size":11008,
  "max_position_embeddings":4096,"rms_norm_eps":1e-5,"bos_token_id":1,"eos_token_id":2})";

// kLlama with one field replaced or added (raw JSON value text).
std::string llama_with(const std::string &field, const std::string &value) {
    std::string s = kLlama;
    size_t at = s.find("\"" + field + "\"");
    if (at == std::string::npos)
        return s.substr(0, s.size() - 1) + ",\"" + field + "\":" + value + "}";
    size_t colon = s.find(':', at), end = s.find_first_of(",}", colon);
    return s.substr(0, colon + 1) + value + s.substr(end);
}

void expect_bad_impl(const std::string &text, std::initializer_list<std::string> fragments) {
    expect_error([&] { parse_config(text, "cfg/config.json"); }, HFK_E_FORMAT, fragments);
}

}  // namespace

// SCOPED_TRACE records the caller's line (std::source_location is missing in clang 14).
#define expect_bad(...)               \
    do {                              \
        SCOPED_TRACE("expect_bad");   \
        expect_bad_impl(__VA_ARGS__); \
    } while (0)

TEST(Config, LlamaDefaults) {
    ModelConfig c = parse_config(kLlama);
    EXPECT_EQ(c.num_kv_heads, 32);
    EXPECT_EQ(c.head_dim, 128);
    EXPECT_DOUBLE_EQ(c.rope_theta, 10000);
    EXPECT_FALSE(c.tie_word_embeddings);
    EXPECT_FALSE(c.qkv_bias);
    EXPECT_EQ(c.pad_token_id, -1);
    EXPECT_TRUE(c.raw.is_object());
}

TEST(Config, Gpt2NamingAndDefaults) {
    ModelConfig c =
        parse_config(R"({"model_type":"gpt2","vocab_size":50257,"n_embd":768,"n_layer":12,
        "n_head":12,"n_ctx":1024,"n_inner":null,"layer_norm_epsilon":1e-5,"activation_function":"gelu_new"})");
    EXPECT_EQ(c.hidden_size, 768);
    EXPECT_EQ(c.num_layers, 12);
    EXPECT_EQ(c.num_heads, 12);
    EXPECT_EQ(c.intermediate_size, 3072);        // n_inner null -> 4 * n_embd
    EXPECT_EQ(c.max_position_embeddings, 1024);  // n_ctx when n_positions is absent
    EXPECT_TRUE(c.tie_word_embeddings);
    EXPECT_EQ(c.hidden_act, "gelu_new");
    // n_positions wins over n_ctx.
    c = parse_config(
        R"({"model_type":"gpt2","vocab_size":5,"n_embd":4,"n_layer":1,"n_head":2,"n_positions":16,"n_ctx":8,"n_inner":6})");
    EXPECT_EQ(c.max_position_embeddings, 16);
    EXPECT_EQ(c.intermediate_size, 6);
}

TEST(Config, ArchitecturesWithoutModelType) {
    ModelConfig c = parse_config(
        R"({"architectures":["MistralForCausalLM"],"vocab_size":32000,"hidden_size":4096,
        "num_hidden_layers":32,"num_attention_heads":32,"num_key_value_heads":8,"intermediate_size":14336,
        "max_position_embeddings":32768,"sliding_window":4096})");
    EXPECT_EQ(c.num_kv_heads, 8);
    EXPECT_NO_THROW(check_supported_for_inference(c));
    expect_bad(R"({"architectures":["LlamaForCausalLM"],"vocab_size":10})",
               {"hidden_size", "missing"});
}

TEST(Config, ExplicitHeadDimNeedNotDivide) {
    ModelConfig c = parse_config(llama_with("head_dim", "100"));
    EXPECT_EQ(c.head_dim, 100);
    c = parse_config(llama_with("num_attention_heads", "30").replace(0, 1, "{\"head_dim\":64,"));
    EXPECT_EQ(c.head_dim, 64);
}

TEST(Config, Llama3RopeScalingAndMoE) {
    ModelConfig c = parse_config(llama_with(
        "rope_scaling",
        R"({"rope_type":"llama3","factor":8.0,"low_freq_factor":1.0,"high_freq_factor":4.0,"original_max_position_embeddings":8192})"));
    EXPECT_EQ(c.rope_scaling.type, "llama3");
    EXPECT_DOUBLE_EQ(c.rope_scaling.factor, 8);
    EXPECT_EQ(c.rope_scaling.original_max_position_embeddings, 8192);
    EXPECT_NO_THROW(check_supported_for_inference(c));

    c = parse_config(llama_with("rope_scaling", R"({"type":"linear","factor":2})"));
    EXPECT_EQ(c.rope_scaling.type, "linear");
    c = parse_config(llama_with("rope_scaling", R"({"rope_type":"default"})"));
    EXPECT_EQ(c.rope_scaling.type, "");

    c = parse_config(llama_with("rope_scaling", R"({"type":"yarn","factor":4})"));
    EXPECT_EQ(c.rope_scaling.type, "yarn");
    EXPECT_NO_THROW(check_supported_for_inference(c));
    c = parse_config(llama_with("rope_scaling", R"({"type":"ntk-by-parts","factor":4})"));
    EXPECT_EQ(c.rope_scaling.type, "ntk-by-parts");  // kept, refused only for inference
    expect_error([&] { check_supported_for_inference(c); }, HFK_E_UNSUPPORTED,
                 {"\"ntk-by-parts\"", "yarn"});

    expect_bad(llama_with("rope_scaling", R"({"type":"linear","factor":0.5})"),
               {"rope_scaling", ">= 1"});
    expect_bad(llama_with("rope_scaling", R"("linear")"), {"rope_scaling"});

    c = parse_config(std::string(
        R"({"model_type":"mixtral","vocab_size":32000,"hidden_size":4096,"num_hidden_layers":32,
        "num_attention_heads":32,"num_key_value_heads":8,"intermediate_size":14336,"num_local_experts":8,"num_experts_per_tok":2})"));
    EXPECT_EQ(c.num_experts, 8);
    EXPECT_EQ(c.num_experts_per_tok, 2);
    EXPECT_EQ(c.moe_intermediate_size, 14336);  // Mixtral's experts are intermediate_size wide
    EXPECT_TRUE(c.norm_topk_prob);              // and always renormalized
    EXPECT_EQ(c.layer_sparse, std::vector<bool>(32, true));
    check_supported_for_inference(c);  // issue 17: Mixtral runs
    // Other MoE families are still refused, never run as if dense.
    c = parse_config(std::string(
        R"({"model_type":"qwen2_moe","vocab_size":32000,"hidden_size":4096,"num_hidden_layers":32,
        "num_attention_heads":32,"num_key_value_heads":8,"intermediate_size":14336,"num_experts":8,"num_experts_per_tok":2})"));
    expect_error([&] { check_supported_for_inference(c); }, HFK_E_UNSUPPORTED, {"qwen2_moe"});
}

TEST(Config, MultimodalUsesTextConfigAndIsFlagged) {
    ModelConfig c =
        parse_config(R"({"model_type":"llava","architectures":["LlavaForConditionalGeneration"],
        "text_config":{"model_type":"llama","vocab_size":32064,"hidden_size":4096,"num_hidden_layers":32,
                       "num_attention_heads":32,"intermediate_size":11008},
        "vision_config":{"hidden_size":1024,"num_hidden_layers":24}})");
    EXPECT_TRUE(c.multimodal);
    EXPECT_NE(c.multimodal_reason.find("vision_config"), std::string::npos);
    EXPECT_EQ(c.hidden_size, 4096);
    EXPECT_EQ(c.num_layers, 32);
    EXPECT_EQ(c.vocab_size, 32064);
    expect_error([&] { check_supported_for_inference(c); }, HFK_E_UNSUPPORTED, {"vision_config"});
}

TEST(Config, UnknownModelTypeParsesLeniently) {
    ModelConfig c = parse_config(
        R"({"model_type":"t5","d_model":512,"num_layers":6,"num_heads":8,"vocab_size":32128})");
    EXPECT_EQ(c.hidden_size, 512);
    expect_error([&] { check_supported_for_inference(c); }, HFK_E_UNSUPPORTED,
                 {"\"t5\"", "gpt2, llama, mistral, qwen2, bert"});
    expect_error([&] { check_supported_for_inference(parse_config("{}")); }, HFK_E_UNSUPPORTED,
                 {"without model_type"});
}

TEST(Config, QuantizedAndAutoMap) {
    ModelConfig c = parse_config(llama_with("auto_map", R"({"AutoModel":"modeling_evil.Evil"})"));
    EXPECT_NO_THROW(check_supported_for_inference(c));  // auto_map is ignored, never executed
    // GPTQ/AWQ/MLX load (test_prequant); other methods are refused by name.
    c = parse_config(llama_with("quantization_config", R"({"quant_method":"hqq","nbits":4})"));
    expect_error([&] { check_supported_for_inference(c); }, HFK_E_UNSUPPORTED,
                 {"quantization_config"});
}

TEST(Config, Id2Label) {
    ModelConfig c = parse_config(
        std::string(R"({"model_type":"bert","vocab_size":10,"hidden_size":8,"num_hidden_layers":1,
        "num_attention_heads":2,"intermediate_size":16,"max_position_embeddings":8,
        "id2label":{"1":"POSITIVE","0":"NEGATIVE"}})"));
    EXPECT_EQ(c.id2label, (std::vector<std::string>{"NEGATIVE", "POSITIVE"}));
    EXPECT_EQ(c.type_vocab_size, 2);
    expect_bad(llama_with("id2label", R"({"0":"a","2":"b"})"), {"id2label", "\"2\""});
    expect_bad(llama_with("id2label", R"({"00":"a"})"), {"id2label"});
    expect_bad(llama_with("id2label", R"({"0":1})"), {"id2label"});
}

TEST(Config, TokenIds) {
    ModelConfig c = parse_config(llama_with("eos_token_id", "[2, 7, 9]"));
    EXPECT_EQ(c.eos_token_ids, (std::vector<int32_t>{2, 7, 9}));
    c = parse_config(llama_with("pad_token_id", "-1"));  // LLaMA-1 era configs
    EXPECT_EQ(c.pad_token_id, -1);
    expect_bad(llama_with("eos_token_id", "32000"), {"eos_token_id", "32000", "outside"});
    expect_bad(llama_with("bos_token_id", "-3"), {"bos_token_id"});
    expect_bad(llama_with("eos_token_id", "[1, \"x\"]"), {"eos_token_id"});
}

// F14 and CJ1
TEST(Config, F14_DepthAndSizeBombs) {
    expect_bad(std::string(100000, '[') + std::string(100000, ']'),
               {"cfg/config.json", "deeper than 64"});
    expect_bad("{\"a\":" + std::string(100000, '['), {"deeper than 64"});
    std::string big = "{\"pad\":\"" + std::string(50u << 20, 'x') + "\"}";
    expect_bad(big, {"exceeds", "limit"});
    // 63 levels are fine, and the raw DOM can be copied and dumped.
    std::string ok = "{\"a\":" + std::string(62, '[') + std::string(62, ']') + "}";
    ModelConfig c = parse_config(ok);
    nlohmann::json copy = c.raw;
    EXPECT_FALSE(copy.dump().empty());
}

TEST(Config, F14_BadJson) {
    expect_bad("", {"not valid JSON"});
    expect_bad("[1,2]", {"must be a JSON object"});
    expect_bad("\"x\"", {"must be a JSON object"});
    expect_bad("{\"model_type\":\"\xff\"}", {"not valid JSON"});
    expect_bad(std::string("{}\0{\"x\":1}", 10), {"NUL"});
    expect_bad(R"({"hidden_size":1,"hidden_size":2})", {"duplicate JSON key \"hidden_size\""});
    expect_bad("{\"a\":1e999}", {"not valid JSON"});
    expect_bad("{\"a\":NaN}", {"not valid JSON"});
    expect_bad("{\"a\":1} // comment", {"not valid JSON"});
}

// F15 and CJ3
TEST(Config, F15_BadValuesNameTheField) {
    expect_bad(llama_with("num_hidden_layers", "1000000000"), {"num_hidden_layers", "limit"});
    expect_bad(llama_with("hidden_size", "0"), {"hidden_size", "positive"});
    expect_bad(llama_with("hidden_size", "-4096"), {"hidden_size", "positive"});
    expect_bad(llama_with("hidden_size", "4095"), {"num_attention_heads", "does not divide"});
    expect_bad(llama_with("hidden_size", "\"4096\""), {"hidden_size", "integer"});
    expect_bad(llama_with("hidden_size", "4096.0"), {"hidden_size", "integer"});
    expect_bad(llama_with("hidden_size", "16777217"), {"hidden_size", "limit"});
    expect_bad(llama_with("vocab_size", "1099511627776"), {"vocab_size", "limit"});
    expect_bad(llama_with("vocab_size", "18446744073709551615"), {"vocab_size", "int64"});
    expect_bad(llama_with("num_key_value_heads", "5"), {"num_key_value_heads", "does not divide"});
    expect_bad(llama_with("num_key_value_heads", "0"), {"num_key_value_heads"});
    expect_bad(llama_with("rms_norm_eps", "\"NaN\""), {"rms_norm_eps", "number"});
    expect_bad(llama_with("rms_norm_eps", "-1e-5"), {"rms_norm_eps", "> 0"});
    expect_bad(llama_with("rms_norm_eps", "0"), {"rms_norm_eps"});
    expect_bad(llama_with("rope_theta", "0"), {"rope_theta"});
    expect_bad(llama_with("tie_word_embeddings", "1"), {"tie_word_embeddings", "true or false"});
    expect_bad(llama_with("architectures", "\"LlamaForCausalLM\""), {"architectures"});
    expect_bad(llama_with("model_type", "7"), {"model_type", "string"});
    expect_bad(llama_with("num_experts_per_tok", "3").replace(0, 1, "{\"num_local_experts\":2,"),
               {"num_experts_per_tok"});
    expect_bad(llama_with("text_config", "[]"), {"text_config"});
}

TEST(Config, LoadConfigErrors) {
    TempDir dir;
    expect_error([&] { load_config(dir.path); }, HFK_E_NOT_FOUND, {"config.json"});
    dir.write("config.json", "{\"model_type\":");
    expect_error([&] { load_config(dir.path); }, HFK_E_FORMAT, {"config.json", "not valid JSON"});
}

TEST(GenerationConfig, ParseAndValidate) {
    GenerationDefaults g =
        parse_generation_config(R"({"temperature":0.6,"top_p":0.9,"top_k":50,"do_sample":true,
        "eos_token_id":[128001,128009],"bos_token_id":128000,"max_new_tokens":null,"repetition_penalty":1.1})");
    EXPECT_FLOAT_EQ(*g.temperature, 0.6f);
    EXPECT_FLOAT_EQ(*g.top_p, 0.9f);
    EXPECT_EQ(*g.top_k, 50);
    EXPECT_TRUE(*g.do_sample);
    EXPECT_EQ(g.eos_token_ids, (std::vector<int32_t>{128001, 128009}));
    EXPECT_EQ(*g.bos_token_id, 128000);
    EXPECT_FALSE(g.max_new_tokens.has_value());
    for (const char *bad : {R"({"temperature":-1})", R"({"top_p":0})", R"({"top_p":1.5})",
                            R"({"top_k":-1})", R"({"do_sample":"yes"})", R"({"eos_token_id":[-1]})",
                            R"({"temperature":"hot"})", "[]", "{", R"({"max_new_tokens":1e20})"}) {
        SCOPED_TRACE(bad);
        expect_error([&] { parse_generation_config(bad); }, HFK_E_FORMAT,
                     {"generation_config.json"});
    }
    TempDir dir;
    GenerationDefaults none = load_generation_config(dir.path);
    EXPECT_FALSE(none.temperature || none.top_k || none.do_sample || !none.eos_token_ids.empty());
    dir.write("generation_config.json", "{\"top_k\":");
    expect_error([&] { load_generation_config(dir.path); }, HFK_E_FORMAT,
                 {"generation_config.json"});
}
