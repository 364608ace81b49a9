// The weights of a checkpoint directory (single file or shards) and the architecture-side binder.
#include "model/weights.h"

#include <algorithm>
#include <map>
#include <set>
#include <system_error>

#include "model/config.h"
#include "model/message_text.h"
#include "util/error.h"

namespace hfk {

namespace fs = std::filesystem;

namespace {

constexpr const char *kSingleFile = "model.safetensors";
constexpr const char *kIndexFile = "model.safetensors.index.json";
constexpr size_t kIndexMaxBytes = 64u << 20;  // the largest real indexes are a few MB
constexpr size_t kMaxShards = 100'000;

bool exists_file(const fs::path &p) {
    std::error_code ec;
    return fs::is_regular_file(p, ec);  // follows symlinks (the HF cache's snapshot links)
}

// A weight_map value must name a file right here: no directories, no traversal, no drive letters,
// no control characters (RELIABILITY.md a.5 and ST-h). Checked before anything is opened.
void check_shard_name(const std::string &name) {
    auto reject = [&](const char *why) {
        fail(HFK_E_FORMAT, std::string(kIndexFile) + ": shard file name " + printable(name) +
                               " rejected: " + why);
    };
    if (name.empty()) reject("empty");
    if (name.size() > 255) reject("longer than 255 bytes");
    if (name == "." || name == "..") reject("not a file name");
    for (unsigned char c : name) {
        if (c < 0x20 || c == 0x7f) reject("contains a control character");
        if (c == '/' || c == '\\') reject("must be a plain file name in the checkpoint directory");
        if (c == ':') reject("contains ':'");
    }
    if (name.size() < 12 || name.compare(name.size() - 12, 12, ".safetensors") != 0)
        reject("does not end in .safetensors");
}

// Formats that need an unpickler; we refuse them rather than run one.
bool is_pickle_weight_file(const std::string &name) {
    auto ends = [&](std::string_view suf) {
        return name.size() >= suf.size() &&
               name.compare(name.size() - suf.size(), suf.size(), suf) == 0;
    };
    return ends(".bin") || ends(".pt") || ends(".pth") || ends(".ckpt") || ends(".pkl");
}

}  // namespace

WeightStore::~WeightStore() = default;

void WeightStore::populate(const std::function<bool(double)> &progress) const {
    constexpr uint64_t kChunk = 32ull << 20;  // a progress step and a cancellation point
    uint64_t done = 0;
    for (const auto &f : files_) {
        for (uint64_t off = 0; off < f->file_size(); off += kChunk) {
            const uint64_t n = std::min(kChunk, f->file_size() - off);
            f->populate(off, n);
            done += n;
            if (progress && progress(total_bytes_ ? double(done) / double(total_bytes_) : 1.0))
                fail(HFK_E_CANCELLED, "model loading cancelled");
        }
    }
}

void WeightStore::add_file(std::unique_ptr<SafetensorsFile> f) {
    total_bytes_ += f->file_size();
    files_.push_back(std::move(f));
}

void WeightStore::finalize() {
    sorted_.clear();
    parameter_count_ = 0;
    for (const auto &f : files_)
        for (const TensorInfo &t : f->tensors()) {
            sorted_.push_back(&t);
            parameter_count_ += uint64_t(t.numel());
        }
    std::sort(sorted_.begin(), sorted_.end(),
              [](const TensorInfo *a, const TensorInfo *b) { return a->name < b->name; });
    for (size_t i = 1; i < sorted_.size(); ++i)
        if (sorted_[i]->name == sorted_[i - 1]->name)
            fail(HFK_E_FORMAT, "tensor " + printable(sorted_[i]->name) +
                                   " appears in two shards: " + sorted_[i - 1]->file + " and " +
                                   sorted_[i]->file);
}

const TensorInfo *WeightStore::find(std::string_view name) const {
    auto it = std::lower_bound(sorted_.begin(), sorted_.end(), name,
                               [](const TensorInfo *t, std::string_view n) { return t->name < n; });
    if (it != sorted_.end() && (*it)->name == name) return *it;
    return nullptr;
}

std::shared_ptr<const WeightStore> WeightStore::open(const fs::path &dir) {
    std::error_code ec;
    if (!fs::is_directory(dir, ec))
        fail(HFK_E_NOT_FOUND, dir.string() + ": not a checkpoint directory");
    std::shared_ptr<WeightStore> store(new WeightStore());

    if (exists_file(dir / kSingleFile)) {
        store->add_file(SafetensorsFile::open(dir / kSingleFile));
        store->finalize();
        return store;
    }

    if (exists_file(dir / kIndexFile)) {
        nlohmann::json index = parse_untrusted_json(
            read_small_file(dir / kIndexFile, kIndexMaxBytes), kIndexFile, kIndexMaxBytes);
        auto bad = [](const std::string &what) {
            fail(HFK_E_FORMAT, std::string(kIndexFile) + ": " + what);
        };
        if (!index.is_object()) bad("not a JSON object");
        auto wm = index.find("weight_map");
        if (wm == index.end() || !wm->is_object()) bad("\"weight_map\" missing or not an object");
        if (auto md = index.find("metadata"); md != index.end()) {
            if (!md->is_object() && !md->is_null()) bad("\"metadata\" is not an object");
            if (md->is_object())
                if (auto ts = md->find("total_size");
                    ts != md->end() && !ts->is_null() && !ts->is_number_unsigned())
                    bad("metadata.total_size is not a non-negative integer");  // advisory only
        }
        // Validate every name before opening anything (F13).
        std::map<std::string, std::set<std::string>> by_shard;
        for (auto it = wm->begin(); it != wm->end(); ++it) {
            if (!it.value().is_string())
                bad("weight_map value for " + printable(it.key()) + " is not a string");
            if (it.key().empty() || it.key().size() > kSafetensorsMaxNameBytes)
                bad("weight_map has an invalid tensor name " + printable(it.key(), 64));
            const std::string &shard = it.value().get_ref<const std::string &>();
            check_shard_name(shard);
            by_shard[shard].insert(it.key());
        }
        if (by_shard.empty()) bad("weight_map is empty");
        if (by_shard.size() > kMaxShards) bad("too many shards");
        for (const auto &[shard, names] : by_shard) {
            if (!exists_file(dir / shard))
                fail(HFK_E_NOT_FOUND, std::string(kIndexFile) + ": shard " + printable(shard) +
                                          " is listed but missing from " + dir.string());
            auto f = SafetensorsFile::open(dir / shard);
            std::set<std::string> present;
            for (const TensorInfo &t : f->tensors()) {
                if (!names.count(t.name))
                    fail(HFK_E_FORMAT, shard + ": tensor " + printable(t.name) +
                                           " is not mapped to " + "this shard in " + kIndexFile);
                present.insert(t.name);
            }
            for (const std::string &n : names)
                if (!present.count(n))
                    fail(HFK_E_FORMAT, std::string(kIndexFile) + ": tensor " + printable(n) +
                                           " is mapped to " + shard +
                                           " but that shard does not hold it");
            store->add_file(std::move(f));
        }
        store->finalize();
        return store;
    }

    // No safetensors: say why pickle checkpoints are refused, or that there are no weights.
    std::vector<std::string> pickles;
    for (fs::directory_iterator it(dir, ec), end; !ec && it != end; it.increment(ec)) {
        std::string name = it->path().filename().string();
        if (is_pickle_weight_file(name)) pickles.push_back(name);
    }
    if (!pickles.empty()) {
        std::sort(pickles.begin(), pickles.end());
        fail(HFK_E_UNSUPPORTED,
             dir.string() + ": only PyTorch pickle weights found (" + pickles.front() +
                 "); hfkit does not load pickle files because unpickling can execute arbitrary "
                 "code. Use a revision of the model that has model.safetensors (many Hub repos "
                 "have one on the refs/pr/ branch opened by the safetensors convert bot).");
    }
    fail(HFK_E_NOT_FOUND,
         dir.string() + ": no model.safetensors or model.safetensors.index.json found");
}

// ---- WeightBinder ----

WeightBinder::WeightBinder(std::shared_ptr<const WeightStore> store,
                           std::vector<std::string> prefixes_to_try)
    : store_(std::move(store)), prefixes_(std::move(prefixes_to_try)) {
    if (!store_) fail(HFK_E_INTERNAL, "WeightBinder: no weight store");
}

const TensorInfo *WeightBinder::lookup(const std::string &name) const {
    if (const TensorInfo *t = store_->find(name)) return t;
    for (const std::string &p : prefixes_) {
        if (p.empty()) continue;
        if (const TensorInfo *t = store_->find(p + name)) return t;
        // The architecture may spell a prefix the checkpoint lacks.
        if (name.size() > p.size() && name.compare(0, p.size(), p) == 0)
            if (const TensorInfo *t = store_->find(std::string_view(name).substr(p.size())))
                return t;
    }
    return nullptr;
}

bool WeightBinder::has(const std::string &name) const {
    return lookup(name) != nullptr;
}

const TensorInfo *WeightBinder::take_raw(const std::string &name) {
    const TensorInfo *t = lookup(name);
    if (t) taken_.push_back(t);
    return t;
}

const TensorInfo *WeightBinder::bind(const std::string &name, const std::vector<int64_t> &shape,
                                     bool required) {
    const TensorInfo *t = lookup(name);
    if (!t) {
        if (!required) return nullptr;
        fail(HFK_E_FORMAT, "checkpoint is missing tensor " + printable(name) + " (expected shape " +
                               shape_string(shape) + ")");
    }
    if (t->shape != shape)
        fail(HFK_E_FORMAT, t->file + ": tensor " + printable(t->name) + " has shape " +
                               shape_string(t->shape) + " but the config implies " +
                               shape_string(shape));
    if (t->dtype != DType::F32 && t->dtype != DType::F16 && t->dtype != DType::BF16)
        fail(HFK_E_FORMAT, t->file + ": tensor " + printable(t->name) + " has dtype " +
                               dtype_name(t->dtype) +
                               "; only F32, F16 and BF16 weights are supported");
    taken_.push_back(t);
    return t;
}

const TensorInfo &WeightBinder::take(const std::string &name,
                                     std::initializer_list<int64_t> shape) {
    return *bind(name, std::vector<int64_t>(shape), true);
}
const TensorInfo &WeightBinder::take(const std::string &name, const std::vector<int64_t> &shape) {
    return *bind(name, shape, true);
}
const TensorInfo *WeightBinder::take_optional(const std::string &name,
                                              std::initializer_list<int64_t> shape) {
    return bind(name, std::vector<int64_t>(shape), false);
}
const TensorInfo *WeightBinder::take_optional(const std::string &name,
                                              const std::vector<int64_t> &shape) {
    return bind(name, shape, false);
}

void WeightBinder::ignore_matching(std::string_view substring) {
    ignored_.emplace_back(substring);
}

void WeightBinder::finish() const {
    std::set<const TensorInfo *> taken(taken_.begin(), taken_.end());
    std::vector<const TensorInfo *> extra;
    for (const TensorInfo *t : store_->all()) {
        if (taken.count(t)) continue;
        bool ignored = std::any_of(ignored_.begin(), ignored_.end(), [&](const std::string &s) {
            return t->name.find(s) != std::string::npos;
        });
        if (!ignored) extra.push_back(t);
    }
    if (extra.empty()) return;
    std::string msg = extra.front()->file + ": unexpected tensor " +
                      printable(extra.front()->name) + " (not used by the architecture)";
    if (extra.size() > 1) msg += " and " + std::to_string(extra.size() - 1) + " more";
    fail(HFK_E_FORMAT, msg);
}

}  // namespace hfk
