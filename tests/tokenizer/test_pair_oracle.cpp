// Tokenizer::encode_pair against the Rust `tokenizers` library (rust_oracle/pair_oracle.mjs, the
// pinned napi build, run with node): the ids and token type ids of text pairs through every kind of
// post-processor (TemplateProcessing with and without special tokens, BertProcessing,
// RobertaProcessing, ByteLevel alone, none, a Sequence of ByteLevel + TemplateProcessing), without
// truncation and with LongestFirst truncation to lengths that cut one text, both or neither.
//
// Skipped, with the reason, when node or `npm ci --prefix tests/tokenizer/rust_oracle` is missing.
#include <gtest/gtest.h>
#include <sys/wait.h>

#include <cstdio>
#include <functional>
#include <nlohmann/json.hpp>
#include <sstream>

#include "test_util.h"
#include "tokenizer/tokenizer.h"
#include "util/error.h"

namespace fs = std::filesystem;
using nlohmann::json;

namespace {

fs::path oracle_dir() {
    return hfk_test::source_dir() / "tests" / "tokenizer" / "rust_oracle";
}

std::string shell_quote(const std::string &s) {
    std::string q = "'";
    for (char c : s) q += c == '\'' ? std::string("'\\''") : std::string(1, c);
    return q + "'";
}

struct Subject {
    std::string name;
    std::string dir;                   // under ../shared/tokenizers
    std::function<void(json &)> edit;  // a variant of its post_processor, or none
};

void PrintTo(const Subject &s, std::ostream *os) {
    *os << s.name;
}

json special(const std::string &id, int type) {
    return {{"SpecialToken", {{"id", id}, {"type_id", type}}}};
}
json sequence(const std::string &id, int type) {
    return {{"Sequence", {{"id", id}, {"type_id", type}}}};
}

const Subject kSubjects[] = {
    {"bert_template", "bert-base-uncased-wordpiece", nullptr},
    {"roberta", "roberta-base", nullptr},
    {"clip_roberta_processing", "clip", nullptr},
    {"t5_template", "t5-small", nullptr},
    {"phi3_template_no_specials", "phi-3-mini", nullptr},
    {"gpt2_bytelevel", "gpt2", nullptr},
    {"falcon_no_post_processor", "falcon", nullptr},
    {"bert_processing", "bert-base-uncased-wordpiece",
     [](json &j) {
         j["post_processor"] = {
             {"type", "BertProcessing"}, {"sep", {"[SEP]", 102}}, {"cls", {"[CLS]", 101}}};
     }},
    {"sequence_bytelevel_template", "gpt2",
     [](json &j) {
         const std::string e = "<|endoftext|>";
         json tp = {{"type", "TemplateProcessing"},
                    {"single", {special(e, 0), sequence("A", 0)}},
                    {"pair", {special(e, 0), sequence("A", 0), special(e, 1), sequence("B", 1)}},
                    {"special_tokens", {{e, {{"id", e}, {"ids", {50256}}, {"tokens", {e}}}}}}};
         j["post_processor"] = {{"type", "Sequence"}, {"processors", {j["post_processor"], tp}}};
     }},
};

// Pairs of the shared corpus's texts (some empty, some long), each at several maximum lengths.
std::vector<json> make_cases() {
    std::vector<std::string> texts;
    std::ifstream in(hfk_test::shared_dir() / "reference/tokenizers/corpus.jsonl");
    for (std::string line; std::getline(in, line);)
        if (!line.empty()) texts.push_back(json::parse(line).at("text").get<std::string>());
    std::vector<json> cases;
    if (texts.size() < 50) return cases;
    const size_t n = texts.size();
    for (size_t k = 0; k < 40; ++k) {
        const std::string &a = texts[(k * 37 + 5) % n], &b = texts[(k * 101 + 17) % n];
        for (int max_length : {0, 5, 9, 16, 40})
            cases.push_back({{"a", a}, {"b", b}, {"max_length", max_length}});
    }
    // A long query against a short document and the reverse: only the longer one is cut.
    std::string long_text;
    for (int i = 0; i < 30; ++i) long_text += "word" + std::to_string(i) + " ";
    for (int max_length : {8, 12, 20, 25}) {
        cases.push_back({{"a", long_text}, {"b", "short text"}, {"max_length", max_length}});
        cases.push_back({{"a", "short text"}, {"b", long_text}, {"max_length", max_length}});
    }
    return cases;
}

class PairOracle : public ::testing::TestWithParam<Subject> {};

TEST_P(PairOracle, IdsAndTypeIdsMatchTheRustLibrary) {
    const Subject &s = GetParam();
    if (!fs::exists(oracle_dir() / "node_modules" / "@anush008" / "tokenizers" / "package.json"))
        GTEST_SKIP() << "the Rust oracle is not installed: run `npm ci --prefix "
                     << oracle_dir().string() << "`";
    if (std::system("node --version >/dev/null 2>&1") != 0) GTEST_SKIP() << "node is not on PATH";

    hfk_test::TempDir scratch;
    json doc = json::parse(
        hfk_test::read_text(hfk_test::shared_dir() / "tokenizers" / s.dir / "tokenizer.json"));
    if (s.edit) s.edit(doc);
    const fs::path tj = scratch.write("tokenizer.json", doc.dump());
    const auto tok = hfk::Tokenizer::load(tj);

    // Lengths below the pair template's special tokens are an error on both sides (Rust: an
    // underflow); they are left out here and checked in SpecialTokensAloneOverTheLimit.
    const size_t added = tok->encode_pair("", "", 0).ids.size();
    std::vector<json> cases;
    for (json &c : make_cases())
        if (c["max_length"].get<size_t>() == 0 || c["max_length"].get<size_t>() >= added)
            cases.push_back(std::move(c));
    ASSERT_GT(cases.size(), 200u);
    std::string lines;
    for (const json &c : cases) lines += c.dump() + "\n";
    const fs::path cases_path = scratch.write("cases.jsonl", lines);

    const std::string cmd = "node " + shell_quote((oracle_dir() / "pair_oracle.mjs").string()) +
                            " " + shell_quote(tj.string()) + " " +
                            shell_quote(cases_path.string()) + " 2>" +
                            shell_quote((scratch.path / "err").string());
    FILE *p = popen(cmd.c_str(), "r");
    ASSERT_NE(p, nullptr);
    std::string out;
    char buf[1 << 16];
    for (size_t n; (n = fread(buf, 1, sizeof buf, p)) > 0;) out.append(buf, n);
    const int status = pclose(p);
    ASSERT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0)
        << cmd << "\n"
        << out.substr(0, 500) << hfk_test::read_text(scratch.path / "err");
    std::istringstream rows(out);
    std::string header;
    std::getline(rows, header);
    ASSERT_EQ(json::parse(header)["_header"].value("version", ""), "0.6.0") << header;

