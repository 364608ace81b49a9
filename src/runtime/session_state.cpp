#include "runtime/session_state.h"

#include <algorithm>
#include <bit>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <string>
#include <system_error>

#include "util/error.h"

namespace hfk {
namespace {

static_assert(std::endian::native == std::endian::little,
              "the session file format is little-endian; add byte swapping for this platform");

// FNV-1a, 64 bits: enough to tell files apart and to catch corruption, cheap to stream.
struct Fnv {
    uint64_t h = 0xcbf29ce484222325ull;
    void add(const void *data, size_t n) {
        const auto *p = static_cast<const unsigned char *>(data);
        for (size_t i = 0; i < n; ++i) {
            h ^= p[i];
            h *= 0x100000001b3ull;
        }
    }
    void add_u64(uint64_t v) { add(&v, sizeof v); }
};

// Field order of the fixed header (all little-endian).
struct Header {
    char magic[8];
    uint32_t version;
    uint32_t kv_type;
    uint64_t config_hash, weights_hash;
    uint64_t n_blocks, row_floats, n_logits;
    uint64_t n_tokens, n_last_tokens, conversation_bytes, has_logits;
    uint64_t rng_state;
};
static_assert(sizeof(Header) == 96, "no padding in the header");

constexpr uint64_t kMaxConversationBytes = uint64_t(1) << 30;

void hash_file_part(Fnv &f, std::ifstream &in, uint64_t offset, uint64_t n) {
    std::vector<char> buf(static_cast<size_t>(n));
    in.seekg(static_cast<std::streamoff>(offset));
    in.read(buf.data(), static_cast<std::streamsize>(n));
    f.add(buf.data(), static_cast<size_t>(in.gcount()));
}

}  // namespace

ModelIdentity model_identity(const LoadedModel &model) {
    ModelIdentity id;
    Fnv c;
    const std::string config = model.model->config().raw.dump();
    c.add(config.data(), config.size());
    c.add_u64(static_cast<uint64_t>(model.model->vocab_size()));
    c.add_u64(static_cast<uint64_t>(model.n_decodable));
    id.config_hash = c.h;
    Fnv w;
    std::vector<MappedWeightsFile> files = model.weight_files;
    std::sort(files.begin(), files.end(),
              [](const auto &a, const auto &b) { return a.path.filename() < b.path.filename(); });
    for (const MappedWeightsFile &f : files) {
        const std::string name = f.path.filename().string();
        w.add(name.data(), name.size());
        w.add_u64(f.size);
        std::ifstream in(f.path, std::ios::binary);
        if (!in) fail(HFK_E_IO, "cannot read the weights file " + f.path.string());
        // The safetensors header (tensor names, shapes, offsets) is in the first bytes; the
        // last bytes are weights.
        const uint64_t head = std::min<uint64_t>(f.size, 1 << 20);
        hash_file_part(w, in, 0, head);
        const uint64_t tail = std::min<uint64_t>(f.size - head, 1 << 16);
        if (tail > 0) hash_file_part(w, in, f.size - tail, tail);
    }
    id.weights_hash = w.h;
    return id;
}

void save_session(const Session &session, const std::filesystem::path &path) {
    const SessionSnapshot s = session.snapshot();
    const ModelIdentity who = model_identity(session.model());
    Header h{};
    std::memcpy(h.magic, kSessionMagic, sizeof h.magic);
    h.version = kSessionVersion;
    h.kv_type = kSessionKvF32;
    h.config_hash = who.config_hash;
    h.weights_hash = who.weights_hash;
    h.n_blocks = static_cast<uint64_t>(s.n_blocks);
    h.row_floats = static_cast<uint64_t>(s.row_floats);
    h.n_logits = static_cast<uint64_t>(session.model().model->vocab_size());
    h.n_tokens = s.tokens.size();
    h.n_last_tokens = s.last_tokens.size();
    h.conversation_bytes = s.conversation.size();
    h.has_logits = s.logits.empty() ? 0 : 1;
    h.rng_state = s.rng_state;

    std::filesystem::path tmp = path;
    tmp += ".tmp";
    std::FILE *f = std::fopen(tmp.c_str(), "wb");
    if (!f) fail(HFK_E_IO, "cannot create " + tmp.string() + ": " + std::strerror(errno));
    Fnv sum;
    bool ok = true;
    int err = 0;
    auto put = [&](const void *data, size_t n) {
        if (!ok || n == 0) return;
        sum.add(data, n);
        if (std::fwrite(data, 1, n, f) != n) {
            ok = false;
            err = errno;
        }
    };
    put(&h, sizeof h);
    put(s.tokens.data(), s.tokens.size() * sizeof(int32_t));
    put(s.last_tokens.data(), s.last_tokens.size() * sizeof(int32_t));
    put(s.conversation.data(), s.conversation.size());
    put(s.logits.data(), s.logits.size() * sizeof(float));
    put(s.kv.data(), s.kv.size() * sizeof(float));
    const uint64_t checksum = sum.h;
    if (ok && std::fwrite(&checksum, 1, sizeof checksum, f) != sizeof checksum) {
        ok = false;
        err = errno;
    }
    if (std::fflush(f) != 0 && ok) {
        ok = false;
        err = errno;
    }
    std::fclose(f);
    if (!ok) {
        std::remove(tmp.c_str());
        fail(err == ENOSPC || err == EFBIG ? HFK_E_NO_SPACE : HFK_E_IO,
             "cannot write " + tmp.string() + ": " + std::strerror(err));
    }
    std::error_code ec;
    std::filesystem::rename(tmp, path, ec);
    if (ec) {
        std::remove(tmp.c_str());
        fail(HFK_E_IO,
             "cannot rename " + tmp.string() + " to " + path.string() + ": " + ec.message());
    }
}

void restore_session(Session &session, const std::filesystem::path &path) {
    std::error_code ec;
    if (!std::filesystem::is_regular_file(path, ec))
        fail(HFK_E_NOT_FOUND, "no session state file at " + path.string());
    const uint64_t file_size = std::filesystem::file_size(path, ec);
    if (ec) fail(HFK_E_IO, "cannot read " + path.string() + ": " + ec.message());
    std::ifstream in(path, std::ios::binary);
    if (!in) fail(HFK_E_IO, "cannot open " + path.string());
    const std::string what = "session state " + path.string() + ": ";

    Header h{};
    if (file_size < sizeof h)
        fail(HFK_E_FORMAT,
             what + "too short to be a session state (" + std::to_string(file_size) + " bytes)");
    in.read(reinterpret_cast<char *>(&h), sizeof h);
    if (!in) fail(HFK_E_IO, what + "read failed");
    if (std::memcmp(h.magic, kSessionMagic, sizeof h.magic) != 0)
        fail(HFK_E_FORMAT, what + "not an hfkit session state (bad magic)");
    if (h.version != kSessionVersion)
        fail(HFK_E_UNSUPPORTED, what + "format version " + std::to_string(h.version) +
                                    ", this library reads version " +
                                    std::to_string(kSessionVersion));
    if (h.kv_type != kSessionKvF32)
        fail(HFK_E_UNSUPPORTED,
             what + "KV cache type " + std::to_string(h.kv_type) + " is not supported (1 = F32)");

    // Sizes are checked against this session and the file's length before anything is
    // allocated, so a corrupt count cannot ask for gigabytes.
    const LoadedModel &model = session.model();
    const ModelIdentity who = model_identity(model);
    if (h.config_hash != who.config_hash || h.weights_hash != who.weights_hash ||
        h.n_logits != static_cast<uint64_t>(model.model->vocab_size()))
        fail(HFK_E_INVALID_ARG,
             what + "it was saved from a different model (" +
                 (h.config_hash != who.config_hash ? "config.json differs" : "the weights differ") +
                 ")");
    if (h.n_blocks != static_cast<uint64_t>(session.cache().n_blocks()) ||
        h.row_floats != static_cast<uint64_t>(session.cache().row_floats()))
        fail(HFK_E_INVALID_ARG, what + "its KV cache shape differs from this model's");
    if (h.n_tokens > static_cast<uint64_t>(session.capacity()))
        fail(HFK_E_CONTEXT_FULL, what + "it holds " + std::to_string(h.n_tokens) +
                                     " tokens but this session's context is " +
                                     std::to_string(session.capacity()));
    if (h.n_last_tokens > (uint64_t(1) << 31) || h.conversation_bytes > kMaxConversationBytes ||
        h.has_logits > 1)
        fail(HFK_E_FORMAT, what + "the header's counts are out of range (corrupt file)");
    const uint64_t kv_floats = h.n_blocks * h.n_tokens * h.row_floats;
    const uint64_t expected = sizeof h + 4 * (h.n_tokens + h.n_last_tokens) + h.conversation_bytes +
                              4 * h.has_logits * h.n_logits + 4 * kv_floats + sizeof(uint64_t);
    if (file_size != expected)
        fail(HFK_E_FORMAT, what + (file_size < expected ? "truncated" : "has trailing bytes") +
                               " (" + std::to_string(file_size) + " bytes, the header says " +
                               std::to_string(expected) + ")");

    Fnv sum;
    sum.add(&h, sizeof h);
    auto get = [&](void *data, size_t n) {
        if (n == 0) return;
        in.read(static_cast<char *>(data), static_cast<std::streamsize>(n));
        if (!in) fail(HFK_E_IO, what + "read failed");
        sum.add(data, n);
    };
    SessionSnapshot s;
    s.tokens.resize(h.n_tokens);
    get(s.tokens.data(), s.tokens.size() * sizeof(int32_t));
    s.last_tokens.resize(h.n_last_tokens);
    get(s.last_tokens.data(), s.last_tokens.size() * sizeof(int32_t));
    s.conversation.resize(h.conversation_bytes);
    get(s.conversation.data(), s.conversation.size());
    s.logits.resize(h.has_logits * h.n_logits);
    get(s.logits.data(), s.logits.size() * sizeof(float));
    s.kv.resize(kv_floats);
    get(s.kv.data(), s.kv.size() * sizeof(float));
    uint64_t checksum = 0;
    in.read(reinterpret_cast<char *>(&checksum), sizeof checksum);
    if (!in) fail(HFK_E_IO, what + "read failed");
    if (checksum != sum.h) fail(HFK_E_FORMAT, what + "checksum mismatch (corrupt file)");
    if ((h.n_tokens == 0) != (h.has_logits == 0))
        fail(HFK_E_FORMAT, what + "logits present without tokens, or missing (corrupt file)");
    s.rng_state = h.rng_state;
    s.n_blocks = static_cast<int64_t>(h.n_blocks);
    s.row_floats = static_cast<int64_t>(h.row_floats);
    session.restore(std::move(s));
}

}  // namespace hfk
