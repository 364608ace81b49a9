// Issue 15, runtime items, through the public C API: the memory check sizes the KV cache for the
// context the caller will use (1), padded model vocabularies (5), tiny temperatures (7), NaN in
// encoders (12), a weights file truncated under a loaded model (17), the tokenizer's report of
// a huge vocabulary id (26) and nonsense sampling options (29).
#include <sys/stat.h>
#include <unistd.h>

#include <cfloat>
#include <cmath>
#include <cstring>
#include <fstream>
#include <map>

#include "api_support.h"

namespace {

using namespace hfk_api_test;
namespace fs = std::filesystem;
using nlohmann::json;

// ---- a small safetensors editor: the tests build checkpoints from the repo's tiny models -----
struct Tensor {
    std::string dtype;
    std::vector<int64_t> shape;
    std::vector<float> data;  // F32 only (the models used here are F32)
};
using Tensors = std::map<std::string, Tensor>;

Tensors read_tensors(const fs::path &file) {
    std::ifstream in(file, std::ios::binary);
    uint64_t n = 0;
    in.read(reinterpret_cast<char *>(&n), 8);
    std::string header(n, '\0');
    in.read(header.data(), static_cast<std::streamsize>(n));
    const json h = json::parse(header);
    std::string body((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
    Tensors out;
    for (auto it = h.begin(); it != h.end(); ++it) {
        if (it.key() == "__metadata__") continue;
        Tensor t;
        t.dtype = it.value()["dtype"];
        EXPECT_EQ(t.dtype, "F32") << it.key();
        t.shape = it.value()["shape"].get<std::vector<int64_t>>();
        const auto b = it.value()["data_offsets"][0].get<size_t>();
        const auto e = it.value()["data_offsets"][1].get<size_t>();
        t.data.resize((e - b) / 4);
        std::memcpy(t.data.data(), body.data() + b, e - b);
        out[it.key()] = std::move(t);
    }
    return out;
}

void write_tensors(const fs::path &file, const Tensors &tensors) {
    json h = json::object();
    size_t offset = 0;
    for (const auto &[name, t] : tensors) {
        const size_t bytes = t.data.size() * 4;
        h[name] = {
            {"dtype", t.dtype}, {"shape", t.shape}, {"data_offsets", {offset, offset + bytes}}};
        offset += bytes;
    }
    std::string header = h.dump();
    while (header.size() % 8) header += ' ';
    std::ofstream out(file, std::ios::binary | std::ios::trunc);
    const uint64_t n = header.size();
    out.write(reinterpret_cast<const char *>(&n), 8);
    out << header;
    for (const auto &[name, t] : tensors)
        out.write(reinterpret_cast<const char *>(t.data.data()),
                  static_cast<std::streamsize>(t.data.size() * 4));
}

// A private, writable copy (regular files, never links) of the repo's default model.
void copy_default_model(const fs::path &to) {
    for (const auto &e : fs::directory_iterator(default_model()))
        fs::copy_file(e.path(), to / e.path().filename());
}

void edit_config(const fs::path &dir, const std::function<void(json &)> &edit) {
    json cfg = read_json(dir / "config.json");
    edit(cfg);
    std::ofstream(dir / "config.json", std::ios::trunc) << cfg.dump();
}

// ---- item 1: the memory check and the context --------------------------------------------------

// aidreams260K with the longest context a config may declare (2^24 tokens): a KV cache for all
// of it would take 32 GiB, yet sessions of a few thousand tokens need a few MB. RoPE needs no
// weights per position, so this is a valid checkpoint.
TEST(HardeningRuntime, MemoryCheckSizesTheKvCacheForTheContextInUse) {
    TempDir dir;
    copy_default_model(dir.path);
    const int64_t max_pos = int64_t(1) << 24;
    edit_config(dir.path, [&](json &c) { c["max_position_embeddings"] = max_pos; });

    // No context given: the check assumes min(context length, 4096) and the model loads.
    hfk_load_params lp;
    HFK_LOAD_PARAMS_INIT(&lp);
    lp.n_threads = 1;
    hfk_model *m = nullptr;
    ASSERT_EQ(hfk_model_load(&m, dir.path.c_str(), &lp), HFK_OK) << hfk_last_error_message();
    EXPECT_EQ(hfk_model_context_length(m), max_pos);
    hfk_model_free(m);

    // With n_ctx, sessions default to it, and the model computes what the original does.
    lp.n_ctx = 256;
    ASSERT_EQ(hfk_model_load(&m, dir.path.c_str(), &lp), HFK_OK) << hfk_last_error_message();
    ModelPtr model(m);
    auto s = session(m);
    const std::string prompt(4000, 'a');  // more than 256 tokens
    hfk_gen_params p = greedy(4);
    EXPECT_EQ(hfk_session_generate(s.get(), prompt.c_str(), &p, nullptr, nullptr, nullptr, nullptr),
              HFK_E_CONTEXT_FULL);
    auto original = load(default_model());
    auto s_orig = session(original.get());
    std::vector<int32_t> want, got;
    generate(s_orig.get(), "Once upon a time", greedy(12), &want);
    generate(s.get(), "Once upon a time", greedy(12), &got);
    EXPECT_EQ(got, want);
}

// The refusal names the context it assumed, and the override. 1024 layers of 2^16 wide keys
// and values make a KV cache of 512 MiB per token, beyond any machine for 4096 tokens; the check
// comes before the weights are read (which do not match this config: a load that passes the
// check fails with HFK_E_FORMAT).
TEST(HardeningRuntime, MemoryRefusalNamesTheContextItAssumed) {
    TempDir dir;
    copy_default_model(dir.path);
    edit_config(dir.path, [&](json &c) {
        c["num_hidden_layers"] = 1024;
        c["hidden_size"] = 1 << 16;
        c["max_position_embeddings"] = 1 << 24;
    });
    hfk_load_params lp;
    HFK_LOAD_PARAMS_INIT(&lp);
    hfk_model *m = nullptr;
    for (int32_t n_ctx : {0, 1 << 24, 100000}) {
        lp.n_ctx = n_ctx;
        EXPECT_EQ(hfk_model_load(&m, dir.path.c_str(), &lp), HFK_E_RESOURCE) << n_ctx;
        const std::string msg = hfk_last_error_message();
        const int64_t assumed = n_ctx > 0 ? n_ctx : 4096;
        EXPECT_NE(msg.find("context of " + std::to_string(assumed) + " tokens"), std::string::npos)
            << msg;
        EXPECT_NE(msg.find("skip_resource_check"), std::string::npos) << msg;
        EXPECT_NE(msg.find("n_ctx"), std::string::npos) << msg;
    }
    lp.n_ctx = 0;
    lp.skip_resource_check = 1;
    EXPECT_EQ(hfk_model_load(&m, dir.path.c_str(), &lp), HFK_E_FORMAT) << hfk_last_error_message();
}

// ---- item 5: model vocabulary vs tokenizer -----------------------------------------------------

// The default model (tied embeddings, 512 ids) with its embedding padded to `rows` rows. The
// extra rows are +-100 x real rows: their logits dwarf every real token's, so any sampler that
// looks at them picks one.
fs::path padded_model(const TempDir &dir, int64_t rows) {
    copy_default_model(dir.path);
    Tensors t = read_tensors(default_model() / "model.safetensors");
    Tensor &emb = t.at("model.embed_tokens.weight");
    const int64_t real = emb.shape[0], hidden = emb.shape[1];
    std::vector<float> data(static_cast<size_t>(rows * hidden));
    for (int64_t r = 0; r < rows; ++r)
        for (int64_t i = 0; i < hidden; ++i) {
            const int64_t k = r - real;
            data[size_t(r * hidden + i)] =
                r < real
                    ? emb.data[size_t(r * hidden + i)]
                    : (k % 2 ? -100.0f : 100.0f) * emb.data[size_t(((k / 2) % real) * hidden + i)];
        }
    emb.data = std::move(data);
    emb.shape[0] = rows;
    write_tensors(dir.path / "model.safetensors", t);
    edit_config(dir.path, [&](json &c) { c["vocab_size"] = rows; });
    return dir.path;
}

TEST(HardeningRuntime, PaddedVocabularyNeverSamplesIdsTheTokenizerCannotDecode) {
    TempDir dir;
    auto padded = load(padded_model(dir, 1000));
    ASSERT_TRUE(padded);
    auto original = load(default_model());
    ASSERT_EQ(hfk_tokenizer_vocab_size(hfk_model_tokenizer(padded.get())), 512);
    auto sp = session(padded.get());
    auto so = session(original.get());
    // Greedy: exactly the original model's tokens (the padded ids are masked, not just skipped
    // at decode time).
    std::vector<int32_t> want, got;
    const std::string want_text = generate(so.get(), "The capital", greedy(24), &want);
    EXPECT_EQ(generate(sp.get(), "The capital", greedy(24), &got), want_text);
    EXPECT_EQ(got, want);
    // Sampling with the same seed: the same draws over the same candidates.
    for (uint64_t seed : {1u, 7u, 42u}) {
        hfk_gen_params p = greedy(24);
        p.temperature = 1.0f;
        p.top_k = 0;
        p.seed = seed;
        hfk_session_reset(sp.get());
        hfk_session_reset(so.get());
        generate(so.get(), "Once", p, &want);
        generate(sp.get(), "Once", p, &got);
        EXPECT_EQ(got, want) << "seed " << seed;
        for (int32_t id : got) EXPECT_LT(id, 512);
    }
}

TEST(HardeningRuntime, ModelVocabularySmallerThanTheTokenizerIsRefusedAtLoad) {
    TempDir dir;
    copy_default_model(dir.path);
    Tensors t = read_tensors(default_model() / "model.safetensors");
    Tensor &emb = t.at("model.embed_tokens.weight");
    emb.data.resize(size_t(500 * emb.shape[1]));
    emb.shape[0] = 500;
    write_tensors(dir.path / "model.safetensors", t);
    edit_config(dir.path, [](json &c) { c["vocab_size"] = 500; });
    hfk_model *m = nullptr;
    EXPECT_EQ(hfk_model_load(&m, dir.path.c_str(), nullptr), HFK_E_FORMAT);
    EXPECT_EQ(m, nullptr);
    const std::string msg = hfk_last_error_message();
    EXPECT_NE(msg.find("500"), std::string::npos) << msg;
    EXPECT_NE(msg.find("512"), std::string::npos) << msg;
}

// ---- item 7: tiny temperatures
// -------------------------------------------------------------------

TEST(HardeningRuntime, TinyPositiveTemperaturesAreGreedy) {
    auto model = load(default_model());
    auto s = session(model.get());
    std::vector<int32_t> want;
    generate(s.get(), "Once upon a time", greedy(24), &want);
    // From the smallest denormal up to where (logit - max) / T stops overflowing.
    for (float t : {std::nextafter(0.0f, 1.0f), 1e-38f, FLT_MIN, 1e-30f, 1e-20f, 1e-10f}) {
        for (uint64_t seed : {0u, 1u, 2u}) {
            SCOPED_TRACE("temperature " + std::to_string(t) + " seed " + std::to_string(seed));
            hfk_gen_params p = greedy(24);
            p.temperature = t;
            p.top_k = 0;
            p.top_p = 1.0f;
            p.seed = seed;
            hfk_session_reset(s.get());
            std::vector<int32_t> got;
            generate(s.get(), "Once upon a time", p, &got);
            EXPECT_EQ(got, want);
        }
    }
}

// ---- item 12: NaN in an encoder ---------------------------------------------------------------

TEST(HardeningRuntime, EncoderNanIsANumericErrorLikeTheGenerator) {
    TempDir dir;
    const fs::path bert = shared_dir() / "models/tiny/tiny-bert-f32";
    fs::copy_file(bert / "config.json", dir.path / "config.json");
    const int64_t vocab = read_json(bert / "config.json")["vocab_size"].get<int64_t>();
    write_word_level_tokenizer(dir.path, vocab);
    Tensors t = read_tensors(bert / "model.safetensors");
    Tensor &w = t.at("embeddings.word_embeddings.weight");
    const auto hidden = static_cast<size_t>(w.shape[1]);
    for (size_t i = 0; i < hidden; ++i) w.data[3 * hidden + i] = NAN;  // the row of "t3"
    write_tensors(dir.path / "model.safetensors", t);

    auto model = load(dir.path);
    ASSERT_TRUE(model);
    const int32_t dim = hfk_model_embedding_dim(model.get());
    std::vector<float> out(static_cast<size_t>(dim));
    const char *fine[] = {"t1 t2"};
    EXPECT_EQ(hfk_model_embed(model.get(), fine, 1, nullptr, out.data(), out.size()), HFK_OK)
        << hfk_last_error_message();
    const char *poisoned[] = {"t1 t3 t2"};
    EXPECT_EQ(hfk_model_embed(model.get(), poisoned, 1, nullptr, out.data(), out.size()),
              HFK_E_NUMERIC);
    EXPECT_NE(std::string(hfk_last_error_message()).find("NaN"), std::string::npos)
        << hfk_last_error_message();
}

// ---- item 17: a weights file truncated under a loaded model ------------------------------------

TEST(HardeningRuntime, WeightsTruncatedInPlaceAreReportedOnTheNextCallNotSigbus) {
    TempDir dir;
    copy_default_model(dir.path);
    const fs::path weights = dir.path / "model.safetensors";
    ASSERT_FALSE(fs::is_symlink(weights));  // truncating below must never reach shared data
    auto model = load(dir.path);
    ASSERT_TRUE(model);
    auto s = session(model.get());
    generate(s.get(), "Once", greedy(4));
    ASSERT_EQ(::truncate(weights.c_str(), 4096), 0);
    EXPECT_EQ(hfk_session_generate(s.get(), "Once", nullptr, nullptr, nullptr, nullptr, nullptr),
              HFK_E_IO);
    const std::string msg = hfk_last_error_message();
    EXPECT_NE(msg.find("truncated"), std::string::npos) << msg;
    EXPECT_NE(msg.find("model.safetensors"), std::string::npos) << msg;
}

// ---- item 26: a vocabulary id beyond int32 ----------------------------------------------------

TEST(HardeningRuntime, HugeVocabularyIdIsReportedAsWritten) {
    for (const std::string id : {"2147483647", "4294967296", "18446744073709551615"}) {
        SCOPED_TRACE(id);
        TempDir dir;
        std::ofstream(dir.path / "tokenizer.json")
            << R"({"version": "1.0", "added_tokens": [], "normalizer": null,
                  "pre_tokenizer": null, "post_processor": null, "decoder": null,
                  "model": {"type": "BPE", "vocab": {"a": 0, "b": )"
            << id << R"(}, "merges": []}})";
        hfk_tokenizer *tok = nullptr;
        EXPECT_EQ(hfk_tokenizer_load(&tok, (dir.path / "tokenizer.json").c_str()), HFK_E_FORMAT);
        const std::string msg = hfk_last_error_message();
        EXPECT_NE(msg.find("token id " + id), std::string::npos) << msg;
        EXPECT_EQ(msg.find("-1"), std::string::npos) << msg;
    }
}

// ---- item 29: nonsense sampling options ---------------------------------------------------------

TEST(HardeningRuntime, NegativeSamplingOptionsOtherThanUnsetAreRefused) {
    auto model = load(default_model());
    auto s = session(model.get());
    expect_bad_options_named(
        s.get(), greedy(2),
        {
            {"top_k", [](hfk_gen_params &p) { p.top_k = -5; }},
            {"temperature", [](hfk_gen_params &p) { p.temperature = -5.0f; }},
            {"top_p", [](hfk_gen_params &p) { p.top_p = -0.5f; }},
            {"min_p", [](hfk_gen_params &p) { p.min_p = -2.0f; }},
            {"repetition_penalty", [](hfk_gen_params &p) { p.repetition_penalty = -0.5f; }},
            {"repetition_penalty", [](hfk_gen_params &p) { p.repetition_penalty = 0.0f; }},
        });
    // -1 is "unset" (the model's default) for every one of them, as hfk_gen_params_init writes.
    hfk_gen_params p;
    HFK_GEN_PARAMS_INIT(&p);
    EXPECT_EQ(p.top_k, -1);
    EXPECT_EQ(p.temperature, -1.0f);
    EXPECT_EQ(p.repetition_penalty, -1.0f);
    p.max_new_tokens = 2;
    EXPECT_EQ(hfk_session_generate(s.get(), "x", &p, nullptr, nullptr, nullptr, nullptr), HFK_OK)
        << hfk_last_error_message();
}

}  // namespace
