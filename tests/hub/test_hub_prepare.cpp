// prepare() against the local Hub: download, cache layout, no re-download, errors, token rules.
#include <fstream>
#include <sstream>

#include "hub_server_fixture.h"
#include "util/error.h"

namespace fs = std::filesystem;
using hfk::hub::Options;
using hfk_test::HubServerTest;

namespace {

using hfk_test::read_all;

using hfk_test::status_of;

const char *kAidreamsFiles[] = {"config.json",       "generation_config.json",
                                "model.safetensors", "special_tokens_map.json",
                                "tokenizer.json",    "tokenizer_config.json"};

// Invariants I1-I3 of RELIABILITY.md (b): pointers lead to blobs, no temp files left.
void check_invariants(const fs::path &repo) {
    std::error_code ec;
    for (auto it = fs::recursive_directory_iterator(repo / "snapshots", ec);
         !ec && it != fs::end(it); ++it) {
        if (it->is_symlink()) {
            EXPECT_TRUE(fs::is_regular_file(it->path())) << it->path();
            EXPECT_TRUE(fs::read_symlink(it->path()).is_relative()) << it->path();
        }
    }
    for (auto &b : fs::directory_iterator(repo / "blobs", ec)) {
        std::string n = b.path().filename().string();
        EXPECT_EQ(n.find(".tmp"), std::string::npos) << n;
    }
}

}  // namespace

class Prepare : public HubServerTest {};

TEST_F(Prepare, HappyPathLayoutAndNoSecondDownload) {
    Options o = options();
    std::vector<hfk::hub::Progress> events;
    o.progress = [&](const hfk::hub::Progress &p) {
        events.push_back(p);
        return false;
    };
    auto snap = hfk::hub::prepare("hfkit-test/aidreams260K", o);
    fs::path root = repo_root("models--hfkit-test--aidreams260K");
    EXPECT_EQ(snap.dir, root / "snapshots" / snap.commit);
    EXPECT_EQ(snap.commit.size(), 40u);
    EXPECT_EQ(read_all(root / "refs" / "main"), snap.commit);  // no newline
    EXPECT_TRUE(fs::exists(fs::path(o.cache_dir) / "CACHEDIR.TAG"));
    fs::path src = fs::path(hfk_test::shared_dir()) / "models" / "aidreams260K";
    for (const char *f : kAidreamsFiles) {
        fs::path p = snap.dir / f;
        ASSERT_TRUE(fs::is_symlink(p)) << f;
        std::string target = fs::read_symlink(p).string();
        EXPECT_EQ(target.rfind("../../blobs/", 0), 0u) << target;
        std::string etag = target.substr(12);
        EXPECT_TRUE(etag.size() == 40 || etag.size() == 64) << etag;
        EXPECT_TRUE(fs::is_regular_file(root / "blobs" / etag));
        EXPECT_EQ(read_all(p), read_all(src / f)) << f;
    }
    // The LFS file is named by its sha256, small files by their git blob sha1.
    EXPECT_EQ(fs::read_symlink(snap.dir / "model.safetensors").string().size(), 12u + 64u);
    EXPECT_EQ(fs::read_symlink(snap.dir / "config.json").string().size(), 12u + 40u);
    EXPECT_FALSE(fs::exists(snap.dir / "PROVENANCE.md"));  // not a model file
    EXPECT_TRUE(fs::exists(fs::path(o.cache_dir) / ".locks" / "models--hfkit-test--aidreams260K"));
    check_invariants(root);
    // Progress: monotonic, ends at the total.
    ASSERT_FALSE(events.empty());
    int64_t last = 0;
    for (auto &e : events) {
        EXPECT_GE(e.bytes_done, last);
        last = e.bytes_done;
        EXPECT_EQ(e.file_count, 6);
    }
    EXPECT_EQ(events.back().bytes_done, events.back().bytes_total);
    EXPECT_FALSE(server->token_reached_cdn());
    EXPECT_EQ(server->count("cdn", "GET"), 1);

    // Second prepare: no download at all (only the revision lookup).
    server->clear_log();
    auto again = hfk::hub::prepare("hfkit-test/aidreams260K", o);
    EXPECT_EQ(again.dir, snap.dir);
    EXPECT_EQ(server->count("hub", "GET", "/resolve/"), 0);
    EXPECT_EQ(server->count("hub", "HEAD"), 0);
    EXPECT_EQ(server->count("cdn", "GET"), 0);
    EXPECT_EQ(server->count("hub", "GET", "/api/models/"), 1);
    EXPECT_TRUE(hfk::hub::is_downloaded("hfkit-test/aidreams260K", "main", o.cache_dir));
    EXPECT_TRUE(hfk::hub::is_downloaded("hfkit-test/aidreams260K", snap.commit, o.cache_dir));
}

