// Many sessions on one model at once (issue 5): each output equals its single-threaded run.
// Also built with ThreadSanitizer in CI (label tsan).
#include <thread>

#include "api_support.h"

namespace {

using namespace hfk_api_test;

TEST(Concurrency, EightSessionsOnOneModelMatchTheirSingleThreadedRuns) {
    auto model = load(default_model(), 1);
    ASSERT_TRUE(model);
    const char *prompts[] = {"Once upon a time", "The sky", "Hello", "", "A dog",
                             "In the morning", "She said", "Echoes"};
    constexpr int kSessions = 8;
    auto options_for = [](int i) {
        hfk_gen_params p;
        HFK_GEN_PARAMS_INIT(&p);
        p.max_new_tokens = 48;
        p.temperature = i % 2 ? 0.8f : 0.0f;
        p.top_p = 0.9f;
        p.seed = static_cast<uint64_t>(1000 + i);
        p.ignore_eos = 1;
        return p;
    };
    std::vector<std::vector<int32_t>> alone(kSessions), together(kSessions);
    std::vector<std::string> alone_text(kSessions), together_text(kSessions);
    for (int i = 0; i < kSessions; ++i) {
        auto s = session(model.get(), 1);
        alone_text[i] = generate(s.get(), prompts[i], options_for(i), &alone[i]);
    }
    std::vector<std::thread> threads;
    for (int i = 0; i < kSessions; ++i) {
        threads.emplace_back([&, i] {
            auto s = session(model.get(), 1);
            for (int round = 0; round < 2; ++round) {  // twice, so runs overlap for longer
                EXPECT_EQ(hfk_session_reset(s.get()), HFK_OK);
                together_text[i] = generate(s.get(), prompts[i], options_for(i), &together[i]);
            }
        });
    }
    for (auto &t : threads) t.join();
    for (int i = 0; i < kSessions; ++i) {
        EXPECT_FALSE(alone[i].empty());
        EXPECT_EQ(together[i], alone[i]) << "session " << i;
        EXPECT_EQ(together_text[i], alone_text[i]) << "session " << i;
    }
}

TEST(Concurrency, ModelsOpenedAndFreedFromManyThreads) {
    std::vector<std::thread> threads;
    std::atomic<int> ok{0};
    for (int i = 0; i < 6; ++i) {
        threads.emplace_back([&] {
            for (int k = 0; k < 3; ++k) {
                hfk_model *m = nullptr;
                if (hfk_model_load(&m, default_model().c_str(), nullptr) != HFK_OK) return;
                hfk_session *s = nullptr;
                if (hfk_session_create(&s, m, nullptr) == HFK_OK) {
                    hfk_model_free(m);  // the session keeps the weights
                    const hfk_gen_params p = greedy(4);
                    if (hfk_session_generate(s, "x", &p, nullptr, nullptr, nullptr, nullptr) ==
                        HFK_OK)
                        ok.fetch_add(1);
                    hfk_session_free(s);
                } else {
                    hfk_model_free(m);
                }
            }
        });
    }
    for (auto &t : threads) t.join();
    EXPECT_EQ(ok.load(), 18);
}

}  // namespace
