// Issue 15's Hub and cache defects, one test each (the item number is in the test's comment):
// explicit requests never fall back, gated/token messages, pickle-only and listing-less repos,
// truncated blobs, unchanged refs, HOME unset, complete revisions, download locks, du/rm and
// symlinks leading out of the cache.
#include <fcntl.h>
#include <pwd.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cstdlib>
#include <fstream>
#include <sstream>

#include "hub/cache.h"
#include "hub_server_fixture.h"
#include "inspect/inspect.h"
#include "util/error.h"

namespace fs = std::filesystem;
using hfk::hub::Options;
using hfk_test::HubServerTest;

namespace {

using hfk_test::read_all;
using hfk_test::status_of;

bool contains(const std::string &s, const std::string &part) {
    return s.find(part) != std::string::npos;
}

const std::string kBadToken = "hf_thisIsNotAValidTokenXXXXXXXXXXXXXXXXXXX";

}  // namespace

class HubHardening : public HubServerTest {
  protected:
    fs::path repo(const std::string &name) const {
        return repo_root("models--hfkit-test--" + name);
    }
};

// Item 2: with a refused token, --force and --verify fail with HFK_E_AUTH instead of returning
// the cached copy; the implicit freshness check still falls back, and says so.
TEST_F(HubHardening, ExplicitRequestsWithABadTokenFailInsteadOfUsingTheCache) {
    const Options o = options();
    const auto first = hfk::hub::prepare("hfkit-test/aidreams260K", o);
    EXPECT_TRUE(first.warning.empty()) << first.warning;
    for (int which = 0; which < 2; ++which) {
        SCOPED_TRACE(which == 0 ? "force_download" : "verify");
        Options bad = o;
        bad.token = kBadToken;
        (which == 0 ? bad.force_download : bad.verify) = true;
        std::string msg;
        EXPECT_EQ(status_of([&] { hfk::hub::prepare("hfkit-test/aidreams260K", bad); }, &msg),
                  HFK_E_AUTH)
            << msg;
        EXPECT_FALSE(contains(msg, kBadToken)) << "the token was echoed";
    }
    Options implicit = o;
    implicit.token = kBadToken;
    hfk::hub::Snapshot snap;
    ASSERT_EQ(status_of([&] { snap = hfk::hub::prepare("hfkit-test/aidreams260K", implicit); }), 0);
    EXPECT_EQ(snap.dir, first.dir);
    EXPECT_TRUE(contains(snap.warning, "without checking for updates")) << snap.warning;
    EXPECT_TRUE(contains(snap.warning, "token was refused")) << snap.warning;
    EXPECT_FALSE(contains(snap.warning, kBadToken));
}

// Item 2: no token on a gated repo asks for one; a token without access says that token has no
// access (not "pass a token"); an invalid token is HFK_E_AUTH.
TEST_F(HubHardening, GatedAndTokenErrorsSayWhatIsWrong) {
    Options o = options();
    std::string msg;
    EXPECT_EQ(status_of([&] { hfk::hub::prepare("hfkit-test/gated", o); }, &msg), HFK_E_GATED);
    EXPECT_TRUE(contains(msg, "pass a token")) << msg;
    o.token = server->token_no_access;
    EXPECT_EQ(status_of([&] { hfk::hub::prepare("hfkit-test/gated", o); }, &msg), HFK_E_GATED);
    EXPECT_FALSE(contains(msg, "pass a token")) << msg;
    EXPECT_TRUE(contains(msg, "token given has no access")) << msg;
    o.token = kBadToken;
    EXPECT_EQ(status_of([&] { hfk::hub::prepare("hfkit-test/gated", o); }, &msg), HFK_E_AUTH);
    EXPECT_TRUE(contains(msg, "token was refused")) << msg;
}

// Item 8: a pickle-only repository is refused before any download, with the pickle reason;
// one with no weights at all is "entry not found". Neither leaves a snapshot.
TEST_F(HubHardening, PickleOnlyAndWeightlessReposAreRefusedBeforeAnyDownload) {
    const Options o = options();
    std::string msg;
    EXPECT_EQ(status_of([&] { hfk::hub::prepare("hfkit-test/pickle-only", o); }, &msg),
              HFK_E_UNSUPPORTED);
    EXPECT_TRUE(contains(msg, "pytorch_model.bin")) << msg;
    EXPECT_TRUE(contains(msg, "pickle")) << msg;
    EXPECT_EQ(status_of([&] { hfk::hub::prepare("hfkit-test/noweights", o); }, &msg),
              HFK_E_ENTRY_NOT_FOUND);
    EXPECT_TRUE(contains(msg, "no weights")) << msg;
    EXPECT_EQ(server->count("hub", "GET", "/hfkit-test/pickle-only/resolve"), 0);
    EXPECT_EQ(server->count("hub", "HEAD"), 0) << "a file was asked for";
    EXPECT_FALSE(fs::exists(repo("pickle-only")));
    EXPECT_FALSE(fs::exists(repo("noweights")));
}

