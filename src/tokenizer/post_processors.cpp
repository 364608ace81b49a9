// Post-processors: add the special tokens around one sequence when add_special_tokens is set.
// TemplateProcessing, BertProcessing, RobertaProcessing, ByteLevel (no ids: offsets only),
// Sequence. A pair of sequences (a cross-encoder's query and document) goes through the "pair"
// template, with the token type ids it gives.
#include "tokenizer/components.h"
#include "tokenizer/json_util.h"

namespace hfk::tok {

namespace {

// A fixed list of ids before and after the sequence covers every supported post-processor's
// single-sequence case; the pair case is a list of pieces, each a sequence or special ids, with
// its token type id.
class Around final : public PostProcessor {
  public:
    struct Piece {
        int seq = -1;  // 0: a, 1: b, -1: the special ids
        std::vector<int32_t> ids;
        int32_t type_id = 0;
    };
    std::vector<int32_t> before, after;
    bool has_pair = false;  // false: the default pair (a then b, types 0 and 1)
    bool offsets_only = false;
    std::vector<Piece> pair;
    void process(std::vector<int32_t> &ids) const override {
        ids.insert(ids.begin(), before.begin(), before.end());
        ids.insert(ids.end(), after.begin(), after.end());
    }
    void process_pair(const std::vector<int32_t> &a, const std::vector<int32_t> &b,
                      std::vector<int32_t> &ids, std::vector<int32_t> &type_ids) const override {
        if (!has_pair) return PostProcessor::process_pair(a, b, ids, type_ids);
        ids.clear();
        type_ids.clear();
        for (const Piece &p : pair) {
            const std::vector<int32_t> &part = p.seq == 0 ? a : p.seq == 1 ? b : p.ids;
            ids.insert(ids.end(), part.begin(), part.end());
            type_ids.insert(type_ids.end(), part.size(), p.type_id);
        }
    }
    bool adds_tokens() const override { return !offsets_only; }
    void add_special(int32_t id, int32_t type_id) { pair.push_back({-1, {id}, type_id}); }
    void add_sequence(int seq, int32_t type_id) { pair.push_back({seq, {}, type_id}); }
};

int32_t checked_id(const json &v, const std::string &where) {
    if (!v.is_number_integer()) bad(where, "expected an integer token id");
    if (v.is_number_unsigned() ? v.get<uint64_t>() > uint64_t(INT32_MAX - 1)
                               : (v.get<int64_t>() < 0 || v.get<int64_t>() > INT32_MAX - 1))
        bad(where, "token id out of range");
    return v.get<int32_t>();
}

int32_t pair_id(const json &j, const char *key, const std::string &where) {
    const json &p = field(j, key, where);
    if (!p.is_array() || p.size() != 2 || !p[0].is_string())
        bad(where + "." + key, "expected [token, id]");
    return checked_id(p[1], where + "." + key);
}

// One item of a template: a sequence (seq 0 = $A, 1 = $B) or a special token's name, with its
// token type id. Both spellings: {"Sequence": {"id": "A", "type_id": 0}} / {"SpecialToken":
// {"id": "[SEP]", "type_id": 1}}, and the compact "$A", "$B:1", "$1" (A with type 1), "[SEP]:1".
struct Item {
    int seq = -1;
    std::string name;
    int32_t type_id = 0;
};

int32_t type_id_of(const json &obj, const std::string &at) {
    if (!has(obj, "type_id")) return 0;
    const json &t = obj.at("type_id");
    if (!t.is_number_unsigned() || t.get<uint64_t>() > 1000)
        bad(at + ".type_id", "expected a small type id");
    return t.get<int32_t>();
}

Item template_item(const json &item, const std::string &at) {
    Item out;
    if (item.is_object() && has(item, "Sequence")) {
        const json &seq = item.at("Sequence");
        const std::string id = get_string(seq, "id", at + ".Sequence");
        if (id != "A" && id != "B") bad(at + ".Sequence.id", "expected A or B");
        out.seq = id == "A" ? 0 : 1;
        out.type_id = type_id_of(seq, at + ".Sequence");
    } else if (item.is_object() && has(item, "SpecialToken")) {
        out.name = get_string(item.at("SpecialToken"), "id", at + ".SpecialToken");
        out.type_id = type_id_of(item.at("SpecialToken"), at + ".SpecialToken");
    } else if (item.is_string()) {  // the compact "$A" / "[CLS]:0" form
        std::string name = item.get<std::string>();
        if (size_t colon = name.rfind(':'); colon != std::string::npos && colon > 0) {
            const std::string t = name.substr(colon + 1);
            if (t.empty() || t.size() > 3 || t.find_first_not_of("0123456789") != std::string::npos)
                bad(at, "expected a type id after ':'");
            out.type_id = std::stoi(t);
            name.resize(colon);
        }
        if (!name.empty() && name[0] == '$') {
            const std::string rest = name.substr(1);
            if (rest.empty() || rest == "A" || rest == "a") {
                out.seq = 0;
            } else if (rest == "B" || rest == "b") {
                out.seq = 1;
            } else if (rest.size() <= 3 &&
                       rest.find_first_not_of("0123456789") == std::string::npos) {
                out.seq = 0;
                if (name.size() == item.get<std::string>().size()) out.type_id = std::stoi(rest);
            } else {
                bad(at, "unknown sequence '" + name.substr(0, 64) + "'");
            }
        } else {
            out.name = name;
        }
    } else {
        bad(at, "expected a Sequence or SpecialToken item");
    }
    return out;
}

const json &special_ids(const json &specials, const std::string &name, const std::string &where,
                        const std::string &at) {
    auto it = specials.find(name);
    if (it == specials.end())
        bad(at, "special token '" + name.substr(0, 64) + "' is not in special_tokens");
    const json &ids = field(*it, "ids", where + ".special_tokens." + name);
    if (!ids.is_array()) bad(where + ".special_tokens." + name + ".ids", "expected an array");
    return ids;
}

std::unique_ptr<Around> template_processing(const json &j, const std::string &where) {
    auto out = std::make_unique<Around>();
    const json &single = field(j, "single", where);
    if (!single.is_array()) bad(where + ".single", "expected an array");
    const json &specials = has(j, "special_tokens") ? j.at("special_tokens") : json::object();
    if (!specials.is_object()) bad(where + ".special_tokens", "expected an object");
    bool seen_sequence = false;
    for (size_t i = 0; i < single.size(); ++i) {
        const std::string at = where + ".single[" + std::to_string(i) + "]";
        const Item item = template_item(single[i], at);
        if (item.seq >= 0) {
            if (seen_sequence) bad(at, "the single template names the sequence twice");
            seen_sequence = true;
            continue;
        }
        for (const json &v : special_ids(specials, item.name, where, at))
            (seen_sequence ? out->after : out->before)
                .push_back(checked_id(v, where + ".special_tokens." + item.name));
    }
    if (has(j, "pair") && !j.at("pair").is_null()) {
        const json &pair = j.at("pair");
        if (!pair.is_array()) bad(where + ".pair", "expected an array");
        out->has_pair = true;
        for (size_t i = 0; i < pair.size(); ++i) {
            const std::string at = where + ".pair[" + std::to_string(i) + "]";
            const Item item = template_item(pair[i], at);
            if (item.seq >= 0) {
                out->add_sequence(item.seq, item.type_id);
                continue;
            }
            for (const json &v : special_ids(specials, item.name, where, at))
                out->add_special(checked_id(v, where + ".special_tokens." + item.name),
                                 item.type_id);
        }
    }
    return out;
}

class Sequence final : public PostProcessor {
  public:
    std::vector<std::unique_ptr<PostProcessor>> parts;
    void process(std::vector<int32_t> &ids) const override {
        for (auto &p : parts) p->process(ids);
    }
    // As the Rust library: the parts that only fix offsets pass the pair through; one part may
    // then build it (ByteLevel + TemplateProcessing, Llama 3's set-up). Two that add tokens would
    // each see the other's result, which hfkit does not reproduce.
    void process_pair(const std::vector<int32_t> &a, const std::vector<int32_t> &b,
                      std::vector<int32_t> &ids, std::vector<int32_t> &type_ids) const override {
        const PostProcessor *builder = nullptr;
        for (const auto &p : parts) {
            if (!p->adds_tokens()) continue;
            if (builder)
                fail(HFK_E_UNSUPPORTED,
                     "tokenizer.json: a post_processor Sequence with two processors that add "
                     "tokens cannot encode a pair of texts");
            builder = p.get();
        }
        if (builder) return builder->process_pair(a, b, ids, type_ids);
        PostProcessor::process_pair(a, b, ids, type_ids);
    }
    bool adds_tokens() const override {
        for (const auto &p : parts)
            if (p->adds_tokens()) return true;
        return false;
    }
};

std::unique_ptr<PostProcessor> make(const json &j, const std::string &where) {
    std::string type = type_of(j, where);
    if (type == "TemplateProcessing") return template_processing(j, where);
    if (type == "BertProcessing" || type == "RobertaProcessing") {
        auto out = std::make_unique<Around>();
        const int32_t cls = pair_id(j, "cls", where), sep = pair_id(j, "sep", where);
        out->before.push_back(cls);
        out->after.push_back(sep);
        // BERT: [CLS] a [SEP] b [SEP], b and its [SEP] of type 1. RoBERTa: <s> a </s> </s> b
        // </s>, every type 0 (what the Rust library gives).
        const bool bert = type == "BertProcessing";
        out->has_pair = true;
        out->add_special(cls, 0);
        out->add_sequence(0, 0);
        out->add_special(sep, 0);
        if (!bert) out->add_special(sep, 0);
        out->add_sequence(1, bert ? 1 : 0);
        out->add_special(sep, bert ? 1 : 0);
        return out;
    }
    if (type == "ByteLevel") {
        auto out = std::make_unique<Around>();
        out->offsets_only = true;
        return out;
    }
    if (type == "Sequence") {
        auto seq = std::make_unique<Sequence>();
        const json &list = field(j, "processors", where);
        if (!list.is_array()) bad(where + ".processors", "expected an array");
        for (size_t i = 0; i < list.size(); ++i)
            seq->parts.push_back(make(list[i], where + ".processors[" + std::to_string(i) + "]"));
        return seq;
    }
    fail(HFK_E_UNSUPPORTED,
         "tokenizer.json: " + where + ": unsupported post_processor type '" + type + "'");
}

}  // namespace

void PostProcessor::process_pair(const std::vector<int32_t> &a, const std::vector<int32_t> &b,
                                 std::vector<int32_t> &ids, std::vector<int32_t> &type_ids) const {
    default_pair(a, b, ids, type_ids);
}

void PostProcessor::default_pair(const std::vector<int32_t> &a, const std::vector<int32_t> &b,
                                 std::vector<int32_t> &ids, std::vector<int32_t> &type_ids) {
    ids = a;
    ids.insert(ids.end(), b.begin(), b.end());
    type_ids.assign(a.size(), 0);
    type_ids.insert(type_ids.end(), b.size(), 1);
}

std::unique_ptr<PostProcessor> make_post_processor(const json &j) {
    if (j.is_null()) return nullptr;
    return make(j, "post_processor");
}

}  // namespace hfk::tok
