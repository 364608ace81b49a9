// Content hashes of blobs: SHA-256 for LFS files (64-hex etag) and the git blob SHA-1
// ("blob <n>\0" + bytes) for small files (40-hex etag), through OpenSSL's libcrypto.
#pragma once

#include <openssl/evp.h>

#include <cstdint>
#include <string>
#include <vector>

namespace hfk::hub {

class BlobHasher {
  public:
    BlobHasher(const std::string &etag, uint64_t size);
    ~BlobHasher();
    BlobHasher(const BlobHasher &) = delete;
    BlobHasher &operator=(const BlobHasher &) = delete;
    void update(const void *p, size_t n) { EVP_DigestUpdate(ctx_, p, n); }
    std::string hex();  // once

  private:
    EVP_MD_CTX *ctx_;
};

// Hashes bytes [from, to) of `fd` into `h` through `buf` (non-empty); false if they cannot all
// be read.
bool hash_file_range(int fd, uint64_t from, uint64_t to, BlobHasher &h, std::vector<char> &buf);

}  // namespace hfk::hub
