// The continuous-batching engine (issue 19): aggregate and per-stream decode tokens/s and
// time-to-first-token p50/p95 at 1, 2, 4 and 8 concurrent streams, against one session alone
// (hfk::Session, the path of hfk_session_generate), and what the batch-invariant product
// (kern::linear_rows) costs against linear()'s sgemm for a prefill-sized batch.
//
// Then what the paged KV cache's attention costs against contiguous rows, and the time to first
// token with a shared prompt prefix of --shared-prefix tokens (224), prefilled or cached.
//
//   bench_engine [MODEL_DIR] [--threads N] [--new-tokens N] [--prompt-tokens N]
//                [--shared-prefix N]
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
#include "kernels/attention.h"
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

// Attention of one layer through a block table (the engine's paged cache) against the same rows
// stored contiguously, SmolLM-135M's heads (9 query, 3 kv, 64 wide), `keys` positions: one
// decode row, and a chunk of 64 prompt rows.
void paged_attention_cost(int threads, int block_tokens) {
    const hfk::kern::AttentionShape shape{9, 3, 64};
    const int64_t kv_dim = 3 * 64, keys = 512, bt = block_tokens, n_tb = (keys + bt - 1) / bt;
    std::mt19937 rng(2);
    std::uniform_real_distribution<float> d(-1, 1);
    std::vector<float> k(size_t(keys * kv_dim)), v(k.size()), q(size_t(64 * 9 * 64)), out(q.size());
    for (auto *vec : {&k, &v, &q})
        for (auto &x : *vec) x = d(rng);
    // Blocks in reverse order in a pool laid out as the engine's (keys then values per block).
    const int64_t stride = 2 * bt * kv_dim;
    std::vector<float> pool(size_t(n_tb * stride));
    std::vector<int32_t> table(static_cast<size_t>(n_tb));
    for (int64_t b = 0; b < n_tb; ++b) table[size_t(b)] = int32_t(n_tb - 1 - b);
    for (int64_t p = 0; p < keys; ++p) {
        float *blk = pool.data() + table[size_t(p / bt)] * stride;
        std::copy_n(&k[size_t(p * kv_dim)], kv_dim, blk + (p % bt) * kv_dim);
        std::copy_n(&v[size_t(p * kv_dim)], kv_dim, blk + (bt + p % bt) * kv_dim);
    }
    const hfk::kern::KvPages pages{pool.data(), pool.data() + bt * kv_dim, table.data(), bt, stride,
                                   kv_dim};
    auto time = [&](int64_t m, bool paged) {
        double best = 1e30;
        for (int rep = 0; rep < 30; ++rep) {
            const auto t = Clock::now();
            if (paged)
                hfk::kern::attention_rows(q.data(), m, keys - m, pages, shape, 0.125f, {},
                                          out.data(), threads);
            else
                hfk::kern::attention_rows(q.data(), m, keys - m, k.data(), v.data(), kv_dim, shape,
                                          0.125f, {}, out.data(), threads);
            best = std::min(best, seconds_since(t));
        }
        return best * 1e3;
    };
    for (int64_t m : {int64_t(1), int64_t(64)}) {
        const double flat = time(m, false), paged = time(m, true);
        std::printf(
            "paged attention, %lld keys, %lld rows, blocks of %d: contiguous %.3f ms, paged "
            "%.3f ms (%.2fx)\n",
            (long long)keys, (long long)m, block_tokens, flat, paged, paged / flat);
    }
}

// Time to first token of a request whose prompt starts with `prefix` shared tokens: on a fresh
// engine (every token prefilled) and on one that has run another prompt with that prefix (the
// prefix read from cached blocks). The median of `runs` requests each.
void prefix_ttft(const std::shared_ptr<const hfk::LoadedModel> &lm, int threads, int prefix,
                 int32_t vocab) {
    constexpr int kSuffix = 8, kRuns = 5;
    const int n_ctx = lm->model->context_length();
    if (prefix + kSuffix + 2 > n_ctx) prefix = n_ctx - kSuffix - 2;
    std::mt19937 rng(7);
    std::vector<int32_t> shared;
    for (int t = 0; t < prefix; ++t) shared.push_back(1 + int32_t(rng() % uint32_t(vocab - 1)));
    auto request = [&](int i) {
        hfk::EngineRequest r;
        r.ids = shared;
        std::mt19937 g(uint32_t(1000 + i));
        for (int t = 0; t < kSuffix; ++t) r.ids.push_back(1 + int32_t(g() % uint32_t(vocab - 1)));
        r.options.max_new_tokens = 1;
        return r;
    };
    hfk::EngineParams p;
    p.max_sequences = 2;
    p.max_batch_tokens = 512;
    p.n_threads = threads;
    p.n_ctx = prefix + kSuffix + 1;
    std::vector<double> cold, warm;
    for (int i = 0; i < kRuns; ++i) {
        hfk::Engine e(lm, p);
        cold.push_back(e.wait(e.submit(request(i))).time_to_first_token_ms);
    }
    hfk::Engine e(lm, p);
    e.wait(e.submit(request(-1)));
    for (int i = 0; i < kRuns; ++i)
        warm.push_back(e.wait(e.submit(request(i))).time_to_first_token_ms);
    const double c = percentile(cold, 0.5), w = percentile(warm, 0.5);
    std::printf(
        "time to first token, %d shared + %d own prompt tokens: prefilled %.2f ms, prefix cached "
        "%.2f ms (%.1fx; %llu tokens read from the cache over %d requests)\n",
        prefix, kSuffix, c, w, w > 0 ? c / w : 0.0, (unsigned long long)e.stats().prefix_cache_hits,
        kRuns);
}

}  // namespace

int main(int argc, char **argv) {
    std::string dir = std::string(HFK_SHARED_DIR_DEFAULT) + "/models/aidreams260K";
    int threads = 2, new_tokens = 32, prompt_tokens = 32, shared_prefix = 224;
    for (int i = 1; i < argc; ++i) {
        const std::string a = argv[i];
        if (a == "--threads" && i + 1 < argc)
            threads = std::atoi(argv[++i]);
        else if (a == "--new-tokens" && i + 1 < argc)
            new_tokens = std::atoi(argv[++i]);
        else if (a == "--prompt-tokens" && i + 1 < argc)
            prompt_tokens = std::atoi(argv[++i]);
        else if (a == "--shared-prefix" && i + 1 < argc)
            shared_prefix = std::atoi(argv[++i]);
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
        paged_attention_cost(threads, 16);
        prefix_ttft(lm, threads, shared_prefix, vocab);
    } catch (const std::exception &e) {
        std::fprintf(stderr, "bench_engine: %s\n", e.what());
        return 1;
    }
    return 0;
}
