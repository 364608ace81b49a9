#include "model/weight_arena.h"

#include <sys/mman.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cerrno>
#include <cstring>
#include <string>

#include "util/error.h"

namespace hfk {

namespace {

#ifndef MADV_POPULATE_WRITE
constexpr int MADV_POPULATE_WRITE = 23;  // Linux 5.14; Debian 12's headers predate it
#endif

std::atomic<int64_t> g_commit_ns{0};

// Commits the whole pages of [p, p + bytes): a failure (an old kernel) only leaves the faults to
// the first touch.
void populate(uint8_t *p, size_t bytes) {
    const uintptr_t page = uintptr_t(sysconf(_SC_PAGESIZE));
    const uintptr_t first = (uintptr_t(p) + page - 1) & ~(page - 1);
    const uintptr_t end = (uintptr_t(p) + bytes) & ~(page - 1);
    if (end <= first) return;
    const auto t0 = std::chrono::steady_clock::now();
    madvise(reinterpret_cast<void *>(first), end - first, MADV_POPULATE_WRITE);
    g_commit_ns.fetch_add(
        std::chrono::duration_cast<std::chrono::nanoseconds>(std::chrono::steady_clock::now() - t0)
            .count(),
        std::memory_order_relaxed);
}

}  // namespace

double WeightArena::commit_seconds_total() {
    return double(g_commit_ns.load(std::memory_order_relaxed)) * 1e-9;
}

WeightArena &WeightArena::operator=(WeightArena &&other) noexcept {
    if (this != &other) {
        release();
        chunks_ = std::exchange(other.chunks_, {});
        next_ = std::exchange(other.next_, nullptr);
        left_ = std::exchange(other.left_, 0);
    }
    return *this;
}

WeightArena::~WeightArena() {
    release();
}

void WeightArena::release() {
    for (const Region &r : chunks_) munmap(r.base, r.length);
    chunks_.clear();
    next_ = nullptr;
    left_ = 0;
}

// A fresh mapping of at least `bytes` whose start is 2 MiB-aligned when it is at least a huge
// page (page-aligned otherwise), asking for huge pages over its whole 2 MiB pages.
uint8_t *WeightArena::new_region(size_t bytes) {
    const bool huge = bytes >= kHugePage;
    const size_t length = bytes + (huge ? kHugePage : 0);
    void *base = mmap(nullptr, length, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (base == MAP_FAILED) {
        const int err = errno;
        fail(HFK_E_NOMEM, "cannot map " + std::to_string(length) +
                              " bytes for the weights: " + std::strerror(err));
    }
    chunks_.push_back(Region{base, length});
    const uintptr_t b = reinterpret_cast<uintptr_t>(base);
    uint8_t *data = reinterpret_cast<uint8_t *>(huge ? (b + kHugePage - 1) & ~(kHugePage - 1) : b);
    if (huge) madvise(data, bytes / kHugePage * kHugePage, MADV_HUGEPAGE);
    return data;
}

uint8_t *WeightArena::alloc(size_t bytes) {
    // Whole lines, and at least one: an empty tensor still gets a pointer of its own.
    const size_t padded = std::max<size_t>(64, (bytes + 63) & ~size_t(63));
    uint8_t *p;
    if (padded >= kChunk) {
        p = new_region(bytes);
    } else {
        if (padded > left_) {
            next_ = new_region(kChunk);
            left_ = kChunk;
        }
        p = next_;
        next_ += padded;
        left_ -= padded;
    }
    populate(p, bytes);
    return p;
}

}  // namespace hfk
