// A whole file mapped read-only (PROT_READ, MAP_PRIVATE). Checkpoints are used in place: no copy.
// Blobs are only ever replaced by rename (RELIABILITY.md ST15/ST-f), so a live mapping is never
// truncated under us.
#pragma once

#include <cstddef>
#include <filesystem>
#include <memory>
#include <span>

namespace hfk {

class MappedFile {
  public:
    // HFK_E_NOT_FOUND if the path does not exist, HFK_E_IO if it cannot be opened, stat'ed or
    // mapped (or is not a regular file). An empty file maps to an empty span.
    static std::unique_ptr<MappedFile> open(const std::filesystem::path &path);
    ~MappedFile();
    MappedFile(const MappedFile &) = delete;
    MappedFile &operator=(const MappedFile &) = delete;

    std::span<const std::byte> bytes() const { return {data_, size_}; }
    // Maps the pages of [offset, offset + length) into this process now (MADV_POPULATE_READ:
    // read from disk if needed, page tables filled in one pass) rather than one page fault at a
    // time during the first forward pass. Falls back to a readahead hint (MADV_WILLNEED) on
    // kernels before 5.14. Best effort: never fails.
    void populate(uint64_t offset, uint64_t length) const;
    uint64_t size() const { return size_; }
    const std::filesystem::path &path() const { return path_; }

  private:
    MappedFile() = default;
    const std::byte *data_ = nullptr;
    size_t size_ = 0;
    std::filesystem::path path_;
};

}  // namespace hfk
