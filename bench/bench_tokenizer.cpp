// Tokenizer encode throughput: the whole 10 MB corpus in one encode call (special tokens not
// parsed as such is irrelevant here: the corpus has none), median of 5, one thread. Prints MB/s
// beside BENCH.md's reference engines (labelled as references: they are not run here) and checks
// the token count and the sha256 of the ids text
// ("id\n" per token) that BENCH.md gives. Usage: bench_tokenizer [shared_dir] [runs]
#include <openssl/evp.h>

#include <ctime>
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <sstream>
#include <string>
#include <vector>

#include "tokenizer/tokenizer.h"
#include "util/error.h"

#ifndef HFK_SHARED_DIR_DEFAULT
#define HFK_SHARED_DIR_DEFAULT "../shared"
#endif

namespace {

std::string sha256_of_ids(const std::vector<int32_t> &ids) {
    std::string text;
    text.reserve(ids.size() * 7);
    for (int32_t id : ids) {
        text += std::to_string(id);
        text += '\n';
    }
    unsigned char md[32];
    unsigned int n = 0;
    EVP_Digest(text.data(), text.size(), md, &n, EVP_sha256(), nullptr);
    char hex[65];
    for (int i = 0; i < 32; ++i) std::snprintf(hex + 2 * i, 3, "%02x", md[i]);
    return std::string(hex, 64);
}

struct Case {
    const char *name, *dir;
    size_t want_count;
    const char *want_sha;
    double tiktoken, llama_cpp, js_tiktoken, hf_js;  // MB/s from BENCH.md (0: not measured)
};

}  // namespace

int main(int argc, char **argv) {
    std::string shared = argc > 1 ? argv[1]
                                  : (std::getenv("HFK_SHARED_DIR") ? std::getenv("HFK_SHARED_DIR")
                                                                   : HFK_SHARED_DIR_DEFAULT);
    int runs = argc > 2 ? std::max(1, std::atoi(argv[2])) : 5;
    std::ifstream f(shared + "/bench/corpus-10mb.txt", std::ios::binary);
    if (!f) {
        std::fprintf(stderr, "cannot open %s/bench/corpus-10mb.txt\n", shared.c_str());
        return 1;
    }
    std::stringstream ss;
    ss << f.rdbuf();
    const std::string corpus = ss.str();
    const Case cases[] = {
        {"GPT-2", "tokenizers/gpt2", 4235888,
         "16c047ee0fe7b01394caace87ffb55c69c7aba0d62742f2680f9fe20ca94c371", 5.64, 1.89, 1.17,
         0.69},
        {"Llama-3", "tokenizers/llama3-npm-lenml", 2831075,
         "e3be98ca1322c02240232d694ab81305e0f9d49b39a6d603259e7d920b041990", 4.58, 2.12, 0, 0.85},
    };
    int bad = 0;
    std::printf("Tokenizer encode, one thread, %zu bytes: hfkit measured now, median of %d runs\n",
                corpus.size(), runs);
    std::printf(
        "Columns marked \"ref\" are reference figures from ../shared/BENCH.md (median of 5 on an "
        "AMD EPYC Zen 5, 2026-11-23), NOT measured in this run.\n");
    std::printf(
        "| tokenizer | hfkit MB/s wall (per CPU-second), this run | ref tiktoken | ref llama.cpp | "
        "ref js-tiktoken | ref @hf/tokenizers JS | tokens | ids sha256 |\n");
    std::printf("|---|---|---|---|---|---|---|---|\n");
    for (const Case &c : cases) {
        try {
            auto tok = hfk::Tokenizer::load(shared + "/" + c.dir);
            std::vector<double> secs, cpu;
            std::vector<int32_t> ids;
            for (int r = 0; r < runs; ++r) {
                timespec c0, c1;
                clock_gettime(CLOCK_THREAD_CPUTIME_ID, &c0);
                auto t0 = std::chrono::steady_clock::now();
                ids = tok->encode(corpus, false);
                secs.push_back(
                    std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count());
                clock_gettime(CLOCK_THREAD_CPUTIME_ID, &c1);
                cpu.push_back(double(c1.tv_sec - c0.tv_sec) +
                              1e-9 * double(c1.tv_nsec - c0.tv_nsec));
            }
            std::sort(secs.begin(), secs.end());
            std::sort(cpu.begin(), cpu.end());
            double mbs = corpus.size() / 1e6 / secs[secs.size() / 2];
            double cpu_mbs = corpus.size() / 1e6 / cpu[cpu.size() / 2];
            std::string sha = sha256_of_ids(ids);
            bool ok = ids.size() == c.want_count && sha == c.want_sha;
            bad += !ok;
            auto ref = [](double v) {
                return v > 0 ? std::to_string(v).substr(0, 4) : std::string("-");
            };
            std::printf("| %s | %.2f (%.2f CPU) | %s | %s | %s | %s | %zu %s | %s |\n", c.name, mbs,
                        cpu_mbs, ref(c.tiktoken).c_str(), ref(c.llama_cpp).c_str(),
                        ref(c.js_tiktoken).c_str(), ref(c.hf_js).c_str(), ids.size(),
                        ids.size() == c.want_count ? "(exact)" : "(WRONG)",
                        ok ? "matches" : "MISMATCH");
        } catch (const hfk::Error &e) {
            std::printf("| %s | error: %s |\n", c.name, e.what());
            ++bad;
        }
    }
    std::printf(
        "The CPU figure is what one uncontended core gives; the wall figure drops when the machine "
        "is shared.\n");
    std::printf(
        "Target (BENCH.md): faster than tiktoken in both rows, with exact counts and hashes.\n");
    return bad ? 1 : 0;
}
