// FileFollower: the thread that hashes and flushes a partial download behind its writer. Named
// Concurrency.* so that CI's ThreadSanitizer stage runs it.
#include <gtest/gtest.h>

#include <chrono>
#include <random>
#include <thread>
#include <utility>
#include <vector>

#include "hub/file_follower.h"

namespace {

using hfk::hub::FileFollower;
using Range = std::pair<uint64_t, uint64_t>;

// The ranges given to the work, touched only by the follower thread until finish() returns.
struct Recorder {
    std::vector<Range> ranges;
    FileFollower::Work work() {
        return [this](uint64_t a, uint64_t b) {
            ranges.emplace_back(a, b);
            return true;
        };
    }
};

void expect_contiguous(const std::vector<Range> &ranges, uint64_t from, uint64_t to,
                       uint64_t step) {
    ASSERT_FALSE(ranges.empty());
    EXPECT_EQ(ranges.front().first, from);
    EXPECT_EQ(ranges.back().second, to);
    for (size_t i = 0; i < ranges.size(); ++i) {
        EXPECT_LT(ranges[i].first, ranges[i].second);
        EXPECT_LE(ranges[i].second - ranges[i].first, 8 * step);
        if (i + 1 < ranges.size()) {
            EXPECT_EQ(ranges[i].second, ranges[i + 1].first);
            EXPECT_GE(ranges[i].second - ranges[i].first, step) << "only the last may be short";
        }
    }
}

TEST(Concurrency, FileFollowerCoversEveryPublishedByteOnceInOrder) {
    constexpr uint64_t kStep = 4096;
    std::mt19937 rng(7);
    for (int round = 0; round < 20; ++round) {
        Recorder rec;
        const uint64_t ready = round % 3 == 0 ? 3 * kStep + 5 : 0;  // a resumed prefix
        uint64_t n = ready;
        {
            FileFollower f(kStep, ready, rec.work());
            const uint64_t total = ready + 200 * kStep + rng() % kStep;
            while (n < total) {  // network-sized pieces, sometimes with a pause
                n = std::min<uint64_t>(total, n + 1 + rng() % (3 * kStep));
                f.published(n);
                if (rng() % 16 == 0) std::this_thread::sleep_for(std::chrono::microseconds(200));
            }
            ASSERT_TRUE(f.finish(n));
        }
        expect_contiguous(rec.ranges, 0, n, kStep);
    }
}

TEST(Concurrency, FileFollowerFinishesAShortTailAndAnEmptyFile) {
    Recorder tail, empty;
    {
        FileFollower f(1 << 20, 0, tail.work());
        f.published(100);
        EXPECT_TRUE(f.finish(100));  // less than a step: covered at finish
    }
    ASSERT_EQ(tail.ranges.size(), 1u);
    EXPECT_EQ(tail.ranges[0], Range(0, 100));
    {
        FileFollower f(1 << 20, 0, empty.work());
        EXPECT_TRUE(f.finish(0));
    }
    EXPECT_TRUE(empty.ranges.empty());
}

TEST(Concurrency, FileFollowerReportsAFailedWorkAndStops) {
    int calls = 0;
    FileFollower f(10, 0, [&](uint64_t, uint64_t to) {
        ++calls;
        return to < 50;  // fails on the range that reaches 50
    });
    for (uint64_t n = 10; n <= 200; n += 10) f.published(n);
    EXPECT_FALSE(f.finish(200));
    EXPECT_GE(calls, 1);
    EXPECT_LE(calls, 5);
}

TEST(Concurrency, FileFollowerDestroyedMidWorkStopsWithinOneRange) {
    // A cancelled download destroys the follower while it works through a long resumed prefix:
    // the destructor must return after the range in progress, not after the whole prefix.
    constexpr uint64_t kStep = 1000;
    std::atomic<int> calls{0};
    auto t0 = std::chrono::steady_clock::now();
    {
        FileFollower f(kStep, 1000 * kStep, [&](uint64_t, uint64_t) {
            ++calls;
            std::this_thread::sleep_for(std::chrono::milliseconds(5));
            return true;
        });
        std::this_thread::sleep_for(std::chrono::milliseconds(12));
    }
    const double s = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    EXPECT_LT(calls.load(), 10);  // of 125 ranges of 8 steps
    EXPECT_LT(s, 2.0);
}

}  // namespace
