// Model throughput: prefill of 512 tokens and decode of 128 tokens from an empty context (what
// llama-bench calls pp512 and tg128), load time and resident memory, for a checkpoint directory
// written by ../shared/tools/make_hf_model.py. Prints medians (min-max) beside the llama.cpp
// figures of ../shared/BENCH.md for the same model, precision and thread count.
//
//   bench_model /tmp/llama-135m-bf16 [--threads 1,2] [--runs 5] [--pp 512] [--tg 128]
#include <sys/resource.h>
#include <time.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <random>
#include <string>
#include <vector>

#include "kernels/cpu.h"
#include "model/model.h"
#include "util/error.h"

using namespace hfk;
using Clock = std::chrono::steady_clock;

namespace {

struct RefRow {
    const char *model, *precision;
    int threads;
    double pp512, tg128, roofline;
};
// ../shared/BENCH.md, llama.cpp de3ff81, llama-bench -r 5 (F16 rows are the target for BF16).
const RefRow kRef[] = {
    {"gpt2-124m", "F32", 1, 518, 32.4, 62},   {"gpt2-124m", "F32", 2, 915, 67.2, 118},
    {"gpt2-124m", "F16", 1, 634, 69.7, 124},  {"gpt2-124m", "F16", 2, 1137, 120, 236},
    {"llama-135m", "F32", 1, 445, 46.7, 57},  {"llama-135m", "F32", 2, 894, 43.9, 109},
    {"llama-135m", "F16", 1, 513, 109, 114},  {"llama-135m", "F16", 2, 935, 111, 217},
    {"llama-1b", "F16", 1, 69.9, 7.13, 14.8}, {"llama-1b", "F16", 2, 138, 16.9, 28.3},
};

double rss_mib() {  // current resident set
    std::ifstream f("/proc/self/statm");
    long pages = 0, resident = 0;
    f >> pages >> resident;
    return double(resident) * double(sysconf(_SC_PAGESIZE)) / (1 << 20);
}
double peak_rss_mib() {
    rusage u{};
    getrusage(RUSAGE_SELF, &u);
    return double(u.ru_maxrss) / 1024.0;
}
// Process CPU time: on a machine shared with other jobs, tokens per CPU-second of a one-thread run
// approximates what a quiet machine gives (with two threads it also counts the workers' spinning).
double cpu_now() {
    timespec ts{};
    clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
    return double(ts.tv_sec) + double(ts.tv_nsec) * 1e-9;
}
double seconds(Clock::time_point a, Clock::time_point b) {
    return std::chrono::duration<double>(b - a).count();
}

struct Stat {
    double median, lo, hi;
};
Stat stat(std::vector<double> v) {
    std::sort(v.begin(), v.end());
    return {v[v.size() / 2], v.front(), v.back()};
}

std::string preset_of(const ModelConfig &c) {
    if (c.model_type == "gpt2" && c.hidden_size == 768 && c.num_layers == 12) return "gpt2-124m";
    if (c.hidden_size == 576 && c.num_layers == 30) return "llama-135m";
    if (c.hidden_size == 2048 && c.num_layers == 22) return "llama-1b";
    return "other";
}

}  // namespace

// File pages of this process mapped with 2 MiB entries (/proc/self/smaps_rollup).
double file_pmd_mapped_mib() {
    std::ifstream f("/proc/self/smaps_rollup");
    std::string key;
    double kb = 0;
    while (f >> key)
        if (key == "FilePmdMapped:") {
            f >> kb;
            break;
        }
    return kb / 1024;
}

