// safetensors validation (RELIABILITY.md a.1). The header is read with a SAX handler, not a DOM:
// the structure is fixed (object of objects of arrays), so anything deeper or of the wrong kind is
// rejected as it streams past, nothing is allocated per byte of a hostile header beyond the tensor
// list itself, and duplicate keys (ST-a), which a DOM would silently collapse, are seen.
#include "model/safetensors.h"

#include <algorithm>
#include <cstring>
#include <unordered_set>

#include <nlohmann/json.hpp>

#include "model/message_text.h"
#include "model/mmap_file.h"
#include "util/error.h"

namespace hfk {

int64_t TensorInfo::numel() const {
    int64_t n = 1;
    for (int64_t d : shape) n *= d;  // validated: fits (nbytes <= 2^48, bits >= 4)
    return n;
}

bool TensorInfo::aligned(size_t alignment) const {
    if (nbytes == 0 || alignment <= 1) return true;
    return reinterpret_cast<uintptr_t>(data) % alignment == 0;
}

std::string shape_string(const std::vector<int64_t> &shape) {
    std::string s = "[";
    for (size_t i = 0; i < shape.size(); ++i) {
        if (i) s += ", ";
        s += std::to_string(shape[i]);
    }
    return s + "]";
}

namespace {

[[noreturn]] void bad(std::string_view file, const std::string &what) {
    fail(HFK_E_FORMAT, std::string(file) + ": invalid safetensors: " + what);
}

// ST-c: 1..1024 bytes, no C0/C1 control characters or DEL. UTF-8 validity is the JSON lexer's.
void check_tensor_name(std::string_view file, const std::string &name) {
    if (name.empty()) bad(file, "empty tensor name");
    if (name.size() > kSafetensorsMaxNameBytes)
        bad(file, "tensor name " + printable(name, 64) + " is " + std::to_string(name.size()) +
                      " bytes (limit " + std::to_string(kSafetensorsMaxNameBytes) + ")");
    for (size_t i = 0; i < name.size(); ++i) {
        unsigned char c = static_cast<unsigned char>(name[i]);
        bool c1 = c == 0xC2 && i + 1 < name.size() &&
                  static_cast<unsigned char>(name[i + 1]) >= 0x80 &&
                  static_cast<unsigned char>(name[i + 1]) <= 0x9F;
        if (c < 0x20 || c == 0x7f || c1)
            bad(file, "tensor name " + printable(name) + " contains a control character");
    }
}

struct RawEntry {
    std::string name;
    std::string dtype;
    bool has_dtype = false, has_shape = false, has_offsets = false;
    std::vector<uint64_t> shape;
    std::vector<uint64_t> offsets;
};

// Streams the header: { "name": {"dtype": S, "shape": [u...], "data_offsets": [u, u]}, ...,
// "__metadata__": {"k": "v", ...} }.
class HeaderSax {
  public:
    using json = nlohmann::json;
    explicit HeaderSax(std::string_view file) : file_(file) {}

    std::vector<RawEntry> entries;

    bool null() { return scalar("null"); }
    bool boolean(bool) { return scalar("a boolean"); }
    bool number_integer(json::number_integer_t) { return scalar("a negative number"); }
    bool number_float(json::number_float_t, const json::string_t &) {
        return scalar("a non-integer number");
    }
    bool binary(json::binary_t &) { return scalar("binary data"); }

    bool number_unsigned(json::number_unsigned_t v) {
        if (state_ != State::InArray) return scalar("a number");
        const char *field = array_is_shape_ ? "shape" : "data_offsets";
        if (v > kSafetensorsMaxInteger)
            bad(file_, "tensor " + printable(cur_.name) + ": " + field + " value " +
                           std::to_string(v) + " exceeds 2^48");
        auto &vec = array_is_shape_ ? cur_.shape : cur_.offsets;
        if (array_is_shape_ && vec.size() == kSafetensorsMaxRank)
            bad(file_, "tensor " + printable(cur_.name) + ": rank exceeds " +
                           std::to_string(kSafetensorsMaxRank));
        if (!array_is_shape_ && vec.size() == 2)
            bad(file_, "tensor " + printable(cur_.name) + ": data_offsets has more than 2 entries");
        vec.push_back(v);
        return true;
    }

