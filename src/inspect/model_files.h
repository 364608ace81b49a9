// Where the inspector reads a model's small files from: a local directory, or a Hub repository
// (config and index through the cache, weight headers with Range requests). One interface so
// that the header-reading logic is the same for both and can be tested on local files.
#pragma once

#include <cstdint>
#include <filesystem>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "hub/hub.h"

namespace hfk::inspect {

class ModelFiles {
  public:
    virtual ~ModelFiles() = default;
    // For messages: the directory or "repo_id".
    virtual std::string where() const = 0;
    // The file names at the top level of the model (sorted).
    virtual std::vector<std::string> list() = 0;
    // A whole small file (config.json, the shard index); HFK_E_FORMAT above max_bytes.
    virtual std::string read_small(const std::string &name, size_t max_bytes) = 0;
    // `length` bytes at `offset`; shorter only when the file ends first.
    virtual std::string read_range(const std::string &name, uint64_t offset, uint64_t length) = 0;
    // The size of a file when it is known without downloading it (local files).
    virtual std::optional<uint64_t> file_size(const std::string &name) = 0;
};

std::unique_ptr<ModelFiles> local_files(const std::filesystem::path &dir);
// `write_cache` false: small files are read with a Range request (or from a cached copy) and
// nothing is written to the cache, so a look before a refused download leaves no trace there.
std::unique_ptr<ModelFiles> hub_files(const std::string &repo_id, const hub::Options &opts,
                                      bool write_cache = true);

}  // namespace hfk::inspect
