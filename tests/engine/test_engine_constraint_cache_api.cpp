// hfk_engine_statistics.constraint_cache_hits (an appended field): two submits with the same
// constraint through the C API count one hit and give the same text; a caller whose struct
// ends before the field still gets the fields it has.
#include <cstddef>
#include <string>

#include "engine_api_support.h"

namespace {

using namespace hfk_api_test;

std::string run(hfk_engine *e, const hfk_gen_params &p) {
    hfk_request_id id = 0;
    EXPECT_EQ(hfk_engine_submit(e, "Once upon a time", nullptr, 0, &p, nullptr, nullptr, &id),
              HFK_OK)
        << hfk_last_error_message();
    char *text = nullptr;
    EXPECT_EQ(hfk_engine_wait(e, id, &text, nullptr), HFK_OK) << hfk_last_error_message();
    std::string out = text ? text : "";
    hfk_free(text);
    return out;
}

TEST(EngineConstraintCacheApi, TheSecondSubmitOfAConstraintIsAHit) {
    auto model = load(default_model(), 1);
    ASSERT_TRUE(model);
    hfk_engine_params ep;
    HFK_ENGINE_PARAMS_INIT(&ep);
    ep.max_sequences = 2;
    ep.n_threads = 1;
    hfk_engine *raw = nullptr;
    ASSERT_EQ(hfk_engine_create(&raw, model.get(), &ep), HFK_OK) << hfk_last_error_message();
    EnginePtr engine(raw);
    hfk_gen_params p = greedy(24);
    p.ignore_eos = 0;
    p.constraint_kind = HFK_CONSTRAINT_REGEX;
    p.constraint = "(yes|no|maybe) [a-z]+\\.";
    const std::string first = run(engine.get(), p);
    EXPECT_EQ(stats(engine.get()).constraint_cache_hits, 0u);
    EXPECT_EQ(run(engine.get(), p), first);
    EXPECT_EQ(stats(engine.get()).constraint_cache_hits, 1u);
    EXPECT_EQ(stats(engine.get()).completed, 2u);

    // An older caller: its struct ends before constraint_cache_hits.
    hfk_engine_statistics old;
    ASSERT_EQ(
        hfk_engine_statistics_init(&old, offsetof(hfk_engine_statistics, constraint_cache_hits)),
        HFK_OK);
    old.constraint_cache_hits = 12345;  // beyond its struct_size: never written
    ASSERT_EQ(hfk_engine_stats(engine.get(), &old), HFK_OK);
    EXPECT_EQ(old.completed, 2u);
    EXPECT_EQ(old.constraint_cache_hits, 12345u);
}

}  // namespace