// Item 8: inspect reports such repositories and directories as not supported, with the reason.
TEST_F(HubHardening, InspectSaysPickleOnlyIsNotSupported) {
    hfk::InspectOptions io;
    io.hub = options();
    const hfk::Inspection hub = hfk::inspect_model("hfkit-test/pickle-only", io);
    EXPECT_FALSE(hub.supported_for_inference);
    EXPECT_TRUE(contains(hub.unsupported_reason, "pickle")) << hub.unsupported_reason;
    const hfk::Inspection none = hfk::inspect_model("hfkit-test/noweights", io);
    EXPECT_FALSE(none.supported_for_inference);
    EXPECT_TRUE(contains(none.unsupported_reason, "no weights")) << none.unsupported_reason;

    const fs::path dir = cache.path / "pickle-dir";
    fs::create_directories(dir);
    const fs::path src = fs::path(hfk_test::shared_dir()) / "models" / "aidreams260K";
    fs::copy_file(src / "config.json", dir / "config.json");
    std::ofstream(dir / "pytorch_model.bin") << "not a pickle";
    const hfk::Inspection local = hfk::inspect_model(dir.string(), io);
    EXPECT_FALSE(local.supported_for_inference);
    EXPECT_TRUE(contains(local.unsupported_reason, "pytorch_model.bin"))
        << local.unsupported_reason;
    // The same config with its safetensors weights is supported (the check is about weights).
    const hfk::Inspection good = hfk::inspect_model(src.string(), io);
    EXPECT_TRUE(good.supported_for_inference) << good.unsupported_reason;
}

// Item 9: a blob truncated in place is noticed by the next prepare (its size differs from the
// Hub's listing) and downloaded again.
TEST_F(HubHardening, TruncatedBlobIsRepairedByTheNextPrepare) {
    const Options o = options();
    const auto snap = hfk::hub::prepare("hfkit-test/aidreams260K", o);
    const fs::path weights = snap.dir / "model.safetensors";
    const std::string original = read_all(fs::path(hfk_test::shared_dir()) / "models" /
                                          "aidreams260K" / "model.safetensors");
    ASSERT_EQ(read_all(weights), original);
    const fs::path blob = fs::canonical(weights);
    ASSERT_EQ(truncate(blob.c_str(), static_cast<off_t>(original.size() / 2)), 0);
    ASSERT_EQ(fs::file_size(weights), original.size() / 2);
    server->clear_log();
    hfk::hub::prepare("hfkit-test/aidreams260K", o);
    EXPECT_EQ(fs::file_size(weights), original.size());
    EXPECT_EQ(read_all(weights), original);
    EXPECT_GT(server->count("cdn", "GET"), 0);
}

// Item 10: a model info without a file list, or with malformed entries, is HFK_E_FORMAT; allow
// patterns that match nothing are an error, not an empty "success".
TEST_F(HubHardening, MissingOrMalformedFileListIsAFormatError) {
    Options o = options();
    std::string msg;
    EXPECT_EQ(status_of([&] { hfk::hub::prepare("hfkit-test/nosiblings", o); }, &msg),
              HFK_E_FORMAT);
    EXPECT_TRUE(contains(msg, "siblings")) << msg;
    EXPECT_EQ(status_of([&] { hfk::hub::prepare("hfkit-test/badsiblings", o); }, &msg),
              HFK_E_FORMAT);
    EXPECT_EQ(status_of([&] { hfk::hub::list_files("hfkit-test/nosiblings", o); }), HFK_E_FORMAT);
    o.allow_patterns = {"*.gguf"};
    EXPECT_EQ(status_of([&] { hfk::hub::prepare("hfkit-test/aidreams260K", o); }, &msg),
              HFK_E_ENTRY_NOT_FOUND);
    EXPECT_TRUE(contains(msg, "allow patterns")) << msg;
}

// Item 11: a prepare of a complete, unchanged snapshot writes nothing (refs/main keeps its
// inode), which is what lets a read-only cache work online (the CLI test mounts one).
TEST_F(HubHardening, UnchangedPrepareDoesNotRewriteTheRef) {
    const Options o = options();
    hfk::hub::prepare("hfkit-test/aidreams260K", o);
    const fs::path ref = repo("aidreams260K") / "refs" / "main";
    struct stat before {};
    ASSERT_EQ(stat(ref.c_str(), &before), 0);
    hfk::hub::prepare("hfkit-test/aidreams260K", o);
    struct stat after {};
    ASSERT_EQ(stat(ref.c_str(), &after), 0);
    EXPECT_EQ(before.st_ino, after.st_ino) << "refs/main was rewritten";
}

// Item 21: a revision missing a weight file is listed as incomplete.
TEST_F(HubHardening, ScanCacheTellsCompleteFromIncompleteRevisions) {
    const Options o = options();
    const auto snap = hfk::hub::prepare("hfkit-test/aidreams260K", o);
    auto listed = hfk::hub::scan_cache(o.cache_dir);
    ASSERT_EQ(listed.size(), 1u);
    ASSERT_EQ(listed[0].revisions.size(), 1u);
    EXPECT_TRUE(listed[0].revisions[0].complete);
    fs::remove(snap.dir / "model.safetensors");
    listed = hfk::hub::scan_cache(o.cache_dir);
    ASSERT_EQ(listed.size(), 1u);
    EXPECT_FALSE(listed[0].revisions[0].complete);
}

