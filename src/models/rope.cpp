// The frequencies of each rope_scaling type, as transformers' modeling_rope_utils.py computes
// them (_compute_*_parameters), in double (then the angles, cos and sin), which stays within
// float32 rounding of the reference's float32 tensors.
#include "models/rope.h"

#include <algorithm>
#include <cmath>
#include <string>

#include "util/error.h"

namespace hfk::models {

namespace {

// 1 / theta^(2i / rot_dim), i < rot_dim / 2 (_compute_default_rope_parameters).
std::vector<double> default_frequencies(double theta, int64_t rot_dim) {
    std::vector<double> inv(size_t(rot_dim / 2));
    for (size_t i = 0; i < inv.size(); ++i)
        inv[i] = 1.0 / std::pow(theta, double(2 * i) / double(rot_dim));
    return inv;
}

// Llama 3.1: long wavelengths slowed by `factor`, short ones kept, a smooth ramp between.
void llama3(const RopeScaling &s, std::vector<double> &inv) {
    const double old_ctx = double(s.original_max_position_embeddings);
    const double low_wavelen = old_ctx / s.low_freq_factor;
    const double high_wavelen = old_ctx / s.high_freq_factor;
    for (double &f : inv) {
        const double wavelen = 2 * M_PI / f;
        const double scaled = wavelen > low_wavelen ? f / s.factor : f;
        if (wavelen >= high_wavelen && wavelen <= low_wavelen) {
            const double smooth =
                (old_ctx / wavelen - s.low_freq_factor) / (s.high_freq_factor - s.low_freq_factor);
            f = (1 - smooth) * scaled / s.factor + smooth * scaled;
        } else {
            f = scaled;
        }
    }
}

// YaRN (_compute_yarn_parameters): frequencies that turn fewer than beta_slow times over the
// original context are interpolated (divided by factor), those turning more than beta_fast
// times are kept, a linear ramp between; cos/sin scaled by 0.1 ln(factor) + 1 (or the mscale
// ratio, or the configured attention_factor).
void yarn(const RopeScaling &s, double theta, int64_t rot_dim, int64_t max_position, Rope &r) {
    const int64_t original =
        s.original_max_position_embeddings > 0 ? s.original_max_position_embeddings : max_position;
    if (original <= 0)
        fail(HFK_E_FORMAT, "config.json: rope_scaling \"yarn\" needs max_position_embeddings");
    const double factor = s.factor_given || s.original_max_position_embeddings <= 0
                              ? s.factor
                              : double(max_position) / double(original);
    auto mscale = [&](double scale, double m) {
        return scale <= 1 ? 1.0 : 0.1 * m * std::log(scale) + 1.0;
    };
    r.attention_factor = s.attention_factor > 0 ? s.attention_factor
                         : s.mscale > 0 && s.mscale_all_dim > 0
                             ? mscale(factor, s.mscale) / mscale(factor, s.mscale_all_dim)
                             : mscale(factor, 1);
    const double dim = double(rot_dim);
    auto correction_dim = [&](double rotations) {
        return dim * std::log(double(original) / (rotations * 2 * M_PI)) / (2 * std::log(theta));
    };
    double low = correction_dim(s.beta_fast), high = correction_dim(s.beta_slow);
    if (s.truncate) {
        low = std::floor(low);
        high = std::ceil(high);
    }
    low = std::max(low, 0.0);
    high = std::min(high, dim - 1);
    if (low == high) high += 0.001;  // the reference's guard against a zero-width ramp
    for (size_t i = 0; i < r.inv_freq.size(); ++i) {
        const double ramp = std::clamp((double(i) - low) / (high - low), 0.0, 1.0);
        const double extrapolation = 1 - ramp;  // weight of the unscaled frequency
        const double f = r.inv_freq[i];
        r.inv_freq[i] = f / factor * (1 - extrapolation) + f * extrapolation;
    }
}

// LongRoPE (_compute_longrope_parameters): frequencies divided by short_factor (or long_factor
// beyond the original context); cos/sin scaled by sqrt(1 + ln(factor) / ln(original)) with
// factor = max_position / original.
void longrope(const RopeScaling &s, int64_t max_position, Rope &r) {
    std::vector<double> &inv = r.inv_freq;
    const size_t n = inv.size();
    if (s.short_factor.size() != n || s.long_factor.size() != n)
        fail(HFK_E_FORMAT,
             "config.json: field \"rope_scaling\" needs short_factor and long_factor of " +
                 std::to_string(n) + " numbers each");
    const int64_t original =
        s.original_max_position_embeddings > 0 ? s.original_max_position_embeddings : max_position;
    const double factor = s.original_max_position_embeddings > 0 && original > 0
                              ? double(max_position) / double(original)
                              : s.factor;
    r.attention_factor = s.attention_factor > 0 ? s.attention_factor
                         : factor <= 1 || original <= 1
                             ? 1.0
                             : std::sqrt(1 + std::log(factor) / std::log(double(original)));
    r.long_inv_freq = inv;
    for (size_t i = 0; i < n; ++i) {
        inv[i] /= s.short_factor[i];
        r.long_inv_freq[i] /= s.long_factor[i];
    }
    r.long_after = original;
}

}  // namespace

std::vector<double> Rope::frequencies(int64_t seq_len) const {
    if (!long_inv_freq.empty() && seq_len > long_after) return long_inv_freq;
    if (dynamic_after > 0 && seq_len > dynamic_after) {
        // _compute_dynamic_ntk_parameters with seq_len = max(position_ids) + 1.
        const double d = double(rot_dim);
        const double base =
            theta * std::pow(dynamic_factor * double(seq_len) / double(dynamic_after) -
                                 (dynamic_factor - 1),
                             d / (d - 2));
        return default_frequencies(base, rot_dim);
    }
    return inv_freq;
}

void Rope::tables(int64_t p0, int64_t m, std::vector<float> &cos_t,
                  std::vector<float> &sin_t) const {
    const int64_t half = rot_dim / 2;
    cos_t.resize(size_t(m * half));
    sin_t.resize(size_t(m * half));
    const std::vector<double> inv = frequencies(p0 + m);
    for (int64_t i = 0; i < m; ++i)
        for (int64_t j = 0; j < half; ++j) {
            const double angle = double(p0 + i) * inv[size_t(j)];
            cos_t[size_t(i * half + j)] = float(std::cos(angle) * attention_factor);
            sin_t[size_t(i * half + j)] = float(std::sin(angle) * attention_factor);
        }
}

void Rope::apply(float *v, int64_t n_heads, int64_t head_dim, const float *cs,
                 const float *sn) const {
    const int64_t half = rot_dim / 2;
    for (int64_t h = 0; h < n_heads; ++h) {
        float *a = v + h * head_dim, *b = a + half;
        for (int64_t j = 0; j < half; ++j) {
            const float x1 = a[j], x2 = b[j];
            a[j] = x1 * cs[j] - x2 * sn[j];
            b[j] = x2 * cs[j] + x1 * sn[j];
        }
    }
}

Rope make_rope(const RopeScaling &s, double theta, int64_t rot_dim, int64_t max_position) {
    Rope r;
    r.rot_dim = rot_dim;
    r.theta = theta;
    r.inv_freq = default_frequencies(theta, rot_dim);
    if (s.type.empty()) return r;
    if (s.type == "linear") {
        for (double &f : r.inv_freq) f /= s.factor;
    } else if (s.type == "llama3") {
        llama3(s, r.inv_freq);
    } else if (s.type == "longrope") {
        longrope(s, max_position, r);
    } else if (s.type == "yarn") {
        yarn(s, theta, rot_dim, max_position, r);
    } else if (s.type == "dynamic") {
        if (max_position <= 0 || rot_dim <= 2)
            fail(HFK_E_FORMAT,
                 "config.json: rope_scaling \"dynamic\" needs max_position_embeddings and a "
                 "rotary dimension above 2");
        r.dynamic_factor = s.factor;
        r.dynamic_after = max_position;
    } else {
        fail(HFK_E_UNSUPPORTED,
             "unsupported model: config.json field \"rope_scaling\" has the "
             "type '" +
                 s.type + "'; hfkit supports linear, dynamic, yarn, longrope and llama3");
    }
    return r;
}

int64_t rope_context_length(const RopeScaling &s, int64_t max_position) {
    if (s.type == "dynamic" && s.factor > 1) {
        const double ctx = double(max_position) * s.factor;
        return ctx >= double(INT32_MAX) ? int64_t(INT32_MAX) : int64_t(ctx);
    }
    return max_position;
}

}  // namespace hfk::models
