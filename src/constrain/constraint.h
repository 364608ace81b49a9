// The front door of constrained decoding: a constraint as the caller gives it (a kind and a
// text) compiled to a Grammar, and the per-generation driver the session uses to mask logits
// and follow the generated tokens.
#pragma once

#include <cstdint>
#include <memory>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "constrain/grammar.h"
#include "constrain/stack_engine.h"
#include "constrain/token_mask.h"
#include "constrain/vocab_trie.h"

namespace hfk::constrain {

enum class Kind : int32_t { None = 0, Gbnf = 1, Json = 2, JsonSchema = 3, Regex = 4 };

// The GBNF text of a constraint (for Kind::Gbnf the text itself).
std::string constraint_gbnf(Kind kind, std::string_view text);

// Throws hfk::Error(HFK_E_INVALID_ARG) with a message naming the position of the problem.
std::shared_ptr<const Grammar> compile_constraint(Kind kind, std::string_view text);

class ConstrainedDecoder {
  public:
    ConstrainedDecoder(std::shared_ptr<const Grammar> grammar,
                       std::shared_ptr<const VocabTrie> trie);

    // Sets the logits of every id the constraint forbids to -inf. `end_ids` (EOS, turn
    // terminators) are allowed only where the text so far is complete. Returns false when no
    // id is left (the constraint cannot be continued with this vocabulary).
    bool mask_logits(std::span<float> logits, std::span<const int32_t> end_ids);
    // Back to the start of the constraint (the memoised states and masks stay).
    void restart() { state_ = engine_.start(); }
    // Follows a generated id (one mask_logits allowed). Throws HFK_E_INTERNAL otherwise.
    void accept(int32_t id);
    bool accepting() const { return engine_.accepting(state_); }
    // Complete, and nothing may follow: generation is over.
    bool finished() const { return accepting() && !engine_.can_continue(state_); }
    const std::string &token_bytes(int32_t id) const { return masker_.trie().token_bytes(id); }

    StackEngine &engine() { return engine_; }
    TokenMasker &masker() { return masker_; }
    StateId state() const { return state_; }

  private:
    StackEngine engine_;
    TokenMasker masker_;
    StateId state_;
    std::vector<std::pair<int32_t, float>> saved_;
};

}  // namespace hfk::constrain
