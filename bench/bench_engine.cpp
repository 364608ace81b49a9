// The continuous-batching engine (issue 19), once per weight format (--quant, BF16 and Q8_0 by
// default): aggregate and per-stream decode tokens/s at 1, 2, 4, 8 and 16 concurrent streams,
// against one stream on the engine and one session alone (hfk::Session, the path of
// hfk_session_generate), with the time to first token of a burst (every stream's prompt
// submitted at once, so the last one waits for all the prefills). Each row is the median of
// --repeats runs of --waves bursts (the machine may be shared). Then the time to first token of
// probe requests submitted one at a time, on an idle engine and on one decoding 8 long streams
// (the "p95 time-to-first-token with 8 busy streams < 4x the idle one").
//
// Then what the batch-invariant product (kern::linear_rows) costs against linear()'s sgemm for a
// prefill-sized batch, what the paged KV cache's attention costs against contiguous rows, and the
// time to first token with a shared prompt prefix of --shared-prefix tokens (224), prefilled or
// cached.
//
//   bench_engine [MODEL_DIR] [--threads N] [--new-tokens N] [--prompt-tokens N]
//                [--shared-prefix N] [--waves N] [--repeats N] [--probes N] [--quant bf16,q8]
//                [--streams 1,2,4,8,16] [--kv-dtype f32|f16|bf16] [--no-extras]
// MODEL_DIR defaults to the tiny shared aidreams260K (a smoke run; for real figures generate a
// SmolLM-135M-shaped checkpoint with ../shared/tools/make_hf_model.py and pass its directory).
#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <cctype>
#include <fstream>
#include <mutex>
#include <random>
#include <string>
#include <thread>
#include <vector>

#include "engine/engine.h"
#include "kernels/attention.h"
#include "kernels/matmul.h"
#include "model/dtype.h"
#include "model/model.h"
#include "runtime/loaded_model.h"
#include "runtime/session.h"

