#include "tokenizer/added_vocabulary.h"

#include "tokenizer/json_util.h"
#include "tokenizer/unicode.h"
#include "tokenizer/utf8.h"

namespace hfk::tok {

void TokenMatcher::add(std::string_view p, int32_t index) {
    int32_t node = 0;
    for (unsigned char b : p) {
        uint64_t key = uint64_t(node) << 8 | b;
        auto it = children_.find(key);
        if (it == children_.end()) {
            int32_t n = int32_t(terminal_.size());
            terminal_.push_back(-1);
            it = children_.emplace(key, n).first;
        }
        node = it->second;
    }
    first_[static_cast<unsigned char>(p[0])] = true;
    if (terminal_[size_t(node)] < 0) terminal_[size_t(node)] = index;  // the first token wins ties
}

int32_t TokenMatcher::longest_at(std::string_view s, size_t pos, size_t &len) const {
    int32_t node = 0, found = -1;
    for (size_t i = pos; i < s.size(); ++i) {
        auto it = children_.find(uint64_t(node) << 8 | static_cast<unsigned char>(s[i]));
        if (it == children_.end()) break;
        node = it->second;
        if (terminal_[size_t(node)] >= 0) {
            found = terminal_[size_t(node)];
            len = i + 1 - pos;
        }
    }
    return found;
}

void AddedVocabulary::load(const json &list, int32_t model_max_id) {
    if (list.is_null()) return;
    if (!list.is_array()) bad("added_tokens", "expected an array");
    if (list.size() > kMaxAddedTokens)
        bad("added_tokens", std::to_string(list.size()) + " added tokens (limit " +
                                std::to_string(kMaxAddedTokens) + ")");
    // Added ids extend the model's, sometimes after a gap (onnxruntime-extensions' fixture has a
    // 14-token model and added ids 32003..32010): bound the gap as Vocab does.
    int64_t limit = 64 * (int64_t(model_max_id) + 1 + int64_t(list.size()) + 1024);
    for (size_t i = 0; i < list.size(); ++i) {
        const json &e = list[i];
        std::string at = "added_tokens[" + std::to_string(i) + "]";
        AddedToken t;
        t.content = get_string(e, "content", at);
        const json &id = field(e, "id", at);
        if (!id.is_number_integer()) bad(at + ".id", "expected an integer");
        if (id.is_number_unsigned() ? id.get<uint64_t>() >= uint64_t(limit)
                                    : (id.get<int64_t>() < 0 || id.get<int64_t>() >= limit))
            bad(at + ".id", "id " + id.dump() + " out of range (vocabulary has " +
                                std::to_string(model_max_id + 1) + " tokens)");
        t.id = id.get<int32_t>();
        if (t.content.empty()) bad(at + ".content", "empty added token");
        if (t.content.size() > Vocab::kMaxTokenBytes)
            bad(at + ".content", "longer than 1024 bytes");
        t.special = opt_bool(e, "special", at, false);
        t.single_word = opt_bool(e, "single_word", at, false);
        t.lstrip = opt_bool(e, "lstrip", at, false);
        t.rstrip = opt_bool(e, "rstrip", at, false);
        t.normalized = opt_bool(e, "normalized", at, !t.special);
        auto c = by_content_.find(t.content);
        if (c != by_content_.end()) {
            if (c->second != t.id)
                bad(at, "token '" + t.content.substr(0, 64) + "' added twice with different ids");
            continue;
        }
        if (by_id_.count(t.id))
            bad(at, "id " + std::to_string(t.id) + " given to two different added tokens");
        by_content_.emplace(t.content, t.id);
        by_id_.emplace(t.id, tokens_.size());
        max_id_ = std::max(max_id_, t.id);
        tokens_.push_back(std::move(t));
    }
}

void AddedVocabulary::build(const Normalizer *normalizer) {
    for (size_t i = 0; i < tokens_.size(); ++i) {
        const AddedToken &t = tokens_[i];
        if (!t.normalized) {
            raw_.add(t.content, int32_t(i));
            continue;
        }
        std::string n = t.content;
        if (normalizer) normalizer->normalize(n);
        if (!n.empty()) normalized_.add(n, int32_t(i));
    }
}

namespace {
char32_t last_char(std::string_view s) {
    size_t k = s.size() - 1;
    while (k > 0 && (static_cast<unsigned char>(s[k]) & 0xC0) == 0x80) --k;
    return utf8::next(s, k);
}
bool is_word_char(char32_t c) {
    return c == '_' || uni::is_alphanumeric(c);
}
}  // namespace

void AddedVocabulary::split(std::string_view s, bool normalized, std::vector<Segment> &out) const {
    const TokenMatcher &m = normalized ? normalized_ : raw_;
    size_t done = 0;  // end of the last emitted segment
    if (!m.empty()) {
        for (size_t pos = 0; pos < s.size();) {
            size_t len = 0;
            int32_t index =
                m.may_start(static_cast<unsigned char>(s[pos])) ? m.longest_at(s, pos, len) : -1;
            if (index < 0) {
                ++pos;
                continue;
            }
            const AddedToken &t = tokens_[size_t(index)];
            size_t start = pos, stop = pos + len;
            pos = stop;
            if (t.single_word) {
                bool before_ok = start == 0 || !is_word_char(last_char(s.substr(0, start)));
                size_t k = stop;
                bool after_ok = stop == s.size() || !is_word_char(utf8::next(s, k));
                if (!before_ok || !after_ok) continue;
            }
            if (t.lstrip) {
                size_t b = start;
                while (b > done) {
                    size_t k = b - 1;
                    while (k > 0 && (static_cast<unsigned char>(s[k]) & 0xC0) == 0x80) --k;
                    size_t j = k;
                    if (!uni::is_whitespace(utf8::next(s, j))) break;
                    b = k;
                }
                start = b;
            }
            if (t.rstrip) {
                while (stop < s.size()) {
                    size_t k = stop;
                    if (!uni::is_whitespace(utf8::next(s, k))) break;
                    stop = k;
                }
                pos = stop;
            }
            if (done < start) out.push_back({done, start, -1});
            out.push_back({start, stop, t.id});
            done = stop;
        }
    }
    if (done < s.size()) out.push_back({done, s.size(), -1});
}

}  // namespace hfk::tok
