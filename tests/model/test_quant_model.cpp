// Quantized weights in a whole model (issue 18), on the trained aidreams260K checkpoint: the
// quantized forward against the dequantize-then-F32 reference forward, the bytes held, the
// next-token agreement with the unquantized model; and pre-quantized checkpoints refused by name.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstdlib>
#include <fstream>
#include <map>
#include <sstream>
#include <string>
#include <vector>

#include "kernels/matmul.h"
#include "kernels/quant.h"
#include "model/config.h"
#include "model/model.h"
#include "runtime/model_registry.h"
#include "../support/test_support.h"
#include "util/error.h"

using namespace hfk;

namespace {

std::filesystem::path aidreams() {
    return hfk_test::shared_models_dir() / "aidreams260K";
}

std::shared_ptr<const Model> load(WeightFormat f, bool embeddings = false) {
    LoadOptions o;
    o.n_threads = 2;
    o.format = f;
    o.quantize_embeddings = embeddings;
    return Model::load(aidreams(), o);
}

// Logits of every position of `tokens`, run as a prefill of `split` tokens then one at a time
// (both the matrix-matrix and the matrix-vector paths).
std::vector<float> logits_of(const Model &m, const std::vector<int32_t> &tokens, size_t split) {
    auto cache = m.new_cache(0);
    const size_t v = size_t(m.vocab_size());
    std::vector<float> out(tokens.size() * v);
    m.forward(*cache, std::span(tokens.data(), split), out.data(), true, 2);
    for (size_t i = split; i < tokens.size(); ++i)
        m.forward(*cache, std::span(tokens.data() + i, 1), out.data() + i * v, false, 2);
    return out;
}

// A greedy continuation of BOS by the unquantized model.
std::vector<int32_t> greedy_tokens(const Model &m, size_t n) {
    std::vector<int32_t> toks{1};
    auto cache = m.new_cache(0);
    std::vector<float> lg(static_cast<size_t>(m.vocab_size()));
    for (size_t i = 0; i + 1 < n; ++i) {
        m.forward(*cache, std::span(toks.data() + i, 1), lg.data(), false, 2);
        toks.push_back(int32_t(std::max_element(lg.begin(), lg.end()) - lg.begin()));
    }
    return toks;
}

size_t argmax(const float *p, size_t n) {
    return size_t(std::max_element(p, p + n) - p);
}

}  // namespace

// CTest runs it again with HFK_KERNELS=avx2 and =avxvnni (their interleaved kernels).
TEST(QuantModel, ForwardEqualsDequantizedReferenceForward) {
    if (const char *forced = std::getenv("HFK_KERNELS")) {
        if (!kern::quant_ops_for(forced)) GTEST_SKIP() << "this CPU lacks " << forced;
        ASSERT_STREQ(kern::quant_isa(), forced);
        ASSERT_TRUE(kern::quant_ops().rows16);  // the loader interleaves for these sets
    }
    const auto base = load(WeightFormat::Auto);
    const std::vector<int32_t> toks = greedy_tokens(*base, 24);
    for (WeightFormat f : {WeightFormat::Q8, WeightFormat::Q4}) {
        const auto m = load(f, true);
        const std::vector<float> got = logits_of(*m, toks, 12);
        kern::set_quantized_reference(true);
        const std::vector<float> want = logits_of(*m, toks, 12);
        kern::set_quantized_reference(false);
        double worst = 0;
        for (size_t i = 0; i < got.size(); ++i)
            worst = std::max(worst, double(std::fabs(got[i] - want[i])));
        std::printf("%s: max |quantized - dequantized reference| logit difference %.3g\n",
                    weight_format_name(f), worst);
        EXPECT_LE(worst, 1e-4) << weight_format_name(f);
    }
}

