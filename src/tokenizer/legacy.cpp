// Legacy tokenizer files, converted to the tokenizer.json they stand for (as transformers'
// "slow -> fast" converters do): GPT-2 style vocab.json + merges.txt, and BERT's vocab.txt.
#include <algorithm>
#include <cstdint>
#include <sstream>

#include "tokenizer/impl.h"
#include "tokenizer/json_util.h"

namespace hfk::tok {

namespace {

// Qwen2's split pattern (single digits); GPT-2's is the ByteLevel default.
const char *kQwen2Pattern =
    R"((?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+)";

std::string config_class(const json &config) {
    if (config.is_object() && config.contains("tokenizer_class") &&
        config.at("tokenizer_class").is_string())
        return config.at("tokenizer_class").get<std::string>();
    return "";
}

// transformers' "added_tokens_decoder": {"151643": {"content": ..., "special": true, ...}}.
void add_config_tokens(json &added, const json &config) {
    if (!config.is_object() || !config.contains("added_tokens_decoder")) return;
    const json &d = config.at("added_tokens_decoder");
    if (!d.is_object()) bad("tokenizer_config.json added_tokens_decoder", "expected an object");
    for (auto it = d.begin(); it != d.end(); ++it) {
        json t = it.value();
        if (!t.is_object()) bad("tokenizer_config.json added_tokens_decoder", "expected objects");
        int64_t id = 0;
        for (char c : it.key()) {
            if (c < '0' || c > '9' || id > (int64_t(1) << 31))
                bad("tokenizer_config.json added_tokens_decoder",
                    "bad id '" + it.key().substr(0, 32) + "'");
            id = id * 10 + (c - '0');
        }
        t.erase("__type");
        t["id"] = id;
        added.push_back(t);
    }
}

}  // namespace

json legacy_gpt2(const std::string &vocab_json, const std::string &merges_txt, const json &config,
                 const json &added_tokens_json) {
    json vocab = parse_json(vocab_json, "vocab.json");
    json merges = json::array();
    std::istringstream in(merges_txt);
    std::string line;
    bool first = true;
    while (std::getline(in, line)) {
        if (!line.empty() && line.back() == '\r') line.pop_back();
        if (first && line.rfind("#version", 0) == 0) {
            first = false;
            continue;
        }
        first = false;
        if (line.empty()) continue;
        merges.push_back(line);
    }
    json tj;
    tj["model"] = {{"type", "BPE"}, {"vocab", std::move(vocab)}, {"merges", std::move(merges)}};
    bool qwen = config_class(config).rfind("Qwen2", 0) == 0;
    if (qwen) {
        tj["normalizer"] = {{"type", "NFC"}};
        tj["pre_tokenizer"] = {
            {"type", "Sequence"},
            {"pretokenizers",
             {{{"type", "Split"},
               {"pattern", {{"Regex", kQwen2Pattern}}},
               {"behavior", "Isolated"},
               {"invert", false}},
              {{"type", "ByteLevel"}, {"add_prefix_space", false}, {"use_regex", false}}}}};
    } else {
        tj["pre_tokenizer"] = {{"type", "ByteLevel"}, {"add_prefix_space", false}};
    }
    tj["post_processor"] = {{"type", "ByteLevel"}};
    tj["decoder"] = {{"type", "ByteLevel"}};
    json added = json::array();
    if (added_tokens_json.is_object())
        for (auto it = added_tokens_json.begin(); it != added_tokens_json.end(); ++it)
            added.push_back({{"content", it.key()},
                             {"id", it.value()},
                             {"special", true},
                             {"normalized", false}});
    add_config_tokens(added, config);
    if (added.empty() && tj["model"]["vocab"].contains("<|endoftext|>"))
        added.push_back({{"content", "<|endoftext|>"},
                         {"id", tj["model"]["vocab"]["<|endoftext|>"]},
                         {"special", true},
                         {"normalized", true}});
    // added_tokens.json and added_tokens_decoder usually list the same tokens: keep one of each.
    json unique = json::array();
    std::unordered_map<std::string, bool> seen;
    for (auto &t : added)
        if (t.is_object() && t.contains("content") && t.at("content").is_string() &&
            seen.emplace(t.at("content").get<std::string>(), true).second)
            unique.push_back(t);
    // In id order, as a saved tokenizer.json has them: the Rust library ignores the listed ids
    // and numbers added tokens in list order after the model's vocabulary.
    auto id_of = [](const json &t) {
        return t.contains("id") && t.at("id").is_number_integer() ? t.at("id").get<int64_t>()
                                                                  : INT64_MAX;
    };
    std::stable_sort(unique.begin(), unique.end(),
                     [&](const json &a, const json &b) { return id_of(a) < id_of(b); });
    tj["added_tokens"] = std::move(unique);
    return tj;
}

json legacy_wordpiece(const std::string &vocab_txt, const json &config, bool lowercase_default) {
    json vocab = json::object();
    std::istringstream in(vocab_txt);
    std::string line;
    int64_t id = 0;
    while (std::getline(in, line)) {
        if (!line.empty() && line.back() == '\r') line.pop_back();
        if (vocab.contains(line))
            bad("vocab.txt",
                "duplicate token '" + line.substr(0, 64) + "' at line " + std::to_string(id + 1));
        vocab[line] = id++;
    }
    bool lower = lowercase_default;
    if (config.is_object() && config.contains("do_lower_case") &&
        config.at("do_lower_case").is_boolean())
        lower = config.at("do_lower_case").get<bool>();
    json tj;
    tj["normalizer"] = {{"type", "BertNormalizer"},
                        {"clean_text", true},
                        {"handle_chinese_chars", true},
                        {"strip_accents", nullptr},
                        {"lowercase", lower}};
    tj["pre_tokenizer"] = {{"type", "BertPreTokenizer"}};
    json added = json::array();
    for (const char *s : {"[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"})
        if (vocab.contains(s))
            added.push_back(
                {{"content", s}, {"id", vocab[s]}, {"special", true}, {"normalized", false}});
    if (vocab.contains("[CLS]") && vocab.contains("[SEP]"))
        tj["post_processor"] = {{"type", "BertProcessing"},
                                {"cls", {"[CLS]", vocab["[CLS]"]}},
                                {"sep", {"[SEP]", vocab["[SEP]"]}}};
    tj["decoder"] = {{"type", "WordPiece"}, {"prefix", "##"}, {"cleanup", true}};
    tj["model"] = {{"type", "WordPiece"},
                   {"vocab", std::move(vocab)},
                   {"unk_token", "[UNK]"},
                   {"continuing_subword_prefix", "##"},
                   {"max_input_chars_per_word", 100}};
    tj["added_tokens"] = std::move(added);
    return tj;
}

}  // namespace hfk::tok