    bool string(json::string_t &s) {
        if (state_ == State::InEntry && field_ == Field::Dtype) {
            cur_.dtype = s;
            cur_.has_dtype = true;
            state_ = State::Entry;
            return true;
        }
        if (state_ == State::InMetadata) {
            state_ = State::Metadata;
            return true;
        }
        return scalar("a string");
    }

    bool start_object(std::size_t) {
        switch (state_) {
            case State::Start:
                state_ = State::Top;
                return true;
            case State::TopValue:
                if (in_metadata_key_) {
                    state_ = State::Metadata;
                    metadata_keys_.clear();
                } else {
                    state_ = State::Entry;
                }
                return true;
            default:
                return scalar("an object");
        }
    }

    bool key(json::string_t &k) {
        if (state_ == State::Top) {
            in_metadata_key_ = (k == "__metadata__");
            if (in_metadata_key_) {
                if (seen_metadata_) bad(file_, "duplicate key \"__metadata__\"");
                seen_metadata_ = true;
            } else {
                check_tensor_name(file_, k);
                if (!names_.insert(k).second)
                    bad(file_, "duplicate tensor name " + printable(k) +
                                   " (duplicate JSON keys are rejected)");
                if (names_.size() > kSafetensorsMaxTensors)
                    bad(file_, "more than " + std::to_string(kSafetensorsMaxTensors) + " tensors");
                cur_ = RawEntry{};
                cur_.name = k;
            }
            state_ = State::TopValue;
            return true;
        }
        if (state_ == State::Entry) {
            Field f;
            bool seen;
            if (k == "dtype") {
                f = Field::Dtype;
                seen = cur_.has_dtype;
            } else if (k == "shape") {
                f = Field::Shape;
                seen = cur_.has_shape;
            } else if (k == "data_offsets") {
                f = Field::Offsets;
                seen = cur_.has_offsets;
            } else {
                bad(file_, "tensor " + printable(cur_.name) + ": unknown field " + printable(k));
            }
            if (seen)
                bad(file_, "tensor " + printable(cur_.name) + ": duplicate field \"" + k + "\"");
            field_ = f;
            state_ = State::InEntry;
            return true;
        }
        if (state_ == State::Metadata) {
            if (!metadata_keys_.insert(k).second)
                bad(file_, "duplicate __metadata__ key " + printable(k));
            metadata_key_ = k;
            state_ = State::InMetadata;
            return true;
        }
        bad(file_, "unexpected key " + printable(k));
    }

    bool end_object() {
        switch (state_) {
            case State::Top:
                state_ = State::Done;
                return true;
            case State::Metadata:
                state_ = State::Top;
                return true;
            case State::Entry:
                if (!cur_.has_dtype)
                    bad(file_, "tensor " + printable(cur_.name) + ": missing dtype");
                if (!cur_.has_shape)
                    bad(file_, "tensor " + printable(cur_.name) + ": missing shape");
                if (!cur_.has_offsets)
                    bad(file_, "tensor " + printable(cur_.name) + ": missing data_offsets");
                entries.push_back(std::move(cur_));
                cur_ = RawEntry{};
                state_ = State::Top;
                return true;
            default:
                bad(file_, "malformed header structure");
        }
    }

    bool start_array(std::size_t) {
        if (state_ == State::InEntry && (field_ == Field::Shape || field_ == Field::Offsets)) {
            array_is_shape_ = field_ == Field::Shape;
            state_ = State::InArray;
            return true;
        }
        return scalar("an array");
    }

    bool end_array() {
        if (state_ != State::InArray) bad(file_, "malformed header structure");
        if (array_is_shape_) {
            cur_.has_shape = true;
        } else {
            if (cur_.offsets.size() != 2)
                bad(file_, "tensor " + printable(cur_.name) + ": data_offsets must have 2 entries");
            cur_.has_offsets = true;
        }
        state_ = State::Entry;
        return true;
    }

    bool parse_error(std::size_t position, const std::string &,
                     const nlohmann::detail::exception &) {
        bad(file_, "header is not valid JSON (error at byte " + std::to_string(position) + ")");
    }

    bool done() const { return state_ == State::Done; }

  private:
    enum class State { Start, Top, TopValue, Entry, InEntry, InArray, Metadata, InMetadata, Done };
    enum class Field { Dtype, Shape, Offsets };