TEST_F(Prepare, SecondPrepareByCommitMakesNoRequestAfterOffline) {
    Options o = options();
    auto snap = hfk::hub::prepare("aidreams260K", o);  // canonical-style id without org
    EXPECT_TRUE(fs::exists(repo_root("models--aidreams260K") / "refs" / "main"));
    server->clear_log();
    o.offline = 1;
    auto off = hfk::hub::prepare("aidreams260K", o);
    EXPECT_EQ(off.commit, snap.commit);
    EXPECT_EQ(server->log().size(), 0u);
}

TEST_F(Prepare, AllowAndIgnorePatterns) {
    Options o = options();
    o.allow_patterns = {"*.json"};
    o.ignore_patterns = {"tokenizer*"};
    auto snap = hfk::hub::prepare("hfkit-test/aidreams260K", o);
    EXPECT_TRUE(fs::exists(snap.dir / "config.json"));
    EXPECT_TRUE(fs::exists(snap.dir / "special_tokens_map.json"));
    EXPECT_FALSE(fs::exists(snap.dir / "tokenizer.json"));
    EXPECT_FALSE(fs::exists(snap.dir / "model.safetensors"));
    EXPECT_EQ(server->count("cdn", "GET"), 0);
}

TEST_F(Prepare, OtherModelsAndRevisionByTagAndCommit) {
    Options o = options();
    o.revision = "v1.0";
    auto a = hfk::hub::prepare("hfkit-test/tiny-gpt2", o);
    EXPECT_TRUE(fs::exists(a.dir / "merges.txt"));
    EXPECT_TRUE(fs::exists(a.dir / "vocab.json"));
    EXPECT_EQ(read_all(repo_root("models--hfkit-test--tiny-gpt2") / "refs" / "v1.0"), a.commit);
    o.revision = a.commit;
    auto b = hfk::hub::prepare("hfkit-test/tiny-gpt2", o);
    EXPECT_EQ(b.dir, a.dir);
    o.revision = "refs/pr/1";  // encoded as refs%2Fpr%2F1
    auto c = hfk::hub::prepare("hfkit-test/tiny-gpt2", o);
    EXPECT_EQ(read_all(repo_root("models--hfkit-test--tiny-gpt2") / "refs" / "refs" / "pr" / "1"),
              a.commit);
    EXPECT_EQ(server->count("hub", "GET", "/revision/refs%2Fpr%2F1"), 1);
}

TEST_F(Prepare, RenamedRepoFollowsRelativeRedirectWithAuth) {
    Options o = options();
    o.token = server->token;
    auto snap = hfk::hub::prepare("hfkit-test/renamed", o);
    EXPECT_TRUE(fs::exists(snap.dir / "model.safetensors"));
    EXPECT_FALSE(server->token_reached_cdn());
    // The token did reach the Hub after the relative redirect.
    bool authed_after_redirect = false;
    for (auto &e : server->log())
        if (e["host"] == "hub" &&
            e["path"].get<std::string>().find("aidreams260K") != std::string::npos &&
            e["token_ok"].get<bool>())
            authed_after_redirect = true;
    EXPECT_TRUE(authed_after_redirect);
}

