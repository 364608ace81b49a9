// The download protocol (RELIABILITY.md e). Correctness never depends on the lock: each writer
// verifies the hash before renaming, so broken locking only wastes bandwidth.
#include "hub/download.h"

#include <fcntl.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <chrono>
#include <thread>
#include <vector>

#include "hub/blob_hash.h"
#include "hub/file_follower.h"
#include "util/error.h"

namespace hfk::hub {

namespace {

constexpr uint64_t kMaxFileSize = 1ull << 46;  // 64 TiB: any larger X-Linked-Size is bogus

std::string strip_etag(std::string e) {
    if (e.rfind("W/", 0) == 0) e = e.substr(2);
    if (e.size() >= 2 && e.front() == '"' && e.back() == '"') e = e.substr(1, e.size() - 2);
    return e;
}

bool parse_size(const std::string &s, uint64_t &out) {
    if (s.empty() || s.size() > 19 || s.find_first_not_of("0123456789") != std::string::npos)
        return false;
    out = std::stoull(s);
    return out <= kMaxFileSize;
}

// Content-Range: bytes S-E/T
bool parse_content_range(const std::string &s, uint64_t &start, uint64_t &total) {
    unsigned long long a = 0, b = 0, t = 0;
    int used = 0;
    if (sscanf(s.c_str(), "bytes %llu-%llu/%llu%n", &a, &b, &t, &used) != 3) return false;
    if (static_cast<size_t>(used) != s.size() || b < a || b >= t) return false;
    start = a, total = t;
    return true;
}

// An exclusive flock on .locks/<folder>/<etag>.lock, the path huggingface_hub's filelock uses.
// `waiting` runs every poll while another holder has it (to report progress).
class BlobLock {
  public:
    BlobLock(const Client &c, const RepoDir &d, const std::string &etag,
             const std::function<void()> &waiting) {
        make_dirs(d.locks);
        std::string path = (d.locks / (etag + ".lock")).string();
        fd_ = ::open(path.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0644);
        if (fd_ < 0) fail_errno(errno, "cannot open lock " + path);
        // flock locks belong to the open file description, so this excludes other threads of
        // this process (each opens its own) as well as other processes.
        while (flock(fd_, LOCK_EX | LOCK_NB) != 0) {
            if (errno != EWOULDBLOCK && errno != EINTR) {
                int err = errno;
                ::close(fd_);
                fail_errno(err, "cannot lock " + path);
            }
            if (c.is_cancelled()) {
                ::close(fd_);
                fail(HFK_E_CANCELLED, "cancelled while waiting for " + path);
            }
            waiting();
            std::this_thread::sleep_for(std::chrono::milliseconds(20));
        }
    }
    ~BlobLock() { ::close(fd_); }
    BlobLock(const BlobLock &) = delete;
    BlobLock &operator=(const BlobLock &) = delete;

  private:
    int fd_ = -1;
};

int create_new(const fs::path &p) {
    // A new inode, never a truncate (another writer may hold the old one). Without working
    // locks (RELIABILITY D28) another writer can create the path between our unlink and open:
    // take it over again; each writer publishes only the inode it verified.
    for (int tries = 0;; ++tries) {
        ::unlink(p.c_str());
        int fd = ::open(p.c_str(), O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC, 0644);
        if (fd >= 0) return fd;
        if (errno != EEXIST || tries == 16) fail_errno(errno, "cannot create " + p.string());
    }
}

// The partial file's hash and its disk flushes, each on a thread behind the receive loop.
class BehindTheWriter {
  public:
    BehindTheWriter(int fd, const FileMeta &m, uint64_t ready)
        : hasher_(m.etag, m.size),
          buf_(1 << 20),
          hash_(1 << 20, ready,
                [this, fd](uint64_t a, uint64_t b) {
                    return hash_file_range(fd, a, b, hasher_, buf_);
                }),
          flush_(32ull << 20, ready, [this, fd](uint64_t, uint64_t) {
              // fsync, not fdatasync: an error is reported once per file, so the one we see
              // here must be kept for the final check (and the I/O-fault tests inject it here).
              if (fsync(fd) == 0) return true;
              flush_errno_ = errno;
              return false;
          }) {}

