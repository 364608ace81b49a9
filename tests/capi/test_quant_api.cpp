// hfk_load_params.quantization through the public C API (issue 18): the accepted values, a
// quantized model that generates, and values outside the enum refused before any work.
#include <string>

#include "api_support.h"

namespace {

using namespace hfk_api_test;

ModelPtr load_quantized(hfk_quantization q, hfk_status expect = HFK_OK) {
    hfk_load_params lp;
    HFK_LOAD_PARAMS_INIT(&lp);
    lp.n_threads = 1;
    lp.quantization = q;
    hfk_model *m = nullptr;
    const hfk_status s = hfk_model_load(&m, default_model().c_str(), &lp);
    EXPECT_EQ(s, expect) << hfk_last_error_message();
    return ModelPtr(m);
}

}  // namespace

TEST(QuantApi, DefaultsToAsStored) {
    hfk_load_params lp;
    HFK_LOAD_PARAMS_INIT(&lp);
    EXPECT_EQ(lp.quantization, HFK_QUANT_AUTO);
    EXPECT_EQ(lp.quantize_embeddings, 0);
}

TEST(QuantApi, UnknownValuesAreInvalidArguments) {
    for (hfk_quantization q : {-1, 5, 1000}) {
        auto m = load_quantized(q, HFK_E_INVALID_ARG);
        EXPECT_FALSE(m);
        EXPECT_NE(std::string(hfk_last_error_message()).find("quantization"), std::string::npos);
    }
}

// Every format loads and generates; greedy text from BOS starts as the unquantized model's
// (the first 8 tokens: a trained model's confident start survives 4-bit weights).
TEST(QuantApi, QuantizedModelsGenerate) {
    auto base = load(default_model());
    ASSERT_TRUE(base);
    std::vector<int32_t> want;
    generate(session(base.get()).get(), "", greedy(8), &want);
    for (hfk_quantization q : {HFK_QUANT_F32, HFK_QUANT_BF16, HFK_QUANT_Q8, HFK_QUANT_Q4}) {
        auto m = load_quantized(q);
        ASSERT_TRUE(m) << q;
        std::vector<int32_t> got;
        generate(session(m.get()).get(), "", greedy(8), &got);
        EXPECT_EQ(got, want) << "quantization " << q;
    }
}
