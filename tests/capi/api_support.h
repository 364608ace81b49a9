// Helpers for tests that drive hfkit through its public C API only.
#pragma once

#include <gtest/gtest.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <initializer_list>
#include <memory>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "../support/test_support.h"
#include "hfkit/hfkit.h"

namespace hfk_api_test {

using hfk_test::read_all;
using hfk_test::shared_dir;
using hfk_test::source_dir;
using hfk_test::TempDir;

inline std::filesystem::path default_model() {
    return source_dir() / "models/aidreams260K";
}

// The encoder zoo that tests/model/zoo/make_encoders.py builds at test time (CTest fixture
// encoder_zoo); empty when HFK_ENCODER_ZOO_DIR is not set.
inline std::filesystem::path encoder_zoo() {
    const char *d = std::getenv("HFK_ENCODER_ZOO_DIR");
    return d ? std::filesystem::path(d) : std::filesystem::path();
}

inline nlohmann::json read_json(const std::filesystem::path &p) {
    std::ifstream in(p);
    if (!in) throw std::runtime_error("cannot read " + p.string());
    return nlohmann::json::parse(in);
}

struct ModelDeleter {
    void operator()(hfk_model *m) const { hfk_model_free(m); }
};
struct SessionDeleter {
    void operator()(hfk_session *s) const { hfk_session_free(s); }
};
using ModelPtr = std::unique_ptr<hfk_model, ModelDeleter>;
using SessionPtr = std::unique_ptr<hfk_session, SessionDeleter>;

inline ModelPtr load(const std::filesystem::path &dir, int32_t n_threads = 1) {
    hfk_load_params lp;
    HFK_LOAD_PARAMS_INIT(&lp);
    lp.n_threads = n_threads;
    hfk_model *m = nullptr;
    const hfk_status s = hfk_model_load(&m, dir.c_str(), &lp);
    EXPECT_EQ(s, HFK_OK) << dir << ": " << hfk_last_error_message();
    return ModelPtr(m);
}

inline SessionPtr session(hfk_model *m, int32_t n_threads = 0) {
    hfk_session_params sp;
    HFK_SESSION_PARAMS_INIT(&sp);
    sp.n_threads = n_threads;
    hfk_session *s = nullptr;
    EXPECT_EQ(hfk_session_create(&s, m, &sp), HFK_OK) << hfk_last_error_message();
    return SessionPtr(s);
}

inline hfk_gen_params greedy(int32_t max_new_tokens) {
    hfk_gen_params p;
    HFK_GEN_PARAMS_INIT(&p);
    p.max_new_tokens = max_new_tokens;
    p.temperature = 0.0f;
    p.ignore_eos = 1;
    return p;
}

inline std::vector<int32_t> last_tokens(hfk_session *s) {
    int64_t n = 0;
    const hfk_status first = hfk_session_last_tokens(s, nullptr, 0, &n);
    EXPECT_EQ(first, n == 0 ? HFK_OK : HFK_E_BUFFER_TOO_SMALL);
    std::vector<int32_t> ids(static_cast<size_t>(n < 0 ? -n : n));
    EXPECT_EQ(hfk_session_last_tokens(s, ids.data(), static_cast<int64_t>(ids.size()), &n), HFK_OK);
    return ids;
}

// Generates and returns the text; the ids go to *ids when given.
inline std::string generate(hfk_session *s, const std::string &prompt, const hfk_gen_params &p,
                            std::vector<int32_t> *ids = nullptr, hfk_status expect = HFK_OK) {
    char *text = nullptr;
    const hfk_status st =
        hfk_session_generate(s, prompt.c_str(), &p, nullptr, nullptr, &text, nullptr);
    EXPECT_EQ(st, expect) << hfk_last_error_message();
    std::string out = text ? text : "";
    hfk_free(text);
    if (ids) *ids = last_tokens(s);
    return out;
}

inline std::vector<int32_t> tokenize(const hfk_tokenizer *tok, const std::string &text,
                                     bool add_special) {
    int64_t n = 0;
    const hfk_status s = hfk_tokenize(tok, text.data(), text.size(), add_special, nullptr, 0, &n);
    EXPECT_EQ(s, n == 0 ? HFK_OK : HFK_E_BUFFER_TOO_SMALL);
    std::vector<int32_t> ids(static_cast<size_t>(n < 0 ? -n : n));
    EXPECT_EQ(hfk_tokenize(tok, text.data(), text.size(), add_special, ids.data(),
                           static_cast<int64_t>(ids.size()), &n),
              HFK_OK);
    return ids;
}

// A checkpoint directory assembled from links: the model's files plus a tokenizer from elsewhere.
inline void link_all(const std::filesystem::path &from, const std::filesystem::path &to) {
    for (const auto &e : std::filesystem::directory_iterator(from))
        std::filesystem::create_symlink(e.path(), to / e.path().filename());
}

// A WordLevel tokenizer where the word "t<i>" is id i and nothing is added, so that a text of such
// words encodes to exactly the ids a reference was computed from (tiny-bert-f32 ships no
// tokenizer; tests/python/test_embed.py builds the same fixture).
inline void write_word_level_tokenizer(const std::filesystem::path &dir, int64_t vocab_size) {
    nlohmann::json vocab = nlohmann::json::object();
    for (int64_t i = 0; i < vocab_size; ++i) vocab["t" + std::to_string(i)] = i;
    const nlohmann::json tj = {
        {"version", "1.0"},
        {"truncation", nullptr},
        {"padding", nullptr},
        {"added_tokens", nlohmann::json::array()},
        {"normalizer", nullptr},
        {"pre_tokenizer", {{"type", "WhitespaceSplit"}}},
        {"post_processor", nullptr},
        {"decoder", nullptr},
        {"model", {{"type", "WordLevel"}, {"vocab", vocab}, {"unk_token", "t0"}}}};
    std::ofstream(dir / "tokenizer.json") << tj.dump();
}

// One bad generation option: `set` breaks the field named `field`, which the error must name.
struct BadGenOption {
    const char *field;
    void (*set)(hfk_gen_params &);
};

// Each case makes hfk_session_generate fail with HFK_E_INVALID_ARG and a message naming its field.
inline void expect_bad_options_named(hfk_session *s, const hfk_gen_params &base,
                                     std::initializer_list<BadGenOption> cases) {
    for (const auto &c : cases) {
        hfk_gen_params p = base;
        c.set(p);
        EXPECT_EQ(hfk_session_generate(s, "x", &p, nullptr, nullptr, nullptr, nullptr),
                  HFK_E_INVALID_ARG)
            << c.field;
        EXPECT_NE(std::string(hfk_last_error_message()).find(c.field), std::string::npos)
            << hfk_last_error_message();
    }
}

}  // namespace hfk_api_test
