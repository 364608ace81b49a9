#include "hub/blob_hash.h"

#include <unistd.h>

#include <algorithm>

#include "util/error.h"

namespace hfk::hub {

BlobHasher::BlobHasher(const std::string &etag, uint64_t size) : ctx_(EVP_MD_CTX_new()) {
    if (!ctx_) fail(HFK_E_NOMEM, "EVP_MD_CTX_new failed");
    const bool git = etag.size() == 40;
    EVP_DigestInit_ex(ctx_, git ? EVP_sha1() : EVP_sha256(), nullptr);
    if (git) {
        std::string prefix = "blob " + std::to_string(size);
        EVP_DigestUpdate(ctx_, prefix.data(), prefix.size() + 1);  // with the NUL
    }
}

BlobHasher::~BlobHasher() {
    EVP_MD_CTX_free(ctx_);
}

std::string BlobHasher::hex() {
    unsigned char md[EVP_MAX_MD_SIZE];
    unsigned int n = 0;
    EVP_DigestFinal_ex(ctx_, md, &n);
    static const char *digits = "0123456789abcdef";
    std::string out;
    for (unsigned int i = 0; i < n; ++i) {
        out += digits[md[i] >> 4];
        out += digits[md[i] & 15];
    }
    return out;
}

bool hash_file_range(int fd, uint64_t from, uint64_t to, BlobHasher &h, std::vector<char> &buf) {
    while (from < to) {
        ssize_t r = pread(fd, buf.data(), std::min<uint64_t>(buf.size(), to - from),
                          static_cast<off_t>(from));
        if (r <= 0) return false;
        h.update(buf.data(), static_cast<size_t>(r));
        from += static_cast<uint64_t>(r);
    }
    return true;
}

}  // namespace hfk::hub
