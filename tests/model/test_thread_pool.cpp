// The fork-join pool every kernel runs on (kernels/thread_pool.cpp): every task runs once with
// many submitters at once, and a worker that fell asleep joins the next job. Also built with
// ThreadSanitizer in CI (label tsan).
#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <thread>
#include <vector>

#include "kernels/thread_pool.h"

namespace {

using hfk::kern::parallel_for;

TEST(ThreadPool, EveryTaskRunsOnceWithConcurrentSubmitters) {
    std::vector<std::thread> submitters;
    std::atomic<int> failures{0};
    for (int t = 0; t < 4; ++t)
        submitters.emplace_back([&] {
            for (int round = 0; round < 200; ++round) {
                std::vector<std::atomic<int>> hits(37);
                parallel_for(37, 3, [&](int64_t i) { hits[size_t(i)].fetch_add(1); });
                for (auto &h : hits)
                    if (h.load() != 1) failures.fetch_add(1);
            }
        });
    for (auto &s : submitters) s.join();
    EXPECT_EQ(failures.load(), 0);
}

// Workers spin ~100 us after a job, then sleep on a condition variable. Each round waits past
// that, then runs two tasks that each wait (bounded) until both are running: the submitter runs
// one, so the other needs a worker, woken from its sleep. A lost wake-up is a round whose tasks
// never met.
TEST(ThreadPool, AWorkerAsleepIsWokenForTheNextJob) {
    int met = 0;
    const int rounds = 20;
    for (int round = 0; round < rounds; ++round) {
        std::this_thread::sleep_for(std::chrono::milliseconds(2));
        std::atomic<int> running{0}, together{0};
        parallel_for(2, 2, [&](int64_t) {
            running.fetch_add(1);
            const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(10);
            while (running.load() < 2 && std::chrono::steady_clock::now() < deadline)
                std::this_thread::yield();
            if (running.load() == 2) together.fetch_add(1);
        });
        if (together.load() != 2) break;  // one lost wake-up is enough to fail
        ++met;
    }
    EXPECT_EQ(met, rounds);
}

}  // namespace
