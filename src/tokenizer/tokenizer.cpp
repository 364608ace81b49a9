// Loading the pipeline and running it: added tokens -> normalizer -> pre-tokenizer -> model ->
// post-processor for encode; ids -> tokens -> decoder for decode.
#include "tokenizer/tokenizer.h"

#include <fstream>
#include <sstream>

#include "tokenizer/impl.h"
#include "tokenizer/json_util.h"
#include "tokenizer/unicode.h"
#include "tokenizer/utf8.h"

namespace hfk {

using tok::json;

namespace tok {

json parse_json(std::string_view text, const std::string &what) {
    constexpr size_t kMaxBytes = 64u << 20;
    constexpr int kMaxDepth = 64;
    if (text.size() > kMaxBytes)
        fail(HFK_E_FORMAT, what + ": " + std::to_string(text.size()) + " bytes (limit 64 MiB)");
    // Bound the nesting before parsing: copying or destroying deep JSON recurses.
    int depth = 0;
    bool in_string = false;
    for (size_t i = 0; i < text.size(); ++i) {
        char c = text[i];
        if (in_string) {
            if (c == '\\')
                ++i;
            else if (c == '"')
                in_string = false;
        } else if (c == '"') {
            in_string = true;
        } else if (c == '[' || c == '{') {
            if (++depth > kMaxDepth)
                fail(HFK_E_FORMAT, what + ": JSON nested deeper than 64 levels");
        } else if (c == ']' || c == '}') {
            --depth;
        }
    }
    try {
        return json::parse(text.begin(), text.end());
    } catch (const json::exception &e) {
        fail(HFK_E_FORMAT, what + ": invalid JSON: " + e.what());
    }
}

namespace {

// "bos_token": "<s>" or {"content": "<s>", ...} or null.
int32_t config_token(const json &config, const char *key, const Impl &impl) {
    if (!config.is_object() || !config.contains(key)) return -1;
    const json &v = config.at(key);
    std::string content;
    if (v.is_string())
        content = v.get<std::string>();
    else if (v.is_object() && v.contains("content") && v.at("content").is_string())
        content = v.at("content").get<std::string>();
    else
        return -1;
    int32_t id = impl.added.find(content);
    return id >= 0 ? id : impl.model->token_to_id(content);
}

}  // namespace

std::unique_ptr<Impl> build(const json &tj, const json &config) {
    if (!tj.is_object()) bad("(root)", "expected an object");
    auto impl = std::make_unique<Impl>();
    impl->model = make_model(field(tj, "model", "(root)"));
    auto part = [&](const char *key) -> const json & {
        static const json null_json;
        return tj.contains(key) ? tj.at(key) : null_json;
    };
    impl->normalizer = make_normalizer(part("normalizer"));
    impl->pre_tokenizer = make_pre_tokenizer(part("pre_tokenizer"));
    impl->post_processor = make_post_processor(part("post_processor"));
    impl->decoder = make_decoder(part("decoder"));
    impl->added.load(part("added_tokens"), impl->model->max_id());
    const json &model_json = tj.at("model");
    if (has(model_json, "end_of_word_suffix") && model_json.at("end_of_word_suffix").is_string() &&
        part("decoder").is_object() && part("decoder").value("type", "") == "ByteLevel")
        impl->decode_suffix = model_json.at("end_of_word_suffix").get<std::string>();
    impl->added.build(impl->normalizer.get());
    impl->vocab_size = std::max(impl->model->max_id(), impl->added.max_id()) + 1;

    // TK8: every id the post-processor adds must exist.
    std::vector<int32_t> extra;
    if (impl->post_processor) impl->post_processor->process(extra);
    for (int32_t id : extra)
        if (id < 0 || id >= impl->vocab_size)
            bad("post_processor",
                "special token id " + std::to_string(id) + " is not in the vocabulary");

    impl->unk = impl->model->unk_id();
    if (impl->unk < 0) impl->unk = config_token(config, "unk_token", *impl);
    impl->bos = config_token(config, "bos_token", *impl);
    impl->eos = config_token(config, "eos_token", *impl);
    impl->pad = config_token(config, "pad_token", *impl);
    if (impl->bos < 0 && !extra.empty()) {
        // No config: the post-processor's leading special token is the BOS (e.g. <s>, [CLS]).
        std::vector<int32_t> one{-7};
        impl->post_processor->process(one);
        if (one.size() > 1 && one[0] != -7) impl->bos = one[0];
    }
    if (impl->post_processor) {
        std::vector<int32_t> one{-7};
        impl->post_processor->process(one);
        impl->add_bos = impl->bos >= 0 && one.size() > 1 && one[0] == impl->bos;
    } else if (config.is_object() && config.contains("add_bos_token") &&
               config.at("add_bos_token").is_boolean()) {
        impl->add_bos = config.at("add_bos_token").get<bool>() && impl->bos >= 0;
    }
    return impl;
}

}  // namespace tok

namespace {

std::string read_file(const std::filesystem::path &p) {
    std::ifstream f(p, std::ios::binary);
    if (!f) fail(HFK_E_IO, "cannot open " + p.string());
    std::ostringstream ss;
    ss << f.rdbuf();
    if (f.bad()) fail(HFK_E_IO, "cannot read " + p.string());
    return ss.str();
}

json read_optional_json(const std::filesystem::path &p) {
    std::error_code ec;
    if (!std::filesystem::is_regular_file(p, ec)) return json();
    return tok::parse_json(read_file(p), p.filename().string());
}

std::shared_ptr<const Tokenizer> make(const json &tj, const json &config) {
    return std::make_shared<const Tokenizer>(tok::build(tj, config));
}

// The CLIPTokenizerFast decode wrapper: suffix -> " ", then Python's str.strip().
std::string clip_cleanup(const std::string &text, const std::string &suffix) {
    std::string s;
    size_t prev = 0;
    for (size_t pos = text.find(suffix); pos != std::string::npos; pos = text.find(suffix, prev)) {
        s.append(text, prev, pos - prev);
        s += ' ';
        prev = pos + suffix.size();
    }
    s.append(text, prev);
    auto space = [](char32_t c) { return tok::uni::is_whitespace(c) || (c >= 0x1C && c <= 0x1F); };
    size_t b = 0, e = s.size();
    while (b < e) {
        size_t i = b;
        if (!space(utf8::next(s, i))) break;
        b = i;
    }
    while (e > b) {
        size_t k = e - 1;
        while (k > b && (static_cast<unsigned char>(s[k]) & 0xC0) == 0x80) --k;
        size_t i = k;
        if (!space(utf8::next(s, i))) break;
        e = k;
    }
    return s.substr(b, e - b);
}

}  // namespace

Tokenizer::Tokenizer(std::unique_ptr<tok::Impl> impl) : impl_(std::move(impl)) {}
Tokenizer::~Tokenizer() = default;

std::shared_ptr<const Tokenizer> Tokenizer::from_json(std::string_view tokenizer_json,
                                                      std::string_view tokenizer_config_json) {
    json tj = tok::parse_json(tokenizer_json, "tokenizer.json");
    json config = tokenizer_config_json.empty()
                      ? json()
                      : tok::parse_json(tokenizer_config_json, "tokenizer_config.json");
    return make(tj, config);
}

std::shared_ptr<const Tokenizer> Tokenizer::load(const std::filesystem::path &path) {
    namespace fs = std::filesystem;
    std::error_code ec;
    if (!fs::exists(path, ec))
        fail(HFK_E_NOT_FOUND, "tokenizer: " + path.string() + " does not exist");
    fs::path dir = fs::is_directory(path, ec) ? path : path.parent_path();
    fs::path tj_path = fs::is_directory(path, ec) ? dir / "tokenizer.json" : path;
    json config = read_optional_json(dir / "tokenizer_config.json");
    if (fs::is_regular_file(tj_path, ec) && tj_path.extension() == ".json")
        return make(tok::parse_json(read_file(tj_path), tj_path.string()), config);
    if (fs::is_regular_file(dir / "vocab.json", ec) &&
        fs::is_regular_file(dir / "merges.txt", ec)) {
        json added = read_optional_json(dir / "added_tokens.json");
        return make(tok::legacy_gpt2(read_file(dir / "vocab.json"), read_file(dir / "merges.txt"),
                                     config, added),
                    config);
    }
    // BERT vocab.txt, or a single *vocab*.txt file.
    fs::path vocab_txt;
    if (!fs::is_directory(path, ec) && path.extension() == ".txt")
        vocab_txt = path;
    else if (fs::is_regular_file(dir / "vocab.txt", ec))
        vocab_txt = dir / "vocab.txt";
    else
        for (auto &e : fs::directory_iterator(dir, ec))
            if (e.is_regular_file(ec) && e.path().extension() == ".txt" &&
                e.path().filename().string().find("vocab") != std::string::npos) {
                vocab_txt = e.path();
                break;
            }
    if (!vocab_txt.empty()) {
        bool lower = vocab_txt.filename().string().find("uncased") != std::string::npos;
        return make(tok::legacy_wordpiece(read_file(vocab_txt), config, lower), config);
    }
    fail(HFK_E_NOT_FOUND,
         "tokenizer: no tokenizer.json, vocab.json + merges.txt or vocab.txt in " + dir.string());
}

std::vector<int32_t> Tokenizer::encode(std::string_view input, bool add_special_tokens) const {
    const tok::Impl &m = *impl_;
    std::string text = utf8::sanitize(input);
    std::vector<int32_t> ids;
    ids.reserve(text.size() / 3 + 4);
    tok::WordCache cache;
    const tok::PieceSink to_model = [&](std::string_view piece, bool) {
        m.model->tokenize(piece, ids, &cache);
    };

    std::vector<tok::Segment> raw, norm;
    m.added.split(text, false, raw);
    for (const tok::Segment &r : raw) {
        if (r.id >= 0) {
            ids.push_back(r.id);
            continue;
        }
        std::string piece = text.substr(r.start, r.end - r.start);
        if (m.normalizer) m.normalizer->normalize(piece);
        norm.clear();
        m.added.split(piece, true, norm);
        for (const tok::Segment &n : norm) {
            if (n.id >= 0) {
                ids.push_back(n.id);
                continue;
            }
            std::string_view sub = std::string_view(piece).substr(n.start, n.end - n.start);
            bool at_start = r.start == 0 && n.start == 0;
            if (m.pre_tokenizer)
                m.pre_tokenizer->split(sub, at_start, to_model);
            else
                to_model(sub, at_start);
        }
    }
    if (add_special_tokens && m.post_processor) m.post_processor->process(ids);
    return ids;
}

Tokenizer::PairEncoding Tokenizer::encode_pair(std::string_view a, std::string_view b,
                                               size_t max_length) const {
    const tok::Impl &m = *impl_;
    std::vector<int32_t> ea = encode(a, false), eb = encode(b, false);
    PairEncoding out;
    auto build = [&](const std::vector<int32_t> &x, const std::vector<int32_t> &y) {
        if (m.post_processor)
            m.post_processor->process_pair(x, y, out.ids, out.type_ids);
        else
            tok::PostProcessor::default_pair(x, y, out.ids, out.type_ids);
    };
    if (max_length > 0) {
        build({}, {});
        const size_t added = out.ids.size();
        if (added > max_length)
            fail(HFK_E_CONTEXT_FULL, "the special tokens of a pair alone exceed the maximum of " +
                                         std::to_string(max_length) + " tokens");
        const size_t limit = max_length - added;
        if (ea.size() + eb.size() > limit) {
            // tokenizers' truncate_encodings, LongestFirst: n1 the shorter length.
            size_t n1 = ea.size(), n2 = eb.size();
            const bool swap = n1 > n2;
            if (swap) std::swap(n1, n2);
            n2 = n1 > limit ? n1 : std::max(n1, limit - n1);
            if (n1 + n2 > limit) {
                n1 = limit / 2;
                n2 = n1 + limit % 2;
            }
            if (swap) std::swap(n1, n2);
            ea.resize(std::min(ea.size(), n1));
            eb.resize(std::min(eb.size(), n2));
            out.truncated = true;
        }
    }
    build(ea, eb);
    return out;
}

std::string Tokenizer::decode(std::span<const int32_t> ids, bool skip_special_tokens) const {
    return decode_impl(ids, skip_special_tokens, false);
}

std::string Tokenizer::decode_raw(std::span<const int32_t> ids) const {
    return decode_impl(ids, false, true);
}

std::string Tokenizer::decode_impl(std::span<const int32_t> ids, bool skip_special_tokens,
                                   bool raw) const {
    const tok::Impl &m = *impl_;
    std::vector<std::string> tokens;
    tokens.reserve(ids.size());
    for (int32_t id : ids) {
        if (id < 0 || id >= m.vocab_size)
            fail(HFK_E_INVALID_ARG, "decode: token id " + std::to_string(id) +
                                        " out of range [0, " + std::to_string(m.vocab_size) + ")");
        if (const tok::AddedToken *t = m.added.by_id(id)) {
            if (!(skip_special_tokens && t->special)) tokens.push_back(t->content);
        } else if (const std::string *s = m.model->id_to_token(id)) {
            tokens.push_back(*s);
        }
    }
    if (tokens.empty()) return "";
    if (!m.decoder) {
        std::string out;
        for (size_t i = 0; i < tokens.size(); ++i) {
            if (i) out += ' ';
            out += tokens[i];
        }
        return out;
    }
    if (raw)
        m.decoder->decode_chain_raw(tokens);
    else
        m.decoder->decode_chain(tokens);
    std::string out;
    for (auto &t : tokens) out += t;
    if (!m.decode_suffix.empty()) out = clip_cleanup(out, m.decode_suffix);
    return out;
}

int32_t Tokenizer::vocab_size() const {
    return impl_->vocab_size;
}

std::string Tokenizer::id_to_token(int32_t id) const {
    if (const tok::AddedToken *t = impl_->added.by_id(id)) return t->content;
    const std::string *s = impl_->model->id_to_token(id);
    return s ? *s : std::string();
}

int32_t Tokenizer::token_to_id(std::string_view token) const {
    int32_t id = impl_->added.find(token);
    return id >= 0 ? id : impl_->model->token_to_id(token);
}

int32_t Tokenizer::bos_id() const {
    return impl_->bos;
}
int32_t Tokenizer::eos_id() const {
    return impl_->eos;
}
int32_t Tokenizer::pad_id() const {
    return impl_->pad;
}
int32_t Tokenizer::unk_id() const {
    return impl_->unk;
}
bool Tokenizer::is_special(int32_t id) const {
    const tok::AddedToken *t = impl_->added.by_id(id);
    return t && t->special;
}
bool Tokenizer::add_bos_by_default() const {
    return impl_->add_bos;
}

// ---- DecodeStream: the Rust library's algorithm (a sliding window of ids whose decode is
// compared with the decode of its already-emitted prefix) ----------------------------------------
namespace {
// The part of `text` after what it shares with `prefix`, starting on a character boundary. A
// window's decode normally extends its prefix's, but it can differ inside a character (a stray
// byte's U+FFFD that a later byte turns into a real character, a decoder that rewrites earlier
// text): a piece must never start in the middle of a character.
// "<0xHH>": a byte-fallback token (as the ByteFallback decoder recognises them).
bool is_byte_token(const std::string &t) {
    auto hex = [](char c) {
        return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F');
    };
    return t.size() == 6 && t.compare(0, 3, "<0x") == 0 && t[5] == '>' && hex(t[3]) && hex(t[4]);
}

std::string new_suffix(const std::string &text, const std::string &prefix) {
    size_t common = 0;
    while (common < prefix.size() && common < text.size() && text[common] == prefix[common])
        ++common;
    while (common > 0 && common < text.size() &&
           (static_cast<unsigned char>(text[common]) & 0xC0) == 0x80)
        --common;
    return text.substr(common);
}
}  // namespace

DecodeStream::DecodeStream(std::shared_ptr<const Tokenizer> tok, bool skip_special_tokens)
    : tok_(std::move(tok)), skip_special_(skip_special_tokens) {
    if (!tok_) fail(HFK_E_INVALID_ARG, "DecodeStream: null tokenizer");
}

bool DecodeStream::ends_in_byte_token() const {
    for (auto it = ids_.rbegin(); it != ids_.rend(); ++it) {
        if (skip_special_ && tok_->is_special(*it)) continue;  // decode() drops it: no boundary
        return is_byte_token(tok_->id_to_token(*it));
    }
    return false;
}

std::string DecodeStream::step(int32_t id) {
    ids_.push_back(id);
    std::string text = tok_->decode(ids_, skip_special_);
    bool incomplete = text.size() >= 3 && text.compare(text.size() - 3, 3, "\xEF\xBF\xBD") == 0;
    // A run of byte-fallback tokens ("<0xE2>") is decoded as a whole: valid UTF-8, or one
    // U+FFFD per byte. The next byte token can still turn a valid run ("t") into replacement
    // characters ("<0x74><0x82>" is "\uFFFD\uFFFD"), so text that ends in such a run waits for
    // the next other token (or flush()); else the pieces would not join to decode(). The Rust
    // DecodeStream fails with InvalidPrefix there.
    if (text.size() <= prefix_.size() || incomplete || ends_in_byte_token()) return "";
    std::string out = new_suffix(text, prefix_);
    size_t new_prefix_ids = ids_.size() - prefix_ids_;
    ids_.erase(ids_.begin(), ids_.begin() + std::ptrdiff_t(prefix_ids_));
    prefix_ = tok_->decode(ids_, skip_special_);
    prefix_ids_ = new_prefix_ids;
    return out;
}

std::string DecodeStream::flush() {
    std::string text = tok_->decode(ids_, skip_special_);
    std::string out = text.size() > prefix_.size() ? new_suffix(text, prefix_) : std::string();
    ids_.clear();
    prefix_.clear();
    prefix_ids_ = 0;
    return out;
}

}  // namespace hfk