    void published(uint64_t n) {
        hash_.published(n);
        flush_.published(n);
    }
    // errno of a failed background flush, else 0. Call once the writer is done.
    int flush_error() {
        flush_.finish(0);
        return flush_errno_;
    }
    // The hash of bytes [0, n), or "" when the file could not be read back.
    std::string hash(uint64_t n) { return hash_.finish(n) ? hasher_.hex() : std::string(); }

  private:
    BlobHasher hasher_;
    std::vector<char> buf_;
    int flush_errno_ = 0;
    FileFollower hash_;  // after what its work uses
    FileFollower flush_;
};

// Whether `path` is still the file open as `fd`. With broken locking (RELIABILITY D28) another
// writer may have replaced our temp path with its own file: we must neither delete nor publish
// theirs.
bool is_our_file(const fs::path &path, int fd) {
    struct stat a, b;
    return ::stat(path.c_str(), &a) == 0 && fstat(fd, &b) == 0 && a.st_dev == b.st_dev &&
           a.st_ino == b.st_ino;
}

void remove_if_ours(const fs::path &path, int fd) {
    if (is_our_file(path, fd)) ::unlink(path.c_str());
}

// Writes the whole file open as `fd` to a new file `to`, flushed. For the rare publish whose
// temp path another writer unlinked (RELIABILITY D28): our verified inode has no name left to
// link, so its bytes go to a private name instead.
void copy_to_new_file(int fd, const fs::path &to) {
    struct stat st;
    if (fstat(fd, &st) != 0) fail_errno(errno, "cannot stat the download for " + to.string());
    const int out = ::open(to.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0644);
    if (out < 0) fail_errno(errno, "cannot create " + to.string());
    std::vector<char> buf(1 << 20);
    off_t off = 0;
    int err = 0;
    while (err == 0 && off < st.st_size) {
        const ssize_t n = pread(fd, buf.data(), buf.size(), off);
        if (n <= 0) {
            err = n < 0 ? errno : EIO;
            break;
        }
        for (ssize_t w = 0; w < n && err == 0;) {
            const ssize_t k = pwrite(out, buf.data() + w, static_cast<size_t>(n - w), off + w);
            if (k < 0 && errno != EINTR) err = errno;
            if (k > 0) w += k;
        }
        off += n;
    }
    if (err == 0 && fsync(out) != 0) err = errno;
    ::close(out);
    if (err != 0) {
        ::unlink(to.c_str());
        fail_errno(err, "cannot copy the download to " + to.string());
    }
}

// Makes `blob` the verified file open as `fd`, atomically (rename over anything there). It
// publishes the inode we hashed, not whatever our temp path names now: a hard link through
// /proc/self/fd gives it a private name first. Without /proc, the temp path is renamed if it
// is still ours; if another writer has unlinked it, its bytes are copied to a private name.
void publish(int fd, const fs::path &part, const fs::path &blob) {
    static std::atomic<uint64_t> serial{0};
    fs::path link = blob;
    link += "." + std::to_string(::getpid()) + "." + std::to_string(serial++) + ".publish";
    const std::string self = "/proc/self/fd/" + std::to_string(fd);
    fs::path from = link;
    if (::linkat(AT_FDCWD, self.c_str(), AT_FDCWD, link.c_str(), AT_SYMLINK_FOLLOW) != 0) {
        if (is_our_file(part, fd))
            from = part;
        else
            copy_to_new_file(fd, link);
    }
    if (::rename(from.c_str(), blob.c_str()) != 0) {
        const int err = errno;
        if (from == link) ::unlink(link.c_str());
        remove_if_ours(part, fd);
        fail_errno(err, "cannot rename into " + blob.string());
    }
    remove_if_ours(part, fd);
}

// Writes a download in whole 2 MiB pieces aligned in the file (the last one shorter). ext4
// then builds the blob's page cache in 2 MiB folios, which a model load maps with 2 MiB
// entries instead of 512 pages each: on the VMs we measured, touching each 4 KiB page of a
// fresh mapping costs ~2.5 us, over 100 ms for a 256 MB model, against a few ms. It also
// makes one write per 2 MiB instead of one per network read. A slow transfer still reaches the
// file every kMaxAge (what a killed process leaves is resumed from there), at the cost of
// smaller folios for those pieces.
class StagedWriter {
  public:
    static constexpr uint64_t kPiece = 2ull << 20;
    static constexpr std::chrono::milliseconds kMaxAge{250};
    explicit StagedWriter(uint64_t start) : file_end_(start) { buf_.reserve(kPiece); }
    uint64_t written() const { return file_end_; }                 // bytes in the file
    uint64_t received() const { return file_end_ + buf_.size(); }  // and still staged
    void reset(uint64_t start) {
        buf_.clear();
        file_end_ = start;
    }
    // Stages n bytes, writing each piece as it fills; false (errno set) if a write failed.
    bool add(int fd, const char *p, size_t n) {
        const auto now = std::chrono::steady_clock::now();
        while (n > 0) {
            const uint64_t boundary = (file_end_ / kPiece + 1) * kPiece;
            const size_t take = static_cast<size_t>(std::min<uint64_t>(n, boundary - received()));
            if (buf_.empty()) staged_at_ = now;
            buf_.insert(buf_.end(), p, p + take);
            p += take;
            n -= take;
            if (received() == boundary && !flush(fd)) return false;
        }
        return buf_.empty() || now - staged_at_ < kMaxAge || flush(fd);
    }
    // Writes what is staged; false (errno set) if the write failed.
    bool flush(int fd) {
        size_t off = 0;
        while (off < buf_.size()) {
            ssize_t w = pwrite(fd, buf_.data() + off, buf_.size() - off,
                               static_cast<off_t>(file_end_ + off));
            if (w < 0) {
                if (errno == EINTR) continue;
                return false;
            }
            off += static_cast<size_t>(w);
        }
        file_end_ += buf_.size();
        buf_.clear();
        return true;
    }

