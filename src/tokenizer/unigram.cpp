// The Unigram model (SentencePiece unigram, e.g. T5): the Viterbi path of highest total score
// over all segmentations into vocabulary pieces. A character no piece covers becomes an unknown
// node scored min_score - 10 (SentencePiece's kUnkPenalty); consecutive unknowns are fused.
//
// Scores are read as the Rust library reads them (serde_json without float_roundtrip), which is
// not always the correctly rounded double: two segmentations with the same pieces in a different
// order have equal scores on paper, and which one wins depends on those last bits.
#include <array>
#include <charconv>
#include <cmath>
#include <cstdlib>

#include "tokenizer/json_util.h"
#include "tokenizer/models.h"
#include "tokenizer/utf8.h"
#include "tokenizer/vocab.h"

namespace hfk::tok {

namespace {

// serde_json's f64_from_parts without the float_roundtrip feature: the decimal significand
// converted to f64 (rounded once if beyond 2^53), then multiplied or divided by a power of ten
// (rounded again). 17-digit scores such as -12.486284255981445 come out one ulp away from the
// correctly rounded value.
double serde_f64_from_parts(bool positive, uint64_t significand, int exponent) {
    static const std::array<double, 309> pow10 = [] {
        std::array<double, 309> p{};
        for (int i = 0; i < 309; ++i)
            p[size_t(i)] = std::strtod(("1e" + std::to_string(i)).c_str(), nullptr);
        return p;
    }();
    double f = double(significand);
    for (;;) {
        unsigned a = unsigned(exponent < 0 ? -exponent : exponent);
        if (a < pow10.size()) {
            if (exponent >= 0)
                f *= pow10[a];
            else
                f /= pow10[a];
            break;
        }
        if (f == 0.0 || exponent >= 0) break;  // (serde_json reports overflow; scores are finite)
        f /= 1e308;
        exponent += 308;
    }
    return positive ? f : -f;
}

// The double serde_json reads for the number a JSON score was written as. nlohmann's parse is
// correctly rounded, so its shortest round-trip spelling is the text of the file (tokenizers and
// Python's json both write shortest round-trip decimals); that text is parsed as serde_json does.
double serde_json_score(const json &v) {
    double d = v.get<double>();
    if (!v.is_number_float() || !std::isfinite(d)) return d;
    char buf[64];
    auto [end, ec] = std::to_chars(buf, buf + sizeof buf, d);
    if (ec != std::errc()) return d;
    const char *p = buf;
    bool positive = true;
    if (p < end && *p == '-') {
        positive = false;
        ++p;
    }
    uint64_t sig = 0;
    int exponent = 0, digits = 0;
    bool point = false;
    for (; p < end; ++p) {
        if (*p == '.') {
            point = true;
            continue;
        }
        if (*p < '0' || *p > '9') break;
        if (++digits > 19) return d;  // never for a shortest spelling (at most 17 digits)
        sig = sig * 10 + uint64_t(*p - '0');
        if (point) --exponent;
    }
    if (p < end && (*p == 'e' || *p == 'E')) {
        int e = 0;
        auto r = std::from_chars(p + 1 + (p[1] == '+'), end, e);
        if (r.ec != std::errc()) return d;
        exponent += e;
    }
    return serde_f64_from_parts(positive, sig, exponent);
}

class Unigram final : public Model {
  public:
    Unigram(const json &j, const std::string &where) {
        const json &vocab = field(j, "vocab", where);
        if (!vocab.is_array()) bad(where + ".vocab", "expected an array of [piece, score]");
        scores_.reserve(vocab.size());
        vocab_.reserve(vocab.size());
        for (size_t i = 0; i < vocab.size(); ++i) {
            const json &e = vocab[i];
            std::string at = where + ".vocab[" + std::to_string(i) + "]";
            if (!e.is_array() || e.size() != 2 || !e[0].is_string() || !e[1].is_number())
                bad(at, "expected [piece, score]");
            double score = serde_json_score(e[1]);
            if (!std::isfinite(score)) bad(at, "score is not finite");
            const std::string &piece = e[0].get_ref<const std::string &>();
            vocab_.add(piece, int64_t(i), at);
            scores_.push_back(score);
            min_score_ = std::min(min_score_, score);
            max_len_ = std::max(max_len_, piece.size());
        }
        if (has(j, "unk_id")) {
            int64_t u = opt_int(j, "unk_id", where, -1);
            if (u < 0 || size_t(u) >= scores_.size()) bad(where + ".unk_id", "out of range");
            unk_id_ = int32_t(u);
        }
        byte_fallback_ = opt_bool(j, "byte_fallback", where, false);
    }

