// Pre-quantized checkpoints (issue 18, model/prequant.h), without torch: the unpacking of each
// format's packed tensors on hand-built cases (codes packed here from the formats' published
// descriptions), a GPTQ layer whose inputs end in a partial group, act-order (desc_act) groups,
// AWQ's nibble order, MLX's bit streams; the form each layer is held in; refusal by name of
// every other method; malformed tensors (HFK_E_FORMAT, never a crash).
#include <gtest/gtest.h>

#include <cmath>
#include <cstring>
#include <string>
#include <vector>

#include "kernels/quant.h"
#include "kernels/simd.h"
#include "model/config.h"
#include "model/prequant.h"
#include "model/weights.h"
#include "st_builder.h"

using namespace hfk;
using hfk_test::expect_error;
using hfk_test::TempDir;

namespace {

struct T {
    std::string name, dtype;
    std::vector<int64_t> shape;
    std::string bytes;
};

template <class V>
std::string raw(const std::vector<V> &v) {
    return std::string(reinterpret_cast<const char *>(v.data()), v.size() * sizeof(V));
}

std::string f16s(const std::vector<float> &v) {
    std::vector<uint16_t> h;
    for (float f : v) h.push_back(kern::f32_to_f16(f));
    return raw(h);
}

// A safetensors file of the given tensors (in order).
std::string st(const std::vector<T> &ts) {
    nlohmann::json h = nlohmann::json::object();
    size_t off = 0;
    std::string data;
    for (const T &t : ts) {
        h[t.name] = {
            {"dtype", t.dtype}, {"shape", t.shape}, {"data_offsets", {off, off + t.bytes.size()}}};
        off += t.bytes.size();
        data += t.bytes;
    }
    std::string header = h.dump();
    while (header.size() % 8) header += ' ';
    return hfk_test::le64(header.size()) + header + data;
}

struct Store {
    TempDir dir{"hfk-prequant"};
    std::shared_ptr<const WeightStore> store;
    explicit Store(const std::vector<T> &ts) {
        dir.write("model.safetensors", st(ts));
        store = WeightStore::open(dir.path);
    }
};

std::shared_ptr<const PrequantConfig> cfg_of(const std::string &json) {
    return prequant_config(nlohmann::json::parse(json));
}

// GPTQ tensors for an [out, in] layer of 4-bit codes q[r][c], zeros z[g][r] (the real zero; stored
// as z - 1 as AutoGPTQ does), scales s[g][r], g_idx[c].
std::vector<T> gptq_tensors(const std::string &base, int64_t out, int64_t in, int64_t groups,
                            const std::vector<int> &q, const std::vector<int> &z,
                            const std::vector<float> &s, const std::vector<int32_t> &g_idx) {
    std::vector<uint32_t> qweight(size_t(in / 8 * out), 0), qzeros(size_t(groups * out / 8), 0);
    for (int64_t c = 0; c < in; ++c)
        for (int64_t r = 0; r < out; ++r)
            qweight[size_t((c / 8) * out + r)] |= uint32_t(q[size_t(r * in + c)]) << (4 * (c % 8));
    for (int64_t g = 0; g < groups; ++g)
        for (int64_t r = 0; r < out; ++r)
            qzeros[size_t(g * (out / 8) + r / 8)] |= uint32_t((z[size_t(g * out + r)] - 1) & 15)
                                                     << (4 * (r % 8));
    return {{base + ".qweight", "I32", {in / 8, out}, raw(qweight)},
            {base + ".qzeros", "I32", {groups, out / 8}, raw(qzeros)},
            {base + ".scales", "F16", {groups, out}, f16s(s)},
            {base + ".g_idx", "I32", {in}, raw(g_idx)}};
}

struct GptqCase {
    int64_t out = 8, in = 48, groups = 2;  // groups of 32: the second holds 16 inputs
    std::vector<int> q, z;
    std::vector<float> s;
    std::vector<int32_t> g_idx;
    explicit GptqCase(bool act_order) {
        for (int64_t r = 0; r < out; ++r)
            for (int64_t c = 0; c < in; ++c) q.push_back(int((r * 7 + c * 3 + (r * c) % 5) % 16));
        for (int64_t g = 0; g < groups; ++g)
            for (int64_t r = 0; r < out; ++r) {
                z.push_back(int((g * 5 + r * 3) % 16));  // includes 0: stored as 15 (-1 & 15)
                s.push_back(0.01f * float(1 + r + 3 * g) + 0.00037f * float(r));
            }
        for (int64_t c = 0; c < in; ++c) g_idx.push_back(int32_t(c / 32));
        if (act_order)  // a permutation: input c takes the group of position (c * 19) % 48
            for (int64_t c = 0; c < in; ++c) g_idx[size_t(c)] = int32_t(((c * 19) % in) / 32);
    }
    // AutoGPTQ reads a stored zero back as (stored & 15) + 1: a zero of 0 comes back as 16.
    float weight(int64_t r, int64_t c) const {
        const int64_t g = g_idx[size_t(c)];
        const int zr = ((z[size_t(g * out + r)] - 1) & 15) + 1;
        const float sc = kern::f16_to_f32(kern::f32_to_f16(s[size_t(g * out + r)]));
        return sc * float(q[size_t(r * in + c)] - zr);
    }
};

const char *kGptq = R"({"quantization_config":{"quant_method":"gptq","bits":4,"group_size":32,
"desc_act":false,"sym":false}})";

