// The BPE model: merges applied by rank over the characters of one pre-tokenized word, with the
// Rust library's options (byte_fallback, ignore_merges, continuing_subword_prefix,
// end_of_word_suffix, unk_token with fuse_unk). Each merge removes one symbol, so a word of k
// symbols needs at most k-1 merges: the loop is bounded by construction (RELIABILITY.md TK4).
#include <queue>

#include "tokenizer/json_util.h"
#include "tokenizer/models.h"
#include "tokenizer/utf8.h"
#include "tokenizer/vocab.h"

namespace hfk::tok {

namespace {

struct MergeInfo {
    int32_t rank;
    int32_t new_id;
};

inline uint64_t pair_key(int32_t a, int32_t b) {
    return uint64_t(uint32_t(a)) << 32 | uint32_t(b);
}

class Bpe final : public Model {
  public:
    Bpe(const json &j, const std::string &where);
    void tokenize(std::string_view word, std::vector<int32_t> &out,
                  WordCache *cache) const override;
    int32_t token_to_id(std::string_view t) const override { return vocab_.find(t); }
    const std::string *id_to_token(int32_t id) const override { return vocab_.token(id); }
    int32_t max_id() const override { return vocab_.max_id(); }
    int32_t unk_id() const override { return unk_id_; }

  private:
    Vocab vocab_;
    std::unordered_map<uint64_t, MergeInfo> merges_;
    int32_t unk_id_ = -1;
    bool fuse_unk_ = false, byte_fallback_ = false, ignore_merges_ = false;
    std::string prefix_, suffix_;
    int32_t byte_ids_[256];

