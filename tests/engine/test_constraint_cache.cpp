// The engine's cache of compiled constraints (engine/constraint_cache.h): one Grammar per
// (kind, text), shared; kinds and texts never collide; bounded, least recently used dropped
// first; a constraint that does not compile throws and is not kept; lookups from many threads
// share one grammar (built and run under ThreadSanitizer by scripts/test.sh: label tsan).
#include <gtest/gtest.h>

#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "constrain/constraint.h"
#include "engine/constraint_cache.h"
#include "util/error.h"

namespace {

using hfk::ConstraintCache;
using Kind = hfk::constrain::Kind;

const std::string kSchema =
    R"({"type": "object", "properties": {"n": {"type": "integer"}}, "required": ["n"]})";

int32_t k(Kind kind) {
    return static_cast<int32_t>(kind);
}

TEST(ConstraintCache, TheSameKindAndTextGiveOneGrammar) {
    ConstraintCache cache;
    const auto a = cache.get(k(Kind::JsonSchema), kSchema);
    ASSERT_TRUE(a);
    EXPECT_EQ(cache.hits(), 0u);
    const auto b = cache.get(k(Kind::JsonSchema), kSchema);
    EXPECT_EQ(a.get(), b.get());
    EXPECT_EQ(cache.hits(), 1u);
    EXPECT_EQ(cache.size(), 1u);
    EXPECT_EQ(cache.get(k(Kind::None), ""), nullptr);  // no constraint: nothing cached
    EXPECT_EQ(cache.size(), 1u);
}

TEST(ConstraintCache, DifferentKindsOrTextsDoNotCollide) {
    ConstraintCache cache;
    // The same text is a GBNF grammar and a regex (of its literal characters).
    const std::string text = "root ::= \"yes\"";
    const auto gbnf = cache.get(k(Kind::Gbnf), text);
    const auto regex = cache.get(k(Kind::Regex), text);
    const auto other = cache.get(k(Kind::Regex), text + "!");
    EXPECT_NE(gbnf.get(), regex.get());
    EXPECT_NE(regex.get(), other.get());
    EXPECT_EQ(cache.hits(), 0u);
    EXPECT_EQ(cache.size(), 3u);
    // Each is its own constraint's grammar: the same rules as compiled alone.
    EXPECT_EQ(gbnf->rules.size(),
              hfk::constrain::compile_constraint(Kind::Gbnf, text)->rules.size());
    EXPECT_EQ(regex->rules.size(),
              hfk::constrain::compile_constraint(Kind::Regex, text)->rules.size());
}

TEST(ConstraintCache, HoldsAtMostCapacityDroppingTheLeastRecentlyUsed) {
    ConstraintCache cache(3);
    auto regex = [&](const std::string &t) { return cache.get(k(Kind::Regex), t); };
    const auto a = regex("a+"), b = regex("b+");
    regex("c+");
    EXPECT_EQ(regex("a+").get(), a.get());  // a is now the most recent; b the least
    regex("d+");                            // drops b
    EXPECT_EQ(cache.size(), 3u);
    EXPECT_EQ(cache.hits(), 1u);
    EXPECT_EQ(regex("a+").get(), a.get());
    EXPECT_EQ(cache.hits(), 2u);
    const auto b2 = regex("b+");  // compiled again: a new grammar (the old one lives on in b)
    EXPECT_NE(b2.get(), b.get());
    EXPECT_EQ(cache.hits(), 2u);
    EXPECT_EQ(cache.size(), 3u);
}

TEST(ConstraintCache, AConstraintThatDoesNotCompileThrowsAndIsNotKept) {
    ConstraintCache cache;
    for (int i = 0; i < 2; ++i) {
        try {
            cache.get(k(Kind::Gbnf), "root ::= (\"a\"");
            FAIL() << "a bad grammar compiled";
        } catch (const hfk::Error &e) {
            EXPECT_EQ(e.status(), HFK_E_INVALID_ARG);
        }
    }
    EXPECT_EQ(cache.hits(), 0u);
    EXPECT_EQ(cache.size(), 0u);
}

TEST(ConstraintCache, ThreadsLookingUpTheSameConstraintsShareOneGrammarEach) {
    ConstraintCache cache;
    const std::vector<std::string> texts = {"[a-z]+", "(yes|no)!", "[0-9]{2,4}"};
    constexpr size_t kThreads = 6, kRounds = 40;
    std::vector<std::vector<const hfk::constrain::Grammar *>> seen(kThreads);
    std::vector<std::thread> threads;
    for (size_t t = 0; t < kThreads; ++t)
        threads.emplace_back([&, t] {
            for (size_t i = 0; i < kRounds; ++i)
                seen[t].push_back(cache.get(k(Kind::Regex), texts[(t + i) % texts.size()]).get());
        });
    for (auto &th : threads) th.join();
    EXPECT_EQ(cache.size(), texts.size());
    // However the first compiles raced, every lookup of a text got the grammar kept for it.
    for (size_t t = 0; t < kThreads; ++t)
        for (size_t i = 0; i < kRounds; ++i)
            EXPECT_EQ(seen[t][i], cache.get(k(Kind::Regex), texts[(t + i) % texts.size()]).get());
    EXPECT_GE(cache.hits(), kThreads * kRounds - kThreads * texts.size());
}

}  // namespace
