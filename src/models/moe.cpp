// The sparse MoE block (moe.h), written from transformers' MixtralSparseMoeBlock and
// Qwen3MoeSparseMoeBlock: softmax of the router logits in F32, torch.topk, the optional division
// by the top-k sum, then per expert hit (ascending index) its tokens' rows through the expert and
// index_add_ of output * weight.
#include "models/moe.h"

#include <algorithm>
#include <cmath>
#include <cstring>

#include "models/decoder.h"
#include "util/error.h"

namespace hfk::models {

MoeBlock load_moe(WeightLoader &w, const std::string &prefix, const MoeSpec &spec, int64_t dim) {
    if (spec.n_experts < 1 || spec.top_k < 1 || spec.top_k > spec.n_experts || spec.ffn < 1)
        fail(HFK_E_FORMAT, "config.json: unusable mixture-of-experts shape (" +
                               std::to_string(spec.n_experts) + " experts, top " +
                               std::to_string(spec.top_k) + ", expert size " +
                               std::to_string(spec.ffn) + ")");
    MoeBlock b;
    b.top_k = spec.top_k;
    b.ffn = spec.ffn;
    b.renormalize = spec.renormalize;
    const uint64_t before = w.bound_bytes();
    b.router = w.matrix(prefix + spec.router + ".weight", spec.n_experts, dim);
    b.router_bytes = w.bound_bytes() - before;
    for (int64_t e = 0; e < spec.n_experts; ++e) {
        const std::string p = prefix + spec.experts + std::to_string(e) + ".";
        const uint64_t start = w.bound_bytes();
        MoeBlock::Expert x;
        x.gate = w.matrix(p + spec.gate + ".weight", spec.ffn, dim);
        x.up = w.matrix(p + spec.up + ".weight", spec.ffn, dim);
        x.down = w.matrix(p + spec.down + ".weight", dim, spec.ffn);
        b.expert_bytes = w.bound_bytes() - start;  // the same for every expert
        b.experts.push_back(x);
    }
    return b;
}

void route(const float *logits, int64_t n, int64_t k, bool renormalize, int32_t *experts,
           float *weights) {
    // F.softmax(router_logits, dim=1, dtype=torch.float)
    float mx = logits[0];
    for (int64_t e = 1; e < n; ++e) mx = std::max(mx, logits[e]);
    float sum = 0;
    std::vector<float> p(static_cast<size_t>(n));
    for (int64_t e = 0; e < n; ++e) sum += (p[size_t(e)] = std::exp(logits[e] - mx));
    for (float &v : p) v /= sum;
    // torch.topk: the k largest, descending; ties to the lower index.
    std::vector<int32_t> order(static_cast<size_t>(n));
    for (int64_t e = 0; e < n; ++e) order[size_t(e)] = int32_t(e);
    std::partial_sort(order.begin(), order.begin() + k, order.end(), [&](int32_t a, int32_t b) {
        return p[size_t(a)] > p[size_t(b)] || (p[size_t(a)] == p[size_t(b)] && a < b);
    });
    float top = 0;
    for (int64_t j = 0; j < k; ++j) {
        experts[j] = order[size_t(j)];
        weights[j] = p[size_t(order[size_t(j)])];
        top += weights[j];
    }
    if (renormalize)
        for (int64_t j = 0; j < k; ++j) weights[j] /= top;
}

uint64_t moe_forward(const MoeBlock &b, const float *x, int64_t m, int64_t dim, Act act, float *out,
                     std::vector<float> &scratch, int nt) {
    const int64_t n_exp = int64_t(b.experts.size()), k = b.top_k, ffn = b.ffn;
    // scratch: router logits [m, n_exp], then one expert's gathered rows, gate, up and output.
    scratch.resize(size_t(m * n_exp + m * dim + 2 * m * ffn + m * dim));
    float *logits = scratch.data(), *xe = logits + m * n_exp, *g = xe + m * dim, *u = g + m * ffn,
          *ye = u + m * ffn;
    kern::linear(b.router, kern::Layout::OutIn, x, m, nullptr, logits, nt);
    std::vector<int32_t> sel(size_t(m * k));
    std::vector<float> wts(size_t(m * k));
    for_rows(m, nt, [&](int64_t i) {
        route(logits + i * n_exp, n_exp, k, b.renormalize, &sel[size_t(i * k)],
              &wts[size_t(i * k)]);
    });
    // Tokens by expert (each list in token order): who goes where, with which weight.
    std::vector<std::vector<int64_t>> rows(static_cast<size_t>(n_exp));
    std::vector<std::vector<float>> weight(static_cast<size_t>(n_exp));
    for (int64_t i = 0; i < m; ++i)
        for (int64_t j = 0; j < k; ++j) {
            rows[size_t(sel[size_t(i * k + j)])].push_back(i);
            weight[size_t(sel[size_t(i * k + j)])].push_back(wts[size_t(i * k + j)]);
        }
    std::memset(out, 0, sizeof(float) * size_t(m * dim));
    uint64_t read = b.router_bytes;
    for (int64_t e = 0; e < n_exp; ++e) {
        const std::vector<int64_t> &r = rows[size_t(e)];
        const int64_t cnt = int64_t(r.size());
        if (cnt == 0) continue;  // never touched: its pages are not read
        const MoeBlock::Expert &E = b.experts[size_t(e)];
        for (int64_t j = 0; j < cnt; ++j)
            std::memcpy(xe + j * dim, x + r[size_t(j)] * dim, sizeof(float) * size_t(dim));
        kern::linear(E.gate, kern::Layout::OutIn, xe, cnt, nullptr, g, nt);
        kern::linear(E.up, kern::Layout::OutIn, xe, cnt, nullptr, u, nt);
        for_rows(cnt, nt, [&](int64_t j) { gated_act(g + j * ffn, u + j * ffn, ffn, act); });
        kern::linear(E.down, kern::Layout::OutIn, g, cnt, nullptr, ye, nt);
        for (int64_t j = 0; j < cnt; ++j) {  // index_add_(0, top_x, y * routing_weight)
            float *o = out + r[size_t(j)] * dim;
            const float *y = ye + j * dim, wj = weight[size_t(e)][size_t(j)];
            for (int64_t d = 0; d < dim; ++d) o[d] += y[d] * wj;
        }
        read += b.expert_bytes;
    }
    return read;
}

}  // namespace hfk::models
