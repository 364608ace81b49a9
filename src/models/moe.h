// The sparse mixture-of-experts feed-forward block (Mixtral, Qwen3-MoE): a router (hidden ->
// n_experts logits), softmax over all experts, the top-k kept (renormalized to sum 1 when the
// architecture says so), and each token's output the weighted sum of its k experts' gated MLPs,
// down(act(gate x) * up x).
//
// Only the selected experts are read: a decode step touches the router and k experts per layer,
// never the others (bytes per token follow the active parameters, not the total). A prefill
// groups its tokens by expert: the rows routed to one expert are gathered, run through that
// expert as one matrix-matrix product, and scatter-added back with their weights. Experts are
// visited in ascending index and each token sums its experts in that order (as the reference's
// index_add_ does), so the result does not depend on the thread count.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "kernels/matmul.h"
#include "models/common.h"

namespace hfk::models {

enum class Act;

// How an architecture names and routes its experts (model.layers.N. + these).
struct MoeSpec {
    std::string router;          // "block_sparse_moe.gate" (Mixtral) / "mlp.gate" (Qwen3-MoE)
    std::string experts;         // "block_sparse_moe.experts." / "mlp.experts." (+ index + ".")
    std::string gate, up, down;  // "w1", "w3", "w2" / "gate_proj", "up_proj", "down_proj"
    int64_t n_experts = 0, top_k = 0, ffn = 0;  // ffn: one expert's intermediate size
    bool renormalize = false;                   // top-k weights divided by their sum
    std::vector<bool> layer_sparse;             // per layer: experts (else the dense MLP)
    bool sparse(int64_t layer) const {
        return size_t(layer) < layer_sparse.size() && layer_sparse[size_t(layer)];
    }
};

struct MoeBlock {
    kern::Mat router;  // [n_experts, dim]
    struct Expert {
        kern::Mat gate, up, down;
    };
    std::vector<Expert> experts;
    int64_t top_k = 0, ffn = 0;
    bool renormalize = false;
    uint64_t router_bytes = 0, expert_bytes = 0;  // one expert's three matrices
};

// Binds layer `prefix`'s router and experts by the spec's names.
MoeBlock load_moe(WeightLoader &w, const std::string &prefix, const MoeSpec &spec, int64_t dim);

// Per-token routing: the top_k expert indices (descending weight) and their weights, from the
// router logits of one token, as softmax -> topk -> optional renormalization computes them.
void route(const float *logits, int64_t n_experts, int64_t top_k, bool renormalize,
           int32_t *experts, float *weights);

// out[i] = sum over token i's experts of weight * expert(x[i]) for m rows of dim; scratch is
// resized as needed. Returns the bytes of weights read (router + each distinct expert used).
uint64_t moe_forward(const MoeBlock &b, const float *x, int64_t m, int64_t dim, Act act, float *out,
                     std::vector<float> &scratch, int n_threads);

}  // namespace hfk::models
