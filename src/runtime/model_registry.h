// Shared weights: one LoadedModel per checkpoint directory in the process. Opening the same
// model twice gives two handles over one mapping; concurrent opens do one load; the memory goes
// back to the system when the last handle and session let go (the registry holds weak refs).
#pragma once

#include <atomic>
#include <filesystem>
#include <functional>
#include <memory>

#include "runtime/loaded_model.h"

namespace hfk {

// Models are keyed by canonical directory and load variant (load_variant: the same directory in
// q8 and as stored are two models).
// progress(fraction) is called on the calling thread; returning true, or `cancel` becoming true,
// abandons the wait with HFK_E_CANCELLED (a load that others wait for goes on).
std::shared_ptr<const LoadedModel> acquire_loaded_model(const std::filesystem::path &dir,
                                                        const LoadOptions &opts,
                                                        const std::function<bool(double)> &progress,
                                                        const std::atomic<bool> *cancel);

// The model from `dir` if one is alive in this process (no load, no wait), else null.
std::shared_ptr<const LoadedModel> find_loaded_model(const std::filesystem::path &dir,
                                                     const std::string &variant = "");

// True while a model from `dir` is alive in this process or being loaded: acquiring it then
// shares that model, with no download or load of its own.
bool model_is_registered(const std::filesystem::path &dir, const std::string &variant = "");

// True while a model loaded from a directory under `root` is alive in this process.
bool any_model_loaded_under(const std::filesystem::path &root);

// How many loads the registry performed (for tests: a shared open performs none).
int64_t model_loads_performed();

}  // namespace hfk
