// hfk_session_params.kv_dtype through the public C API (issue 18): F32 by default and for an
// older caller's smaller struct, bad values refused by name, F16/BF16 sessions whose greedy text
// equals the F32 session's on the trained default model, and a fork or a saved session that
// keeps the cache type and continues exactly as the original.
#include <cstddef>
#include <string>
#include <vector>

#include "api_support.h"

namespace {

using namespace hfk_api_test;

SessionPtr kv_session(hfk_model *m, hfk_kv_dtype kv, hfk_status expect = HFK_OK) {
    hfk_session_params sp;
    HFK_SESSION_PARAMS_INIT(&sp);
    sp.n_threads = 1;
    sp.kv_dtype = kv;
    hfk_session *s = reinterpret_cast<hfk_session *>(&sp);  // must be reset to NULL on failure
    EXPECT_EQ(hfk_session_create(&s, m, &sp), expect) << hfk_last_error_message();
    if (expect != HFK_OK) {
        EXPECT_EQ(s, nullptr);
    }
    return SessionPtr(s);
}

}  // namespace

TEST(KvDtypeApi, DefaultIsF32AndOlderStructsGetIt) {
    hfk_session_params sp;
    HFK_SESSION_PARAMS_INIT(&sp);
    EXPECT_EQ(sp.kv_dtype, HFK_KV_F32);
    auto m = load(default_model());
    ASSERT_TRUE(m);
    // A caller built before kv_dtype existed: its struct ends before the field, whatever
    // follows in memory is not read.
    sp.kv_dtype = 77;
    sp.struct_size = offsetof(hfk_session_params, kv_dtype);
    hfk_session *s = nullptr;
    ASSERT_EQ(hfk_session_create(&s, m.get(), &sp), HFK_OK) << hfk_last_error_message();
    hfk_session_free(s);
}

TEST(KvDtypeApi, UnknownValuesAreInvalidArguments) {
    auto m = load(default_model());
    ASSERT_TRUE(m);
    for (hfk_kv_dtype kv : {-1, 3, 1000}) {
        auto s = kv_session(m.get(), kv, HFK_E_INVALID_ARG);
        EXPECT_FALSE(s);
        EXPECT_NE(std::string(hfk_last_error_message()).find("kv_dtype"), std::string::npos)
            << hfk_last_error_message();
    }
}

// Greedy from BOS for 24 tokens (the acceptance's length), and a continued conversation.
TEST(KvDtypeApi, HalfPrecisionCachesGenerateTheF32Text) {
    auto m = load(default_model());
    ASSERT_TRUE(m);
    auto base = kv_session(m.get(), HFK_KV_F32);
    std::vector<int32_t> want, want2;
    const std::string text = generate(base.get(), "", greedy(24), &want);
    const std::string text2 = generate(base.get(), " and then", greedy(12), &want2);
    for (hfk_kv_dtype kv : {HFK_KV_F16, HFK_KV_BF16}) {
        auto s = kv_session(m.get(), kv);
        ASSERT_TRUE(s);
        std::vector<int32_t> got, got2;
        EXPECT_EQ(generate(s.get(), "", greedy(24), &got), text) << "kv_dtype " << kv;
        EXPECT_EQ(got, want) << "kv_dtype " << kv;
        EXPECT_EQ(generate(s.get(), " and then", greedy(12), &got2), text2) << "kv_dtype " << kv;
        EXPECT_EQ(got2, want2) << "kv_dtype " << kv;
    }
}

// A fork and a saved-then-loaded session continue exactly (same ids) as the BF16 original.
TEST(KvDtypeApi, ForkAndSavedSessionKeepTheCacheType) {
    auto m = load(default_model());
    ASSERT_TRUE(m);
    TempDir dir;
    const std::string path = (dir.path / "s.hfkstate").string();
    for (hfk_kv_dtype kv : {HFK_KV_F16, HFK_KV_BF16}) {
        auto s = kv_session(m.get(), kv);
        ASSERT_TRUE(s);
        generate(s.get(), "Echoes of", greedy(6));
        hfk_session *forked = nullptr;
        ASSERT_EQ(hfk_session_fork(&forked, s.get()), HFK_OK) << hfk_last_error_message();
        SessionPtr fork(forked);
        ASSERT_EQ(hfk_session_save(s.get(), path.c_str()), HFK_OK) << hfk_last_error_message();
        auto loaded = kv_session(m.get(), kv);
        ASSERT_EQ(hfk_session_load(loaded.get(), path.c_str()), HFK_OK) << hfk_last_error_message();
        std::vector<int32_t> want, from_fork, from_file;
        const std::string text = generate(s.get(), " a", greedy(10), &want);
        EXPECT_EQ(generate(fork.get(), " a", greedy(10), &from_fork), text);
        EXPECT_EQ(generate(loaded.get(), " a", greedy(10), &from_file), text);
        EXPECT_EQ(from_fork, want) << "kv_dtype " << kv;
        EXPECT_EQ(from_file, want) << "kv_dtype " << kv;
    }
}
