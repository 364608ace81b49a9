#include "runtime/loaded_model.h"

#include <algorithm>
#include <thread>

#include "util/error.h"

namespace hfk {

int32_t default_thread_count() {
    const unsigned n = std::thread::hardware_concurrency();
    return n == 0 ? 1 : static_cast<int32_t>(std::min(n, 256u));
}

std::shared_ptr<const LoadedModel> LoadedModel::load(const std::filesystem::path &dir,
                                                     int32_t n_threads,
                                                     const std::function<bool(double)> &progress) {
    std::error_code ec;
    if (!std::filesystem::is_directory(dir, ec))
        fail(HFK_E_NOT_FOUND, "model directory not found: " + dir.string());
    auto lm = std::make_shared<LoadedModel>();
    lm->n_threads = n_threads > 0 ? n_threads : default_thread_count();
    // The tokenizer is cheap next to the weights: load it first so a bad tokenizer fails fast.
    lm->tokenizer = Tokenizer::load(dir);
    lm->generation = load_generation_config(dir);
    LoadOptions opts;
    opts.n_threads = lm->n_threads;
    lm->model = Model::load(dir, opts, progress);

    auto add = [&](int32_t id) {
        if (id >= 0 && std::find(lm->eos_ids.begin(), lm->eos_ids.end(), id) == lm->eos_ids.end())
            lm->eos_ids.push_back(id);
    };
    for (int32_t id : lm->generation.eos_token_ids) add(id);
    for (int32_t id : lm->model->config().eos_token_ids) add(id);
    add(lm->tokenizer->eos_id());
    return lm;
}

bool LoadedModel::is_eos(int32_t id) const {
    return std::find(eos_ids.begin(), eos_ids.end(), id) != eos_ids.end();
}

}  // namespace hfk
