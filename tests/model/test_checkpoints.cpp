// Every checkpoint in $HFK_SHARED_DIR/models opens and validates; its parameter count equals the
// sum of numel over the headers (computed here independently, with a plain DOM parse); its config
// parses to the expected values; and every tensor binds with the shape the config implies.
#include <map>

#include <nlohmann/json.hpp>

#include "model/config.h"
#include "model/generation_config.h"
#include "model/weights.h"
#include "st_builder.h"

using namespace hfk;
using namespace hfk_test;
using json = nlohmann::json;

namespace {

struct Expected {
    const char *dir;
    const char *model_type;
    int64_t vocab, hidden, layers, heads, kv_heads, head_dim, inter, max_pos;
    double eps, theta;
    bool tied, qkv_bias;
    const char *dtype;  // of every tensor
    uint64_t params;    // from the safetensors headers (computed with python once)
};

const Expected kModels[] = {
    {"aidreams260K", "llama", 512, 64, 4, 4, 4, 16, 172, 128, 1e-5, 10000, true, false, "F32", 0},
    {"tiny-gpt2", "gpt2", 50257, 2, 2, 2, 2, 1, 8, 1024, 1e-5, 10000, true, false, "F32", 0},
    {"tiny-random-llama", "llama", 32000, 16, 2, 4, 4, 4, 64, 2048, 1e-6, 10000, false, false,
     "F32", 0},
    {"tiny/tiny-gpt2-f32", "gpt2", 96, 32, 2, 4, 4, 8, 128, 64, 1e-5, 10000, true, false, "F32", 0},
    {"tiny/tiny-gpt2-f16", "gpt2", 96, 32, 2, 4, 4, 8, 128, 64, 1e-5, 10000, true, false, "F16", 0},
    {"tiny/tiny-gpt2-bf16", "gpt2", 96, 32, 2, 4, 4, 8, 128, 64, 1e-5, 10000, true, false, "BF16",
     0},
    {"tiny/tiny-gpt2-prefixed-f32", "gpt2", 96, 32, 2, 4, 4, 8, 128, 64, 1e-5, 10000, true, false,
     "F32", 0},
    {"tiny/tiny-llama-gqa-f32", "llama", 96, 32, 2, 4, 2, 8, 48, 128, 1e-6, 10000, false, false,
     "F32", 0},
    {"tiny/tiny-llama-gqa-f16", "llama", 96, 32, 2, 4, 2, 8, 48, 128, 1e-6, 10000, false, false,
     "F16", 0},
    {"tiny/tiny-llama-gqa-bf16", "llama", 96, 32, 2, 4, 2, 8, 48, 128, 1e-6, 10000, false, false,
     "BF16", 0},
    {"tiny/tiny-llama-tied-f32", "llama", 96, 32, 2, 4, 1, 8, 48, 128, 1e-6, 500000, true, false,
     "F32", 0},
    {"tiny/tiny-qwen2-bias-f32", "qwen2", 96, 48, 2, 6, 2, 8, 64, 128, 1e-6, 1000000, true, true,
     "F32", 0},
    {"tiny/tiny-bert-f32", "bert", 96, 32, 2, 4, 4, 8, 64, 64, 1e-12, 10000, true, false, "F32", 0},
    {"tiny/tiny-bert-f16", "bert", 96, 32, 2, 4, 4, 8, 64, 64, 1e-12, 10000, true, false, "F16", 0},
    {"tiny/tiny-bert-bf16", "bert", 96, 32, 2, 4, 4, 8, 64, 64, 1e-12, 10000, true, false, "BF16",
     0},
};

// Independent count: a DOM parse of the header and a product of each shape.
uint64_t header_param_count(const std::filesystem::path &file) {
    std::string bytes = read_file(file);
    uint64_t n = 0;
    for (int i = 7; i >= 0; --i) n = (n << 8) | uint8_t(bytes[size_t(i)]);
    json h = json::parse(bytes.substr(8, n));
    uint64_t total = 0;
    for (auto it = h.begin(); it != h.end(); ++it) {
        if (it.key() == "__metadata__") continue;
        uint64_t p = 1;
        for (auto d : it.value()["shape"]) p *= d.get<uint64_t>();
        total += p;
    }
    return total;
}

// The tensors each architecture has, with the shapes the config implies (as HF names them).
void bind_all(const ModelConfig &c, const std::shared_ptr<const WeightStore> &store) {
    const int64_t H = c.hidden_size, V = c.vocab_size, I = c.intermediate_size,
                  P = c.max_position_embeddings;
    const int64_t Q = c.num_heads * c.head_dim, KV = c.num_kv_heads * c.head_dim;
    if (c.model_type == "gpt2") {
        WeightBinder b(store, {"transformer."});
        b.take("wte.weight", {V, H});
        b.take("wpe.weight", {P, H});
        for (int64_t l = 0; l < c.num_layers; ++l) {
            std::string p = "h." + std::to_string(l) + ".";
            b.take(p + "ln_1.weight", {H});
            b.take(p + "ln_1.bias", {H});
            b.take(p + "attn.c_attn.weight", {H, 3 * H});
            b.take(p + "attn.c_attn.bias", {3 * H});
            b.take(p + "attn.c_proj.weight", {H, H});
            b.take(p + "attn.c_proj.bias", {H});
            b.take(p + "ln_2.weight", {H});
            b.take(p + "ln_2.bias", {H});
            b.take(p + "mlp.c_fc.weight", {H, I});
            b.take(p + "mlp.c_fc.bias", {I});
            b.take(p + "mlp.c_proj.weight", {I, H});
            b.take(p + "mlp.c_proj.bias", {H});
        }
        b.take("ln_f.weight", {H});
        b.take("ln_f.bias", {H});
        if (!c.tie_word_embeddings) b.take("lm_head.weight", {V, H});
        b.ignore_matching("attn.bias");
        b.ignore_matching("attn.masked_bias");
        b.finish();
    } else if (c.model_type == "llama" || c.model_type == "qwen2") {
        WeightBinder b(store, {"model."});
        b.take("embed_tokens.weight", {V, H});
        for (int64_t l = 0; l < c.num_layers; ++l) {
            std::string p = "layers." + std::to_string(l) + ".";
            b.take(p + "input_layernorm.weight", {H});
            b.take(p + "self_attn.q_proj.weight", {Q, H});
            b.take(p + "self_attn.k_proj.weight", {KV, H});
            b.take(p + "self_attn.v_proj.weight", {KV, H});
            if (c.qkv_bias) {
                b.take(p + "self_attn.q_proj.bias", {Q});
                b.take(p + "self_attn.k_proj.bias", {KV});
                b.take(p + "self_attn.v_proj.bias", {KV});
            }
            b.take(p + "self_attn.o_proj.weight", {H, Q});
            b.take(p + "post_attention_layernorm.weight", {H});
            b.take(p + "mlp.gate_proj.weight", {I, H});
            b.take(p + "mlp.up_proj.weight", {I, H});
            b.take(p + "mlp.down_proj.weight", {H, I});
        }
        b.take("norm.weight", {H});
        if (c.tie_word_embeddings)
            b.take_optional("lm_head.weight", {V, H});  // some tied checkpoints still store it
        else
            b.take("lm_head.weight", {V, H});
        b.ignore_matching("rotary_emb.inv_freq");
        b.finish();
    } else if (c.model_type == "bert") {
        WeightBinder b(store, {"bert."});
        b.take("embeddings.word_embeddings.weight", {V, H});
        b.take("embeddings.position_embeddings.weight", {P, H});
        b.take("embeddings.token_type_embeddings.weight", {c.type_vocab_size, H});
        b.take("embeddings.LayerNorm.weight", {H});
        b.take("embeddings.LayerNorm.bias", {H});
        for (int64_t l = 0; l < c.num_layers; ++l) {
            std::string p = "encoder.layer." + std::to_string(l) + ".";
            for (const char *m : {"query", "key", "value"}) {
                b.take(p + "attention.self." + m + ".weight", {H, H});
                b.take(p + "attention.self." + m + ".bias", {H});
            }
            b.take(p + "attention.output.dense.weight", {H, H});
            b.take(p + "attention.output.dense.bias", {H});
            b.take(p + "attention.output.LayerNorm.weight", {H});
            b.take(p + "attention.output.LayerNorm.bias", {H});
            b.take(p + "intermediate.dense.weight", {I, H});
            b.take(p + "intermediate.dense.bias", {I});
            b.take(p + "output.dense.weight", {H, I});
            b.take(p + "output.dense.bias", {H});
            b.take(p + "output.LayerNorm.weight", {H});
            b.take(p + "output.LayerNorm.bias", {H});
        }
        b.take_optional("pooler.dense.weight", {H, H});
        b.take_optional("pooler.dense.bias", {H});
        b.ignore_matching("position_ids");
        b.finish();
    } else {
        FAIL() << "no binding table for " << c.model_type;
    }
}

}  // namespace

