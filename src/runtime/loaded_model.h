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
#include "tokenizer/tokenizer.h"

namespace hfk {

struct LoadedModel {
    std::shared_ptr<const Model> model;
    std::shared_ptr<const Tokenizer> tokenizer;
    GenerationDefaults generation;
    std::vector<int32_t> eos_ids;  // generation_config, config.json and the tokenizer, merged
    int32_t n_threads = 1;

    // progress(fraction in 0..1) returning true cancels (HFK_E_CANCELLED).
    static std::shared_ptr<const LoadedModel> load(const std::filesystem::path &dir,
                                                   int32_t n_threads,
                                                   const std::function<bool(double)> &progress);
    bool is_eos(int32_t id) const;
};

// The number of threads "<= 0" means: one per online core.
int32_t default_thread_count();

}  // namespace hfk
