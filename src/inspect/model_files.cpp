// The two ModelFiles: a local directory, and a Hub repository read through hfk::hub.
#include "inspect/model_files.h"

#include <algorithm>
#include <fstream>
#include <system_error>

#include "model/config.h"
#include "model/message_text.h"
#include "util/error.h"

namespace hfk::inspect {

namespace fs = std::filesystem;

namespace {

class LocalFiles final : public ModelFiles {
  public:
    explicit LocalFiles(fs::path dir) : dir_(std::move(dir)) {}

    std::string where() const override { return dir_.string(); }

    std::vector<std::string> list() override {
        std::vector<std::string> names;
        std::error_code ec;
        for (fs::directory_iterator it(dir_, ec), end; !ec && it != end; it.increment(ec)) {
            std::error_code ec2;
            if (it->is_regular_file(ec2)) names.push_back(it->path().filename().string());
            if (names.size() > 100'000) break;  // a directory this big is not a checkpoint
        }
        if (ec) fail(HFK_E_IO, dir_.string() + ": cannot list: " + ec.message());
        std::sort(names.begin(), names.end());
        return names;
    }

    std::string read_small(const std::string &name, size_t max_bytes) override {
        return read_small_file(dir_ / name, max_bytes);
    }

    std::string read_range(const std::string &name, uint64_t offset, uint64_t length) override {
        const fs::path p = dir_ / name;
        std::ifstream in(p, std::ios::binary);
        if (!in) fail(HFK_E_IO, p.string() + ": cannot open");
        std::optional<uint64_t> size = file_size(name);
        if (!size || offset >= *size) return {};
        // The caller caps `length`; the file size caps it again before anything is allocated.
        const uint64_t n = std::min<uint64_t>(length, *size - offset);
        std::string out(size_t(n), '\0');
        in.seekg(std::streamoff(offset));
        in.read(out.data(), std::streamsize(n));
        out.resize(size_t(std::max<std::streamsize>(in.gcount(), 0)));
        return out;
    }

    std::optional<uint64_t> file_size(const std::string &name) override {
        std::error_code ec;
        uintmax_t n = fs::file_size(dir_ / name, ec);
        if (ec) return std::nullopt;
        return uint64_t(n);
    }

  private:
    fs::path dir_;
};

class HubFiles final : public ModelFiles {
  public:
    HubFiles(std::string repo_id, hub::Options opts, bool write_cache)
        : repo_(std::move(repo_id)), opts_(std::move(opts)), write_cache_(write_cache) {}

    std::string where() const override { return repo_; }

    std::vector<std::string> list() override {
        if (!listed_) {  // asked once per inspection, however many readers want it
            names_ = hub::list_files(repo_, opts_);
            std::sort(names_.begin(), names_.end());
            listed_ = true;
        }
        return names_;
    }

    // Small files go through the cache, so a second inspection (or a later download) reuses them.
    std::string read_small(const std::string &name, size_t max_bytes) override {
        if (!write_cache_) {
            std::string text = hub::fetch_range(repo_, name, 0, max_bytes + 1, opts_);
            if (text.size() > max_bytes)
                fail(HFK_E_FORMAT, repo_ + "/" + name + ": exceeds the " +
                                       std::to_string(max_bytes) + "-byte limit");
            return text;
        }
        fs::path p = hub::fetch_file(repo_, name, opts_);
        return read_small_file(p, max_bytes);
    }

    std::string read_range(const std::string &name, uint64_t offset, uint64_t length) override {
        return hub::fetch_range(repo_, name, offset, length, opts_);
    }

    std::optional<uint64_t> file_size(const std::string &) override { return std::nullopt; }

  private:
    std::string repo_;
    hub::Options opts_;
    bool write_cache_ = true;
    bool listed_ = false;
    std::vector<std::string> names_;
};

}  // namespace

std::unique_ptr<ModelFiles> local_files(const fs::path &dir) {
    return std::make_unique<LocalFiles>(dir);
}

std::unique_ptr<ModelFiles> hub_files(const std::string &repo_id, const hub::Options &opts,
                                      bool write_cache) {
    return std::make_unique<HubFiles>(repo_id, opts, write_cache);
}

}  // namespace hfk::inspect
