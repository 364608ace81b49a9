// A context-free grammar over bytes, the form every constraint front end (GBNF text, JSON
// Schema, regular expressions) compiles to. Characters outside ASCII are spelled out as UTF-8
// byte sequences by the front ends, so the matcher and the vocabulary trie only ever see bytes
// and a token that ends inside a character needs no special case.
//
// Layout (as llama.cpp's GBNF grammars): each rule is a list of alternatives, each alternative a
// sequence of elements stored in one flat `code` array and closed by an End element. An element
// is a byte set (one byte out of a set) or a reference to a rule.
#pragma once

#include <cstdint>
#include <string>
#include <unordered_map>
#include <vector>

namespace hfk::constrain {

struct ByteSet {
    uint64_t bits[4] = {0, 0, 0, 0};
    bool has(uint8_t b) const { return (bits[b >> 6] >> (b & 63)) & 1; }
    void add(uint8_t b) { bits[b >> 6] |= uint64_t(1) << (b & 63); }
    void add_range(uint8_t lo, uint8_t hi) {
        for (unsigned b = lo; b <= hi; ++b) add(uint8_t(b));
    }
    bool empty() const { return !(bits[0] | bits[1] | bits[2] | bits[3]); }
    bool operator==(const ByteSet &) const = default;
};

struct Element {
    enum Kind : uint8_t { End, Bytes, Rule };
    Kind kind = End;
    uint32_t index = 0;  // into Grammar::byte_sets (Bytes) or Grammar::rules (Rule)
};

struct Grammar {
    std::vector<ByteSet> byte_sets;
    std::vector<Element> code;                 // alternatives, each closed by End
    std::vector<std::vector<uint32_t>> rules;  // rule -> start of each alternative in code
    std::vector<std::string> rule_names;
    uint32_t root = 0;
};

// Builds a Grammar rule by rule. Rules may be referenced before they are defined; finish()
// checks that every referenced rule has at least one alternative and that no rule is
// left-recursive in a way the matcher cannot expand (throws hfk::Error(HFK_E_INVALID_ARG)).
class GrammarBuilder {
  public:
    uint32_t rule(const std::string &name);        // the id of `name`, created on first use
    uint32_t fresh_rule(const std::string &base);  // a new rule named base_N
    bool has_rule(const std::string &name) const;
    bool defined(uint32_t rule) const { return rule < defined_.size() && defined_[rule]; }
    Element bytes(const ByteSet &set);
    static Element ref(uint32_t rule) { return {Element::Rule, rule}; }
    void add_alternative(uint32_t rule, const std::vector<Element> &sequence);
    size_t size() const { return code_size_; }
    Grammar finish(const std::string &root_name);

  private:
    Grammar g_;
    std::unordered_map<std::string, uint32_t> ids_;
    std::vector<std::vector<std::vector<Element>>> alts_;
    std::vector<bool> defined_;
    size_t code_size_ = 0;
};

// Rejects grammars whose expansion would not terminate (a rule that reaches itself in first
// position through a reference that is not the last element of its alternative).
void check_left_recursion(const Grammar &g);

}  // namespace hfk::constrain