TEST_F(Prepare, ErrorMapping) {
    Options o = options();
    std::string msg;
    EXPECT_EQ(status_of([&] { hfk::hub::prepare("hfkit-test/missing", o); }, &msg),
              HFK_E_NOT_FOUND);
    EXPECT_NE(msg.find("Repository not found"), std::string::npos) << msg;
    EXPECT_EQ(status_of([&] { hfk::hub::prepare("hfkit-test/private", o); }), HFK_E_NOT_FOUND);
    EXPECT_EQ(status_of([&] { hfk::hub::prepare("hfkit-test/gated", o); }, &msg), HFK_E_GATED);
    EXPECT_NE(msg.find("restricted"), std::string::npos) << msg;
    EXPECT_EQ(status_of([&] { hfk::hub::prepare("hfkit-test/disabled", o); }), HFK_E_DISABLED);
    Options r = o;
    r.revision = "no-such-branch";
    EXPECT_EQ(status_of([&] { hfk::hub::prepare("hfkit-test/aidreams260K", r); }),
              HFK_E_REVISION_NOT_FOUND);
    EXPECT_EQ(status_of([&] { hfk::hub::fetch_file("hfkit-test/aidreams260K", "nope.json", o); }),
              HFK_E_ENTRY_NOT_FOUND);
    // EntryNotFound is remembered in .no_exist/<commit>/<file> (D17), and asking again for the
    // same commit is answered from the cache without a request; so is a cached file.
    fs::path no_exist = repo_root("models--hfkit-test--aidreams260K") / ".no_exist";
    ASSERT_TRUE(fs::is_directory(no_exist));
    std::string commit;
    for (const auto &e : fs::directory_iterator(no_exist)) commit = e.path().filename().string();
    ASSERT_EQ(commit.size(), 40u);
    EXPECT_TRUE(fs::exists(no_exist / commit / "nope.json"));
    Options by_commit = o;
    by_commit.revision = commit;
    const fs::path cfg = hfk::hub::fetch_file("hfkit-test/aidreams260K", "config.json", by_commit);
    const size_t requests = server->log().size();
    EXPECT_EQ(
        status_of([&] { hfk::hub::fetch_file("hfkit-test/aidreams260K", "nope.json", by_commit); }),
        HFK_E_ENTRY_NOT_FOUND);
    EXPECT_EQ(hfk::hub::fetch_file("hfkit-test/aidreams260K", "config.json", by_commit), cfg);
    EXPECT_EQ(server->log().size(), requests) << "a cached answer for a commit made a request";
    // Tokens: a bad one is refused (and not echoed), a valid one opens the private repo, a
    // valid one without access to the gated repo gets 403 GatedRepo.
    Options bad = o;
    bad.token = "hf_thisIsNotAValidTokenXXXXXXXXXXXXXXXXXXX";
    EXPECT_EQ(status_of([&] { hfk::hub::prepare("hfkit-test/aidreams260K", bad); }, &msg),
              HFK_E_AUTH);
    EXPECT_EQ(msg.find(*bad.token), std::string::npos);
    Options good = o;
    good.token = server->token;
    EXPECT_NO_THROW(hfk::hub::prepare("hfkit-test/private", good));
    EXPECT_NO_THROW(hfk::hub::prepare("hfkit-test/gated", good));
    Options no_access = o;
    no_access.token = server->token_no_access;
    no_access.cache_dir = (cache.path / "other-cache").string();  // no cached copy to fall back to
    EXPECT_EQ(status_of([&] { hfk::hub::prepare("hfkit-test/gated", no_access); }), HFK_E_GATED);
    EXPECT_FALSE(server->token_reached_cdn());
    // Errors are not retried.
    EXPECT_EQ(server->count("hub", "GET", "/api/models/hfkit-test/missing"), 1);
}

TEST_F(Prepare, TokenFromEnvironmentNeverReachesCdn) {
    setenv("HF_TOKEN", server->token.c_str(), 1);
    Options o = options();
    o.token.reset();  // read $HF_TOKEN
    auto snap = hfk::hub::prepare("hfkit-test/private", o);
    EXPECT_TRUE(fs::exists(snap.dir / "model.safetensors"));
    EXPECT_GT(server->count("cdn", "GET"), 0);
    EXPECT_FALSE(server->token_reached_cdn());
    unsetenv("HF_TOKEN");
    // The token file ($HF_HOME/token) is the fallback.
    fs::create_directories(cache.path / "hf_home");
    std::ofstream(cache.path / "hf_home" / "token") << server->token << "\n";
    Options p = options();
    p.token.reset();
    p.cache_dir = (cache.path / "hub2").string();
    EXPECT_NO_THROW(hfk::hub::prepare("hfkit-test/private", p));
    EXPECT_FALSE(server->token_reached_cdn());
}

TEST_F(Prepare, BadIdsRevisionsAndNamesRefusedBeforeAnyRequest) {
    Options o = options();
    for (const char *id : {"", "a/b/c", "../x", "a--b", "org/na..me", "-x", "x.git", "org/",
                           "/name", "a b", "a\\b", "o\xc3\xa9/x"})
        EXPECT_EQ(status_of([&] { hfk::hub::prepare(id, o); }), HFK_E_INVALID_ARG) << id;
    for (const char *rev : {"../../etc", "a..b", "-x", "/main", "main/", "x.lock", "a b", "a:b",
                            "refs/.hidden", "a//b", "@{1}"}) {
        Options r = o;
        r.revision = rev;
        EXPECT_EQ(status_of([&] { hfk::hub::prepare("hfkit-test/aidreams260K", r); }),
                  HFK_E_INVALID_ARG)
            << rev;
    }
    for (const char *f :
         {"../config.json", "/etc/passwd", "a/../b", "a//b", "C:x", "a\\b", "./x", "x/", ""})
        EXPECT_EQ(status_of([&] { hfk::hub::fetch_file("hfkit-test/aidreams260K", f, o); }),
                  HFK_E_INVALID_ARG)
            << f;
    EXPECT_EQ(server->log().size(), 0u);
    Options e = o;
    e.endpoint = "http://example.com";  // plain http only to loopback
    EXPECT_EQ(status_of([&] { hfk::hub::prepare("hfkit-test/aidreams260K", e); }),
              HFK_E_INVALID_ARG);
    e.endpoint = "ftp://127.0.0.1";
    EXPECT_EQ(status_of([&] { hfk::hub::prepare("hfkit-test/aidreams260K", e); }),
              HFK_E_INVALID_ARG);
}

