// Reads safetensors headers through ModelFiles (local files or HTTP Range requests).
#include "inspect/weight_headers.h"

#include <algorithm>
#include <future>
#include <map>
#include <set>

#include "model/config.h"
#include "model/message_text.h"
#include "util/error.h"

namespace hfk::inspect {

namespace {

constexpr const char *kSingleFile = "model.safetensors";
constexpr const char *kIndexFile = "model.safetensors.index.json";
constexpr size_t kIndexMaxBytes = 64u << 20;  // the largest real indexes are a few MB
constexpr size_t kParallelReads = 8;          // shards read at once (Hub latency, not bandwidth)

bool ends_with(const std::string &s, std::string_view suffix) {
    return s.size() >= suffix.size() &&
           s.compare(s.size() - suffix.size(), suffix.size(), suffix) == 0;
}

// A weight_map value must name a file beside the index (RELIABILITY.md ST-h, a.5), checked before
// anything is read.
void check_shard_name(const std::string &name) {
    auto reject = [&](const char *why) {
        fail(HFK_E_FORMAT, std::string(kIndexFile) + ": shard file name " + printable(name) +
                               " rejected: " + why);
    };
    if (name.empty() || name.size() > 255) reject("empty or longer than 255 bytes");
    for (unsigned char c : name) {
        if (c < 0x20 || c == 0x7f) reject("contains a control character");
        if (c == '/' || c == '\\' || c == ':') reject("must be a plain file name beside the index");
    }
    if (!ends_with(name, ".safetensors")) reject("does not end in .safetensors");
}

struct OneFile {
    std::vector<TensorInfo> tensors;
    uint64_t file_bytes = 0, header_bytes = 0;
};

OneFile read_one(ModelFiles &files, const std::string &name) {
    const std::string where = files.where() + "/" + name;
    std::string first = files.read_range(name, 0, 8);
    if (first.size() < 8)
        fail(HFK_E_FORMAT, where + ": " + std::to_string(first.size()) +
                               " bytes, shorter than the 8-byte safetensors header length");
    uint64_t n = 0;
    try {
        n = safetensors_header_length(
            {reinterpret_cast<const std::byte *>(first.data()), first.size()});
    } catch (const Error &e) {
        fail(e.status(), where + ": " + e.what());
    }
    if (n > kMaxHeaderBytes)
        fail(HFK_E_FORMAT, where + ": safetensors header length " + std::to_string(n) +
                               " exceeds the inspector's limit of " +
                               std::to_string(kMaxHeaderBytes));
    if (n < 2)
        fail(HFK_E_FORMAT, where + ": safetensors header length " + std::to_string(n) +
                               " is too small for a JSON object");
    std::string header = files.read_range(name, 8, n);
    if (header.size() != n)
        fail(HFK_E_FORMAT, where + ": the file ends inside its safetensors header (" +
                               std::to_string(header.size()) + " of " + std::to_string(n) +
                               " bytes)");
    OneFile out;
    out.tensors = parse_safetensors_header_only(header, name);
    out.header_bytes = 8 + n;
    const uint64_t data = safetensors_data_size(out.tensors);
    if (__builtin_add_overflow(out.header_bytes, data, &out.file_bytes))
        fail(HFK_E_FORMAT, where + ": data size overflows");
    // ST11, when the size is known without downloading: every byte is indexed.
    if (std::optional<uint64_t> size = files.file_size(name); size && *size != out.file_bytes)
        fail(HFK_E_FORMAT, where + ": the header describes " + std::to_string(out.file_bytes) +
                               " bytes but the file has " + std::to_string(*size));
    for (TensorInfo &t : out.tensors) t.file = name;
    return out;
}

// The shard list of an index, plus the tensor -> shard map to cross-check the headers with.
std::vector<std::string> read_index(ModelFiles &files, const std::set<std::string> &listing,
                                    std::map<std::string, std::string> &tensor_to_shard) {
    const std::string where = files.where() + "/" + kIndexFile;
    nlohmann::json index =
        parse_untrusted_json(files.read_small(kIndexFile, kIndexMaxBytes), where, kIndexMaxBytes);
    auto bad = [&](const std::string &what) { fail(HFK_E_FORMAT, where + ": " + what); };
    if (!index.is_object()) bad("not a JSON object");
    auto wm = index.find("weight_map");
    if (wm == index.end() || !wm->is_object()) bad("\"weight_map\" missing or not an object");
    std::set<std::string> shards;
    for (auto it = wm->begin(); it != wm->end(); ++it) {
        if (!it.value().is_string())
            bad("weight_map value for " + printable(it.key()) + " is not a string");
        if (it.key().empty() || it.key().size() > kSafetensorsMaxNameBytes)
            bad("weight_map has an invalid tensor name " + printable(it.key(), 64));
        const std::string &shard = it.value().get_ref<const std::string &>();
        check_shard_name(shard);
        shards.insert(shard);
        tensor_to_shard[it.key()] = shard;
    }
    if (shards.empty()) bad("weight_map is empty");
    if (shards.size() > kMaxShards)
        bad(std::to_string(shards.size()) + " shards, above the limit of " +
            std::to_string(kMaxShards));
    for (const std::string &s : shards)
        if (!listing.count(s))
            fail(HFK_E_NOT_FOUND, where + ": shard " + printable(s) +
                                      " is listed but missing from " + files.where());
    return {shards.begin(), shards.end()};
}

}  // namespace

WeightHeaders read_weight_headers(ModelFiles &files) {
    const std::vector<std::string> names = files.list();
    const std::set<std::string> listing(names.begin(), names.end());

    WeightHeaders out;
    std::map<std::string, std::string> tensor_to_shard;  // only for an index
    // model.safetensors first, as the loader (WeightStore) does when a repo has both.
    if (listing.count(kSingleFile)) {
        out.files = {kSingleFile};
    } else if (listing.count(kIndexFile)) {
        out.files = read_index(files, listing, tensor_to_shard);
    } else {
        for (const std::string &n : names)
            if (ends_with(n, ".safetensors") && n.find('/') == std::string::npos)
                out.files.push_back(n);
        if (out.files.size() > kMaxShards)
            fail(HFK_E_FORMAT, files.where() + ": more than " + std::to_string(kMaxShards) +
                                   " safetensors files");
    }

    // A few files at a time: for a Hub repo each header is two round trips.
    std::vector<OneFile> parts(out.files.size());
    for (size_t start = 0; start < out.files.size(); start += kParallelReads) {
        const size_t end = std::min(out.files.size(), start + kParallelReads);
        if (end - start == 1) {
            parts[start] = read_one(files, out.files[start]);
            continue;
        }
        std::vector<std::future<OneFile>> running;
        for (size_t i = start; i < end; ++i)
            running.push_back(std::async(std::launch::async, [&files, &name = out.files[i]] {
                return read_one(files, name);
            }));
        // Wait for all before rethrowing the first error, so no thread outlives `files`.
        for (auto &f : running) f.wait();
        for (size_t i = start; i < end; ++i) parts[i] = running[i - start].get();
    }

    for (size_t i = 0; i < parts.size(); ++i) {
        OneFile &p = parts[i];
        if (__builtin_add_overflow(out.file_bytes, p.file_bytes, &out.file_bytes) ||
            __builtin_add_overflow(out.header_bytes, p.header_bytes, &out.header_bytes))
            fail(HFK_E_FORMAT, files.where() + ": weight sizes overflow");
        if (out.header_bytes > kMaxTotalHeaderBytes)
            fail(HFK_E_FORMAT, files.where() + ": the safetensors headers total more than " +
                                   std::to_string(kMaxTotalHeaderBytes) + " bytes");
        for (TensorInfo &t : p.tensors) out.tensors.push_back(std::move(t));
    }

    // One tensor, one file; and with an index, the file the index says.
    std::map<std::string_view, const TensorInfo *> seen;
    for (const TensorInfo &t : out.tensors) {
        auto [it, fresh] = seen.emplace(t.name, &t);
        if (!fresh)
            fail(HFK_E_FORMAT, files.where() + ": tensor " + printable(t.name) +
                                   " appears in two files: " + it->second->file + " and " + t.file);
        if (!tensor_to_shard.empty()) {
            auto m = tensor_to_shard.find(t.name);
            if (m == tensor_to_shard.end() || m->second != t.file)
                fail(HFK_E_FORMAT, t.file + ": tensor " + printable(t.name) +
                                       " is not mapped to this shard in " + kIndexFile);
        }
    }
    for (const auto &[tensor, shard] : tensor_to_shard)
        if (!seen.count(tensor))
            fail(HFK_E_FORMAT, std::string(kIndexFile) + ": tensor " + printable(tensor) +
                                   " is mapped to " + shard + " but that shard does not hold it");
    return out;
}

}  // namespace hfk::inspect
