#include "models/common.h"

#include <sys/mman.h>
#include <unistd.h>

#include <algorithm>
#include <cstring>

#if defined(__x86_64__)
#include <emmintrin.h>
#endif

#include "kernels/ops.h"
#include "kernels/quant.h"
#include "kernels/simd.h"
#include "kernels/thread_pool.h"
#include "model/prequant.h"
#include "util/error.h"

namespace hfk::models {

WeightLoader::WeightLoader(std::shared_ptr<const WeightStore> store,
                           std::vector<std::string> prefixes, const LoadOptions &opts)
    : binder_(std::move(store), std::move(prefixes)), opts_(opts) {}

namespace {

// Gives the whole pages inside [p, p + n) of a read-only file mapping back to the kernel: the
// process's copy goes, a later read faults the file's bytes back in.
void release_pages(const void *p, size_t n) {
    const uintptr_t page = uintptr_t(sysconf(_SC_PAGESIZE));
    const uintptr_t begin = (uintptr_t(p) + page - 1) & ~(page - 1);
    const uintptr_t end = (uintptr_t(p) + n) & ~(page - 1);
    if (end > begin) madvise(reinterpret_cast<void *>(begin), end - begin, MADV_DONTNEED);
}

// Row r of a 2-D F32/F16/BF16 tensor as F32 (every conversion exact), through the SIMD kernels:
// a conversion at load reads every weight once here (a scalar loop was 17% of a Q8 load).
void tensor_row(const TensorInfo &t, int64_t cols, int64_t r, float *out) {
    const std::byte *p = t.data + size_t(r) * size_t(cols) * compute_elem_size(t.dtype);
    if (t.dtype == DType::F32)
        std::memcpy(out, p, size_t(cols) * 4);
    else
        kern::simd().to_f32(t.dtype, p, cols, out);
}

uint16_t f32_to_bf16(float f) {
    uint32_t u;
    std::memcpy(&u, &f, 4);
    if ((u & 0x7fffffffu) > 0x7f800000u) return uint16_t((u >> 16) | 0x40);  // quiet NaN
    return uint16_t((u + 0x7fffu + ((u >> 16) & 1u)) >> 16);                 // nearest even
}

}  // namespace

kern::Mat WeightLoader::convert(const TensorInfo &t, int64_t rows, int64_t cols,
                                kern::Layout layout, MatUse use) {
    kern::Mat m{t.dtype, nullptr, rows, cols};
    const bool quantize = quantizes(use);
    uint8_t *out = nullptr;
    size_t bytes = 0;
    if (quantize) {
        m.quant = opts_.format == WeightFormat::Q8 ? kern::QType::Q8_0 : kern::QType::Q4_1;
        m.qlayout = layout;
        const int64_t n = layout == kern::Layout::OutIn ? rows : cols;
        const int64_t k = layout == kern::Layout::OutIn ? cols : rows;
        const size_t rb = kern::q_row_bytes(m.quant, k);
        bytes = rb * size_t(n);
        out = arena_.alloc(bytes);
        if (layout == kern::Layout::OutIn) {
            // Rows interleaved by 16 when the kernels read them so (kern::QType::Q8_0x16,
            // Q4_1x16), unless the rows are not whole groups or a slice would cut a group.
            const bool interleave = kern::quant_ops().rows16 && use != MatUse::LinearSliced &&
                                    n % kern::kQRowGroup == 0;
            // Rows in tasks of 64 on the load's threads: each task's bytes are its own (whole
            // groups of 16 rows when interleaved).
            constexpr int64_t kRows = 64;
            static_assert(kRows % kern::kQRowGroup == 0);
            const int nt = opts_.n_threads > 0 ? opts_.n_threads : kern::hardware_threads();
            kern::parallel_for((n + kRows - 1) / kRows, nt, [&](int64_t task) {
                std::vector<float> row(static_cast<size_t>(k));
                const int64_t r0 = task * kRows, r1 = std::min(n, r0 + kRows);
                for (int64_t r = r0; r < r1; ++r) {
                    tensor_row(t, cols, r, row.data());
                    kern::quantize_row(m.quant, row.data(), k, out + size_t(r) * rb);
                }
                if (interleave) kern::interleave_rows16(m.quant, out + size_t(r0) * rb, r1 - r0, k);
            });
            if (interleave)
                m.quant =
                    m.quant == kern::QType::Q8_0 ? kern::QType::Q8_0x16 : kern::QType::Q4_1x16;
        } else {  // [in, out]: quantize the columns, a block of outputs at a time
            constexpr int64_t kCols = 64;
            std::vector<float> tile(static_cast<size_t>(k * kCols)), src(static_cast<size_t>(cols));
            for (int64_t c0 = 0; c0 < n; c0 += kCols) {
                const int64_t nc = std::min(kCols, n - c0);
                for (int64_t i = 0; i < k; ++i) {
                    tensor_row(t, cols, i, src.data());
                    for (int64_t c = 0; c < nc; ++c) tile[size_t(c * k + i)] = src[size_t(c0 + c)];
                }
                for (int64_t c = 0; c < nc; ++c)
                    kern::quantize_row(m.quant, tile.data() + c * k, k, out + size_t(c0 + c) * rb);
            }
        }
    } else {
        const DType to = opts_.format == WeightFormat::F32 ? DType::F32 : DType::BF16;
        m.dtype = to;
        bytes = size_t(rows * cols) * compute_elem_size(to);
        out = arena_.alloc(bytes);
        std::vector<float> row(static_cast<size_t>(cols));
        for (int64_t r = 0; r < rows; ++r) {
            tensor_row(t, cols, r, row.data());
            if (to == DType::F32) {
                std::memcpy(out + size_t(r * cols) * 4, row.data(), size_t(cols) * 4);
            } else {
                for (int64_t i = 0; i < cols; ++i) {
                    const uint16_t b = f32_to_bf16(row[size_t(i)]);
                    std::memcpy(out + size_t(r * cols + i) * 2, &b, 2);
                }
            }
        }
    }
    bound_bytes_ += bytes;
    m.data = out;
    release_pages(t.data, t.nbytes);
    return m;
}

namespace {

// dst[c * rows + r] = src[r * cols + c] for 8 x 8 elements of 16 bits (src rows `ls` bytes
// apart, dst rows `ld` bytes apart), in registers.
inline void transpose8x8_16(const std::byte *s, size_t ls, uint8_t *d, size_t ld) {
#if defined(__x86_64__)
    __m128i r[8];
    for (int i = 0; i < 8; ++i)
        r[i] = _mm_loadu_si128(reinterpret_cast<const __m128i *>(s + size_t(i) * ls));
    const __m128i a0 = _mm_unpacklo_epi16(r[0], r[1]), a1 = _mm_unpackhi_epi16(r[0], r[1]),
                  a2 = _mm_unpacklo_epi16(r[2], r[3]), a3 = _mm_unpackhi_epi16(r[2], r[3]),
                  a4 = _mm_unpacklo_epi16(r[4], r[5]), a5 = _mm_unpackhi_epi16(r[4], r[5]),
                  a6 = _mm_unpacklo_epi16(r[6], r[7]), a7 = _mm_unpackhi_epi16(r[6], r[7]);
    const __m128i b0 = _mm_unpacklo_epi32(a0, a2), b1 = _mm_unpackhi_epi32(a0, a2),
                  b2 = _mm_unpacklo_epi32(a1, a3), b3 = _mm_unpackhi_epi32(a1, a3),
                  b4 = _mm_unpacklo_epi32(a4, a6), b5 = _mm_unpackhi_epi32(a4, a6),
                  b6 = _mm_unpacklo_epi32(a5, a7), b7 = _mm_unpackhi_epi32(a5, a7);
    const __m128i o[8] = {_mm_unpacklo_epi64(b0, b4), _mm_unpackhi_epi64(b0, b4),
                          _mm_unpacklo_epi64(b1, b5), _mm_unpackhi_epi64(b1, b5),
                          _mm_unpacklo_epi64(b2, b6), _mm_unpackhi_epi64(b2, b6),
                          _mm_unpacklo_epi64(b3, b7), _mm_unpackhi_epi64(b3, b7)};
    for (int i = 0; i < 8; ++i)
        _mm_storeu_si128(reinterpret_cast<__m128i *>(d + size_t(i) * ld), o[i]);
#else
    for (size_t c = 0; c < 8; ++c)
        for (size_t r = 0; r < 8; ++r) std::memcpy(d + c * ld + 2 * r, s + r * ls + 2 * c, 2);
#endif
}

// dst[c * rows + r] = src[r * cols + c] for elements of `E` bytes and columns [c0, c1), in tiles
// of 64 x 64 that keep both sides' lines in cache; 16-bit elements in 8 x 8 register blocks.
template <size_t E>
void transpose_columns(const std::byte *src, int64_t rows, int64_t cols, int64_t c0, int64_t c1,
                       uint8_t *dst) {
    constexpr int64_t kTile = 64;
    const auto one = [&](int64_t r, int64_t c) {
        std::memcpy(dst + size_t(c * rows + r) * E, src + size_t(r * cols + c) * E, E);
    };
    for (int64_t t0 = c0; t0 < c1; t0 += kTile) {
        const int64_t t1 = std::min(c1, t0 + kTile);
        for (int64_t r0 = 0; r0 < rows; r0 += kTile) {
            const int64_t r1 = std::min(rows, r0 + kTile);
            int64_t r = r0;
            if constexpr (E == 2) {
                for (; r + 8 <= r1; r += 8) {
                    int64_t c = t0;
                    for (; c + 8 <= t1; c += 8)
                        transpose8x8_16(src + size_t(r * cols + c) * 2, size_t(cols) * 2,
                                        dst + size_t(c * rows + r) * 2, size_t(rows) * 2);
                    for (; c < t1; ++c)
                        for (int64_t i = r; i < r + 8; ++i) one(i, c);
                }
            }
            for (; r < r1; ++r)
                for (int64_t c = t0; c < t1; ++c) one(r, c);
        }
    }
}

}  // namespace

kern::Mat WeightLoader::transposed_matrix(const std::string &name, int64_t in, int64_t out) {
    const WeightFormat f = opts_.format;
    constexpr std::string_view kWeight = ".weight";
    if (opts_.prequant && name.size() > kWeight.size() &&
        unpack_prequant(*opts_.prequant, binder_, name.substr(0, name.size() - kWeight.size()), in,
                        out))
        fail(HFK_E_UNSUPPORTED, "pre-quantized " + name +
                                    ": a layer stored [in, out] (GPT-2's Conv1D) is not "
                                    "supported in a pre-quantized checkpoint");
    const TensorInfo &t = binder_.take(name, {in, out});
    if (f == WeightFormat::Q8 || f == WeightFormat::Q4) {
        // convert() quantizes an [in, out] matrix by columns: [out][blocks of in], which is what
        // an [out, in] matrix quantized by rows is.
        kern::Mat m = convert(t, in, out, kern::Layout::InOut, MatUse::Linear);
        m.rows = out;
        m.cols = in;
        m.qlayout = kern::Layout::OutIn;
        return m;
    }
    const DType to = f == WeightFormat::F32    ? DType::F32
                     : f == WeightFormat::BF16 ? DType::BF16
                                               : t.dtype;
    return transpose_tensor(t, in, out, to);
}

kern::Mat WeightLoader::transpose_tensor(const TensorInfo &t, int64_t in, int64_t out, DType to) {
    const size_t esize = compute_elem_size(to);
    const size_t bytes = size_t(in * out) * esize;
    uint8_t *data = arena_.alloc(bytes);
    if (to == t.dtype) {
        // Both threads of a two-core machine: the page faults of the new memory dominate.
        constexpr int64_t kCols = 256;
        const int nt = opts_.n_threads > 0 ? opts_.n_threads : kern::hardware_threads();
        kern::parallel_for((out + kCols - 1) / kCols, nt, [&](int64_t b) {
            const int64_t c0 = b * kCols, c1 = std::min(out, c0 + kCols);
            if (esize == 4)
                transpose_columns<4>(t.data, in, out, c0, c1, data);
            else
                transpose_columns<2>(t.data, in, out, c0, c1, data);
        });
    } else {  // a conversion asked for by the format: row by row through F32
        std::vector<float> row(static_cast<size_t>(out));
        for (int64_t r = 0; r < in; ++r) {
            tensor_row(t, out, r, row.data());
            for (int64_t c = 0; c < out; ++c) {
                uint8_t *d = data + size_t(c * in + r) * esize;
                if (to == DType::F32) {
                    std::memcpy(d, &row[size_t(c)], 4);
                } else {
                    const uint16_t b = f32_to_bf16(row[size_t(c)]);
                    std::memcpy(d, &b, 2);
                }
            }
        }
    }
    bound_bytes_ += bytes;
    release_pages(t.data, t.nbytes);
    return kern::Mat{to, data, out, in};
}

kern::Mat WeightLoader::conv1d_matrix(const std::string &name, int64_t in, int64_t out,
                                      kern::Layout *layout) {
    const WeightFormat f = opts_.format;
    *layout = kern::Layout::OutIn;
    if (f == WeightFormat::Q8 || f == WeightFormat::Q4 || opts_.prequant)
        return transposed_matrix(name, in, out);
    const TensorInfo &t = binder_.take(name, {in, out});
    const DType to = f == WeightFormat::F32    ? DType::F32
                     : f == WeightFormat::BF16 ? DType::BF16
                                               : t.dtype;
    if (to != DType::F32) return transpose_tensor(t, in, out, to);
    *layout = kern::Layout::InOut;
    return to == t.dtype ? to_mat(t, in, out)
                         : convert(t, in, out, kern::Layout::InOut, MatUse::Linear);
}

kern::Mat WeightLoader::to_mat(const TensorInfo &t, int64_t rows, int64_t cols) {
    // WeightBinder has already checked the dtype (F32/F16/BF16) and the shape.
    bound_bytes_ += t.nbytes;
    kern::Mat m{t.dtype, t.data, rows, cols};
    const size_t align = compute_elem_size(t.dtype);
    if (!t.aligned(align)) {
        uint8_t *copy = arena_.alloc(t.nbytes);
        std::memcpy(copy, t.data, t.nbytes);
        m.data = copy;
    }
    return m;
}

kern::Mat WeightLoader::matrix(const std::string &name, int64_t rows, int64_t cols,
                               kern::Layout layout, MatUse use) {
    const WeightFormat f = opts_.format;
    const bool quantize = quantizes(use);
    // A layer of a pre-quantized checkpoint (prequant.h): unpacked, then held as stored when
    // that is exact, else converted; never an F32 copy unless F32 was asked for.
    constexpr std::string_view kWeight = ".weight";
    if (opts_.prequant && name.size() > kWeight.size() &&
        name.compare(name.size() - kWeight.size(), kWeight.size(), kWeight) == 0) {
        const std::string base = name.substr(0, name.size() - kWeight.size());
        if (std::optional<UnpackedLinear> u =
                unpack_prequant(*opts_.prequant, binder_, base, rows, cols)) {
            if (layout != kern::Layout::OutIn)
                fail(HFK_E_UNSUPPORTED, "pre-quantized " + name +
                                            ": a layer stored [in, out] (GPT-2's Conv1D) is not "
                                            "supported in a pre-quantized checkpoint");
            const kern::Mat m = prequant_matrix(*u, f, quantize, arena_, bound_bytes_);
            for (const TensorInfo *t : u->sources) release_pages(t->data, t->nbytes);
            return m;
        }
    }
    const TensorInfo &t = binder_.take(name, {rows, cols});
    const bool change = quantize || (f == WeightFormat::F32 && t.dtype != DType::F32) ||
                        (f == WeightFormat::BF16 && t.dtype != DType::BF16);
    if (change) return convert(t, rows, cols, layout, use);
    return to_mat(t, rows, cols);
}

std::vector<float> WeightLoader::vector(const std::string &name, int64_t n) {
    const TensorInfo &t = binder_.take(name, {n});
    bound_bytes_ += t.nbytes;
    std::vector<float> out(static_cast<size_t>(n));
    const size_t esize = compute_elem_size(t.dtype);
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

CausalCache::CausalCache(const Model *owner, DType kv_type, int64_t n_layers, int64_t kv_dim,
                         int64_t head_dim, int32_t capacity)
    : owner_(owner),
      kv_type_(kv_type),
      elem_bytes_(compute_elem_size(kv_type)),
      capacity_(capacity),
      n_layers_(n_layers),
      kv_dim_(kv_dim),
      head_dim_(head_dim) {
    if (kv_type != DType::F32 && kv_type != DType::F16 && kv_type != DType::BF16)
        fail(HFK_E_INVALID_ARG, std::string("KV cache type ") + dtype_name(kv_type) +
                                    ": only F32, F16 and BF16 are supported");
    if (head_dim <= 0 || kv_dim % head_dim != 0)
        fail(HFK_E_INTERNAL, "KV cache: kv_dim " + std::to_string(kv_dim) +
                                 " is not a whole number of heads of " + std::to_string(head_dim));
    int64_t values = 0;
    size_t layer = 0, bytes = 0;
    if (__builtin_mul_overflow(int64_t(capacity), kv_dim, &values) ||
        __builtin_mul_overflow(size_t(values), elem_bytes_, &layer) ||
        __builtin_mul_overflow(layer, size_t(2 * n_layers), &bytes))
        fail(HFK_E_NOMEM, "KV cache size overflows: " + std::to_string(capacity) + " tokens");
    layer_bytes_ = layer;
    if (bytes == 0) return;
    void *p = mmap(nullptr, bytes, PROT_READ | PROT_WRITE,
                   MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
    if (p == MAP_FAILED)
        fail(HFK_E_NOMEM, "cannot reserve " + std::to_string(bytes >> 20) +
                              " MiB for a KV cache of " + std::to_string(capacity) + " tokens");
    base_ = static_cast<uint8_t *>(p);
    mapped_bytes_ = bytes;
}

CausalCache::~CausalCache() {
    if (base_) munmap(base_, mapped_bytes_);
}

void CausalCache::store_block_rows(int64_t i, int64_t p0, int64_t m, const float *in) {
    const kern::SimdOps &ops = kern::simd();
    for (int64_t j = 0; j < kv_dim_ / head_dim_; ++j)
        for (int64_t r = 0; r < m; ++r)
            ops.from_f32(kv_type_, in + r * kv_dim_ + j * head_dim_, head_dim_,
                         head_row(i, j, p0 + r));
}

void CausalCache::load_block_rows(int64_t i, int64_t p0, int64_t m, float *out) const {
    const kern::SimdOps &ops = kern::simd();
    for (int64_t j = 0; j < kv_dim_ / head_dim_; ++j)
        for (int64_t r = 0; r < m; ++r)
            ops.to_f32(kv_type_, head_row(i, j, p0 + r), head_dim_,
                       out + r * kv_dim_ + j * head_dim_);
}

void CausalCache::read_rows(int64_t i, int64_t n, float *out) const {
    load_block_rows(i, 0, n, out);
}

void CausalCache::write_rows(int64_t i, int64_t n, const float *in) {
    store_block_rows(i, 0, n, in);
}

float *CausalCache::new_keys(int64_t m) {
    new_k_.resize(size_t(m * kv_dim_));
    return new_k_.data();
}

float *CausalCache::new_values(int64_t m) {
    new_v_.resize(size_t(m * kv_dim_));
    return new_v_.data();
}

CausalCache::Activations CausalCache::activations(int64_t m, int64_t dim, int64_t q_dim,
                                                  int64_t att_dim, int64_t ffn, bool with_hb2) {
    const auto sized = [](std::vector<float> &v, int64_t n) {
        v.resize(size_t(n));
        return v.data();
    };
    return {sized(x_, m * dim),
            sized(xb_, m * dim),
            sized(q_, m * q_dim),
            sized(att_, m * att_dim),
            sized(tmp_, m * dim),
            sized(hb_, m * ffn),
            with_hb2 ? sized(hb2_, m * ffn) : nullptr};
}

void CausalCache::commit_rows(int64_t layer, int64_t p0, int64_t m) {
    store_block_rows(2 * layer, p0, m, new_k_.data());
    store_block_rows(2 * layer + 1, p0, m, new_v_.data());
}

void CausalCache::store_rows(int64_t layer, int64_t p0, int64_t m, const float *k, const float *v) {
    store_block_rows(2 * layer, p0, m, k);
    store_block_rows(2 * layer + 1, p0, m, v);
}

void CausalCache::attend_rows(int64_t layer, const float *q, int64_t m, int64_t p0,
                              const kern::AttentionShape &shape, float scale,
                              const kern::AttentionOptions &opts, float *out, int n_threads) const {
    kern::attention_rows(q, m, p0, rows(layer), shape, scale, opts, out, n_threads);
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

std::unique_ptr<KvCache> new_causal_cache(const Model &model, DType kv_type, int64_t n_layers,
                                          int64_t kv_dim, int64_t head_dim, int32_t n_ctx) {
    if (n_ctx <= 0) n_ctx = model.context_length();
    if (n_ctx > model.context_length())
        fail(HFK_E_INVALID_ARG, "n_ctx " + std::to_string(n_ctx) +
                                    " exceeds the model's context length " +
                                    std::to_string(model.context_length()));
    return std::make_unique<CausalCache>(&model, kv_type, n_layers, kv_dim, head_dim, n_ctx);
}

namespace {
// Every id in [0, vocab) and room for them all, before the cache changes.
void check_tokens(const KvCache &c, std::span<const int32_t> tokens, int64_t vocab) {
    for (size_t i = 0; i < tokens.size(); ++i) {
        if (tokens[i] < 0 || tokens[i] >= vocab)
            fail(HFK_E_INVALID_ARG, "token id " + std::to_string(tokens[i]) + " at position " +
                                        std::to_string(i) + " is outside the vocabulary [0, " +
                                        std::to_string(vocab) + ")");
    }
    if (int64_t(c.n_past()) + int64_t(tokens.size()) > c.capacity())
        fail(HFK_E_CONTEXT_FULL, std::to_string(tokens.size()) + " more tokens do not fit: " +
                                     std::to_string(c.n_past()) + " of " +
                                     std::to_string(c.capacity()) + " context positions are used");
}
}  // namespace

CausalCache &check_forward(const Model &model, KvCache &cache, std::span<const int32_t> tokens,
                           int64_t vocab) {
    auto *c = dynamic_cast<CausalCache *>(&cache);
    if (!c || c->owner() != &model)
        fail(HFK_E_INVALID_ARG, "forward: the KV cache was not created by this model");
    check_tokens(*c, tokens, vocab);
    return *c;
}

BatchKvCache &check_batch_forward(const Model &model, KvCache &cache,
                                  std::span<const int32_t> tokens, int64_t vocab) {
    auto *c = dynamic_cast<BatchKvCache *>(&cache);
    if (!c || c->owner() != &model)
        fail(HFK_E_INVALID_ARG, "forward_batch: the KV cache was not created by this model");
    check_tokens(*c, tokens, vocab);
    return *c;
}

void report_progress(const std::function<bool(double)> &progress, double fraction) {
    if (progress && progress(fraction)) fail(HFK_E_CANCELLED, "model loading cancelled");
}

void for_rows(int64_t m, int n_threads, const std::function<void(int64_t)> &fn) {
    kern::parallel_for(m, m >= 16 ? n_threads : 1, [&](int64_t i) { fn(i); });
}

void activate(Act act, float *x, int64_t n) {
    switch (act) {
        case Act::Silu:
            kern::silu(x, n);
            return;
        case Act::GeluTanh:
            kern::gelu_tanh(x, n);
            return;
        case Act::GeluErf:
            kern::gelu_erf(x, n);
            return;
        case Act::Relu:
            kern::relu(x, n);
            return;
    }
}

void layernorm_rows(float *out, const float *in, int64_t m, int64_t dim,
                    const std::vector<float> &w, const std::vector<float> &b, float eps,
                    int n_threads) {
    for_rows(m, n_threads, [&](int64_t i) {
        kern::layernorm(out + i * dim, in + i * dim, w.data(), b.data(), dim, eps);
    });
}

void final_layernorm_logits(const float *x, int64_t m, bool all_positions, int64_t dim,
                            const std::vector<float> &w, const std::vector<float> &b, float eps,
                            const kern::Mat &head, const std::vector<float> &head_bias, float *xb,
                            float *logits, int n_threads) {
    const int64_t first = all_positions ? 0 : m - 1, rows = m - first;
    for (int64_t i = 0; i < rows; ++i)
        kern::layernorm(xb + i * dim, x + (first + i) * dim, w.data(), b.data(), dim, eps);
    kern::linear(head, kern::Layout::OutIn, xb, rows,
                 head_bias.empty() ? nullptr : head_bias.data(), logits, n_threads);
}

void check_encoder_ids(std::span<const int32_t> ids, int64_t vocab, int64_t max_tokens) {
    const int64_t m = int64_t(ids.size());
    if (m == 0) fail(HFK_E_INVALID_ARG, "encode: no tokens");
    if (m > max_tokens)
        fail(HFK_E_CONTEXT_FULL, std::to_string(m) + " tokens exceed the model's " +
                                     std::to_string(max_tokens) + " positions");
    for (int64_t i = 0; i < m; ++i)
        if (ids[size_t(i)] < 0 || ids[size_t(i)] >= vocab)
            fail(HFK_E_INVALID_ARG, "token id " + std::to_string(ids[size_t(i)]) + " at position " +
                                        std::to_string(i) + " is outside the vocabulary");
}

EncoderSizes encoder_sizes(const ModelConfig &cfg, const std::string &arch, bool even_head_dim) {
    const int64_t dim = cfg.hidden_size, heads = cfg.num_heads;
    const int64_t head_dim = heads > 0 ? dim / heads : 0;
    if (heads <= 0 || head_dim * heads != dim || (even_head_dim && head_dim % 2 != 0) ||
        cfg.intermediate_size <= 0 || cfg.max_position_embeddings <= 0)
        fail(HFK_E_FORMAT,
             "config.json: " + arch + " sizes are inconsistent (hidden_size " +
                 std::to_string(dim) + ", num_attention_heads " + std::to_string(heads) +
                 ", intermediate_size " + std::to_string(cfg.intermediate_size) +
                 ", max_position_embeddings " + std::to_string(cfg.max_position_embeddings) +
                 "): hidden_size must be a multiple of the heads" +
                 (even_head_dim ? ", with an even head size" : ""));
    return {dim,
            heads,
            head_dim,
            cfg.intermediate_size,
            cfg.vocab_size,
            cfg.max_position_embeddings,
            float(cfg.norm_eps)};
}

}  // namespace hfk::models
