// Issue 20: saved sessions. A restored session continues exactly as the original (greedy,
// seeded generate, and the token-level sampler's generator); a file that is not ours, from
// another model, truncated or bit-flipped is refused with a clear status and leaves the
// session as it was.
#include <cstring>
#include <fstream>

#include "api_support.h"

using namespace hfk_api_test;
namespace fs = std::filesystem;

namespace {

std::vector<int32_t> session_tokens(hfk_session *s) {
    int64_t n = 0;
    const hfk_status first = hfk_session_tokens(s, nullptr, 0, &n);
    EXPECT_TRUE(first == HFK_OK || first == HFK_E_BUFFER_TOO_SMALL);
    std::vector<int32_t> ids(size_t(n < 0 ? -n : n));
    EXPECT_EQ(hfk_session_tokens(s, ids.data(), int64_t(ids.size()), &n), HFK_OK);
    return ids;
}

std::string read_bytes(const fs::path &p) {
    std::ifstream in(p, std::ios::binary);
    return std::string(std::istreambuf_iterator<char>(in), {});
}

void write_bytes(const fs::path &p, const std::string &b) {
    std::ofstream out(p, std::ios::binary | std::ios::trunc);
    out.write(b.data(), std::streamsize(b.size()));
}

hfk_gen_params seeded(int32_t n, uint64_t seed) {
    hfk_gen_params p = greedy(n);
    p.temperature = 0.9f;
    p.top_k = 30;
    p.seed = seed;
    return p;
}

struct SessionState : ::testing::Test {
    void SetUp() override {
        model = load(default_model(), 1);
        ASSERT_TRUE(model);
        file = dir.path / "state.hfks";
    }
    // A session part-way through a story, saved to `file`.
    SessionPtr saved() {
        auto s = session(model.get(), 1);
        generate(s.get(), "Once upon a time", greedy(9));
        EXPECT_EQ(hfk_session_save(s.get(), file.c_str()), HFK_OK) << hfk_last_error_message();
        return s;
    }
    ModelPtr model;
    TempDir dir;
    fs::path file;
};

}  // namespace

TEST_F(SessionState, RestoredSessionContinuesExactlyGreedyAndSeeded) {
    for (int seeded_run = 0; seeded_run < 2; ++seeded_run) {
        auto original = saved();
        auto restored = session(model.get(), 1);
        generate(restored.get(), "something else entirely", greedy(3));  // state to replace
        ASSERT_EQ(hfk_session_load(restored.get(), file.c_str()), HFK_OK)
            << hfk_last_error_message();
        EXPECT_EQ(session_tokens(restored.get()), session_tokens(original.get()));
        const hfk_gen_params p = seeded_run ? seeded(20, 42) : greedy(20);
        std::vector<int32_t> a, b;
        const std::string ta = generate(original.get(), " and then", p, &a);
        const std::string tb = generate(restored.get(), " and then", p, &b);
        EXPECT_EQ(a, b);
        EXPECT_EQ(ta, tb);
        ASSERT_EQ(a.size(), 20u);
    }
}

