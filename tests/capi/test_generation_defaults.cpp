// Prompt edge cases and the model's own defaults through the public C API: the empty prompt
// (with and without a BOS token to start from), add_special_tokens, generation_config.json
// defaults for unset options, and end-of-sequence ids read from the checkpoint.
#include <set>

#include "api_support.h"

namespace {

using namespace hfk_api_test;
namespace fs = std::filesystem;

// A checkpoint directory in `to` with every file of `from` linked, except those in `replaced`
// (which the caller writes).
void link_except(const fs::path &from, const fs::path &to, const std::set<std::string> &replaced) {
    for (const auto &e : fs::directory_iterator(from))
        if (!replaced.count(e.path().filename().string()))
            fs::create_symlink(e.path(), to / e.path().filename());
}

void write_json(const fs::path &p, const nlohmann::json &j) {
    std::ofstream out(p);
    out << j.dump(2);
    ASSERT_TRUE(out.good()) << p;
}

nlohmann::json bos_reference() {
    return read_json(shared_dir() / "reference/forward/aidreams260K/forward_bos_f32.json");
}

hfk_gen_result run(hfk_model *model, const std::string &prompt, const hfk_gen_params &p,
                   std::vector<int32_t> *ids = nullptr, hfk_status expect = HFK_OK) {
    auto s = session(model);
    hfk_gen_result r;
    HFK_GEN_RESULT_INIT(&r);
    const hfk_status st =
        hfk_session_generate(s.get(), prompt.c_str(), &p, nullptr, nullptr, nullptr, &r);
    EXPECT_EQ(st, expect) << hfk_last_error_message();
    if (ids) *ids = last_tokens(s.get());
    return r;
}

// ---- the empty prompt ----------------------------------------------------------------------

// An empty prompt is the BOS token alone, whatever add_special_tokens says: the run equals the
// reference's greedy continuation from BOS.
TEST(EmptyPrompt, IsTheBosTokenAloneWithOrWithoutSpecialTokens) {
    auto model = load(default_model());
    ASSERT_TRUE(model);
    const auto ref = bos_reference();
    const auto want_prompt = ref["ids"].get<std::vector<int32_t>>();
    const auto want = ref["greedy"].get<std::vector<int32_t>>();
    ASSERT_EQ(want_prompt.size(), 1u);
    ASSERT_EQ(want_prompt[0],
              hfk_tokenizer_special_id(hfk_model_tokenizer(model.get()), HFK_SPECIAL_BOS));
    for (int32_t add_special : {-1, 1, 0}) {
        SCOPED_TRACE("add_special_tokens " + std::to_string(add_special));
        hfk_gen_params p = greedy(static_cast<int32_t>(want.size()));
        p.add_special_tokens = add_special;
        std::vector<int32_t> got;
        const hfk_gen_result r = run(model.get(), "", p, &got);
        EXPECT_EQ(r.n_prompt_tokens, 1);
        EXPECT_EQ(r.n_reused_tokens, 0);
        EXPECT_EQ(got, want);
    }
}

// The default model's tokenizer with its BOS removed: no post-processor, no bos_token. The
// weights and config.json (which still names bos_token_id 1) are the default model's.
fs::path no_bos_checkpoint(const TempDir &tmp) {
    const fs::path src = default_model();
    link_except(src, tmp.path,
                {"tokenizer.json", "tokenizer_config.json", "special_tokens_map.json"});
    auto tj = read_json(src / "tokenizer.json");
    tj["post_processor"] = nullptr;
    write_json(tmp.path / "tokenizer.json", tj);
    auto cfg = read_json(src / "tokenizer_config.json");
    cfg["bos_token"] = nullptr;
    cfg["add_bos_token"] = false;
    write_json(tmp.path / "tokenizer_config.json", cfg);
    return tmp.path;
}

TEST(EmptyPrompt, WithoutABosTokenIsAnInvalidArgument) {
    TempDir tmp;
    auto model = load(no_bos_checkpoint(tmp));
    ASSERT_TRUE(model);
    const hfk_tokenizer *tok = hfk_model_tokenizer(model.get());
    ASSERT_EQ(hfk_tokenizer_special_id(tok, HFK_SPECIAL_BOS), -1) << "the fixture still has a BOS";
    EXPECT_TRUE(tokenize(tok, "", true).empty());
    auto s = session(model.get());
    for (int32_t add_special : {-1, 1, 0}) {
        SCOPED_TRACE("add_special_tokens " + std::to_string(add_special));
        hfk_gen_params p = greedy(5);
        p.add_special_tokens = add_special;
        char *text = reinterpret_cast<char *>(0x1);
        hfk_gen_result r;
        HFK_GEN_RESULT_INIT(&r);
        EXPECT_EQ(hfk_session_generate(s.get(), "", &p, nullptr, nullptr, &text, &r),
                  HFK_E_INVALID_ARG);
        EXPECT_EQ(text, nullptr);
        const std::string msg = hfk_last_error_message();
        EXPECT_NE(msg.find("empty"), std::string::npos) << msg;
        EXPECT_NE(msg.find("BOS"), std::string::npos) << msg;
        EXPECT_EQ(r.n_generated_tokens, 0);
    }
    // The session is unchanged and usable: a real prompt then equals a fresh session's run.
    std::vector<int32_t> after, fresh;
    const hfk_gen_params p = greedy(8);
    generate(s.get(), "Hello", p, &after);
    auto s2 = session(model.get());
    generate(s2.get(), "Hello", p, &fresh);
    EXPECT_EQ(after.size(), 8u);
    EXPECT_EQ(after, fresh);
}

// ---- add_special_tokens ----------------------------------------------------------------------

TEST(AddSpecialTokens, ZeroLeavesOutTheBos) {
    auto model = load(default_model());
    ASSERT_TRUE(model);
    const hfk_tokenizer *tok = hfk_model_tokenizer(model.get());
    const std::string prompt = "Once upon a time, there was a little girl";
    const auto with = tokenize(tok, prompt, true);
    const auto without = tokenize(tok, prompt, false);
    ASSERT_FALSE(without.empty());
    ASSERT_EQ(with.front(), hfk_tokenizer_special_id(tok, HFK_SPECIAL_BOS));
    hfk_gen_params p = greedy(4);
    p.add_special_tokens = 1;
    const hfk_gen_result r1 = run(model.get(), prompt, p);
    p.add_special_tokens = 0;
    const hfk_gen_result r0 = run(model.get(), prompt, p);
    p.add_special_tokens = -1;
    const hfk_gen_result rd = run(model.get(), prompt, p);
    EXPECT_EQ(r1.n_prompt_tokens, static_cast<int32_t>(with.size()));
    EXPECT_EQ(r0.n_prompt_tokens, static_cast<int32_t>(without.size()));
    EXPECT_EQ(r0.n_prompt_tokens, r1.n_prompt_tokens - 1);
    EXPECT_EQ(rd.n_prompt_tokens, r1.n_prompt_tokens) << "the default is the tokenizer's (BOS)";
}

// ---- generation_config.json ----------------------------------------------------------------

// The default model with generation_config.json (and optionally config.json) replaced.
fs::path with_configs(const TempDir &tmp, const nlohmann::json &generation_config,
                      const nlohmann::json *config = nullptr) {
    const fs::path src = default_model();
    std::set<std::string> replaced = {"generation_config.json"};
    if (config) replaced.insert("config.json");
    link_except(src, tmp.path, replaced);
    write_json(tmp.path / "generation_config.json", generation_config);
    if (config) write_json(tmp.path / "config.json", *config);
    return tmp.path;
}

hfk_gen_params explicit_params(float temperature, int32_t top_k, int32_t max_new_tokens,
                               uint64_t seed) {
    hfk_gen_params p;
    HFK_GEN_PARAMS_INIT(&p);
    p.temperature = temperature;
    p.top_k = top_k;
    p.top_p = 1.0f;
    p.min_p = 0.0f;
    p.repetition_penalty = 1.0f;
    p.max_new_tokens = max_new_tokens;
    p.seed = seed;
    return p;
}

TEST(GenerationConfig, UnsetOptionsTakeTheModelsDefaults) {
    TempDir tmp;
    const nlohmann::json gc = {{"bos_token_id", 1},  {"eos_token_id", 2}, {"do_sample", true},
                               {"temperature", 0.8}, {"top_k", 40},       {"max_new_tokens", 7}};
    auto model = load(with_configs(tmp, gc));
    ASSERT_TRUE(model);
    const std::string prompt = "Once upon a time";
    int differs_from_library_defaults = 0;
    for (uint64_t seed = 1; seed <= 6; ++seed) {
        SCOPED_TRACE("seed " + std::to_string(seed));
        hfk_gen_params unset;
        HFK_GEN_PARAMS_INIT(&unset);
        unset.seed = seed;
        std::vector<int32_t> by_default, by_hand, library_defaults;
        const hfk_gen_result r = run(model.get(), prompt, unset, &by_default);
        const hfk_gen_result e =
            run(model.get(), prompt, explicit_params(0.8f, 40, 7, seed), &by_hand);
        EXPECT_EQ(r.stop_reason, HFK_STOP_MAX_TOKENS);
        EXPECT_EQ(r.n_generated_tokens, 7);
        EXPECT_EQ(by_default.size(), 7u);
        EXPECT_EQ(by_default, by_hand);
        EXPECT_EQ(r.stop_reason, e.stop_reason);
        // transformers' defaults when sampling (temperature 1, top_k 50), same seed.
        run(model.get(), prompt, explicit_params(1.0f, 50, 7, seed), &library_defaults);
        if (library_defaults != by_default) ++differs_from_library_defaults;
    }
    EXPECT_GT(differs_from_library_defaults, 0)
        << "temperature 0.8 / top_k 40 gave the same tokens as 1.0 / 50 for every seed: the "
           "test cannot tell whether the file was read";
    // Explicit options still win over the file.
    const hfk_gen_result g = run(model.get(), prompt, greedy(3));
    EXPECT_EQ(g.n_generated_tokens, 3);
}

TEST(GenerationConfig, WithoutTheFileUnsetOptionsAreGreedy) {
    auto model = load(default_model());  // its generation_config.json says do_sample false
    ASSERT_TRUE(model);
    hfk_gen_params unset;
    HFK_GEN_PARAMS_INIT(&unset);
    unset.max_new_tokens = 20;
    unset.ignore_eos = 1;
    unset.seed = 99;
    std::vector<int32_t> got;
    run(model.get(), "", unset, &got);
    const auto want = bos_reference()["greedy"].get<std::vector<int32_t>>();
    EXPECT_EQ(got, std::vector<int32_t>(want.begin(), want.begin() + 20));
}

// The k-th token of the reference greedy continuation from BOS, declared an end-of-sequence
// id: greedy generation stops with HFK_STOP_EOS after exactly the k tokens before it.
struct EosCase {
    const char *name;
    bool in_generation_config;
};

void PrintTo(const EosCase &c, std::ostream *os) {
    *os << c.name;
}

class EosFromCheckpoint : public ::testing::TestWithParam<EosCase> {};

TEST_P(EosFromCheckpoint, StopsAtTheDeclaredToken) {
    const auto want = bos_reference()["greedy"].get<std::vector<int32_t>>();
    size_t k = 5;
    ASSERT_LT(k, want.size());
    // The stop must come at k, not at an earlier occurrence of the same id.
    for (size_t i = 0; i < k; ++i) ASSERT_NE(want[i], want[k]) << "pick another k";
    const int32_t stop_id = want[k];
    TempDir tmp;
    nlohmann::json gc = {{"bos_token_id", 1}, {"eos_token_id", 2}, {"do_sample", false}};
    nlohmann::json cfg = read_json(default_model() / "config.json");
    if (GetParam().in_generation_config)
        gc["eos_token_id"] = {2, stop_id};
    else
        cfg["eos_token_id"] = stop_id;
    auto model = load(with_configs(tmp, gc, &cfg));
    ASSERT_TRUE(model);

    hfk_gen_params p = greedy(40);
    p.ignore_eos = 0;
    std::vector<int32_t> got;
    const hfk_gen_result r = run(model.get(), "", p, &got);
    EXPECT_EQ(r.stop_reason, HFK_STOP_EOS);
    EXPECT_EQ(r.n_generated_tokens, static_cast<int32_t>(k));
    EXPECT_EQ(got, std::vector<int32_t>(want.begin(), want.begin() + static_cast<long>(k)));

    // ignore_eos runs through it.
    p.ignore_eos = 1;
    const hfk_gen_result all = run(model.get(), "", p, &got);
    EXPECT_EQ(all.stop_reason, HFK_STOP_MAX_TOKENS);
    EXPECT_EQ(got, std::vector<int32_t>(want.begin(), want.begin() + 40));
}

INSTANTIATE_TEST_SUITE_P(Files, EosFromCheckpoint,
                         ::testing::Values(EosCase{"generation_config", true},
                                           EosCase{"config", false}),
                         [](const auto &info) { return std::string(info.param.name); });

}  // namespace
