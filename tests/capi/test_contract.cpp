// The C ABI contract through the public header and the shared library only.
#include <gtest/gtest.h>

#include <cstring>
#include <latch>
#include <set>
#include <string>
#include <thread>

#include "hfkit/hfkit.h"

namespace {

TEST(Contract, VersionsAgreeWithTheHeader) {
    EXPECT_EQ(hfk_abi_version(), static_cast<uint32_t>(HFK_ABI_VERSION));
    EXPECT_EQ(hfk_version_number(), static_cast<uint32_t>(HFK_VERSION_NUMBER));
    EXPECT_STREQ(hfk_version_string(), HFK_VERSION_STRING);
    EXPECT_EQ(HFK_VERSION_NUMBER,
              HFK_VERSION_MAJOR * 10000 + HFK_VERSION_MINOR * 100 + HFK_VERSION_PATCH);
}

TEST(Contract, EveryStatusCodeHasADistinctName) {
    std::set<std::string> names;
    int known = 0;
    for (int code = -200; code <= 0; ++code) {
        const char *name = hfk_status_name(code);
        ASSERT_NE(name, nullptr);
        if (std::strcmp(name, "HFK_E_UNKNOWN") == 0) continue;
        ++known;
        EXPECT_TRUE(names.insert(name).second) << "duplicate name " << name;
        EXPECT_EQ(std::strncmp(name, "HFK_", 4), 0) << name;
    }
    EXPECT_EQ(known, 29);  // HFK_OK, -1..-27 and HFK_E_INTERNAL: update when appending a code
    EXPECT_STREQ(hfk_status_name(HFK_OK), "HFK_OK");
    EXPECT_STREQ(hfk_status_name(HFK_E_BUFFER_TOO_SMALL), "HFK_E_BUFFER_TOO_SMALL");
    EXPECT_STREQ(hfk_status_name(HFK_E_INTERNAL), "HFK_E_INTERNAL");
    EXPECT_STREQ(hfk_status_name(1), "HFK_E_UNKNOWN");
    EXPECT_STREQ(hfk_status_name(-12345), "HFK_E_UNKNOWN");
}

TEST(Contract, LastErrorIsNeverNull) {
    std::thread([] { EXPECT_STREQ(hfk_last_error_message(), ""); }).join();
    EXPECT_NE(hfk_last_error_message(), nullptr);
}

TEST(Contract, LastErrorIsPerThread) {
    // Both threads fail, then both read: each must see its own error, not the latest one.
    std::string a, b;
    std::latch both_failed(2);
    std::thread ta([&] {
        EXPECT_EQ(hfk_gen_params_init(nullptr, sizeof(hfk_gen_params)), HFK_E_INVALID_ARG);
        both_failed.arrive_and_wait();
        a = hfk_last_error_message();
    });
    std::thread tb([&] {
        hfk_load_params p;
        EXPECT_EQ(hfk_load_params_init(&p, 1), HFK_E_INVALID_ARG);
        both_failed.arrive_and_wait();
        b = hfk_last_error_message();
    });
    ta.join();
    tb.join();
    EXPECT_NE(a.find("'p' is NULL"), std::string::npos) << a;
    EXPECT_NE(b.find("caller_size 1"), std::string::npos) << b;
}

TEST(Contract, OptionsInitFillsDefaults) {
    hfk_gen_params g;
    std::memset(&g, 0xAB, sizeof g);
    ASSERT_EQ(HFK_GEN_PARAMS_INIT(&g), HFK_OK);
    EXPECT_EQ(g.struct_size, sizeof g);
    EXPECT_EQ(g.max_new_tokens, -1);
    EXPECT_LT(g.temperature, 0.0f);
    EXPECT_EQ(g.stop, nullptr);
    EXPECT_EQ(g.n_stop, 0);

    hfk_session_params s;
    ASSERT_EQ(HFK_SESSION_PARAMS_INIT(&s), HFK_OK);
    EXPECT_EQ(s.n_ctx, 0);
    hfk_embed_params e;
    ASSERT_EQ(HFK_EMBED_PARAMS_INIT(&e), HFK_OK);
    EXPECT_EQ(e.pooling, HFK_POOLING_MODEL);  // the repository's (sentence-transformers)
    EXPECT_EQ(e.normalize, -1);
    EXPECT_EQ(e.truncated_out, nullptr);
    hfk_gen_result r;
    ASSERT_EQ(HFK_GEN_RESULT_INIT(&r), HFK_OK);
    EXPECT_EQ(r.stop_reason, HFK_STOP_NONE);
}

TEST(Contract, AnOlderCallerStructIsFilledOnlyUpToItsSize) {
    // An application compiled against a header where hfk_gen_params ended after `seed`.
    hfk_gen_params g;
    std::memset(&g, 0x5A, sizeof g);
    const size_t old_size = offsetof(hfk_gen_params, stop);
    ASSERT_EQ(hfk_gen_params_init(&g, old_size), HFK_OK);
    EXPECT_EQ(g.struct_size, old_size);
    unsigned char tail[sizeof g - offsetof(hfk_gen_params, stop)];
    std::memcpy(tail, reinterpret_cast<const char *>(&g) + old_size, sizeof tail);
    for (unsigned char c : tail) ASSERT_EQ(c, 0x5A) << "wrote past the caller's struct";
}

TEST(Contract, FreeFunctionsAcceptNull) {
    hfk_free(nullptr);
    hfk_tokenizer_free(nullptr);
    hfk_model_free(nullptr);
    hfk_session_free(nullptr);
    hfk_session_cancel(nullptr);
    SUCCEED();
}

TEST(Contract, OutParametersAreClearedOnFailure) {
    hfk_tokenizer *tok = reinterpret_cast<hfk_tokenizer *>(0x1);
    EXPECT_EQ(hfk_tokenizer_load(&tok, nullptr), HFK_E_INVALID_ARG);
    EXPECT_EQ(tok, nullptr);
    hfk_model *model = reinterpret_cast<hfk_model *>(0x1);
    EXPECT_EQ(hfk_model_load(&model, "/nonexistent/hfkit/model", nullptr), HFK_E_NOT_FOUND);
    EXPECT_EQ(model, nullptr);
    EXPECT_NE(std::string(hfk_last_error_message()).find("/nonexistent/hfkit/model"),
              std::string::npos);
}

TEST(Contract, NullHandlesGiveInvalidArgOrNeutralValues) {
    int64_t n = 7;
    EXPECT_EQ(hfk_tokenize(nullptr, "x", 1, 1, nullptr, 0, &n), HFK_E_INVALID_ARG);
    EXPECT_EQ(n, 0);
    EXPECT_EQ(hfk_tokenizer_vocab_size(nullptr), 0);
    EXPECT_EQ(hfk_tokenizer_special_id(nullptr, HFK_SPECIAL_BOS), -1);
    EXPECT_STREQ(hfk_model_architecture(nullptr), "");
    EXPECT_EQ(hfk_model_tokenizer(nullptr), nullptr);
    EXPECT_EQ(hfk_session_generate(nullptr, "x", nullptr, nullptr, nullptr, nullptr, nullptr),
              HFK_E_INVALID_ARG);
    EXPECT_EQ(hfk_session_reset(nullptr), HFK_E_INVALID_ARG);
}

}  // namespace
