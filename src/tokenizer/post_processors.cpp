// Post-processors: add the special tokens around one sequence when add_special_tokens is set.
// TemplateProcessing, BertProcessing, RobertaProcessing, ByteLevel (no ids: offsets only),
// Sequence. Pairs of sequences are not part of hfkit's API, so only the "single" template is used.
#include "tokenizer/components.h"
#include "tokenizer/json_util.h"

namespace hfk::tok {

namespace {

// A fixed list of ids before and after the sequence covers every supported post-processor's
// single-sequence case.
class Around final : public PostProcessor {
  public:
    std::vector<int32_t> before, after;
    void process(std::vector<int32_t> &ids) const override {
        ids.insert(ids.begin(), before.begin(), before.end());
        ids.insert(ids.end(), after.begin(), after.end());
    }
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

std::unique_ptr<Around> template_processing(const json &j, const std::string &where) {
    auto out = std::make_unique<Around>();
    const json &single = field(j, "single", where);
    if (!single.is_array()) bad(where + ".single", "expected an array");
    const json &specials = has(j, "special_tokens") ? j.at("special_tokens") : json::object();
    if (!specials.is_object()) bad(where + ".special_tokens", "expected an object");
    bool seen_sequence = false;
    for (size_t i = 0; i < single.size(); ++i) {
        const json &item = single[i];
        std::string at = where + ".single[" + std::to_string(i) + "]";
        std::string name;
        bool is_seq = false;
        if (item.is_object() && has(item, "Sequence")) {
            is_seq = true;
        } else if (item.is_object() && has(item, "SpecialToken")) {
            name = get_string(item.at("SpecialToken"), "id", at + ".SpecialToken");
        } else if (item.is_string()) {  // the compact "$A" / "[CLS]:0" form
            name = item.get<std::string>();
            if (size_t colon = name.rfind(':'); colon != std::string::npos && colon > 0)
                name.resize(colon);
            is_seq = !name.empty() && name[0] == '$';
        } else {
            bad(at, "expected a Sequence or SpecialToken item");
        }
        if (is_seq) {
            if (seen_sequence) bad(at, "the single template names the sequence twice");
            seen_sequence = true;
            continue;
        }
        auto it = specials.find(name);
        if (it == specials.end())
            bad(at, "special token '" + name.substr(0, 64) + "' is not in special_tokens");
        const json &ids = field(*it, "ids", where + ".special_tokens." + name);
        if (!ids.is_array()) bad(where + ".special_tokens." + name + ".ids", "expected an array");
        for (const json &v : ids)
            (seen_sequence ? out->after : out->before)
                .push_back(checked_id(v, where + ".special_tokens." + name));
    }
    return out;
}

class Sequence final : public PostProcessor {
  public:
    std::vector<std::unique_ptr<PostProcessor>> parts;
    void process(std::vector<int32_t> &ids) const override {
        for (auto &p : parts) p->process(ids);
    }
};

std::unique_ptr<PostProcessor> make(const json &j, const std::string &where) {
    std::string type = type_of(j, where);
    if (type == "TemplateProcessing") return template_processing(j, where);
    if (type == "BertProcessing" || type == "RobertaProcessing") {
        auto out = std::make_unique<Around>();
        out->before.push_back(pair_id(j, "cls", where));
        out->after.push_back(pair_id(j, "sep", where));
        return out;
    }
    if (type == "ByteLevel") return std::make_unique<Around>();
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

std::unique_ptr<PostProcessor> make_post_processor(const json &j) {
    if (j.is_null()) return nullptr;
    return make(j, "post_processor");
}

}  // namespace hfk::tok
