// Phi-1/1.5/2 honours the load options (issue 18) as the rotary decoders do: quantized matrices
// hold exactly their blocks (an F32 model's bytes would mean the option was ignored), the
// quantized forward equals the dequantize-then-F32 reference forward, and the logits stay close
// to the unquantized model's. On the zoo's random Phi-2 checkpoints (make_zoo.py).
#include <gtest/gtest.h>

#include <cmath>
#include <cstdlib>
#include <filesystem>
#include <string>
#include <vector>

#include "kernels/matmul.h"
#include "kernels/quant.h"
#include "../../support/test_support.h"
#include "model/model.h"

using namespace hfk;
namespace fs = std::filesystem;

namespace {

fs::path zoo_dir() {
    const char *d = std::getenv("HFK_ZOO_DIR");
    return d ? fs::path(d) : fs::path("zoo");
}

std::shared_ptr<const Model> load(const std::string &name, WeightFormat f, bool embeddings) {
    LoadOptions o;
    o.n_threads = 2;
    o.format = f;
    o.quantize_embeddings = embeddings;
    return Model::load(zoo_dir() / name, o);
}

// Logits of every position: a prefill of 5, then one token at a time (both product paths).
std::vector<float> logits_of(const Model &m) {
    std::vector<int32_t> toks;
    for (int32_t i = 0; i < 11; ++i) toks.push_back((i * 7 + 3) % m.vocab_size());
    auto cache = m.new_cache(0);
    const size_t v = size_t(m.vocab_size());
    std::vector<float> out(toks.size() * v);
    m.forward(*cache, std::span(toks.data(), 5), out.data(), true, 2);
    for (size_t i = 5; i < toks.size(); ++i)
        m.forward(*cache, std::span(toks.data() + i, 1), out.data() + i * v, false, 2);
    return out;
}

}  // namespace

class PhiQuant : public testing::TestWithParam<const char *> {};

// q, k, v, dense, fc1, fc2 become blocks; the F32 embedding, lm_head and vectors stay.
TEST_P(PhiQuant, MatricesHoldTheirBlocks) {
    const auto base = load(GetParam(), WeightFormat::Auto, false);
    const ModelConfig &c = base->config();
    const int64_t d = c.hidden_size, f = c.intermediate_size, L = c.num_layers;
    const int64_t hd = d / c.num_heads;
    const int64_t kv = (c.num_kv_heads > 0 ? c.num_kv_heads : c.num_heads) * hd;
    for (auto [fmt, qt] : {std::pair{WeightFormat::Q8, kern::QType::Q8_0},
                           std::pair{WeightFormat::Q4, kern::QType::Q4_1}}) {
        const auto m = load(GetParam(), fmt, false);
        // Rows x cols of each matrix of a layer ([out, in]: blocks along the input).
        const std::vector<std::pair<int64_t, int64_t>> mats = {{d, d}, {kv, d}, {kv, d},
                                                               {d, d}, {f, d},  {d, f}};
        uint64_t f32_bytes = 0, q_bytes = 0;
        for (auto [rows, cols] : mats) {
            f32_bytes += uint64_t(rows * cols) * 4;
            q_bytes += uint64_t(rows) * kern::q_row_bytes(qt, cols);
        }
        const uint64_t expect = base->weight_bytes() - uint64_t(L) * (f32_bytes - q_bytes);
        EXPECT_EQ(m->weight_bytes(), expect) << weight_format_name(fmt);
    }
    EXPECT_LT(load(GetParam(), WeightFormat::BF16, false)->weight_bytes(), base->weight_bytes());
}

// Measured on phi2 / phi-qkln-yarn (random weights): relative RMS error of the logits q8
// 0.014-0.015, q4 0.15-0.16 with the embedding and head quantized too; the bounds are about 3x. The
// quantized forward equals the dequantized reference within 1e-4.
TEST_P(PhiQuant, CloseToUnquantizedAndEqualToTheDequantizedReference) {
    const std::vector<float> want = logits_of(*load(GetParam(), WeightFormat::Auto, false));
    for (auto [fmt, bound] :
         {std::pair{WeightFormat::Q8, 0.045}, std::pair{WeightFormat::Q4, 0.5}}) {
        const auto m = load(GetParam(), fmt, true);
        const std::vector<float> got = logits_of(*m);
        const double err = hfk_test::relative_rms(got, want);
        std::printf("%s %s: relative RMS error of the logits %.4f\n", GetParam(),
                    weight_format_name(fmt), err);
        EXPECT_LT(err, bound) << weight_format_name(fmt);
        EXPECT_GT(err, 0.0) << "the matrices were not quantized";
        kern::set_quantized_reference(true);
        const std::vector<float> ref = logits_of(*m);
        kern::set_quantized_reference(false);
        double worst = 0;
        for (size_t i = 0; i < got.size(); ++i)
            worst = std::max(worst, double(std::fabs(got[i] - ref[i])));
        EXPECT_LE(worst, 1e-4) << weight_format_name(fmt);
    }
}

INSTANTIATE_TEST_SUITE_P(Zoo, PhiQuant, testing::Values("phi2", "phi-qkln-yarn"));
