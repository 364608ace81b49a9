// Which weights of a repository hfkit can load, and why not when there are none: one wording
// for prepare (before any download) and inspect, so pull, run, open and inspect agree.
#include <algorithm>

#include "hub/hub.h"
#include "util/error.h"

namespace hfk::hub {

namespace {
bool ends_with(const std::string &s, std::string_view suffix) {
    return s.size() >= suffix.size() &&
           s.compare(s.size() - suffix.size(), suffix.size(), suffix) == 0;
}
}  // namespace

bool is_pickle_weight_name(const std::string &name) {
    return ends_with(name, ".bin") || ends_with(name, ".pt") || ends_with(name, ".pth") ||
           ends_with(name, ".ckpt") || ends_with(name, ".pkl");
}

std::string missing_weights_reason(const std::vector<std::string> &names, int32_t *status_out) {
    std::vector<std::string> pickles;
    for (const auto &n : names) {
        if (n.find('/') != std::string::npos) continue;  // weights sit at the top level
        if (ends_with(n, ".safetensors") || n == "model.safetensors.index.json") return {};
        if (is_pickle_weight_name(n)) pickles.push_back(n);
    }
    if (!pickles.empty()) {
        std::sort(pickles.begin(), pickles.end());
        if (status_out) *status_out = HFK_E_UNSUPPORTED;
        return "only PyTorch pickle weights (" + pickles.front() +
               "); hfkit does not load pickle files because unpickling can execute arbitrary "
               "code. Use a revision of the model that has model.safetensors (many Hub repos "
               "have one on the refs/pr/ branch opened by the safetensors convert bot)";
    }
    if (status_out) *status_out = HFK_E_ENTRY_NOT_FOUND;
    return "no weights: no model.safetensors or model.safetensors.index.json";
}

}  // namespace hfk::hub
