// WordPiece (greedy longest-match-first, BERT) and WordLevel (one word, one id).
#include "tokenizer/json_util.h"
#include "tokenizer/models.h"
#include "tokenizer/utf8.h"
#include "tokenizer/vocab.h"

namespace hfk::tok {

namespace {

void load_vocab(Vocab &v, const json &j, const std::string &where) {
    const json &vocab = field(j, "vocab", where);
    if (!vocab.is_object()) bad(where + ".vocab", "expected an object of token -> id");
    v.reserve(vocab.size());
    for (auto it = vocab.begin(); it != vocab.end(); ++it) {
        v.add(it.key(), it.value(), where + ".vocab");
    }
}

int32_t find_unk(const Vocab &v, const json &j, const std::string &where, const char *def) {
    std::string unk = opt_string(j, "unk_token", where, def);
    int32_t id = v.find(unk);
    if (id < 0) bad(where + ".unk_token", "'" + unk.substr(0, 64) + "' is not in the vocabulary");
    return id;
}

class WordPiece final : public Model {
  public:
    WordPiece(const json &j, const std::string &where) {
        load_vocab(vocab_, j, where);
        unk_id_ = find_unk(vocab_, j, where, "[UNK]");
        prefix_ = opt_string(j, "continuing_subword_prefix", where, "##");
        int64_t m = opt_int(j, "max_input_chars_per_word", where, 100);
        if (m < 0) bad(where + ".max_input_chars_per_word", "must be >= 0");
        max_chars_ = size_t(m);
    }
    void tokenize(std::string_view w, std::vector<int32_t> &out, WordCache *) const override {
        size_t chars = 0;
        for (unsigned char b : w) chars += (b & 0xC0) != 0x80;
        if (chars > max_chars_) {
            out.push_back(unk_id_);
            return;
        }
        size_t before = out.size();
        std::string buf;
        for (size_t start = 0; start < w.size();) {
            size_t end = w.size();
            int32_t found = -1;
            while (start < end) {
                std::string_view sub = w.substr(start, end - start);
                if (start > 0) {
                    buf.assign(prefix_);
                    buf.append(sub);
                    found = vocab_.find(buf);
                } else {
                    found = vocab_.find(sub);
                }
                if (found >= 0) break;
                --end;  // back to the previous character boundary
                while (end > start && (static_cast<unsigned char>(w[end]) & 0xC0) == 0x80) --end;
            }
            if (found < 0) {
                out.resize(before);
                out.push_back(unk_id_);
                return;
            }
            out.push_back(found);
            start = end;
        }
    }
    int32_t token_to_id(std::string_view t) const override { return vocab_.find(t); }
    const std::string *id_to_token(int32_t id) const override { return vocab_.token(id); }
    int32_t max_id() const override { return vocab_.max_id(); }
    int32_t unk_id() const override { return unk_id_; }

  private:
    Vocab vocab_;
    int32_t unk_id_ = -1;
    std::string prefix_;
    size_t max_chars_ = 100;
};

class WordLevel final : public Model {
  public:
    WordLevel(const json &j, const std::string &where) {
        load_vocab(vocab_, j, where);
        unk_id_ = find_unk(vocab_, j, where, "<unk>");
    }
    void tokenize(std::string_view w, std::vector<int32_t> &out, WordCache *) const override {
        int32_t id = vocab_.find(w);
        out.push_back(id >= 0 ? id : unk_id_);
    }
    int32_t token_to_id(std::string_view t) const override { return vocab_.find(t); }
    const std::string *id_to_token(int32_t id) const override { return vocab_.token(id); }
    int32_t max_id() const override { return vocab_.max_id(); }
    int32_t unk_id() const override { return unk_id_; }

  private:
    Vocab vocab_;
    int32_t unk_id_ = -1;
};

}  // namespace

std::unique_ptr<Model> make_wordpiece(const json &j, const std::string &where) {
    return std::make_unique<WordPiece>(j, where);
}
std::unique_ptr<Model> make_wordlevel(const json &j, const std::string &where) {
    return std::make_unique<WordLevel>(j, where);
}

}  // namespace hfk::tok
