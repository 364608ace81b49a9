// Text released during streaming: never a split character, never a stop string.
#include <gtest/gtest.h>

#include <string>

#include "runtime/text_emitter.h"

namespace {

using hfk::TextEmitter;

TEST(TextEmitter, HoldsBackAnIncompleteCharacter) {
    TextEmitter e({});
    const std::string euro = "\xE2\x82\xAC";  // U+20AC in three bytes
    EXPECT_EQ(e.push("a" + euro.substr(0, 1)), "a");
    EXPECT_EQ(e.push(euro.substr(1, 1)), "");
    EXPECT_EQ(e.push(euro.substr(2, 1) + "b"), euro + "b");
    EXPECT_EQ(e.finish(), "");
}

TEST(TextEmitter, FinishReplacesATruncatedCharacter) {
    TextEmitter e({});
    EXPECT_EQ(e.push("x\xF0\x9F"), "x");
    EXPECT_EQ(e.finish(), "\xEF\xBF\xBD");
}

TEST(TextEmitter, MalformedBytesFromTheDecoderBecomeReplacementCharacters) {
    TextEmitter e({});
    EXPECT_EQ(e.push("a\xBF\xBD" "b"), "a\xEF\xBF\xBD\xEF\xBF\xBD" "b");
    EXPECT_EQ(e.push("\xC0\x80"), "\xEF\xBF\xBD\xEF\xBF\xBD");  // overlong encoding
}

TEST(TextEmitter, StopStringAcrossPiecesIsNotEmitted) {
    TextEmitter e({"\n\nUser:"});
    std::string out;
    for (const char *piece : {"Hello", " there", "\n", "\nUs", "er:", " more"}) out += e.push(piece);
    EXPECT_TRUE(e.stopped());
    EXPECT_EQ(out, "Hello there");
    EXPECT_EQ(e.finish(), "");
}

TEST(TextEmitter, FalseStartOfAStopStringIsReleasedLater) {
    TextEmitter e({"STOP"});
    EXPECT_EQ(e.push("ab ST"), "ab ");
    EXPECT_EQ(e.push("ART"), "START");
    EXPECT_FALSE(e.stopped());
    EXPECT_EQ(e.push("xx ST"), "xx ");
    EXPECT_EQ(e.finish(), "ST");
}

TEST(TextEmitter, EarliestOfSeveralStops) {
    TextEmitter e({"bb", "a"});
    EXPECT_EQ(e.push("xxbbya"), "xx");
    EXPECT_TRUE(e.stopped());
}

TEST(Utf8, CompletePrefix) {
    EXPECT_EQ(hfk::utf8_complete_prefix("abc"), 3u);
    EXPECT_EQ(hfk::utf8_complete_prefix("ab\xC3"), 2u);
    EXPECT_EQ(hfk::utf8_complete_prefix("ab\xC3\xA9"), 4u);
    EXPECT_EQ(hfk::utf8_complete_prefix("\xF0\x9F\x98"), 0u);
    EXPECT_EQ(hfk::utf8_complete_prefix("\xF0\x9F\x98\x80"), 4u);
    EXPECT_EQ(hfk::utf8_complete_prefix("a\x80"), 2u);  // stray continuation: emitted as is
}

}  // namespace