TEST(QuantModel, WeightBytesAreTheBlocks) {
    const auto base = load(WeightFormat::Auto);
    const ModelConfig &c = base->config();
    const int64_t d = c.hidden_size, f = c.intermediate_size, L = c.num_layers, v = c.vocab_size;
    for (auto [fmt, qt] : {std::pair{WeightFormat::Q8, kern::QType::Q8_0},
                           std::pair{WeightFormat::Q4, kern::QType::Q4_1}}) {
        const auto m = load(fmt);
        // q, k, v, o, gate, up ([out, in] rows of blocks) and down; F32 embedding and norms.
        const uint64_t per_layer = 4 * uint64_t(d) * kern::q_row_bytes(qt, d) +
                                   2 * uint64_t(f) * kern::q_row_bytes(qt, d) +
                                   uint64_t(d) * kern::q_row_bytes(qt, f);
        const uint64_t expect =
            uint64_t(L) * per_layer + uint64_t(v * d) * 4 + uint64_t((2 * L + 1) * d) * 4;
        EXPECT_EQ(m->weight_bytes(), expect) << weight_format_name(fmt);
        EXPECT_LT(m->weight_bytes(), base->weight_bytes());
    }
    // F32 and BF16 conversions: the same tensors in 4 and 2 bytes (the checkpoint is F32).
    EXPECT_EQ(load(WeightFormat::F32)->weight_bytes(), base->weight_bytes());
    EXPECT_LT(load(WeightFormat::BF16)->weight_bytes(), base->weight_bytes());
}

namespace {
// Resident kB of each mapping of `file` in this process, by start address (/proc/self/smaps).
std::map<std::string, long> resident_kb_of(const std::string &file) {
    std::ifstream in("/proc/self/smaps");
    std::map<std::string, long> out;
    std::string line, current;
    while (std::getline(in, line)) {
        if (line.find(" kB") == std::string::npos && line.find('-') != std::string::npos &&
            line.find(':') != std::string::npos && line.find(' ') < 40) {
            current = line.size() >= file.size() &&
                              line.compare(line.size() - file.size(), file.size(), file) == 0
                          ? line.substr(0, line.find(' '))
                          : "";
        } else if (!current.empty() && line.rfind("Rss:", 0) == 0) {
            out[current] = std::stol(line.substr(4));
        }
    }
    return out;
}
}  // namespace

// A quantized matrix's source pages leave the process after load: the checkpoint's mapping
// keeps (about) the embedding and norms resident, where as stored it keeps every page.
TEST(QuantModel, SourcePagesAreReleased) {
    const std::string file = (aidreams() / "model.safetensors").string();
    auto new_mapping_kb = [&](WeightFormat f, std::shared_ptr<const Model> &keep) {
        const auto before = resident_kb_of(file);
        keep = load(f);
        for (const auto &[addr, kb] : resident_kb_of(file))
            if (!before.count(addr)) return kb;
        ADD_FAILURE() << "no new mapping of " << file;
        return -1L;
    };
    std::shared_ptr<const Model> plain, q8;
    const long plain_kb = new_mapping_kb(WeightFormat::Auto, plain);
    const long q8_kb = new_mapping_kb(WeightFormat::Q8, q8);
    std::printf("resident pages of the checkpoint mapping: as stored %ld kB, q8 %ld kB\n", plain_kb,
                q8_kb);
    EXPECT_GE(plain_kb, 800);  // the 0.88 MiB file, populated at load
    // The F32 embedding (128 kB) and the norms stay; the matrices' pages (but the partial
    // pages at their edges) go.
    EXPECT_LE(q8_kb, 128 + 4 * 40);
}

// Every architecture's matrices (GPT-2's [in, out] Conv1D included, quantized along its input
// dimension) stay close to the unquantized model: a wrong layout would give errors near 1 or
// more. The tiny checkpoints are random (small logits, no trained structure), so their errors
// are larger than a trained model's: measured q8 0.017-0.047, q4 0.17-0.48.
TEST(QuantModel, CloseToUnquantizedOnEveryArchitecture) {
    const auto tiny = hfk_test::shared_models_dir() / "tiny";
    for (const char *name : {"tiny-gpt2-f32", "tiny-llama-gqa-bf16", "tiny-qwen2-bias-f32",
                             "tiny-llama-tied-f32", "tiny-bert-f32"}) {
        for (auto [f, bound] :
             {std::pair{WeightFormat::Q8, 0.1}, std::pair{WeightFormat::Q4, 0.6}}) {
            LoadOptions o;
            o.n_threads = 2;
            const auto base = Model::load(tiny / name, o);
            o.format = f;
            o.quantize_embeddings = true;
            const auto q = Model::load(tiny / name, o);
            std::vector<int32_t> toks;
            for (int32_t i = 0; i < 12; ++i) toks.push_back((i * 7 + 3) % base->vocab_size());
            std::vector<float> want, got;
            if (base->is_causal()) {
                want = logits_of(*base, toks, 6);
                got = logits_of(*q, toks, 6);
            } else {
                want = base->encode(toks, {}, 2).last_hidden_state;
                got = q->encode(toks, {}, 2).last_hidden_state;
            }
            const double err = hfk_test::relative_rms(got, want);
            std::printf("%s %s: relative RMS error %.4f\n", name, weight_format_name(f), err);
            EXPECT_LT(err, bound) << name << " " << weight_format_name(f);
        }
    }
}

