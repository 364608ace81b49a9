// The exact end-to-end check of BENCH.md: the 10 MB corpus encoded with GPT-2 gives 4,235,888
// tokens whose ids text ("id\n" per token) has the given sha256. Label: slow.
#include <gtest/gtest.h>
#include <openssl/evp.h>

#include "test_util.h"
#include "tokenizer/tokenizer.h"

namespace {
std::string sha256_of_ids(const std::vector<int32_t> &ids) {
    std::string text;
    for (int32_t id : ids) text += std::to_string(id) + "\n";
    unsigned char md[32];
    unsigned int n = 0;
    EVP_Digest(text.data(), text.size(), md, &n, EVP_sha256(), nullptr);
    char hex[65];
    for (int i = 0; i < 32; ++i) std::snprintf(hex + 2 * i, 3, "%02x", md[i]);
    return std::string(hex, 64);
}
}  // namespace

TEST(TokenizerCorpus, Gpt2TenMegabytesExact) {
    std::string corpus = hfk_test::read_text(hfk_test::shared_dir() / "bench/corpus-10mb.txt");
    ASSERT_EQ(corpus.size(), 10070871u);
    auto t = hfk::Tokenizer::load(hfk_test::shared_dir() / "tokenizers/gpt2");
    auto ids = t->encode(corpus, false);
    EXPECT_EQ(ids.size(), 4235888u);
    EXPECT_EQ(sha256_of_ids(ids),
              "16c047ee0fe7b01394caace87ffb55c69c7aba0d62742f2680f9fe20ca94c371");
}
