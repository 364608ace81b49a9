// The fixture and helpers of the Hub fault tests (test_hub_faults_*.cpp, one file per group of
// RELIABILITY.md (b) "Download, cache, concurrency, faults"): a local Hub with slow, dropping and
// stalling answers, and what the tests inspect in the cache afterwards.
#pragma once

#include <fcntl.h>
#include <sched.h>
#include <signal.h>
#include <sys/mount.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

#include <sys/file.h>

#include <fstream>
#include <map>
#include <sstream>
#include <thread>

#include "hub_server_fixture.h"
#include "util/error.h"

namespace hfk_test::faults {

namespace fs = std::filesystem;
using hfk::hub::Options;

using hfk_test::read_all;

using hfk_test::status_of;

inline const std::string kModelSha =
    "255f510375d6fdceeae590cc9b07ddbbe124610ac805bd15e80b9026f12dcbfd";

inline std::string model_bytes() {
    return read_all(fs::path(hfk_test::shared_dir()) / "models" / "aidreams260K" /
                    "model.safetensors");
}

// Forks a child that runs f() and exits with its status (0 = ok, 100 + -status otherwise).
template <class F>
pid_t spawn(F &&f) {
    pid_t pid = fork();
    if (pid == 0) {
        int code = 0;
        try {
            f();
        } catch (const hfk::Error &e) {
            code = 100 - e.status();
        } catch (...) {
            code = 99;
        }
        _exit(code);
    }
    return pid;
}

inline int wait_code(pid_t pid) {
    int st = 0;
    waitpid(pid, &st, 0);
    return WIFEXITED(st) ? WEXITSTATUS(st) : -WTERMSIG(st);
}

// RELIABILITY (b) I1-I3: every blob hashes to its name is checked by content comparison
// in the tests; here: pointers lead to files and no temp link is left.
inline void check_pointers(const fs::path &repo) {
    std::error_code ec;
    for (auto it = fs::recursive_directory_iterator(repo / "snapshots", ec);
         !ec && it != fs::end(it); ++it)
        if (it->is_symlink()) {
            EXPECT_TRUE(fs::is_regular_file(it->path())) << it->path();
        }
}

inline Options only_weights(Options o) {
    o.allow_patterns = {"model.safetensors"};
    return o;
}

// Files in blobs/ that are not a published blob (40 or 64 hex characters): partial downloads
// and temp files, whatever the engine names them.
inline std::vector<std::string> partial_files(const fs::path &repo) {
    std::vector<std::string> out;
    std::error_code ec;
    for (const auto &e : fs::directory_iterator(repo / "blobs", ec)) {
        const std::string n = e.path().filename().string();
        if (!hfk::hub::valid_etag(n)) out.push_back(n);
    }
    return out;
}

// Regular files and symlinks anywhere under `dir` (empty when it does not exist).
inline std::vector<std::string> files_under(const fs::path &dir) {
    std::vector<std::string> out;
    std::error_code ec;
    for (auto it = fs::recursive_directory_iterator(dir, ec); !ec && it != fs::end(it);
         it.increment(ec))
        if (!it->is_directory()) out.push_back(it->path().string());
    return out;
}

// A signed CDN URL is a bearer capability: its query must never appear in a message (D38).
inline void expect_no_signed_query(const std::string &msg) {
    EXPECT_EQ(msg.find("X-Amz-Signature"), std::string::npos) << msg;
    EXPECT_EQ(msg.find("secret"), std::string::npos) << msg;
}

// The requests of the log on one host, in the order they completed.
inline std::vector<nlohmann::json> requests_on(const nlohmann::json &log, const std::string &host) {
    std::vector<nlohmann::json> out;
    for (const auto &e : log)
        if (e["host"] == host) out.push_back(e);
    return out;
}

// Lifts the fixture's short waits (backoff base 20 ms, cap 200 ms) for one scope.
struct LongerWaits {
    LongerWaits(const char *base_ms, const char *max_ms) {
        setenv("HFK_HUB_RETRY_BASE_MS", base_ms, 1);
        setenv("HFK_HUB_MAX_WAIT_MS", max_ms, 1);
    }
    ~LongerWaits() {
        setenv("HFK_HUB_RETRY_BASE_MS", "20", 1);
        setenv("HFK_HUB_MAX_WAIT_MS", "200", 1);
    }
    LongerWaits(const LongerWaits &) = delete;
    LongerWaits &operator=(const LongerWaits &) = delete;
};

class Faults : public hfk_test::HubServerTest {
  protected:
    std::vector<std::string> server_args() override {
        return {"--slow-bps", "1000000", "--drop-count", "3", "--stall-interval", "2"};
    }
    fs::path repo(const std::string &name) const {
        return repo_root("models--hfkit-test--" + name);
    }
    // The weights' partial file in a repository's cache, created holding `content`.
    fs::path plant_partial(const std::string &name, const std::string &content) const {
        const fs::path part = repo(name) / "blobs" / (kModelSha + ".incomplete");
        fs::create_directories(part.parent_path());
        std::ofstream(part, std::ios::binary) << content;
        return part;
    }
    // Takes the weights' blob lock of aidreams260K as another process would; -1 if it could not.
    int hold_weights_lock(const Options &o) const {
        const fs::path locks =
            fs::path(o.cache_dir) / ".locks" / "models--hfkit-test--aidreams260K";
        fs::create_directories(locks);
        const int fd =
            open((locks / (kModelSha + ".lock")).c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0644);
        if (fd >= 0 && flock(fd, LOCK_EX | LOCK_NB) != 0) {
            close(fd);
            return -1;
        }
        return fd;
    }
    // prepare() of a repository's config.json alone, with the waits lifted to base/max ms.
    struct ConfigRun {
        int status = 0;
        std::string message;
        fs::path dir;
        double seconds = 0;
    };
    ConfigRun prepare_config(const std::string &repo_id, const char *base_ms, const char *max_ms) {
        Options o = options();
        o.allow_patterns = {"config.json"};
        ConfigRun run;
        const auto t0 = std::chrono::steady_clock::now();
        run.status = status_of(
            [&] {
                LongerWaits waits(base_ms, max_ms);
                run.dir = hfk::hub::prepare(repo_id, o).dir;
            },
            &run.message);
        run.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
        return run;
    }
};

}  // namespace hfk_test::faults
