// The chat C API through the shared library: rendering from a model directory, errors as
// statuses, and chat turns on a session of a real checkpoint (aidreams260K) given a template:
// the second turn reuses the KV cache for the first turn's tokens, and generation stops at
// the template's turn terminator, which is not returned.
#include <gtest/gtest.h>

#include <cstdlib>
#include <nlohmann/json.hpp>
#include <string>

#include "hfkit/hfkit.h"

using json = nlohmann::ordered_json;

namespace {

std::string shared_dir() {
    const char *e = std::getenv("HFK_SHARED_DIR");
    return e && *e ? e : HFK_TEST_SHARED_DIR;
}

std::string take(char *s) {
    std::string out = s ? s : "";
    hfk_free(s);
    return out;
}

// A template whose assistant turns end with "," (one token of this tokenizer, not an EOS).
const char *kCommaTemplate =
    "{{ bos_token }}{% for m in messages %}{% if m.role == 'user' %}Q: {{ m.content }}\n"
    "{% else %}A:{{ m.content }},\n{% endif %}{% endfor %}"
    "{% if add_generation_prompt %}A:{% endif %}";

}  // namespace

TEST(ChatCapi, RendersTheTemplateOfATokenizerDirectory) {
    std::string dir = shared_dir() + "/tokenizers/qwen2";
    char *out = nullptr;
    const char *conv = R"({"messages": [{"role": "user", "content": "Hi {{ x }}"}],
                           "add_generation_prompt": true})";
    ASSERT_EQ(hfk_chat_render_dir(dir.c_str(), conv, nullptr, &out), HFK_OK)
        << hfk_last_error_message();
    EXPECT_EQ(
        take(out),
        "<|im_start|>system\nYou are a helpful assistant.<|im_end|>\n<|im_start|>user\nHi {{ x }}"
        "<|im_end|>\n<|im_start|>assistant\n");
}

TEST(ChatCapi, ErrorsAreStatuses) {
    char *out = nullptr;
    std::string base = shared_dir() + "/tokenizers/gpt2";  // no template
    EXPECT_EQ(hfk_chat_render_dir(base.c_str(), "[]", nullptr, &out), HFK_E_NOT_FOUND);
    EXPECT_EQ(out, nullptr);
    EXPECT_EQ(hfk_chat_render_dir(nullptr, "[]", "{{ raise_exception('no way') }}", &out),
              HFK_E_FORMAT);
    EXPECT_STREQ(hfk_last_error_message(), "no way");
    EXPECT_EQ(hfk_chat_render_dir(nullptr, "[]", "{% for x in range(10) %}", &out), HFK_E_FORMAT);
    EXPECT_EQ(
        hfk_chat_render_dir(
            nullptr, "[]",
            "{% for a in range(99999) %}{% for b in range(99999) %}{% endfor %}{% endfor %}", &out),
        HFK_E_RESOURCE);
    EXPECT_EQ(hfk_chat_render_dir(nullptr, "{not json", "x", &out), HFK_E_INVALID_ARG);
    EXPECT_EQ(hfk_chat_render_dir(nullptr, "[]", nullptr, &out), HFK_E_INVALID_ARG);
    EXPECT_EQ(hfk_chat_render_dir(nullptr, nullptr, "x", &out), HFK_E_INVALID_ARG);
    // gemma's template refuses a system message with raise_exception
    std::string gemma = shared_dir() + "/reference/chat/templates/google-gemma-2-2b-it.jinja";
    FILE *f = std::fopen(gemma.c_str(), "rb");
    ASSERT_NE(f, nullptr);
    std::string src;
    char buf[4096];
    size_t n;
    while ((n = std::fread(buf, 1, sizeof buf, f)) > 0) src.append(buf, n);
    std::fclose(f);
    EXPECT_EQ(
        hfk_chat_render_dir(nullptr, R"([{"role": "system", "content": "s"}])", src.c_str(), &out),
        HFK_E_FORMAT);
    EXPECT_STREQ(hfk_last_error_message(), "System role not supported");
}

