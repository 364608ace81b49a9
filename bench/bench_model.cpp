// Model throughput: prefill of 512 tokens and decode of 128 tokens from an empty context (what
// llama-bench calls pp512 and tg128), load time and resident memory, for a checkpoint directory
// written by ../shared/tools/make_hf_model.py. Prints medians (min-max) measured in this run,
// beside llama.cpp's reference figures from ../shared/BENCH.md (not measured here) for the same
// model, precision and thread count, on the CPU family this runs on (BENCH.md has AMD and Intel
// rows).
//
//   bench_model /tmp/llama-135m-bf16 [--threads 1,2] [--runs 5] [--pp 512] [--tg 128] [--warm 1]
//
// For a mixture-of-experts checkpoint it prints the bytes of weights a decode token reads (the
// model's own count: the dense weights and the routed experts only) beside the inspector's
// active parameters and the total.
//
// Last, it gives one-thread decode as a share of the bandwidth of a plain read alternated with
// it token by token (as many bytes as a decode token reads): the figure to set beside
// llama.cpp's tg128 over its roofline, since both runs see the same memory traffic of the
// machine's other tenants.
//
// Page cache: by default the checkpoint is first evicted from the page cache (a cold start, as
// after a reboot), and the load + first token time from disk is printed. The load reads it back
// through the weight mapping, which asks for huge pages, so the kernel caches it in 2 MiB folios:
// the state a model hfkit downloaded is in. A checkpoint written by a script usually sits in
// 4 KiB pages, whose first touch costs ~2.5 us each on these VMs (load + first token of 256 MB:
// ~180 ms instead of ~25 ms), and whose one-thread BF16 decode read at 72% of the plain read
// against 84% in 2 MiB folios (llama-135m shape, AMD EPYC Zen 5, one pair of runs: the hardware
// prefetchers stop at every 4 KiB boundary). --warm 1 keeps the cache
// as it is and measures that state.
#include <fcntl.h>
#include <sys/resource.h>
#include <time.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <random>
#include <string>
#include <vector>

#include "inspect/inspect.h"
#include "kernels/bf16_compute.h"
#include "kernels/cpu.h"
#include "read_bandwidth.h"
#include "kernels/ops.h"
#include "kernels/rows_per_pass.h"
#include "model/model.h"
#include "model/weight_arena.h"
#include "util/error.h"

using namespace hfk;
using Clock = std::chrono::steady_clock;

