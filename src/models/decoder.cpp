// The shared rotary decoder (decoder.h): load by the spec's names, then per layer
//   h = norm(x); q,k,v = proj(h) [+ q/k norm] [+ RoPE]; a = attention over the cache
//   x += post_attn_norm(o(a));  h = ffn_norm(x); x += post_ffn_norm(down(act(gate h) * up h))
// Weights are nn.Linear, stored [out, in].
#include "models/decoder.h"

#include <algorithm>
#include <cmath>
#include <string>

#include "kernels/attention.h"
#include "kernels/matmul.h"
#include "kernels/ops.h"
#include "kernels/quant.h"
#include "kernels/thread_pool.h"
#include "util/error.h"

namespace hfk::models {

Act activation_from_config(const std::string &a) {
    if (a == "gelu") return Act::GeluErf;
    if (a == "gelu_pytorch_tanh" || a == "gelu_new") return Act::GeluTanh;
    if (a == "relu") return Act::Relu;
    if (a.empty() || a == "silu" || a == "swish") return Act::Silu;
    fail(HFK_E_UNSUPPORTED, "config.json: field \"hidden_act\" is '" + a + "', not supported");
}

void gated_act(float *gate, const float *up, int64_t n, Act act) {
    switch (act) {
        case Act::Silu:
            kern::silu_mul(gate, up, n);
            return;
        case Act::GeluTanh:
            kern::gelu_tanh(gate, n);
            break;
        case Act::GeluErf:
            kern::gelu_erf(gate, n);
            break;
        case Act::Relu:
            kern::relu(gate, n);
            break;
    }
    for (int64_t i = 0; i < n; ++i) gate[i] *= up[i];
}

DecoderSpec llama_like_spec(const ModelConfig &cfg) {
    DecoderSpec s;
    s.act = activation_from_config(cfg.hidden_act);
    const int64_t head_dim =
        cfg.head_dim > 0 ? cfg.head_dim : cfg.hidden_size / std::max<int64_t>(1, cfg.num_heads);
    int64_t rot_dim = int64_t(double(head_dim) * cfg.partial_rotary_factor);  // int(), as HF
    rot_dim -= rot_dim % 2;
    s.ropes.push_back(
        make_rope(cfg.rope_scaling, cfg.rope_theta, rot_dim, cfg.max_position_embeddings));
    const size_t n = size_t(cfg.num_layers);
    s.layer_rope.assign(n, 0);
    s.layer_window.assign(n, 0);
    for (size_t l = 0; l < n; ++l) {
        if (l < cfg.layer_rope.size() && !cfg.layer_rope[l]) s.layer_rope[l] = -1;
        if (l < cfg.layer_window.size()) s.layer_window[l] = cfg.layer_window[l];
    }
    return s;
}

namespace {

using kern::Layout;
using kern::Mat;

struct Layer {
    std::vector<float> attn_norm, post_attn_norm, ffn_norm, post_ffn_norm, q_norm, k_norm;
    Mat wq, wk, wv, wo, w_gate, w_up, w_down;
    std::vector<float> bq, bk, bv, bo, b_gate, b_up, b_down;  // empty when absent
    const Rope *rope = nullptr;                               // nullptr: NoPE layer
    int64_t window = 0;
    bool sparse = false;  // routed experts (moe) instead of w_gate / w_up / w_down
    MoeBlock moe;
};

const float *bias(const std::vector<float> &b) {
    return b.empty() ? nullptr : b.data();
}

// Rows [first, first + n) of a [rows, cols] matrix, in place.
Mat rows(const Mat &m, int64_t first, int64_t n) {
    return kern::row_slice(m, first, n);
}

class Decoder final : public Model {
  public:
    Decoder(ModelConfig cfg, DecoderSpec spec, std::shared_ptr<const WeightStore> store,
            const LoadOptions &opts, const std::function<bool(double)> &progress)
        : cfg_(std::move(cfg)), spec_(std::move(spec)), store_(store) {
        default_threads_ = opts.n_threads > 0 ? opts.n_threads : kern::hardware_threads();
        dim_ = cfg_.hidden_size;
        n_heads_ = cfg_.num_heads;
        n_kv_heads_ = cfg_.num_kv_heads > 0 ? cfg_.num_kv_heads : n_heads_;
        head_dim_ = cfg_.head_dim > 0 ? cfg_.head_dim : dim_ / n_heads_;
        ffn_ = cfg_.intermediate_size;
        vocab_ = cfg_.vocab_size;
        if (n_heads_ % n_kv_heads_ != 0 || head_dim_ % 2 != 0 || ffn_ <= 0)
            fail(HFK_E_FORMAT, "config.json: unusable attention shape (heads " +
                                   std::to_string(n_heads_) + ", kv heads " +
                                   std::to_string(n_kv_heads_) + ", head_dim " +
                                   std::to_string(head_dim_) + ")");
        if (cfg_.max_position_embeddings <= 0)
            fail(HFK_E_FORMAT, "config.json: field \"max_position_embeddings\" is missing");
        q_dim_ = n_heads_ * head_dim_;
        kv_dim_ = n_kv_heads_ * head_dim_;
        eps_ = float(cfg_.norm_eps);
        scale_ =
            spec_.attn_scale > 0 ? spec_.attn_scale : float(1.0 / std::sqrt(double(head_dim_)));

        WeightLoader w(store, spec_.weight_prefixes, opts);
        w.ignore_matching("rotary_emb.inv_freq");
        for (const std::string &s : spec_.ignored_weights) w.ignore_matching(s);
        auto norm = [&](const std::string &name, int64_t n) {
            std::vector<float> v = w.vector(name, n);
            if (spec_.norm_plus_one)
                for (float &x : v) x += 1.0f;  // (1 + w) in F32, as the reference computes it
            return v;
        };
        embed_ =
            w.matrix("model.embed_tokens.weight", vocab_, dim_, Layout::OutIn, MatUse::Embedding);
        for (int64_t l = 0; l < cfg_.num_layers; ++l) {
            const std::string p = "model.layers." + std::to_string(l) + ".";
            Layer L;
            L.attn_norm = norm(p + spec_.attn_norm + ".weight", dim_);
            if (!spec_.post_attn_norm.empty())
                L.post_attn_norm = norm(p + spec_.post_attn_norm + ".weight", dim_);
            L.ffn_norm = norm(p + spec_.ffn_norm + ".weight", dim_);
            if (!spec_.post_ffn_norm.empty())
                L.post_ffn_norm = norm(p + spec_.post_ffn_norm + ".weight", dim_);
            if (spec_.fused_qkv) {  // row blocks of one matrix, no copy
                const bool whole_groups =
                    q_dim_ % kern::kQRowGroup == 0 && kv_dim_ % kern::kQRowGroup == 0;
                const Mat qkv =
                    w.matrix(p + "self_attn.qkv_proj.weight", q_dim_ + 2 * kv_dim_, dim_,
                             Layout::OutIn, whole_groups ? MatUse::Linear : MatUse::LinearSliced);
                L.wq = rows(qkv, 0, q_dim_);
                L.wk = rows(qkv, q_dim_, kv_dim_);
                L.wv = rows(qkv, q_dim_ + kv_dim_, kv_dim_);
            } else {
                L.wq = w.matrix(p + "self_attn.q_proj.weight", q_dim_, dim_);
                L.wk = w.matrix(p + "self_attn.k_proj.weight", kv_dim_, dim_);
                L.wv = w.matrix(p + "self_attn.v_proj.weight", kv_dim_, dim_);
            }
            L.wo = w.matrix(p + "self_attn.o_proj.weight", dim_, q_dim_);
            L.bq = w.optional_vector(p + "self_attn.q_proj.bias", q_dim_);
            L.bk = w.optional_vector(p + "self_attn.k_proj.bias", kv_dim_);
            L.bv = w.optional_vector(p + "self_attn.v_proj.bias", kv_dim_);
            L.bo = w.optional_vector(p + "self_attn.o_proj.bias", dim_);
            if (spec_.qk_norm) {
                L.q_norm = norm(p + "self_attn.q_norm.weight", head_dim_);
                L.k_norm = norm(p + "self_attn.k_norm.weight", head_dim_);
            }
            const uint64_t before_mlp = w.bound_bytes();
            if (spec_.moe.sparse(l)) {
                L.sparse = true;
                L.moe = load_moe(w, p, spec_.moe, dim_);
                // What moe_forward counts when it reads it: the router, the experts used.
                sparse_bytes_ += w.bound_bytes() - before_mlp;
            } else if (spec_.fused_gate_up) {
                const Mat gate_up =
                    w.matrix(p + "mlp.gate_up_proj.weight", 2 * ffn_, dim_, Layout::OutIn,
                             ffn_ % kern::kQRowGroup == 0 ? MatUse::Linear : MatUse::LinearSliced);
                L.w_gate = rows(gate_up, 0, ffn_);
                L.w_up = rows(gate_up, ffn_, ffn_);
            } else {
                L.w_gate = w.matrix(p + "mlp.gate_proj.weight", ffn_, dim_);
                L.w_up = w.matrix(p + "mlp.up_proj.weight", ffn_, dim_);
            }
            if (!L.sparse) {
                L.w_down = w.matrix(p + "mlp.down_proj.weight", dim_, ffn_);
                L.b_gate = w.optional_vector(p + "mlp.gate_proj.bias", ffn_);
                L.b_up = w.optional_vector(p + "mlp.up_proj.bias", ffn_);
                L.b_down = w.optional_vector(p + "mlp.down_proj.bias", dim_);
            }
            const int r = size_t(l) < spec_.layer_rope.size() ? spec_.layer_rope[size_t(l)] : 0;
            L.rope = r >= 0 && size_t(r) < spec_.ropes.size() ? &spec_.ropes[size_t(r)] : nullptr;
            L.window = size_t(l) < spec_.layer_window.size() ? spec_.layer_window[size_t(l)] : 0;
            layers_.push_back(std::move(L));
            report_progress(progress, double(l + 1) / double(cfg_.num_layers + 1));
        }
        final_norm_ = norm("model.norm.weight", dim_);
        if (cfg_.tie_word_embeddings) {
            lm_head_ = embed_;
            if (w.has("lm_head.weight"))
                w.unused_matrix("lm_head.weight", vocab_, dim_);  // a saved copy
        } else {
            lm_head_ = w.matrix("lm_head.weight", vocab_, dim_, Layout::OutIn, MatUse::Embedding);
        }
        w.finish();
        weight_bytes_ = w.bound_bytes();
        copies_ = w.take_copies();
    }

