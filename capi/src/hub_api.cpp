// C ABI: preparing models in the Hugging Face cache and managing that cache.
#include <string>

#include <nlohmann/json.hpp>

#include "guard.h"
#include "handles.h"
#include "hub_options.h"
#include "runtime/download_jobs.h"
#include "runtime/model_registry.h"

using hfk::capi::guard;
using hfk::capi::set_error;
using hfk::capi::with_hub_options;

namespace hfk::capi {

const hfk_hub_params kHubDefaults = {sizeof(hfk_hub_params),
                                     nullptr,
                                     nullptr,
                                     nullptr,
                                     nullptr,
                                     -1,
                                     nullptr,
                                     0,
                                     nullptr,
                                     0,
                                     0,
                                     nullptr,
                                     nullptr,
                                     0,
                                     0};

hub::Options hub_options_from(const hfk_hub_params &p) {
    hub::Options o;
    if (p.endpoint) o.endpoint = p.endpoint;
    if (p.token) o.token = std::string(p.token);
    if (p.cache_dir) o.cache_dir = p.cache_dir;
    if (p.revision) o.revision = p.revision;
    o.offline = p.offline < 0 ? -1 : (p.offline ? 1 : 0);
    auto patterns = [](const char *const *list, int32_t n, const char *what) {
        std::vector<std::string> out;
        if (n < 0 || (n > 0 && list == nullptr))
            fail(HFK_E_INVALID_ARG, std::string(what) + " must hold its count of strings");
        for (int32_t i = 0; i < n; ++i) {
            if (list[i] == nullptr)
                fail(HFK_E_INVALID_ARG, std::string(what) + "[" + std::to_string(i) + "] is NULL");
            out.emplace_back(list[i]);
        }
        return out;
    };
    o.allow_patterns = patterns(p.allow_patterns, p.n_allow_patterns, "allow_patterns");
    o.ignore_patterns = patterns(p.ignore_patterns, p.n_ignore_patterns, "ignore_patterns");
    if (p.max_parallel > 0) o.max_parallel = p.max_parallel;
    o.verify = p.verify != 0;
    o.force_download = p.force_download != 0;
    if (p.progress) {
        o.progress = [cb = p.progress, ud = p.progress_user_data](const hub::Progress &h) {
            hfk_progress info{};
            info.struct_size = sizeof info;
            info.phase = HFK_PHASE_DOWNLOADING;
            info.bytes_done = h.bytes_done;
            info.bytes_total = h.bytes_total;
            info.fraction = h.bytes_total > 0 ? static_cast<double>(h.bytes_done) /
                                                    static_cast<double>(h.bytes_total)
                                              : -1.0;
            info.files_done = h.files_done;
            info.files_total = h.file_count;
            info.file_name = h.file_name.empty() ? nullptr : h.file_name.c_str();
            return cb(&info, ud) != 0;
        };
    }
    return o;
}

}  // namespace hfk::capi

namespace {

std::string cache_dir_of(const hfk::hub::Options &o) {
    return o.cache_dir.empty() ? hfk::hub::default_cache_dir().string() : o.cache_dir;
}

// The cache folder of a model repository, as huggingface_hub names it.
std::filesystem::path repo_folder(const std::string &cache_dir, const std::string &repo_id) {
    std::string name = "models--";
    for (char c : repo_id) name += c == '/' ? std::string("--") : std::string(1, c);
    return std::filesystem::path(cache_dir) / name;
}

}  // namespace