std::vector<float> dequantized(const kern::Mat &m) {
    std::vector<float> out(size_t(m.rows * m.cols));
    for (int64_t r = 0; r < m.rows; ++r) kern::get_row(m, r, out.data() + r * m.cols);
    return out;
}

}  // namespace

TEST(Prequant, GptqPartialLastGroupIsExactInQ4Blocks) {
    const GptqCase k(false);
    Store s(gptq_tensors("l", k.out, k.in, k.groups, k.q, k.z, k.s, k.g_idx));
    WeightBinder b(s.store, {});
    auto u = unpack_prequant(*cfg_of(kGptq), b, "l", k.out, k.in);
    ASSERT_TRUE(u.has_value());
    for (int64_t r = 0; r < k.out; ++r)
        for (int64_t c = 0; c < k.in; ++c)
            ASSERT_EQ(u->value(r, c), k.weight(r, c)) << r << "," << c;
    WeightArena arena;
    uint64_t bytes = 0;
    const kern::Mat m = prequant_matrix(*u, WeightFormat::Auto, false, arena, bytes);
    // -scale * zero is not always an F16: the F32-scaled blocks hold it exactly.
    EXPECT_EQ(m.quant, kern::QType::Q4_1F);
    EXPECT_EQ(bytes, uint64_t(k.out) * 2 * 24);
    const std::vector<float> w = dequantized(m);
    for (int64_t r = 0; r < k.out; ++r)
        for (int64_t c = 0; c < k.in; ++c)
            ASSERT_EQ(w[size_t(r * k.in + c)], k.weight(r, c)) << r << "," << c;
    b.finish();  // every tensor taken
}