    const ModelConfig &config() const override { return cfg_; }
    std::string architecture() const override {
        const std::string f = inference_family(cfg_);
        return f.empty() ? "llama" : f;
    }
    bool is_causal() const override { return true; }
    int32_t vocab_size() const override { return int32_t(vocab_); }
    int32_t context_length() const override {
        return int32_t(rope_context_length(cfg_.rope_scaling, cfg_.max_position_embeddings));
    }
    uint64_t weight_bytes() const override { return weight_bytes_; }

    std::unique_ptr<KvCache> make_cache(int32_t n_ctx, DType kv_type) const override {
        return new_causal_cache(*this, kv_type, cfg_.num_layers, kv_dim_, head_dim_, n_ctx);
    }

    void forward(KvCache &cache_base, std::span<const int32_t> tokens, float *logits,
                 bool all_positions, int32_t n_threads) const override {
        CausalCache &c = check_forward(*this, cache_base, tokens, vocab_);
        const int64_t m = int64_t(tokens.size()), p0 = c.n_past();
        if (m == 0) return;
        const int nt = threads(n_threads);
        const CausalCache::Activations a = c.activations(m, dim_, q_dim_, q_dim_, ffn_, true);
        float *x = a.x, *xb = a.xb, *q = a.q, *att = a.att, *tmp = a.tmp, *hb = a.hb, *hb2 = a.hb2;

        for (int64_t i = 0; i < m; ++i) kern::get_row(embed_, tokens[size_t(i)], x + i * dim_);
        if (spec_.embed_scale > 0)
            for (int64_t i = 0; i < m * dim_; ++i) x[i] *= spec_.embed_scale;

        // cos/sin of every (new position, frequency) pair of each RoPE, shared by its layers.
        std::vector<std::vector<float>> cos_t(spec_.ropes.size()), sin_t(spec_.ropes.size());
        for (size_t r = 0; r < spec_.ropes.size(); ++r)
            spec_.ropes[r].tables(p0, m, cos_t[r], sin_t[r]);
        auto rows_norm = [&](float *out, const float *in, const std::vector<float> &w) {
            for_rows(m, nt, [&](int64_t i) {
                kern::rmsnorm(out + i * dim_, in + i * dim_, w.data(), dim_, eps_);
            });
        };

        // Every weight but the experts is read once per call; moe_forward adds what it reads.
        uint64_t read = weight_bytes_ - sparse_bytes_;
        const kern::AttentionShape shape{n_heads_, n_kv_heads_, head_dim_};
        for (size_t l = 0; l < layers_.size(); ++l) {
            const Layer &L = layers_[l];
            // Attention block. New keys and values go to F32 scratch rows, then into the cache
            // by head (CausalCache::commit_rows).
            float *kn = c.new_keys(m), *vn = c.new_values(m);
            rows_norm(xb, x, L.attn_norm);
            // One dispatch for the three (a decode step; a quantized prefill: xb quantized once).
            const kern::RowsProduct qkv[3] = {
                {&L.wq, bias(L.bq), q}, {&L.wk, bias(L.bk), kn}, {&L.wv, bias(L.bv), vn}};
            kern::linear(qkv, 3, xb, m, nt);
            norm_and_rotate(L, m, q, kn, cos_t, sin_t, nt);
            c.commit_rows(int64_t(l), p0, m);
            const kern::AttentionOptions ao{L.window, spec_.attn_softcap};
            kern::attention(q, m, p0, c.rows(int64_t(l)), p0 + m, shape, true, scale_, ao, att, nt);
            kern::linear(L.wo, Layout::OutIn, att, m, bias(L.bo), tmp, nt);
            if (!L.post_attn_norm.empty()) rows_norm(tmp, tmp, L.post_attn_norm);
            kern::add(x, tmp, m * dim_);
            // Feed-forward block: down(act(gate(x)) * up(x)), or the routed experts' (moe.h).
            rows_norm(xb, x, L.ffn_norm);
            if (L.sparse) {
                read += moe_forward(L.moe, xb, m, dim_, spec_.act, tmp, c.moe, nt);
            } else {
                const kern::RowsProduct gate_up[2] = {{&L.w_gate, bias(L.b_gate), hb},
                                                      {&L.w_up, bias(L.b_up), hb2}};
                kern::linear(gate_up, 2, xb, m, nt);
                for_rows(m, nt, [&](int64_t i) {
                    gated_act(hb + i * ffn_, hb2 + i * ffn_, ffn_, spec_.act);
                });
                kern::linear(L.w_down, Layout::OutIn, hb, m, bias(L.b_down), tmp, nt);
            }
            if (!L.post_ffn_norm.empty()) rows_norm(tmp, tmp, L.post_ffn_norm);
            kern::add(x, tmp, m * dim_);
        }
        c.advance(int32_t(m));
        c.count_weight_bytes_read(read);

        // Logits of every position, or of the last one only.
        const int64_t first = all_positions ? 0 : m - 1, rows = m - first;
        for (int64_t i = 0; i < rows; ++i)
            kern::rmsnorm(xb + i * dim_, x + (first + i) * dim_, final_norm_.data(), dim_, eps_);
        kern::linear(lm_head_, Layout::OutIn, xb, rows, nullptr, logits, nt);
        if (spec_.final_softcap > 0) {
            const float cap = spec_.final_softcap, inv = 1.0f / cap;
            for (int64_t i = 0; i < rows * vocab_; ++i)
                logits[i] = cap * std::tanh(logits[i] * inv);
        }
    }

