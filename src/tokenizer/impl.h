// The loaded pipeline behind hfk::Tokenizer.
#pragma once

#include <memory>
#include <string>

#include "tokenizer/added_vocabulary.h"
#include "tokenizer/components.h"

namespace hfk::tok {

struct Impl {
    std::unique_ptr<Normalizer> normalizer;
    std::unique_ptr<PreTokenizer> pre_tokenizer;
    std::unique_ptr<Model> model;
    std::unique_ptr<PostProcessor> post_processor;
    std::unique_ptr<Decoder> decoder;
    AddedVocabulary added;
    int32_t vocab_size = 0;
    int32_t bos = -1, eos = -1, pad = -1, unk = -1;
    bool add_bos = false;
    // transformers' CLIPTokenizerFast wraps decode: the BPE end-of-word suffix becomes a space and
    // the text is stripped. Set when the model has a suffix that the decoder does not handle.
    std::string decode_suffix;
};

// Builds the pipeline from parsed tokenizer.json (and tokenizer_config.json, may be null).
std::unique_ptr<Impl> build(const json &tokenizer, const json &config);
// Parses untrusted JSON text with the size and depth limits of RELIABILITY.md TK1.
json parse_json(std::string_view text, const std::string &what);

// Legacy formats (legacy.cpp): return an equivalent tokenizer.json document.
json legacy_gpt2(const std::string &vocab_json, const std::string &merges_txt, const json &config,
                 const json &added_tokens_json);
json legacy_wordpiece(const std::string &vocab_txt, const json &config, bool lowercase_default);

}  // namespace hfk::tok
