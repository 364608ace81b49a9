// What a sentence-transformers repository says about its embeddings: modules.json (the module
// list), the Pooling module's config.json (cls / mean / max / lasttoken, include_prompt), the
// presence of a Normalize module, and sentence_bert_config.json's max_seq_length. Read once at
// load so that embed() gives what SentenceTransformer.encode() gives without the caller choosing.
#pragma once

#include <cstdint>
#include <filesystem>
#include <string>

namespace hfk {

enum class Pooling { Mean, Cls, LastToken, Max };

struct EmbeddingDefaults {
    bool sentence_transformers = false;  // modules.json was there
    Pooling pooling = Pooling::Mean;     // without modules.json: mean ...
    bool normalize = true;               // ... and L2-normalised (hfkit's BERT default)
    bool include_prompt = true;          // hfkit adds no prompt, so this changes nothing yet
    int64_t max_seq_length = 0;          // tokens, special ones included; 0: the model's limit
    // Why the repository's own pipeline cannot be reproduced (a Dense module, two pooling modes,
    // weighted-mean pooling, ...): embed() with the repository's pooling fails with this as
    // HFK_E_UNSUPPORTED; an explicit pooling still works. Empty when fine.
    std::string unsupported;
};

// Reads the files above from a checkpoint directory. Absent files give the defaults; malformed
// ones are HFK_E_FORMAT naming the file (the files are untrusted: bounded sizes, checked types,
// module paths confined to the directory).
EmbeddingDefaults read_sentence_transformers(const std::filesystem::path &dir);

}  // namespace hfk