    bool supports_batch() const override { return true; }

    // The rows of every item run together; each kernel call is per row (linear_rows,
    // attention_rows, row-wise norms and RoPE), so no row's bits depend on its neighbours. RoPE
    // tables are made per row from the row's own position (as a one-token decode makes them), so
    // a prompt cut into chunks gives the same numbers as a prompt run whole.
    void forward_batch(std::span<const BatchItem> items, int32_t n_threads) const override {
        const size_t n_items = items.size();
        std::vector<BatchKvCache *> caches(n_items);
        std::vector<int64_t> first(n_items + 1, 0);  // the first row of each item
        for (size_t s = 0; s < n_items; ++s) {
            if (!items[s].cache) fail(HFK_E_INVALID_ARG, "forward_batch: an item has no cache");
            caches[s] = &check_batch_forward(*this, *items[s].cache, items[s].tokens, vocab_);
            for (size_t t = 0; t < s; ++t)
                if (caches[t] == caches[s])
                    fail(HFK_E_INVALID_ARG, "forward_batch: one cache in two items");
            first[s + 1] = first[s] + int64_t(items[s].tokens.size());
        }
        const int64_t m = first.back();
        if (m == 0) return;
        const int nt = threads(n_threads);
        std::vector<int64_t> pos(static_cast<size_t>(m));
        for (size_t s = 0; s < n_items; ++s)
            for (int64_t i = first[s]; i < first[s + 1]; ++i)
                pos[size_t(i)] = caches[s]->n_past() + (i - first[s]);

        std::vector<float> xv(size_t(m * dim_)), xbv(size_t(m * dim_)), qv(size_t(m * q_dim_)),
            kv(size_t(m * kv_dim_)), vv(size_t(m * kv_dim_)), attv(size_t(m * q_dim_)),
            tmpv(size_t(m * dim_)), hbv(size_t(m * ffn_)), hb2v(size_t(m * ffn_)), moe_scratch;
        float *x = xv.data(), *xb = xbv.data(), *q = qv.data(), *kb = kv.data(), *vb = vv.data(),
              *att = attv.data(), *tmp = tmpv.data(), *hb = hbv.data(), *hb2 = hb2v.data();
        for (size_t s = 0; s < n_items; ++s)
            for (int64_t i = first[s]; i < first[s + 1]; ++i)
                kern::get_row(embed_, items[s].tokens[size_t(i - first[s])], x + i * dim_);
        if (spec_.embed_scale > 0)
            for (int64_t i = 0; i < m * dim_; ++i) x[i] *= spec_.embed_scale;

        std::vector<std::vector<float>> cos_t(spec_.ropes.size()), sin_t(spec_.ropes.size());
        for (size_t r = 0; r < spec_.ropes.size(); ++r) {
            const int64_t half = spec_.ropes[r].rot_dim / 2;
            cos_t[r].resize(size_t(m * half));
            sin_t[r].resize(size_t(m * half));
            std::vector<float> c1, s1;
            for (int64_t i = 0; i < m; ++i) {
                spec_.ropes[r].tables(pos[size_t(i)], 1, c1, s1);
                std::copy_n(c1.data(), half, cos_t[r].data() + i * half);
                std::copy_n(s1.data(), half, sin_t[r].data() + i * half);
            }
        }
        auto rows_norm = [&](float *out, const float *in, const std::vector<float> &w) {
            for_rows(m, nt, [&](int64_t i) {
                kern::rmsnorm(out + i * dim_, in + i * dim_, w.data(), dim_, eps_);
            });
        };

        const kern::AttentionShape shape{n_heads_, n_kv_heads_, head_dim_};
        std::vector<kern::PagedRows> paged;  // the items with rows, and their index
        std::vector<size_t> paged_item;
        for (size_t l = 0; l < layers_.size(); ++l) {
            const Layer &L = layers_[l];
            rows_norm(xb, x, L.attn_norm);
            const kern::RowsProduct qkv[] = {
                {&L.wq, bias(L.bq), q}, {&L.wk, bias(L.bk), kb}, {&L.wv, bias(L.bv), vb}};
            kern::linear_rows(qkv, 3, xb, m, nt);
            norm_and_rotate(L, m, q, kb, cos_t, sin_t, nt);
            const kern::AttentionOptions ao{L.window, spec_.attn_softcap};
            // Paged caches (the engine's): every sequence's attention in one pass of the pool.
            paged.clear();
            paged_item.clear();
            bool all_paged = true;
            for (size_t s = 0; s < n_items; ++s) {
                const int64_t rows_s = first[s + 1] - first[s], p0 = caches[s]->n_past();
                if (rows_s == 0) continue;
                BatchKvCache &cs = *caches[s];
                cs.store_rows(int64_t(l), p0, rows_s, kb + first[s] * kv_dim_,
                              vb + first[s] * kv_dim_);
                kern::PagedRows r{q + first[s] * q_dim_, rows_s, p0, {}, att + first[s] * q_dim_};
                all_paged = all_paged && cs.pages(int64_t(l), r.kv);
                paged.push_back(r);
                paged_item.push_back(s);
            }
            if (all_paged) {
                kern::attention_rows_batch(paged.data(), paged.size(), shape, scale_, ao, nt);
            } else {
                for (size_t j = 0; j < paged.size(); ++j) {
                    const kern::PagedRows &r = paged[j];
                    caches[paged_item[j]]->attend_rows(int64_t(l), r.q, r.m, r.p0, shape, scale_,
                                                       ao, r.out, nt);
                }
            }
            kern::linear_rows(L.wo, att, m, bias(L.bo), tmp, nt);
            if (!L.post_attn_norm.empty()) rows_norm(tmp, tmp, L.post_attn_norm);
            kern::add(x, tmp, m * dim_);
            rows_norm(xb, x, L.ffn_norm);
            if (L.sparse) {
                // One row at a time: moe_forward groups rows by expert (sgemm above four).
                for (int64_t i = 0; i < m; ++i)
                    moe_forward(L.moe, xb + i * dim_, 1, dim_, spec_.act, tmp + i * dim_,
                                moe_scratch, nt);
            } else {
                const kern::RowsProduct gate_up[] = {{&L.w_gate, bias(L.b_gate), hb},
                                                     {&L.w_up, bias(L.b_up), hb2}};
                kern::linear_rows(gate_up, 2, xb, m, nt);
                for_rows(m, nt, [&](int64_t i) {
                    gated_act(hb + i * ffn_, hb2 + i * ffn_, ffn_, spec_.act);
                });
                kern::linear_rows(L.w_down, hb, m, bias(L.b_down), tmp, nt);
            }
            if (!L.post_ffn_norm.empty()) rows_norm(tmp, tmp, L.post_ffn_norm);
            kern::add(x, tmp, m * dim_);
        }
        for (size_t s = 0; s < n_items; ++s) caches[s]->advance(int32_t(items[s].tokens.size()));

        // Logits of each item's last row, for the items that want them.
        std::vector<size_t> out_items;
        for (size_t s = 0; s < n_items; ++s)
            if (items[s].logits && first[s + 1] > first[s]) out_items.push_back(s);
        if (out_items.empty()) return;
        const int64_t n_out = int64_t(out_items.size());
        for (int64_t j = 0; j < n_out; ++j)
            kern::rmsnorm(xb + j * dim_, x + (first[out_items[size_t(j)] + 1] - 1) * dim_,
                          final_norm_.data(), dim_, eps_);
        // Straight into the callers' buffers when they are consecutive rows of one array (the
        // engine's): no scratch array of n_out x vocab floats a step, and no copy.
        float *const dst0 = items[out_items[0]].logits;
        bool consecutive = spec_.final_softcap <= 0;
        for (int64_t j = 1; j < n_out && consecutive; ++j)
            consecutive = items[out_items[size_t(j)]].logits == dst0 + j * vocab_;
        if (consecutive) {
            kern::linear_rows(lm_head_, xb, n_out, nullptr, dst0, nt);
            return;
        }
        std::vector<float> lo(size_t(n_out * vocab_));
        kern::linear_rows(lm_head_, xb, n_out, nullptr, lo.data(), nt);
        for (int64_t j = 0; j < n_out; ++j) {
            float *dst = items[out_items[size_t(j)]].logits;
            const float *src = lo.data() + j * vocab_;
            if (spec_.final_softcap > 0) {
                const float cap = spec_.final_softcap, inv = 1.0f / cap;
                for (int64_t t = 0; t < vocab_; ++t) dst[t] = cap * std::tanh(src[t] * inv);
            } else {
                std::copy_n(src, vocab_, dst);
            }
        }
    }

