// The huggingface_hub cache layout (HUB.md 2.7): paths, refs, snapshot pointers, markers.
// Every name passed here has been validated (valid_repo_id / valid_revision / valid_repo_filename
// / valid_etag / valid_commit) before it becomes a path.
#pragma once

#include <filesystem>
#include <optional>
#include <string>
#include <string_view>

namespace hfk::hub {

namespace fs = std::filesystem;

struct RepoDir {
    std::string folder;  // models--org--name
    fs::path root;       // <cache>/models--org--name
    fs::path locks;      // <cache>/.locks/models--org--name
    fs::path blob(const std::string &etag) const { return root / "blobs" / etag; }
    fs::path pointer(const std::string &commit, const std::string &file) const {
        return root / "snapshots" / commit / file;
    }
};

std::string repo_folder_name(std::string_view repo_id);  // "models--org--name"
RepoDir repo_dir(const std::string &cache_dir, std::string_view repo_id);
// refs/<revision> -> commit (validated), or nullopt. A 40-hex revision is its own commit.
std::optional<std::string> read_ref(const RepoDir &d, std::string_view revision);
void write_ref(const RepoDir &d, std::string_view revision, const std::string &commit);
// snapshots/<commit>/<file> -> ../../blobs/<etag> (relative; temp symlink + rename).
void link_pointer(const RepoDir &d, const std::string &commit, const std::string &file,
                  const std::string &etag);
// The pointer exists and leads to a regular file (of `size` bytes when size >= 0).
bool pointer_ok(const RepoDir &d, const std::string &commit, const std::string &file,
                int64_t size = -1);
void mark_no_exist(const RepoDir &d, const std::string &commit, const std::string &file);
bool is_no_exist(const RepoDir &d, const std::string &commit, const std::string &file);
void write_cachedir_tag(const std::string &cache_dir);
// mkdir -p with an HFK_E_IO / HFK_E_NO_SPACE error naming the directory.
void make_dirs(const fs::path &p);
[[noreturn]] void fail_errno(int err, const std::string &what);

}  // namespace hfk::hub
