// Cache layout primitives. Writes are temp + rename so a reader never sees half a ref or link.
#include "hub/cache.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <strings.h>
#include <unistd.h>

#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <random>

#include "hub/hub.h"
#include "util/error.h"

namespace hfk::hub {

void fail_errno(int err, const std::string &what) {
    int code = (err == ENOSPC || err == EFBIG || err == EDQUOT) ? HFK_E_NO_SPACE : HFK_E_IO;
    fail(code, what + ": " + std::strerror(err));
}

void make_dirs(const fs::path &p) {
    std::error_code ec;
    fs::create_directories(p, ec);
    if (ec) fail_errno(ec.value(), "cannot create directory " + p.string());
}

static std::string temp_suffix() {
    static thread_local std::mt19937_64 rng{std::random_device{}()};
    char buf[32];
    snprintf(buf, sizeof buf, ".tmp%08llx", static_cast<unsigned long long>(rng() & 0xffffffffu));
    return buf;
}

std::string repo_folder_name(std::string_view repo_id) {
    std::string out = "models--";
    for (char c : repo_id) {
        if (c == '/')
            out += "--";
        else
            out += c;
    }
    return out;
}

RepoDir repo_dir(const std::string &cache_dir, std::string_view repo_id) {
    RepoDir d;
    d.folder = repo_folder_name(repo_id);
    d.root = fs::path(cache_dir) / d.folder;
    d.locks = fs::path(cache_dir) / ".locks" / d.folder;
    return d;
}

std::optional<std::string> read_ref(const RepoDir &d, std::string_view revision) {
    std::ifstream f(d.root / "refs" / std::string(revision));
    if (f) {
        std::string commit;
        std::getline(f, commit);
        while (!commit.empty() &&
               (commit.back() == '\n' || commit.back() == '\r' || commit.back() == ' '))
            commit.pop_back();
        if (valid_commit(commit)) return commit;
    }
    if (valid_commit(revision)) return std::string(revision);
    return std::nullopt;
}

void write_ref(const RepoDir &d, std::string_view revision, const std::string &commit) {
    if (revision == commit) return;
    fs::path ref = d.root / "refs" / std::string(revision);
    // Unchanged: no write at all, so a complete snapshot in a read-only cache (a shared NFS
    // cache, a container's mounted volume) is usable online too.
    {
        std::ifstream f(ref, std::ios::binary);
        std::string current;
        if (f && std::getline(f, current) && current == commit) return;
    }
    std::error_code ignored;
    make_dirs(ref.parent_path());
    fs::path tmp = ref;
    tmp += temp_suffix();
    {
        std::ofstream f(tmp, std::ios::binary | std::ios::trunc);
        f << commit;  // no newline, as huggingface_hub writes it
        f.flush();
        if (!f) {
            int err = errno;
            fs::remove(tmp, ignored);
            fail_errno(err ? err : EIO, "cannot write " + ref.string());
        }
    }
    std::error_code ec;
    fs::rename(tmp, ref, ec);
    if (ec) {
        fs::remove(tmp, ignored);
        fail_errno(ec.value(), "cannot write " + ref.string());
    }
}

namespace {
// HF_HUB_DISABLE_SYMLINKS=1 asks for the no-symlink layout even where symlinks work (tests, and
// caches shared with filesystems that lack them).
bool symlinks_disabled() {
    const char *v = std::getenv("HF_HUB_DISABLE_SYMLINKS");
    return v && *v && std::strcmp(v, "0") != 0 && strcasecmp(v, "false") != 0;
}

void publish_pointer(const fs::path &tmp, const fs::path &ptr) {
    if (rename(tmp.c_str(), ptr.c_str()) != 0) {
        int err = errno;
        unlink(tmp.c_str());
        fail_errno(err, "cannot create " + ptr.string());
    }
}
}  // namespace

void link_pointer(const RepoDir &d, const std::string &commit, const std::string &file,
                  const std::string &etag) {
    fs::path ptr = d.pointer(commit, file);
    make_dirs(ptr.parent_path());
    std::string target = "../../blobs/" + etag;  // one more "../" per sub-folder of the file
    for (char c : file)
        if (c == '/') target = "../" + target;
    std::error_code ec;
    if (fs::is_symlink(ptr, ec) && fs::read_symlink(ptr, ec).string() == target) return;
    fs::path tmp = ptr;
    tmp += temp_suffix();
    if (!symlinks_disabled()) {
        if (symlink(target.c_str(), tmp.c_str()) == 0) return publish_pointer(tmp, ptr);
        if (errno != EPERM && errno != EOPNOTSUPP && errno != ENOSYS)
            fail_errno(errno, "cannot create " + ptr.string());
    }
    // No symlinks on this filesystem (RELIABILITY D36): the snapshot holds the file itself, a
    // hard link to the blob where possible, else a copy (huggingface_hub copies or moves).
    // Called after a download: whatever the snapshot held (even the same size) is replaced, unless
    // it is already this very blob.
    const fs::path blob = d.root / "blobs" / etag;
    struct stat b, p;
    if (stat(blob.c_str(), &b) != 0) fail_errno(errno, "cannot read " + blob.string());
    if (lstat(ptr.c_str(), &p) == 0 && S_ISREG(p.st_mode) && p.st_ino == b.st_ino &&
        p.st_dev == b.st_dev)
        return;
    if (link(blob.c_str(), tmp.c_str()) != 0) {
        fs::copy_file(blob, tmp, fs::copy_options::overwrite_existing, ec);
        if (ec) {
            unlink(tmp.c_str());
            fail_errno(ec.value(), "cannot copy " + blob.string() + " to " + ptr.string());
        }
    }
    publish_pointer(tmp, ptr);
}

bool pointer_ok(const RepoDir &d, const std::string &commit, const std::string &file,
                int64_t size) {
    std::error_code ec;
    fs::path p = d.pointer(commit, file);
    if (!fs::is_regular_file(p, ec)) return false;  // follows the symlink
    if (size < 0) return true;
    auto n = fs::file_size(p, ec);
    return !ec && static_cast<int64_t>(n) == size;
}

void mark_no_exist(const RepoDir &d, const std::string &commit, const std::string &file) {
    fs::path p = d.root / ".no_exist" / commit / file;
    std::error_code ec;
    fs::create_directories(p.parent_path(), ec);
    if (!ec) std::ofstream(p, std::ios::app);
}

bool is_no_exist(const RepoDir &d, const std::string &commit, const std::string &file) {
    std::error_code ec;
    return fs::exists(d.root / ".no_exist" / commit / file, ec);
}

void write_cachedir_tag(const std::string &cache_dir) {
    fs::path p = fs::path(cache_dir) / "CACHEDIR.TAG";
    std::error_code ec;
    if (fs::exists(p, ec)) return;
    std::ofstream f(p);
    f << "Signature: 8a477f597d28d172789f06886806bc55\n"
         "# This file is a cache directory tag created by hfkit (huggingface_hub layout).\n"
         "# For information about cache directory tags, see: https://bford.info/cachedir/\n";
}

}  // namespace hfk::hub