// Item 21: the look before a download (the memory check) reads config.json without writing
// the cache.
TEST_F(HubHardening, InspectWithoutCacheWritesLeavesNoTrace) {
    hfk::InspectOptions io;
    io.hub = options();
    io.write_cache = false;
    const hfk::Inspection r = hfk::inspect_model("hfkit-test/aidreams260K", io);
    EXPECT_GT(r.parameters, 0u);
    EXPECT_FALSE(fs::exists(repo("aidreams260K"))) << "the cache was written";
}

// Item 22: a download lock held (by another process, or thread) makes removal HFK_E_IN_USE.
TEST_F(HubHardening, RemovalIsRefusedWhileADownloadHoldsItsLock) {
    const Options o = options();
    hfk::hub::prepare("hfkit-test/aidreams260K", o);
    const fs::path locks = fs::path(o.cache_dir) / ".locks" / "models--hfkit-test--aidreams260K";
    fs::create_directories(locks);
    const fs::path lock = locks / (std::string(64, 'a') + ".lock");
    const int fd = open(lock.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0644);
    ASSERT_GE(fd, 0);
    ASSERT_EQ(flock(fd, LOCK_EX | LOCK_NB), 0);
    std::string msg;
    EXPECT_EQ(
        status_of([&] { hfk::hub::remove_from_cache(o.cache_dir, "hfkit-test/aidreams260K", ""); },
                  &msg),
        HFK_E_IN_USE);
    EXPECT_TRUE(contains(msg, "being downloaded")) << msg;
    EXPECT_TRUE(fs::exists(repo("aidreams260K") / "snapshots"));
    close(fd);  // the download is over
    EXPECT_EQ(
        status_of([&] { hfk::hub::remove_from_cache(o.cache_dir, "hfkit-test/aidreams260K", ""); }),
        0);
    EXPECT_FALSE(fs::exists(repo("aidreams260K")));
}

// Item 23: removing what is not in the cache stays HFK_E_NOT_FOUND (documented).
TEST_F(HubHardening, RemovingAnAbsentModelIsNotFound) {
    const Options o = options();
    EXPECT_EQ(status_of([&] { hfk::hub::remove_from_cache(o.cache_dir, "hfkit-test/never", ""); }),
              HFK_E_NOT_FOUND);
}

// Item 28: a snapshot symlink leading outside the cache is neither counted nor freed.
TEST_F(HubHardening, SymlinksOutOfTheCacheAreNotCountedOrRemoved) {
    const Options o = options();
    const auto snap = hfk::hub::prepare("hfkit-test/aidreams260K", o);
    const uint64_t before = hfk::hub::disk_usage(o.cache_dir, "hfkit-test/aidreams260K");
    const fs::path outside = cache.path / "outside.txt";
    std::ofstream(outside) << "nineteen bytes here";
    ASSERT_EQ(fs::file_size(outside), 19u);
    fs::create_symlink(outside, snap.dir / "extra.txt");
    EXPECT_EQ(hfk::hub::disk_usage(o.cache_dir, "hfkit-test/aidreams260K"), before);
    const auto listed = hfk::hub::scan_cache(o.cache_dir);
    ASSERT_EQ(listed.size(), 1u);
    EXPECT_EQ(listed[0].revisions[0].size_on_disk, before);
    hfk::hub::remove_from_cache(o.cache_dir, "hfkit-test/aidreams260K", "");
    EXPECT_TRUE(fs::exists(outside));
    EXPECT_EQ(read_all(outside), "nineteen bytes here");
}

// Item 16: with HOME unset the cache is under the password database's home directory, as
// huggingface_hub's os.path.expanduser("~") gives, never under "/".
TEST(HubHomeUnset, CacheFallsBackToThePasswordDatabaseHome) {
    const char *names[] = {"HOME", "HF_HOME", "HF_HUB_CACHE", "HUGGINGFACE_HUB_CACHE",
                           "XDG_CACHE_HOME"};
    std::vector<std::pair<std::string, std::optional<std::string>>> saved;
    for (const char *n : names) {
        const char *v = std::getenv(n);
        saved.emplace_back(n, v ? std::optional<std::string>(v) : std::nullopt);
        unsetenv(n);
    }
    const passwd *pw = getpwuid(getuid());
    ASSERT_NE(pw, nullptr);
    const fs::path expected = fs::path(pw->pw_dir) / ".cache" / "huggingface" / "hub";
    fs::path got;
    const int status = status_of([&] { got = hfk::hub::default_cache_dir(); });
    for (auto &[n, v] : saved)
        if (v) setenv(n.c_str(), v->c_str(), 1);
    ASSERT_EQ(status, 0);
    EXPECT_EQ(got, expected);
}
