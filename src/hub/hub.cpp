// prepare / fetch_file / fetch_range / list_files: the Hub operations, built on the client
// (client.h), the cache layout (cache.h) and the per-file protocol (download.h).
#include "hub/hub.h"

#include <fnmatch.h>
#include <fcntl.h>
#include <unistd.h>

#include <algorithm>
#include <condition_variable>
#include <deque>
#include <fstream>
#include <map>
#include <mutex>
#include <set>
#include <thread>

#include <nlohmann/json.hpp>

#include "hub/cache.h"
#include "hub/client.h"
#include "hub/download.h"
#include "util/error.h"

namespace hfk::hub {

namespace {

using json = nlohmann::json;

json parse_bounded(const std::string &text) {
    auto depth_guard = [](int depth, json::parse_event_t, json &) { return depth <= 64; };
    json j = json::parse(text, depth_guard, false);
    return j;
}

void check_args(std::string_view repo_id, std::string_view revision) {
    if (!valid_repo_id(repo_id))
        fail(HFK_E_INVALID_ARG, "invalid repo id '" + sanitize(std::string(repo_id), 120) +
                                    "' (expected 'name' or 'org/name' of [A-Za-z0-9._-])");
    if (!valid_revision(revision))
        fail(HFK_E_INVALID_ARG, "invalid revision '" + sanitize(std::string(revision), 120) + "'");
}

std::string revision_of(const Options &o) {
    return o.revision.empty() ? "main" : o.revision;
}

// The files a model needs when no allow pattern is given.
const std::set<std::string> kDefaultFiles = {
    "config.json", "generation_config.json", "tokenizer.json", "tokenizer_config.json",
    "special_tokens_map.json", "added_tokens.json", "vocab.json", "merges.txt", "vocab.txt",
    "tokenizer.model", "spiece.model", "sentencepiece.bpe.model", "chat_template.jinja",
    "chat_template.json", "model.safetensors.index.json",
    // sentence-transformers: the module list, the
    // maximum length (pooling: see below)
    "modules.json", "sentence_bert_config.json"};

// sentence-transformers' pooling settings, in a module folder ("1_Pooling/config.json").
bool is_pooling_config(const std::string &name) {
    const std::string tail = "_Pooling/config.json";
    return name.size() > tail.size() && name.find('/') == name.size() - 12 &&
           name.compare(name.size() - tail.size(), tail.size(), tail) == 0;
}

bool matches_any(const std::vector<std::string> &patterns, const std::string &name) {
    for (const auto &p : patterns)
        if (fnmatch(p.c_str(), name.c_str(), 0) == 0) return true;
    return false;
}

struct Sibling {
    std::string name;
    int64_t size = -1;
};

struct RepoInfo {
    std::string commit;
    std::vector<Sibling> siblings;
};

// GET /api/models/{repo}/revision/{rev}: the commit and the file list.
RepoInfo repo_info(const Client &c, std::string_view repo_id, std::string_view revision) {
    HttpRequest req;
    req.url = c.api_url(repo_id, revision);
    req.total_timeout_ms = std::max(c.etag_timeout_ms, 30000L);
    std::string what = std::string(repo_id) + "@" + std::string(revision);
    HttpResponse r = c.request(req, Client::Follow::same_origin, true);
    if (r.status != 200 || r.curl_code != 0) raise_for_response(r, what);
    json j = parse_bounded(r.body);
    if (!j.is_object() || !j.contains("sha") || !j["sha"].is_string())
        fail(HFK_E_FORMAT, "the Hub's model info for " + what + " has no commit sha");
    RepoInfo info;
    info.commit = j["sha"].get<std::string>();
    if (!valid_commit(info.commit))
        fail(HFK_E_FORMAT, "the Hub's model info for " + what + " has an invalid sha '" +
                               sanitize(info.commit, 80) + "'");
    // Without a file list nothing can be selected: a missing or malformed one is the Hub's fault,
    // never an empty (and "successful") download.
    if (!j.contains("siblings") || !j["siblings"].is_array())
        fail(HFK_E_FORMAT, "the Hub's model info for " + what + " has no file list (siblings)");
    {
        for (const auto &s : j["siblings"]) {
            if (!s.is_object() || !s.contains("rfilename") || !s["rfilename"].is_string())
                fail(HFK_E_FORMAT, "the Hub's model info for " + what +
                                       " has a malformed file list entry (no rfilename)");
            Sibling sib;
            sib.name = s["rfilename"].get<std::string>();
            if (!valid_repo_filename(sib.name))
                fail(HFK_E_FORMAT, "the Hub lists an unsafe file name in " + what + ": '" +
                                       sanitize(sib.name, 120) + "'");
            if (s.contains("size") && s["size"].is_number_unsigned())
                sib.size =
                    static_cast<int64_t>(std::min<uint64_t>(s["size"].get<uint64_t>(), 1ull << 46));
            info.siblings.push_back(std::move(sib));
        }
    }
    return info;
}

// The weight shards named by a safetensors index (validated names).
std::vector<std::string> index_shards(const fs::path &index) {
    std::ifstream f(index, std::ios::binary);
    std::string text((std::istreambuf_iterator<char>(f)), std::istreambuf_iterator<char>());
    json j = parse_bounded(text);
    std::set<std::string> out;
    if (j.is_object() && j.contains("weight_map") && j["weight_map"].is_object()) {
        for (const auto &[k, v] : j["weight_map"].items()) {
            if (!v.is_string()) continue;
            std::string name = v.get<std::string>();
            if (!valid_repo_filename(name))
                fail(HFK_E_FORMAT,
                     index.string() + ": unsafe shard name '" + sanitize(name, 120) + "'");
            out.insert(name);
        }
    }
    return {out.begin(), out.end()};
}

// Cancellation inside prepare: the caller's flag, or the progress callback's answer, or a
// failed sibling worker.
struct Stop {
    const std::atomic<bool> *user = nullptr;
    std::atomic<bool> internal{false};
    bool operator()() const { return internal.load() || (user && user->load()); }
};

}  // namespace

// ---------------------------------------------------------------------------------------------
// Offline completeness: config.json plus every weight file (all shards named by an index, else
// at least one *.safetensors at the top level).
std::optional<Snapshot> find_cached(std::string_view repo_id, std::string_view revision_in,
                                    const std::string &cache_dir_in, std::string *why_not) {
    std::string revision = revision_in.empty() ? "main" : std::string(revision_in);
    check_args(repo_id, revision);
    std::string cache_dir = cache_dir_in.empty() ? default_cache_dir().string() : cache_dir_in;
    RepoDir d = repo_dir(cache_dir, repo_id);
    auto missing = [&](const std::string &what) -> std::optional<Snapshot> {
        if (why_not) *why_not = what;
        return std::nullopt;
    };
    auto commit = read_ref(d, revision);
    if (!commit) return missing("no refs/" + revision + " (never downloaded)");
    fs::path snap = d.root / "snapshots" / *commit;
    std::error_code ec;
    if (!fs::is_directory(snap, ec)) return missing("no snapshot of commit " + *commit);
    if (!pointer_ok(d, *commit, "config.json")) return missing("config.json is missing");
    if (pointer_ok(d, *commit, "model.safetensors.index.json")) {
        try {
            auto shards = index_shards(snap / "model.safetensors.index.json");
            if (shards.empty()) return missing("model.safetensors.index.json names no shard");
            for (const auto &s : shards)
                if (!pointer_ok(d, *commit, s)) return missing(s + " is missing");
        } catch (const Error &e) {
            return missing(e.what());
        }
    } else {
        bool any = false;
        for (const auto &e : fs::directory_iterator(snap, ec)) {
            std::string n = e.path().filename().string();
            if (n.size() > 12 && n.substr(n.size() - 12) == ".safetensors" &&
                pointer_ok(d, *commit, n))
                any = true;
        }
        if (!any) return missing("no *.safetensors weights");
    }
    return Snapshot{std::string(repo_id), revision, *commit, snap, {}};
}

bool is_downloaded(std::string_view repo_id, std::string_view revision,
                   const std::string &cache_dir) {
    return find_cached(repo_id, revision, cache_dir).has_value();
}

// ---------------------------------------------------------------------------------------------
namespace {

// Brings one file of `commit` into the cache. `on_bytes` gets the file's bytes present.
// `expected_size` is the Hub's size for the file (-1 unknown): a cached file of another size
// (a blob truncated or grown in place) is repaired like a corrupt one, at the cost of a stat.
void ensure_file(const Client &c, const RepoDir &d, std::string_view repo_id,
                 const std::string &commit, const std::string &file, int64_t expected_size,
                 const std::function<void(uint64_t, int64_t)> &on_bytes) {
    bool corrupt = false;
    if (pointer_ok(d, commit, file)) {
        std::error_code ec;
        const fs::path pointer = d.pointer(commit, file);
        const std::string etag = fs::read_symlink(pointer, ec).filename().string();
        ec.clear();
        const bool wrong_size = expected_size >= 0 && !pointer_ok(d, commit, file, expected_size);
        corrupt = c.force_download || wrong_size ||
                  (c.verify && (ec || !valid_etag(etag) || !blob_matches(pointer, etag)));
        if (!corrupt) {
            auto n = fs::file_size(pointer, ec);
            on_bytes(n, static_cast<int64_t>(n));
            return;
        }
    }
    FileMeta m = head_file(c, d, repo_id, commit, file);
    if (m.commit != commit)
        fail(HFK_E_FORMAT, "the Hub answered " + std::string(repo_id) + "/" + file + "@" + commit +
                               " with commit " + m.commit);
    std::string what = std::string(repo_id) + "/" + file;
    // A corrupt blob is replaced only if it is the one the Hub names now (otherwise the pointer
    // is simply relinked to the new blob).
    std::error_code ec;
    const bool replace = corrupt && fs::equivalent(d.pointer(commit, file), d.blob(m.etag), ec);
    download_blob(
        c, d, m, what, [&](uint64_t done) { on_bytes(done, static_cast<int64_t>(m.size)); },
        replace);
    link_pointer(d, commit, file, m.etag);
}

std::optional<Snapshot> cached_fallback(const Client &c, std::string_view repo_id,
                                        const std::string &revision,
                                        std::string *why_not = nullptr) {
    try {
        return find_cached(repo_id, revision, c.cache_dir, why_not);
    } catch (const Error &e) {
        if (why_not) *why_not = e.what();
        return std::nullopt;
    }
}

}  // namespace

Snapshot prepare(std::string_view repo_id, const Options &opts) {
    std::string revision = revision_of(opts);
    check_args(repo_id, revision);
    Stop stop;
    stop.user = opts.cancel;
    Client c = Client::from_options(opts);
    c.cancelled = [&stop] { return stop(); };
    if (c.offline) {
        std::string why;
        if (auto s = cached_fallback(c, repo_id, revision, &why)) return *s;
        fail(HFK_E_OFFLINE, "offline mode and " + std::string(repo_id) + "@" + revision +
                                " is not completely in the cache " + c.cache_dir + ": " + why);
    }
    RepoInfo info;
    try {
        info = repo_info(c, repo_id, revision);
    } catch (const Error &e) {
        // HR11: an implicit freshness check falls back to a complete cached snapshot, unless the
        // revision is known not to exist, and says so (Snapshot::warning). An explicit request
        // (force_download, verify) needs the Hub's answer: it fails with the Hub's status (a bad
        // token is HFK_E_AUTH) rather than hand back the cached copy it was asked to replace.
        int s = e.status();
        const bool explicit_request = opts.force_download || opts.verify;
        if (!explicit_request && s != HFK_E_REVISION_NOT_FOUND && s != HFK_E_CANCELLED &&
            s != HFK_E_INVALID_ARG)
            if (auto snap = cached_fallback(c, repo_id, revision)) {
                snap->warning = "using the cached snapshot " + snap->commit + " of " +
                                std::string(repo_id) + "@" + revision +
                                " without checking for updates: " + e.what();
                return *snap;
            }
        throw;
    }
    RepoDir d = repo_dir(c.cache_dir, repo_id);

    // Select the files.
    std::vector<Sibling> files;
    std::set<std::string> names;
    std::map<std::string, int64_t> sizes;
    for (const auto &s : info.siblings) names.insert(s.name), sizes[s.name] = s.size;
    const std::string what = std::string(repo_id) + "@" + revision;
    if (opts.allow_patterns.empty()) {
        // Refuse what hfkit cannot load before downloading anything (a config-only or
        // pickle-only repository would otherwise "succeed" with no usable weights).
        if (!names.count("config.json"))
            fail(HFK_E_ENTRY_NOT_FOUND,
                 what + " has no config.json: it is not a model hfkit can load");
        int32_t st = HFK_E_ENTRY_NOT_FOUND;
        const std::string why =
            missing_weights_reason(std::vector<std::string>(names.begin(), names.end()), &st);
        if (!why.empty()) fail(st, what + ": " + why);
    }
    make_dirs(d.root);  // only now: a refused repository leaves no folder in the cache
    write_cachedir_tag(c.cache_dir);
    auto ignored = [&](const std::string &n) { return matches_any(opts.ignore_patterns, n); };
    if (!opts.allow_patterns.empty()) {
        for (const auto &s : info.siblings)
            if (matches_any(opts.allow_patterns, s.name) && !ignored(s.name)) files.push_back(s);
    } else {
        std::set<std::string> weights;
        if (names.count("model.safetensors.index.json") &&
            !ignored("model.safetensors.index.json")) {
            ensure_file(c, d, repo_id, info.commit, "model.safetensors.index.json",
                        sizes["model.safetensors.index.json"], [](uint64_t, int64_t) {});
            for (auto &s : index_shards(d.pointer(info.commit, "model.safetensors.index.json"))) {
                if (!names.count(s))
                    fail(HFK_E_FORMAT, std::string(repo_id) + ": the index names shard '" + s +
                                           "' that the repository does not have");
                weights.insert(s);
            }
        } else if (names.count("model.safetensors")) {
            weights.insert("model.safetensors");
        } else {
            for (const auto &n : names)
                if (n.find('/') == std::string::npos && n.size() > 12 &&
                    n.substr(n.size() - 12) == ".safetensors")
                    weights.insert(n);
        }
        for (const auto &s : info.siblings)
            if ((kDefaultFiles.count(s.name) || weights.count(s.name) ||
                 is_pooling_config(s.name)) &&
                !ignored(s.name))
                files.push_back(s);
    }
    if (files.empty())
        fail(HFK_E_ENTRY_NOT_FOUND, "no file of " + what + " matches the allow patterns");
    // Small files first, so the weights finish last (a partial prepare rarely looks complete).
    std::stable_sort(files.begin(), files.end(),
                     [](const Sibling &a, const Sibling &b) { return a.size < b.size; });

    // Parallel downloads; progress is delivered on this thread.
    const int n = static_cast<int>(files.size());
    std::mutex mu;
    std::condition_variable cv;
    std::vector<int64_t> done(n, 0), total(n, -1);
    std::vector<char> dirty(n, 0), finished(n, 0);
    for (int i = 0; i < n; ++i) total[i] = files[i].size;
    int next = 0, running = 0;
    std::exception_ptr first_error;
    auto worker = [&] {
        for (;;) {
            int i;
            {
                std::lock_guard<std::mutex> g(mu);
                if (next >= n || first_error || stop()) break;
                i = next++;
            }
            try {
                // No wake-up per received chunk (thousands for a large file): the waiting thread
                // looks at the counters every 50 ms, which is as often as progress is reported.
                ensure_file(c, d, repo_id, info.commit, files[i].name, files[i].size,
                            [&](uint64_t b, int64_t t) {
                                std::lock_guard<std::mutex> g(mu);
                                done[i] = std::max<int64_t>(done[i], static_cast<int64_t>(b));
                                total[i] = t;
                                dirty[i] = 1;
                            });
                std::lock_guard<std::mutex> g(mu);
                finished[i] = 1;
                dirty[i] = 1;
            } catch (...) {
                std::lock_guard<std::mutex> g(mu);
                if (!first_error) first_error = std::current_exception();
                stop.internal = true;  // stop the others promptly
            }
            cv.notify_one();
        }
        std::lock_guard<std::mutex> g(mu);
        --running;
        cv.notify_one();
    };
    int n_workers = std::clamp<int>(opts.max_parallel, 1, 16);
    n_workers = std::min(n_workers, std::max(n, 1));
    std::vector<std::thread> threads;
    running = n_workers;
    for (int k = 0; k < n_workers; ++k) threads.emplace_back(worker);
    bool user_cancelled = false;
    {
        std::unique_lock<std::mutex> lk(mu);
        while (running > 0) {
            cv.wait_for(lk, std::chrono::milliseconds(50));
            if (opts.cancel && opts.cancel->load()) user_cancelled = true;
            if (!opts.progress) continue;
            std::vector<Progress> events;
            int64_t all_done = 0, all_total = 0;
            int files_done = 0;
            for (int i = 0; i < n; ++i) {
                all_done += done[i];
                if (total[i] < 0 || all_total < 0)
                    all_total = -1;
                else
                    all_total += total[i];
                files_done += finished[i];
            }
            for (int i = 0; i < n; ++i) {
                if (!dirty[i]) continue;
                dirty[i] = 0;
                Progress p;
                p.file_index = i;
                p.file_count = n;
                p.file_name = files[i].name;
                p.file_bytes_done = done[i];
                p.file_bytes_total = total[i];
                p.bytes_done = all_done;
                p.bytes_total = all_total;
                p.files_done = files_done;
                events.push_back(std::move(p));
            }
            lk.unlock();  // never call back with the lock held
            for (const auto &p : events) {
                bool cancel = false;
                try {
                    cancel = opts.progress(p);
                } catch (...) {
                    cancel = true;
                }
                if (cancel) {
                    user_cancelled = true;
                    stop.internal = true;
                    break;
                }
            }
            lk.lock();
        }
    }
    for (auto &t : threads) t.join();
    if (user_cancelled) fail(HFK_E_CANCELLED, "download of " + std::string(repo_id) + " cancelled");
    if (first_error) std::rethrow_exception(first_error);
    write_ref(d, revision, info.commit);
    return Snapshot{
        std::string(repo_id), revision, info.commit, d.root / "snapshots" / info.commit, {}};
}

fs::path fetch_file(std::string_view repo_id, std::string_view filename_in, const Options &opts) {
    std::string revision = revision_of(opts);
    check_args(repo_id, revision);
    std::string filename(filename_in);
    if (!valid_repo_filename(filename))
        fail(HFK_E_INVALID_ARG, "invalid file name '" + sanitize(filename, 120) + "'");
    Client c = Client::from_options(opts);
    RepoDir d = repo_dir(c.cache_dir, repo_id);
    std::string what = std::string(repo_id) + "/" + filename + "@" + revision;
    auto from_cache = [&]() -> std::optional<fs::path> {
        auto commit = read_ref(d, revision);
        if (commit && pointer_ok(d, *commit, filename)) return d.pointer(*commit, filename);
        if (commit && is_no_exist(d, *commit, filename))
            fail(HFK_E_ENTRY_NOT_FOUND, "file not found: " + what + " (cached answer)");
        return std::nullopt;
    };
    if (c.offline) {
        if (auto p = from_cache()) return *p;
        fail(HFK_E_OFFLINE, "offline mode and " + what + " is not in the cache " + c.cache_dir);
    }
    // What a commit holds never changes: a file (or a recorded absence) cached for it needs no
    // request, as in huggingface_hub (RELIABILITY D17).
    if (valid_commit(revision))
        if (auto p = from_cache()) return *p;
    FileMeta m;
    try {
        m = head_file(c, d, repo_id, revision, filename);
    } catch (const Error &e) {
        int s = e.status();
        if (s != HFK_E_REVISION_NOT_FOUND && s != HFK_E_ENTRY_NOT_FOUND && s != HFK_E_CANCELLED &&
            s != HFK_E_INVALID_ARG)
            if (auto p = from_cache()) return *p;
        throw;
    }
    make_dirs(d.root);
    write_cachedir_tag(c.cache_dir);
    if (!pointer_ok(d, m.commit, filename, static_cast<int64_t>(m.size))) {
        download_blob(c, d, m, what, [](uint64_t) {});
        link_pointer(d, m.commit, filename, m.etag);
    }
    write_ref(d, revision, m.commit);
    return d.pointer(m.commit, filename);
}

std::string fetch_range(std::string_view repo_id, std::string_view filename_in, uint64_t offset,
                        uint64_t length, const Options &opts) {
    std::string revision = revision_of(opts);
    check_args(repo_id, revision);
    std::string filename(filename_in);
    if (!valid_repo_filename(filename))
        fail(HFK_E_INVALID_ARG, "invalid file name '" + sanitize(filename, 120) + "'");
    constexpr uint64_t kMax = 256ull << 20;
    if (length > kMax || offset > (1ull << 46))
        fail(HFK_E_INVALID_ARG, "fetch_range: " + std::to_string(length) + " bytes at " +
                                    std::to_string(offset) + " is too large (limit 256 MiB)");
    std::string out;
    if (length == 0) return out;
    Client c = Client::from_options(opts);
    RepoDir d = repo_dir(c.cache_dir, repo_id);
    std::string what = std::string(repo_id) + "/" + filename + "@" + revision;
    // A cached copy answers without network.
    auto commit = read_ref(d, revision);
    if (commit && pointer_ok(d, *commit, filename)) {
        std::ifstream f(d.pointer(*commit, filename), std::ios::binary);
        f.seekg(static_cast<std::streamoff>(offset));
        out.resize(length);
        f.read(out.data(), static_cast<std::streamsize>(length));
        out.resize(f ? length : static_cast<size_t>(std::max<std::streamsize>(f.gcount(), 0)));
        return out;
    }
    if (c.offline) fail(HFK_E_OFFLINE, "offline mode and " + what + " is not in the cache");
    HttpRequest req;
    req.url = c.resolve_url(repo_id, revision, filename);
    req.range = "bytes=" + std::to_string(offset) + "-" + std::to_string(offset + length - 1);
    uint64_t skip = 0;  // when a server ignores Range (200), skip up to `offset`
    req.on_start = [&](long status, const std::map<std::string, std::string> &) {
        skip = status == 200 ? offset : 0;
        out.clear();
        return true;
    };
    req.on_body = [&](const char *p, size_t n) {
        if (skip >= n) {
            skip -= n;
            return true;
        }
        p += skip, n -= skip;
        skip = 0;
        size_t take = static_cast<size_t>(std::min<uint64_t>(n, length - out.size()));
        out.append(p, take);
        return out.size() < length;  // stop once we have enough
    };
    for (int attempt = 1;; ++attempt) {
        HttpResponse r = c.request(req, Client::Follow::any, true);
        if ((r.status == 200 || r.status == 206) && (r.curl_code == 0 || out.size() == length))
            return out;
        if (r.status == 416) return std::string();  // offset at or past the end
        if (r.status == 200 || r.status == 206) {
            if (attempt < c.max_tries) {
                c.backoff(attempt, r);
                continue;
            }
            fail(HFK_E_NETWORK, "reading " + what + ": " + sanitize(r.curl_error));
        }
        raise_for_response(r, what);
    }
}

std::vector<std::string> list_files(std::string_view repo_id, const Options &opts) {
    std::string revision = revision_of(opts);
    check_args(repo_id, revision);
    Client c = Client::from_options(opts);
    if (c.offline) fail(HFK_E_OFFLINE, "offline mode: cannot list " + std::string(repo_id));
    RepoInfo info = repo_info(c, repo_id, revision);
    std::vector<std::string> out;
    for (auto &s : info.siblings) out.push_back(s.name);
    return out;
}

}  // namespace hfk::hub
