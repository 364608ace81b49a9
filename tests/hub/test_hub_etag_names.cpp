// An ETag becomes a file name in the cache (blobs/<etag>): only 40 or 64 lowercase hex characters
// are accepted (hub.h), so that no ETag of the right length can carry a path (issue 23's
// mutation pass: a length-only check passed every other test).
#include <gtest/gtest.h>

#include <string>

#include "hub/hub.h"

using hfk::hub::valid_etag;

namespace {

std::string pad_to(std::string s, size_t n, char fill) {
    s.resize(n, fill);
    return s;
}

TEST(EtagNames, OnlyLowercaseHexOfTheTwoLengths) {
    EXPECT_TRUE(valid_etag(std::string(40, 'f')));
    EXPECT_TRUE(valid_etag("255f510375d6fdceeae590cc9b07ddbbe124610ac805bd15e80b9026f12dcbfd"));
    for (size_t n : {40u, 64u}) {
        SCOPED_TRACE(n);
        EXPECT_FALSE(valid_etag(pad_to("../../../../tmp/pwn/", n, '0')));  // a path
        EXPECT_FALSE(valid_etag(pad_to("/etc/", n, 'a')));
        EXPECT_FALSE(valid_etag(std::string(n, 'A')));  // uppercase hex
        EXPECT_FALSE(valid_etag(std::string(n, 'g')));  // not hex
        EXPECT_FALSE(valid_etag(pad_to("abc", n, ' ')));
        EXPECT_FALSE(valid_etag(pad_to(std::string("ab\\0", 4), n, '0')));
    }
}

}  // namespace
