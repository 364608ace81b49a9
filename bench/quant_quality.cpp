// quant_quality CHECKPOINT_DIR --quant q8|q4 [--text FILE] [--tokens N] [--threads N]
//                [--embeddings 0]
// How far quantized weights move a model's next-token distributions (issue 18): over N tokens of
// text (default: 4096 tokens sampled from the unquantized model itself, seed 1, temperature 1;
// or the start of FILE), in windows of the model's context (at most 512), it prints the mean and
// 99th-percentile KL divergence KL(P_unquantized || P_quantized), the top-1 agreement, and the
// perplexity of each model. q8/q4 quantize the embedding and lm_head too (the default, as
// hfk_load_params does); --embeddings 0 keeps them as stored. Quality only: no timing.
#include <algorithm>
#include <cmath>
#include <cstdio>
#include <fstream>
#include <random>
#include <sstream>
#include <string>
#include <vector>

#include "kernels/quant.h"
#include "model/model.h"
#include "tokenizer/tokenizer.h"
#include "util/error.h"

using namespace hfk;

namespace {

// log-softmax of n logits, in double.
void log_softmax(const float *z, size_t n, std::vector<double> &out) {
    out.resize(n);
    const double mx = *std::max_element(z, z + n);
    double sum = 0;
    for (size_t i = 0; i < n; ++i) sum += std::exp(double(z[i]) - mx);
    const double lse = mx + std::log(sum);
    for (size_t i = 0; i < n; ++i) out[i] = double(z[i]) - lse;
}

std::vector<int32_t> sample_text(const Model &m, size_t n, int32_t bos) {
    std::mt19937_64 rng(1);
    std::vector<int32_t> toks;
    const size_t v = size_t(m.vocab_size());
    const size_t ctx = size_t(m.context_length());
    std::vector<float> lg(v);
    std::vector<double> lp;
    while (toks.size() < n) {  // one context window at a time, each from BOS
        auto cache = m.new_cache(0);
        int32_t t = bos;
        for (size_t i = 0; i < ctx && toks.size() < n; ++i) {
            toks.push_back(t);
            m.forward(*cache, std::span<const int32_t>(&t, 1), lg.data(), false, 0);
            log_softmax(lg.data(), v, lp);
            double u = std::uniform_real_distribution<double>(0, 1)(rng), acc = 0;
            size_t pick = v - 1;
            for (size_t j = 0; j < v; ++j)
                if ((acc += std::exp(lp[j])) >= u) {
                    pick = j;
                    break;
                }
            t = int32_t(pick);
        }
    }
    return toks;
}

}  // namespace

