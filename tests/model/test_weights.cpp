// WeightStore (single file, shards, pickle refusal, index validation) and WeightBinder.
#include <cstring>
#include <map>

#include <nlohmann/json.hpp>

#include "model/weights.h"
#include "st_builder.h"

using namespace hfk;
using namespace hfk_test;
using json = nlohmann::json;

namespace {

// Writes the given tensors as one safetensors file (header padded to 8 bytes, like the writers).
std::string write_tensors(const std::vector<const TensorInfo *> &tensors) {
    json h = json::object();
    h["__metadata__"] = {{"format", "pt"}};
    uint64_t off = 0;
    std::string data;
    for (const TensorInfo *t : tensors) {
        h[t->name] = {{"dtype", dtype_name(t->dtype)},
                      {"shape", t->shape},
                      {"data_offsets", {off, off + t->nbytes}}};
        data.append(reinterpret_cast<const char *>(t->data), t->nbytes);
        off += t->nbytes;
    }
    std::string hs = h.dump();
    hs += std::string((8 - hs.size() % 8) % 8, ' ');
    return le64(hs.size()) + hs + data;
}

// A copy of `src` split into two shards plus an index.
void write_sharded(const WeightStore &src, const TempDir &dir, json *index_out = nullptr) {
    const auto &all = src.all();
    std::vector<const TensorInfo *> a(all.begin(), all.begin() + all.size() / 2);
    std::vector<const TensorInfo *> b(all.begin() + all.size() / 2, all.end());
    const char *na = "model-00001-of-00002.safetensors";
    const char *nb = "model-00002-of-00002.safetensors";
    dir.write(na, write_tensors(a));
    dir.write(nb, write_tensors(b));
    json idx;
    uint64_t total = 0;
    for (auto *t : a) idx["weight_map"][t->name] = na, total += t->nbytes;
    for (auto *t : b) idx["weight_map"][t->name] = nb, total += t->nbytes;
    idx["metadata"]["total_size"] = total;
    dir.write("model.safetensors.index.json", idx.dump(2));
    if (index_out) *index_out = idx;
}

std::shared_ptr<const WeightStore> tiny(const char *name) {
    return WeightStore::open(models_dir() / "tiny" / name);
}

}  // namespace

TEST(WeightStore, SingleFile) {
    auto s = tiny("tiny-llama-gqa-f32");
    EXPECT_EQ(s->file_count(), 1u);
    ASSERT_NE(s->find("model.embed_tokens.weight"), nullptr);
    EXPECT_EQ(s->find("model.embed_tokens.weight")->shape, (std::vector<int64_t>{96, 32}));
    EXPECT_EQ(s->find("embed_tokens.weight"), nullptr);
    for (size_t i = 1; i < s->all().size(); ++i)
        EXPECT_LT(s->all()[i - 1]->name, s->all()[i]->name);
    EXPECT_EQ(s->total_bytes(), std::filesystem::file_size(
                                    models_dir() / "tiny/tiny-llama-gqa-f32/model.safetensors"));
}

TEST(WeightStore, ShardedCopyLoadsTheSameTensors) {
    auto src = tiny("tiny-llama-gqa-bf16");
    TempDir dir;
    write_sharded(*src, dir);
    auto s = WeightStore::open(dir.path);
    EXPECT_EQ(s->file_count(), 2u);
    ASSERT_EQ(s->all().size(), src->all().size());
    EXPECT_EQ(s->parameter_count(), src->parameter_count());
    for (size_t i = 0; i < s->all().size(); ++i) {
        const TensorInfo *x = s->all()[i], *y = src->all()[i];
        EXPECT_EQ(x->name, y->name);
        EXPECT_EQ(x->dtype, y->dtype);
        EXPECT_EQ(x->shape, y->shape);
        ASSERT_EQ(x->nbytes, y->nbytes);
        EXPECT_EQ(std::memcmp(x->data, y->data, x->nbytes), 0) << x->name;
        EXPECT_NE(x->file.find("-of-00002.safetensors"), std::string::npos);
    }
}

TEST(WeightStore, SingleFileWinsOverIndex) {
    TempDir dir;
    auto src = tiny("tiny-gpt2-f32");
    write_sharded(*src, dir);
    dir.write("model.safetensors",
              read_file(models_dir() / "tiny/tiny-gpt2-f32/model.safetensors"));
    EXPECT_EQ(WeightStore::open(dir.path)->file_count(), 1u);
}

