// hfkit inspect on pre-quantized checkpoints (issue 18): the parameters are the weights the packed
// tensors hold (MLX uint32 words, GPTQ/AWQ qweight: 32 / bits each), not the words, and the
// quantization's scales, biases, zeros and g_idx are not parameters.
#include <gtest/gtest.h>

#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "../support/test_support.h"
#include "inspect/inspect.h"

using namespace hfk;
using hfk_test::TempDir;

namespace {

struct T {
    std::string name, dtype;
    std::vector<int64_t> shape;
    size_t bytes;
};

std::string st(const std::vector<T> &ts) {
    nlohmann::json h = nlohmann::json::object();
    size_t off = 0;
    for (const T &t : ts) {
        h[t.name] = {
            {"dtype", t.dtype}, {"shape", t.shape}, {"data_offsets", {off, off + t.bytes}}};
        off += t.bytes;
    }
    std::string header = h.dump();
    while (header.size() % 8) header += ' ';
    std::string out(8, '\0');
    for (int i = 0; i < 8; ++i) out[size_t(i)] = char((header.size() >> (8 * i)) & 0xff);
    return out + header + std::string(off, '\0');
}

const char *kConfig = R"({"model_type":"llama","architectures":["LlamaForCausalLM"],
"hidden_size":64,"intermediate_size":128,"num_hidden_layers":1,"num_attention_heads":4,
"vocab_size":100,"max_position_embeddings":64,)";

bool has_note(const Inspection &r, const std::string &fragment) {
    for (const std::string &n : r.notes)
        if (n.find(fragment) != std::string::npos) return true;
    return false;
}

}  // namespace

TEST(InspectPrequant, MlxCountsThePackedWeights) {
    TempDir d;
    d.write("config.json", std::string(kConfig) +
                               R"("quantization":{"group_size":32,"bits":4,
                               "model.layers.0.self_attn.k_proj":{"group_size":32,"bits":8}}})");
    d.write("model.safetensors",
            st({{"model.embed_tokens.weight", "U32", {100, 8}, 100 * 8 * 4},
                {"model.embed_tokens.scales", "F16", {100, 2}, 100 * 2 * 2},
                {"model.embed_tokens.biases", "F16", {100, 2}, 100 * 2 * 2},
                {"model.layers.0.self_attn.q_proj.weight", "U32", {64, 8}, 64 * 8 * 4},
                {"model.layers.0.self_attn.q_proj.scales", "F16", {64, 2}, 64 * 2 * 2},
                {"model.layers.0.self_attn.q_proj.biases", "F16", {64, 2}, 64 * 2 * 2},
                {"model.layers.0.self_attn.k_proj.weight", "U32", {64, 16}, 64 * 16 * 4},
                {"model.layers.0.self_attn.k_proj.scales", "F16", {64, 2}, 64 * 2 * 2},
                {"model.layers.0.self_attn.k_proj.biases", "F16", {64, 2}, 64 * 2 * 2},
                {"model.layers.0.mlp.down_proj.weight", "F16", {64, 128}, 64 * 128 * 2},
                {"model.norm.weight", "F16", {64}, 128}}));
    const Inspection r = inspect_model(d.path.string(), {});
    EXPECT_TRUE(r.supported_for_inference) << r.unsupported_reason;
    EXPECT_EQ(r.parameters, 100u * 64 + 64 * 64 + 64 * 64 + 64 * 128 + 64);
    EXPECT_TRUE(has_note(r, "MLX affine 4-bit"));
}

TEST(InspectPrequant, GptqCountsQweightOnly) {
    TempDir d;
    d.write("config.json", std::string(kConfig) +
                               R"("quantization_config":{"quant_method":"gptq","bits":4,
                               "group_size":32}})");
    d.write("model.safetensors",
            st({{"model.embed_tokens.weight", "F16", {100, 64}, 100 * 64 * 2},
                {"model.layers.0.self_attn.q_proj.qweight", "I32", {8, 64}, 8 * 64 * 4},
                {"model.layers.0.self_attn.q_proj.qzeros", "I32", {2, 8}, 2 * 8 * 4},
                {"model.layers.0.self_attn.q_proj.scales", "F16", {2, 64}, 2 * 64 * 2},
                {"model.layers.0.self_attn.q_proj.g_idx", "I32", {64}, 64 * 4},
                {"model.layers.0.self_attn.q_proj.bias", "F16", {64}, 128}}));
    const Inspection r = inspect_model(d.path.string(), {});
    EXPECT_TRUE(r.supported_for_inference) << r.unsupported_reason;
    EXPECT_EQ(r.parameters, 100u * 64 + 64 * 64 + 64);
    EXPECT_TRUE(has_note(r, "GPTQ 4-bit"));
}