TEST(Checkpoints, EveryModelOpensValidatesAndBinds) {
    for (const Expected &e : kModels) {
        SCOPED_TRACE(e.dir);
        std::filesystem::path dir = models_dir() / e.dir;
        ASSERT_TRUE(std::filesystem::exists(dir / "config.json")) << dir;

        ModelConfig c = load_config(dir);
        EXPECT_EQ(c.model_type, e.model_type);
        EXPECT_EQ(c.vocab_size, e.vocab);
        EXPECT_EQ(c.hidden_size, e.hidden);
        EXPECT_EQ(c.num_layers, e.layers);
        EXPECT_EQ(c.num_heads, e.heads);
        EXPECT_EQ(c.num_kv_heads, e.kv_heads);
        EXPECT_EQ(c.head_dim, e.head_dim);
        EXPECT_EQ(c.intermediate_size, e.inter);
        EXPECT_EQ(c.max_position_embeddings, e.max_pos);
        EXPECT_DOUBLE_EQ(c.norm_eps, e.eps);
        EXPECT_DOUBLE_EQ(c.rope_theta, e.theta);
        EXPECT_EQ(c.tie_word_embeddings, e.tied);
        EXPECT_EQ(c.qkv_bias, e.qkv_bias);
        EXPECT_FALSE(c.multimodal);
        EXPECT_TRUE(c.rope_scaling.type.empty());
        EXPECT_NO_THROW(check_supported_for_inference(c));
        if (c.model_type == "bert") {
            EXPECT_EQ(c.type_vocab_size, 2);
        }
        EXPECT_NO_THROW(load_generation_config(dir));

        auto store = WeightStore::open(dir);
        EXPECT_EQ(store->parameter_count(), header_param_count(dir / "model.safetensors"));
        EXPECT_EQ(store->total_bytes(), std::filesystem::file_size(dir / "model.safetensors"));
        for (const TensorInfo *t : store->all()) {
            EXPECT_STREQ(dtype_name(t->dtype), e.dtype) << t->name;
            EXPECT_TRUE(t->aligned(4)) << t->name;  // writers pad the header to 8
        }
        bind_all(c, store);
    }
}

