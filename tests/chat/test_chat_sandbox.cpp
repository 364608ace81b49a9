// The sandbox: hostile templates end with a clear error of the right kind (Resource for a
// limit, Syntax for what does not parse), never a hang or a crash.
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <unistd.h>

#include "chat/chat_render.h"
#include "chat/model_templates.h"
#include "chat/template.h"

using namespace hfk::chat;
using json = nlohmann::ordered_json;

namespace {

ErrorKind kind_of(const std::string &source, const Limits &limits = {},
                  json vars = json::object()) {
    try {
        RenderOptions o;
        o.limits = limits;
        Template(source).render_json(vars, o);
    } catch (const TemplateError &e) {
        return e.kind();
    }
    ADD_FAILURE() << "no error for: " << source;
    return ErrorKind::Runtime;
}

}  // namespace

TEST(ChatSandbox, NestedLoopsHitTheIterationLimit) {
    Limits l;
    l.max_loop_iterations = 10000;
    EXPECT_EQ(
        kind_of("{% for a in range(1000) %}{% for b in range(1000) %}{% endfor %}{% endfor %}", l),
        ErrorKind::Resource);
}

TEST(ChatSandbox, RangeIsBounded) {
    EXPECT_EQ(kind_of("{{ range(100000000)|length }}"), ErrorKind::Resource);
}

TEST(ChatSandbox, OutputSizeIsBounded) {
    Limits l;
    l.max_output_bytes = 1 << 16;
    EXPECT_EQ(kind_of("{% for i in range(10000) %}0123456789{% endfor %}", l), ErrorKind::Resource);
    EXPECT_EQ(kind_of("{{ 'x' * 100000000 }}", l), ErrorKind::Resource);
    // doubling a string in a namespace grows exponentially; the size check stops it
    EXPECT_EQ(kind_of("{% set ns = namespace(s='ab') %}{% for i in range(64) %}{% set ns.s = ns.s "
                      "~ ns.s %}{% endfor %}",
                      l),
              ErrorKind::Resource);
}

TEST(ChatSandbox, MacroRecursionIsBounded) {
    EXPECT_EQ(kind_of("{% macro f(n) %}{{ f(n + 1) }}{% endmacro %}{{ f(0) }}"),
              ErrorKind::Resource);
}

TEST(ChatSandbox, DeepNestingIsASyntaxErrorNotAStackOverflow) {
    std::string deep(100000, '(');
    EXPECT_EQ(kind_of("{{ " + deep + "1" + std::string(100000, ')') + " }}"), ErrorKind::Syntax);
    std::string ifs;
    for (int i = 0; i < 5000; ++i) ifs += "{% if true %}";
    EXPECT_EQ(kind_of(ifs), ErrorKind::Syntax);
    std::string nots;
    for (int i = 0; i < 100000; ++i) nots += "not ";
    EXPECT_EQ(kind_of("{{ " + nots + "1 }}"), ErrorKind::Syntax);
}

TEST(ChatSandbox, StepsAreBounded) {
    Limits l;
    l.max_steps = 100000;
    l.max_loop_iterations = 1u << 30;
    EXPECT_EQ(kind_of("{% for a in range(100000) %}{{ a + a + a }}{% endfor %}", l),
              ErrorKind::Resource);
}

TEST(ChatSandbox, SyntaxErrors) {
    for (const char *bad : {"{{ ", "{% if x %}", "{% for %}", "{{ 'unterminated }}", "{% endif %}",
                            "{# never closed", "{% unknowntag %}", "{{ a b }}", "{% raw %}x"})
        EXPECT_EQ(kind_of(bad), ErrorKind::Syntax) << bad;
}

TEST(ChatSandbox, RuntimeErrors) {
    EXPECT_EQ(kind_of("{{ missing.attr }}"), ErrorKind::Runtime);
    EXPECT_EQ(kind_of("{{ 1 + 'a' }}"), ErrorKind::Runtime);
    EXPECT_EQ(kind_of("{{ 1 // 0 }}"), ErrorKind::Runtime);
    EXPECT_EQ(kind_of("{{ 9223372036854775807 + 1 }}"), ErrorKind::Runtime);
    EXPECT_EQ(kind_of("{{ x|nosuchfilter }}"), ErrorKind::Runtime);
    EXPECT_EQ(kind_of("{{ x is nosuchtest }}"), ErrorKind::Runtime);
    EXPECT_EQ(kind_of("{% set x = 1 %}{% set x.a = 2 %}"), ErrorKind::Runtime);
    EXPECT_EQ(kind_of("{{ raise_exception('boom') }}"), ErrorKind::Raised);
}

TEST(ChatSandbox, NoAccessToTheOutsideWorld) {
    // Python's escape hatches do not exist here: they are undefined attributes
    EXPECT_EQ(Template("{{ ''.__class__ }}{{ x.__dict__ }}{{ cycler.__init__ }}")
                  .render_json({{"x", json::object()}}),
              "");
    EXPECT_EQ(kind_of("{{ ''.__class__.__mro__ }}"), ErrorKind::Runtime);
}

TEST(ChatSandbox, AppendWorksOnListsMadeInTheTemplate) {
    EXPECT_EQ(Template("{% set xs = [] %}{% for i in range(3) %}{% set _ = xs.append(i * 2) %}{% "
                       "endfor %}{{ xs }}")
                  .render_json(json::object()),
              "[0, 2, 4]");
}

TEST(ChatSandbox, RaiseExceptionCarriesTheTemplatesMessage) {
    try {
        Template(
            "{{ raise_exception('Conversation roles must alternate "
            "user/assistant/user/assistant/...') }}")
            .render_json(json::object());
        FAIL();
    } catch (const TemplateError &e) {
        EXPECT_EQ(e.kind(), ErrorKind::Raised);
        EXPECT_STREQ(e.what(),
                     "Conversation roles must alternate user/assistant/user/assistant/...");
    }
}

TEST(ChatTemplates, LoadsStringListAndJinjaFileAndSpecialTokens) {
    namespace fs = std::filesystem;
    fs::path dir = fs::temp_directory_path() / ("hfk_chat_tpl_" + std::to_string(getpid()));
    fs::create_directories(dir);
    {
        std::ofstream(dir / "tokenizer_config.json")
            << R"({"chat_template": [{"name": "default", "template": "D"}, {"name": "tool_use", "template": "T"}],
                  "bos_token": "<s>", "eos_token": {"content": "</s>", "lstrip": false},
                  "add_bos_token": true, "pad_token": null})";
    }
    ModelTemplates mt = load_model_templates(dir.string());
    EXPECT_EQ(mt.pick("", false).value(), "D");
    EXPECT_EQ(mt.pick("", true).value(), "T");
    EXPECT_EQ(mt.pick("tool_use", false).value(), "T");
    EXPECT_FALSE(mt.pick("nope", false).has_value());
    EXPECT_EQ(mt.special_tokens, json({{"bos_token", "<s>"}, {"eos_token", "</s>"}}));
    { std::ofstream(dir / "chat_template.jinja") << "J"; }
    EXPECT_EQ(load_model_templates(dir.string()).pick("", false).value(), "J");
    fs::remove_all(dir);
    EXPECT_TRUE(load_model_templates(dir.string()).empty());
}
