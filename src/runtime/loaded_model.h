// Everything a session needs from a loaded checkpoint, immutable and shared: the network, its
// tokenizer, the generation defaults from generation_config.json, and the set of ids that end
// a generation. Sessions hold a shared_ptr, which is what makes freeing a model with live
// sessions safe.
#pragma once

#include <cstdint>
#include <filesystem>
#include <functional>
#include <memory>
#include <vector>

#include "model/generation_config.h"
#include "model/model.h"
#include "runtime/sentence_transformers.h"
#include "tokenizer/tokenizer.h"

namespace hfk {

// A weights file as it was when mapped: the inode and size (a truncation in place shows as the
// same inode with a smaller size; a replacement by rename as another inode, which is harmless).
struct MappedWeightsFile {
    std::filesystem::path path;
    uint64_t device = 0, inode = 0, size = 0;
};

struct LoadedModel {
    std::shared_ptr<const Model> model;
    std::shared_ptr<const Tokenizer> tokenizer;
    GenerationDefaults generation;
    std::vector<int32_t> eos_ids;  // generation_config, config.json and the tokenizer, merged
    int32_t n_threads = 1;
    // Ids the tokenizer can decode: [0, n_decodable). A model vocabulary padded beyond the
    // tokenizer's (rounded up to a multiple of 64 or 128, common on the Hub) has logits for ids
    // that are no token; they are never sampled. A smaller model vocabulary is refused at load.
    int32_t n_decodable = 0;
    std::vector<MappedWeightsFile> weight_files;
    // Encoders: how embed() pools, normalises and truncates unless the caller says otherwise.
    EmbeddingDefaults embedding;

    // progress(fraction in 0..1) returning true cancels (HFK_E_CANCELLED).
    static std::shared_ptr<const LoadedModel> load(const std::filesystem::path &dir,
                                                   const LoadOptions &opts,
                                                   const std::function<bool(double)> &progress);
    bool is_eos(int32_t id) const;
    // Weights are memory-mapped: a file truncated in place under a live mapping turns the next
    // read of a lost page into SIGBUS. One stat per file, before each generate/embed call, turns
    // the common case (truncated between calls) into HFK_E_IO; a truncation during a call cannot
    // be caught this way (capi/README.md, "Weights on disk").
    void check_weights_intact() const;
};

// The number of threads "<= 0" means: one per online core.
int32_t default_thread_count();

}  // namespace hfk