TEST(Checkpoints, ParameterCountsOfTheSharedModels) {
    // Known totals (sum of numel over the headers).
    EXPECT_EQ(WeightStore::open(models_dir() / "tiny-gpt2")->parameter_count(), 102714u);
    EXPECT_EQ(WeightStore::open(models_dir() / "tiny-random-llama")->parameter_count(), 1032272u);
    EXPECT_EQ(WeightStore::open(models_dir() / "aidreams260K")->parameter_count(), 230976u);
}

TEST(Checkpoints, GenerationConfigOfAidreams) {
    GenerationDefaults g = load_generation_config(models_dir() / "aidreams260K");
    EXPECT_EQ(g.bos_token_id, 1);
    ASSERT_EQ(g.eos_token_ids.size(), 1u);
    EXPECT_EQ(g.eos_token_ids[0], 2);
    EXPECT_EQ(g.do_sample, false);
    EXPECT_FALSE(g.temperature.has_value());
    ModelConfig c = load_config(models_dir() / "tiny-gpt2");
    EXPECT_EQ(c.hidden_act, "gelu_new");
    EXPECT_EQ(c.bos_token_ids, std::vector<int32_t>{50256});
    EXPECT_EQ(c.eos_token_ids, std::vector<int32_t>{50256});
    EXPECT_EQ(c.torch_dtype, "float32");
}