// Teacher-forced next-token agreement with the unquantized model over its own greedy text.
TEST(QuantModel, NextTokensMostlyAgree) {
    const auto base = load(WeightFormat::Auto);
    const std::vector<int32_t> toks = greedy_tokens(*base, 100);
    const std::vector<float> ref = logits_of(*base, toks, 50);
    const size_t v = size_t(base->vocab_size());
    for (auto [f, min_agree] : {std::pair{WeightFormat::Q8, 0.97}, std::pair{WeightFormat::Q4, 0.8},
                                std::pair{WeightFormat::BF16, 0.97}}) {
        const std::vector<float> got = logits_of(*load(f), toks, 50);
        size_t same = 0;
        for (size_t i = 0; i < toks.size(); ++i)
            same += argmax(got.data() + i * v, v) == argmax(ref.data() + i * v, v);
        const double agree = double(same) / double(toks.size());
        std::printf("%s: top-1 agreement %.3f over %zu positions\n", weight_format_name(f), agree,
                    toks.size());
        EXPECT_GE(agree, min_agree) << weight_format_name(f);
    }
}

TEST(QuantModel, LoadVariantsAreDistinct) {
    LoadOptions o;
    EXPECT_EQ(load_variant(o), "");
    o.format = WeightFormat::Q8;
    EXPECT_EQ(load_variant(o), "q8");
    o.quantize_embeddings = false;
    EXPECT_EQ(load_variant(o), "q8+embeddings-as-stored");
    EXPECT_EQ(weight_format_from_name("q4"), WeightFormat::Q4);
    EXPECT_FALSE(weight_format_from_name("q5").has_value());
}

// The registry keys models by directory and load variant: the same directory as stored and in q8
// are two models, the same variant twice is one.
TEST(QuantModel, RegistryKeepsVariantsApart) {
    LoadOptions plain, q8;
    plain.n_threads = q8.n_threads = 1;
    q8.format = WeightFormat::Q8;
    const auto a = acquire_loaded_model(aidreams(), plain, {}, nullptr);
    const auto b = acquire_loaded_model(aidreams(), q8, {}, nullptr);
    const auto c = acquire_loaded_model(aidreams(), q8, {}, nullptr);
    EXPECT_NE(a.get(), b.get());
    EXPECT_EQ(b.get(), c.get());
    EXPECT_LT(b->model->weight_bytes(), a->model->weight_bytes());
    EXPECT_EQ(find_loaded_model(aidreams(), "q8").get(), b.get());
    EXPECT_EQ(find_loaded_model(aidreams()).get(), a.get());
}

namespace {
const char *kLlama = R"({"model_type":"llama","architectures":["LlamaForCausalLM"],
"hidden_size":64,"intermediate_size":128,"num_hidden_layers":1,"num_attention_heads":4,
"vocab_size":100,"max_position_embeddings":64)";

void expect_refused(const std::string &extra, const std::string &name) {
    const ModelConfig c = parse_config(std::string(kLlama) + "," + extra + "}");
    try {
        check_supported_for_inference(c);
        ADD_FAILURE() << "accepted: " << extra;
    } catch (const Error &e) {
        EXPECT_EQ(e.status(), HFK_E_UNSUPPORTED) << extra;
        EXPECT_NE(std::string(e.what()).find(name), std::string::npos) << e.what();
        EXPECT_NE(std::string(e.what()).find("pre-quantized"), std::string::npos) << e.what();
    }
}
}  // namespace

TEST(QuantModel, PreQuantizedCheckpointsAreRefusedByName) {
    expect_refused(R"("quantization_config":{"quant_method":"fp8"})", "\"fp8\"");
    expect_refused(R"("quantization_config":{"quant_method":"bitsandbytes","load_in_4bit":true})",
                   "\"bitsandbytes\"");
    expect_refused(R"("quantization_config":{"load_in_8bit":true})", "\"bitsandbytes\"");
    // GPTQ, AWQ and MLX affine load (test_prequant); their unsupported variants are refused there.
}
