// The stages of the Hugging Face tokenizers pipeline, each an interface with one implementation
// per "type" found in tokenizer.json:
//   normalizer -> pre-tokenizer -> model -> post-processor, and the decoder going back.
// Only ids are produced, so no offsets are tracked (the offsets options only change offsets).
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include <nlohmann/json_fwd.hpp>

namespace hfk::tok {

using json = nlohmann::json;

// Receives the pieces a pre-tokenizer splits its input into. `at_start` is true for the piece that
// begins at offset 0 of the original text (Metaspace's prepend_scheme "first" needs it).
using PieceSink = std::function<void(std::string_view piece, bool at_start)>;

class Normalizer {
  public:
    virtual ~Normalizer() = default;
    virtual void normalize(std::string &s) const = 0;
};

class PreTokenizer {
  public:
    virtual ~PreTokenizer() = default;
    virtual void split(std::string_view s, bool at_start, const PieceSink &emit) const = 0;
};

struct StringHash {
    using is_transparent = void;
    size_t operator()(std::string_view s) const noexcept {
        return std::hash<std::string_view>{}(s);
    }
};

// Memoises model results per word within one encode call (not shared between threads). The ids
// of all entries live in one array; an entry is its (offset, count) there.
struct WordCache {
    std::unordered_map<std::string, std::pair<uint32_t, uint32_t>, StringHash, std::equal_to<>> map;
    std::vector<int32_t> ids;
    static constexpr size_t kMaxEntries = 200'000;
};

class Model {
  public:
    virtual ~Model() = default;
    virtual void tokenize(std::string_view word, std::vector<int32_t> &out,
                          WordCache *cache) const = 0;
    virtual int32_t token_to_id(std::string_view token) const = 0;  // -1 if absent
    virtual const std::string *id_to_token(int32_t id) const = 0;   // nullptr if absent
    virtual int32_t max_id() const = 0;                             // -1 if empty
    virtual int32_t unk_id() const { return -1; }
};

class PostProcessor {
  public:
    virtual ~PostProcessor() = default;
    // Adds the special tokens around one sequence (called only with add_special_tokens).
    virtual void process(std::vector<int32_t> &ids) const = 0;
    // The pair template: a and b with the special tokens, and the token type id of each token.
    // The default is the Rust library's default_process: a (type 0) then b (type 1).
    virtual void process_pair(const std::vector<int32_t> &a, const std::vector<int32_t> &b,
                              std::vector<int32_t> &ids, std::vector<int32_t> &type_ids) const;
    // a then b, types 0 and 1 (also what a tokenizer without a post-processor gives).
    static void default_pair(const std::vector<int32_t> &a, const std::vector<int32_t> &b,
                             std::vector<int32_t> &ids, std::vector<int32_t> &type_ids);
    // False for a processor that only adjusts offsets (ByteLevel): a Sequence leaves it out of
    // its pair template.
    virtual bool adds_tokens() const { return true; }
};

class Decoder {
  public:
    virtual ~Decoder() = default;
    virtual void decode_chain(std::vector<std::string> &tokens) const = 0;
    // The same without replacing bytes that are not (yet) valid UTF-8 by U+FFFD: what a token
    // contributes to the text byte for byte (constrained decoding needs partial characters).
    virtual void decode_chain_raw(std::vector<std::string> &tokens) const { decode_chain(tokens); }
};

// Resolves token strings to ids for the post-processors (added tokens first, then the model).
using TokenLookup = std::function<int32_t(std::string_view)>;

std::unique_ptr<Normalizer> make_normalizer(const json &j);
std::unique_ptr<PreTokenizer> make_pre_tokenizer(const json &j);
std::unique_ptr<Model> make_model(const json &j);
std::unique_ptr<PostProcessor> make_post_processor(const json &j);
std::unique_ptr<Decoder> make_decoder(const json &j);

// The byte <-> unicode table of GPT-2's byte-level BPE.
const std::string &byte_to_unicode(unsigned char b);  // UTF-8 of the char that stands for byte b
int byte_from_unicode(char32_t c);                    // -1 if c stands for no byte

}  // namespace hfk::tok