// F23: pickle is never loaded, and the message says why and what to do.
TEST(WeightStore, F23_PickleOnlyCheckpointIsRefused) {
    for (const char *name : {"pytorch_model.bin", "model.pt", "weights.pth", "model.ckpt"}) {
        SCOPED_TRACE(name);
        TempDir dir;
        // A pickle whose REDUCE would call os.system: it must never be read as pickle.
        dir.write(name, std::string("\x80\x02"
                                    "cos\nsystem\nq\x00X\x02\x00\x00\x00idq\x01\x85q\x02Rq\x03.",
                                    29));
        dir.write("config.json", "{}");
        expect_error([&] { WeightStore::open(dir.path); }, HFK_E_UNSUPPORTED,
                     {name, "pickle", "execute", "safetensors"});
    }
}

TEST(WeightStore, NoWeights) {
    TempDir dir;
    expect_error([&] { WeightStore::open(dir.path); }, HFK_E_NOT_FOUND, {"model.safetensors"});
    expect_error([&] { WeightStore::open(dir.path / "missing"); }, HFK_E_NOT_FOUND, {"missing"});
}

TEST(WeightStore, InvalidSingleFileNamesFile) {
    TempDir dir;
    std::string f = read_file(models_dir() / "tiny/tiny-gpt2-f32/model.safetensors");
    dir.write("model.safetensors", f.substr(0, f.size() - 1));
    expect_error([&] { WeightStore::open(dir.path); }, HFK_E_FORMAT,
                 {"model.safetensors", "truncated"});
}

// F13 and ST-h: index values that would escape the directory are rejected before any open.
TEST(WeightStore, F13_ShardPathTraversal) {
    auto src = tiny("tiny-gpt2-f32");
    for (const char *bad :
         {"../../x.safetensors", "/etc/passwd", "C:\\x.safetensors", "a/b.safetensors", "..",
          "x.safetensors\n", "D:x.safetensors", "\\\\host\\share.safetensors", "model.bin", ""}) {
        SCOPED_TRACE(bad);
        TempDir dir;
        json idx;
        write_sharded(*src, dir, &idx);
        idx["weight_map"]["wte.weight"] = bad;
        dir.write("model.safetensors.index.json", idx.dump());
        expect_error([&] { WeightStore::open(dir.path); }, HFK_E_FORMAT,
                     {"model.safetensors.index.json", "shard file name"});
    }
}

TEST(WeightStore, F13_TensorMappedToTwoShardsOrMissing) {
    auto src = tiny("tiny-gpt2-f32");
    {
        // The same key twice in weight_map: duplicate JSON keys are rejected.
        TempDir dir;
        json idx;
        write_sharded(*src, dir, &idx);
        std::string text = idx.dump();
        text.insert(text.find("\"weight_map\":{") + 14,
                    "\"wte.weight\":\"model-00001-of-00002.safetensors\",");
        dir.write("model.safetensors.index.json", text);
        expect_error([&] { WeightStore::open(dir.path); }, HFK_E_FORMAT,
                     {"model.safetensors.index.json", "duplicate JSON key \"wte.weight\""});
    }
    {
        // A tensor present in both shard files.
        TempDir dir;
        json idx;
        write_sharded(*src, dir, &idx);
        std::vector<const TensorInfo *> all = src->all();
        dir.write("model-00002-of-00002.safetensors",
                  write_tensors(std::vector<const TensorInfo *>(all.begin() + all.size() / 2 - 1,
                                                                all.end())));
        expect_error([&] { WeightStore::open(dir.path); }, HFK_E_FORMAT,
                     {"model-00002-of-00002.safetensors", "not mapped to this shard"});
    }
    {
        // Listed in the index, absent from its shard.
        TempDir dir;
        json idx;
        write_sharded(*src, dir, &idx);
        idx["weight_map"]["ghost.weight"] = "model-00001-of-00002.safetensors";
        dir.write("model.safetensors.index.json", idx.dump());
        expect_error([&] { WeightStore::open(dir.path); }, HFK_E_FORMAT,
                     {"\"ghost.weight\"", "does not hold it"});
    }
    {
        // A listed shard that does not exist.
        TempDir dir;
        json idx;
        write_sharded(*src, dir, &idx);
        std::filesystem::remove(dir.path / "model-00002-of-00002.safetensors");
        expect_error([&] { WeightStore::open(dir.path); }, HFK_E_NOT_FOUND,
                     {"model-00002-of-00002.safetensors", "missing"});
    }
    {
        // A corrupt shard is named.
        TempDir dir;
        write_sharded(*src, dir);
        std::string f = read_file(dir.path / "model-00002-of-00002.safetensors");
        dir.write("model-00002-of-00002.safetensors", f.substr(0, f.size() - 2));
        expect_error([&] { WeightStore::open(dir.path); }, HFK_E_FORMAT,
                     {"model-00002-of-00002.safetensors", "truncated"});
    }
}