extern "C" {

HFK_API hfk_status hfk_hub_params_init(hfk_hub_params *p, size_t caller_size) noexcept {
    return hfk::capi::init_options(p, caller_size, hfk::capi::kHubDefaults);
}

HFK_API hfk_status hfk_prepare(const char *repo_id, const hfk_hub_params *params,
                               char **snapshot_dir_out) noexcept {
    hfk::capi::set_warning("");
    HFK_REQUIRE_ARG(snapshot_dir_out);
    *snapshot_dir_out = nullptr;
    HFK_REQUIRE_ARG(repo_id);
    return with_hub_options(params,
                            [&](const hfk_hub_params &, const hfk::hub::Options &o) -> hfk_status {
                                const hfk::hub::Snapshot snap = hfk::prepare_shared(repo_id, o);
                                *snapshot_dir_out = hfk::capi::dup_string(snap.dir.string());
                                hfk::capi::set_warning(snap.warning);
                                return HFK_OK;
                            });
}

HFK_API hfk_status hfk_is_downloaded(const char *repo_id, const hfk_hub_params *params,
                                     int32_t *yes_out) noexcept {
    HFK_REQUIRE_ARG(yes_out);
    *yes_out = 0;
    HFK_REQUIRE_ARG(repo_id);
    return with_hub_options(
        params, [&](const hfk_hub_params &, const hfk::hub::Options &o) -> hfk_status {
            *yes_out = hfk::hub::is_downloaded(repo_id, o.revision, cache_dir_of(o)) ? 1 : 0;
            return HFK_OK;
        });
}

HFK_API hfk_status hfk_remove_from_disk(const char *repo_id, const hfk_hub_params *params,
                                        int32_t force) noexcept {
    HFK_REQUIRE_ARG(repo_id);
    return with_hub_options(
        params, [&](const hfk_hub_params &p, const hfk::hub::Options &o) -> hfk_status {
            if (!hfk::hub::valid_repo_id(repo_id))
                return set_error(HFK_E_INVALID_ARG,
                                 std::string("invalid repository id: ") + repo_id);
            const std::string cache = cache_dir_of(o);
            if (hfk::download_running(cache, repo_id))
                return set_error(HFK_E_IN_USE,
                                 std::string(repo_id) +
                                     " is being downloaded in this process; cancel the download "
                                     "(or wait for it), then remove it");
            if (!force && hfk::any_model_loaded_under(repo_folder(cache, repo_id)))
                return set_error(HFK_E_IN_USE,
                                 std::string(repo_id) +
                                     " is loaded in this process; free its models and "
                                     "sessions first, or force the removal");
            hfk::hub::remove_from_cache(cache, repo_id, p.revision ? p.revision : "");
            return HFK_OK;
        });
}

HFK_API hfk_status hfk_disk_usage(const char *repo_id, const hfk_hub_params *params,
                                  uint64_t *bytes_out) noexcept {
    HFK_REQUIRE_ARG(bytes_out);
    *bytes_out = 0;
    return with_hub_options(
        params, [&](const hfk_hub_params &, const hfk::hub::Options &o) -> hfk_status {
            *bytes_out = hfk::hub::disk_usage(cache_dir_of(o), repo_id ? repo_id : "");
            return HFK_OK;
        });
}

HFK_API hfk_status hfk_downloaded_models(const hfk_hub_params *params, char **json_out) noexcept {
    HFK_REQUIRE_ARG(json_out);
    *json_out = nullptr;
    return with_hub_options(
        params, [&](const hfk_hub_params &, const hfk::hub::Options &o) -> hfk_status {
            nlohmann::json out = nlohmann::json::array();
            for (const auto &repo : hfk::hub::scan_cache(cache_dir_of(o))) {
                nlohmann::json revs = nlohmann::json::array();
                bool any_complete = false;
                for (const auto &r : repo.revisions) {
                    revs.push_back({{"commit", r.commit},
                                    {"refs", r.refs},
                                    {"size_on_disk", r.size_on_disk},
                                    {"files", r.n_files},
                                    {"complete", r.complete}});
                    any_complete = any_complete || r.complete;
                }
                out.push_back({{"repo_id", repo.repo_id},
                               {"repo_type", repo.repo_type},
                               {"size_on_disk", repo.size_on_disk},
                               {"complete", any_complete},
                               {"revisions", revs}});
            }
            // Names come from the disk: replace invalid UTF-8 rather than throw.
            *json_out = hfk::capi::dup_string(
                out.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace));
            return HFK_OK;
        });
}

}  // extern "C"
