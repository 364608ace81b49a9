// Runs a file of Jinja feature cases ([name, template, vars] each) through hfkit and through the
// python3-jinja2 oracle: renders must match byte for byte, and a case the oracle fails must fail
// here too (raise_exception with the same message, anything else as a runtime error).
#pragma once

#include <gtest/gtest.h>

#include <filesystem>
#include <string>

#include "chat/template.h"
#include "oracle_runner.h"

namespace chat_test {

// Returns how many cases failed in both, as they should.
inline int expect_cases_render_like_jinja2(const std::filesystem::path &cases_file) {
    using nlohmann::ordered_json;
    using namespace hfk::chat;
    ordered_json cases = ordered_json::parse(read_text(cases_file));
    ordered_json plan = ordered_json::array();
    for (size_t i = 0; i < cases.size(); ++i)
        plan.push_back(
            {{"id", std::to_string(i)}, {"template", cases[i][1]}, {"vars", cases[i][2]}});
    auto oracle = run_oracle(plan);
    EXPECT_EQ(oracle.size(), cases.size());
    RenderOptions opt;
    opt.strftime_now = fixed_clock;
    int failures_expected = 0;
    for (size_t i = 0; i < cases.size(); ++i) {
        const ordered_json &rec = oracle[std::to_string(i)];
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
    return failures_expected;
}

}  // namespace chat_test