namespace {

using Clock = std::chrono::steady_clock;

// The KV cache's element type of every engine and session the tables run (--kv-dtype).
hfk::DType g_kv_type = hfk::DType::F32;

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

double median(std::vector<double> v) {
    return percentile(std::move(v), 0.5);
}

std::vector<int32_t> random_prompt(uint32_t seed, int n, int32_t vocab) {
    std::mt19937 rng(seed);
    std::vector<int32_t> ids;
    for (int t = 0; t < n; ++t) ids.push_back(1 + int32_t(rng() % uint32_t(vocab - 1)));
    return ids;
}

// Decode tokens/s of one session alone (the median of `runs`): the baseline of the table.
double session_alone(const std::shared_ptr<const hfk::LoadedModel> &lm, int threads,
                     int prompt_tokens, int new_tokens, int32_t vocab, int runs) {
    std::vector<double> tps;
    for (int run = 0; run < runs; ++run) {
        hfk::Session session(lm, prompt_tokens + new_tokens + 1, threads, g_kv_type);
        const std::vector<int32_t> ids = random_prompt(uint32_t(run), prompt_tokens, vocab);
        hfk::GenerateOptions o;
        o.max_new_tokens = new_tokens;
        o.ignore_eos = true;
        std::atomic<bool> cancel{false};
        std::string text;
        hfk::GenerateResult r;
        session.generate_tokens(ids, o, nullptr, cancel, text, r);
        tps.push_back(r.decode_tokens_per_s);
    }
    return median(tps);
}

struct StreamsRow {
    double aggregate = 0;               // decode tokens/s of all streams together
    double ttft_p50 = 0, ttft_p95 = 0;  // of a burst: every stream's prompt submitted at once
    uint64_t steps = 0;
};

// `waves` bursts of `streams` requests submitted at once on a fresh engine. Decode time of a
// wave: from its last stream's first token to its end.
StreamsRow run_streams(const std::shared_ptr<const hfk::LoadedModel> &lm, int threads, int streams,
                       int prompt_tokens, int new_tokens, int32_t vocab, int waves, int repeat) {
    hfk::EngineParams p;
    p.max_sequences = streams;
    p.max_batch_tokens = std::max(streams, 128);
    p.n_threads = threads;
    p.n_ctx = prompt_tokens + new_tokens + 1;
    p.kv_type = g_kv_type;
    hfk::Engine engine(lm, p);
    std::vector<double> ttft;
    uint64_t generated = 0;
    double decode_s = 0;
    for (int wave = 0; wave < waves; ++wave) {
        std::vector<uint64_t> ids;
        const auto t0 = Clock::now();
        for (int s = 0; s < streams; ++s) {
            hfk::EngineRequest r;
            r.ids = random_prompt(uint32_t((repeat * 1000 + wave) * 100 + s), prompt_tokens, vocab);
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
        decode_s += seconds_since(t0) - first / 1e3;
    }
    StreamsRow row;
    row.aggregate = decode_s > 0 ? double(generated) / decode_s : 0.0;
    row.ttft_p50 = percentile(ttft, 0.5);
    row.ttft_p95 = percentile(ttft, 0.95);
    row.steps = engine.stats().steps;
    return row;
}

struct ProbeTimes {
    double p50 = 0, p95 = 0;
    double busy_tps = 0;  // decode tokens/s of the busy streams meanwhile
};

// Time to first token of `probes` requests of a `prompt_tokens` prompt, submitted one at a time
// (each one's first token awaited before the next, a random 0-5 ms apart so they land anywhere
// in a step), on an engine that decodes `busy` long streams meanwhile (0: an idle engine). The
// engine has busy + 1 sequences: a probe never waits for a slot, only for the steps.
ProbeTimes probe_ttft(const std::shared_ptr<const hfk::LoadedModel> &lm, int threads, int busy,
                      int prompt_tokens, int32_t vocab, int probes) {
    // A busy stream's tokens (restarted when it ends), within the model's context.
    const int busy_new =
        std::max(1, std::min(128, lm->model->context_length() - prompt_tokens - 1));
    hfk::EngineParams p;
    p.max_sequences = busy + 1;
    p.max_batch_tokens = std::max(128, busy + prompt_tokens);
    p.n_threads = threads;
    p.n_ctx = prompt_tokens + busy_new + 1;
    p.kv_type = g_kv_type;
    hfk::Engine engine(lm, p);
    std::atomic<bool> stop{false};
    std::mutex mu;
    std::vector<uint64_t> current(size_t(busy), 0);
    std::vector<std::thread> keepers;
    for (int s = 0; s < busy; ++s)
        keepers.emplace_back([&, s] {
            for (uint32_t round = 0; !stop.load(); ++round) {
                hfk::EngineRequest r;
                r.ids = random_prompt(uint32_t(500000 + s * 1000) + round, prompt_tokens, vocab);
                r.options.max_new_tokens = busy_new;
                r.options.ignore_eos = true;
                const uint64_t id = engine.submit(r);
                {
                    std::lock_guard lk(mu);
                    current[size_t(s)] = id;
                }
                if (stop.load()) engine.cancel(id);
                engine.wait(id);
            }
        });
    // Wait for a step of decode rows only: every busy stream is past its prompt.
    while (busy > 0) {
        const hfk::EngineStats st = engine.stats();
        if (st.running == busy && st.last_batch_tokens == busy) break;
        std::this_thread::sleep_for(std::chrono::milliseconds(1));
    }
    std::mt19937 rng(99);
    std::vector<double> ttft;
    const uint64_t steps0 = engine.stats().sequence_steps;
    const auto t0 = Clock::now();
    for (int i = 0; i < probes; ++i) {
        std::this_thread::sleep_for(std::chrono::microseconds(rng() % 5000));
        hfk::EngineRequest r;
        r.ids = random_prompt(uint32_t(900000 + i), prompt_tokens, vocab);
        r.options.max_new_tokens = 1;
        ttft.push_back(engine.wait(engine.submit(r)).time_to_first_token_ms);
    }
    ProbeTimes out;
    // Rows the busy streams ran meanwhile (sequence steps, less the probes' own).
    const double elapsed = seconds_since(t0);
    out.busy_tps = busy > 0
                       ? double(engine.stats().sequence_steps - steps0 - uint64_t(probes)) / elapsed
                       : 0.0;
    stop.store(true);
    {
        std::lock_guard lk(mu);
        for (uint64_t id : current) engine.cancel(id);
    }
    for (auto &t : keepers) t.join();
    out.p50 = percentile(ttft, 0.5);
    out.p95 = percentile(ttft, 0.95);
    return out;
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
    p.kv_type = g_kv_type;
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

// The streams table of one precision: each row the median of `repeats` runs. The runs go in
// rounds, every stream count once a round, so that the rows share the machine's slow and fast
// minutes; "x 1 stream" is the median of each round's own ratio to its one-stream run (paired,
// as bench_model pairs its rows with BF16).
void streams_table(const std::shared_ptr<const hfk::LoadedModel> &lm, const std::string &name,
                   int threads, int prompt_tokens, int new_tokens, int waves, int repeats,
                   int probes, const std::vector<int> &stream_counts) {
    const int32_t vocab = std::max(2, lm->n_decodable);
    const double alone = session_alone(lm, threads, prompt_tokens, new_tokens, vocab, repeats + 2);
    std::printf("\n%s: one session alone %.1f decode tok/s (median of %d)\n", name.c_str(), alone,
                repeats + 2);
    const size_t n_rows = stream_counts.size();
    std::vector<std::vector<StreamsRow>> runs(n_rows);
    for (int rep = 0; rep < repeats; ++rep)
        for (size_t i = 0; i < n_rows; ++i)
            runs[i].push_back(run_streams(lm, threads, stream_counts[i], prompt_tokens, new_tokens,
                                          vocab, waves, rep));
    // Each round's one-stream aggregate (0 when the table has no one-stream row).
    std::vector<double> one_of_round(size_t(repeats), 0.0);
    for (size_t i = 0; i < n_rows; ++i)
        if (stream_counts[i] == 1)
            for (int rep = 0; rep < repeats; ++rep)
                one_of_round[size_t(rep)] = runs[i][size_t(rep)].aggregate;
    std::printf("%8s %14s %11s %11s %10s %15s %15s %7s\n", "streams", "aggregate t/s", "per stream",
                "x 1 stream", "x session", "burst ttft p50", "burst ttft p95", "steps");
    double eight_ratio = 0;
    for (size_t i = 0; i < n_rows; ++i) {
        const int streams = stream_counts[i];
        std::vector<double> agg, ratio, p50, p95;
        for (int rep = 0; rep < repeats; ++rep) {
            const StreamsRow &r = runs[i][size_t(rep)];
            agg.push_back(r.aggregate);
            if (one_of_round[size_t(rep)] > 0)
                ratio.push_back(r.aggregate / one_of_round[size_t(rep)]);
            p50.push_back(r.ttft_p50);
            p95.push_back(r.ttft_p95);
        }
        const double a = median(agg), x1 = ratio.empty() ? 0.0 : median(ratio);
        if (streams == 8) eight_ratio = x1;
        std::printf("%8d %14.1f %11.1f %11.2f %10.2f %12.2f ms %12.2f ms %7llu\n", streams, a,
                    a / streams, x1, alone > 0 ? a / alone : 0.0, median(p50), median(p95),
                    (unsigned long long)runs[i].back().steps);
    }
    std::fflush(stdout);
    const ProbeTimes idle = probe_ttft(lm, threads, 0, prompt_tokens, vocab, probes);
    const ProbeTimes busy = probe_ttft(lm, threads, 8, prompt_tokens, vocab, probes);
    std::printf(
        "time to first token of a %d-token prompt, %d probes one at a time: idle engine p50 "
        "%.2f ms p95 %.2f ms; with 8 busy streams (%.1f decode tok/s meanwhile) p50 %.2f ms "
        "p95 %.2f ms\n",
        prompt_tokens, probes, idle.p50, idle.p95, busy.busy_tps, busy.p50, busy.p95);
    std::printf(
        "targets (%s): 8 streams %.2fx one stream (>= 4x; median of the rounds' ratios); p95 "
        "time to first token with 8 busy streams %.2fx the idle one (< 4x)\n",
        name.c_str(), eight_ratio, idle.p95 > 0 ? busy.p95 / idle.p95 : 0.0);
    std::fflush(stdout);
}

}  // namespace

int main(int argc, char **argv) {
    std::string dir = std::string(HFK_SHARED_DIR_DEFAULT) + "/models/aidreams260K";
    int threads = 2, new_tokens = 32, prompt_tokens = 32, shared_prefix = 224, waves = 3,
        repeats = 3, probes = 30;
    bool extras = true;
    std::vector<std::string> quants{"bf16", "q8"};
    std::vector<int> stream_counts{1, 2, 4, 8, 16};
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
        else if (a == "--waves" && i + 1 < argc)
            waves = std::max(1, std::atoi(argv[++i]));
        else if (a == "--repeats" && i + 1 < argc)
            repeats = std::max(1, std::atoi(argv[++i]));
        else if (a == "--probes" && i + 1 < argc)
            probes = std::max(1, std::atoi(argv[++i]));
        else if (a == "--kv-dtype" && i + 1 < argc) {
            const std::string t = argv[++i];
            if (t != "f32" && t != "f16" && t != "bf16") {
                std::fprintf(stderr, "bench_engine: --kv-dtype takes f32, f16 or bf16\n");
                return 2;
            }
            g_kv_type = t == "f32"   ? hfk::DType::F32
                        : t == "f16" ? hfk::DType::F16
                                     : hfk::DType::BF16;
        } else if (a == "--no-extras")
            extras = false;
        else if (a == "--streams" && i + 1 < argc) {
            stream_counts.clear();
            for (const char *c = argv[++i]; *c;) {
                char *end = nullptr;
                const long n = std::strtol(c, &end, 10);
                if (end == c || n < 1 || n > 256) {
                    std::fprintf(stderr, "bench_engine: --streams takes counts like 1,8\n");
                    return 2;
                }
                stream_counts.push_back(int(n));
                c = *end == ',' ? end + 1 : end;
            }
        } else if (a == "--quant" && i + 1 < argc) {
            quants.clear();
            std::string list = argv[++i];
            for (size_t at = 0; at <= list.size();) {
                const size_t comma = std::min(list.find(',', at), list.size());
                const std::string q = list.substr(at, comma - at);
                if (!hfk::weight_format_from_name(q)) {
                    std::fprintf(stderr, "bench_engine: --quant takes bf16, q8, q4, f32, auto\n");
                    return 2;
                }
                quants.push_back(q);
                at = comma + 1;
            }
        } else if (a.rfind("--", 0) == 0) {
            std::fprintf(stderr,
                         "usage: bench_engine [MODEL_DIR] [--threads N] [--new-tokens N] "
                         "[--prompt-tokens N] [--shared-prefix N] [--waves N] [--repeats N] "
                         "[--probes N] [--quant bf16,q8] [--streams 1,2,4,8,16] "
                         "[--kv-dtype f32|f16|bf16] [--no-extras]\n");
            return 2;
        } else
            dir = a;
    }
    try {
        std::printf(
            "CPU: %s\nmodel: %s, %d threads, %d prompt + %d new tokens a stream, %d waves a "
            "run, the median of %d runs a row, %s KV cache\n",
            cpu_model().c_str(), dir.c_str(), threads, prompt_tokens, new_tokens, waves, repeats,
            hfk::dtype_name(g_kv_type));
        std::shared_ptr<const hfk::LoadedModel> first;
        for (const std::string &q : quants) {
            hfk::LoadOptions o;
            o.format = *hfk::weight_format_from_name(q);
            auto lm = hfk::LoadedModel::load(dir, o, {});
            if (!first) first = lm;
            std::string name = q;
            for (char &c : name) c = char(std::toupper(static_cast<unsigned char>(c)));
            if (q == "q8") name = "Q8_0";
            if (q == "q4") name = "Q4_1";
            streams_table(lm, lm->model->architecture() + " " + name, threads, prompt_tokens,
                          new_tokens, waves, repeats, probes, stream_counts);
        }
        if (!extras) return 0;
        std::printf("\n");
        invariance_cost(threads);
        paged_attention_cost(threads, 16);
        prefix_ttft(first, threads, shared_prefix, std::max(2, first->n_decodable));
    } catch (const std::exception &e) {
        std::fprintf(stderr, "bench_engine: %s\n", e.what());
        return 1;
    }
    return 0;
}
