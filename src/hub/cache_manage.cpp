// Listing, measuring and removing cached repos (no network). Blobs are shared between
// revisions, so sizes count each blob once, and removal collects only orphaned blobs.
#include <fcntl.h>
#include <sys/file.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <set>

#include "hub/cache.h"
#include "hub/client.h"
#include "hub/download.h"
#include "hub/hub.h"
#include "util/error.h"

namespace hfk::hub {

namespace {

std::string resolve_cache(const std::string &cache_dir) {
    return cache_dir.empty() ? default_cache_dir().string() : cache_dir;
}

// "models--org--name" -> ("model", "org/name"); false for anything else.
bool parse_folder(const std::string &folder, std::string &type, std::string &id) {
    static const std::pair<const char *, const char *> kinds[] = {
        {"models--", "model"}, {"datasets--", "dataset"}, {"spaces--", "space"}};
    for (auto [prefix, kind] : kinds) {
        std::string p = prefix;
        if (folder.rfind(p, 0) != 0) continue;
        std::string rest = folder.substr(p.size());
        size_t sep = rest.find("--");
        id = sep == std::string::npos ? rest : rest.substr(0, sep) + "/" + rest.substr(sep + 2);
        type = kind;
        return !rest.empty();
    }
    return false;
}

// The files (canonical paths) a snapshot dir holds in the cache: the blobs its pointers lead
// to, and the files it holds itself (the no-symlink layout). A symlink leading anywhere else
// (outside the cache, or to another repository) is not the cache's to count or free.
void snapshot_blobs(const fs::path &snap, std::set<fs::path> &blobs, int32_t *n_files) {
    std::error_code ec;
    const fs::path blobs_dir = fs::weakly_canonical(snap.parent_path().parent_path() / "blobs", ec);
    for (auto it = fs::recursive_directory_iterator(snap, ec); !ec && it != fs::end(it);
         it.increment(ec)) {
        std::error_code ec2;
        if (!it->is_regular_file(ec2)) continue;  // follows the pointer symlink
        fs::path target = fs::weakly_canonical(it->path(), ec2);
        if (ec2) continue;
        if (it->is_symlink(ec2) && target.parent_path() != blobs_dir) continue;
        blobs.insert(target);
        if (n_files) ++*n_files;
    }
}

// A download holds an flock on .locks/<folder>/<etag>.lock while it writes a blob (this process
// or another; flock locks of separate opens conflict even within one process).
bool download_lock_held(const RepoDir &d) {
    std::error_code ec;
    for (const auto &e : fs::directory_iterator(d.locks, ec)) {
        const int fd = open(e.path().c_str(), O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
        if (fd < 0) continue;
        const bool held = flock(fd, LOCK_EX | LOCK_NB) != 0 && errno == EWOULDBLOCK;
        close(fd);  // releases ours, if we got it
        if (held) return true;
    }
    return false;
}

uint64_t sum_sizes(const std::set<fs::path> &blobs) {
    uint64_t total = 0;
    std::error_code ec;
    for (const auto &b : blobs) {
        auto n = fs::file_size(b, ec);
        if (!ec) total += n;
    }
    return total;
}

}  // namespace

std::vector<CachedRepo> scan_cache(const std::string &cache_dir_in) {
    std::string cache_dir = resolve_cache(cache_dir_in);
    std::vector<CachedRepo> out;
    std::error_code ec;
    for (const auto &e : fs::directory_iterator(cache_dir, ec)) {
        if (!e.is_directory(ec)) continue;
        CachedRepo repo;
        if (!parse_folder(e.path().filename().string(), repo.repo_type, repo.repo_id)) continue;
        std::set<fs::path> all_blobs;
        std::error_code ec2;
        for (const auto &s : fs::directory_iterator(e.path() / "snapshots", ec2)) {
            CachedRevision rev;
            rev.commit = s.path().filename().string();
            std::set<fs::path> blobs;
            snapshot_blobs(s.path(), blobs, &rev.n_files);
            rev.size_on_disk = sum_sizes(blobs);
            if (repo.repo_type == "model" && valid_repo_id(repo.repo_id) &&
                valid_commit(rev.commit)) {
                try {
                    rev.complete = find_cached(repo.repo_id, rev.commit, cache_dir).has_value();
                } catch (const Error &) {
                    rev.complete = false;  // an unreadable index: not loadable
                }
            }
            all_blobs.insert(blobs.begin(), blobs.end());
            repo.revisions.push_back(std::move(rev));
        }
        // refs/<name> -> commit (names may contain '/', e.g. refs/pr/1)
        fs::path refs = e.path() / "refs";
        for (auto it = fs::recursive_directory_iterator(refs, ec2); !ec2 && it != fs::end(it);
             it.increment(ec2)) {
            if (!it->is_regular_file(ec2)) continue;
            std::string name = it->path().lexically_relative(refs).string();
            RepoDir d{e.path().filename().string(), e.path(), {}};
            auto commit = read_ref(d, name);
            for (auto &rev : repo.revisions)
                if (commit && rev.commit == *commit) rev.refs.push_back(name);
        }
        // Blobs on disk count, referenced or not (that is what the folder occupies).
        for (const auto &b : fs::directory_iterator(e.path() / "blobs", ec2))
            if (b.is_regular_file(ec2)) all_blobs.insert(fs::weakly_canonical(b.path(), ec2));
        repo.size_on_disk = sum_sizes(all_blobs);
        out.push_back(std::move(repo));
    }
    std::sort(out.begin(), out.end(),
              [](const CachedRepo &a, const CachedRepo &b) { return a.repo_id < b.repo_id; });
    return out;
}

uint64_t disk_usage(const std::string &cache_dir, std::string_view repo_id) {
    if (!repo_id.empty() && !valid_repo_id(repo_id))
        fail(HFK_E_INVALID_ARG, "invalid repo id '" + sanitize(std::string(repo_id), 120) + "'");
    uint64_t total = 0;
    for (const auto &r : scan_cache(cache_dir))
        if (repo_id.empty() || (r.repo_type == "model" && r.repo_id == repo_id))
            total += r.size_on_disk;
    return total;
}

std::vector<std::string> verify_cached(std::string_view repo_id, std::string_view revision,
                                       const std::string &cache_dir_in) {
    if (!valid_repo_id(repo_id) || !valid_revision(revision.empty() ? "main" : revision))
        fail(HFK_E_INVALID_ARG, "invalid repo id or revision");
    std::string cache_dir = resolve_cache(cache_dir_in);
    RepoDir d = repo_dir(cache_dir, repo_id);
    auto commit = read_ref(d, revision.empty() ? "main" : revision);
    fs::path snap = commit ? d.root / "snapshots" / *commit : fs::path();
    std::error_code ec;
    if (!commit || !fs::is_directory(snap, ec))
        fail(HFK_E_NOT_FOUND, std::string(repo_id) + " is not in the cache " + cache_dir);
    std::vector<std::string> bad;
    for (auto it = fs::recursive_directory_iterator(snap, ec); !ec && it != fs::end(it);
         it.increment(ec)) {
        if (it->is_directory(ec)) continue;
        std::string rel = it->path().lexically_relative(snap).string();
        std::string etag = it->is_symlink(ec) ? fs::read_symlink(it->path(), ec).filename().string()
                                              : std::string();
        if (!valid_etag(etag) || !blob_matches(it->path(), etag)) bad.push_back(rel);
    }
    std::sort(bad.begin(), bad.end());
    return bad;
}

void remove_from_cache(const std::string &cache_dir_in, std::string_view repo_id,
                       std::string_view revision) {
    if (!valid_repo_id(repo_id))
        fail(HFK_E_INVALID_ARG, "invalid repo id '" + sanitize(std::string(repo_id), 120) + "'");
    if (!revision.empty() && !valid_revision(revision))
        fail(HFK_E_INVALID_ARG, "invalid revision '" + sanitize(std::string(revision), 120) + "'");
    std::string cache_dir = resolve_cache(cache_dir_in);
    RepoDir d = repo_dir(cache_dir, repo_id);
    std::error_code ec;
    if (!fs::is_directory(d.root, ec))
        fail(HFK_E_NOT_FOUND, std::string(repo_id) + " is not in the cache " + cache_dir);
    // Removing files under a running download would only make it fail later with a confusing
    // error: refuse, and let the caller cancel the download first.
    if (download_lock_held(d))
        fail(HFK_E_IN_USE,
             std::string(repo_id) + " is being downloaded; cancel the download, then remove it");
    if (revision.empty()) {
        fs::remove_all(d.root, ec);
        if (ec) fail_errno(ec.value(), "cannot remove " + d.root.string());
        fs::remove_all(d.locks, ec);
        return;
    }
    auto commit = read_ref(d, revision);
    if (!commit || !fs::is_directory(d.root / "snapshots" / *commit, ec))
        fail(HFK_E_NOT_FOUND, std::string(repo_id) + "@" + std::string(revision) +
                                  " is not in the cache " + cache_dir);
    fs::remove_all(d.root / "snapshots" / *commit, ec);
    if (ec) fail_errno(ec.value(), "cannot remove snapshot " + *commit);
    fs::remove_all(d.root / ".no_exist" / *commit, ec);
    // Drop every ref that pointed at the removed commit.
    fs::path refs = d.root / "refs";
    std::vector<fs::path> stale;
    for (auto it = fs::recursive_directory_iterator(refs, ec); !ec && it != fs::end(it);
         it.increment(ec)) {
        if (!it->is_regular_file(ec)) continue;
        auto c = read_ref(d, it->path().lexically_relative(refs).string());
        if (c && *c == *commit) stale.push_back(it->path());
    }
    for (auto &p : stale) fs::remove(p, ec);
    // Collect orphan blobs: those no remaining snapshot points to.
    std::set<fs::path> live;
    for (const auto &s : fs::directory_iterator(d.root / "snapshots", ec))
        snapshot_blobs(s.path(), live, nullptr);
    for (const auto &b : fs::directory_iterator(d.root / "blobs", ec)) {
        std::string name = b.path().filename().string();
        if (name.find('.') != std::string::npos) continue;  // .incomplete: not ours to judge
        if (!live.count(fs::weakly_canonical(b.path(), ec))) fs::remove(b.path(), ec);
    }
}

}  // namespace hfk::hub
