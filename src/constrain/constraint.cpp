#include "constrain/constraint.h"

#include <algorithm>
#include <cmath>

#include "constrain/gbnf_parser.h"
#include "constrain/json_schema.h"
#include "constrain/regex_to_gbnf.h"
#include "util/error.h"

namespace hfk::constrain {

std::string constraint_gbnf(Kind kind, std::string_view text) {
    switch (kind) {
        case Kind::Gbnf:
            return std::string(text);
        case Kind::Json:
            return json_value_gbnf();
        case Kind::JsonSchema:
            return json_schema_to_gbnf(text);
        case Kind::Regex:
            return "root ::= " + regex_to_gbnf(text) + "\n";
        case Kind::None:
            break;
    }
    fail(HFK_E_INVALID_ARG, "unknown constraint kind " + std::to_string(int32_t(kind)));
}

std::shared_ptr<const Grammar> compile_constraint(Kind kind, std::string_view text) {
    if (kind == Kind::None) return nullptr;
    std::string gbnf = constraint_gbnf(kind, text);
    try {
        return std::make_shared<const Grammar>(parse_gbnf(gbnf));
    } catch (const Error &e) {
        if (kind == Kind::Gbnf) throw;
        // A generated grammar that does not parse is our bug, but the message still helps.
        fail(e.status() == HFK_E_INVALID_ARG ? HFK_E_INTERNAL : e.status(),
             std::string("the compiled grammar is invalid: ") + e.what());
    }
}

ConstrainedDecoder::ConstrainedDecoder(std::shared_ptr<const Grammar> grammar,
                                       std::shared_ptr<const VocabTrie> trie)
    : engine_(std::move(grammar)), masker_(std::move(trie), engine_), state_(engine_.start()) {}

bool ConstrainedDecoder::mask_logits(std::span<float> logits, std::span<const int32_t> end_ids) {
    // End ids are special tokens, which the trie leaves out: keep their logits to put back
    // when the text so far is complete.
    const bool done = accepting();
    saved_.clear();
    for (int32_t id : end_ids)
        if (id >= 0 && size_t(id) < logits.size())
            saved_.push_back({id, done ? logits[size_t(id)] : -INFINITY});
    // The mask is by trie slot: forbid the ids of clear slots, then the ids no slot holds.
    const TokenBits &bits = masker_.mask(state_);
    const VocabTrie &trie = masker_.trie();
    const auto &ids = trie.token_ids();
    const size_t n_slots = trie.n_slots();
    const size_t n = logits.size();
    bool any = false;
    for (size_t w = 0; w < bits.size(); ++w) {
        const uint64_t valid =
            w * 64 + 64 <= n_slots ? ~uint64_t(0) : (uint64_t(1) << (n_slots & 63)) - 1;
        for (uint64_t word = ~bits[w] & valid; word; word &= word - 1) {
            const size_t id = size_t(ids[w * 64 + size_t(__builtin_ctzll(word))]);
            if (id < n) logits[id] = -INFINITY;
        }
        if (!any)
            for (uint64_t word = bits[w] & valid; word; word &= word - 1)
                if (size_t(ids[w * 64 + size_t(__builtin_ctzll(word))]) < n) {
                    any = true;
                    break;
                }
    }
    for (int32_t id : trie.absent_ids())
        if (size_t(id) < n) logits[size_t(id)] = -INFINITY;
    for (size_t i = size_t(std::max(trie.n_ids(), 0)); i < n; ++i) logits[i] = -INFINITY;
    for (auto [id, l] : saved_) {
        logits[size_t(id)] = l;  // an end id is never a token of the text, even if in the trie
        any |= done;
    }
    return any;
}

void ConstrainedDecoder::accept(int32_t id) {
    const StateId next = masker_.advance(state_, id);
    if (next == kDeadState || token_bytes(id).empty())
        fail(HFK_E_INTERNAL, "constrained decoding: token " + std::to_string(id) +
                                 " does not continue the constraint");
    state_ = next;
}

}  // namespace hfk::constrain
