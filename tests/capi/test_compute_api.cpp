// hfk_session_params.compute through the public C API (issue 22): exact F32 by default and for
// an older caller's smaller struct, bad values refused by name, and the BF16 mode on the default
// model loaded as BF16 weights: a prompt's prefill logits move (on a CPU with AVX512_BF16, read
// here from cpuid) but stay close to the exact session's, decode-sized evals and F32 weights keep
// the exact bits, and a fork keeps the mode.
#include <cmath>
#include <cstddef>
#include <cstdlib>
#include <cstring>
#include <string>
#include <vector>

#include <cpuid.h>

#include "api_support.h"

namespace {

using namespace hfk_api_test;

ModelPtr load_as(hfk_quantization q) {
    hfk_load_params lp;
    HFK_LOAD_PARAMS_INIT(&lp);
    lp.n_threads = 1;
    lp.quantization = q;
    hfk_model *m = nullptr;
    EXPECT_EQ(hfk_model_load(&m, default_model().c_str(), &lp), HFK_OK) << hfk_last_error_message();
    return ModelPtr(m);
}

SessionPtr compute_session(hfk_model *m, hfk_compute c, hfk_status expect = HFK_OK) {
    hfk_session_params sp;
    HFK_SESSION_PARAMS_INIT(&sp);
    sp.n_threads = 2;
    sp.compute = c;
    hfk_session *s = reinterpret_cast<hfk_session *>(&sp);  // must be reset to NULL on failure
    EXPECT_EQ(hfk_session_create(&s, m, &sp), expect) << hfk_last_error_message();
    if (expect != HFK_OK) {
        EXPECT_EQ(s, nullptr);
    }
    return SessionPtr(s);
}

// Every position's logits of `ids` run in one eval (a prefill) on a fresh session.
std::vector<float> eval_all(hfk_session *s, const std::vector<int32_t> &ids) {
    const int64_t width = hfk_session_n_logits(s);
    std::vector<float> out(ids.size() * size_t(width));
    EXPECT_EQ(hfk_session_eval(s, ids.data(), int64_t(ids.size()), out.data(), int64_t(out.size())),
              HFK_OK)
        << hfk_last_error_message();
    return out;
}

// Whether the library will run the BF16 product: the CPU's AVX512_BF16 bit (CPUID leaf 7,
// sub-leaf 1, EAX bit 5) and no HFK_KERNELS forcing a lower level.
bool bf16_kernel_expected() {
    unsigned a = 0, b = 0, c = 0, d = 0;
    if (!__get_cpuid_count(7, 1, &a, &b, &c, &d) || !(a & (1u << 5))) return false;
    const char *forced = std::getenv("HFK_KERNELS");
    return forced == nullptr || std::strcmp(forced, "avx512") == 0;
}

const std::vector<int32_t> kPrompt = {1, 403, 407, 261, 378, 285, 9, 300, 301, 302, 17, 44};

}  // namespace

TEST(ComputeApi, DefaultIsF32AndOlderStructsGetIt) {
    hfk_session_params sp;
    HFK_SESSION_PARAMS_INIT(&sp);
    EXPECT_EQ(sp.compute, HFK_COMPUTE_F32);
    auto m = load_as(HFK_QUANT_BF16);
    ASSERT_TRUE(m);
    // A caller built before `compute` existed: whatever follows its struct is not read.
    sp.compute = 77;
    sp.struct_size = offsetof(hfk_session_params, compute);
    hfk_session *s = nullptr;
    ASSERT_EQ(hfk_session_create(&s, m.get(), &sp), HFK_OK) << hfk_last_error_message();
    SessionPtr older(s);
    auto exact = compute_session(m.get(), HFK_COMPUTE_F32);
    const auto a = eval_all(older.get(), kPrompt), b = eval_all(exact.get(), kPrompt);
    EXPECT_EQ(0, std::memcmp(a.data(), b.data(), a.size() * 4));
}

TEST(ComputeApi, UnknownValuesAreInvalidArguments) {
    auto m = load(default_model());
    ASSERT_TRUE(m);
    for (hfk_compute c : {-1, 2, 1000}) {
        auto s = compute_session(m.get(), c, HFK_E_INVALID_ARG);
        EXPECT_FALSE(s);
        EXPECT_NE(std::string(hfk_last_error_message()).find("compute"), std::string::npos)
            << hfk_last_error_message();
    }
}

// BF16 weights: the prefill's logits differ from the exact session's where the CPU runs the
// BF16 product (else they are the same bits: the mode falls back) and stay within 0.1 of them
// (measured 2e-2 at most, README); a fork continues in the mode, one token at a time (decode is
// exact in both modes, so the fork's step equals the original's).
TEST(ComputeApi, Bf16SessionsMoveThePrefillLogitsOnlyWithBf16Weights) {
    auto bf = load_as(HFK_QUANT_BF16);
    ASSERT_TRUE(bf);
    auto exact = compute_session(bf.get(), HFK_COMPUTE_F32);
    auto fast = compute_session(bf.get(), HFK_COMPUTE_BF16);
    const auto want = eval_all(exact.get(), kPrompt), got = eval_all(fast.get(), kPrompt);
    double worst = 0;
    for (size_t i = 0; i < want.size(); ++i)
        worst = std::max(worst, double(std::fabs(want[i] - got[i])));
    std::printf("bf16 weights, bf16 compute: max |logit diff| %.3g over %zu positions\n", worst,
                kPrompt.size());
    if (bf16_kernel_expected())
        EXPECT_GT(worst, 0.0) << "the BF16 mode changed nothing";
    else
        EXPECT_EQ(worst, 0.0) << "the mode should fall back to the exact path";
    EXPECT_LE(worst, 0.1);

    hfk_session *forked = nullptr;
    ASSERT_EQ(hfk_session_fork(&forked, fast.get()), HFK_OK) << hfk_last_error_message();
    SessionPtr fork(forked);
    const std::vector<int32_t> more = {5, 6, 7, 8, 9, 10};  // > 4 tokens: a BF16 prefill
    const auto from_fork = eval_all(fork.get(), more), from_orig = eval_all(fast.get(), more);
    EXPECT_EQ(0, std::memcmp(from_fork.data(), from_orig.data(), from_fork.size() * 4));

    // Decode-sized evals (up to four tokens) are exact in both modes.
    auto e2 = compute_session(bf.get(), HFK_COMPUTE_F32);
    auto f2 = compute_session(bf.get(), HFK_COMPUTE_BF16);
    for (size_t i = 0; i < 8; ++i) {
        const std::vector<int32_t> one = {kPrompt[i]};
        const auto a = eval_all(e2.get(), one), b = eval_all(f2.get(), one);
        ASSERT_EQ(0, std::memcmp(a.data(), b.data(), a.size() * 4)) << "token " << i;
    }

    // F32 weights: the mode changes nothing.
    auto f32 = load(default_model());
    ASSERT_TRUE(f32);
    auto e3 = compute_session(f32.get(), HFK_COMPUTE_F32);
    auto f3 = compute_session(f32.get(), HFK_COMPUTE_BF16);
    const auto a = eval_all(e3.get(), kPrompt), b = eval_all(f3.get(), kPrompt);
    EXPECT_EQ(0, std::memcmp(a.data(), b.data(), a.size() * 4));
}
