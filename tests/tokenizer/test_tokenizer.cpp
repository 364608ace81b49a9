// Unit tests of hfk::Tokenizer: the Rust behaviour where the JS reference differs (the cases the
// golden test skips), the API contract (invalid UTF-8, out-of-range ids, special ids, streaming),
// legacy files, and thread safety.
#include <gtest/gtest.h>

#include <unistd.h>

#include <atomic>
#include <map>
#include <random>
#include <thread>

#include "test_util.h"
#include "tokenizer/tokenizer.h"
#include "tokenizer/utf8.h"
#include "util/error.h"

namespace {

std::shared_ptr<const hfk::Tokenizer> load(const std::string &rel) {
    static std::map<std::string, std::shared_ptr<const hfk::Tokenizer>> cache;
    auto &t = cache[rel];
    if (!t) t = hfk::Tokenizer::load(hfk_test::shared_dir() / rel);
    return t;
}
using Ids = std::vector<int32_t>;

}  // namespace

// ---- the Rust behaviour where the JS reference differs ------------------------------------------
TEST(TokenizerRust, BertIsolatesCjkExtensionB) {  // README difference 1
    auto t = load("tokenizers/bert-base-uncased-wordpiece");
    EXPECT_EQ(t->encode("\xF0\xA0\x80\x80\xF0\xAA\x9B\x96", false), (Ids{100, 100}));
}
TEST(TokenizerRust, BertCleanTextKeepsUnassigned) {  // README difference 2 (corrected)
    auto t = load("tokenizers/bert-base-uncased-wordpiece");
    EXPECT_EQ(t->encode("noncharacter \xEF\xBF\xBE\xEF\xBF\xBF", false),
              (Ids{2512, 7507, 22648, 3334, 100}));
}
TEST(TokenizerRust, LowercaseIsPerCharacter) {  // README difference 3
    auto bert = load("tokenizers/bert-base-uncased-wordpiece");
    EXPECT_EQ(bert->decode(bert->encode("\xCE\xA3\xCE\xA3\xCE\xA3", false), true),
              "\xCF\x83\xCF\x83\xCF\x83");
    auto clip = load("tokenizers/clip");
    EXPECT_EQ(clip->decode(clip->encode("\xCE\xA3\xCE\xA3\xCE\xA3", false), true),
              "\xCF\x83\xCF\x83\xCF\x83");
}
TEST(TokenizerRust, DecodeEmptyIsEmpty) {  // README difference 4
    for (auto dir :
         {"tokenizers/llama2", "tokenizers/gpt2", "models/aidreams260K", "tokenizers/t5-small"})
        EXPECT_EQ(load(dir)->decode(Ids{}, false), "") << dir;
}
TEST(TokenizerRust, ByteFallbackKeepsLeadingBom) {
    auto t = load("models/aidreams260K");
    std::string text =
        "\xEF\xBB\xBF"
        "BOM at start";
    EXPECT_EQ(t->decode(t->encode(text, true), true), text);
}
TEST(TokenizerRust, WhitespaceSplitIncludesNel) {
    auto t = load("tokenizers/t5-small");
    EXPECT_EQ(t->encode("a\xC2\x85"
                        "b",
                        false),
              (Ids{3, 9, 3, 115}));
}
TEST(TokenizerRust, ClipDecodeStripsLikePython) {
    auto t = load("tokenizers/clip");
    EXPECT_EQ(t->decode(t->encode("\x1F unit sep", false), true), "unit sep");
    EXPECT_EQ(t->decode(t->encode("\xEF\xBB\xBF"
                                  "BOM at start",
                                  false),
                        true),
              "\xEF\xBB\xBF bom at start");
    EXPECT_EQ(t->decode(t->encode("Hello World!", false), true), "hello world !");
}
TEST(TokenizerRust, NonNormalizedAddedTokenOnlyInRawText) {
    auto t = load("tokenizers/clip");
    EXPECT_EQ(t->encode("<|ENDOFTEXT|>", false), (Ids{27, 347, 40786, 4160, 91, 285}));
    EXPECT_EQ(t->encode("<|endoftext|>", false), (Ids{49407}));
}

