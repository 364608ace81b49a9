// Encoders through the public C API: CLS pooling against the torch reference, and the
// sequence-classification success path on a tiny-bert checkpoint given a classifier head here.
#include <cmath>
#include <cstring>

#include "api_support.h"

namespace {

using namespace hfk_api_test;
namespace fs = std::filesystem;
using nlohmann::json;

fs::path bert_dir() {
    return shared_dir() / "models/tiny/tiny-bert-f32";
}
fs::path bert_reference() {
    return shared_dir() / "reference/forward/tiny-bert-f32";
}

std::string text_of(const std::vector<int32_t> &ids) {
    std::string t;
    for (int32_t id : ids) t += (t.empty() ? "t" : " t") + std::to_string(id);
    return t;
}

int64_t bert_vocab() {
    return read_json(bert_dir() / "config.json")["vocab_size"].get<int64_t>();
}

// ---- CLS pooling ---------------------------------------------------------------------------

TEST(EncoderApi, ClsPoolingEqualsTheReferenceFirstHiddenState) {
    TempDir tmp;
    for (const char *name : {"config.json", "model.safetensors"})
        fs::create_symlink(bert_dir() / name, tmp.path / name);
    write_word_level_tokenizer(tmp.path, bert_vocab());
    auto model = load(tmp.path);
    ASSERT_TRUE(model);
    const int32_t dim = hfk_model_embedding_dim(model.get());
    ASSERT_EQ(dim, 32);
    for (const char *file : {"forward_f32.json", "forward_single_f32.json"}) {
        SCOPED_TRACE(file);
        const json ref = read_json(bert_reference() / file);
        const auto ids = ref["ids"].get<std::vector<int32_t>>();
        const auto want = ref["last_hidden_state_first"].get<std::vector<double>>();
        ASSERT_EQ(want.size(), static_cast<size_t>(dim));
        ASSERT_EQ(tokenize(hfk_model_tokenizer(model.get()), text_of(ids), true), ids);
        const std::string text = text_of(ids);
        const char *texts[] = {text.c_str()};

        hfk_embed_params ep;
        HFK_EMBED_PARAMS_INIT(&ep);
        ep.pooling = HFK_POOLING_CLS;
        ep.normalize = 0;
        std::vector<float> raw(dim);
        ASSERT_EQ(hfk_model_embed(model.get(), texts, 1, &ep, raw.data(), raw.size()), HFK_OK)
            << hfk_last_error_message();
        double norm = 0;
        for (int32_t i = 0; i < dim; ++i) {
            EXPECT_NEAR(raw[i], want[i], 1e-4) << "dimension " << i;
            norm += want[i] * want[i];
        }
        norm = std::sqrt(norm);
        ASSERT_GT(std::fabs(norm - 1.0), 1e-2) << "the reference is already unit norm";

        ep.normalize = 1;
        std::vector<float> unit(dim);
        ASSERT_EQ(hfk_model_embed(model.get(), texts, 1, &ep, unit.data(), unit.size()), HFK_OK)
            << hfk_last_error_message();
        double got_norm = 0;
        for (int32_t i = 0; i < dim; ++i) {
            got_norm += double(unit[i]) * unit[i];
            EXPECT_NEAR(unit[i], want[i] / norm, 1e-4) << "dimension " << i;
        }
        EXPECT_NEAR(std::sqrt(got_norm), 1.0, 1e-5);
    }
}

// ---- classification ----------------------------------------------------------------------

// A copy of `src` (a safetensors file) with extra F32 tensors appended after its data.
struct ExtraTensor {
    std::string name;
    std::vector<int64_t> shape;
    std::vector<float> values;
};

void write_with_extra_tensors(const fs::path &src, const fs::path &dst,
                              const std::vector<ExtraTensor> &extra) {
    std::ifstream in(src, std::ios::binary);
    ASSERT_TRUE(in) << src;
    uint64_t n = 0;
    in.read(reinterpret_cast<char *>(&n), 8);
    std::string header(n, '\0');
    in.read(header.data(), static_cast<std::streamsize>(n));
    const std::string data((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
    json h = json::parse(header);
    uint64_t end = data.size();
    std::string appended;
    for (const auto &t : extra) {
        const uint64_t bytes = t.values.size() * sizeof(float);
        h[t.name] = {{"dtype", "F32"}, {"shape", t.shape}, {"data_offsets", {end, end + bytes}}};
        appended.append(reinterpret_cast<const char *>(t.values.data()), bytes);
        end += bytes;
    }
    std::string new_header = h.dump();
    while (new_header.size() % 8 != 0) new_header += ' ';
    const uint64_t new_n = new_header.size();
    std::ofstream out(dst, std::ios::binary);
    out.write(reinterpret_cast<const char *>(&new_n), 8);
    out << new_header << data << appended;
    ASSERT_TRUE(out.good()) << dst;
}

const char *const kLabels[] = {"negative", "neutral", "positive"};
constexpr int kNumLabels = 3;

// A deterministic classifier head whose logits spread over a few units for the reference's
// pooled vector (so the softmax is neither flat nor saturated).
std::vector<float> classifier_weight(int dim) {
    std::vector<float> w(static_cast<size_t>(kNumLabels * dim));
    for (int i = 0; i < kNumLabels; ++i)
        for (int j = 0; j < dim; ++j)
            w[static_cast<size_t>(i * dim + j)] =
                0.6f * std::sin(1.7f * float(i) + 0.37f * float(j) + 0.2f);
    return w;
}
const std::vector<float> kClassifierBias = {0.25f, -0.5f, 0.1f};

fs::path classifier_checkpoint(const TempDir &tmp, int dim) {
    json cfg = read_json(bert_dir() / "config.json");
    cfg["architectures"] = {"BertForSequenceClassification"};
    cfg["id2label"] = {{"0", kLabels[0]}, {"1", kLabels[1]}, {"2", kLabels[2]}};
    cfg["label2id"] = {{kLabels[0], 0}, {kLabels[1], 1}, {kLabels[2], 2}};
    std::ofstream(tmp.path / "config.json") << cfg.dump(2);
    write_with_extra_tensors(bert_dir() / "model.safetensors", tmp.path / "model.safetensors",
                             {{"classifier.weight", {kNumLabels, dim}, classifier_weight(dim)},
                              {"classifier.bias", {kNumLabels}, kClassifierBias}});
    write_word_level_tokenizer(tmp.path, cfg["vocab_size"].get<int64_t>());
    return tmp.path;
}

// softmax(W . pooled + b), in double, from the reference pooled output.
std::vector<double> expected_scores(const std::vector<double> &pooled) {
    const int dim = static_cast<int>(pooled.size());
    const auto w = classifier_weight(dim);
    std::vector<double> logits(kNumLabels);
    for (int i = 0; i < kNumLabels; ++i) {
        double z = kClassifierBias[static_cast<size_t>(i)];
        for (int j = 0; j < dim; ++j) z += double(w[static_cast<size_t>(i * dim + j)]) * pooled[j];
        logits[static_cast<size_t>(i)] = z;
    }
    double m = logits[0];
    for (double z : logits) m = std::max(m, z);
    double sum = 0;
    for (double &z : logits) sum += (z = std::exp(z - m));
    for (double &z : logits) z /= sum;
    return logits;
}

TEST(EncoderApi, ClassifyEqualsSoftmaxOfTheHeadOnThePooledReference) {
    TempDir tmp;
    const int dim =
        static_cast<int>(read_json(bert_dir() / "config.json")["hidden_size"].get<int64_t>());
    auto model = load(classifier_checkpoint(tmp, dim));
    ASSERT_TRUE(model);
    ASSERT_EQ(hfk_model_num_labels(model.get()), kNumLabels);
    for (int i = 0; i < kNumLabels; ++i) {
        ASSERT_NE(hfk_model_label(model.get(), i), nullptr);
        EXPECT_STREQ(hfk_model_label(model.get(), i), kLabels[i]);
    }
    EXPECT_EQ(hfk_model_label(model.get(), kNumLabels), nullptr);
    EXPECT_EQ(hfk_model_label(model.get(), -1), nullptr);
    for (const char *file : {"forward_f32.json", "forward_single_f32.json"}) {
        SCOPED_TRACE(file);
        const json ref = read_json(bert_reference() / file);
        const auto want = expected_scores(ref["pooled"].get<std::vector<double>>());
        double lo = 1, hi = 0;
        for (double p : want) lo = std::min(lo, p), hi = std::max(hi, p);
        ASSERT_GT(hi - lo, 0.05) << "the head gives near-uniform scores: a weak test";
        ASSERT_LT(hi, 0.999) << "the head saturates: a weak test";
        const std::string text = text_of(ref["ids"].get<std::vector<int32_t>>());
        float scores[kNumLabels + 1];
        scores[kNumLabels] = -7.0f;  // untouched guard
        ASSERT_EQ(hfk_model_classify(model.get(), text.c_str(), scores, kNumLabels + 1), HFK_OK)
            << hfk_last_error_message();
        double sum = 0;
        for (int i = 0; i < kNumLabels; ++i) {
            EXPECT_NEAR(scores[i], want[static_cast<size_t>(i)], 1e-4) << kLabels[i];
            sum += scores[i];
        }
        EXPECT_NEAR(sum, 1.0, 1e-5);
        EXPECT_EQ(scores[kNumLabels], -7.0f);
    }
    float two[2];
    EXPECT_EQ(hfk_model_classify(model.get(), "t5 t6", two, 2), HFK_E_BUFFER_TOO_SMALL);
}

}  // namespace