    // A value of the wrong kind for where it appears.
    bool scalar(const char *kind) {
        switch (state_) {
            case State::Start:
                bad(file_, std::string("header is ") + kind + ", not a JSON object");
            case State::TopValue:
                if (in_metadata_key_)
                    bad(file_, std::string("__metadata__ is ") + kind + ", not an object");
                bad(file_,
                    "tensor " + printable(cur_.name) + ": entry is " + kind + ", not an object");
            case State::InEntry: {
                const char *f = field_ == Field::Dtype ? "dtype must be a string"
                                : field_ == Field::Shape
                                    ? "shape must be an array of integers"
                                    : "data_offsets must be an array of integers";
                bad(file_, "tensor " + printable(cur_.name) + ": " + f + ", found " + kind);
            }
            case State::InArray:
                bad(file_, "tensor " + printable(cur_.name) + ": " +
                               (array_is_shape_ ? "shape" : "data_offsets") +
                               " entries must be non-negative integers (no sign, fraction or "
                               "exponent), found " +
                               kind);
            case State::InMetadata:
                bad(file_, "__metadata__ value for key " + printable(metadata_key_) +
                               " must be a string, found " + kind);
            default:
                bad(file_, std::string("unexpected ") + kind + " in header");
        }
    }

    std::string_view file_;
    State state_ = State::Start;
    Field field_ = Field::Dtype;
    bool array_is_shape_ = false;
    bool in_metadata_key_ = false;
    bool seen_metadata_ = false;
    RawEntry cur_;
    std::string metadata_key_;
    std::unordered_set<std::string> names_;
    std::unordered_set<std::string> metadata_keys_;
};

}  // namespace

std::vector<TensorInfo> parse_safetensors_header_only(std::string_view header_json,
                                                      std::string_view file_name) {
    // nlohmann's lexer takes a NUL byte for the end of input, so "{}\0junk" would pass; valid
    // JSON never contains a raw NUL (strings must escape it), so reject it outright.
    if (header_json.find('\0') != std::string_view::npos)
        bad(file_name, "header contains a NUL byte (not valid JSON)");
    HeaderSax sax(file_name);
    nlohmann::json::sax_parse(header_json.begin(), header_json.end(), &sax);
    if (!sax.done()) bad(file_name, "header is not a complete JSON object");

    std::vector<TensorInfo> out;
    out.reserve(sax.entries.size());
    for (RawEntry &e : sax.entries) {
        TensorInfo t;
        auto dt = dtype_from_name(e.dtype);
        if (!dt)
            bad(file_name, "tensor " + printable(e.name) + ": unknown dtype " + printable(e.dtype));
        t.dtype = *dt;
        // ST8: element count and bit count with checked multiplication.
        uint64_t numel = 1, nbits = 0;
        for (uint64_t d : e.shape)
            if (__builtin_mul_overflow(numel, d, &numel))
                bad(file_name, "tensor " + printable(e.name) + ": shape " + "product overflows");
        if (__builtin_mul_overflow(numel, uint64_t(dtype_bits(t.dtype)), &nbits))
            bad(file_name, "tensor " + printable(e.name) + ": size in bits overflows");
        if (nbits % 8 != 0)  // ST9
            bad(file_name, "tensor " + printable(e.name) + ": " + std::to_string(numel) + " x " +
                               dtype_name(t.dtype) + " is not a whole number of bytes");
        uint64_t begin = e.offsets[0], end = e.offsets[1];
        if (end < begin)
            bad(file_name, "tensor " + printable(e.name) + ": data_offsets [" +
                               std::to_string(begin) + ", " + std::to_string(end) +
                               "] end before begin");
        if (end - begin != nbits / 8)  // ST10
            bad(file_name, "tensor " + printable(e.name) + ": data_offsets span " +
                               std::to_string(end - begin) + " bytes but " + dtype_name(t.dtype) +
                               " x " + std::to_string(numel) + " elements need " +
                               std::to_string(nbits / 8));
        t.shape.assign(e.shape.begin(), e.shape.end());  // each <= 2^48: fits int64
        t.offset = begin;
        t.nbytes = end - begin;
        t.name = std::move(e.name);
        t.file = std::string(file_name);
        out.push_back(std::move(t));
    }
    // ST7: sorted by offsets, each tensor starts where the previous ended, the first at 0.
    std::stable_sort(out.begin(), out.end(), [](const TensorInfo &a, const TensorInfo &b) {
        if (a.offset != b.offset) return a.offset < b.offset;
        return a.nbytes < b.nbytes;
    });
    uint64_t expect = 0;
    for (const TensorInfo &t : out) {
        if (t.offset != expect)
            bad(file_name, "tensor " + printable(t.name) + ": data_offsets begin at " +
                               std::to_string(t.offset) + " but the previous tensor ends at " +
                               std::to_string(expect) +
                               (t.offset < expect ? " (overlap)" : " (hole)"));
        expect = t.offset + t.nbytes;  // both <= 2^48: no overflow
    }
    return out;
}

uint64_t safetensors_data_size(const std::vector<TensorInfo> &tensors) {
    return tensors.empty() ? 0 : tensors.back().offset + tensors.back().nbytes;
}

uint64_t safetensors_header_length(std::span<const std::byte> first8) {
    if (first8.size() < 8) fail(HFK_E_FORMAT, "invalid safetensors: fewer than 8 bytes");
    uint64_t n = 0;
    for (int i = 7; i >= 0; --i) n = (n << 8) | std::to_integer<uint64_t>(first8[size_t(i)]);
    if (n > kSafetensorsMaxHeader)
        fail(HFK_E_FORMAT, "invalid safetensors: header length " + std::to_string(n) +
                               " exceeds the limit of " + std::to_string(kSafetensorsMaxHeader));
    return n;
}

std::vector<TensorInfo> parse_safetensors(std::span<const std::byte> bytes,
                                          std::string_view file_name) {
    if (bytes.size() < 8)  // ST1
        bad(file_name, "file is " + std::to_string(bytes.size()) +
                           " bytes, shorter than the 8-byte header length");
    uint64_t n;
    try {
        n = safetensors_header_length(bytes.first(8));  // ST2
    } catch (const Error &e) {
        fail(e.status(), std::string(file_name) + ": " + e.what());
    }
    uint64_t header_end;
    if (__builtin_add_overflow(n, uint64_t(8), &header_end) || header_end > bytes.size())  // ST3
        bad(file_name, "header length " + std::to_string(n) + " runs past the end of the file (" +
                           std::to_string(bytes.size()) + " bytes)");
    std::string_view header(reinterpret_cast<const char *>(bytes.data()) + 8, size_t(n));
    std::vector<TensorInfo> tensors = parse_safetensors_header_only(header, file_name);

    const std::byte *data = bytes.data() + header_end;
    uint64_t data_len = bytes.size() - header_end;
    for (TensorInfo &t : tensors) {
        uint64_t end;
        if (__builtin_add_overflow(t.offset, t.nbytes, &end) || end > data_len)  // ST-d
            bad(file_name, "tensor " + printable(t.name) + " ends at data byte " +
                               std::to_string(t.offset + t.nbytes) +
                               " but the data section has only " + std::to_string(data_len) +
                               " bytes (file truncated?)");
        t.data = data + t.offset;
    }
    uint64_t used = safetensors_data_size(tensors);
    if (used != data_len)  // ST11: every byte is indexed (no polyglot trailer)
        bad(file_name,
            std::to_string(data_len - used) + " bytes after the last tensor" +
                (tensors.empty() ? std::string() : " (" + printable(tensors.back().name) + ")") +
                " are not covered by any tensor");
    return tensors;
}

std::unique_ptr<SafetensorsFile> SafetensorsFile::open(const std::filesystem::path &path) {
    std::unique_ptr<SafetensorsFile> f(new SafetensorsFile());
    f->map_ = MappedFile::open(path);
    f->tensors_ = parse_safetensors(f->map_->bytes(), path.filename().string());
    return f;
}

SafetensorsFile::~SafetensorsFile() = default;

void SafetensorsFile::populate(uint64_t offset, uint64_t length) const {
    map_->populate(offset, length);
}

uint64_t SafetensorsFile::file_size() const {
    return map_->size();
}

const std::filesystem::path &SafetensorsFile::path() const {
    return map_->path();
}

}  // namespace hfk