TEST(Prequant, GptqActOrderGroupsFollowGIdx) {
    const GptqCase k(true);
    Store s(gptq_tensors("l", k.out, k.in, k.groups, k.q, k.z, k.s, k.g_idx));
    WeightBinder b(s.store, {});
    auto u = unpack_prequant(*cfg_of(kGptq), b, "l", k.out, k.in);
    ASSERT_TRUE(u.has_value());
    for (int64_t r = 0; r < k.out; ++r)
        for (int64_t c = 0; c < k.in; ++c)
            ASSERT_EQ(u->value(r, c), k.weight(r, c)) << r << "," << c;
    WeightArena arena;
    uint64_t bytes = 0;
    // Groups that cross blocks of 32 cannot be Q4 blocks: F16, each weight rounded once.
    const kern::Mat m = prequant_matrix(*u, WeightFormat::Auto, false, arena, bytes);
    EXPECT_EQ(m.quant, kern::QType::None);
    EXPECT_EQ(m.dtype, DType::F16);
    const std::vector<float> w = dequantized(m);
    for (int64_t i = 0; i < k.out * k.in; ++i)
        ASSERT_EQ(w[size_t(i)], kern::f16_to_f32(kern::f32_to_f16(k.weight(i / k.in, i % k.in))));
    // F32 on request: the weights themselves.
    const kern::Mat f = prequant_matrix(*u, WeightFormat::F32, false, arena, bytes);
    EXPECT_EQ(f.dtype, DType::F32);
    const std::vector<float> wf = dequantized(f);
    for (int64_t i = 0; i < k.out * k.in; ++i)
        ASSERT_EQ(wf[size_t(i)], k.weight(i / k.in, i % k.in));
}

TEST(Prequant, GptqV2StoresTheZeroItself) {
    const GptqCase k(false);
    std::vector<T> ts = gptq_tensors("l", k.out, k.in, k.groups, k.q, k.z, k.s, k.g_idx);
    Store s(ts);
    WeightBinder b(s.store, {});
    auto u = unpack_prequant(
        *cfg_of(R"({"quantization_config":{"quant_method":"gptq","bits":4,"group_size":32,
        "checkpoint_format":"gptq_v2"}})"),
        b, "l", k.out, k.in);
    ASSERT_TRUE(u.has_value());
    for (int64_t r = 0; r < k.out; ++r)
        for (int64_t c = 0; c < k.in; ++c) {
            const int64_t g = k.g_idx[size_t(c)];
            const int stored = (k.z[size_t(g * k.out + r)] - 1) & 15;
            const float sc = kern::f16_to_f32(kern::f32_to_f16(k.s[size_t(g * k.out + r)]));
            ASSERT_EQ(u->value(r, c), sc * float(k.q[size_t(r * k.in + c)] - stored));
        }
}

TEST(Prequant, AwqNibbleOrderIsInterleaved) {
    // out 16, in 32, one group: code of (input c, output o) = (o + c) % 16, zero of o = o % 7.
    const int64_t out = 16, in = 32;
    const int order[8] = {0, 2, 4, 6, 1, 3, 5, 7};  // nibble k of a word holds output order[k]
    std::vector<uint32_t> qweight(size_t(in * out / 8), 0), qzeros(size_t(out / 8), 0);
    for (int64_t c = 0; c < in; ++c)
        for (int64_t j = 0; j < out / 8; ++j)
            for (int k = 0; k < 8; ++k)
                qweight[size_t(c * (out / 8) + j)] |= uint32_t((8 * j + order[k] + c) % 16)
                                                      << (4 * k);
    for (int64_t j = 0; j < out / 8; ++j)
        for (int k = 0; k < 8; ++k)
            qzeros[size_t(j)] |= uint32_t((8 * j + order[k]) % 7) << (4 * k);
    std::vector<float> sc;
    for (int64_t o = 0; o < out; ++o) sc.push_back(0.5f + 0.25f * float(o));
    Store s({{"l.qweight", "I32", {in, out / 8}, raw(qweight)},
             {"l.qzeros", "I32", {1, out / 8}, raw(qzeros)},
             {"l.scales", "F16", {1, out}, f16s(sc)}});
    WeightBinder b(s.store, {});
    auto u = unpack_prequant(
        *cfg_of(R"({"quantization_config":{"quant_method":"awq","bits":4,"group_size":32,
        "zero_point":true,"version":"GEMM"}})"),
        b, "l", out, in);
    ASSERT_TRUE(u.has_value());
    for (int64_t o = 0; o < out; ++o)
        for (int64_t c = 0; c < in; ++c)
            ASSERT_EQ(u->value(o, c), sc[size_t(o)] * float((o + c) % 16 - o % 7)) << o << "," << c;
    WeightArena arena;
    uint64_t bytes = 0;
    const kern::Mat m = prequant_matrix(*u, WeightFormat::Auto, false, arena, bytes);
    EXPECT_EQ(m.quant, kern::QType::Q4_1);  // scales of 1/4 steps times small zeros: F16-exact
    const std::vector<float> w = dequantized(m);
    for (int64_t o = 0; o < out; ++o)
        for (int64_t c = 0; c < in; ++c) ASSERT_EQ(w[size_t(o * in + c)], u->value(o, c));
}

