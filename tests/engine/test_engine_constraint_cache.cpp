// Requests of one engine share compiled constraints (engine/constraint_cache.h): two requests
// with the same schema compile it once (constraint_cache_hits counts the second), run at once
// with their own decoders, and give what each gives on a fresh engine (where nothing is
// cached); different constraints, even the same text under another kind, never share; a
// constraint that does not compile still fails submit() with HFK_E_INVALID_ARG and is not kept.
#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "engine/engine.h"
#include "engine_support.h"
#include "util/error.h"

namespace {

using hfk::Engine;
using hfk::EngineParams;
using hfk::EngineRequest;
using hfk::EngineResult;
using hfk_test::greedy;
using hfk_test::status_of;

const std::string kMood =
    R"({"type": "object", "properties": {"mood": {"enum": ["happy", "sad", "sleepy"]},
        "legs": {"type": "integer", "minimum": 0, "maximum": 8}},
        "required": ["mood", "legs"], "additionalProperties": false})";
const std::string kName =
    R"({"type": "object", "properties": {"name": {"enum": ["Tom", "Lily", "Max"]}},
        "required": ["name"], "additionalProperties": false})";

EngineRequest constrained(const std::string &prompt, int32_t kind, const std::string &text) {
    EngineRequest r = greedy(prompt, 40);
    r.options.constraint_kind = kind;
    r.options.constraint_text = text;
    return r;
}

EngineParams params() {
    return EngineParams{.max_sequences = 4, .n_threads = 1};
}

// The request on a fresh engine: its constraint compiled for it alone.
EngineResult uncached(const EngineRequest &r) {
    Engine e(hfk_test::aidreams(), params());
    EngineResult out = e.wait(e.submit(r));
    EXPECT_EQ(e.stats().constraint_cache_hits, 0u);
    return out;
}

void expect_same(const EngineResult &got, const EngineResult &want) {
    EXPECT_EQ(got.status, HFK_OK) << got.error;
    EXPECT_EQ(got.tokens, want.tokens);
    EXPECT_EQ(got.text, want.text);
    EXPECT_EQ(got.stop_reason, want.stop_reason);
}

TEST(EngineConstraintCache, RequestsWithTheSameSchemaCompileItOnce) {
    const EngineRequest a = constrained("Once upon a time", HFK_CONSTRAINT_JSON_SCHEMA, kMood);
    const EngineRequest b = constrained("The little dog ran", HFK_CONSTRAINT_JSON_SCHEMA, kMood);
    const EngineResult want_a = uncached(a), want_b = uncached(b);
    // The outputs are the constraint's: complete, and the enum's words are in them.
    ASSERT_EQ(want_a.stop_reason, HFK_STOP_EOS) << want_a.text;
    ASSERT_NE(want_a.text.find("\"mood\""), std::string::npos) << want_a.text;

    Engine e(hfk_test::aidreams(), params());
    const uint64_t id_a = e.submit(a), id_b = e.submit(b);  // in one batch: two decoders
    EXPECT_EQ(e.stats().constraint_cache_hits, 1u);
    expect_same(e.wait(id_a), want_a);
    expect_same(e.wait(id_b), want_b);
    expect_same(e.wait(e.submit(a)), want_a);  // after both ended: the grammar is still kept
    EXPECT_EQ(e.stats().constraint_cache_hits, 2u);
    expect_same(e.wait(e.submit(greedy("Tom", 8))), uncached(greedy("Tom", 8)));
    EXPECT_EQ(e.stats().constraint_cache_hits, 2u);  // no constraint: no lookup
}

TEST(EngineConstraintCache, DifferentConstraintsDoNotShare) {
    const std::string prompt = "Once upon a time";
    // The same text is a GBNF grammar ("yes") and a regex (its own characters, literally).
    const std::string text = "root ::= \"yes\"";
    const std::vector<EngineRequest> reqs = {
        constrained(prompt, HFK_CONSTRAINT_JSON_SCHEMA, kMood),
        constrained(prompt, HFK_CONSTRAINT_JSON_SCHEMA, kName),
        constrained(prompt, HFK_CONSTRAINT_GBNF, text),
        constrained(prompt, HFK_CONSTRAINT_REGEX, text),
    };
    std::vector<EngineResult> want;
    for (const EngineRequest &r : reqs) want.push_back(uncached(r));
    EXPECT_NE(want[0].text, want[1].text);
    EXPECT_EQ(want[2].text, "yes");
    EXPECT_EQ(want[3].text, text);

    Engine e(hfk_test::aidreams(), params());
    std::vector<uint64_t> ids;
    for (const EngineRequest &r : reqs) ids.push_back(e.submit(r));
    for (size_t i = 0; i < reqs.size(); ++i) expect_same(e.wait(ids[i]), want[i]);
    EXPECT_EQ(e.stats().constraint_cache_hits, 0u);
}

TEST(EngineConstraintCache, ABadConstraintFailsAtSubmitAndIsNotCached) {
    Engine e(hfk_test::aidreams(), params());
    const EngineRequest bad = constrained("Tom", HFK_CONSTRAINT_GBNF, "root ::= (\"a\"");
    EXPECT_EQ(status_of([&] { e.submit(bad); }), HFK_E_INVALID_ARG);
    EXPECT_EQ(status_of([&] { e.submit(bad); }), HFK_E_INVALID_ARG);  // compiled again, fails
    EXPECT_EQ(e.stats().constraint_cache_hits, 0u);
    EXPECT_EQ(e.stats().queued + e.stats().running, 0);
    // A good one after it is compiled and then shared as usual.
    const EngineRequest good = constrained("Tom", HFK_CONSTRAINT_GBNF, "root ::= \"a\"");
    EXPECT_EQ(e.wait(e.submit(good)).text, "a");
    EXPECT_EQ(e.wait(e.submit(good)).text, "a");
    EXPECT_EQ(e.stats().constraint_cache_hits, 1u);
}

}  // namespace
