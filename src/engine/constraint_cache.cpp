#include "engine/constraint_cache.h"

#include <algorithm>

#include "constrain/constraint.h"

namespace hfk {
namespace {

// The kind as a decimal number then ':' cannot be confused with another (kind, text) pair.
std::string key_of(int32_t kind, const std::string &text) {
    return std::to_string(kind) + ':' + text;
}

}  // namespace

ConstraintCache::ConstraintCache(size_t capacity) : capacity_(std::max<size_t>(capacity, 1)) {}

std::shared_ptr<const constrain::Grammar> ConstraintCache::get(int32_t kind,
                                                               const std::string &text) {
    if (kind == 0) return nullptr;  // no constraint
    std::string key = key_of(kind, text);
    {
        std::lock_guard lk(mu_);
        auto it = index_.find(key);
        if (it != index_.end()) {
            ++hits_;
            lru_.splice(lru_.begin(), lru_, it->second);
            return it->second->grammar;
        }
    }
    // Compiled without the lock; a constraint that throws here is not kept.
    std::shared_ptr<const constrain::Grammar> grammar =
        constrain::compile_constraint(static_cast<constrain::Kind>(kind), text);
    std::lock_guard lk(mu_);
    auto it = index_.find(key);
    if (it != index_.end()) {  // another thread compiled it meanwhile: share that one
        lru_.splice(lru_.begin(), lru_, it->second);
        return it->second->grammar;
    }
    lru_.push_front(Entry{key, grammar});
    index_.emplace(std::move(key), lru_.begin());
    if (lru_.size() > capacity_) {
        index_.erase(lru_.back().key);
        lru_.pop_back();
    }
    return grammar;
}

uint64_t ConstraintCache::hits() const {
    std::lock_guard lk(mu_);
    return hits_;
}

size_t ConstraintCache::size() const {
    std::lock_guard lk(mu_);
    return lru_.size();
}

}  // namespace hfk
