// A small pool of worker threads shared by every model in the process. Many forward() calls may
// submit work at the same time (one per session): every submitter runs tasks of its own job too,
// so a job always finishes even when all workers are busy elsewhere, and `n_threads` only caps how
// many threads (the caller included) work on one job.
#pragma once

#include <cstdint>

namespace hfk::kern {

// A borrowed callable `void(int64_t task)`; avoids std::function's allocation on the hot path.
class TaskFn {
  public:
    template <class F>
    TaskFn(const F &f)  // NOLINT: implicit on purpose
        : obj_(&f), call_([](const void *o, int64_t i) { (*static_cast<const F *>(o))(i); }) {}
    void operator()(int64_t i) const { call_(obj_, i); }

  private:
    const void *obj_;
    void (*call_)(const void *, int64_t);
};

// Runs fn(0) .. fn(n_tasks - 1), each exactly once, on at most n_threads threads (the caller is
// one of them), and returns when all are done. fn must not throw. Which thread runs which task
// is unspecified, so results must not depend on it (our kernels give bit-identical results for
// any thread count: a task's arithmetic never depends on the split).
void parallel_for(int64_t n_tasks, int n_threads, TaskFn fn);

// One online core per thread.
int hardware_threads();

}  // namespace hfk::kern