TEST(WeightStore, BrokenIndexJson) {
    auto src = tiny("tiny-gpt2-f32");
    struct Case {
        const char *text;
        const char *fragment;
    };
    for (
        Case c :
        {Case{"not json", "not valid JSON"},
         {"[]", "not a JSON object"},
         {"{}", "weight_map"},
         {R"({"weight_map":[]})", "weight_map"},
         {R"({"weight_map":{}})", "empty"},
         {R"({"weight_map":{"wte.weight":1}})", "not a string"},
         {R"({"weight_map":{"wte.weight":"model-00001-of-00002.safetensors"},"metadata":{"total_size":-5}})",
          "total_size"},
         {R"({"weight_map":{"wte.weight":"model-00001-of-00002.safetensors"},"metadata":7})",
          "metadata"}}) {
        SCOPED_TRACE(c.text);
        TempDir dir;
        write_sharded(*src, dir);
        dir.write("model.safetensors.index.json", c.text);
        expect_error([&] { WeightStore::open(dir.path); }, HFK_E_FORMAT,
                     {"model.safetensors.index.json", c.fragment});
    }
    TempDir dir;
    write_sharded(*src, dir);
    dir.write("model.safetensors.index.json", std::string(100000, '[') + std::string(100000, ']'));
    expect_error([&] { WeightStore::open(dir.path); }, HFK_E_FORMAT, {"deeper than 64"});
}

// ---- WeightBinder ----

TEST(WeightBinder, PrefixesAreTolerated) {
    for (const char *model : {"tiny-gpt2-f32", "tiny-gpt2-prefixed-f32"}) {
        SCOPED_TRACE(model);
        WeightBinder b(tiny(model), {"transformer.", "model.", "bert."});
        EXPECT_TRUE(b.has("h.0.attn.c_attn.weight"));
        EXPECT_TRUE(b.has("transformer.h.0.attn.c_attn.weight"));
        const TensorInfo &t = b.take("h.0.attn.c_attn.weight", {32, 96});
        EXPECT_NE(t.data, nullptr);
        EXPECT_EQ(b.take_optional("lm_head.weight", {96, 32}), nullptr);
    }
}

TEST(WeightBinder, WrongShapeMissingAndDtype) {
    WeightBinder b(tiny("tiny-gpt2-f32"), {"transformer."});
    expect_error(
        [&] {
            b.take("wte.weight", {32, 96});
        },
        HFK_E_FORMAT, {"\"wte.weight\"", "[96, 32]", "[32, 96]", "model.safetensors"});
    expect_error([&] { b.take("h.7.ln_1.weight", {32}); }, HFK_E_FORMAT,
                 {"missing tensor \"h.7.ln_1.weight\""});

    TempDir dir;
    dir.write("model.safetensors",
              st_file(R"({"ids":{"dtype":"I32","shape":[2],"data_offsets":[0,8]}})", 8));
    WeightBinder ib(WeightStore::open(dir.path), {});
    expect_error([&] { ib.take("ids", {2}); }, HFK_E_FORMAT,
                 {"\"ids\"", "I32", "F32, F16 and BF16"});
}

TEST(WeightBinder, FinishReportsUnexpectedTensors) {
    auto store = tiny("tiny-gpt2-f32");
    {
        WeightBinder b(store, {});
        for (const TensorInfo *t : store->all())
            if (t->name != "ln_f.bias") b.take(t->name, std::vector<int64_t>(t->shape));
        expect_error([&] { b.finish(); }, HFK_E_FORMAT, {"unexpected tensor \"ln_f.bias\""});
        b.ignore_matching("ln_f.");
        EXPECT_NO_THROW(b.finish());
    }
    {
        WeightBinder b(store, {});
        expect_error([&] { b.finish(); }, HFK_E_FORMAT, {"unexpected tensor", "more"});
    }
}

// F11 / CJ4: a valid file whose shapes disagree with config.json is refused when bound.
TEST(WeightBinder, F11_ShapesThatDisagreeWithConfig) {
    // tiny-llama-gqa has 2 KV heads of 8 dims: k_proj is [16, 32]. A config claiming 4 KV heads
    // implies [32, 32].
    WeightBinder b(tiny("tiny-llama-gqa-f32"), {"model."});
    expect_error(
        [&] {
            b.take("layers.0.self_attn.k_proj.weight", {32, 32});
        },
        HFK_E_FORMAT, {"model.layers.0.self_attn.k_proj.weight", "[16, 32]", "[32, 32]"});
}
