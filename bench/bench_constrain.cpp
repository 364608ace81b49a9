// Constrained decoding: the time to compute a token mask on GPT-2's 50k vocabulary for a
// typical JSON Schema (mean, p50, p99; cold = the first generation, when every state is new,
// and warm = later ones, which the per-session cache serves), and the decode overhead of a
// constrained generation against an unconstrained one on a model (argument 1; default the
// random tiny-gpt2, whose forward pass is so small that the overhead there is an upper bound:
// pass a GPT-2 124M made by ../shared/tools/make_hf_model.py for a realistic figure).
// Targets (issue 20): < 50 us per mask on average, < 5% decode overhead.
// HFK_BENCH_MASKS_ONLY=1 stops after the mask figures (no model is loaded); HFK_BENCH_TRACE=1
// prints each mask over 100 us.
#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <filesystem>
#include <memory>
#include <random>
#include <string>
#include <vector>

#include <time.h>

#include "constrain/constraint.h"
#include "runtime/loaded_model.h"
#include "runtime/session.h"
#include "tokenizer/tokenizer.h"

namespace {

using Clock = std::chrono::steady_clock;

const char *kSchema = R"({"type": "object", "properties": {
    "name": {"type": "string", "maxLength": 24},
    "age": {"type": "integer", "minimum": 0, "maximum": 150},
    "email": {"type": "string", "format": "email"},
    "tags": {"type": "array", "items": {"type": "string", "maxLength": 12}, "maxItems": 4},
    "address": {"type": "object", "properties": {"city": {"type": "string"},
                "zip": {"type": "string", "pattern": "^\\d{5}$"}},
                "required": ["city", "zip"], "additionalProperties": false},
    "active": {"type": "boolean"}},
  "required": ["name", "age", "email", "address"], "additionalProperties": false})";

void report(const char *what, std::vector<double> us) {
    if (us.empty()) return;
    std::sort(us.begin(), us.end());
    double sum = 0;
    for (double x : us) sum += x;
    std::printf("%-34s n=%-6zu mean %8.2f us   p50 %8.2f us   p99 %8.2f us\n", what, us.size(),
                sum / double(us.size()), us[us.size() / 2],
                us[std::min(us.size() - 1, us.size() * 99 / 100)]);
}

double thread_cpu_us() {
    timespec ts{};
    clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
    return double(ts.tv_sec) * 1e6 + double(ts.tv_nsec) * 1e-3;
}

std::filesystem::path shared_dir() {
    if (const char *s = std::getenv("HFK_SHARED_DIR"); s && *s) return s;
    return HFK_SHARED_DIR_DEFAULT;
}

}  // namespace