    size_t checked = 0, cut = 0;
    for (const json &c : cases) {
        std::string line;
        ASSERT_TRUE(std::getline(rows, line)) << "the oracle gave fewer rows than cases";
        const json want = json::parse(line);
        ASSERT_FALSE(want.contains("error")) << c.dump() << ": " << want.dump();
        const auto got = tok->encode_pair(c["a"].get<std::string>(), c["b"].get<std::string>(),
                                          c["max_length"].get<size_t>());
        EXPECT_EQ(got.ids, want["ids"].get<std::vector<int32_t>>()) << s.name << " " << c.dump();
        EXPECT_EQ(got.type_ids, want["type_ids"].get<std::vector<int32_t>>())
            << s.name << " " << c.dump();
        const size_t full =
            tok->encode_pair(c["a"].get<std::string>(), c["b"].get<std::string>(), 0).ids.size();
        EXPECT_EQ(got.truncated, got.ids.size() < full) << s.name << " " << c.dump();
        cut += got.truncated;
        ++checked;
    }
    EXPECT_EQ(checked, cases.size());
    EXPECT_GT(cut, 20u) << "the cases must reach the truncation";
}

INSTANTIATE_TEST_SUITE_P(Tokenizers, PairOracle, ::testing::ValuesIn(kSubjects),
                         [](const auto &info) { return info.param.name; });

TEST(PairEncoding, SpecialTokensAloneOverTheLimit) {
    const auto tok = hfk::Tokenizer::load(hfk_test::shared_dir() / "tokenizers" /
                                          "bert-base-uncased-wordpiece" / "tokenizer.json");
    try {
        (void)tok->encode_pair("a", "b", 2);  // [CLS] [SEP] [SEP] is 3
        FAIL() << "expected HFK_E_CONTEXT_FULL";
    } catch (const hfk::Error &e) {
        EXPECT_EQ(e.status(), HFK_E_CONTEXT_FULL) << e.what();
    }
    const auto three = tok->encode_pair("hello", "world", 3);
    EXPECT_EQ(three.ids, (std::vector<int32_t>{101, 102, 102}));
    EXPECT_EQ(three.type_ids, (std::vector<int32_t>{0, 0, 1}));
    EXPECT_TRUE(three.truncated);
}

}  // namespace
