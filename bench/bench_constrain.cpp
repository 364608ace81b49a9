// Constrained decoding: the time to compute a token mask on GPT-2's 50k vocabulary for a
// typical JSON Schema (mean, p50, p99; cold = the first generation, when every state is new,
// and warm = later ones, which the per-session cache serves), and the decode overhead of a
// constrained generation against an unconstrained one on a model (argument 1; default the
// random tiny-gpt2, whose forward pass is so small that the overhead there is an upper bound:
// pass a GPT-2 124M made by ../shared/tools/make_hf_model.py for a realistic figure).
// Targets (issue 20): < 50 us per mask on average, < 5% decode overhead. The overhead is in the
// thread's CPU time per token (and wall clock beside it), constrained and unconstrained
// generations of the same lengths alternated seed by seed, with the constraint cache cold and
// warm.
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
                const size_t states0 = dec->engine().n_states();
                const auto wall = Clock::now();
                const double c0 = thread_cpu_us();
                const constrain::TokenBits &bits = masker.mask(dec->state());
                const double us = std::max(0.0, thread_cpu_us() - c0 - clock_us);
                (run == 0 ? cold : warm).push_back(us);
                if (trace && us > 100)
                    std::printf(
                        "seed %d run %d step %d: %.0f us, %llu trie nodes stepped, %llu "
                        "subtrees at once, %zu new matcher states\n",
                        fresh + 1, run, step, us, (unsigned long long)(masker.n_walked() - walked0),
                        (unsigned long long)(masker.n_shortcuts() - shortcuts0),
                        dec->engine().n_states() - states0);
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
    // One generation from an empty prompt: its generated tokens, wall seconds and thread CPU
    // seconds (n_threads = 1: the forward passes run on this thread, OpenBLAS single-threaded).
    struct Run {
        int32_t tokens = 0;
        double wall_s = 0, cpu_s = 0;
    };
    auto generate = [&](bool constrained, float temperature, uint64_t seed, int32_t max_new) {
        GenerateOptions o;
        o.sampler.temperature = temperature;
        o.sampler.seed = seed;
        o.max_new_tokens = max_new;
        o.ignore_eos = !constrained;
        if (constrained) {
            o.constraint_kind = int32_t(constrain::Kind::JsonSchema);
            o.constraint_text = kSchema;
        }
        std::string text;
        GenerateResult r;
        session.reset();
        const auto a = Clock::now();
        const double c = thread_cpu_us();
        session.generate("", o, nullptr, cancel, text, r);
        return Run{r.n_generated_tokens, std::chrono::duration<double>(Clock::now() - a).count(),
                   (thread_cpu_us() - c) * 1e-6};
    };
    // Each seed: a constrained generation, then an unconstrained one of the same length (EOS
    // ignored), back to back so that both see the same machine load and context lengths.
    // Sampled (temperature 1): pass 0 starts with the session's constraint cache empty (cold),
    // pass 1 repeats the seeds (warm). Sampling costs less among fewer allowed tokens, so greedy
    // (pass 2: the same text every time, warm after its first) isolates the mask's own cost.
    const char *seeds_env = std::getenv("HFK_BENCH_SEEDS");
    const uint64_t kSeeds = seeds_env ? uint64_t(std::max(1, std::atoi(seeds_env))) : 8;
    std::vector<std::vector<int32_t>> constrained_ids;  // pass 0's constrained generations
    double free_cpu_ms_min = 1e300;
    for (int pass = 0; pass < 3; ++pass) {
        Run con, free;
        const float temperature = pass < 2 ? 1.0f : 0.0f;
        for (uint64_t seed = 0; seed < kSeeds; ++seed) {
            const Run c = generate(true, temperature, seed, 128);
            if (pass == 0) constrained_ids.push_back(session.last_tokens());
            const Run f = generate(false, temperature, seed, std::max(c.tokens, 1));
            con.tokens += c.tokens, con.wall_s += c.wall_s, con.cpu_s += c.cpu_s;
            free.tokens += f.tokens, free.wall_s += f.wall_s, free.cpu_s += f.cpu_s;
        }
        const double con_cpu_ms = 1e3 * con.cpu_s / con.tokens;
        const double free_cpu_ms = 1e3 * free.cpu_s / free.tokens;
        free_cpu_ms_min = std::min(free_cpu_ms_min, free_cpu_ms);
        std::printf(
            "decode on %s, %s (%d generations of %d tokens in all, the same lengths both ways):\n"
            "  thread CPU per token: unconstrained %.3f ms, constrained %.3f ms: overhead %.1f%% "
            "(%.1f us per token)\n"
            "  wall clock:           unconstrained %.1f tok/s, constrained %.1f tok/s: "
            "overhead %.1f%%\n",
            model_dir.filename().c_str(),
            pass == 0   ? "sampled, constraint cache cold"
            : pass == 1 ? "sampled, warm"
                        : "greedy",
            int(kSeeds), con.tokens, free_cpu_ms, con_cpu_ms,
            100.0 * (con_cpu_ms / free_cpu_ms - 1.0), 1e3 * (con_cpu_ms - free_cpu_ms),
            free.tokens / free.wall_s, con.tokens / con.wall_s,
            100.0 * ((con.wall_s / con.tokens) / (free.wall_s / free.tokens) - 1.0));
    }
    // The constraint's own work per token, replayed outside the forward passes: the masks
    // (logits set to -inf) and accepts of pass 0's constrained tokens on a new decoder (cold:
    // every state new, as in a session's first generation) and then again (warm), in thread
    // CPU time. A decode's CPU time on a shared machine moves with the neighbours' memory
    // traffic (the forward pass is bound by bandwidth); this figure does not, and set beside
    // the fastest unconstrained token of the run it bounds the overhead from above.
    {
        const int32_t width = lm->n_decodable;
        constrain::ConstrainedDecoder replay(
            constrain::compile_constraint(constrain::Kind::JsonSchema, kSchema),
            constrain::VocabTrie::get(lm->tokenizer, width));
        std::vector<float> logits(static_cast<size_t>(width), 0.0f);
        for (int round = 0; round < 2; ++round) {
            size_t n = 0;
            const double c0 = thread_cpu_us();
            for (const auto &ids : constrained_ids) {
                replay.restart();
                for (int32_t id : ids) {
                    std::fill(logits.begin(), logits.end(), 0.0f);
                    if (!replay.mask_logits(logits, lm->eos_ids)) break;
                    if (lm->is_eos(id)) break;
                    replay.accept(id);
                    ++n;
                }
            }
            const double us = (thread_cpu_us() - c0) / double(std::max<size_t>(n, 1));
            std::printf(
                "constraint work per token, replayed (%s, %zu tokens): %.1f us = %.2f%% of the "
                "fastest unconstrained token of this run (%.3f ms CPU)\n",
                round == 0 ? "cold" : "warm", n, us, 100.0 * us / (1e3 * free_cpu_ms_min),
                free_cpu_ms_min);
        }
    }
    return 0;
}
