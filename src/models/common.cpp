#include "models/common.h"

#include <sys/mman.h>

#include <cstring>

#include "kernels/simd.h"
#include "kernels/thread_pool.h"
#include "util/error.h"

namespace hfk::models {

WeightLoader::WeightLoader(std::shared_ptr<const WeightStore> store,
                           std::vector<std::string> prefixes)
    : binder_(std::move(store), std::move(prefixes)) {}

kern::Mat WeightLoader::to_mat(const TensorInfo &t, int64_t rows, int64_t cols) {
    // WeightBinder has already checked the dtype (F32/F16/BF16) and the shape.
    bound_bytes_ += t.nbytes;
    kern::Mat m{t.dtype, t.data, rows, cols};
    const size_t align = t.dtype == DType::F32 ? 4 : 2;
    if (!t.aligned(align)) {
        auto copy = std::make_unique<uint8_t[]>(t.nbytes);  // new[] is aligned for any scalar
        std::memcpy(copy.get(), t.data, t.nbytes);
        m.data = copy.get();
        copies_.push_back(std::move(copy));
    }
    return m;
}

kern::Mat WeightLoader::matrix(const std::string &name, int64_t rows, int64_t cols) {
    return to_mat(binder_.take(name, {rows, cols}), rows, cols);
}

std::vector<float> WeightLoader::vector(const std::string &name, int64_t n) {
    const TensorInfo &t = binder_.take(name, {n});
    bound_bytes_ += t.nbytes;
    std::vector<float> out(static_cast<size_t>(n));
    const size_t esize = t.dtype == DType::F32 ? 4 : 2;
    for (int64_t i = 0; i < n; ++i) {  // memcpy per element: the data may be unaligned
        if (esize == 4) {
            std::memcpy(&out[i], t.data + i * 4, 4);
        } else {
            uint16_t h;
            std::memcpy(&h, t.data + i * 2, 2);
            out[i] = t.dtype == DType::F16 ? kern::f16_to_f32(h) : kern::bf16_to_f32(h);
        }
    }
    return out;
}

std::vector<float> WeightLoader::optional_vector(const std::string &name, int64_t n) {
    if (!binder_.has(name)) return {};
    return vector(name, n);
}

CausalCache::CausalCache(const Model *owner, int64_t n_layers, int64_t kv_dim, int32_t capacity)
    : owner_(owner), capacity_(capacity), n_layers_(n_layers), kv_dim_(kv_dim) {
    int64_t floats = 0, total = 0;
    size_t bytes = 0;
    if (__builtin_mul_overflow(int64_t(capacity), kv_dim, &floats) ||
        __builtin_mul_overflow(floats, 2 * n_layers, &total) ||
        __builtin_mul_overflow(size_t(total), sizeof(float), &bytes))
        fail(HFK_E_NOMEM, "KV cache size overflows: " + std::to_string(capacity) + " tokens");
    layer_floats_ = floats;
    if (bytes == 0) return;
    void *p = mmap(nullptr, bytes, PROT_READ | PROT_WRITE,
                   MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
    if (p == MAP_FAILED)
        fail(HFK_E_NOMEM, "cannot reserve " + std::to_string(bytes >> 20) +
                              " MiB for a KV cache of " + std::to_string(capacity) + " tokens");
    base_ = static_cast<float *>(p);
    mapped_bytes_ = bytes;
}

CausalCache::~CausalCache() {
    if (base_) munmap(base_, mapped_bytes_);
}

void CausalCache::truncate(int32_t n) {
    if (n < 0) n = 0;
    if (n < n_past_) n_past_ = n;
}

void CausalCache::set_n_past(int32_t n) {
    if (n < 0 || n > capacity_)
        fail(HFK_E_INVALID_ARG, "set_n_past: " + std::to_string(n) + " is outside [0, " +
                                    std::to_string(capacity_) + "]");
    n_past_ = n;
}

std::unique_ptr<KvCache> new_causal_cache(const Model &model, int64_t n_layers, int64_t kv_dim,
                                          int32_t n_ctx) {
    if (n_ctx <= 0) n_ctx = model.context_length();
    if (n_ctx > model.context_length())
        fail(HFK_E_INVALID_ARG, "n_ctx " + std::to_string(n_ctx) +
                                    " exceeds the model's context length " +
                                    std::to_string(model.context_length()));
    return std::make_unique<CausalCache>(&model, n_layers, kv_dim, n_ctx);
}

CausalCache &check_forward(const Model &model, KvCache &cache, std::span<const int32_t> tokens,
                           int64_t vocab) {
    auto *c = dynamic_cast<CausalCache *>(&cache);
    if (!c || c->owner() != &model)
        fail(HFK_E_INVALID_ARG, "forward: the KV cache was not created by this model");
    for (size_t i = 0; i < tokens.size(); ++i) {
        if (tokens[i] < 0 || tokens[i] >= vocab)
            fail(HFK_E_INVALID_ARG, "token id " + std::to_string(tokens[i]) + " at position " +
                                        std::to_string(i) + " is outside the vocabulary [0, " +
                                        std::to_string(vocab) + ")");
    }
    if (int64_t(c->n_past()) + int64_t(tokens.size()) > c->capacity())
        fail(HFK_E_CONTEXT_FULL, std::to_string(tokens.size()) + " more tokens do not fit: " +
                                     std::to_string(c->n_past()) + " of " +
                                     std::to_string(c->capacity()) + " context positions are used");
    return *c;
}

void report_progress(const std::function<bool(double)> &progress, double fraction) {
    if (progress && progress(fraction)) fail(HFK_E_CANCELLED, "model loading cancelled");
}

void for_rows(int64_t m, int n_threads, const std::function<void(int64_t)> &fn) {
    kern::parallel_for(m, m >= 16 ? n_threads : 1, [&](int64_t i) { fn(i); });
}

}  // namespace hfk::models
