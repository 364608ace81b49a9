// A map from 64-bit keys to 32-bit ids, open addressing with linear probing: the stack engine's
// index of its stack nodes, looked up several times per step of a cold mask. std::unordered_map
// costs a pointer chase per lookup and a heap node per key; here a lookup is one hash and,
// nearly always, one probe in a flat array.
#pragma once

#include <cstdint>
#include <vector>

namespace hfk::constrain {

class IdIndex {
  public:
    // The id of `key`, inserting `id_if_new` when it is absent; `inserted` says which.
    uint32_t find_or_insert(uint64_t key, uint32_t id_if_new, bool &inserted) {
        if ((size_ + 1) * 4 > slots_.size() * 3) grow();
        const size_t mask = slots_.size() - 1;
        for (size_t i = hash(key) & mask;; i = (i + 1) & mask) {
            Slot &s = slots_[i];
            if (s.id == kEmpty) {
                s = {key, id_if_new};
                ++size_;
                inserted = true;
                return id_if_new;
            }
            if (s.key == key) {
                inserted = false;
                return s.id;
            }
        }
    }
    size_t size() const { return size_; }

  private:
    static constexpr uint32_t kEmpty = 0xffffffffu;  // never an id: ids index arrays
    struct Slot {
        uint64_t key = 0;
        uint32_t id = kEmpty;
    };
    static size_t hash(uint64_t k) {
        k ^= k >> 33;
        k *= 0xff51afd7ed558ccdull;
        k ^= k >> 33;
        return size_t(k);
    }
    void grow() {
        std::vector<Slot> old = std::move(slots_);
        slots_.assign(old.empty() ? 1024 : old.size() * 2, Slot{});
        const size_t mask = slots_.size() - 1;
        for (const Slot &s : old) {
            if (s.id == kEmpty) continue;
            size_t i = hash(s.key) & mask;
            while (slots_[i].id != kEmpty) i = (i + 1) & mask;
            slots_[i] = s;
        }
    }

    std::vector<Slot> slots_;
    size_t size_ = 0;
};

}  // namespace hfk::constrain
