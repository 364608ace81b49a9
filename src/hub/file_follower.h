// Work that follows a file as it is written: a thread runs `work(from, to)` over each newly
// published byte range, in order, while the writer goes on receiving. Used for the blob hash
// (SHA-256 costs about as much CPU as receiving and writing the bytes, so done inline it halves
// the download rate) and for disk flushes (on this VM an fsync's cost grows with the unflushed
// bytes, so flushing as we go leaves the final fsync only the tail).
//
// Threading: one writer thread calls published() and finish(); only the follower thread calls
// `work`. The destructor stops and joins the thread, also on errors and cancellation.
#pragma once

#include <atomic>
#include <condition_variable>
#include <cstdint>
#include <functional>
#include <mutex>
#include <thread>

namespace hfk::hub {

class FileFollower {
  public:
    // Returns false to give up (e.g. a read failed); the follower then stops.
    using Work = std::function<bool(uint64_t from, uint64_t to)>;

    // Bytes [0, ready) are already published. `work` gets ranges of at least `step` bytes
    // (except the last before finish()) and at most 8 * `step`, so that a stop is noticed soon.
    FileFollower(uint64_t step, uint64_t ready, Work work);
    ~FileFollower();
    FileFollower(const FileFollower &) = delete;
    FileFollower &operator=(const FileFollower &) = delete;

    // Bytes [0, n) are in the file.
    void published(uint64_t n);
    // Waits until `work` has covered [0, n) (all published); false if it gave up.
    bool finish(uint64_t n);

  private:
    void run();

    const uint64_t step_;
    Work work_;
    std::atomic<uint64_t> published_;
    // The thread sleeps until published_ reaches wake_at_ (~0 while it is busy), so the writer
    // takes the mutex about once per step, not once per network read.
    std::atomic<uint64_t> wake_at_{~0ull};
    std::mutex mu_;
    std::condition_variable cv_;
    uint64_t end_ = ~0ull;  // set by finish(): cover up to here, then stop
    bool stop_ = false;     // set by the destructor
    bool done_ = false;     // the thread has left its loop
    bool failed_ = false;
    std::thread thread_;  // last: started once the members above exist
};

}  // namespace hfk::hub