TEST(Prequant, MlxBitStreamsOf4And8Bits) {
    for (int bits : {4, 8}) {
        const int64_t out = 3, in = 64, group = 32, words = in * bits / 32;
        std::vector<uint32_t> w(size_t(out * words), 0);
        auto code = [&](int64_t r, int64_t c) { return uint32_t((r * 37 + c * 11) % (1 << bits)); };
        for (int64_t r = 0; r < out; ++r)
            for (int64_t c = 0; c < in; ++c)
                w[size_t(r * words + c * bits / 32)] |= code(r, c) << ((c * bits) % 32);
        std::vector<float> sc, bi;
        for (int64_t i = 0; i < out * 2; ++i) {
            sc.push_back(0.013f * float(i + 1));
            bi.push_back(-0.1f * float(i) + 0.031f);
        }
        std::vector<uint16_t> scb, bib;  // BF16 scales and biases
        for (float f : sc) {
            uint32_t u;
            std::memcpy(&u, &f, 4);
            scb.push_back(uint16_t(u >> 16));
        }
        for (float f : bi) {
            uint32_t u;
            std::memcpy(&u, &f, 4);
            bib.push_back(uint16_t(u >> 16));
        }
        Store s({{"m.weight", "U32", {out, words}, raw(w)},
                 {"m.scales", "BF16", {out, 2}, raw(scb)},
                 {"m.biases", "BF16", {out, 2}, raw(bib)}});
        WeightBinder b(s.store, {});
        auto cfg =
            cfg_of(R"({"quantization":{"group_size":32,"bits":)" + std::to_string(bits) + "}}");
        auto u = unpack_prequant(*cfg, b, "m", out, in);
        ASSERT_TRUE(u.has_value());
        for (int64_t r = 0; r < out; ++r)
            for (int64_t c = 0; c < in; ++c) {
                const size_t g = size_t(r * 2 + c / group);
                const float p = kern::bf16_to_f32(scb[g]) * float(code(r, c));
                ASSERT_EQ(u->value(r, c), p + kern::bf16_to_f32(bib[g]))
                    << bits << " " << r << "," << c;
            }
        WeightArena arena;
        uint64_t bytes = 0;
        const kern::Mat m = prequant_matrix(*u, WeightFormat::Auto, false, arena, bytes);
        if (bits == 4) {
            EXPECT_NE(m.quant, kern::QType::None);
            const std::vector<float> d = dequantized(m);
            for (int64_t i = 0; i < out * in; ++i)
                ASSERT_EQ(d[size_t(i)], u->value(i / in, i % in));
        } else {
            EXPECT_EQ(m.dtype, DType::F16);  // 8-bit codes: F16, rounded
        }
    }
}

TEST(Prequant, UnquantizedLayersAreLeftToTheOrdinaryPath) {
    Store s({{"x.weight", "F32", {2, 2}, std::string(16, '\0')}});
    WeightBinder b(s.store, {});
    EXPECT_FALSE(
        unpack_prequant(*cfg_of(R"({"quantization":{"group_size":64,"bits":4}})"), b, "x", 2, 2));
    EXPECT_FALSE(unpack_prequant(*cfg_of(kGptq), b, "x", 2, 2));
}

