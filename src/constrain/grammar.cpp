#include "constrain/grammar.h"

#include "util/error.h"

namespace hfk::constrain {

uint32_t GrammarBuilder::rule(const std::string &name) {
    auto [it, inserted] = ids_.emplace(name, uint32_t(g_.rule_names.size()));
    if (!inserted) return it->second;
    g_.rule_names.push_back(name);
    alts_.emplace_back();
    defined_.push_back(false);
    return uint32_t(g_.rule_names.size() - 1);
}

bool GrammarBuilder::has_rule(const std::string &name) const {
    return ids_.count(name) != 0;
}

uint32_t GrammarBuilder::fresh_rule(const std::string &base) {
    for (size_t k = g_.rule_names.size();; ++k) {
        std::string name = base + "_" + std::to_string(k);
        if (!has_rule(name)) return rule(name);
    }
}

Element GrammarBuilder::bytes(const ByteSet &set) {
    // Byte sets repeat a lot (digits, string characters): share them.
    for (uint32_t i = 0; i < g_.byte_sets.size(); ++i)
        if (g_.byte_sets[i] == set) return {Element::Bytes, i};
    g_.byte_sets.push_back(set);
    return {Element::Bytes, uint32_t(g_.byte_sets.size() - 1)};
}

void GrammarBuilder::add_alternative(uint32_t rule, const std::vector<Element> &sequence) {
    constexpr size_t kMaxElements = 4u << 20;
    code_size_ += sequence.size() + 1;
    if (code_size_ > kMaxElements)
        fail(HFK_E_INVALID_ARG,
             "the grammar is too large (more than " + std::to_string(kMaxElements) + " elements)");
    alts_[rule].push_back(sequence);
    defined_[rule] = true;
}

Grammar GrammarBuilder::finish(const std::string &root_name) {
    if (!has_rule(root_name))
        fail(HFK_E_INVALID_ARG, "the grammar has no '" + root_name + "' rule");
    for (uint32_t r = 0; r < alts_.size(); ++r)
        if (!defined_[r])
            fail(HFK_E_INVALID_ARG,
                 "the grammar uses rule '" + g_.rule_names[r] + "' but never defines it");
    Grammar g = g_;
    g.root = rule(root_name);
    g.rules.assign(alts_.size(), {});
    g.code.clear();
    g.code.reserve(code_size_);
    for (uint32_t r = 0; r < alts_.size(); ++r)
        for (const auto &seq : alts_[r]) {
            g.rules[r].push_back(uint32_t(g.code.size()));
            g.code.insert(g.code.end(), seq.begin(), seq.end());
            g.code.push_back({Element::End, 0});
        }
    check_left_recursion(g);
    return g;
}

void check_left_recursion(const Grammar &g) {
    const size_t n = g.rules.size();
    // Nullable rules, to a fixed point.
    std::vector<bool> nullable(n, false);
    for (bool changed = true; changed;) {
        changed = false;
        for (size_t r = 0; r < n; ++r) {
            if (nullable[r]) continue;
            for (uint32_t start : g.rules[r]) {
                bool all = true;
                for (uint32_t p = start; g.code[p].kind != Element::End; ++p) {
                    const Element &e = g.code[p];
                    if (e.kind == Element::Bytes || !nullable[e.index]) {
                        all = false;
                        break;
                    }
                }
                if (all) {
                    nullable[r] = changed = true;
                    break;
                }
            }
        }
    }
    // Edges r -> t for every reference t in first position (after nullable elements); `grows`
    // when the reference is not the last element (the matcher pushes a return position).
    struct Edge {
        uint32_t to;
        bool grows;
    };
    std::vector<std::vector<Edge>> edges(n);
    for (size_t r = 0; r < n; ++r)
        for (uint32_t start : g.rules[r])
            for (uint32_t p = start; g.code[p].kind != Element::End; ++p) {
                const Element &e = g.code[p];
                if (e.kind == Element::Bytes) break;
                edges[r].push_back({e.index, g.code[p + 1].kind != Element::End});
                if (!nullable[e.index]) break;
            }
    // A cycle through at least one growing edge never stops growing the stack. State (rule,
    // grown-yet) searched from each rule that has a growing edge.
    std::vector<uint8_t> seen(n * 2);
    std::vector<std::pair<uint32_t, bool>> todo;
    for (uint32_t r = 0; r < n; ++r) {
        bool any = false;
        for (const Edge &e : edges[r]) any |= e.grows;
        if (!any) continue;
        std::fill(seen.begin(), seen.end(), 0);
        todo.assign(1, {r, false});
        while (!todo.empty()) {
            auto [s, grown] = todo.back();
            todo.pop_back();
            for (const Edge &e : edges[s]) {
                bool gr = grown || e.grows;
                if (e.to == r && gr)
                    fail(HFK_E_INVALID_ARG,
                         "rule '" + g.rule_names[r] +
                             "' is left-recursive (it can start with itself); rewrite it with "
                             "repetition, e.g. x ::= y (op y)*");
                uint8_t &mark = seen[e.to * 2 + (gr ? 1 : 0)];
                if (!mark) {
                    mark = 1;
                    todo.push_back({e.to, gr});
                }
            }
        }
    }
}

}  // namespace hfk::constrain
