// Jinja language features, one small template each (feature_cases_more.json), rendered by hfkit and
// by the python3-jinja2 oracle at test time; renders must match byte for byte, and a case the
// oracle fails must fail here too (raise_exception with the same message).
#include <gtest/gtest.h>

#include "chat/template.h"
#include "oracle_runner.h"

using json = nlohmann::ordered_json;
using namespace hfk::chat;

TEST(ChatFeaturesMore, EachFeatureRendersLikePythonJinja2) {
    json cases = json::parse(
        chat_test::read_text(chat_test::source_dir() / "tests/chat/feature_cases_more.json"));
    json plan = json::array();
    for (size_t i = 0; i < cases.size(); ++i)
        plan.push_back(
            {{"id", std::to_string(i)}, {"template", cases[i][1]}, {"vars", cases[i][2]}});
    auto oracle = chat_test::run_oracle(plan);
    ASSERT_EQ(oracle.size(), cases.size());
    RenderOptions opt;
    opt.strftime_now = chat_test::fixed_clock;
    int failures_expected = 0;
    for (size_t i = 0; i < cases.size(); ++i) {
        const json &rec = oracle[std::to_string(i)];
        SCOPED_TRACE(cases[i][0].get<std::string>());
        try {
            std::string ours =
                Template(cases[i][1].get<std::string>()).render_json(cases[i][2], opt);
            if (rec.contains("error"))
                ADD_FAILURE() << "oracle failed with " << rec["error"] << ", hfkit rendered "
                              << ours;
            else
                EXPECT_EQ(ours, rec["rendered"].get<std::string>());
        } catch (const TemplateError &e) {
            if (rec.contains("rendered")) {
                ADD_FAILURE() << "hfkit failed: " << e.what() << "; oracle rendered "
                              << rec["rendered"].get<std::string>();
                continue;
            }
            ++failures_expected;
            if (rec["raised"].get<bool>()) {
                EXPECT_EQ(e.kind(), ErrorKind::Raised);
                EXPECT_EQ(std::string(e.what()), rec["error"].get<std::string>());
            } else {
                EXPECT_EQ(e.kind(), ErrorKind::Runtime) << e.what();
            }
        }
    }
    EXPECT_EQ(failures_expected, 2);  // the two format errors
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
