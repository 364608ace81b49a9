// Every shared reference template (and every shared tokenizer's template) rendered over
// conversations.json, compared byte for byte with renders by an independent engine
// (@huggingface/jinja, ../shared/reference/chat), including the cases that must raise.
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <ctime>
#include <sstream>

#include "chat/template.h"

namespace fs = std::filesystem;
using hfk::chat::ErrorKind;
using hfk::chat::Template;
using hfk::chat::TemplateError;
using json = nlohmann::ordered_json;

namespace {

fs::path shared_dir() {
    const char *e = std::getenv("HFK_SHARED_DIR");
    return fs::path(e && *e ? e : HFK_TEST_SHARED_DIR);
}

std::string read(const fs::path &p) {
    std::ifstream f(p, std::ios::binary);
    std::stringstream ss;
    ss << f.rdbuf();
    return ss.str();
}

// The reference renders were made on 23 Nov 2026 (Granite prints strftime_now's date).
std::string reference_clock(const std::string &format) {
    std::tm tm{};
    tm.tm_year = 2026 - 1900;
    tm.tm_mon = 10;
    tm.tm_mday = 23;
    tm.tm_hour = 12;
    std::time_t t = timegm(&tm);
    gmtime_r(&t, &tm);
    char buf[256];
    return std::string(buf, std::strftime(buf, sizeof buf, format.c_str(), &tm));
}

// Renders each case of a reference .jsonl; returns the number of cases compared.
int check_reference(const std::string &source, const fs::path &jsonl) {
    json convs = json::parse(read(shared_dir() / "reference/chat/conversations.json"));
    std::ifstream f(jsonl);
    std::string line;
    std::getline(f, line);
    json header = json::parse(line)["_header"];
    Template tpl(source);
    hfk::chat::RenderOptions opt;
    opt.strftime_now = reference_clock;
    int n = 0;
    while (std::getline(f, line)) {
        if (line.empty()) continue;
        json rec = json::parse(line);
        json vars = header["vars"];
        int idx = rec["index"].get<int>();
        vars["messages"] = convs[static_cast<size_t>(idx)]["messages"];
        vars["add_generation_prompt"] = rec["add_generation_prompt"];
        vars["date_string"] = "26 Jul 2024";
        std::string what = jsonl.filename().string() + " case " + rec["name"].get<std::string>() +
                           (rec["add_generation_prompt"].get<bool>() ? " +gen" : "");
        if (rec.contains("error")) {
            try {
                std::string out = tpl.render_json(vars, opt);
                ADD_FAILURE() << what << ": expected raise '" << rec["error"] << "', got " << out;
            } catch (const TemplateError &e) {
                EXPECT_EQ(e.kind(), ErrorKind::Raised) << what << ": " << e.what();
                EXPECT_EQ(std::string(e.what()), rec["error"].get<std::string>()) << what;
            }
        } else {
            try {
                EXPECT_EQ(tpl.render_json(vars, opt), rec["rendered"].get<std::string>()) << what;
            } catch (const TemplateError &e) {
                ADD_FAILURE() << what << ": unexpected error " << e.what();
            }
        }
        ++n;
    }
    return n;
}

}  // namespace

TEST(ChatReference, SharedTemplatesRenderLikeTheReference) {
    fs::path dir = shared_dir() / "reference/chat/templates";
    int files = 0;
    for (const auto &e : fs::directory_iterator(dir)) {
        if (e.path().extension() != ".jinja") continue;
        fs::path jsonl = e.path();
        jsonl.replace_extension(".jsonl");
        SCOPED_TRACE(e.path().filename().string());
        EXPECT_EQ(check_reference(read(e.path()), jsonl), 22);
        ++files;
    }
    EXPECT_EQ(files, 10);
}

TEST(ChatReference, SharedTokenizerTemplatesRenderLikeTheReference) {
    int files = 0;
    for (const auto &e : fs::directory_iterator(shared_dir() / "reference/chat")) {
        if (e.path().extension() != ".jsonl") continue;
        std::string name = e.path().stem().string();
        json cfg = json::parse(read(shared_dir() / "tokenizers" / name / "tokenizer_config.json"));
        std::string source;
        if (cfg["chat_template"].is_string())
            source = cfg["chat_template"].get<std::string>();
        else
            for (const auto &t : cfg["chat_template"])
                if (t["name"] == "default") source = t["template"].get<std::string>();
        ASSERT_FALSE(source.empty()) << name;
        SCOPED_TRACE(name);
        EXPECT_EQ(check_reference(source, e.path()), 22);
        ++files;
    }
    EXPECT_EQ(files, 5);
}
