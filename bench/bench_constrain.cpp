// Constrained decoding: the time to compute a token mask on GPT-2's 50k vocabulary for a
// typical JSON Schema (mean, p50, p99; cold = the first generation, when every state is new,
// and warm = later ones, which the per-session cache serves), and the decode overhead of a
// constrained generation against an unconstrained one on a model (argument 1; default the
// random tiny-gpt2, whose forward pass is so small that the overhead there is an upper bound:
// pass a GPT-2 124M made by ../shared/tools/make_hf_model.py for a realistic figure).
// Targets (issue 20): < 50 us per mask on average, < 5% decode overhead.
#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <filesystem>
#include <random>
#include <string>
#include <vector>

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
    constrain::ConstrainedDecoder dec(
        constrain::compile_constraint(constrain::Kind::JsonSchema, kSchema), trie);

    // Random walks through the schema: uniform among allowed tokens (EOS when complete).
    std::vector<double> cold, warm;
    std::mt19937 rng(1);
    for (int run = 0; run < 40; ++run) {
        dec.restart();
        for (int step = 0; step < 200 && !dec.finished(); ++step) {
            auto a = Clock::now();
            const constrain::TokenBits &bits = dec.masker().mask(dec.state());
            const double us = std::chrono::duration<double, std::micro>(Clock::now() - a).count();
            (run == 0 ? cold : warm).push_back(us);
            std::vector<int32_t> allowed;
            for (int32_t id = 0; id < trie->n_ids(); ++id)
                if (constrain::has_bit(bits, id)) allowed.push_back(id);
            if (allowed.empty() || (dec.accepting() && rng() % 4 == 0)) break;
            dec.accept(allowed[rng() % allowed.size()]);
        }
    }
    report("mask, first generation (cold)", cold);
    report("mask, later generations (warm)", warm);
    std::vector<double> all = cold;
    all.insert(all.end(), warm.begin(), warm.end());
    report("mask, all", all);
    std::printf("matcher states: %zu, cached masks: %zu\n", dec.engine().n_states(),
                dec.masker().n_cached());

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