TEST_F(Prepare, MaliciousServerAnswersRefused) {
    Options o = options();
    std::string msg;
    // ETag "../../../tmp/pwn" and X-Repo-Commit "../x" never become paths.
    EXPECT_EQ(
        status_of([&] { hfk::hub::fetch_file("hfkit-test/evil-etag", "config.json", o); }, &msg),
        HFK_E_FORMAT);
    EXPECT_EQ(status_of([&] { hfk::hub::prepare("hfkit-test/evil-etag", o); }), HFK_E_FORMAT);
    EXPECT_FALSE(fs::exists(fs::path(o.cache_dir).parent_path() / "tmp"));
    // A redirect to file:///etc/passwd is refused.
    EXPECT_EQ(status_of([&] { hfk::hub::prepare("hfkit-test/evil-redirect", o); }, &msg),
              HFK_E_NETWORK);
    EXPECT_NE(msg.find("refusing"), std::string::npos) << msg;
    // A redirect loop ends.
    EXPECT_EQ(status_of([&] { hfk::hub::fetch_file("hfkit-test/loop", "config.json", o); }, &msg),
              HFK_E_NETWORK);
    EXPECT_NE(msg.find("too many redirects"), std::string::npos) << msg;
}

TEST_F(Prepare, FetchFileRangeAndList) {
    Options o = options();
    auto files = hfk::hub::list_files("hfkit-test/aidreams260K", o);
    EXPECT_NE(std::find(files.begin(), files.end(), "model.safetensors"), files.end());
    EXPECT_NE(std::find(files.begin(), files.end(), "PROVENANCE.md"), files.end());
    server->clear_log();
    // The safetensors header through Range, without touching the cache.
    fs::path src =
        fs::path(hfk_test::shared_dir()) / "models" / "aidreams260K" / "model.safetensors";
    std::string whole = read_all(src);
    std::string head =
        hfk::hub::fetch_range("hfkit-test/aidreams260K", "model.safetensors", 0, 8, o);
    EXPECT_EQ(head, whole.substr(0, 8));
    std::string mid =
        hfk::hub::fetch_range("hfkit-test/aidreams260K", "model.safetensors", 1000, 5000, o);
    EXPECT_EQ(mid, whole.substr(1000, 5000));
    std::string tail = hfk::hub::fetch_range("hfkit-test/aidreams260K", "model.safetensors",
                                             whole.size() - 10, 100, o);
    EXPECT_EQ(tail, whole.substr(whole.size() - 10));
    EXPECT_FALSE(fs::exists(repo_root("models--hfkit-test--aidreams260K") / "blobs"));
    for (auto &e : server->log()) {
        if (e["host"] == "cdn") {
            EXPECT_LE(e["bytes"].get<int64_t>(), 5000) << e.dump();
        }
    }
    // Range against a server that ignores it still returns the right bytes.
    EXPECT_EQ(hfk::hub::fetch_range("hfkit-test/norange", "model.safetensors", 1000, 5000, o),
              whole.substr(1000, 5000));
    // fetch_file: one file through the cache.
    auto cfg = hfk::hub::fetch_file("hfkit-test/aidreams260K", "config.json", o);
    EXPECT_EQ(read_all(cfg), read_all(src.parent_path() / "config.json"));
    EXPECT_TRUE(fs::exists(repo_root("models--hfkit-test--aidreams260K") / "refs" / "main"));
    EXPECT_FALSE(hfk::hub::is_downloaded("hfkit-test/aidreams260K", "main", o.cache_dir));
}

