// GPT-2's Conv1D matrices ([in, out]) are transposed at load into [out, in] copies
// (WeightLoader::transposed_matrix), so that decode runs the [out, in] kernels. Checked here
// against a naive transpose at odd shapes (tiles of 64 and register blocks of 8 cut unevenly),
// in every stored type and load format, and GPT-2 decode for the same bits at any thread count.
#include <gtest/gtest.h>

#include <cstdint>
#include <cstring>
#include <nlohmann/json.hpp>
#include <string>
#include <tuple>
#include <vector>

#include "../support/test_support.h"
#include "kernels/matmul.h"
#include "kernels/quant.h"
#include "kernels/simd.h"
#include "model/model.h"
#include "models/common.h"

namespace {

using namespace hfk;
using hfk_test::TempDir;
using kern::Layout;
using kern::Mat;
using nlohmann::json;

// The stored bytes of `values` in type t (16-bit types rounded to nearest even).
std::string encode(const std::vector<float> &values, DType t) {
    std::string out(values.size() * compute_elem_size(t), '\0');
    for (size_t i = 0; i < values.size(); ++i) {
        if (t == DType::F32) {
            std::memcpy(&out[4 * i], &values[i], 4);
        } else {
            const uint16_t h =
                t == DType::F16 ? kern::f32_to_f16(values[i]) : kern::f32_to_bf16(values[i]);
            std::memcpy(&out[2 * i], &h, 2);
        }
    }
    return out;
}

// A one-tensor checkpoint directory: "w" of shape [rows, cols], type t. `pad` bytes of header
// padding move the tensor's start within a cache line.
std::shared_ptr<const WeightStore> one_tensor(const TempDir &dir, const std::string &bytes, DType t,
                                              int64_t rows, int64_t cols, int pad) {
    json h;
    h["w"] = {{"dtype", t == DType::F32   ? "F32"
                        : t == DType::F16 ? "F16"
                                          : "BF16"},
              {"shape", {rows, cols}},
              {"data_offsets", {0, bytes.size()}}};
    std::string header = h.dump();
    header.append(size_t(pad), ' ');
    std::string file(8, '\0');
    const uint64_t n = header.size();
    std::memcpy(file.data(), &n, 8);
    file += header + bytes;
    dir.write("model.safetensors", file);
    return WeightStore::open(dir.path);
}

constexpr std::pair<int64_t, int64_t> kShapes[] = {{13, 37}, {64, 64}, {77, 131}, {8, 200},
                                                   {203, 9}, {1, 17},  {130, 72}};

TEST(TransposedWeights, EqualNaiveTransposeAtOddShapes) {
    for (DType t : {DType::F32, DType::F16, DType::BF16}) {
        for (auto [in, out] : kShapes) {
            for (int pad : {0, 6}) {
                TempDir dir;
                const std::string src =
                    encode(hfk_test::random_values(size_t(in * out), uint32_t(in * out)), t);
                models::WeightLoader loader(one_tensor(dir, src, t, in, out, pad), {});
                const Mat m = loader.transposed_matrix("w", in, out);
                const std::string what = std::string(dtype_name(t)) + " [" + std::to_string(in) +
                                         ", " + std::to_string(out) + "]";
                ASSERT_EQ(m.dtype, t) << what;
                ASSERT_EQ(m.rows, out) << what;
                ASSERT_EQ(m.cols, in) << what;
                EXPECT_EQ(reinterpret_cast<uintptr_t>(m.data) % 64, 0u) << what;
                const size_t e = compute_elem_size(t);
                const auto *got = static_cast<const char *>(m.data);
                for (int64_t r = 0; r < in; ++r)
                    for (int64_t c = 0; c < out; ++c)
                        ASSERT_EQ(std::memcmp(got + size_t(c * in + r) * e,
                                              src.data() + size_t(r * out + c) * e, e),
                                  0)
                            << what << " element [" << r << ", " << c << "]";
            }
        }
    }
}

// The product through the transposed copy equals the naive y = x W of the stored [in, out]
// matrix (in double), for decode (1 row) and prefill (sgemm, 9 rows).
TEST(TransposedWeights, LinearMatchesNaiveProduct) {
    for (DType t : {DType::F32, DType::BF16}) {
        for (auto [in, out] : kShapes) {
            TempDir dir;
            const std::vector<float> w = hfk_test::random_values(size_t(in * out), 5);
            const std::string src = encode(w, t);
            models::WeightLoader loader(one_tensor(dir, src, t, in, out, 2), {});
            const Mat m = loader.transposed_matrix("w", in, out);
            for (int64_t rows : {1, 9}) {
                const std::vector<float> x = hfk_test::random_values(size_t(rows * in), 11);
                std::vector<float> y(size_t(rows * out));
                kern::linear(m, Layout::OutIn, x.data(), rows, nullptr, y.data(), 2);
                for (int64_t i = 0; i < rows; ++i)
                    for (int64_t c = 0; c < out; ++c) {
                        double ref = 0, mag = 0;
                        for (int64_t r = 0; r < in; ++r) {
                            float wv;
                            if (t == DType::F32) {
                                std::memcpy(&wv, src.data() + size_t(r * out + c) * 4, 4);
                            } else {
                                uint16_t h;
                                std::memcpy(&h, src.data() + size_t(r * out + c) * 2, 2);
                                wv = kern::bf16_to_f32(h);
                            }
                            ref += double(wv) * x[size_t(i * in + r)];
                            mag += std::abs(double(wv) * x[size_t(i * in + r)]);
                        }
                        ASSERT_NEAR(y[size_t(i * out + c)], ref, 1e-5 * mag + 1e-6)
                            << dtype_name(t) << " [" << in << ", " << out << "] rows " << rows;
                    }
            }
        }
    }
}

// Load formats: a conversion (F32 <-> BF16) or quantization gives the transpose of what
// matrix() gives for the [in, out] layout.
TEST(TransposedWeights, FormatsGiveTheTransposeOfTheLayoutConversion) {
    for (auto [stored, format] : {std::pair{DType::F32, WeightFormat::BF16},
                                  {DType::BF16, WeightFormat::F32},
                                  {DType::F16, WeightFormat::BF16},
                                  {DType::F16, WeightFormat::F32}}) {
        for (auto [in, out] : kShapes) {
            TempDir dir;
            const std::string src = encode(hfk_test::random_values(size_t(in * out), 3), stored);
            auto store = one_tensor(dir, src, stored, in, out, 0);
            LoadOptions opts;
            opts.format = format;
            models::WeightLoader a(store, {}, opts), b(store, {}, opts);
            const Mat m = a.transposed_matrix("w", in, out);
            const Mat ref = b.matrix("w", in, out, Layout::InOut);
            ASSERT_EQ(m.dtype, ref.dtype);
            const size_t e = compute_elem_size(m.dtype);
            for (int64_t r = 0; r < in; ++r)
                for (int64_t c = 0; c < out; ++c)
                    ASSERT_EQ(std::memcmp(
                                  static_cast<const char *>(m.data) + size_t(c * in + r) * e,
                                  static_cast<const char *>(ref.data) + size_t(r * out + c) * e, e),
                              0)
                        << dtype_name(stored) << " as " << weight_format_name(format);
        }
    }
}

// Quantized: the blocks are those of matrix() for Layout::InOut (already one row per output),
// and the products are the same bits.
TEST(TransposedWeights, QuantizedEqualsTheInOutQuantization) {
    for (WeightFormat format : {WeightFormat::Q8, WeightFormat::Q4}) {
        const int64_t in = 96, out = 40;
        TempDir dir;
        const std::string src = encode(hfk_test::random_values(size_t(in * out), 9), DType::BF16);
        auto store = one_tensor(dir, src, DType::BF16, in, out, 0);
        LoadOptions opts;
        opts.format = format;
        models::WeightLoader a(store, {}, opts), b(store, {}, opts);
        const Mat m = a.transposed_matrix("w", in, out);
        const Mat ref = b.matrix("w", in, out, Layout::InOut);
        ASSERT_EQ(m.qlayout, Layout::OutIn);
        ASSERT_EQ(m.rows, out);
        ASSERT_EQ(m.cols, in);
        ASSERT_EQ(std::memcmp(m.data, ref.data, kern::row_bytes(m) * size_t(out)), 0);
        const std::vector<float> x = hfk_test::random_values(size_t(in), 4);
        std::vector<float> y(static_cast<size_t>(out)), y_ref(static_cast<size_t>(out));
        kern::linear(m, Layout::OutIn, x.data(), 1, nullptr, y.data(), 1);
        kern::linear(ref, Layout::InOut, x.data(), 1, nullptr, y_ref.data(), 1);
        EXPECT_EQ(std::memcmp(y.data(), y_ref.data(), y.size() * 4), 0)
            << weight_format_name(format);
    }
}

// GPT-2's policy: 16-bit and quantized Conv1D weights are transposed, F32 ones stay [in, out].
TEST(TransposedWeights, Conv1dTransposesSixteenBitOnly) {
    const int64_t in = 64, out = 32;
    for (auto [stored, format, expect] :
         {std::tuple{DType::BF16, WeightFormat::Auto, Layout::OutIn},
          {DType::F16, WeightFormat::Auto, Layout::OutIn},
          {DType::F32, WeightFormat::BF16, Layout::OutIn},
          {DType::F32, WeightFormat::Q8, Layout::OutIn},
          {DType::F32, WeightFormat::Auto, Layout::InOut},
          {DType::BF16, WeightFormat::F32, Layout::InOut}}) {
        TempDir dir;
        const std::string src = encode(hfk_test::random_values(size_t(in * out), 1), stored);
        auto store = one_tensor(dir, src, stored, in, out, 0);
        LoadOptions opts;
        opts.format = format;
        models::WeightLoader a(store, {}, opts);
        Layout layout = expect == Layout::OutIn ? Layout::InOut : Layout::OutIn;
        const Mat m = a.conv1d_matrix("w", in, out, &layout);
        EXPECT_EQ(layout, expect) << dtype_name(stored) << " as " << weight_format_name(format);
        EXPECT_EQ(m.rows, expect == Layout::OutIn ? out : in);
    }
}

// GPT-2 decode (one token at a time through the cache) gives the same bits at any thread count.
TEST(TransposedWeights, Gpt2DecodeBitsDoNotDependOnThreads) {
    for (const char *name : {"tiny-gpt2-bf16", "tiny-gpt2-f32"}) {
        auto model = Model::load(hfk_test::shared_models_dir() / "tiny" / name, LoadOptions{1});
        const size_t V = size_t(model->vocab_size());
        const std::vector<int32_t> ids = {1, 5, 9, 2, 33, 17, 8};
        std::vector<std::vector<float>> by_threads;
        for (int threads : {1, 2, 3}) {
            auto cache = model->new_cache(0);
            std::vector<float> all, step(V);
            for (int32_t id : ids) {
                model->forward(*cache, std::span<const int32_t>(&id, 1), step.data(), false,
                               threads);
                all.insert(all.end(), step.begin(), step.end());
            }
            by_threads.push_back(std::move(all));
        }
        for (size_t i = 1; i < by_threads.size(); ++i)
            EXPECT_EQ(
                std::memcmp(by_threads[0].data(), by_threads[i].data(), by_threads[0].size() * 4),
                0)
                << name;
    }
}

}  // namespace