  private:
    std::vector<char> buf_;
    uint64_t file_end_;
    std::chrono::steady_clock::time_point staged_at_;  // when buf_ got its first byte
};

}  // namespace

bool blob_matches(const fs::path &p, const std::string &etag) {
    int fd = ::open(p.c_str(), O_RDONLY | O_CLOEXEC);
    if (fd < 0) return false;
    struct stat st;
    bool ok = fstat(fd, &st) == 0;
    if (ok) {
        BlobHasher h(etag, static_cast<uint64_t>(st.st_size));
        std::vector<char> buf(1 << 20);
        ok = hash_file_range(fd, 0, static_cast<uint64_t>(st.st_size), h, buf) && h.hex() == etag;
    }
    ::close(fd);
    return ok;
}

FileMeta head_file(const Client &c, const RepoDir &d, std::string_view repo_id,
                   std::string_view revision, const std::string &filename) {
    std::string what = std::string(repo_id) + "/" + filename + "@" + std::string(revision);
    HttpRequest req;
    req.method = "HEAD";
    req.url = c.resolve_url(repo_id, revision, filename);
    req.total_timeout_ms = c.etag_timeout_ms;
    HttpResponse r = c.request(req, Client::Follow::same_origin, true);
    bool redirect = r.status >= 300 && r.status < 400;
    if (!(r.status == 200 || redirect)) {
        std::string commit = r.header("x-repo-commit");
        if (r.header("x-error-code") == "EntryNotFound" && valid_commit(commit))
            mark_no_exist(d, commit, filename);
        raise_for_response(r, what);
    }
    FileMeta m;
    m.commit = r.header("x-repo-commit");
    if (!valid_commit(m.commit))
        fail(HFK_E_FORMAT, "the Hub's answer for " + what + " has no valid X-Repo-Commit ('" +
                               sanitize(m.commit, 80) + "'): is the endpoint a Hub?");
    std::string linked = r.header("x-linked-etag");
    m.etag = strip_etag(linked.empty() ? r.header("etag") : linked);
    if (!valid_etag(m.etag))
        fail(HFK_E_FORMAT, "the Hub's answer for " + what + " has an invalid ETag '" +
                               sanitize(m.etag, 80) + "'");
    std::string size = r.header("x-linked-size");
    if (size.empty() && !redirect) size = r.header("content-length");  // never a 3xx's length
    if (!parse_size(size, m.size))
        fail(HFK_E_FORMAT,
             "the Hub's answer for " + what + " has no valid size ('" + sanitize(size, 40) + "')");
    if (redirect) {
        if (r.redirect_url.empty()) fail(HFK_E_FORMAT, "redirect without Location for " + what);
        m.url = r.redirect_url;
    } else {
        m.url = req.url;
    }
    return m;
}

void download_blob(const Client &c, const RepoDir &d, const FileMeta &m, const std::string &what,
                   const std::function<void(uint64_t)> &on_bytes, bool replace) {
    fs::path blob = d.blob(m.etag);
    std::error_code ec;
    auto have_blob = [&] {
        return !replace && fs::is_regular_file(blob, ec) && fs::file_size(blob, ec) == m.size;
    };
    if (have_blob()) {
        on_bytes(m.size);
        return;
    }
    make_dirs(blob.parent_path());
    fs::path part = blob;
    part += ".incomplete";
    // While another process or thread downloads this blob, its partial file is our progress
    // (RELIABILITY D27: the waiter shows progress and can be cancelled).
    BlobLock lock(c, d, m.etag, [&] {
        struct stat st;
        if (::stat(part.c_str(), &st) == 0)
            on_bytes(std::min<uint64_t>(static_cast<uint64_t>(st.st_size), m.size));
    });
    if (have_blob()) {  // another process finished it while we waited
        on_bytes(m.size);
        return;
    }
    uint64_t have = 0;
    int fd = -1;
    // Resume a partial file only under the lock, and only if it is not longer than expected.
    // Its prefix is hashed behind the writer while the rest downloads.
    struct stat st;
    if (::stat(part.c_str(), &st) == 0 && static_cast<uint64_t>(st.st_size) <= m.size) {
        fd = ::open(part.c_str(), O_RDWR | O_CLOEXEC | O_NOFOLLOW);
        if (fd >= 0) have = static_cast<uint64_t>(st.st_size);
    }
    if (fd < 0) fd = create_new(part);
    struct FdCloser {
        int &fd;
        ~FdCloser() {
            if (fd >= 0) ::close(fd);
        }
    } closer{fd};
    // Declared after the closer, so destroyed (joined) before the fd it reads is closed.
    auto behind = std::make_unique<BehindTheWriter>(fd, m, have);
    StagedWriter out(have);
    on_bytes(have);
    // Fail fast when the disk cannot hold the rest (RELIABILITY D24); ENOSPC is still handled.
    struct statvfs vfs;
    if (fstatvfs(fd, &vfs) == 0) {
        uint64_t avail = static_cast<uint64_t>(vfs.f_bavail) * vfs.f_frsize;
        if (avail < m.size - have)
            fail(HFK_E_NO_SPACE, "not enough disk space for " + what + ": " +
                                     std::to_string(m.size - have) + " bytes needed, " +
                                     std::to_string(avail) + " available in " +
                                     blob.parent_path().string());
    }

    auto restart = [&] {
        behind.reset();  // its threads are joined before their fd goes
        ::close(fd);
        fd = -1;
        fd = create_new(part);
        behind = std::make_unique<BehindTheWriter>(fd, m, 0);
        have = 0;
        out.reset(0);
        on_bytes(0);
    };

    int write_errno = 0;
    bool too_long = false, bad_range = false;
    int attempt = 0, bad_range_count = 0;
    // A resumed partial that is whole but does not verify (a stale or damaged prefix) is
    // downloaded again from the start, once (RELIABILITY D7).
    bool may_start_over = have > 0;
    for (;;) {
        while (have < m.size) {
            HttpRequest req;
            req.url = m.url;
            req.stall_timeout_s = c.stall_timeout_s;
            if (have > 0) req.range = "bytes=" + std::to_string(have) + "-";
            bad_range = false;
            req.on_start = [&](long status, const std::map<std::string, std::string> &h) {
                if (have > 0 && status == 200) {
                    restart();  // the server ignored Range: start over in a new file (HR5)
                    return true;
                }
                if (status == 206) {
                    uint64_t start = 0, total = 0;
                    auto it = h.find("content-range");
                    if (it == h.end() || !parse_content_range(it->second, start, total) ||
                        start != have || total != m.size) {
                        bad_range = true;
                        return false;
                    }
                }
                return true;
            };
            req.on_body = [&](const char *p, size_t n) {
                if (n > m.size - out.received()) {  // more than announced: stop at once (HR6)
                    too_long = true;
                    return false;
                }
                const uint64_t written = out.written();
                if (!out.add(fd, p, n)) {
                    write_errno = errno;
                    return false;
                }
                if (out.written() != written) behind->published(out.written());
                on_bytes(out.received());
                return true;
            };
            uint64_t before = have;
            HttpResponse r = c.request(req, Client::Follow::any, false);
            // Whatever arrived is written, so that a retry (or a later run) resumes after it.
            if (!write_errno && !too_long && !out.flush(fd)) write_errno = errno;
            have = out.written();
            behind->published(have);
            if (r.cancelled) fail(HFK_E_CANCELLED, "cancelled");
            if (write_errno) fail_errno(write_errno, "cannot write " + part.string());
            if (too_long) {
                remove_if_ours(part, fd);
                fail(HFK_E_CHECKSUM, "the server sent more than the " + std::to_string(m.size) +
                                         " bytes announced for " + what);
            }
            if (bad_range) {
                if (++bad_range_count > 1)
                    fail(HFK_E_NETWORK, "the server answered the Range request for " + what +
                                            " with a wrong Content-Range");
                restart();
                continue;
            }
            if (r.status == 416 && have > 0) {  // the partial may already be whole: verify below
                if (have == m.size) break;
                restart();
                continue;
            }
            bool ok_status = r.status == 200 || r.status == 206;
            if (ok_status && r.curl_code == 0 && have == m.size) break;
            // Real progress resets the try counter (HR9); a trickle does not, or a server sending a
            // byte per attempt would keep us retrying forever (RELIABILITY D37).
            const uint64_t meaningful = std::min<uint64_t>(1 << 20, (m.size - before) / 8 + 1);
            if (have - before >= meaningful) attempt = 0;
            bool transient = retryable(r) || (ok_status && have < m.size);
            if (!transient) raise_for_response(r, what);
            if (++attempt >= c.max_tries) {
                if (r.status >= 300) raise_for_response(r, what);
                fail(HFK_E_NETWORK,
                     "download of " + what + " failed after " + std::to_string(c.max_tries) +
                         " tries at byte " + std::to_string(have) + " of " +
                         std::to_string(m.size) +
                         (r.curl_error.empty() ? "" : ": " + sanitize(r.curl_error)));
            }
            c.backoff(attempt, r);
        }
        // Most of the data was flushed behind the writer; this fsync waits for the tail while the
        // hash catches up. A verified file that cannot be made durable or published is removed, not
        // left for a later resume: the disk just failed under it (RELIABILITY D26).
        int flush_err = behind->flush_error();
        if (flush_err == 0 && fsync(fd) != 0) flush_err = errno;
        if (flush_err != 0) {
            remove_if_ours(part, fd);
            fail_errno(flush_err, "cannot write " + part.string());
        }
        const std::string got = behind->hash(m.size);
        if (got.empty()) {
            remove_if_ours(part, fd);
            fail(HFK_E_IO, "cannot read back " + part.string() + " to verify it");
        }
        if (got == m.etag) break;
        if (may_start_over) {
            may_start_over = false;
            restart();
            continue;
        }
        remove_if_ours(part, fd);
        fail(HFK_E_CHECKSUM, "checksum mismatch for " + what + ": the " + std::to_string(m.size) +
                                 " bytes received do not hash to " + m.etag);
    }
    // The blob never appears half-written or unverified. If another writer already published
    // it (locking broken), keep theirs.
    if (have_blob()) {
        remove_if_ours(part, fd);
    } else {
        publish(fd, part, blob);
    }
    int dfd = ::open(blob.parent_path().c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (dfd >= 0) {
        fsync(dfd);
        ::close(dfd);
    }
}

}  // namespace hfk::hub