int main(int argc, char **argv) {
    if (argc < 2) {
        std::fprintf(stderr,
                     "usage: %s CHECKPOINT_DIR [--threads 1,2] [--runs 5] [--pp 512] [--tg 128]\n",
                     argv[0]);
        return 2;
    }
    std::string dir = argv[1];
    std::vector<int> thread_counts = {1, 2};
    int runs = 5, pp = 512, tg = 128;
    for (int i = 2; i + 1 < argc; i += 2) {
        std::string a = argv[i], v = argv[i + 1];
        if (a == "--threads") {
            thread_counts.clear();
            for (size_t p = 0; p < v.size();) {
                size_t q = v.find(',', p);
                thread_counts.push_back(std::stoi(v.substr(p, q - p)));
                p = q == std::string::npos ? v.size() : q + 1;
            }
        } else if (a == "--runs")
            runs = std::max(1, std::stoi(v));
        else if (a == "--pp")
            pp = std::max(1, std::stoi(v));
        else if (a == "--tg")
            tg = std::max(1, std::stoi(v));
    }
    try {
        const double rss0 = rss_mib();
        auto t0 = Clock::now();
        auto model = Model::load(dir, LoadOptions{thread_counts.front()});
        auto t1 = Clock::now();
        // Load to first token: one decode step (touches every weight page once).
        {
            auto cache = model->new_cache(8);
            std::vector<float> logits(static_cast<size_t>(model->vocab_size()));
            int32_t bos = 1;
            model->forward(*cache, std::span<const int32_t>(&bos, 1), logits.data(), false, 0);
        }
        auto t2 = Clock::now();
        const double rss_load = rss_mib() - rss0;
        const ModelConfig &cfg = model->config();
        const std::string preset = preset_of(cfg);
        const std::string precision = cfg.torch_dtype == "float32"    ? "F32"
                                      : cfg.torch_dtype == "bfloat16" ? "BF16"
                                                                      : "F16";
        const double wmib = double(model->weight_bytes()) / (1 << 20);
        std::printf("checkpoint %s: %s (%s), %s weights %.1f MiB, kernels %s, OpenBLAS core %s\n",
                    dir.c_str(), preset.c_str(), model->architecture().c_str(), precision.c_str(),
                    wmib, kern::kernel_isa(), (kern::blas_setup(), kern::blas_core_name()).c_str());
        std::printf(
            "weights mapped with 2 MiB entries: %.0f MiB of %.0f (files hfkit downloaded are cached "
            "in 2 MiB folios; others may be in 4 KiB pages, each touched once at first use)\n",
            file_pmd_mapped_mib(), double(model->weight_bytes()) / (1 << 20));
        std::printf(
            "load %.1f ms, load + first token %.1f ms (target < 100 ms); RSS after first token "
            "+%.1f MiB "
            "(%.2fx the weights; target <= 1.15x + KV cache)\n",
            seconds(t0, t1) * 1e3, seconds(t0, t2) * 1e3, rss_load, rss_load / wmib);

        std::mt19937 rng(1);
        std::uniform_int_distribution<int32_t> tok(0, model->vocab_size() - 1);
        std::vector<int32_t> prompt(static_cast<size_t>(pp));
        for (int32_t &t : prompt) t = tok(rng);
        std::vector<float> logits(static_cast<size_t>(model->vocab_size()));

        std::printf(
            "\n| model | precision | threads | pp%d tok/s (min-max) | llama.cpp pp512 | tg%d tok/s "
            "(min-max) | "
            "llama.cpp tg128 | roofline | pp per CPU-s | tg per CPU-s "
            "|\n|---|---|---|---|---|---|---|---|---|---|\n",
            pp, tg);
        for (int nt : thread_counts) {
            std::vector<double> pps, tgs, pp_cpu, tg_cpu;
            // As llama-bench does: one context for all runs (cleared before each), after a
            // warm-up prefill, so the runs measure compute rather than first-touch page faults.
            auto cache = model->new_cache(std::max(pp, tg) + 1);
            model->forward(*cache, prompt, logits.data(), false, nt);
            for (int r = 0; r < runs; ++r) {
                cache->truncate(0);
                double c0 = cpu_now();
                auto a = Clock::now();
                model->forward(*cache, prompt, logits.data(), false, nt);
                auto b = Clock::now();
                pps.push_back(pp / seconds(a, b));
                pp_cpu.push_back(pp / (cpu_now() - c0));
                cache->truncate(0);
                int32_t next = 1;
                c0 = cpu_now();
                a = Clock::now();
                for (int i = 0; i < tg; ++i) {
                    model->forward(*cache, std::span<const int32_t>(&next, 1), logits.data(), false,
                                   nt);
                    next = int32_t(std::max_element(logits.begin(), logits.end()) - logits.begin());
                }
                b = Clock::now();
                tgs.push_back(tg / seconds(a, b));
                tg_cpu.push_back(tg / (cpu_now() - c0));
            }
            Stat p = stat(pps), g = stat(tgs);
            const RefRow *ref = nullptr;
            const char *ref_prec = precision == "F32" ? "F32" : "F16";
            for (const RefRow &row : kRef)
                if (preset == row.model && std::strcmp(ref_prec, row.precision) == 0 &&
                    row.threads == nt)
                    ref = &row;
            char rp[32] = "-", rt[32] = "-", rr[32] = "-";
            if (ref) {
                std::snprintf(rp, sizeof rp, "%.0f", ref->pp512);
                std::snprintf(rt, sizeof rt, "%.1f", ref->tg128);
                std::snprintf(rr, sizeof rr, "%.0f", ref->roofline);
            }
            std::printf(
                "| %s | %s | %d | %.0f (%.0f-%.0f) | %s | %.1f (%.1f-%.1f) | %s | %s | %.0f | %.1f "
                "|\n",
                preset.c_str(), precision.c_str(), nt, p.median, p.lo, p.hi, rp, g.median, g.lo,
                g.hi, rt, rr, stat(pp_cpu).median, stat(tg_cpu).median);
            std::fflush(stdout);
        }
        std::printf("\npeak RSS %.1f MiB (weights %.1f MiB)\n", peak_rss_mib(), wmib);
    } catch (const Error &e) {
        std::fprintf(stderr, "error %d: %s\n", e.status(), e.what());
        return 1;
    }
    return 0;
}