TEST_F(SessionState, RestoredSessionKeepsTheSamplerGenerator) {
    auto s = session(model.get(), 1);
    const auto prompt = tokenize(hfk_model_tokenizer(model.get()), "Once upon a time", true);
    ASSERT_EQ(hfk_session_eval(s.get(), prompt.data(), int64_t(prompt.size()), nullptr, 0), HFK_OK);
    ASSERT_EQ(hfk_session_set_seed(s.get(), 99), HFK_OK);
    hfk_gen_params p;
    HFK_GEN_PARAMS_INIT(&p);
    p.temperature = 1.0f;
    std::vector<float> l(size_t(hfk_session_n_logits(s.get())));
    int64_t n = 0;
    ASSERT_EQ(hfk_session_logits(s.get(), l.data(), int64_t(l.size()), &n), HFK_OK);
    int32_t id = 0;
    for (int i = 0; i < 5; ++i)  // advance the generator before saving
        ASSERT_EQ(hfk_session_sample(s.get(), l.data(), int64_t(l.size()), &p, &id), HFK_OK);
    ASSERT_EQ(hfk_session_save(s.get(), file.c_str()), HFK_OK);
    auto r = session(model.get(), 1);
    ASSERT_EQ(hfk_session_load(r.get(), file.c_str()), HFK_OK);
    std::vector<float> lr(l.size());
    ASSERT_EQ(hfk_session_logits(r.get(), lr.data(), int64_t(lr.size()), &n), HFK_OK);
    EXPECT_EQ(l, lr) << "the last logits are saved";
    // Token-level loop: sample, eval, repeat; both sessions take the same path.
    for (int step = 0; step < 10; ++step) {
        int32_t a = -1, b = -1;
        ASSERT_EQ(hfk_session_logits(s.get(), l.data(), int64_t(l.size()), &n), HFK_OK);
        ASSERT_EQ(hfk_session_logits(r.get(), lr.data(), int64_t(lr.size()), &n), HFK_OK);
        ASSERT_EQ(hfk_session_sample(s.get(), l.data(), int64_t(l.size()), &p, &a), HFK_OK);
        ASSERT_EQ(hfk_session_sample(r.get(), lr.data(), int64_t(lr.size()), &p, &b), HFK_OK);
        ASSERT_EQ(a, b) << "step " << step;
        ASSERT_EQ(hfk_session_eval(s.get(), &a, 1, nullptr, 0), HFK_OK);
        ASSERT_EQ(hfk_session_eval(r.get(), &b, 1, nullptr, 0), HFK_OK);
    }
}

TEST_F(SessionState, EmptySessionRoundTrips) {
    auto s = session(model.get(), 1);
    ASSERT_EQ(hfk_session_save(s.get(), file.c_str()), HFK_OK);
    auto r = session(model.get(), 1);
    generate(r.get(), "Once", greedy(2));
    ASSERT_EQ(hfk_session_load(r.get(), file.c_str()), HFK_OK) << hfk_last_error_message();
    EXPECT_TRUE(session_tokens(r.get()).empty());
    std::vector<int32_t> a, b;
    generate(s.get(), "Once upon", greedy(5), &a);
    generate(r.get(), "Once upon", greedy(5), &b);
    EXPECT_EQ(a, b);
}

TEST_F(SessionState, TruncatedFilesAreRefusedAndChangeNothing) {
    saved();
    const std::string bytes = read_bytes(file);
    ASSERT_GT(bytes.size(), 200u);
    auto s = session(model.get(), 1);
    generate(s.get(), "The end", greedy(2));
    const auto before = session_tokens(s.get());
    const fs::path cut = dir.path / "cut.hfks";
    for (size_t len : {size_t(0), size_t(7), size_t(8), size_t(50), size_t(95), size_t(96),
                       size_t(97), bytes.size() / 2, bytes.size() - 9, bytes.size() - 1}) {
        write_bytes(cut, bytes.substr(0, len));
        EXPECT_EQ(hfk_session_load(s.get(), cut.c_str()), HFK_E_FORMAT) << "length " << len;
        EXPECT_EQ(session_tokens(s.get()), before);
    }
    write_bytes(cut, bytes + "x");
    EXPECT_EQ(hfk_session_load(s.get(), cut.c_str()), HFK_E_FORMAT);
    EXPECT_NE(std::string(hfk_last_error_message()).find("trailing"), std::string::npos);
    EXPECT_EQ(hfk_session_load(s.get(), (dir.path / "absent").c_str()), HFK_E_NOT_FOUND);
}

TEST_F(SessionState, BitFlipsAnywhereAreRefusedAndChangeNothing) {
    saved();
    const std::string bytes = read_bytes(file);
    auto s = session(model.get(), 1);
    generate(s.get(), "The end", greedy(2));
    const auto before = session_tokens(s.get());
    const fs::path bad = dir.path / "flipped.hfks";
    std::vector<size_t> positions;
    for (size_t i = 0; i < 96; ++i) positions.push_back(i);  // every header byte
    for (size_t i = 96; i < bytes.size(); i += bytes.size() / 97 + 1) positions.push_back(i);
    positions.push_back(bytes.size() - 1);  // the checksum itself
    for (size_t pos : positions) {
        for (int bit : {0, 7}) {
            std::string b = bytes;
            b[pos] = char(b[pos] ^ (1 << bit));
            write_bytes(bad, b);
            const hfk_status st = hfk_session_load(s.get(), bad.c_str());
            EXPECT_NE(st, HFK_OK) << "byte " << pos << " bit " << bit;
            EXPECT_TRUE(st == HFK_E_FORMAT || st == HFK_E_UNSUPPORTED || st == HFK_E_INVALID_ARG ||
                        st == HFK_E_CONTEXT_FULL)
                << "byte " << pos << ": " << hfk_status_name(st);
            if (pos >= 96) {
                EXPECT_EQ(st, HFK_E_FORMAT) << "payload byte " << pos;
            }
            ASSERT_EQ(session_tokens(s.get()), before);
        }
    }
    // The session still works after all those refusals.
    ASSERT_EQ(hfk_session_load(s.get(), file.c_str()), HFK_OK);
}

