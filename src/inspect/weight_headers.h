// The safetensors headers of a model, read without its weights: per file, 8 bytes (the header
// length N), then the N header bytes. Sharded models are read through their index.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "inspect/model_files.h"
#include "model/safetensors.h"

namespace hfk::inspect {

// huggingface_hub's get_safetensors_metadata refuses headers above 25 MB (SAFETENSORS_MAX_HEADER_
// LENGTH); real ones are a few KB to a few hundred KB.
inline constexpr uint64_t kMaxHeaderBytes = 25'000'000;
// Bytes of header over all shards: bounds what a hostile index can make us fetch.
inline constexpr uint64_t kMaxTotalHeaderBytes = 200'000'000;
inline constexpr size_t kMaxShards = 10'000;

struct WeightHeaders {
    std::vector<std::string> files;   // the safetensors files whose headers were read
    std::vector<TensorInfo> tensors;  // all of them (data == nullptr), in file order
    uint64_t file_bytes = 0;          // sum over files of 8 + N + data size: the download size
    uint64_t header_bytes = 0;        // sum of 8 + N: what was read
};

// Which files, in the loader's order: model.safetensors; else model.safetensors.index.json's
// shards (names validated as plain file names that are in the listing, every mapped tensor found
// in its shard, no tensor in two shards); else every top-level *.safetensors. No safetensors at all:
// an empty result. Every malformed header or index is HFK_E_FORMAT naming the file.
WeightHeaders read_weight_headers(ModelFiles &files);

}  // namespace hfk::inspect
