#pragma once
// Owned memory for the weights a load converts (quantized blocks, BF16/F32 conversions, GPT-2's
// transposed layers, unaligned tensors' copies), packed into 2 MiB-aligned chunks that ask the
// kernel for transparent huge pages (MADV_HUGEPAGE: THP's "madvise" mode, Debian's default,
// gives them to nobody else).
//
// Why: a decode streams every weight once per token, and the hardware prefetchers stop at each
// 4 KiB page boundary. Measured on AMD EPYC (Zen 5), one thread, llama-135m BF16 from the memory
// map: decode at 72% of a plain read with the file in 4 KiB pages, 84% in 2 MiB folios. One
// matrix of a small model (a 576 x 1536 Q8_0 projection: 0.9 MiB) is smaller than a huge page,
// so one allocation per matrix would leave every quantized weight in 4 KiB pages: the arena packs
// them side by side instead.
//
// Memory is 64-byte aligned (a row of whole lines starts on a line), not zeroed, and committed
// when it is handed out (MADV_POPULATE_WRITE, Linux 5.14: one call instead of a fault per page;
// older kernels fault on first touch as before). A chunk's untouched tail is only address space.
// Chunks are mappings of their own (mmap), not malloc's: freed, they leave the process, and
// glibc's heap never holds a huge-page hint of ours. A model owns its loader's arena (moved).
#include <cstddef>
#include <cstdint>
#include <utility>
#include <vector>

namespace hfk {

class WeightArena {
  public:
    WeightArena() = default;
    WeightArena(WeightArena &&other) noexcept { *this = std::move(other); }
    WeightArena &operator=(WeightArena &&other) noexcept;
    WeightArena(const WeightArena &) = delete;
    WeightArena &operator=(const WeightArena &) = delete;
    ~WeightArena();

    // Space for `bytes`, valid until the arena that gave it (or the one it was moved to) is
    // destroyed. Throws Error(HFK_E_NOMEM) when the system refuses the memory.
    uint8_t *alloc(size_t bytes);
    size_t chunks() const { return chunks_.size(); }
    // Seconds every arena of the process has spent having the kernel commit (zero) new pages,
    // for benchmarks: a conversion's own rate is its time without them (on a VM, committing
    // memory the guest never touched costs several times the conversion).
    static double commit_seconds_total();

    static constexpr size_t kHugePage = size_t(2) << 20;
    // A request at least this large gets a chunk of its own; smaller ones share chunks of it.
    static constexpr size_t kChunk = size_t(16) << 20;

  private:
    struct Region {
        void *base;
        size_t length;
    };
    void release();
    uint8_t *new_region(size_t bytes);
    std::vector<Region> chunks_;
    uint8_t *next_ = nullptr;  // free space of the current shared chunk
    size_t left_ = 0;
};

}  // namespace hfk
