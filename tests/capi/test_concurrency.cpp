// Many sessions on one model at once (issue 5): each output equals its single-threaded run.
// Also built with ThreadSanitizer in CI (label tsan).
#include <atomic>
#include <chrono>
#include <condition_variable>
#include <latch>
#include <mutex>
#include <thread>

#include "api_support.h"

namespace {

using namespace hfk_api_test;

// Counts the generations that have produced their first piece and holds each one there until
// all have: then every session is provably inside generate at the same moment. The wait is
// bounded so that a thread that failed early makes the test fail, not hang.
class Rendezvous {
  public:
    explicit Rendezvous(int n) : remaining_(n) {}
    void arrive_and_wait() {
        std::unique_lock<std::mutex> lock(mutex_);
        if (--remaining_ == 0) {
            all_met_ = true;
            cv_.notify_all();
            return;
        }
        cv_.wait_for(lock, std::chrono::seconds(20), [&] { return all_met_; });
    }
    bool all_met() {
        std::lock_guard<std::mutex> lock(mutex_);
        return all_met_;
    }

  private:
    std::mutex mutex_;
    std::condition_variable cv_;
    int remaining_;
    bool all_met_ = false;
};

struct Overlap {
    Rendezvous *mid_generation;
    bool arrived = false;
};

int32_t meet_on_first_piece(const char *, size_t, void *ud) {
    auto *o = static_cast<Overlap *>(ud);
    if (!o->arrived) {
        o->arrived = true;
        o->mid_generation->arrive_and_wait();  // blocks this session between two tokens
    }
    return 0;
}

TEST(Concurrency, EightSessionsOnOneModelMatchTheirSingleThreadedRuns) {
    auto model = load(default_model(), 1);
    ASSERT_TRUE(model);
    const char *prompts[] = {"Once upon a time", "The sky",  "Hello", "", "A dog",
                             "In the morning",   "She said", "Echoes"};
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
    // start: every thread has its session and begins generating at once; mid_generation: the
    // first round of every thread is held after its first piece until all eight are running.
    std::latch start(kSessions);
    Rendezvous mid_generation(kSessions);
    std::vector<std::thread> threads;
    for (int i = 0; i < kSessions; ++i) {
        threads.emplace_back([&, i] {
            auto s = session(model.get(), 1);
            start.arrive_and_wait();
            for (int round = 0; round < 2; ++round) {  // twice, so runs overlap for longer
                EXPECT_EQ(hfk_session_reset(s.get()), HFK_OK);
                const hfk_gen_params p = options_for(i);
                Overlap overlap{&mid_generation, round > 0};
                char *text = nullptr;
                EXPECT_EQ(hfk_session_generate(s.get(), prompts[i], &p, meet_on_first_piece,
                                               &overlap, &text, nullptr),
                          HFK_OK)
                    << hfk_last_error_message();
                together_text[i] = text ? text : "";
                hfk_free(text);
                together[i] = last_tokens(s.get());
            }
        });
    }
    for (auto &t : threads) t.join();
    EXPECT_TRUE(mid_generation.all_met()) << "the eight generations never ran at the same time";
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
