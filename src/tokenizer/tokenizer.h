// hfk::Tokenizer: the Hugging Face `tokenizers` pipeline, loaded from tokenizer.json (plus
// tokenizer_config.json for the special-token settings), token-for-token identical to the Rust
// library. Legacy vocab.json + merges.txt (GPT-2 style) and vocab.txt (BERT WordPiece) are
// converted to the equivalent pipeline.
//
// Invalid UTF-8 in text given to encode() is replaced by U+FFFD, one per maximal invalid subpart
// (the Unicode-recommended practice, as Rust's String::from_utf8_lossy and Python's
// errors="replace"), and the result is tokenized. decode() likewise returns valid UTF-8.
//
// All const methods are safe to call concurrently on one Tokenizer from many threads.
#pragma once

#include <cstdint>
#include <filesystem>
#include <memory>
#include <span>
#include <string>
#include <string_view>
#include <vector>

namespace hfk {

namespace tok {
struct Impl;
}

class Tokenizer {
  public:
    // dir_or_file: a directory (tokenizer.json + tokenizer_config.json beside it; falling back to
    // legacy vocab.json+merges.txt (GPT-2 style) or vocab.txt (BERT WordPiece)), or a
    // tokenizer.json path. Throws hfk::Error: HFK_E_NOT_FOUND (no tokenizer files), HFK_E_FORMAT
    // (malformed, message names the problem), HFK_E_UNSUPPORTED (unknown component type, naming
    // it), HFK_E_IO.
    static std::shared_ptr<const Tokenizer> load(const std::filesystem::path &dir_or_file);
    static std::shared_ptr<const Tokenizer> from_json(std::string_view tokenizer_json,
                                                      std::string_view tokenizer_config_json = {});

    // Invalid UTF-8 is replaced by U+FFFD per maximal invalid subpart (see above).
    std::vector<int32_t> encode(std::string_view text, bool add_special_tokens) const;
    // A pair of texts (a cross-encoder's query and document) as the Rust library's encode(a, b,
    // add_special_tokens=true): the post-processor's pair template (BERT: [CLS] a [SEP] b [SEP],
    // b's part of token type 1; RoBERTa: <s> a </s></s> b </s>) and each token's type id.
    // max_length > 0 truncates first, as transformers' truncation=True (the library's
    // LongestFirst, stride 0, from the right): the special tokens are kept and the texts share the
    // rest, the longer one cut first. HFK_E_CONTEXT_FULL when the special tokens alone exceed it.
    struct PairEncoding {
        std::vector<int32_t> ids, type_ids;
        bool truncated = false;
    };
    PairEncoding encode_pair(std::string_view a, std::string_view b, size_t max_length) const;
    // An id < 0 or >= vocab_size() throws HFK_E_INVALID_ARG.
    std::string decode(std::span<const int32_t> ids, bool skip_special_tokens) const;
    // decode(ids, false) without replacing incomplete or invalid UTF-8 by U+FFFD: the exact bytes
    // (a byte-fallback token or a byte-level piece of a character decodes to that byte alone).
    std::string decode_raw(std::span<const int32_t> ids) const;

    int32_t vocab_size() const;                         // including added tokens (max id + 1)
    std::string id_to_token(int32_t id) const;          // "" if unknown
    int32_t token_to_id(std::string_view token) const;  // -1 if unknown
    int32_t bos_id() const;
    int32_t eos_id() const;
    int32_t pad_id() const;
    int32_t unk_id() const;  // -1 if none
    bool is_special(int32_t id) const;
    // Whether encode(text, true) starts with bos_id() (from the post-processor, or the config's
    // add_bos_token when there is none): what a generator should do with a raw prompt.
    bool add_bos_by_default() const;

    explicit Tokenizer(std::unique_ptr<tok::Impl> impl);
    ~Tokenizer();
    Tokenizer(const Tokenizer &) = delete;
    Tokenizer &operator=(const Tokenizer &) = delete;

  private:
    std::string decode_impl(std::span<const int32_t> ids, bool skip_special_tokens, bool raw) const;
    std::unique_ptr<tok::Impl> impl_;
};

// Incremental decoding for streaming generation, like Rust tokenizers' DecodeStream: step()
// returns the new text that the id completes (possibly "" while a UTF-8 character is
// incomplete or the text ends in byte-fallback tokens, which a next byte token could still turn
// into U+FFFD); the concatenation of all step() results plus flush()
// equals decode(all ids, skip_special_tokens). Not thread-safe (one stream per generation).
class DecodeStream {
  public:
    DecodeStream(std::shared_ptr<const Tokenizer> tok, bool skip_special_tokens);
    std::string step(int32_t id);
    std::string
    flush();  // whatever is held back at the end (e.g. an incomplete sequence as U+FFFD)

  private:
    bool ends_in_byte_token() const;  // the last id decode() keeps is a "<0xHH>" token

    std::shared_ptr<const Tokenizer> tok_;
    bool skip_special_;
    std::vector<int32_t> ids_;  // the ids since the window start
    size_t prefix_ids_ = 0;     // how many of ids_ are context already emitted
    std::string prefix_;        // decode of the first prefix_ids_ ids
};

}  // namespace hfk