int main(int argc, char **argv) {
    if (argc < 2) {
        std::fprintf(stderr,
                     "usage: %s CHECKPOINT_DIR --quant q8|q4 [--text FILE] [--tokens 4096] "
                     "[--threads N] [--embeddings 0]\n",
                     argv[0]);
        return 2;
    }
    const std::string dir = argv[1];
    std::string quant = "q8", text_file;
    size_t n_tokens = 4096;
    int threads = 0;
    bool embeddings = true;
    for (int i = 2; i + 1 < argc; i += 2) {
        const std::string a = argv[i], v = argv[i + 1];
        if (a == "--quant")
            quant = v;
        else if (a == "--text")
            text_file = v;
        else if (a == "--tokens")
            n_tokens = size_t(std::max(2, std::stoi(v)));
        else if (a == "--threads")
            threads = std::stoi(v);
        else if (a == "--embeddings")
            embeddings = std::stoi(v) != 0;
        else {
            std::fprintf(stderr, "unknown option %s\n", a.c_str());
            return 2;
        }
    }
    try {
        const auto fmt = weight_format_from_name(quant);
        if (!fmt) fail(HFK_E_INVALID_ARG, "--quant takes q8, q4, bf16, f32 or auto");
        LoadOptions base_opts;
        base_opts.n_threads = threads;
        LoadOptions q_opts = base_opts;
        q_opts.format = *fmt;
        q_opts.quantize_embeddings = embeddings;
        const auto base = Model::load(dir, base_opts);
        const auto qm = Model::load(dir, q_opts);
        const auto tok = Tokenizer::load(dir);
        const int32_t bos = tok->bos_id() >= 0 ? tok->bos_id() : 0;
        std::vector<int32_t> toks;
        if (text_file.empty()) {
            toks = sample_text(*base, n_tokens, bos);
        } else {
            std::ifstream in(text_file, std::ios::binary);
            if (!in) fail(HFK_E_NOT_FOUND, "cannot read " + text_file);
            std::string text(n_tokens * 16, '\0');  // enough bytes for n_tokens
            in.read(text.data(), std::streamsize(text.size()));
            text.resize(size_t(in.gcount()));
            toks = tok->encode(text, false);
            if (toks.size() > n_tokens) toks.resize(n_tokens);
        }
        const size_t v = size_t(base->vocab_size());
        const size_t window = std::min<size_t>(size_t(base->context_length()), 512);
        std::vector<double> kld;
        size_t agree = 0, predicted = 0;
        double nll_base = 0, nll_q = 0;
        std::vector<float> lb, lq;
        std::vector<double> pb, pq;
        for (size_t w0 = 0; w0 < toks.size(); w0 += window) {
            const size_t n = std::min(window, toks.size() - w0);
            lb.resize(n * v);
            lq.resize(n * v);
            const std::span<const int32_t> span(toks.data() + w0, n);
            base->forward(*base->new_cache(0), span, lb.data(), true, 0);
            qm->forward(*qm->new_cache(0), span, lq.data(), true, 0);
            for (size_t i = 0; i < n; ++i) {
                log_softmax(lb.data() + i * v, v, pb);
                log_softmax(lq.data() + i * v, v, pq);
                double k = 0;
                for (size_t j = 0; j < v; ++j) k += std::exp(pb[j]) * (pb[j] - pq[j]);
                kld.push_back(std::max(0.0, k));
                agree += std::max_element(pb.begin(), pb.end()) - pb.begin() ==
                         std::max_element(pq.begin(), pq.end()) - pq.begin();
                if (i + 1 < n) {
                    const size_t next = size_t(toks[w0 + i + 1]);
                    nll_base -= pb[next];
                    nll_q -= pq[next];
                    ++predicted;
                }
            }
        }
        std::vector<double> sorted = kld;
        std::sort(sorted.begin(), sorted.end());
        double mean = 0;
        for (double k : kld) mean += k;
        mean /= double(kld.size());
        const double p99 =
            sorted[std::min(sorted.size() - 1, size_t(0.99 * double(sorted.size())))];
        std::printf(
            "checkpoint %s, %s%s vs as stored, %zu positions (%s), windows of %zu\n", dir.c_str(),
            quant.c_str(),
            embeddings ? " (embedding and lm_head too)" : " (embedding and lm_head as stored)",
            kld.size(),
            text_file.empty() ? "text sampled from the unquantized model" : text_file.c_str(),
            window);
        std::printf("weights: %.3f MiB as stored, %.3f MiB %s\n",
                    double(base->weight_bytes()) / (1 << 20),
                    double(qm->weight_bytes()) / (1 << 20), quant.c_str());
        std::printf("mean KLD %.6f  p99 KLD %.6f  top-1 agreement %.2f%%\n", mean, p99,
                    100.0 * double(agree) / double(kld.size()));
        std::printf("perplexity: as stored %.4f, %s %.4f\n",
                    std::exp(nll_base / double(std::max<size_t>(1, predicted))), quant.c_str(),
                    std::exp(nll_q / double(std::max<size_t>(1, predicted))));
    } catch (const Error &e) {
        std::fprintf(stderr, "quant_quality: %s\n", e.what());
        return 1;
    }
    return 0;
}
