// Validation rules of RELIABILITY.md a.4-a.7 (no network).
#include <gtest/gtest.h>

#include "hub/hub.h"

using namespace hfk::hub;

TEST(HubValidate, RepoIds) {
    for (const char *ok : {"gpt2", "HuggingFaceTB/SmolLM-135M", "a/b", "org_1/name.v2", "x-y/z_w"})
        EXPECT_TRUE(valid_repo_id(ok)) << ok;
    for (const char *bad : {"",          "/",   "a/",   "/a",   "a/b/c",       "a--b/c", "a/b--c",
                            "a..b",      "-a",  "a-",   ".a",   "a.",          "a/.b",   "a.git",
                            "org/x.git", "a b", "a\\b", "a\nb", "caf\xc3\xa9", "a%2Fb"})
        EXPECT_FALSE(valid_repo_id(bad)) << bad;
    EXPECT_TRUE(valid_repo_id(std::string(96, 'a')));
    EXPECT_FALSE(valid_repo_id(std::string(97, 'a')));
    EXPECT_FALSE(valid_repo_id(std::string(97, 'a') + "/b"));
}

TEST(HubValidate, Revisions) {
    for (const char *ok : {"main", "v1.0", "refs/pr/1", "refs/convert/parquet", "feature/x-y",
                           "0123456789abcdef0123456789abcdef01234567"})
        EXPECT_TRUE(valid_revision(ok)) << ok;
    for (const char *bad :
         {"",       "..",   "a..b",    "../x",    "/main", "-x",         "main/", "a//b",
          "x.lock", "a b",  "a~1",     "a^",      "a:b",   "a?",         "a*",    "a[",
          "a\\b",   "@{u}", "refs/.x", ".hidden", "a\x01", "caf\xc3\xa9"})
        EXPECT_FALSE(valid_revision(bad)) << bad;
    EXPECT_FALSE(valid_revision(std::string(257, 'a')));
}

TEST(HubValidate, FileNames) {
    for (const char *ok :
         {"config.json", "onnx/model.onnx", "a b.txt", "caf\xc3\xa9.json",
          "weights/model-00001-of-00002.safetensors", "..a", "a..", ".gitattributes"})
        EXPECT_TRUE(valid_repo_filename(ok)) << ok;
    for (const char *bad : {"",
                            "/etc/passwd",
                            "../x",
                            "a/../b",
                            "a/..",
                            ".",
                            "./a",
                            "a/./b",
                            "a//b",
                            "a/",
                            "C:x",
                            "C:\\x",
                            "\\\\host\\share",
                            "a\\b",
                            "a\nb",
                            "a\x7f",
                            "\xff",
                            "\xc0\xaf",
                            "\xed\xa0\x80",
                            "\xe2\x82"})
        EXPECT_FALSE(valid_repo_filename(bad)) << bad;
    EXPECT_TRUE(valid_repo_filename("a:b/c") == false);
    EXPECT_TRUE(valid_repo_filename("b/a:c"));  // ':' only matters in the first segment
    EXPECT_FALSE(valid_repo_filename(std::string(256, 'a')));
    EXPECT_FALSE(valid_repo_filename(std::string(1025, 'a')));
}

TEST(HubValidate, HashesAndPaths) {
    EXPECT_TRUE(valid_commit("0123456789abcdef0123456789abcdef01234567"));
    EXPECT_FALSE(valid_commit("0123456789ABCDEF0123456789abcdef01234567"));
    EXPECT_FALSE(valid_commit("../x"));
    EXPECT_TRUE(valid_etag(std::string(64, 'a')));
    EXPECT_TRUE(valid_etag(std::string(40, '0')));
    EXPECT_FALSE(valid_etag(std::string(41, '0')));
    EXPECT_FALSE(valid_etag("../../../tmp/pwn"));
}

TEST(HubValidate, CacheQueriesOnAnEmptyCache) {
    std::string dir = testing::TempDir() + "/hfk-empty-cache-does-not-exist";
    EXPECT_FALSE(is_downloaded("a/b", "main", dir));
    EXPECT_FALSE(find_cached("a/b", "main", dir).has_value());
    EXPECT_TRUE(scan_cache(dir).empty());
    EXPECT_EQ(disk_usage(dir, ""), 0u);
}