    void merge_word(std::string_view word, std::vector<int32_t> &out) const;
};

Bpe::Bpe(const json &j, const std::string &where) {
    for (int32_t &b : byte_ids_) b = -1;
    const json &vocab = field(j, "vocab", where);
    if (!vocab.is_object()) bad(where + ".vocab", "expected an object of token -> id");
    vocab_.reserve(vocab.size());
    for (auto it = vocab.begin(); it != vocab.end(); ++it) {
        vocab_.add(it.key(), it.value(), where + ".vocab");
    }
    prefix_ = opt_string(j, "continuing_subword_prefix", where, "");
    suffix_ = opt_string(j, "end_of_word_suffix", where, "");
    fuse_unk_ = opt_bool(j, "fuse_unk", where, false);
    byte_fallback_ = opt_bool(j, "byte_fallback", where, false);
    ignore_merges_ = opt_bool(j, "ignore_merges", where, false);
    if (has(j, "dropout")) {
        const json &d = j.at("dropout");
        if (!d.is_number()) bad(where + ".dropout", "expected a number or null");
        double p = d.get<double>();
        if (!(p >= 0.0 && p <= 1.0)) bad(where + ".dropout", "must be in [0, 1]");
        // Dropout only applies when training; inference (and the Rust library at p = 0) ignores it.
    }
    if (has(j, "unk_token")) {
        std::string unk = get_string(j, "unk_token", where);
        unk_id_ = vocab_.find(unk);
        if (unk_id_ < 0)
            bad(where + ".unk_token", "'" + unk.substr(0, 64) + "' is not in the vocabulary");
    }
    if (byte_fallback_) {
        static const char *hex = "0123456789ABCDEF";
        for (int b = 0; b < 256; ++b) {
            char name[7] = {'<', '0', 'x', hex[b >> 4], hex[b & 15], '>', 0};
            byte_ids_[b] = vocab_.find(name);
        }
    }
    const json &merges = field(j, "merges", where);
    if (merges.is_object() && merges.empty()) return;  // {} : no merges
    if (!merges.is_array()) bad(where + ".merges", "expected an array");
    merges_.reserve(merges.size());
    for (size_t r = 0; r < merges.size(); ++r) {
        const json &m = merges[r];
        std::string a, b;
        std::string at = where + ".merges[" + std::to_string(r) + "]";
        if (m.is_string()) {
            const std::string &s = m.get_ref<const std::string &>();
            size_t sp = s.find(' ');
            if (sp == std::string::npos)
                bad(at, "merge '" + s.substr(0, 64) + "' must be two tokens separated by a space");
            if (s.find(' ', sp + 1) != std::string::npos) {
                // Tokens that contain spaces (Llama's "   " = " " + " "): the one split whose
                // parts and concatenation are all in the vocabulary.
                sp = std::string::npos;
                for (size_t k = s.find(' '); k != std::string::npos; k = s.find(' ', k + 1))
                    if (vocab_.find(std::string_view(s).substr(0, k)) >= 0 &&
                        vocab_.find(std::string_view(s).substr(k + 1)) >= 0 &&
                        vocab_.find(s.substr(0, k) + s.substr(k + 1)) >= 0) {
                        sp = k;
                        break;
                    }
                if (sp == std::string::npos)
                    bad(at,
                        "merge '" + s.substr(0, 64) + "' has no split into two vocabulary tokens");
            }
            a = s.substr(0, sp);
            b = s.substr(sp + 1);
        } else if (m.is_array() && m.size() == 2 && m[0].is_string() && m[1].is_string()) {
            a = m[0].get<std::string>();
            b = m[1].get<std::string>();
        } else {
            bad(at, "merge must be \"a b\" or [\"a\", \"b\"]");
        }
        int32_t ia = vocab_.find(a), ib = vocab_.find(b);
        if (ia < 0) bad(at, "merge token '" + a.substr(0, 64) + "' is not in the vocabulary");
        if (ib < 0) bad(at, "merge token '" + b.substr(0, 64) + "' is not in the vocabulary");
        std::string_view tail = b;
        if (!prefix_.empty() && tail.substr(0, prefix_.size()) == prefix_)
            tail.remove_prefix(prefix_.size());
        std::string joined = a + std::string(tail);
        int32_t in = vocab_.find(joined);
        if (in < 0) bad(at, "merged token '" + joined.substr(0, 64) + "' is not in the vocabulary");
        if (!merges_.emplace(pair_key(ia, ib), MergeInfo{int32_t(r), in}).second)
            bad(at, "duplicate merge '" + a.substr(0, 64) + " " + b.substr(0, 64) + "'");
    }
}

void Bpe::merge_word(std::string_view w, std::vector<int32_t> &out) const {
    struct Symbol {
        int32_t id;
        int32_t prev, next;
        bool alive;
    };
    std::vector<Symbol> sym;
    sym.reserve(w.size());
    auto push = [&](int32_t id) {
        int32_t n = int32_t(sym.size());
        sym.push_back({id, n - 1, n + 1, true});
    };
    int32_t pending_unk = -1;  // a run of unknown characters, fused when fuse_unk
    std::string buf;
    for (size_t i = 0; i < w.size();) {
        size_t start = i;
        size_t n = utf8::valid_len(w, i);
        i += n ? n : 1;
        std::string_view c = w.substr(start, i - start);
        bool first = start == 0, last = i == w.size();
        int32_t id;
        if ((first || prefix_.empty()) && (!last || suffix_.empty())) {
            id = vocab_.find(c);
        } else {
            buf.clear();
            if (!first) buf += prefix_;
            buf.append(c);
            if (last) buf += suffix_;
            id = vocab_.find(buf);
        }
        if (id >= 0) {
            if (pending_unk >= 0) {
                push(pending_unk);
                pending_unk = -1;
            }
            push(id);
            continue;
        }
        if (byte_fallback_) {
            bool all = true;
            for (unsigned char b : c) all = all && byte_ids_[b] >= 0;
            if (all) {
                for (unsigned char b : c) push(byte_ids_[b]);
                continue;
            }
        }
        if (unk_id_ >= 0) {
            if (pending_unk >= 0 && !fuse_unk_) push(pending_unk);
            pending_unk = unk_id_;
        }
    }
    if (pending_unk >= 0) push(pending_unk);
    if (sym.empty()) return;
    sym.back().next = -1;

    struct Cand {
        int32_t rank, pos, new_id;
        bool operator<(const Cand &o) const {  // the heap's top is the lowest rank, then leftmost
            return rank != o.rank ? rank > o.rank : pos > o.pos;
        }
    };
    auto lookup = [&](int32_t a, int32_t b) -> const MergeInfo * {
        auto it = merges_.find(pair_key(a, b));
        return it == merges_.end() ? nullptr : &it->second;
    };
    std::vector<Cand> heap_storage;
    heap_storage.reserve(sym.size() * 2);
    std::priority_queue<Cand> queue(std::less<Cand>(), std::move(heap_storage));
    for (size_t k = 0; k + 1 < sym.size(); ++k)
        if (const MergeInfo *m = lookup(sym[k].id, sym[k + 1].id))
            queue.push({m->rank, int32_t(k), m->new_id});
    while (!queue.empty()) {
        Cand top = queue.top();
        queue.pop();
        Symbol &cur = sym[size_t(top.pos)];
        if (!cur.alive || cur.next < 0) continue;
        Symbol &right = sym[size_t(cur.next)];
        const MergeInfo *m = lookup(cur.id, right.id);
        if (!m || m->new_id != top.new_id) continue;  // a stale entry
        cur.id = top.new_id;
        right.alive = false;
        cur.next = right.next;
        if (cur.next >= 0) sym[size_t(cur.next)].prev = top.pos;
        if (cur.prev >= 0)
            if (const MergeInfo *p = lookup(sym[size_t(cur.prev)].id, cur.id))
                queue.push({p->rank, cur.prev, p->new_id});
        if (cur.next >= 0)
            if (const MergeInfo *p = lookup(cur.id, sym[size_t(cur.next)].id))
                queue.push({p->rank, top.pos, p->new_id});
    }
    for (int32_t k = 0; k >= 0; k = sym[size_t(k)].next) out.push_back(sym[size_t(k)].id);
}

void Bpe::tokenize(std::string_view word, std::vector<int32_t> &out, WordCache *cache) const {
    if (word.empty()) return;
    if (ignore_merges_) {
        int32_t id = vocab_.find(word);
        if (id >= 0) {
            out.push_back(id);
            return;
        }
    }
    if (cache && word.size() < 256) {
        auto it = cache->map.find(word);
        if (it != cache->map.end()) {
            const int32_t *p = cache->ids.data() + it->second.first;
            out.insert(out.end(), p, p + it->second.second);
            return;
        }
        size_t before = out.size();
        merge_word(word, out);
        if (cache->map.size() < WordCache::kMaxEntries) {
            uint32_t at = uint32_t(cache->ids.size()), n = uint32_t(out.size() - before);
            cache->ids.insert(cache->ids.end(), out.begin() + std::ptrdiff_t(before), out.end());
            cache->map.emplace(std::string(word), std::make_pair(at, n));
        }
        return;
    }
    merge_word(word, out);
}

}  // namespace

std::unique_ptr<Model> make_bpe(const json &j, const std::string &where) {
    return std::make_unique<Bpe>(j, where);
}

}  // namespace hfk::tok
