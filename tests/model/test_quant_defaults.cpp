// q8/q4 quantize the embedding and lm_head by default (issue 18, as llama.cpp's Q8_0/Q4_0 files
// do); quantize_embeddings = false keeps them as stored. The sizes are counted from the blocks'
// layout (kernels/quant.h), not from our own output.
#include <gtest/gtest.h>

#include <cstdint>
#include <filesystem>
#include <optional>
#include <string>

#include "kernels/quant.h"
#include "model/config.h"
#include "model/model.h"
#include "../support/test_support.h"

using namespace hfk;

namespace {

std::shared_ptr<const Model> load_aidreams(WeightFormat f, std::optional<bool> embeddings) {
    LoadOptions o;
    o.n_threads = 1;
    o.format = f;
    if (embeddings) o.quantize_embeddings = *embeddings;
    return Model::load(hfk_test::shared_models_dir() / "aidreams260K", o);
}

}  // namespace

// aidreams260K ties its lm_head to the embedding: one [vocab, hidden] matrix, in blocks by
// default and in F32 (as stored) when kept.
TEST(QuantDefaults, EmbeddingAndHeadAreQuantizedByDefault) {
    const auto base = load_aidreams(WeightFormat::Auto, std::nullopt);
    const ModelConfig &c = base->config();
    ASSERT_TRUE(c.tie_word_embeddings);
    const int64_t d = c.hidden_size, f = c.intermediate_size, L = c.num_layers, v = c.vocab_size;
    for (auto [fmt, qt] : {std::pair{WeightFormat::Q8, kern::QType::Q8_0},
                           std::pair{WeightFormat::Q4, kern::QType::Q4_1}}) {
        const uint64_t per_layer = 4 * uint64_t(d) * kern::q_row_bytes(qt, d) +
                                   2 * uint64_t(f) * kern::q_row_bytes(qt, d) +
                                   uint64_t(d) * kern::q_row_bytes(qt, f);
        const uint64_t norms = uint64_t((2 * L + 1) * d) * 4;
        const uint64_t quantized = uint64_t(L) * per_layer + uint64_t(v) * kern::q_row_bytes(qt, d);
        EXPECT_EQ(load_aidreams(fmt, std::nullopt)->weight_bytes(), quantized + norms)
            << weight_format_name(fmt);
        EXPECT_EQ(load_aidreams(fmt, true)->weight_bytes(), quantized + norms);
        EXPECT_EQ(load_aidreams(fmt, false)->weight_bytes(),
                  uint64_t(L) * per_layer + uint64_t(v * d) * 4 + norms)
            << weight_format_name(fmt) << " with the embedding kept as stored";
    }
}

// The default and the kept embedding are different models for the registry.
TEST(QuantDefaults, KeptEmbeddingsAreAnotherVariant) {
    LoadOptions o;
    o.format = WeightFormat::Q4;
    const std::string by_default = load_variant(o);
    o.quantize_embeddings = false;
    EXPECT_NE(load_variant(o), by_default);
    o.format = WeightFormat::Auto;  // nothing to keep: as stored either way
    EXPECT_EQ(load_variant(o), "");
}