int main(int argc, char **argv) {
    using namespace hfk;
    const auto shared = shared_dir();
    auto tok = Tokenizer::load(shared / "tokenizers" / "gpt2");
    auto t0 = Clock::now();
    auto trie = constrain::VocabTrie::get(tok, tok->vocab_size());
    std::printf("vocabulary trie: %d ids, %zu nodes, built in %.1f ms\n", trie->n_ids(),
                trie->nodes().size(),
                std::chrono::duration<double, std::milli>(Clock::now() - t0).count());
    const auto grammar = constrain::compile_constraint(constrain::Kind::JsonSchema, kSchema);

    // Random walks through the schema: uniform among allowed tokens (EOS when complete). Cold:
    // the first generation of each of 5 fresh decoders (seeds 1-5), where every state is new;
    // warm: 39 more generations on the last one. Mask times are the thread's CPU time, not wall
    // time: on a loaded machine a wall clock also counts the milliseconds the thread waits to be
    // scheduled, which would swamp the figure.
    std::vector<double> cold, warm, cold_wall;
    size_t cold_misses = 0;
    std::vector<int32_t> allowed;
    std::vector<char> is_allowed;
    // The CPU clock is a system call here (~1-2 us): its own cost is measured and subtracted.
    std::vector<double> clock_cost;
    for (int k = 0; k < 1001; ++k) {
        const double a = thread_cpu_us();
        clock_cost.push_back(thread_cpu_us() - a);
    }
    std::sort(clock_cost.begin(), clock_cost.end());
    const double clock_us = clock_cost[clock_cost.size() / 2];
    const bool trace = std::getenv("HFK_BENCH_TRACE") != nullptr;
    constexpr int kFresh = 5, kRuns = 40;
    std::unique_ptr<constrain::ConstrainedDecoder> dec;
    for (int fresh = 0; fresh < kFresh; ++fresh) {
        dec = std::make_unique<constrain::ConstrainedDecoder>(grammar, trie);
        std::mt19937 rng(uint32_t(fresh + 1));
        for (int run = 0; run < (fresh + 1 == kFresh ? kRuns : 1); ++run) {
            dec->restart();
            for (int step = 0; step < 200 && !dec->finished(); ++step) {
                constrain::TokenMasker &masker = dec->masker();
                const size_t cached_before = masker.n_cached();
                const uint64_t walked0 = masker.n_walked(), shortcuts0 = masker.n_shortcuts();
                const auto wall = Clock::now();
                const double c0 = thread_cpu_us();
                const constrain::TokenBits &bits = masker.mask(dec->state());
                const double us = std::max(0.0, thread_cpu_us() - c0 - clock_us);
                (run == 0 ? cold : warm).push_back(us);
                if (trace && us > 100)
                    std::printf(
                        "seed %d run %d step %d: %.0f us, %llu trie nodes stepped, %llu "
                        "subtrees at once\n",
                        fresh + 1, run, step, us, (unsigned long long)(masker.n_walked() - walked0),
                        (unsigned long long)(masker.n_shortcuts() - shortcuts0));
                if (run == 0) {
                    cold_wall.push_back(
                        std::chrono::duration<double, std::micro>(Clock::now() - wall).count());
                    cold_misses += masker.n_cached() != cached_before;
                }
                // The allowed ids in id order, so the walk does not depend on the mask layout.
                is_allowed.assign(size_t(trie->n_ids()), 0);
                for (size_t w = 0; w < bits.size(); ++w)
                    for (uint64_t word = bits[w]; word; word &= word - 1)
                        is_allowed[size_t(
                            trie->token_ids()[w * 64 + size_t(__builtin_ctzll(word))])] = 1;
                allowed.clear();
                for (int32_t id = 0; id < trie->n_ids(); ++id)
                    if (is_allowed[size_t(id)]) allowed.push_back(id);
                if (allowed.empty() || (dec->accepting() && rng() % 4 == 0)) break;
                dec->accept(allowed[rng() % allowed.size()]);
            }
        }
    }
    std::printf("mask times: thread CPU time less the clock's own %.2f us\n", clock_us);
    report("mask, first generations (cold)", cold);
    report("  the same, wall clock", cold_wall);
    report("mask, later generations (warm)", warm);
    std::vector<double> all = cold;
    all.insert(all.end(), warm.begin(), warm.end());
    report("mask, all", all);
    std::printf(
        "first generations: %zu of %zu masks computed (not cached); last decoder: %zu "
        "matcher states, %zu cached masks, %llu subtrees decided at once, %llu trie "
        "nodes stepped\n",
        cold_misses, cold.size(), dec->engine().n_states(), dec->masker().n_cached(),
        (unsigned long long)dec->masker().n_shortcuts(),
        (unsigned long long)dec->masker().n_walked());
    if (std::getenv("HFK_BENCH_MASKS_ONLY")) return 0;

    // Decode overhead on a model.
    const std::filesystem::path model_dir =
        argc > 1 ? std::filesystem::path(argv[1]) : shared / "models" / "tiny-gpt2";
    LoadOptions load_opts;
    load_opts.n_threads = 1;
    auto lm = LoadedModel::load(model_dir, load_opts, nullptr);
    Session session(lm, 1024, 1);
    std::atomic<bool> cancel{false};
    auto tokens_per_s = [&](bool constrained, int32_t &n_tokens) {
        double total_s = 0;
        n_tokens = 0;
        for (uint64_t seed = 0; seed < 20; ++seed) {
            GenerateOptions o;
            o.sampler.temperature = 1.0f;
            o.sampler.seed = seed;
            o.max_new_tokens = 128;
            o.ignore_eos = !constrained;
            if (constrained) {
                o.constraint_kind = int32_t(constrain::Kind::JsonSchema);
                o.constraint_text = kSchema;
            }
            std::string text;
            GenerateResult r;
            session.reset();
            auto a = Clock::now();
            session.generate("", o, nullptr, cancel, text, r);
            total_s += std::chrono::duration<double>(Clock::now() - a).count();
            n_tokens += r.n_generated_tokens;
        }
        return double(n_tokens) / total_s;
    };
    int32_t n_free = 0, n_con = 0;
    tokens_per_s(true, n_con);  // warm the session's constraint cache
    const double free_tps = tokens_per_s(false, n_free);
    const double con_tps = tokens_per_s(true, n_con);
    std::printf(
        "decode on %s: unconstrained %.1f tok/s (%d tokens), constrained %.1f tok/s "
        "(%d tokens): overhead %.1f%% per token\n",
        model_dir.filename().c_str(), free_tps, n_free, con_tps, n_con,
        100.0 * (free_tps / con_tps - 1.0));
    return 0;
}
