// The GBNF front end and the stack matcher on hand-written grammars: each case states which
// texts are sentences, prefixes, or neither, as llama.cpp's grammar semantics define them.
#include <gtest/gtest.h>

#include "constrain_test_util.h"
#include "util/error.h"

namespace hfk::constrain::test {
namespace {

TEST(GbnfParser, LiteralsAlternationAndGroups) {
    const char *g = R"(root ::= "ab" ("c" | "de") # a comment
    )";
    EXPECT_EQ(match_gbnf(g, "abc"), 1);
    EXPECT_EQ(match_gbnf(g, "abde"), 1);
    EXPECT_EQ(match_gbnf(g, "abd"), 0);
    EXPECT_EQ(match_gbnf(g, "ab"), 0);
    EXPECT_EQ(match_gbnf(g, "abx"), -1);
    EXPECT_EQ(match_gbnf(g, "abcc"), -1);
}

TEST(GbnfParser, RepetitionOperators) {
    EXPECT_EQ(match_gbnf("root ::= \"a\"*", ""), 1);
    EXPECT_EQ(match_gbnf("root ::= \"a\"*", "aaaa"), 1);
    EXPECT_EQ(match_gbnf("root ::= \"a\"+", ""), 0);
    EXPECT_EQ(match_gbnf("root ::= \"a\"+", "aa"), 1);
    EXPECT_EQ(match_gbnf("root ::= \"a\"? \"b\"", "b"), 1);
    EXPECT_EQ(match_gbnf("root ::= \"a\"? \"b\"", "ab"), 1);
    EXPECT_EQ(match_gbnf("root ::= \"a\"? \"b\"", "aab"), -1);
    const char *braces = "root ::= [0-9]{2,4}";
    EXPECT_EQ(match_gbnf(braces, "1"), 0);
    EXPECT_EQ(match_gbnf(braces, "12"), 1);
    EXPECT_EQ(match_gbnf(braces, "1234"), 1);
    EXPECT_EQ(match_gbnf(braces, "12345"), -1);
    EXPECT_EQ(match_gbnf("root ::= \"x\"{3}", "xxx"), 1);
    EXPECT_EQ(match_gbnf("root ::= \"x\"{3}", "xxxx"), -1);
    EXPECT_EQ(match_gbnf("root ::= \"x\"{2,}", "xxxxxxx"), 1);
    EXPECT_EQ(match_gbnf("root ::= \"x\"{2,}", "x"), 0);
    // A repeated group of a multi-byte literal.
    EXPECT_EQ(match_gbnf("root ::= (\"ab\")*", "abab"), 1);
    EXPECT_EQ(match_gbnf("root ::= (\"ab\")*", "aba"), 0);
}

TEST(GbnfParser, CharacterClassesRangesNegationAndUtf8) {
    const char *g = "root ::= [a-cx] [^a-z]";
    EXPECT_EQ(match_gbnf(g, "b1"), 1);
    EXPECT_EQ(match_gbnf(g, "xZ"), 1);
    EXPECT_EQ(match_gbnf(g, "bq"), -1);
    EXPECT_EQ(match_gbnf(g, "d"), -1);
    // A negated class matches whole UTF-8 characters, byte by byte.
    EXPECT_EQ(match_gbnf(g, "a\xC3\xA9"), 1);          // é
    EXPECT_EQ(match_gbnf(g, "a\xC3"), 0);              // half of it: a prefix
    EXPECT_EQ(match_gbnf(g, "a\xF0\x9F\x98\x80"), 1);  // U+1F600
    EXPECT_EQ(match_gbnf(g, "a\xC0\x80"), -1);         // overlong NUL is not UTF-8
    EXPECT_EQ(match_gbnf(g, "a\xED\xA0\x80"), -1);     // a surrogate is not UTF-8
    EXPECT_EQ(match_gbnf("root ::= [é-ë]", "\xC3\xAA"), 1);
    EXPECT_EQ(match_gbnf("root ::= [é-ë]", "\xC3\xAC"), -1);
    EXPECT_EQ(match_gbnf("root ::= .", "\xE2\x82\xAC"), 1);
}

TEST(GbnfParser, EscapesInLiteralsAndClasses) {
    EXPECT_EQ(match_gbnf(R"(root ::= "\"\\\n\t\x41\u00e9")", "\"\\\n\tA\xC3\xA9"), 1);
    EXPECT_EQ(match_gbnf(R"(root ::= [\]\-\\]+)", "]-\\"), 1);
    EXPECT_EQ(match_gbnf(R"(root ::= [\x00-\x1F])", std::string(1, '\x1F')), 1);
}

TEST(GbnfParser, RulesSpanLinesAndReferToEachOther) {
    const char *g = R"(
root ::= item ("," item)*
item ::=
    num
  | "[" root "]"
num ::= [0-9]+
)";
    EXPECT_EQ(match_gbnf(g, "1,[2,[3]],45"), 1);
    EXPECT_EQ(match_gbnf(g, "1,[2,[3]"), 0);
    EXPECT_EQ(match_gbnf(g, "1,]"), -1);
}

TEST(GbnfParser, EmptyMatchingLoopsTerminate) {
    // (x?)* would loop forever in a naive expansion; the matcher expands each stack once.
    EXPECT_EQ(match_gbnf("root ::= (\"a\"?)* \"b\"", "aab"), 1);
    EXPECT_EQ(match_gbnf("root ::= (\"a\"?)* \"b\"", "b"), 1);
    EXPECT_EQ(match_gbnf("root ::= (\"a\"* | \"c\")* \"b\"", "acaab"), 1);
}

void expect_error(const char *grammar, const std::string &needle) {
    try {
        parse_gbnf(grammar);
        ADD_FAILURE() << "no error for: " << grammar;
    } catch (const Error &e) {
        EXPECT_EQ(e.status(), HFK_E_INVALID_ARG) << grammar;
        EXPECT_NE(std::string(e.what()).find(needle), std::string::npos)
            << grammar << " -> " << e.what();
    }
}

TEST(GbnfParser, ErrorsNameTheLineAndColumn) {
    expect_error("root ::= \"abc", "line 1, column 10: unterminated string literal");
    expect_error("root ::= \"a\"\nother ::= [b-a]", "line 2, column 11");
    expect_error("root ::= (\"a\"", "unbalanced '('");
    expect_error("root ::= \"a\")", "unbalanced ')'");
    expect_error("root ::= x", "never defines it");
    expect_error("start ::= \"a\"", "no 'root' rule");
    expect_error("root ::= \"a\"{3,1}", "n < m");
    expect_error("root ::= \"\\q\"", "unknown escape");
    expect_error("root ::= root \"a\"", "left-recursive");
    expect_error("root ::= x \"a\"\nx ::= \"\" | root", "left-recursive");
    expect_error("root ::= \"a\"\nroot ::= \"b\"", "defined twice");
    expect_error("root ::= <[12]>", "token references");
    expect_error("root ::= \"a\"{99999}", "repetition count");
}

TEST(GbnfParser, RightRecursionDoesNotGrowTheStacks) {
    StackEngine e(std::make_shared<const Grammar>(parse_gbnf("root ::= \"a\" root | \"\"")));
    StateId s = e.start();
    for (int i = 0; i < 10000; ++i) s = e.step(s, 'a');
    EXPECT_TRUE(e.accepting(s));
    EXPECT_LT(e.n_states(), 10u);  // one state repeats
}

}  // namespace
}  // namespace hfk::constrain::test