  private:
    // Per-head RMSNorm of q and k (Qwen3, Gemma 3), then RoPE, of m rows: queries q (rows q_dim_
    // apart) and keys k (rows kv_dim_ apart), row i at the angles of row i of the tables.
    void norm_and_rotate(const Layer &L, int64_t m, float *q, float *k,
                         const std::vector<std::vector<float>> &cos_t,
                         const std::vector<std::vector<float>> &sin_t, int nt) const {
        if (!L.rope && !spec_.qk_norm) return;
        auto head_norm = [&](float *v, int64_t n_h, const std::vector<float> &w) {
            for (int64_t h = 0; h < n_h; ++h)
                kern::rmsnorm(v + h * head_dim_, v + h * head_dim_, w.data(), head_dim_, eps_);
        };
        const size_t r = L.rope ? size_t(L.rope - spec_.ropes.data()) : 0;
        for_rows(m, nt, [&](int64_t i) {
            float *qi = q + i * q_dim_, *ki = k + i * kv_dim_;
            if (spec_.qk_norm) {
                head_norm(qi, n_heads_, L.q_norm);
                head_norm(ki, n_kv_heads_, L.k_norm);
            }
            if (!L.rope) return;
            const int64_t half = L.rope->rot_dim / 2;
            const float *cs = &cos_t[r][size_t(i * half)], *sn = &sin_t[r][size_t(i * half)];
            L.rope->apply(qi, n_heads_, head_dim_, cs, sn);
            L.rope->apply(ki, n_kv_heads_, head_dim_, cs, sn);
        });
    }

    ModelConfig cfg_;
    DecoderSpec spec_;
    std::shared_ptr<const WeightStore> store_;  // keeps the memory map alive
    WeightArena copies_;                        // the weights converted at load
    int64_t dim_, n_heads_, n_kv_heads_, head_dim_, q_dim_, kv_dim_, ffn_, vocab_;
    float eps_, scale_;
    Mat embed_, lm_head_;
    std::vector<Layer> layers_;
    std::vector<float> final_norm_;
    uint64_t weight_bytes_ = 0;
    uint64_t sparse_bytes_ = 0;  // the experts of every MoE layer (read only when routed to)
};

}  // namespace

std::shared_ptr<const Model> make_decoder(ModelConfig cfg, DecoderSpec spec,
                                          std::shared_ptr<const WeightStore> store,
                                          const LoadOptions &opts,
                                          const std::function<bool(double)> &progress) {
    return std::make_shared<Decoder>(std::move(cfg), std::move(spec), std::move(store), opts,
                                     progress);
}

}  // namespace hfk::models