namespace {

// Reference figures of ../shared/BENCH.md (llama.cpp de3ff81, -march=native), measured on two
// machines, never in this run: the rows of the CPU family the benchmark runs on are printed.
struct RefRow {
    const char *model, *precision;  // llama.cpp's precision (F16 is its stand-in for our BF16)
    int threads;
    double pp512, tg128;
    double roofline;  // decode tokens/s at the machine's read bandwidth; 0: from read_gbs below
};
struct RefMachine {
    const char *vendor;  // as /proc/cpuinfo's vendor_id
    const char *name;
    double read_gbs[2];  // BENCH.md's read bandwidth, 1 and 2 threads
    std::vector<RefRow> rows;
};
const RefMachine kRefMachines[] = {
    {"AuthenticAMD",
     "AMD EPYC Zen 5, 2 vCPUs (BENCH.md, 2026-11-23, llama-bench -r 5)",
     {30.7, 58.5},
     {
         {"gpt2-124m", "F32", 1, 518, 32.4, 62},
         {"gpt2-124m", "F32", 2, 915, 67.2, 118},
         {"gpt2-124m", "F16", 1, 634, 69.7, 124},
         {"gpt2-124m", "F16", 2, 1137, 120, 236},
         {"llama-135m", "F32", 1, 445, 46.7, 57},
         {"llama-135m", "F32", 2, 894, 43.9, 109},
         {"llama-135m", "F16", 1, 513, 109, 114},
         {"llama-135m", "F16", 2, 935, 111, 217},
         {"llama-1b", "F16", 1, 69.9, 7.13, 14.8},
         {"llama-1b", "F16", 2, 138, 16.9, 28.3},
         {"gpt2-124m", "Q8_0", 1, 557, 150, 233},
         {"gpt2-124m", "Q8_0", 2, 889, 166, 444},
         {"llama-135m", "Q8_0", 1, 423, 167, 215},
         {"llama-135m", "Q8_0", 2, 765, 139, 409},
         {"llama-1b", "Q8_0", 2, 99.5, 30.1, 53.2},
         {"llama-1b", "Q4_0", 2, 195, 40.4, 97.6},
     }},
    {"GenuineIntel",
     "Intel Xeon Emerald Rapids, 2 vCPUs (BENCH.md, 2026-12-05, 3 alternating rounds)",
     {15.9, 27},
     {
         {"gpt2-124m", "F32", 1, 524, 29.2, 0},
         {"gpt2-124m", "F32", 2, 949, 53.3, 0},
         {"gpt2-124m", "F16", 1, 406, 51.4, 0},
         {"gpt2-124m", "F16", 2, 768, 99.4, 0},
         {"llama-135m", "F32", 1, 350, 24.2, 0},
         {"llama-135m", "F32", 2, 857, 50.9, 0},
         {"llama-135m", "BF16", 1, 250, 35.1, 0},
         {"llama-135m", "BF16", 2, 608, 71.5, 0},
         {"gpt2-124m", "Q8_0", 1, 381, 54.0, 0},
         {"gpt2-124m", "Q8_0", 2, 583, 94.9, 0},
         {"llama-135m", "Q8_0", 1, 288, 48.4, 0},
         {"llama-135m", "Q8_0", 2, 540, 93.4, 0},
     }},
};

// The CPU this runs on, from /proc/cpuinfo.
struct CpuId {
    std::string vendor, model;
};
CpuId this_cpu() {
    CpuId c;
    std::ifstream f("/proc/cpuinfo");
    std::string line;
    while (std::getline(f, line) && (c.vendor.empty() || c.model.empty())) {
        const size_t colon = line.find(':');
        if (colon == std::string::npos) continue;
        std::string key = line.substr(0, line.find_last_not_of(" \t", colon - 1) + 1);
        std::string value = colon + 2 <= line.size() ? line.substr(colon + 2) : "";
        if (key == "vendor_id" && c.vendor.empty()) c.vendor = value;
        if (key == "model name" && c.model.empty()) c.model = value;
    }
    return c;
}

const RefMachine *reference_machine(const CpuId &cpu) {
    for (const RefMachine &m : kRefMachines)
        if (cpu.vendor == m.vendor) return &m;
    return nullptr;
}

// llama.cpp's row for a preset, our precision and thread count: the same precision, for our
// BF16 its F16 row (the target BENCH.md sets) or else its BF16 row, for our Q4_1 its Q4_0 (the
// 4-bit row issue 18 compares with).
const RefRow *reference_row(const RefMachine *m, const std::string &preset,
                            const std::string &precision, int threads) {
    if (!m) return nullptr;
    std::vector<std::string> wanted = {precision};
    if (precision == "BF16") wanted = {"F16", "BF16"};
    if (precision == "Q4_1") wanted = {"Q4_0"};
    for (const std::string &want : wanted)
        for (const RefRow &row : m->rows)
            if (preset == row.model && want == row.precision && row.threads == threads) return &row;
    return nullptr;
}

double roofline_of(const RefMachine &m, const RefRow &row, uint64_t weight_bytes) {
    if (row.roofline > 0) return row.roofline;
    return m.read_gbs[row.threads > 1 ? 1 : 0] * 1e9 / double(weight_bytes);
}

double rss_mib() {  // current resident set
    std::ifstream f("/proc/self/statm");
    long pages = 0, resident = 0;
    f >> pages >> resident;
    return double(resident) * double(sysconf(_SC_PAGESIZE)) / (1 << 20);
}
// x with `digits` decimals.
std::string fixed(double x, int digits) {
    char buf[64];
    std::snprintf(buf, sizeof buf, "%.*f", digits, x);
    return buf;
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
// This thread's CPU time: on a shared machine, the time the thread held a core, stalls on memory
// included, without the slices other tenants took (one-thread decode runs on the calling thread).
double thread_cpu_now() {
    timespec ts{};
    clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
    return double(ts.tv_sec) + double(ts.tv_nsec) * 1e-9;
}
double seconds(Clock::time_point a, Clock::time_point b) {
    return std::chrono::duration<double>(b - a).count();
}

struct Stat {
    double median, lo, hi;
};
Stat summary(std::vector<double> v) {
    std::sort(v.begin(), v.end());
    return {v[v.size() / 2], v.front(), v.back()};
}

std::string preset_of(const ModelConfig &c) {
    if (c.model_type == "gpt2" && c.hidden_size == 768 && c.num_layers == 12) return "gpt2-124m";
    if (c.hidden_size == 576 && c.num_layers == 30) return "llama-135m";
    if (c.hidden_size == 2048 && c.num_layers == 22) return "llama-1b";
    return "other";
}

// Drops the checkpoint's files from the page cache (written back first: dirty pages stay).
void evict_from_page_cache(const std::string &dir) {
    std::error_code ec;  // a missing directory is for Model::load to report
    for (const auto &e : std::filesystem::directory_iterator(dir, ec)) {
        if (!e.is_regular_file()) continue;
        const int fd = ::open(e.path().c_str(), O_RDONLY | O_CLOEXEC);
        if (fd < 0) continue;
        fdatasync(fd);
        posix_fadvise(fd, 0, 0, POSIX_FADV_DONTNEED);
        ::close(fd);
    }
}

// A --quant format as the table names it: "q8-emb" -> "Q8_0-emb".
std::string format_label(const std::string &spec) {
    const bool keep = spec.ends_with("-emb");
    const std::string q = keep ? spec.substr(0, spec.size() - 4) : spec;
    const std::string name = q == "q8" ? "Q8_0" : q == "q4" ? "Q4_1" : q == "bf16" ? "BF16" : "F32";
    return keep ? name + "-emb" : name;
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
                     "usage: %s CHECKPOINT_DIR [--threads 1,2] [--runs 5] [--pp 512] [--tg 128] "
                     "[--warm 1] [--quant bf16,q8,q4,q8-emb,q4-emb] [--compute bf16]\n",
                     argv[0]);
        return 2;
    }
    std::string dir = argv[1];
    std::vector<int> thread_counts = {1, 2};
    int runs = 5, pp = 512, tg = 128;
    bool warm = false;
    std::vector<std::string> quant_formats;
    bool compute_bf16 = false;  // --compute bf16: BF16 rows again in the BF16 compute mode
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
        else if (a == "--warm")
            warm = std::stoi(v) != 0;
        else if (a == "--compute") {
            if (v != "bf16" && v != "f32") {
                std::fprintf(stderr, "--compute takes bf16 or f32\n");
                return 2;
            }
            compute_bf16 = v == "bf16";
        } else if (a == "--quant") {
            for (size_t p = 0; p < v.size();) {
                size_t q = v.find(',', p);
                const std::string f = v.substr(p, q - p);
                // "q8-emb": the embedding and lm_head kept as stored (keep_embeddings).
                const std::string base =
                    f.size() > 4 && f.ends_with("-emb") ? f.substr(0, f.size() - 4) : f;
                if (!weight_format_from_name(base) || base == "auto") {
                    std::fprintf(stderr,
                                 "--quant takes q8, q4, bf16 or f32, each optionally -emb "
                                 "(comma-separated)\n");
                    return 2;
                }
                quant_formats.push_back(f);
                p = q == std::string::npos ? v.size() : q + 1;
            }
        }
    }
    try {
        // Load to first token: one decode step (touches every weight page once).
        auto first_token = [](const Model &m) {
            auto cache = m.new_cache(8);
            std::vector<float> logits(static_cast<size_t>(m.vocab_size()));
            int32_t bos = 1;
            m.forward(*cache, std::span<const int32_t>(&bos, 1), logits.data(), false, 0);
        };
        double cold_ms = -1;
        if (!warm) {
            evict_from_page_cache(dir);
            auto c0 = Clock::now();
            first_token(*Model::load(dir, LoadOptions{thread_counts.front()}));
            cold_ms = seconds(c0, Clock::now()) * 1e3;
        }
        const double rss0 = rss_mib();
        auto t0 = Clock::now();
        auto model = Model::load(dir, LoadOptions{thread_counts.front()});
        auto t1 = Clock::now();
        first_token(*model);
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
        if (cold_ms >= 0)
            std::printf(
                "cold start (checkpoint evicted from the page cache first): load + first "
                "token %.1f ms, reading from disk; --warm 1 keeps the cache as it is\n",
                cold_ms);
        std::printf(
            "weights mapped with 2 MiB entries: %.0f MiB of %.0f (files hfkit downloaded, or read "
            "back from disk, are cached in 2 MiB folios; files another program wrote may be in "
            "4 KiB pages)\n",
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

        const CpuId cpu = this_cpu();
        const RefMachine *ref_machine = reference_machine(cpu);
        std::printf("\nCPU: %s (%s)\n", cpu.model.c_str(), cpu.vendor.c_str());
        if (ref_machine)
            std::printf(
                "Columns marked \"ref\" are llama.cpp reference figures from ../shared/BENCH.md, "
                "measured on %s, NOT in this run; the others are measured now, median (min-max) "
                "of %d runs.\n",
                ref_machine->name, runs);
        else
            std::printf(
                "No reference rows for this CPU vendor in ../shared/BENCH.md (it has AMD Zen 5 and "
                "Intel Emerald Rapids): the ref columns are empty. Figures are measured now, "
                "median (min-max) of %d runs.\n",
                runs);
        if (compute_bf16)
            std::printf(
                "--compute bf16: %s; rows marked compute=bf16 run their prefill so "
                "(decode is the same arithmetic in both modes)\n",
                kern::bf16_compute_description());
        if (precision == "BF16")
            std::printf(
                "This checkpoint is BF16: a ref row of precision F16 is llama.cpp's F16 model "
                "(its target for BF16 in BENCH.md), not the same arithmetic; BF16 marks "
                "llama.cpp's own BF16.\n");
        std::printf(
            "\n| model | precision | threads | pp%d tok/s (min-max) | ref llama.cpp pp512 | tg%d "
            "tok/s (min-max) | ref llama.cpp tg128 | ref roofline | ref precision | pp per CPU-s "
            "| tg per CPU-s |\n|---|---|---|---|---|---|---|---|---|---|---|\n",
            pp, tg);
        // The table rows of one model: prefill and decode at each thread count.
        auto rows_of = [&](const Model &m, const std::string &prec,
                           kern::Compute mode = kern::Compute::F32) {
            kern::ComputeScope compute_scope(mode);
            const std::string shown = mode == kern::Compute::BF16 ? prec + " compute=bf16" : prec;
            for (int nt : thread_counts) {
                std::vector<double> pps, tgs, pp_cpu, tg_cpu;
                // As llama-bench does: one context for all runs (cleared before each), after a
                // warm-up prefill, so the runs measure compute rather than first-touch page faults.
                auto cache = m.new_cache(std::max(pp, tg) + 1);
                m.forward(*cache, prompt, logits.data(), false, nt);
                for (int r = 0; r < runs; ++r) {
                    cache->truncate(0);
                    double c0 = cpu_now();
                    auto a = Clock::now();
                    m.forward(*cache, prompt, logits.data(), false, nt);
                    auto b = Clock::now();
                    pps.push_back(pp / seconds(a, b));
                    pp_cpu.push_back(pp / (cpu_now() - c0));
                    cache->truncate(0);
                    int32_t next = 1;
                    c0 = cpu_now();
                    a = Clock::now();
                    for (int i = 0; i < tg; ++i) {
                        m.forward(*cache, std::span<const int32_t>(&next, 1), logits.data(), false,
                                  nt);
                        next = int32_t(kern::argmax(logits.data(), int64_t(logits.size())));
                    }
                    b = Clock::now();
                    tgs.push_back(tg / seconds(a, b));
                    tg_cpu.push_back(tg / (cpu_now() - c0));
                }
                Stat p = summary(pps), g = summary(tgs);
                const RefRow *ref = reference_row(ref_machine, preset, prec, nt);
                char rp[32] = "-", rt[32] = "-", rr[32] = "-";
                if (ref) {
                    std::snprintf(rp, sizeof rp, "%.0f", ref->pp512);
                    std::snprintf(rt, sizeof rt, "%.1f", ref->tg128);
                    std::snprintf(rr, sizeof rr, "%.0f",
                                  roofline_of(*ref_machine, *ref, m.weight_bytes()));
                }
                std::printf(
                    "| %s | %s | %d | %.0f (%.0f-%.0f) | %s | %.1f (%.1f-%.1f) | %s | %s | %s | "
                    "%.0f | "
                    "%.1f |\n",
                    preset.c_str(), shown.c_str(), nt, p.median, p.lo, p.hi, rp, g.median, g.lo,
                    g.hi, rt, rr, ref ? ref->precision : "-", summary(pp_cpu).median,
                    summary(tg_cpu).median);
                std::fflush(stdout);
            }
        };
        rows_of(*model, precision);
        if (compute_bf16 && precision == "BF16") rows_of(*model, precision, kern::Compute::BF16);
        // --quant q8,q4: the same rows for the checkpoint quantized at load, in this run.
        // q8/q4 quantize the embedding and lm_head too (the default); "-emb" keeps them as
        // stored (the tied lm_head of a small model is a large share of a decode token's bytes:
        // 56.6 of 170 MB for llama-135m in Q8_0 with it in BF16).
        std::vector<std::string> load_lines;  // one per --quant format, printed after the table
        for (const std::string &spec : quant_formats) {
            const bool keep = spec.ends_with("-emb");
            const std::string q = keep ? spec.substr(0, spec.size() - 4) : spec;
            LoadOptions qo{thread_counts.front()};
            qo.format = *weight_format_from_name(q);
            qo.quantize_embeddings = !keep;
            const double rss_before = rss_mib(), commit0 = WeightArena::commit_seconds_total();
            const auto l0 = Clock::now();
            const auto qm = Model::load(dir, qo);
            const double load_s = seconds(l0, Clock::now()), rss_after = rss_mib() - rss_before;
            // The kernel committing (zeroing) the converted weights' new pages, apart: on a VM
            // it can cost more than the conversion, and more for memory the guest never used.
            const double commit_s = WeightArena::commit_seconds_total() - commit0;
            const double convert_s = std::max(load_s - commit_s, 1e-9);
            const double qmib = double(qm->weight_bytes()) / (1 << 20);
            // Issue 18's targets: converting at >= 1 GB/s of the checkpoint's bytes per thread,
            // and a resident set after load of at most the converted weights + 10%.
            load_lines.push_back(
                std::string(spec) + ": load " + std::to_string(int(load_s * 1e3 + 0.5)) +
                " ms for " + fixed(wmib, 1) + " MiB as stored, " +
                fixed(wmib * (1 << 20) / 1e9 / load_s / thread_counts.front(), 2) +
                " GB/s per load thread (" + std::to_string(thread_counts.front()) + "), of which " +
                std::to_string(int(commit_s * 1e3 + 0.5)) +
                " ms the kernel committing new pages; without them " +
                fixed(wmib * (1 << 20) / 1e9 / convert_s / thread_counts.front(), 2) +
                " GB/s per thread (target >= 1); RSS after load +" + fixed(rss_after, 1) +
                " MiB for " + fixed(qmib, 1) + " MiB of weights (" + fixed(rss_after / qmib, 2) +
                "x; target <= 1.10x)");
            first_token(*qm);
            rows_of(*qm, format_label(spec));
            if (compute_bf16 && q == "bf16" && !keep) rows_of(*qm, "BF16", kern::Compute::BF16);
        }
        std::printf("\npeak RSS %.1f MiB (weights %.1f MiB)\n", peak_rss_mib(), wmib);
        for (const std::string &line : load_lines) std::printf("%s\n", line.c_str());

        // Issue 18's speed lines are ratios of a quantized decode to the checkpoint's own, and
        // on a shared machine one row's median can catch a quiet minute the other missed (the
        // table above ran them a minute apart). Here the formats take turns, round by round,
        // and each round gives its own ratio: the median of those is the figure to quote.
        // The checkpoint as stored, then each --quant format (kept for the read shares below).
        std::vector<std::pair<std::string, std::shared_ptr<const Model>>> turns{{precision, model}};
        if (!quant_formats.empty()) {
            for (const std::string &spec : quant_formats) {
                const bool keep = spec.ends_with("-emb");
                LoadOptions qo{thread_counts.front()};
                qo.format = *weight_format_from_name(keep ? spec.substr(0, spec.size() - 4) : spec);
                qo.quantize_embeddings = !keep;
                turns.emplace_back(format_label(spec), Model::load(dir, qo));
            }
            const int rounds = std::max(runs, 5);
            std::printf(
                "\ndecode tg%d paired with %s, the formats in turn within each of %d rounds "
                "(median (min-max) of the rounds' ratios):\n",
                tg, precision.c_str(), rounds);
            for (int nt : thread_counts) {
                std::vector<std::vector<double>> tok_s(turns.size());
                std::vector<std::unique_ptr<KvCache>> caches;
                for (const auto &[name, m] : turns) {
                    caches.push_back(m->new_cache(tg + 1));
                    int32_t bos = 1;  // a first step, so that no round pays first touches
                    m->forward(*caches.back(), std::span<const int32_t>(&bos, 1), logits.data(),
                               false, nt);
                }
                for (int r = 0; r < rounds; ++r)
                    for (size_t t = 0; t < turns.size(); ++t) {
                        const Model &m = *turns[t].second;
                        caches[t]->truncate(0);
                        int32_t next = 1;
                        const auto a = Clock::now();
                        for (int i = 0; i < tg; ++i) {
                            m.forward(*caches[t], std::span<const int32_t>(&next, 1), logits.data(),
                                      false, nt);
                            next = int32_t(kern::argmax(logits.data(), int64_t(logits.size())));
                        }
                        tok_s[t].push_back(tg / seconds(a, Clock::now()));
                    }
                for (size_t t = 1; t < turns.size(); ++t) {
                    std::vector<double> ratios;
                    for (int r = 0; r < rounds; ++r) ratios.push_back(tok_s[t][r] / tok_s[0][r]);
                    const Stat q = summary(tok_s[t]), b = summary(tok_s[0]), x = summary(ratios);
                    std::printf("  %d thread(s): %s %.1f tok/s, %s %.1f tok/s: %.2fx (%.2f-%.2f)\n",
                                nt, turns[t].first.c_str(), q.median, precision.c_str(), b.median,
                                x.median, x.lo, x.hi);
                }
            }
        }

        // Bytes of weights one decode token reads, as the model counts them (every weight once,
        // a MoE layer's experts only when routed to): all the weights for a dense model, the
        // active parameters' bytes for a MoE one. 0 when the architecture does not count.
        uint64_t decode_bytes = model->weight_bytes();
        {
            auto cache = model->new_cache(tg + 1);
            int32_t next = 1;
            const uint64_t before = cache->weight_bytes_read();
            for (int i = 0; i < tg; ++i) {
                model->forward(*cache, std::span<const int32_t>(&next, 1), logits.data(), false, 1);
                next = int32_t(kern::argmax(logits.data(), int64_t(logits.size())));
            }
            const uint64_t read = cache->weight_bytes_read() - before;
            if (read > 0) decode_bytes = read / uint64_t(tg);
            if (cfg.num_experts > 1) {
                uint64_t active = 0;
                const uint64_t total = count_parameters_from_config(cfg, &active);
                // The inspector's active parameters at the checkpoint's bytes per parameter.
                const uint64_t expected =
                    total > 0
                        ? uint64_t(double(active) * double(model->weight_bytes()) / double(total))
                        : 0;
                std::printf(
                    "MoE: %lld experts, %lld per token; decode reads %llu bytes/token (counted "
                    "over %d tokens) of %llu bytes of weights (%.1f%%); the inspector's active "
                    "parameters give %llu bytes/token: %s\n",
                    static_cast<long long>(cfg.num_experts),
                    static_cast<long long>(cfg.num_experts_per_tok),
                    static_cast<unsigned long long>(decode_bytes), tg,
                    static_cast<unsigned long long>(model->weight_bytes()),
                    100.0 * double(decode_bytes) / double(model->weight_bytes()),
                    static_cast<unsigned long long>(expected),
                    decode_bytes == expected ? "decode bytes = the active parameters"
                                             : "MISMATCH with the active parameters");
            }
        }

        // One-thread decode against the memory of the same moment. On a shared machine decode
        // moves by 15% within minutes with the neighbours' memory traffic, so a figure taken now
        // cannot settle a comparison with one taken on another day. Decode streams every weight
        // once per token; here each decode step alternates with a plain read of as many bytes,
        // both seeing the same neighbours, and the decode's bytes per second are given as a
        // share of the read's. The read is the fastest loop of read_bandwidth.h's sweep on this
        // CPU, over a buffer the size of the weights: a weaker read would flatter the kernels.
        // llama.cpp's share is its tg128 over the roofline of BENCH.md's bandwidth.
        if (std::find(thread_counts.begin(), thread_counts.end(), 1) != thread_counts.end()) {
            hfk_bench::AlignedBuffer buf{static_cast<size_t>(decode_bytes)};
            const hfk_bench::SweptRead swept = hfk_bench::sweep_read_loops(buf.data, buf.size);
            const hfk_bench::ReadLoop &loop = swept.loop;
            std::printf(
                "\nplain read baseline (one thread, %.1f MiB buffer = the weights a decode "
                "token reads): %s; the "
                "fastest of %d loops swept now (streams x accumulators, prefetch distance and "
                "hint), best pass %.1f GB/s\n",
                double(buf.size) / (1 << 20), loop.describe().c_str(), swept.loops_tried,
                swept.best_gbs);
            volatile uint64_t sink = loop.read(buf.data, buf.size);
            auto cache = model->new_cache(tg + 1);
            // 16-bit weights: the default rows per pass (each layout its own, rows_per_pass.h),
            // then every choice forced on both layouts (the same bits, another read order), with
            // the CPU family's prefetch, and the default with the other prefetch setting (none,
            // or 6 KiB ahead), in turn within each run, so that they see the same moments of the
            // machine; other weights: the one path there is. rows 0 = the default.
            struct Choice {
                int rows, prefetch;
                bool operator==(const Choice &) const = default;
            };
            const Choice chosen_choice{0, kern::decode_prefetch_bytes()};
            const int default_dot_rows = kern::dot_rows_per_pass(DType::BF16);
            const int default_axpy_rows = kern::axpy_rows_per_pass(DType::BF16);
            const std::string chosen_source = kern::decode_rows_source();
            const std::string prefetch_source = kern::decode_prefetch_source();
            const bool sixteen_bit = precision != "F32";
            std::vector<Choice> choices{chosen_choice};
            if (sixteen_bit) {
                const int pf = chosen_choice.prefetch;
                choices = {{0, pf}, {1, pf}, {2, pf}, {4, pf}, {0, pf ? 0 : 6144}};
            }
            struct Shares {
                std::vector<double> shares, read_gbs, decode_gbs;
                std::vector<double> cpu_shares;  // the same from the thread's CPU time
            };
            // One run: tg tokens of m's decode (decode_bytes_m a token), each after a read of
            // the whole buffer, the same yardstick for every precision.
            const size_t read_bytes = loop.bytes_read(buf.size);
            auto alternate = [&](const Model &m, KvCache &c, uint64_t decode_bytes_m, Shares &s) {
                c.truncate(0);
                int32_t next = 1;
                double t_read = 0, t_decode = 0, cpu_read = 0, cpu_decode = 0;
                for (int i = 0; i < tg; ++i) {
                    const double ca = thread_cpu_now();
                    auto a = Clock::now();
                    sink = sink + loop.read(buf.data, buf.size);
                    const double cb = thread_cpu_now();
                    auto b = Clock::now();
                    m.forward(c, std::span<const int32_t>(&next, 1), logits.data(), false, 1);
                    next = int32_t(kern::argmax(logits.data(), int64_t(logits.size())));
                    t_read += seconds(a, b);
                    t_decode += seconds(b, Clock::now());
                    cpu_read += cb - ca;
                    cpu_decode += thread_cpu_now() - cb;
                }
                s.read_gbs.push_back(double(tg) * double(read_bytes) / t_read / 1e9);
                s.decode_gbs.push_back(double(tg) * double(decode_bytes_m) / t_decode / 1e9);
                s.shares.push_back(100 * s.decode_gbs.back() / s.read_gbs.back());
                s.cpu_shares.push_back(100 * double(decode_bytes_m) / cpu_decode /
                                       (double(read_bytes) / cpu_read));
            };
            // Each --quant format's decode (its one kernel path), in the same runs.
            std::vector<Shares> by_format(turns.size());
            std::vector<std::unique_ptr<KvCache>> format_caches;
            std::vector<uint64_t> format_bytes;
            for (size_t t = 1; t < turns.size(); ++t) {
                format_caches.push_back(turns[t].second->new_cache(tg + 1));
                // The share of its weights the stored model's token reads (1 when dense).
                format_bytes.push_back(
                    uint64_t(double(turns[t].second->weight_bytes()) * double(decode_bytes) /
                             double(model->weight_bytes())));
            }
            std::vector<Shares> by_choice(choices.size());
            for (int r = 0; r < runs; ++r) {
                for (size_t c = 0; c < choices.size(); ++c) {
                    kern::set_decode_rows(choices[c].rows);
                    kern::set_decode_prefetch(choices[c].prefetch);
                    alternate(*model, *cache, decode_bytes, by_choice[c]);
                }
                kern::set_decode_rows(0);
                kern::set_decode_prefetch(-1);
                for (size_t t = 1; t < turns.size(); ++t)
                    alternate(*turns[t].second, *format_caches[t - 1], format_bytes[t - 1],
                              by_format[t]);
            }
            kern::set_decode_rows(0);
            kern::set_decode_prefetch(-1);
            size_t chosen = 0;
            for (size_t c = 0; c < choices.size(); ++c)
                if (choices[c] == chosen_choice) chosen = c;
            if (sixteen_bit) {
                std::printf(
                    "%s decode, rows per pass of the matrix-vector kernels (kernels %s; the same "
                    "bits for each), alternated with the read as below, in turn within each "
                    "run:\n",
                    precision.c_str(), kern::kernel_isa());
                for (size_t c = 0; c < choices.size(); ++c) {
                    const Stat sh = summary(by_choice[c].shares);
                    const Stat cs = summary(by_choice[c].cpu_shares);
                    const std::string rows =
                        choices[c].rows
                            ? std::to_string(choices[c].rows) + " row" +
                                  (choices[c].rows > 1 ? "s" : " ") + " per pass"
                            : "default (" + std::to_string(default_dot_rows) + " [out, in], " +
                                  std::to_string(default_axpy_rows) + " [in, out])";
                    const std::string label = rows + ",";
                    std::printf(
                        "  %-35s prefetch %5d B: decode at %.0f%% (%.0f-%.0f) of the read; in "
                        "thread CPU time %.0f%% (%.0f-%.0f)%s\n",
                        label.c_str(), choices[c].prefetch, sh.median, sh.lo, sh.hi, cs.median,
                        cs.lo, cs.hi, c == chosen ? "   <- chosen" : "");
                }
                std::printf(
                    "  chosen: %d row(s) per pass for [out, in], %d for [in, out] (%s; "
                    "HFK_DECODE_ROWS=1|2|4 overrides both), prefetch %d B (%s; "
                    "HFK_DECODE_PREFETCH=BYTES overrides)\n",
                    default_dot_rows, default_axpy_rows, chosen_source.c_str(),
                    chosen_choice.prefetch, prefetch_source.c_str());
            }
            // One line per precision: its decode's share of the read, beside llama.cpp's tg128
            // over its roofline on the BENCH.md machine (the same measure on that machine).
            auto print_share = [&](const std::string &prec, const Shares &s, const Model &m) {
                const RefRow *ref = reference_row(ref_machine, preset, prec, 1);
                const Stat sh = summary(s.shares), cs = summary(s.cpu_shares);
                std::printf(
                    "1-thread %s decode alternated token by token with that read: read %.1f GB/s, "
                    "decode %.1f GB/s, decode at %.0f%% (%.0f-%.0f) of the "
                    "read's bandwidth (in thread CPU time, which leaves out the moments the "
                    "machine's other tenants held the core: %.0f%% (%.0f-%.0f))",
                    prec.c_str(), summary(s.read_gbs).median, summary(s.decode_gbs).median,
                    sh.median, sh.lo, sh.hi, cs.median, cs.lo, cs.hi);
                if (ref)
                    std::printf(
                        " (ref: llama.cpp %s tg128 over its roofline on the BENCH.md machine: "
                        "%.0f%%)",
                        ref->precision,
                        100 * ref->tg128 / roofline_of(*ref_machine, *ref, m.weight_bytes()));
                std::printf("\n");
                if (sh.median > 100)
                    std::printf(
                        "WARNING: decode reads its weights faster than the plain-read baseline "
                        "(%.0f%% > 100%%): the baseline is not the best read this CPU can do (or "
                        "the weights stay in cache); the share above overstates the kernels.\n",
                        sh.median);
            };
            print_share(precision, by_choice[chosen], *model);
            for (size_t t = 1; t < turns.size(); ++t)
                print_share(turns[t].first, by_format[t], *turns[t].second);
        }
    } catch (const Error &e) {
        std::fprintf(stderr, "error %d: %s\n", e.status(), e.what());
        return 1;
    }
    return 0;
}