TEST(ChatCapi, SessionChatReusesThePrefixAndStopsAtTheTurnTerminator) {
    std::string dir = shared_dir() + "/models/aidreams260K";
    hfk_model *model = nullptr;
    ASSERT_EQ(hfk_model_load(&model, dir.c_str(), nullptr), HFK_OK) << hfk_last_error_message();
    hfk_session *session = nullptr;
    ASSERT_EQ(hfk_session_create(&session, model, nullptr), HFK_OK);
    hfk_gen_params gp;
    HFK_GEN_PARAMS_INIT(&gp);
    gp.max_new_tokens = 40;

    json conv = {{"messages", json::array({{{"role", "user"}, {"content", "Once upon a time"}}})}};
    char *text = nullptr;
    hfk_gen_result r1;
    HFK_GEN_RESULT_INIT(&r1);
    ASSERT_EQ(hfk_session_chat(session, conv.dump().c_str(), kCommaTemplate, &gp, nullptr, nullptr,
                               &text, &r1),
              HFK_OK)
        << hfk_last_error_message();
    std::string reply1 = take(text);
    // The model writes commas early (greedy); the turn ends there, without the comma.
    EXPECT_EQ(r1.stop_reason, HFK_STOP_EOS) << reply1;
    EXPECT_LT(r1.n_generated_tokens, gp.max_new_tokens);
    EXPECT_EQ(reply1.find(','), std::string::npos) << reply1;
    EXPECT_EQ(r1.n_reused_tokens, 0);

    // What the cache holds after the first turn: its prompt, tokenized as the session does
    // (rendered with the model's special tokens, no special tokens added), and the reply's ids.
    const hfk_tokenizer *tok = hfk_model_tokenizer(model);
    auto render_ids = [&](json req) {
        req["add_generation_prompt"] = true;
        char *prompt = nullptr;
        EXPECT_EQ(hfk_chat_render(model, req.dump().c_str(), kCommaTemplate, &prompt), HFK_OK);
        std::string p = take(prompt);
        std::vector<int32_t> ids(4096);
        int64_t n = 0;
        EXPECT_EQ(hfk_tokenize(tok, p.c_str(), p.size(), 0, ids.data(), 4096, &n), HFK_OK);
        ids.resize(static_cast<size_t>(n));
        return ids;
    };
    std::vector<int32_t> cached = render_ids(conv);
    const size_t n_p1 = cached.size();
    std::vector<int32_t> reply_ids(4096);
    int64_t n_reply = 0;
    ASSERT_EQ(hfk_session_last_tokens(session, reply_ids.data(), 4096, &n_reply), HFK_OK);
    cached.insert(cached.end(), reply_ids.begin(), reply_ids.begin() + n_reply);

    conv["messages"].push_back({{"role", "assistant"}, {"content", reply1}});
    conv["messages"].push_back({{"role", "user"}, {"content", "And then?"}});
    const std::vector<int32_t> p2 = render_ids(conv);
    size_t common = 0;  // the longest common token prefix of the cache and the new prompt
    while (common < cached.size() && common < p2.size() && cached[common] == p2[common]) ++common;
    hfk_gen_result r2;
    HFK_GEN_RESULT_INIT(&r2);
    ASSERT_EQ(hfk_session_chat(session, conv.dump().c_str(), kCommaTemplate, &gp, nullptr, nullptr,
                               &text, &r2),
              HFK_OK)
        << hfk_last_error_message();
    take(text);
    EXPECT_GE(static_cast<size_t>(r2.n_reused_tokens), n_p1);  // the whole first prompt at least
    EXPECT_EQ(static_cast<size_t>(r2.n_prompt_tokens), p2.size());
    // Only the tokens after the common prefix are evaluated. (The reply's retokenization may
    // differ from the generated ids: SentencePiece decoding drops the leading "▁" of a reply.)
    EXPECT_EQ(static_cast<size_t>(r2.n_reused_tokens), common);

    // A base model without a template: a clear refusal.
    EXPECT_EQ(hfk_session_chat(session, conv.dump().c_str(), nullptr, &gp, nullptr, nullptr, &text,
                               nullptr),
              HFK_E_NOT_FOUND);
    hfk_session_free(session);
    hfk_model_free(model);
}
