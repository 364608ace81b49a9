// The continuous-batching engine (issue 19): aggregate and per-stream decode tokens/s and
// time-to-first-token p50/p95 at 1, 2, 4 and 8 concurrent streams, against one session alone
// (hfk::Session, the path of hfk_session_generate), and what the batch-invariant product
// (kern::linear_rows) costs against linear()'s sgemm for a prefill-sized batch.
//
//   bench_engine [MODEL_DIR] [--threads N] [--new-tokens N] [--prompt-tokens N]
// MODEL_DIR defaults to the tiny shared aidreams260K (a smoke run; for real figures generate a
// SmolLM-135M-shaped checkpoint with ../shared/tools/make_hf_model.py and pass its directory).
#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <random>
#include <string>
#include <vector>

#include "engine/engine.h"
#include "kernels/matmul.h"
#include "model/dtype.h"
#include "runtime/loaded_model.h"
#include "runtime/session.h"

namespace {

using Clock = std::chrono::steady_clock;

std::string cpu_model() {
    std::ifstream f("/proc/cpuinfo");
    std::string line;
    while (std::getline(f, line))
        if (line.rfind("model name", 0) == 0) return line.substr(line.find(':') + 2);
    return "unknown CPU";
}

double percentile(std::vector<double> v, double p) {
    if (v.empty()) return 0;
    std::sort(v.begin(), v.end());
    const size_t i = std::min(v.size() - 1, size_t(p * double(v.size() - 1) + 0.5));
    return v[i];
}

double seconds_since(Clock::time_point t) {
    return std::chrono::duration<double>(Clock::now() - t).count();
}

// sgemm (linear) against the per-row kernel (linear_rows) on a BF16 [n, k] matrix, m rows.
void invariance_cost(int threads) {
    const int64_t m = 64, k = 576, n = 1536;
    std::vector<uint16_t> w(size_t(n * k));
    std::vector<float> x(size_t(m * k)), y(size_t(m * n));
    std::mt19937 rng(1);
    std::uniform_real_distribution<float> d(-1, 1);
    for (auto &v : w) {
        const float f = d(rng);
        uint32_t bits;
        std::memcpy(&bits, &f, 4);
        v = uint16_t(bits >> 16);
    }
    for (auto &v : x) v = d(rng);
    hfk::kern::Mat mat;
    mat.dtype = hfk::DType::BF16;
    mat.data = w.data();
    mat.rows = n;
    mat.cols = k;
    auto time = [&](bool rows) {
        double best = 1e30;
        for (int rep = 0; rep < 20; ++rep) {
            const auto t = Clock::now();
            if (rows)
                hfk::kern::linear_rows(mat, x.data(), m, nullptr, y.data(), threads);
            else
                hfk::kern::linear(mat, hfk::kern::Layout::OutIn, x.data(), m, nullptr, y.data(),
                                  threads);
            best = std::min(best, seconds_since(t));
        }
        return best * 1e3;
    };
    const double gemm = time(false), rows = time(true);
    std::printf(
        "batch-invariant product, %lld x %lld BF16 x %lld rows, %d threads: sgemm %.3f ms, "
        "per-row kernel %.3f ms (%.2fx)\n",
        (long long)n, (long long)k, (long long)m, threads, gemm, rows, rows / gemm);
}

// Decode tokens/s of one session alone (the best of 3 runs): the baseline of the table.
double session_alone(const std::shared_ptr<const hfk::LoadedModel> &lm, int threads,
                     int prompt_tokens, int new_tokens, int32_t vocab) {
    double best = 0;
    for (int run = 0; run < 3; ++run) {
        hfk::Session session(lm, prompt_tokens + new_tokens + 1, threads);
        std::vector<int32_t> ids;
        std::mt19937 rng{uint32_t(run)};
        for (int t = 0; t < prompt_tokens; ++t)
            ids.push_back(1 + int32_t(rng() % uint32_t(vocab - 1)));
        hfk::GenerateOptions o;
        o.max_new_tokens = new_tokens;
        o.ignore_eos = true;
        std::atomic<bool> cancel{false};
        std::string text;
        hfk::GenerateResult r;
        session.generate_tokens(ids, o, nullptr, cancel, text, r);
        best = std::max(best, r.decode_tokens_per_s);
    }
    return best;
}

}  // namespace

