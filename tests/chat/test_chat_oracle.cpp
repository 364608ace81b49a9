// hfkit's renders against an independent oracle run at test time: Debian's python3-jinja2
// configured as transformers configures it (jinja_oracle.py), over conversations written for
// this test (tools, tool results, multi-part content, reasoning history, enable_thinking,
// continue_final_message, unicode, template-lookalike content), for every shared reference
// template and every shared tokenizer that carries a template.
#include <gtest/gtest.h>

#include <cstdio>
#include <ctime>
#include <filesystem>
#include <fstream>
#include <sstream>

#include "chat/chat_render.h"
#include "chat/model_templates.h"

namespace fs = std::filesystem;
using json = nlohmann::ordered_json;
using namespace hfk::chat;

namespace {

fs::path shared_dir() {
    const char *e = std::getenv("HFK_SHARED_DIR");
    return fs::path(e && *e ? e : HFK_TEST_SHARED_DIR);
}
fs::path source_dir() {
    const char *e = std::getenv("HFK_SOURCE_DIR");
    return fs::path(e && *e ? e : HFK_TEST_SOURCE_DIR);
}

std::string read(const fs::path &p) {
    std::ifstream f(p, std::ios::binary);
    std::stringstream ss;
    ss << f.rdbuf();
    return ss.str();
}

// The oracle's clock: 2024-07-26 12:00.
std::string fixed_clock(const std::string &format) {
    std::tm tm{};
    tm.tm_year = 124;
    tm.tm_mon = 6;
    tm.tm_mday = 26;
    tm.tm_hour = 12;
    std::time_t t = timegm(&tm);
    gmtime_r(&t, &tm);
    char buf[256];
    return std::string(buf, std::strftime(buf, sizeof buf, format.c_str(), &tm));
}

struct Source {
    std::string name, source;
    json special_tokens;
};

std::vector<Source> all_sources() {
    std::vector<Source> out;
    for (const auto &e : fs::directory_iterator(shared_dir() / "reference/chat/templates")) {
        if (e.path().extension() != ".jinja") continue;
        fs::path jsonl = e.path();
        jsonl.replace_extension(".jsonl");
        std::ifstream f(jsonl);
        std::string header;
        std::getline(f, header);
        out.push_back(
            {e.path().stem().string(), read(e.path()), json::parse(header)["_header"]["vars"]});
    }
    for (const auto &e : fs::directory_iterator(shared_dir() / "tokenizers")) {
        ModelTemplates mt = load_model_templates(e.path().string());
        auto src = mt.pick("", false);
        if (!src) continue;
        out.push_back({"tokenizers/" + e.path().filename().string(), *src, mt.special_tokens});
    }
    return out;
}

}  // namespace

TEST(ChatOracle, RendersLikePythonJinja2ConfiguredAsTransformers) {
    std::vector<Source> sources = all_sources();
    ASSERT_GE(sources.size(), 15u);  // 10 reference templates + 5 tokenizers with a template
    json convs = json::parse(read(source_dir() / "tests/chat/oracle_conversations.json"));
    json plan = json::array();
    struct Case {
        size_t source;
        ChatRequest req;
        std::string what;
    };
    std::vector<Case> cases;
    for (size_t s = 0; s < sources.size(); ++s) {
        for (const auto &c : convs) {
            for (bool gen : {false, true}) {
                json r = c["request"];
                if (r.value("continue_final_message", false) && gen) continue;
                r["add_generation_prompt"] = gen;
                std::string id = std::to_string(cases.size());
                plan.push_back({{"id", id},
                                {"template", sources[s].source},
                                {"special_tokens", sources[s].special_tokens},
                                {"request", r}});
                cases.push_back({s, parse_chat_request(r.dump()),
                                 sources[s].name + " / " + c["name"].get<std::string>() +
                                     (gen ? " +gen" : "")});
            }
        }
    }
    fs::path plan_file =
        fs::temp_directory_path() / ("hfk_chat_oracle_" + std::to_string(getpid()) + ".json");
    {
        std::ofstream f(plan_file, std::ios::binary);
        f << plan.dump();
    }
    std::string cmd = "/usr/bin/python3 " + (source_dir() / "tests/chat/jinja_oracle.py").string() +
                      " " + plan_file.string();
    FILE *p = popen(cmd.c_str(), "r");
    ASSERT_NE(p, nullptr);
    std::string output;
    char buf[65536];
    size_t n;
    while ((n = fread(buf, 1, sizeof buf, p)) > 0) output.append(buf, n);
    int status = pclose(p);
    fs::remove(plan_file);
    ASSERT_EQ(status, 0) << "the oracle failed: " << cmd;

    std::istringstream lines(output);
    std::string line;
    size_t checked = 0, raised = 0, rendered = 0;
    RenderOptions opt;
    opt.strftime_now = fixed_clock;
    while (std::getline(lines, line)) {
        json rec = json::parse(line);
        const Case &c = cases[std::stoul(rec["id"].get<std::string>())];
        const Source &src = sources[c.source];
        SCOPED_TRACE(c.what);
        std::string ours;
        try {
            Template tpl(src.source);
            ours = render_chat(tpl, src.source, src.special_tokens, c.req, opt);
        } catch (const TemplateError &e) {
            if (rec.contains("rendered")) {
                ADD_FAILURE() << "hfkit failed (" << e.what() << "), the oracle rendered:\n"
                              << rec["rendered"].get<std::string>();
            } else if (!rec["raised"].get<bool>()) {
                std::printf("both failed: %s: oracle %s / hfkit %s\n", c.what.c_str(),
                            rec["error"].get<std::string>().c_str(), e.what());
            } else {
                EXPECT_EQ(e.kind(), ErrorKind::Raised);
                EXPECT_EQ(std::string(e.what()), rec["error"].get<std::string>());
                ++raised;
            }
            ++checked;
            continue;
        }
        if (rec.contains("error")) {
            ADD_FAILURE() << "the oracle failed (" << rec["error"].get<std::string>()
                          << "), hfkit rendered:\n"
                          << ours;
        } else {
            EXPECT_EQ(ours, rec["rendered"].get<std::string>());
            ++rendered;
        }
        ++checked;
    }
    EXPECT_EQ(checked, cases.size());
    EXPECT_GT(rendered, cases.size() / 2);  // most cases render; the rest raise as the oracle does
    std::printf("oracle: %zu cases, %zu rendered identically, %zu raised identically\n", checked,
                rendered, raised);
}
