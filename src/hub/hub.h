// The Hugging Face Hub client and the HF cache (huggingface_hub's on-disk layout).
//
// prepare() brings the files a model needs into <cache>/models--org--name/{blobs,refs,snapshots}
// and returns the snapshot directory. Downloads are parallel, resumable (Range on a partial
// `blobs/<etag>.incomplete` held under `.locks/.../<etag>.lock`), verified (sha256 for LFS files,
// git blob sha1 otherwise) before an atomic rename into blobs/, and never leak the token to a
// redirect target on another origin. Errors are hfk::Error with the HFK_E_* codes listed below.
// Protocol: ../shared/HUB.md; rules: ../shared/RELIABILITY.md a.4-a.8 and (e).
#pragma once

#include <atomic>
#include <cstdint>
#include <filesystem>
#include <functional>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace hfk::hub {

struct Progress {                            // aggregate and per-file
    int32_t file_index = 0, file_count = 0;  // the file this event is about
    std::string file_name;
    int64_t file_bytes_done = 0, file_bytes_total = -1;
    int64_t bytes_done = 0, bytes_total = -1;  // all files of the snapshot
    int32_t files_done = 0;
};

struct Options {
    std::string endpoint;  // "" -> $HF_ENDPOINT or https://huggingface.co
    std::optional<std::string>
        token;              // nullopt -> $HF_TOKEN, $HF_TOKEN_PATH, $HF_HOME/token; "" -> none
    std::string cache_dir;  // "" -> $HF_HUB_CACHE, $HF_HOME/hub, ~/.cache/huggingface/hub
    std::string revision;   // "" -> "main"
    int offline = -1;       // -1 -> $HF_HUB_OFFLINE; 0/1 explicit
    std::vector<std::string> allow_patterns, ignore_patterns;  // fnmatch; empty allow -> defaults
    int32_t max_parallel = 4;
    std::function<bool(const Progress &)> progress;  // calling thread only; true = cancel
    const std::atomic<bool> *cancel = nullptr;       // polled; set from any thread
    // Re-hash the files already in the cache and download again any whose content does not
    // match its hash, replacing it atomically (RELIABILITY D11). Off: cached files are only
    // stat()ed, which is what makes a cached prepare instant.
    bool verify = false;
    // Download every selected file again and rename it over the cached blob (RELIABILITY D32):
    // a model mapped from the old blob keeps its inode, so it stays valid.
    bool force_download = false;
};

struct Snapshot {
    std::string repo_id, revision, commit;
    std::filesystem::path dir;
    // Non-empty when the Hub could not be asked whether the revision moved and this cached
    // snapshot is used instead (an implicit freshness check that fell back): says why.
    std::string warning;
};

// Resolves the revision, selects files (config.json, generation_config.json, tokenizer files,
// *.safetensors + index, special_tokens_map etc.), downloads what is missing and returns the
// snapshot dir. Offline or unreachable Hub -> a complete cached snapshot if any, else
// HFK_E_OFFLINE / HFK_E_NETWORK. Errors: HFK_E_NOT_FOUND, HFK_E_GATED, HFK_E_AUTH,
// HFK_E_REVISION_NOT_FOUND, HFK_E_ENTRY_NOT_FOUND, HFK_E_DISABLED, HFK_E_RATE_LIMITED,
// HFK_E_SERVER, HFK_E_NETWORK, HFK_E_CHECKSUM, HFK_E_NO_SPACE, HFK_E_IO, HFK_E_CANCELLED,
// HFK_E_INVALID_ARG, HFK_E_FORMAT (a malformed Hub answer), with the Hub's X-Error-Message.
Snapshot prepare(std::string_view repo_id, const Options &opts);

// One file through the cache (the inspector's config.json).
std::filesystem::path fetch_file(std::string_view repo_id, std::string_view filename,
                                 const Options &opts);
// `length` bytes at `offset` with an HTTP Range request; does not write the cache (it reads a
// cached copy when there is one). Shorter only when the file ends first.
std::string fetch_range(std::string_view repo_id, std::string_view filename, uint64_t offset,
                        uint64_t length, const Options &opts);
// The file names (siblings) at the revision.
std::vector<std::string> list_files(std::string_view repo_id, const Options &opts);

// ---- cache (no network) ----
std::filesystem::path default_cache_dir();
// Complete snapshots only: config.json and every weight file (all shards of an index). When
// there is none, `why_not` (if given) says what is missing, naming the file.
std::optional<Snapshot> find_cached(std::string_view repo_id, std::string_view revision,
                                    const std::string &cache_dir, std::string *why_not = nullptr);
bool is_downloaded(std::string_view repo_id, std::string_view revision,
                   const std::string &cache_dir);

// Re-hashes every file of a cached snapshot (sha256 / git sha1 against its blob name) and
// returns the files whose content does not match (empty = intact). Normal loads only stat
// blobs; this is the explicit check (RELIABILITY D11). HFK_E_NOT_FOUND if not cached.
std::vector<std::string> verify_cached(std::string_view repo_id, std::string_view revision,
                                       const std::string &cache_dir);

struct CachedRevision {
    std::string commit;
    std::vector<std::string> refs;
    uint64_t size_on_disk = 0;
    int32_t n_files = 0;
    bool complete = false;  // a model revision that loads offline (as is_downloaded)
};
struct CachedRepo {
    std::string repo_id, repo_type;
    uint64_t size_on_disk = 0;
    std::vector<CachedRevision> revisions;
};
std::vector<CachedRepo> scan_cache(const std::string &cache_dir);
// Bytes of blobs, each counted once. repo_id "" = the whole cache.
uint64_t disk_usage(const std::string &cache_dir, std::string_view repo_id);
// Removes a revision's snapshot and refs (revision "" = the whole repo), then blobs no snapshot
// points to. HFK_E_NOT_FOUND when there is nothing to remove.
void remove_from_cache(const std::string &cache_dir, std::string_view repo_id,
                       std::string_view revision);

// ---- weights ----
// *.bin, *.pt, *.pth, *.ckpt, *.pkl: formats that need an unpickler, which hfkit refuses to run.
bool is_pickle_weight_name(const std::string &name);
// "" when the top-level file names include safetensors weights (or their index); otherwise why
// not, naming the pickle files when there are some. `status_out` (if given) gets
// HFK_E_UNSUPPORTED (pickle only) or HFK_E_ENTRY_NOT_FOUND (no weights at all).
std::string missing_weights_reason(const std::vector<std::string> &names, int32_t *status_out);

// ---- validation (exposed for tests and fuzzing) ----
bool valid_repo_id(std::string_view);        // RELIABILITY a.4
bool valid_revision(std::string_view);       // a.6
bool valid_repo_filename(std::string_view);  // a.5
bool valid_commit(std::string_view);         // 40 lowercase hex
bool valid_etag(std::string_view);           // 40 or 64 lowercase hex (already unquoted)

}  // namespace hfk::hub