int main(int argc, char **argv) {
    std::string dir = std::string(HFK_SHARED_DIR_DEFAULT) + "/models/aidreams260K";
    int threads = 2, new_tokens = 32, prompt_tokens = 32;
    for (int i = 1; i < argc; ++i) {
        const std::string a = argv[i];
        if (a == "--threads" && i + 1 < argc)
            threads = std::atoi(argv[++i]);
        else if (a == "--new-tokens" && i + 1 < argc)
            new_tokens = std::atoi(argv[++i]);
        else if (a == "--prompt-tokens" && i + 1 < argc)
            prompt_tokens = std::atoi(argv[++i]);
        else
            dir = a;
    }
    try {
        auto lm = hfk::LoadedModel::load(dir, {}, {});
        std::printf("CPU: %s\nmodel: %s (%s), %d threads, %d prompt + %d new tokens a stream\n",
                    cpu_model().c_str(), dir.c_str(), lm->model->architecture().c_str(), threads,
                    prompt_tokens, new_tokens);
        const int32_t vocab = std::max(2, lm->n_decodable);
        const double alone = session_alone(lm, threads, prompt_tokens, new_tokens, vocab);
        std::printf("one session alone: %.1f decode tok/s\n", alone);
        std::printf("%8s %14s %12s %10s %12s %12s %8s\n", "streams", "aggregate t/s", "per stream",
                    "x session", "ttft p50 ms", "ttft p95 ms", "steps");
        for (int streams : {1, 2, 4, 8}) {
            hfk::EngineParams p;
            p.max_sequences = streams;
            p.max_batch_tokens = std::max(streams, 128);
            p.n_threads = threads;
            p.n_ctx = prompt_tokens + new_tokens + 1;
            hfk::Engine engine(lm, p);
            std::vector<double> ttft;
            uint64_t generated = 0;
            double decode_s = 0;
            for (int wave = 0; wave < 3; ++wave) {
                std::vector<uint64_t> ids;
                const auto t0 = Clock::now();
                for (int s = 0; s < streams; ++s) {
                    hfk::EngineRequest r;
                    std::mt19937 rng(uint32_t(wave * 100 + s));
                    for (int t = 0; t < prompt_tokens; ++t)
                        r.ids.push_back(1 + int32_t(rng() % uint32_t(vocab - 1)));
                    r.options.max_new_tokens = new_tokens;
                    r.options.ignore_eos = true;
                    ids.push_back(engine.submit(r));
                }
                double first = 0;
                for (uint64_t id : ids) {
                    const hfk::EngineResult r = engine.wait(id);
                    ttft.push_back(r.time_to_first_token_ms);
                    first = std::max(first, r.time_to_first_token_ms);
                    generated += uint64_t(std::max(0, r.n_generated_tokens - 1));
                }
                // Decode time: from the last stream's first token to the end of the wave.
                decode_s += seconds_since(t0) - first / 1e3;
            }
            const double aggregate = decode_s > 0 ? double(generated) / decode_s : 0.0;
            std::printf("%8d %14.1f %12.1f %10.2f %12.2f %12.2f %8llu\n", streams, aggregate,
                        aggregate / streams, alone > 0 ? aggregate / alone : 0.0,
                        percentile(ttft, 0.5), percentile(ttft, 0.95),
                        (unsigned long long)engine.stats().steps);
        }
        invariance_cost(threads);
    } catch (const std::exception &e) {
        std::fprintf(stderr, "bench_engine: %s\n", e.what());
        return 1;
    }
    return 0;
}
