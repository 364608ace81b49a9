// Rotary position embedding: the per-pair frequencies of every rope_scaling type Hugging Face
// defines (modeling_rope_utils.py: default, linear, dynamic, yarn, longrope, llama3), computed
// here once for every rotary architecture, and the rotation itself (rotate_half layout).
#pragma once

#include <cstdint>
#include <vector>

#include "model/config.h"

namespace hfk::models {

// RoPE over the first `rot_dim` dimensions of each head (partial rotary when rot_dim < head_dim).
struct Rope {
    std::vector<double> inv_freq;  // rot_dim / 2 frequencies
    double attention_factor = 1;   // multiplies cos and sin (longrope, yarn)
    int64_t rot_dim = 0;
    // Types whose frequencies follow the length of the current forward() call (transformers
    // recomputes them from max(position_ids) + 1; the keys already cached keep theirs):
    //   longrope: a call ending beyond long_after positions uses long_inv_freq.
    std::vector<double> long_inv_freq;
    int64_t long_after = 0;
    //   dynamic (NTK): a call ending at seq_len > dynamic_after positions uses the base
    //   theta * (factor * seq_len / dynamic_after - (factor - 1)) ^ (d / (d - 2)).
    double theta = 0, dynamic_factor = 0;
    int64_t dynamic_after = 0;

    // The frequencies of a call whose last position is seq_len - 1.
    std::vector<double> frequencies(int64_t seq_len) const;
    // cos/sin of positions p0 .. p0+m-1, [m][rot_dim/2].
    void tables(int64_t p0, int64_t m, std::vector<float> &cos_t, std::vector<float> &sin_t) const;
    // Rotates n_heads heads of head_dim values in place with one row of the tables.
    void apply(float *v, int64_t n_heads, int64_t head_dim, const float *cos_row,
               const float *sin_row) const;
};

// The RoPE of base `theta` over rot_dim dims with the config's scaling. max_position is the
// configured context (max_position_embeddings), which longrope, yarn and dynamic compare with.
// An unknown type is HFK_E_UNSUPPORTED naming it.
Rope make_rope(const RopeScaling &scaling, double theta, int64_t rot_dim, int64_t max_position = 0);

// The context a model with this scaling runs: max_position_embeddings, or for dynamic NTK
// (which exists to go beyond it) max_position_embeddings * factor.
int64_t rope_context_length(const RopeScaling &scaling, int64_t max_position);

}  // namespace hfk::models