TEST(Prequant, OtherMethodsAreRefusedByName) {
    for (const char *m : {"bitsandbytes", "fp8", "eetq", "hqq", "compressed-tensors", "aqlm",
                          "quanto", "torchao", "fbgemm_fp8", "bitnet", "auto-round"})
        expect_error(
            [&] {
                cfg_of(std::string(R"({"quantization_config":{"quant_method":")") + m + "\"}}");
            },
            HFK_E_UNSUPPORTED, {std::string("\"") + m + "\"", "pre-quantized"});
    expect_error([] { cfg_of(R"({"quantization_config":{"load_in_4bit":true}})"); },
                 HFK_E_UNSUPPORTED, {"\"bitsandbytes\""});
    expect_error([] { cfg_of(R"({"quantization_config":{}})"); }, HFK_E_UNSUPPORTED, {"unnamed"});
    expect_error([] { cfg_of(R"({"quantization":{"group_size":32,"bits":4,"mode":"mxfp4"}})"); },
                 HFK_E_UNSUPPORTED, {"MLX", "mxfp4"});
    expect_error([] { cfg_of(R"({"quantization":{"group_size":64,"bits":3}})"); },
                 HFK_E_UNSUPPORTED, {"MLX affine 3-bit"});
    expect_error(
        [] {
            cfg_of(R"({"quantization_config":{"quant_method":"gptq","bits":3,"group_size":128}})");
        },
        HFK_E_UNSUPPORTED, {"GPTQ 3-bit"});
    expect_error(
        [] {
            cfg_of(R"({"quantization_config":{"quant_method":"gptq","bits":4,
            "checkpoint_format":"marlin"}})");
        },
        HFK_E_UNSUPPORTED, {"marlin"});
    expect_error(
        [] {
            cfg_of(R"({"quantization_config":{"quant_method":"awq","bits":4,"group_size":128,
            "version":"gemv"}})");
        },
        HFK_E_UNSUPPORTED, {"gemv"});
    // Through the model checks as well.
    expect_error(
        [] {
            check_supported_for_inference(parse_config(
                R"({"model_type":"llama","hidden_size":64,"intermediate_size":128,
                "num_hidden_layers":1,"num_attention_heads":4,"vocab_size":100,
                "max_position_embeddings":64,"quantization_config":{"quant_method":"hqq"}})"));
        },
        HFK_E_UNSUPPORTED, {"\"hqq\""});
    // MLX's own block (with the copy mlx-lm writes as quantization_config) and GPTQ/AWQ pass.
    EXPECT_NE(cfg_of(R"({"quantization":{"group_size":64,"bits":4},
                         "quantization_config":{"group_size":64,"bits":4}})"),
              nullptr);
    EXPECT_EQ(cfg_of(R"({"model_type":"llama"})"), nullptr);
}

TEST(Prequant, MalformedBlocksAreFormatErrors) {
    expect_error([] { cfg_of(R"({"quantization":{"group_size":48,"bits":4}})"); }, HFK_E_FORMAT,
                 {"group_size"});
    expect_error([] { cfg_of(R"({"quantization":{"bits":4}})"); }, HFK_E_FORMAT, {"group_size"});
    expect_error([] { cfg_of(R"({"quantization_config":{"quant_method":"gptq","bits":"four"}})"); },
                 HFK_E_FORMAT, {"bits"});
    expect_error([] { cfg_of(R"({"quantization":{"group_size":64,"bits":4,"l":{"bits":5}}})"); },
                 HFK_E_UNSUPPORTED, {"5-bit"});
    // The model check has one status (the config fuzzer holds it to that): unsupported.
    expect_error(
        [] {
            check_supported_for_inference(parse_config(
                R"({"model_type":"llama","hidden_size":64,"intermediate_size":128,
                "num_hidden_layers":1,"num_attention_heads":4,"vocab_size":100,
                "max_position_embeddings":64,"quantization":{"group_size":48,"bits":4}})"));
        },
        HFK_E_UNSUPPORTED, {"group_size"});
}

