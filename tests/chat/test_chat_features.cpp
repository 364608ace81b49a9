// Jinja language features, one small template each (feature_cases.json), rendered by hfkit and
// by the python3-jinja2 oracle at test time; renders must match byte for byte, and a case the
// oracle fails must fail here too (raise_exception with the same message).
#include <gtest/gtest.h>

#include "chat/template.h"
#include "feature_cases.h"
#include "oracle_runner.h"

using json = nlohmann::ordered_json;
using namespace hfk::chat;

TEST(ChatFeatures, EachFeatureRendersLikePythonJinja2) {
    EXPECT_EQ(chat_test::expect_cases_render_like_jinja2(chat_test::source_dir() /
                                                         "tests/chat/feature_cases.json"),
              3);  // two undefined chains and one raise_exception
}
