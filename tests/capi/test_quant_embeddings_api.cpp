// hfk_load_params.keep_embeddings (issue 18): HFK_QUANT_Q8/Q4 quantize the embedding and
// lm_head by default, keep_embeddings leaves them as stored, and the deprecated
// quantize_embeddings asks for the default; both together are refused.
#include <string>
#include <vector>

#include "api_support.h"

namespace {

using namespace hfk_api_test;

// The logits of every position of a short id sequence, for a model loaded with `lp`.
std::vector<float> logits_with(const hfk_load_params &lp) {
    hfk_model *raw = nullptr;
    EXPECT_EQ(hfk_model_load(&raw, default_model().c_str(), &lp), HFK_OK)
        << hfk_last_error_message();
    ModelPtr m(raw);
    if (!m) return {};
    auto s = session(m.get(), 1);
    const std::vector<int32_t> ids = {1, 5, 9, 14, 3, 27};
    std::vector<float> out(ids.size() * size_t(hfk_session_n_logits(s.get())));
    EXPECT_EQ(
        hfk_session_eval(s.get(), ids.data(), int64_t(ids.size()), out.data(), int64_t(out.size())),
        HFK_OK)
        << hfk_last_error_message();
    return out;
}

hfk_load_params params(hfk_quantization q) {
    hfk_load_params lp;
    HFK_LOAD_PARAMS_INIT(&lp);
    lp.n_threads = 1;
    lp.quantization = q;
    return lp;
}

}  // namespace

TEST(QuantEmbeddingsApi, DefaultQuantizesTheEmbeddingAndKeepLeavesItAsStored) {
    hfk_load_params lp;
    HFK_LOAD_PARAMS_INIT(&lp);
    EXPECT_EQ(lp.keep_embeddings, 0);
    for (hfk_quantization q : {HFK_QUANT_Q8, HFK_QUANT_Q4}) {
        hfk_load_params quantized = params(q), deprecated = params(q), keep = params(q);
        deprecated.quantize_embeddings = 1;
        keep.keep_embeddings = 1;
        const std::vector<float> by_default = logits_with(quantized);
        ASSERT_FALSE(by_default.empty());
        // The old opt-in flag asks for what is now the default: the same model, the same bits.
        EXPECT_EQ(logits_with(deprecated), by_default) << q;
        // The embedding (aidreams260K ties it to the lm_head) kept in F32: other logits.
        const std::vector<float> kept = logits_with(keep);
        ASSERT_EQ(kept.size(), by_default.size());
        EXPECT_NE(kept, by_default) << q;
    }
}

TEST(QuantEmbeddingsApi, KeepAndQuantizeTogetherAreRefused) {
    hfk_load_params lp = params(HFK_QUANT_Q8);
    lp.keep_embeddings = 1;
    lp.quantize_embeddings = 1;
    hfk_model *m = nullptr;
    EXPECT_EQ(hfk_model_load(&m, default_model().c_str(), &lp), HFK_E_INVALID_ARG);
    EXPECT_EQ(m, nullptr);
    EXPECT_NE(std::string(hfk_last_error_message()).find("keep_embeddings"), std::string::npos);
}