    void tokenize(std::string_view s, std::vector<int32_t> &out, WordCache *) const override {
        if (s.empty()) return;
        const double unk_score = min_score_ - 10.0;
        struct Node {
            int32_t id = -1;
            double score = 0;
            size_t start = SIZE_MAX;  // SIZE_MAX: not reached yet
        };
        std::vector<Node> best(s.size() + 1);
        best[0].start = 0;
        for (size_t at = 0; at < s.size();) {
            size_t n = utf8::valid_len(s, at);
            size_t char_end = at + (n ? n : 1);
            if (best[at].start == SIZE_MAX) {
                at = char_end;
                continue;
            }
            double base = best[at].score;
            bool single = false;
            for (size_t end = char_end; end <= s.size() && end - at <= max_len_;) {
                int32_t id = vocab_.find(s.substr(at, end - at));
                if (id >= 0) {
                    double cand = base + scores_[size_t(id)];
                    Node &t = best[end];
                    if (t.start == SIZE_MAX || cand > t.score) t = {id, cand, at};
                    if (end == char_end) single = true;
                }
                if (end == s.size()) break;
                size_t m = utf8::valid_len(s, end);
                end += m ? m : 1;
            }
            if (!single) {
                double cand = base + unk_score;
                Node &t = best[char_end];
                if (t.start == SIZE_MAX || cand > t.score) t = {unk_id_, cand, at};
            }
            at = char_end;
        }
        // Backtrack, then fuse runs of unknowns.
        std::vector<std::pair<size_t, size_t>> spans;
        std::vector<int32_t> ids;
        for (size_t end = s.size(); end > 0;) {
            const Node &nd = best[end];
            if (nd.start == SIZE_MAX || nd.start >= end) return;  // unreachable by construction
            spans.push_back({nd.start, end});
            ids.push_back(nd.id);
            end = nd.start;
        }
        for (size_t k = ids.size(); k-- > 0;) {
            size_t a = spans[k].first, b = spans[k].second;
            if (ids[k] == unk_id_) {
                while (k > 0 && ids[k - 1] == unk_id_) b = spans[--k].second;
            }
            emit(s.substr(a, b - a), out);
        }
    }

    int32_t token_to_id(std::string_view t) const override { return vocab_.find(t); }
    const std::string *id_to_token(int32_t id) const override { return vocab_.token(id); }
    int32_t max_id() const override { return vocab_.max_id(); }
    int32_t unk_id() const override { return unk_id_; }

  private:
    Vocab vocab_;
    std::vector<double> scores_;
    double min_score_ = 0;
    size_t max_len_ = 1;
    int32_t unk_id_ = -1;
    bool byte_fallback_ = false;

    void emit(std::string_view piece, std::vector<int32_t> &out) const {
        int32_t id = vocab_.find(piece);
        if (id >= 0) {
            out.push_back(id);
            return;
        }
        if (byte_fallback_) {
            std::vector<int32_t> bytes;
            static const char *hex = "0123456789ABCDEF";
            for (unsigned char b : piece) {
                char name[7] = {'<', '0', 'x', hex[b >> 4], hex[b & 15], '>', 0};
                int32_t bid = vocab_.find(name);
                if (bid < 0) break;
                bytes.push_back(bid);
            }
            if (bytes.size() == piece.size()) {
                out.insert(out.end(), bytes.begin(), bytes.end());
                return;
            }
        }
        if (unk_id_ < 0)
            fail(HFK_E_FORMAT, "tokenizer.json: model.unk_id is missing but the input needs it");
        out.push_back(unk_id_);
    }
};

}  // namespace

std::unique_ptr<Model> make_unigram(const json &j, const std::string &where) {
    return std::make_unique<Unigram>(j, where);
}

std::unique_ptr<Model> make_model(const json &j) {
    const std::string where = "model";
    if (!j.is_object()) bad(where, "expected an object");
    // Old files omit the type; the fields tell the model apart as the Rust deserializer does.
    std::string type = opt_string(j, "type", where, "");
    if (type.empty()) {
        if (has(j, "merges"))
            type = "BPE";
        else if (has(j, "vocab") && j.at("vocab").is_array())
            type = "Unigram";
        else if (has(j, "continuing_subword_prefix") || has(j, "max_input_chars_per_word"))
            type = "WordPiece";
        else
            type = "WordLevel";
    }
    if (type == "BPE") return make_bpe(j, where);
    if (type == "WordPiece") return make_wordpiece(j, where);
    if (type == "WordLevel") return make_wordlevel(j, where);
    if (type == "Unigram") return make_unigram(j, where);
    fail(HFK_E_UNSUPPORTED, "tokenizer.json: model: unsupported model type '" + type + "'");
}

}  // namespace hfk::tok