TEST_F(SessionState, HeaderFieldsGiveClearStatuses) {
    saved();
    const std::string bytes = read_bytes(file);
    auto s = session(model.get(), 1);
    const fs::path bad = dir.path / "bad.hfks";
    std::string b = bytes;
    b[0] = 'X';
    write_bytes(bad, b);
    EXPECT_EQ(hfk_session_load(s.get(), bad.c_str()), HFK_E_FORMAT);
    EXPECT_NE(std::string(hfk_last_error_message()).find("magic"), std::string::npos);
    b = bytes;
    const uint32_t v2 = 2;
    std::memcpy(&b[8], &v2, 4);
    write_bytes(bad, b);
    EXPECT_EQ(hfk_session_load(s.get(), bad.c_str()), HFK_E_UNSUPPORTED);
    EXPECT_NE(std::string(hfk_last_error_message()).find("version 2"), std::string::npos);
    b = bytes;
    std::memcpy(&b[12], &v2, 4);
    write_bytes(bad, b);
    EXPECT_EQ(hfk_session_load(s.get(), bad.c_str()), HFK_E_UNSUPPORTED);
    // A session whose context is smaller than the saved tokens.
    hfk_session_params sp;
    HFK_SESSION_PARAMS_INIT(&sp);
    sp.n_ctx = 4;
    hfk_session *small = nullptr;
    ASSERT_EQ(hfk_session_create(&small, model.get(), &sp), HFK_OK);
    SessionPtr small_ptr(small);
    EXPECT_EQ(hfk_session_load(small, file.c_str()), HFK_E_CONTEXT_FULL);
}

TEST_F(SessionState, AnotherModelIsRefused) {
    saved();
    // Two copies of the model: one with a changed config.json, one with changed weights.
    for (int which = 0; which < 2; ++which) {
        const fs::path copy = dir.path / ("copy" + std::to_string(which));
        fs::copy(default_model(), copy, fs::copy_options::recursive);
        if (which == 0) {
            std::string cfg = read_bytes(copy / "config.json");
            const auto at = cfg.find("1e-05");
            ASSERT_NE(at, std::string::npos);
            cfg.replace(at, 5, "2e-05");
            write_bytes(copy / "config.json", cfg);
        } else {
            std::string w = read_bytes(copy / "model.safetensors");
            w[w.size() - 2] = char(w[w.size() - 2] ^ 1);
            write_bytes(copy / "model.safetensors", w);
        }
        auto other = load(copy, 1);
        ASSERT_TRUE(other);
        auto s = session(other.get(), 1);
        EXPECT_EQ(hfk_session_load(s.get(), file.c_str()), HFK_E_INVALID_ARG);
        EXPECT_NE(std::string(hfk_last_error_message()).find("different model"), std::string::npos)
            << hfk_last_error_message();
        EXPECT_NE(
            std::string(hfk_last_error_message()).find(which == 0 ? "config.json" : "weights"),
            std::string::npos);
    }
}

TEST_F(SessionState, SaveFailuresAreIoErrors) {
    auto s = session(model.get(), 1);
    EXPECT_EQ(hfk_session_save(s.get(), (dir.path / "no/such/dir/x").c_str()), HFK_E_IO);
    EXPECT_EQ(hfk_session_save(s.get(), nullptr), HFK_E_INVALID_ARG);
    EXPECT_EQ(hfk_session_load(nullptr, file.c_str()), HFK_E_INVALID_ARG);
}