TEST(Prequant, MalformedTensorsAreFormatErrors) {
    const GptqCase k(false);
    const auto full = gptq_tensors("l", k.out, k.in, k.groups, k.q, k.z, k.s, k.g_idx);
    auto without = [&](const std::string &name) {
        std::vector<T> ts;
        for (const T &t : full)
            if (t.name != name) ts.push_back(t);
        return ts;
    };
    auto gptq = [&](const std::vector<T> &ts, std::initializer_list<std::string> frags) {
        Store s(ts);
        WeightBinder b(s.store, {});
        expect_error([&] { unpack_prequant(*cfg_of(kGptq), b, "l", k.out, k.in); }, HFK_E_FORMAT,
                     frags);
    };
    gptq(without("l.scales"), {"missing tensor", "l.scales"});
    gptq(without("l.qzeros"), {"missing tensor", "l.qzeros"});
    {  // qweight of the wrong shape
        std::vector<T> ts = full;
        ts[0].shape = {k.out, k.in / 8};
        gptq(ts, {"l.qweight", "has shape"});
    }
    {  // a group index past the last group
        std::vector<T> ts = full;
        std::vector<int32_t> g = k.g_idx;
        g[5] = 7;
        ts[3].bytes = raw(g);
        gptq(ts, {"l.g_idx", "group 7"});
    }
    {  // scales of an integer type
        std::vector<T> ts = full;
        ts[2].dtype = "I16";
        gptq(ts, {"l.scales", "I16"});
    }
    {  // a NaN scale
        std::vector<T> ts = full;
        std::vector<float> sc = k.s;
        sc[3] = NAN;
        ts[2].bytes = f16s(sc);
        gptq(ts, {"non-finite"});
    }
    // MLX: biases missing; scales of the wrong shape; a packed weight without scales is not a
    // float matrix (the ordinary binder refuses its U32 dtype).
    const std::string words(size_t(2 * 8 * 4), '\0');
    const std::string halves(size_t(2 * 2 * 2), '\0');
    auto mlx = [&](const std::vector<T> &ts, std::initializer_list<std::string> frags) {
        Store s(ts);
        WeightBinder b(s.store, {});
        expect_error(
            [&] {
                if (!unpack_prequant(*cfg_of(R"({"quantization":{"group_size":32,"bits":4}})"), b,
                                     "m", 2, 64))
                    b.take("m.weight", {2, 64});
            },
            HFK_E_FORMAT, frags);
    };
    mlx({{"m.weight", "U32", {2, 8}, words}, {"m.scales", "F16", {2, 2}, halves}},
        {"missing tensor", "m.biases"});
    mlx({{"m.weight", "U32", {2, 8}, words},
         {"m.scales", "F16", {2, 1}, halves.substr(0, 4)},
         {"m.biases", "F16", {2, 2}, halves}},
        {"m.scales", "has shape"});
    mlx({{"m.weight", "U32", {2, 8}, words}, {"m.biases", "F16", {2, 2}, halves}},
        {"m.biases", "no \"m.scales\""});
    mlx({{"m.weight", "U32", {2, 8}, words}}, {"m.weight"});
    {  // inputs not a multiple of the group
        Store s({{"m.weight", "U32", {2, 8}, words},
                 {"m.scales", "F16", {2, 2}, halves},
                 {"m.biases", "F16", {2, 2}, halves}});
        WeightBinder b(s.store, {});
        expect_error(
            [&] {
                unpack_prequant(*cfg_of(R"({"quantization":{"group_size":32,"bits":4}})"), b, "m",
                                2, 48);
            },
            HFK_E_FORMAT, {"not a multiple of the group"});
    }
}
