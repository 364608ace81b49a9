// Model::forward_batch writes the logits of items whose buffers are consecutive rows of one array
// (the engine's per-step logits) in place; any other layout goes through a scratch copy. Both give
// the same bits, whichever items want logits and in whatever order their rows lie.
#include <gtest/gtest.h>

#include <cstring>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "model/model.h"
#include "../support/test_support.h"

namespace {

using hfk::BatchItem;
using hfk::KvCache;
using hfk::Model;

std::vector<int32_t> prompt(int32_t n, uint32_t seed, int32_t vocab) {
    std::vector<int32_t> v;
    uint32_t x = seed * 2654435761u + 7;
    for (int32_t i = 0; i < n; ++i) {
        x = x * 1664525u + 1013904223u;
        v.push_back(int32_t((x >> 8) % uint32_t(vocab - 2)) + 1);
    }
    return v;
}

// Three sequences in one step: A (5 prompt tokens, wants logits), B (a prompt chunk that wants
// none), C (9 prompt tokens, wants logits). `where(s)` places the logits of A (s = 0) and C (2).
std::vector<std::vector<float>> step(const Model &model, int threads,
                                     const std::function<float *(int)> &where) {
    const int32_t vocab = model.vocab_size();
    const std::vector<std::vector<int32_t>> toks{prompt(5, 1, vocab), prompt(4, 2, vocab),
                                                 prompt(9, 3, vocab)};
    std::vector<std::unique_ptr<KvCache>> caches;
    std::vector<BatchItem> items;
    for (int s = 0; s < 3; ++s) {
        caches.push_back(model.new_cache(32));
        items.push_back({caches.back().get(), toks[size_t(s)], s == 1 ? nullptr : where(s)});
    }
    model.forward_batch(items, threads);
    std::vector<std::vector<float>> out;
    for (int s : {0, 2}) out.emplace_back(where(s), where(s) + vocab);
    return out;
}

void check(const std::string &dir) {
    auto model = Model::load(hfk_test::shared_models_dir() / dir, {});
    const size_t vocab = size_t(model->vocab_size());
    std::vector<float> a(vocab), c(vocab), rows(2 * vocab);
    for (int threads : {1, 2}) {
        SCOPED_TRACE(dir + ", threads " + std::to_string(threads));
        const auto apart =
            step(*model, threads, [&](int s) { return s == 0 ? a.data() : c.data(); });
        // Consecutive rows in item order: written in place.
        const auto in_place =
            step(*model, threads, [&](int s) { return rows.data() + (s == 0 ? 0 : vocab); });
        // Consecutive rows in the other order: not the layout forward_batch fills in place.
        const auto swapped =
            step(*model, threads, [&](int s) { return rows.data() + (s == 0 ? vocab : 0); });
        for (size_t j = 0; j < 2; ++j) {
            EXPECT_EQ(0, std::memcmp(apart[j].data(), in_place[j].data(), vocab * sizeof(float)))
                << "item " << j << " in place";
            EXPECT_EQ(0, std::memcmp(apart[j].data(), swapped[j].data(), vocab * sizeof(float)))
                << "item " << j << " swapped rows";
        }
        EXPECT_NE(0, std::memcmp(apart[0].data(), apart[1].data(), vocab * sizeof(float)))
            << "two prompts with the same logits: the check would not see rows mixed up";
    }
}

TEST(BatchLogitsRows, InPlaceRowsSameBitsAsSeparateBuffersLlama) {
    check("aidreams260K");
}

TEST(BatchLogitsRows, InPlaceRowsSameBitsAsSeparateBuffersGqaBf16) {
    check("tiny/tiny-llama-gqa-bf16");
}

}  // namespace
