#include "hub/file_follower.h"

#include <algorithm>

namespace hfk::hub {

FileFollower::FileFollower(uint64_t step, uint64_t ready, Work work)
    : step_(step), work_(std::move(work)), published_(ready), thread_([this] { run(); }) {}

FileFollower::~FileFollower() {
    {
        std::lock_guard<std::mutex> lk(mu_);
        stop_ = true;
    }
    cv_.notify_all();
    thread_.join();
}

void FileFollower::published(uint64_t n) {
    published_.store(n);
    // Pairs with run(): it stores wake_at_ and then rereads published_, both seq_cst, so either
    // it sees n or we see its wake_at_ and notify under the mutex it holds until it waits.
    if (n >= wake_at_.load()) {
        std::lock_guard<std::mutex> lk(mu_);
        cv_.notify_all();
    }
}

bool FileFollower::finish(uint64_t n) {
    published(n);
    std::unique_lock<std::mutex> lk(mu_);
    end_ = n;
    cv_.notify_all();
    cv_.wait(lk, [&] { return done_; });
    return !failed_;
}

void FileFollower::run() {
    uint64_t covered = 0;
    std::unique_lock<std::mutex> lk(mu_);
    while (!stop_ && covered < end_) {
        const uint64_t limit = std::min(published_.load(), end_);
        if (limit - covered < step_ && limit < end_) {  // wait for a full step or the end
            wake_at_.store(covered + step_);
            if (published_.load() < covered + step_) cv_.wait(lk);
            wake_at_.store(~0ull);
            continue;
        }
        const uint64_t to = std::min(limit, covered + 8 * step_);
        lk.unlock();
        const bool ok = work_(covered, to);
        lk.lock();
        if (!ok) {
            failed_ = true;
            break;
        }
        covered = to;
    }
    done_ = true;
    cv_.notify_all();
}

}  // namespace hfk::hub