// RELIABILITY D38 over D14-D18 (and D10 for an error raised on the CDN side): with a token
// set, no error message contains the token or the CDN's signed query, and no error is retried
// (exactly one request per error).
TEST_F(Prepare, ErrorsWithATokenNeverEchoItAndAreNotRetried) {
    struct Case {
        const char *what, *repo, *revision, *file;  // file: fetch_file, else prepare
        std::string token;
        int status;
        const char *must_name;  // the message names this
    };
    const std::string bad_token = "hf_badTokenForTheLeakTestZZZZZZZZZZZZZZZZ";
    const Case cases[] = {
        {"D14 private, token without access (401 RepoNotFound)", "hfkit-test/private", "", nullptr,
         server->token_no_access, HFK_E_NOT_FOUND, "hfkit-test/private"},
        {"D14 missing repo (404 RepoNotFound)", "hfkit-test/missing", "", nullptr, server->token,
         HFK_E_NOT_FOUND, "hfkit-test/missing"},
        {"D15 invalid token (401)", "hfkit-test/aidreams260K", "", nullptr, bad_token, HFK_E_AUTH,
         "hfkit-test/aidreams260K"},
        {"D16 gated (403 GatedRepo)", "hfkit-test/gated", "", nullptr, server->token_no_access,
         HFK_E_GATED, "hfkit-test/gated"},
        {"D17 EntryNotFound", "hfkit-test/aidreams260K", "", "nope.json", server->token,
         HFK_E_ENTRY_NOT_FOUND, "nope.json"},
        {"D18 RevisionNotFound", "hfkit-test/aidreams260K", "no-such-branch", nullptr,
         server->token, HFK_E_REVISION_NOT_FOUND, "no-such-branch"},
    };
    for (const auto &c : cases) {
        SCOPED_TRACE(c.what);
        Options o = options();
        o.token = c.token;
        o.revision = c.revision;
        server->clear_log();
        std::string msg;
        const int st = status_of(
            [&] {
                if (c.file)
                    hfk::hub::fetch_file(c.repo, c.file, o);
                else
                    hfk::hub::prepare(c.repo, o);
            },
            &msg);
        EXPECT_EQ(st, c.status) << msg;
        EXPECT_NE(msg.find(c.must_name), std::string::npos) << msg;
        EXPECT_EQ(msg.find(c.token), std::string::npos) << "the token is in: " << msg;
        EXPECT_EQ(msg.find("hf_"), std::string::npos) << msg;
        EXPECT_EQ(msg.find("X-Amz-Signature"), std::string::npos) << msg;
        EXPECT_EQ(msg.find("secret"), std::string::npos) << msg;
        auto log = server->log();
        EXPECT_EQ(log.size(), 1u) << "an error answer must not be retried: " << log.dump();
        EXPECT_FALSE(server->token_reached_cdn());
    }
    // A failure detected after the CDN answered (D10, corrupt body): the message names the file
    // and the hash, never the signed CDN URL.
    Options o = options();
    o.token = server->token;
    std::string msg;
    EXPECT_EQ(status_of([&] { hfk::hub::fetch_file("hfkit-test/corrupt", "model.safetensors", o); },
                        &msg),
              HFK_E_CHECKSUM);
    EXPECT_EQ(msg.find(server->token), std::string::npos) << msg;
    EXPECT_EQ(msg.find("X-Amz-Signature"), std::string::npos) << msg;
    EXPECT_EQ(msg.find("secret"), std::string::npos) << msg;
    EXPECT_FALSE(server->token_reached_cdn());
}

// RELIABILITY D18: RevisionNotFound is raised online even when the cache has a complete
// snapshot under a ref of that name (no cache fallback, as in the reference).
TEST_F(Prepare, PlantedRefForAMissingRevisionStillRaisesRevisionNotFound) {
    Options o = options();
    o.token = server->token;
    const auto snap = hfk::hub::prepare("hfkit-test/aidreams260K", o);
    const fs::path root = repo_root("models--hfkit-test--aidreams260K");
    std::ofstream(root / "refs" / "no-such-branch") << snap.commit;
    // The plant is a complete cached snapshot: offline, it is what the revision resolves to.
    Options off = o;
    off.offline = 1;
    off.revision = "no-such-branch";
    EXPECT_EQ(hfk::hub::prepare("hfkit-test/aidreams260K", off).dir, snap.dir);
    // Online, the Hub says the revision does not exist, and that wins.
    Options on = o;
    on.revision = "no-such-branch";
    server->clear_log();
    std::string msg;
    EXPECT_EQ(status_of([&] { hfk::hub::prepare("hfkit-test/aidreams260K", on); }, &msg),
              HFK_E_REVISION_NOT_FOUND)
        << msg;
    EXPECT_EQ(server->log().size(), 1u);
    // fetch_file too (its HEAD gets the same 404 RevisionNotFound).
    server->clear_log();
    EXPECT_EQ(
        status_of([&] { hfk::hub::fetch_file("hfkit-test/aidreams260K", "config.json", on); }),
        HFK_E_REVISION_NOT_FOUND);
    EXPECT_EQ(server->log().size(), 1u);
}
