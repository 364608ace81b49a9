// safetensors: validation of untrusted files (RELIABILITY.md a.1), memory-mapped tensors, and the
// weights of a whole checkpoint directory (single file or sharded with an index).
//
// Alignment: safetensors does not guarantee data alignment (ST-e). TensorInfo::data points at
// 8 + N + begin in the file, so it MAY BE UNALIGNED for its dtype. Writers pad N to a multiple of
// 8, so in practice F32/F16/BF16 data is aligned; check TensorInfo::aligned() before reinterpreting
// `data` as float*/uint16_t*, and fall back to memcpy-based loads (or an aligned copy) otherwise.
#pragma once

#include <cstddef>
#include <cstdint>
#include <filesystem>
#include <functional>
#include <memory>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "model/dtype.h"

namespace hfk {

class MappedFile;

struct TensorInfo {
    std::string name;
    DType dtype = DType::F32;
    std::vector<int64_t> shape;
    const std::byte *data =
        nullptr;  // into the read-only mapping; valid while the owning file lives
    uint64_t nbytes = 0;
    uint64_t offset = 0;  // data_offsets begin, relative to the data section
    std::string file;     // file name, for messages
    int64_t numel() const;
    // True if `data` is a multiple of `alignment` (e.g. alignof(float)). Always true for nbytes ==
    // 0.
    bool aligned(size_t alignment) const;
};

// Limits beyond the reference crate (RELIABILITY.md ST2, ST-b, ST-c).
inline constexpr uint64_t kSafetensorsMaxHeader = 100'000'000;
inline constexpr size_t kSafetensorsMaxTensors = 1'000'000;
inline constexpr size_t kSafetensorsMaxRank = 8;
inline constexpr size_t kSafetensorsMaxNameBytes = 1024;
inline constexpr uint64_t kSafetensorsMaxInteger = uint64_t(1) << 48;

// Validates a whole safetensors file held in memory (8-byte length + header + data) exactly as
// RELIABILITY.md a.1 (ST1-ST13 and our stricter ST-a..ST-d). Throws hfk::Error(HFK_E_FORMAT) naming
// file_name and the tensor. Tensors are returned sorted by data offset. This is the fuzz target.
std::vector<TensorInfo> parse_safetensors(std::span<const std::byte> file_bytes,
                                          std::string_view file_name);

// Header length N from the first 8 bytes (HFK_E_FORMAT if fewer than 8 or N > the 100 MB cap).
uint64_t safetensors_header_length(std::span<const std::byte> first8);

// Parses the N header bytes without the data section: everything that does not need the data is
// checked (offsets contiguous from 0, sizes agree with dtype x shape). data == nullptr in the
// result. The caller checks 8 + N + data_size(result) == the file size when it knows it.
std::vector<TensorInfo> parse_safetensors_header_only(std::string_view header_json,
                                                      std::string_view file_name);
// Length of the data section the tensors describe (end of the last tensor, 0 if none).
uint64_t safetensors_data_size(const std::vector<TensorInfo> &tensors);

// One memory-mapped, validated file (read-only, MAP_PRIVATE/PROT_READ).
class SafetensorsFile {
  public:
    // HFK_E_NOT_FOUND (no such file) / HFK_E_IO (cannot read/map) / HFK_E_FORMAT (invalid).
    static std::unique_ptr<SafetensorsFile> open(const std::filesystem::path &path);
    ~SafetensorsFile();
    const std::vector<TensorInfo> &tensors() const { return tensors_; }
    uint64_t file_size() const;
    const std::filesystem::path &path() const;
    // MappedFile::populate on [offset, offset + length) of the file.
    void populate(uint64_t offset, uint64_t length) const;

  private:
    SafetensorsFile() = default;
    std::unique_ptr<MappedFile> map_;
    std::vector<TensorInfo> tensors_;
};

// All weights of a checkpoint directory: model.safetensors, or model.safetensors.index.json +
// shards. The index is validated: weight_map names; shard file names are plain names in the
// directory (no
// '/', '\\', '..', control characters); every listed tensor is present in its shard; no tensor in
// two shards; no shard tensor missing from the map. A directory with only pytorch_model.bin / *.bin
// /
// *.pt / *.pth gives HFK_E_UNSUPPORTED (pickle can execute code; a safetensors revision is needed).
// Never unpickles. No weights at all: HFK_E_NOT_FOUND.
class WeightStore {
  public:
    static std::shared_ptr<const WeightStore> open(const std::filesystem::path &dir);
    ~WeightStore();
    const TensorInfo *find(std::string_view name) const;  // exact name, nullptr if absent
    const std::vector<const TensorInfo *> &all() const { return sorted_; }  // sorted by name
    uint64_t total_bytes() const { return total_bytes_; }                   // sum of file sizes
    uint64_t parameter_count() const { return parameter_count_; }
    size_t file_count() const { return files_.size(); }
    // Brings every weight page into memory now, in chunks, calling progress(fraction of bytes
    // done); throws HFK_E_CANCELLED when it returns true. The first forward pass then takes no
    // page faults: load-to-first-token is one sequential pass over the files.
    void populate(const std::function<bool(double)> &progress) const;

  private:
    WeightStore() = default;
    void add_file(std::unique_ptr<SafetensorsFile> f);
    void finalize();
    std::vector<std::unique_ptr<SafetensorsFile>> files_;
    std::vector<const TensorInfo *> sorted_;
    uint64_t total_bytes_ = 0;
    uint64_t parameter_count_ = 0;
    friend struct WeightStoreLoader;
};

// Binds the tensors an architecture expects, with shape checks. A name is looked up as given, then
// with each prefix in prefixes_to_try ("transformer.", "model.", "bert.", ...), so
// "h.0.attn.c_attn.weight" finds "transformer.h.0.attn.c_attn.weight". Every failure is
// HFK_E_FORMAT naming the tensor: missing, wrong shape (expected vs found), dtype not F32/F16/BF16,
// and at finish() any tensor never taken ("unexpected tensor X") unless it contains an ignored
// substring.
class WeightBinder {
  public:
    WeightBinder(std::shared_ptr<const WeightStore> store,
                 std::vector<std::string> prefixes_to_try);
    const TensorInfo &take(const std::string &name, std::initializer_list<int64_t> expected_shape);
    const TensorInfo &take(const std::string &name, const std::vector<int64_t> &expected_shape);
    const TensorInfo *take_optional(const std::string &name,
                                    std::initializer_list<int64_t> expected_shape);
    const TensorInfo *take_optional(const std::string &name,
                                    const std::vector<int64_t> &expected_shape);
    bool has(const std::string &name) const;
    // Any dtype and shape (the caller checks them: pre-quantized packed tensors); nullptr if
    // absent. The tensor counts as taken.
    const TensorInfo *take_raw(const std::string &name);
    void ignore_matching(std::string_view substring);
    void finish() const;  // throws on tensors never taken
    const WeightStore &store() const { return *store_; }

  private:
    const TensorInfo *lookup(const std::string &name) const;
    const TensorInfo *bind(const std::string &name, const std::vector<int64_t> &shape,
                           bool required);
    std::shared_ptr<const WeightStore> store_;
    std::vector<std::string> prefixes_;
    std::vector<std::string> ignored_;
    std::vector<const TensorInfo *> taken_;
};

// "[2, 3]" for messages.
std::string shape_string(const std::vector<int64_t> &shape);

}  // namespace hfk
