// Small (non-LFS) files are verified against their git blob sha1 (the ETag of /resolve/), like
// the weights against their sha256: the local Hub's "corrupt-small" repository serves every
// non-LFS file with one byte flipped and the weights intact (issue 23).
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <set>
#include <sstream>
#include <string>

#include "hub/hub.h"
#include "hub_server_fixture.h"
#include "util/error.h"

namespace fs = std::filesystem;
using hfk::hub::Options;

namespace {

using hfk_test::read_all;

class SmallFileChecksum : public hfk_test::HubServerTest {
  protected:
    fs::path repo() const { return repo_root("models--hfkit-test--corrupt-small"); }

    // Runs prepare on the corrupt-small repo, expects HFK_E_CHECKSUM naming `file`, and nothing
    // of it published: no blob, no snapshot entry, no ref.
    void expect_refused(const Options &o, const std::string &file) {
        SCOPED_TRACE(file);
        try {
            hfk::hub::prepare("hfkit-test/corrupt-small", o);
            ADD_FAILURE() << "a corrupted " << file << " was accepted";
        } catch (const hfk::Error &e) {
            EXPECT_EQ(e.status(), HFK_E_CHECKSUM) << e.what();
            EXPECT_NE(std::string(e.what()).find(file), std::string::npos) << e.what();
        }
        // Downloads run in parallel, so an intact file may have been published before the
        // corrupted one failed; but every published blob must be byte for byte a real file.
        std::set<std::string> real;
        const fs::path src = fs::path(hfk_test::shared_dir()) / "models" / "aidreams260K";
        for (const auto &f : fs::directory_iterator(src)) real.insert(read_all(f.path()));
        std::error_code ec;
        for (const auto &b : fs::directory_iterator(repo() / "blobs", ec)) {
            if (!hfk::hub::valid_etag(b.path().filename().string())) continue;
            EXPECT_TRUE(real.count(read_all(b.path())))
                << "a blob that is no file of the repository was published: "
                << b.path().filename();
        }
        if (!o.allow_patterns.empty())  // one file asked for, and refused: nothing published
            for (const auto &b : fs::directory_iterator(repo() / "blobs", ec))
                ADD_FAILURE() << "left in blobs/: " << b.path().filename();
        EXPECT_FALSE(fs::exists(repo() / "refs" / "main"));
        EXPECT_FALSE(hfk::hub::is_downloaded("hfkit-test/corrupt-small", "main", o.cache_dir));
    }
};

TEST_F(SmallFileChecksum, CorruptedConfigIsRefused) {
    Options o = options();
    o.allow_patterns = {"config.json"};
    expect_refused(o, "config.json");
}

TEST_F(SmallFileChecksum, CorruptedTokenizerIsRefused) {
    Options o = options();
    o.allow_patterns = {"tokenizer.json"};
    expect_refused(o, "tokenizer.json");
}

TEST_F(SmallFileChecksum, WholeRepositoryIsRefused) {
    expect_refused(options(), "");
}

// The same repository's weights are served intact and accepted: the refusals above are the
// small files' checksums, not something else about the repository.
TEST_F(SmallFileChecksum, IntactWeightsOfTheSameRepositoryAreAccepted) {
    Options o = options();
    o.allow_patterns = {"model.safetensors"};
    const auto snap = hfk::hub::prepare("hfkit-test/corrupt-small", o);
    EXPECT_EQ(read_all(snap.dir / "model.safetensors"),
              read_all(fs::path(hfk_test::shared_dir()) / "models" / "aidreams260K" /
                       "model.safetensors"));
}

// And an intact small file from an honest repository passes the same check byte for byte.
TEST_F(SmallFileChecksum, IntactConfigIsAccepted) {
    Options o = options();
    o.allow_patterns = {"config.json", "tokenizer.json"};
    const auto snap = hfk::hub::prepare("hfkit-test/aidreams260K", o);
    const fs::path src = fs::path(hfk_test::shared_dir()) / "models" / "aidreams260K";
    EXPECT_EQ(read_all(snap.dir / "config.json"), read_all(src / "config.json"));
    EXPECT_EQ(read_all(snap.dir / "tokenizer.json"), read_all(src / "tokenizer.json"));
}

}  // namespace
