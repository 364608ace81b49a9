// The prefix cache through the public C API: a prompt run twice on one engine gives the same
// text, the second time reading its prefix from cached blocks (prefix_cache_hits counts the
// tokens), and the cached blocks (the prompt's and, the request having ended well, its reply's)
// show in kv_blocks_cached, not in kv_blocks_used.
#include <string>

#include "engine_api_support.h"

namespace {

using namespace hfk_api_test;

// n_run: the positions the request ran (the prompt, and every generated id but a last one that
// ended it without being run; an EOS is not among the generated ids).
std::string run(hfk_engine *e, const char *prompt, int32_t *n_prompt, int32_t *n_run) {
    const hfk_gen_params p = greedy(16);
    hfk_request_id id = 0;
    EXPECT_EQ(hfk_engine_submit(e, prompt, nullptr, 0, &p, nullptr, nullptr, &id), HFK_OK)
        << hfk_last_error_message();
    char *text = nullptr;
    hfk_engine_result r;
    HFK_ENGINE_RESULT_INIT(&r);
    EXPECT_EQ(hfk_engine_wait(e, id, &text, &r), HFK_OK) << hfk_last_error_message();
    *n_prompt = r.n_prompt_tokens;
    *n_run = r.n_prompt_tokens + r.n_generated_tokens - (r.stop_reason == HFK_STOP_EOS ? 0 : 1);
    std::string out = text ? text : "";
    hfk_free(text);
    return out;
}

TEST(EnginePrefixApi, ARepeatedPromptReadsItsPrefixFromTheCacheWithTheSameText) {
    auto model = load(default_model(), 1);
    ASSERT_TRUE(model);
    const char *prompt =
        "Once upon a time, there was a little girl named Lily. She loved to play outside in the "
        "sunshine with her dog.";
    std::string expected;
    {
        auto s = session(model.get(), 1);
        expected = generate(s.get(), prompt, greedy(16));
    }
    hfk_engine_params p;
    HFK_ENGINE_PARAMS_INIT(&p);
    p.max_sequences = 2;
    p.kv_block_tokens = 4;
    hfk_engine *raw = nullptr;
    ASSERT_EQ(hfk_engine_create(&raw, model.get(), &p), HFK_OK) << hfk_last_error_message();
    EnginePtr engine(raw);
    int32_t n = 0, n_run = 0;
    EXPECT_EQ(run(engine.get(), prompt, &n, &n_run), expected);
    hfk_engine_statistics s = stats(engine.get());
    EXPECT_EQ(s.prefix_cache_hits, 0u);
    EXPECT_EQ(s.kv_blocks_used, 0);
    EXPECT_GT(n_run / 4, n / 4);
    EXPECT_EQ(s.kv_blocks_cached, n_run / 4);  // every full block of the prompt and the reply
    EXPECT_EQ(run(engine.get(), prompt, &n, &n_run), expected);
    s = stats(engine.get());
    EXPECT_EQ(s.prefix_cache_hits, uint64_t((n - 1) / 4 * 4));
    EXPECT_EQ(s.kv_blocks_used, 0);
    EXPECT_EQ(s.kv_blocks_cached, n_run / 4);  // the same blocks again: published once
}

}  // namespace
