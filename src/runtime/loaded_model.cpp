#include "runtime/loaded_model.h"

#include <sys/stat.h>

#include <algorithm>
#include <string>
#include <thread>

#include "util/error.h"

namespace hfk {

namespace {

// The safetensors files of a checkpoint directory, as they are now (through cache symlinks).
std::vector<MappedWeightsFile> stat_weight_files(const std::filesystem::path &dir) {
    std::vector<MappedWeightsFile> out;
    std::error_code ec;
    for (const auto &entry : std::filesystem::directory_iterator(dir, ec)) {
        const std::string name = entry.path().filename().string();
        if (name.size() <= 12 || name.compare(name.size() - 12, 12, ".safetensors") != 0) continue;
        struct stat st {};
        if (::stat(entry.path().c_str(), &st) != 0 || !S_ISREG(st.st_mode)) continue;
        out.push_back(
            {entry.path(), uint64_t(st.st_dev), uint64_t(st.st_ino), uint64_t(st.st_size)});
    }
    return out;
}

}  // namespace

int32_t default_thread_count() {
    const unsigned n = std::thread::hardware_concurrency();
    return n == 0 ? 1 : static_cast<int32_t>(std::min(n, 256u));
}

std::shared_ptr<const LoadedModel> LoadedModel::load(const std::filesystem::path &dir,
                                                     const LoadOptions &load_opts,
                                                     const std::function<bool(double)> &progress) {
    std::error_code ec;
    if (!std::filesystem::is_directory(dir, ec))
        fail(HFK_E_NOT_FOUND, "model directory not found: " + dir.string());
    auto lm = std::make_shared<LoadedModel>();
    lm->n_threads = load_opts.n_threads > 0 ? load_opts.n_threads : default_thread_count();
    // The tokenizer is cheap next to the weights: load it first so a bad tokenizer fails fast.
    lm->tokenizer = Tokenizer::load(dir);
    lm->generation = load_generation_config(dir);
    LoadOptions opts = load_opts;
    opts.n_threads = lm->n_threads;
    lm->model = Model::load(dir, opts, progress);
    if (!lm->model->is_causal()) lm->embedding = read_sentence_transformers(dir);
    lm->n_decodable = lm->tokenizer->vocab_size();
    if (lm->model->vocab_size() < lm->n_decodable)
        fail(HFK_E_FORMAT, "the model's vocabulary has " + std::to_string(lm->model->vocab_size()) +
                               " ids but its tokenizer has " + std::to_string(lm->n_decodable) +
                               ": the tokenizer does not belong to this checkpoint (a model "
                               "vocabulary may be larger than the tokenizer's, never smaller)");
    lm->weight_files = stat_weight_files(dir);

    auto add = [&](int32_t id) {
        if (id >= 0 && std::find(lm->eos_ids.begin(), lm->eos_ids.end(), id) == lm->eos_ids.end())
            lm->eos_ids.push_back(id);
    };
    for (int32_t id : lm->generation.eos_token_ids) add(id);
    for (int32_t id : lm->model->config().eos_token_ids) add(id);
    add(lm->tokenizer->eos_id());
    return lm;
}

void LoadedModel::check_weights_intact() const {
    for (const MappedWeightsFile &f : weight_files) {
        struct stat st {};
        if (::stat(f.path.c_str(), &st) != 0) continue;  // unlinked: the mapping stays valid
        if (uint64_t(st.st_dev) != f.device || uint64_t(st.st_ino) != f.inode)
            continue;  // renamed over
        if (uint64_t(st.st_size) < f.size)
            fail(HFK_E_IO, "the weights file " + f.path.string() + " was truncated from " +
                               std::to_string(f.size) + " to " + std::to_string(st.st_size) +
                               " bytes while the model was loaded; load the model again (files "
                               "are mapped, not copied: replace them by rename, never in place)");
    }
}

bool LoadedModel::is_eos(int32_t id) const {
    return std::find(eos_ids.begin(), eos_ids.end(), id) != eos_ids.end();
}

}  // namespace hfk
