// Jinja language features, one small template each (feature_cases_more.json), rendered by hfkit and
// by the python3-jinja2 oracle at test time; renders must match byte for byte, and a case the
// oracle fails must fail here too (raise_exception with the same message).
#include <gtest/gtest.h>

#include "chat/template.h"
#include "feature_cases.h"
#include "oracle_runner.h"

using json = nlohmann::ordered_json;
using namespace hfk::chat;

TEST(ChatFeaturesMore, EachFeatureRendersLikePythonJinja2) {
    EXPECT_EQ(chat_test::expect_cases_render_like_jinja2(chat_test::source_dir() /
                                                         "tests/chat/feature_cases_more.json"),
              2);  // the two format errors
}

// A recursive loop that never ends is a sandbox limit, not a stack overflow.
TEST(ChatFeaturesMore, EndlessRecursiveLoopIsAResourceError) {
    RenderOptions opt;
    opt.strftime_now = chat_test::fixed_clock;
    try {
        Template("{% for x in [1] recursive %}{{ loop([x]) }}{% endfor %}")
            .render_json(json::object(), opt);
        ADD_FAILURE() << "rendered";
    } catch (const TemplateError &e) {
        EXPECT_EQ(e.kind(), ErrorKind::Resource) << e.what();
    }
}
