// The compiled constraints of an Engine's requests, shared: requests that give the same
// (kind, text) (a server's clients sending one JSON schema, an agent's tool grammar) compile it
// once. A Grammar is immutable once compiled, so any number of requests read one; what changes
// as a request generates (its decoder: matcher states and masks) stays the request's own, and
// the vocabulary trie is already shared per tokenizer (constrain::VocabTrie::get).
//
// Bounded: at most `capacity` grammars, the least recently used dropped first (a request that
// holds one keeps it alive). A constraint that does not compile throws, as compile_constraint
// does, and is not kept. Thread-safe: submit() looks up from any thread; a miss compiles
// without the lock held, so a long compile never blocks the others (two threads that miss on
// the same constraint at once may both compile it; the first to finish is the one kept).
#pragma once

#include <cstddef>
#include <cstdint>
#include <list>
#include <memory>
#include <mutex>
#include <string>
#include <unordered_map>

#include "constrain/grammar.h"

namespace hfk {

class ConstraintCache {
  public:
    explicit ConstraintCache(size_t capacity = 32);

    // The grammar of (kind, text) (a constrain::Kind; None: nullptr): the cached one, or
    // compiled now. Throws hfk::Error (HFK_E_INVALID_ARG naming the position) when it does not
    // compile.
    std::shared_ptr<const constrain::Grammar> get(int32_t kind, const std::string &text);

    uint64_t hits() const;  // lookups that found a grammar compiled before
    size_t size() const;

  private:
    struct Entry {
        std::string key;
        std::shared_ptr<const constrain::Grammar> grammar;
    };
    size_t capacity_;
    mutable std::mutex mu_;
    std::list<Entry> lru_;  // the most recently used first
    std::unordered_map<std::string, std::list<Entry>::iterator> index_;
    uint64_t hits_ = 0;
};

}  // namespace hfk