// ---- API contract -----------------------------------------------------------------------------
TEST(Tokenizer, InvalidUtf8IsReplacedPerMaximalSubpart) {
    auto t = load("tokenizers/gpt2");
    const std::string fffd = "\xEF\xBF\xBD";
    EXPECT_EQ(t->encode("a\xFF"
                        "b",
                        false),
              t->encode("a" + fffd + "b", false));
    EXPECT_EQ(t->encode("x\xE2\x82", false), t->encode("x" + fffd, false));  // truncated: one
    EXPECT_EQ(t->encode("\xF0\x80\x80", false),
              t->encode(fffd + fffd + fffd, false));  // overlong: three
    EXPECT_EQ(t->encode("\xED\xA0\x80", false), t->encode(fffd + fffd + fffd, false));  // surrogate
    EXPECT_EQ(t->decode(t->encode("a\xC3", false), false), "a" + fffd);
}
TEST(Tokenizer, DecodeRejectsOutOfRangeIds) {
    auto t = load("tokenizers/gpt2");
    for (int32_t bad : {-1, 50257, INT32_MAX}) {
        try {
            t->decode(Ids{bad}, false);
            FAIL() << bad;
        } catch (const hfk::Error &e) {
            EXPECT_EQ(e.status(), HFK_E_INVALID_ARG);
        }
    }
}
TEST(Tokenizer, SpecialIdsAndSizes) {
    auto gpt2 = load("tokenizers/gpt2");
    EXPECT_EQ(gpt2->vocab_size(), 50257);
    EXPECT_EQ(gpt2->eos_id(), 50256);
    EXPECT_FALSE(gpt2->add_bos_by_default());
    EXPECT_TRUE(gpt2->is_special(50256));
    EXPECT_FALSE(gpt2->is_special(0));
    EXPECT_EQ(gpt2->token_to_id("<|endoftext|>"), 50256);
    EXPECT_EQ(gpt2->token_to_id("no such token"), -1);
    EXPECT_EQ(gpt2->id_to_token(50256), "<|endoftext|>");
    EXPECT_EQ(gpt2->id_to_token(-5), "");
    auto llama3 = load("tokenizers/llama3-npm-lenml");
    EXPECT_EQ(llama3->vocab_size(), 128256);
    auto aid = load("models/aidreams260K");
    EXPECT_EQ(aid->vocab_size(), 512);
    EXPECT_EQ(aid->bos_id(), 1);
    EXPECT_EQ(aid->eos_id(), 2);
    EXPECT_EQ(aid->unk_id(), 0);
    EXPECT_TRUE(aid->add_bos_by_default());
    EXPECT_EQ(aid->encode("", true), (Ids{1}));
    auto llama2 = load("tokenizers/llama2");
    EXPECT_EQ(llama2->bos_id(), 1);
    EXPECT_TRUE(llama2->add_bos_by_default());
}
TEST(Tokenizer, AddedTokensFixtureWithObjectMerges) {
    auto t = load("tokenizers/added-tokens");
    // "▁\nHi": ▁ and H, i are unknown (fused), \n is the byte token <0x0A>. As in Rust, a
    // byte-fallback token does not flush a pending unknown, so the fused <unk> comes after it.
    EXPECT_EQ(t->encode("<|user|>\nHi<|end|>", false), (Ids{32010, 13, 0, 32007}));
    EXPECT_EQ(t->vocab_size(), 32011);
}
TEST(Tokenizer, LoadFromFilePathAndErrors) {
    auto t = hfk::Tokenizer::load(hfk_test::shared_dir() / "tokenizers/gpt2/tokenizer.json");
    EXPECT_EQ(t->encode("Hello world", false), (Ids{15496, 995}));
    try {
        hfk::Tokenizer::load(hfk_test::shared_dir() / "no/such/dir");
        FAIL();
    } catch (const hfk::Error &e) {
        EXPECT_EQ(e.status(), HFK_E_NOT_FOUND);
    }
    try {
        hfk::Tokenizer::load(hfk_test::shared_dir() /
                             "reference");  // a directory without tokenizer files
        FAIL();
    } catch (const hfk::Error &e) {
        EXPECT_EQ(e.status(), HFK_E_NOT_FOUND);
    }
}
TEST(Tokenizer, LegacyGpt2FilesMatchTokenizerJson) {
    // tokenizers/gpt2 has both; a directory with only vocab.json + merges.txt must agree.
    auto dir =
        std::filesystem::temp_directory_path() / ("hfk_tok_legacy_" + std::to_string(::getpid()));
    std::filesystem::create_directories(dir);
    for (auto f : {"vocab.json", "merges.txt"})
        std::filesystem::copy_file(hfk_test::shared_dir() / "tokenizers/gpt2" / f, dir / f,
                                   std::filesystem::copy_options::overwrite_existing);
    auto legacy = hfk::Tokenizer::load(dir);
    auto modern = load("tokenizers/gpt2");
    for (std::string text :
         {"Hello world", " it's 2024!\n\n  café 🦙 <|endoftext|>", "\t\tx  y"})
        EXPECT_EQ(legacy->encode(text, true), modern->encode(text, true)) << text;
    std::filesystem::remove_all(dir);
}
TEST(Tokenizer, LegacyQwen2AndBertVocab) {
    auto qwen = load("tokenizers/qwen2");
    EXPECT_EQ(qwen->encode("Hello world", false), (Ids{9707, 1879}));
    EXPECT_EQ(qwen->decode(qwen->encode("123 café\n", false), false), "123 café\n");
    auto bert = load("tokenizers/bert-base-cased-vocab");
    auto ids = bert->encode("Hello world", true);
    ASSERT_EQ(ids.size(), 4u);
    EXPECT_NE(ids[1], bert->unk_id());
    EXPECT_EQ(bert->decode(ids, true), "Hello world");
}
TEST(Tokenizer, DecodeStreamConcatenatesToDecode) {
    const std::string texts[] = {"Hello, world! café 🦙 日本語 \xEF\xBF\xBD end",
                                 "  a\n\n\tb ünïcödé 😀😀", "<s> special </s> text"};
    for (auto dir : {"tokenizers/gpt2", "tokenizers/llama2", "models/aidreams260K",
                     "tokenizers/llama3-npm-lenml", "tokenizers/bert-base-uncased-wordpiece",
                     "tokenizers/t5-small"}) {
        auto t = load(dir);
        for (const auto &text : texts)
            for (bool skip : {false, true}) {
                auto ids = t->encode(text, true);
                hfk::DecodeStream s(t, skip);
                std::string got;
                for (int32_t id : ids) got += s.step(id);
                got += s.flush();
                EXPECT_EQ(got, t->decode(ids, skip)) << dir << " " << text;
            }
    }
}
TEST(Tokenizer, DecodeStreamHoldsIncompleteCharacters) {
    auto t = load("models/aidreams260K");  // 🦙 is four byte-fallback tokens
    auto ids = t->encode("🦙", false);
    ASSERT_GE(ids.size(), 4u);
    hfk::DecodeStream s(t, true);
    std::string got;
    for (size_t i = 0; i + 1 < ids.size(); ++i) EXPECT_EQ(s.step(ids[i]), "") << i;
    got = s.step(ids.back());
    EXPECT_EQ(got + s.flush(), t->decode(ids, true));
    hfk::DecodeStream partial(t, true);  // an incomplete sequence comes out of flush as U+FFFD
    EXPECT_EQ(partial.step(ids[ids.size() - 2]), "");
    EXPECT_NE(partial.flush().find("\xEF\xBF\xBD"), std::string::npos);
}
// Sampling can produce any id sequence, not just what encode() makes: stray continuation
// bytes, byte-fallback fragments, half characters. Every streamed piece must still be valid
// UTF-8 (never a cut character or a cut U+FFFD), whatever the ids.
TEST(Tokenizer, DecodeStreamPiecesAreValidUtf8ForAnyIds) {
    for (auto dir : {"tokenizers/gpt2", "models/aidreams260K", "tokenizers/llama3-npm-lenml",
                     "tokenizers/t5-small"}) {
        auto t = load(dir);
        std::mt19937 rng(1234);
        // Mostly byte-ish tokens (the low ids of byte-level and byte-fallback vocabularies),
        // some anywhere in the vocabulary.
        std::uniform_int_distribution<int32_t> low(0, 300), any(0, t->vocab_size() - 1);
        for (int round = 0; round < 300; ++round) {
            hfk::DecodeStream s(t, round % 2 == 0);
            std::vector<int32_t> ids;
            for (int i = 0; i < 24; ++i) {
                ids.push_back(rng() % 4 ? low(rng) : any(rng));
                const std::string piece = s.step(ids.back());
                ASSERT_TRUE(hfk::utf8::is_valid(piece))
                    << dir << " round " << round << " step " << i << ": "
                    << testing::PrintToString(piece);
            }
            ASSERT_TRUE(hfk::utf8::is_valid(s.flush())) << dir << " round " << round;
        }
    }
}
TEST(Tokenizer, ConcurrentEncodeIsSafe) {
    auto t = load("tokenizers/llama3-npm-lenml");
    std::string text;
    for (int i = 0; i < 200; ++i)
        text += "The quick brown fox " + std::to_string(i) + " jumps! ünïcödé\n";
    auto want = t->encode(text, true);
    std::vector<std::thread> threads;
    std::atomic<int> bad{0};
    for (int k = 0; k < 4; ++k)
        threads.emplace_back([&] {
            for (int r = 0; r < 5; ++r)
                if (t->encode(text, true) != want || t->decode(want, false).empty()) ++bad;
        });
    for (auto &th : threads) th.join();
    EXPECT_EQ(bad.load(), 0);
}
