// One file: metadata (HEAD /resolve/) and the blob download protocol of RELIABILITY.md (e):
// lock, partial file, Range resume, streamed hash, verify, atomic rename.
#pragma once

#include <cstdint>
#include <functional>
#include <string>

#include "hub/cache.h"
#include "hub/client.h"

namespace hfk::hub {

struct FileMeta {
    std::string commit;  // X-Repo-Commit (validated 40-hex)
    std::string etag;    // X-Linked-Etag or ETag, unquoted (validated 40/64-hex)
    uint64_t size = 0;   // X-Linked-Size or Content-Length (not from a 3xx)
    std::string url;     // where the bytes are: the CDN Location, else the resolve URL
};

// HEAD /{repo}/resolve/{rev}/{file} (relative redirects followed with auth). EntryNotFound
// with an X-Repo-Commit records .no_exist/<commit>/<file> in `d` before throwing.
FileMeta head_file(const Client &c, const RepoDir &d, std::string_view repo_id,
                   std::string_view revision, const std::string &filename);

// Makes blobs/<etag> exist with verified content. `on_bytes(done)` reports the bytes of this
// file present so far (including a resumed prefix); it runs on the calling thread. `replace`:
// the blob there is known to be corrupt; download anew and rename over it (atomic: readers see
// the old file or the new one, never a mix).
void download_blob(const Client &c, const RepoDir &d, const FileMeta &m, const std::string &what,
                   const std::function<void(uint64_t)> &on_bytes, bool replace = false);

// SHA-256 or git-blob SHA-1 (etag length picks it) of a file, for verifying a cached blob.
bool blob_matches(const fs::path &p, const std::string &etag);

}  // namespace hfk::hub
