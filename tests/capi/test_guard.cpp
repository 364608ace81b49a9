// Fault injection for the ABI guard: every kind of exception the engine could throw becomes a
// status code and a message, and nothing escapes.
#include <gtest/gtest.h>

#include <stdexcept>
#include <string>

#include "guard.h"

namespace {

hfk_status run_throwing(int kind) {
    return hfk::capi::guard([&]() -> hfk_status {
        switch (kind) {
            case 0:
                hfk::fail(HFK_E_FORMAT, "config.json: hidden_size is negative");
            case 1:
                throw std::bad_alloc();
            case 2:
                throw std::out_of_range("vector index");
            case 3:
                throw 42;  // not even an exception type
            default:
                return HFK_OK;
        }
    });
}

TEST(Guard, EngineErrorKeepsItsStatusAndMessage) {
    EXPECT_EQ(run_throwing(0), HFK_E_FORMAT);
    EXPECT_STREQ(hfk_last_error_message(), "config.json: hidden_size is negative");
}

TEST(Guard, BadAllocIsNomem) {
    EXPECT_EQ(run_throwing(1), HFK_E_NOMEM);
    EXPECT_STREQ(hfk_last_error_message(), "out of memory");
}

TEST(Guard, StdExceptionIsInternalWithWhat) {
    EXPECT_EQ(run_throwing(2), HFK_E_INTERNAL);
    EXPECT_NE(std::string(hfk_last_error_message()).find("vector index"), std::string::npos);
}

TEST(Guard, AnythingElseIsInternal) {
    EXPECT_EQ(run_throwing(3), HFK_E_INTERNAL);
    EXPECT_NE(std::string(hfk_last_error_message()).find("unknown exception"), std::string::npos);
}

TEST(Guard, SuccessPassesThrough) { EXPECT_EQ(run_throwing(9), HFK_OK); }

struct Options {
    uint32_t struct_size;
    int32_t a;
    int32_t b;
};

TEST(Guard, ShorterCallerStructGetsDefaultsForTheTail) {
    const Options defaults{sizeof(Options), 1, 2};
    Options caller{};
    caller.struct_size = offsetof(Options, b);  // an older caller that does not know `b`
    caller.a = 7;
    caller.b = 999;  // must be ignored: beyond the caller's struct_size
    Options out{};
    ASSERT_EQ(hfk::capi::read_options(out, &caller, defaults), HFK_OK);
    EXPECT_EQ(out.a, 7);
    EXPECT_EQ(out.b, 2);
}

TEST(Guard, OversizedOrTinyStructSizeIsRejected) {
    const Options defaults{sizeof(Options), 1, 2};
    Options caller{};
    Options out{};
    caller.struct_size = sizeof(Options) + 4;  // a newer caller than this library
    EXPECT_EQ(hfk::capi::read_options(out, &caller, defaults), HFK_E_INVALID_ARG);
    caller.struct_size = 0;  // forgot to initialise
    EXPECT_EQ(hfk::capi::read_options(out, &caller, defaults), HFK_E_INVALID_ARG);
    EXPECT_NE(std::string(hfk_last_error_message()).find("struct_size"), std::string::npos);
}

TEST(Guard, InitHonoursCallerSize) {
    const Options defaults{sizeof(Options), 1, 2};
    Options p{};
    p.b = 77;
    ASSERT_EQ(hfk::capi::init_options(&p, offsetof(Options, b), defaults), HFK_OK);
    EXPECT_EQ(p.struct_size, offsetof(Options, b));
    EXPECT_EQ(p.a, 1);
    EXPECT_EQ(p.b, 77);  // not written: outside the caller's size
}

}  // namespace
