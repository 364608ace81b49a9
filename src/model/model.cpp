// Model::load: config.json -> architecture -> the weights bound by that architecture's file.
#include "model/model.h"

#include <algorithm>
#include <cmath>

#include "model/prequant.h"
#include "models/common.h"
#include "models/decoder.h"
#include "util/error.h"

namespace hfk {

const char *weight_format_name(WeightFormat f) {
    switch (f) {
        case WeightFormat::F32:
            return "f32";
        case WeightFormat::BF16:
            return "bf16";
        case WeightFormat::Q8:
            return "q8";
        case WeightFormat::Q4:
            return "q4";
        default:
            return "auto";
    }
}

std::optional<WeightFormat> weight_format_from_name(std::string_view name) {
    for (WeightFormat f : {WeightFormat::Auto, WeightFormat::F32, WeightFormat::BF16,
                           WeightFormat::Q8, WeightFormat::Q4})
        if (name == weight_format_name(f)) return f;
    return std::nullopt;
}

std::string load_variant(const LoadOptions &o) {
    if (o.format == WeightFormat::Auto) return "";
    std::string v = weight_format_name(o.format);
    if (!o.quantize_embeddings && (o.format == WeightFormat::Q8 || o.format == WeightFormat::Q4))
        v += "+embeddings-as-stored";
    return v;
}

KvCache::~KvCache() = default;
Model::~Model() = default;

std::unique_ptr<KvCache> Model::make_cache(int32_t, DType) const {
    fail(HFK_E_UNSUPPORTED, "the '" + architecture() + "' model is an encoder: it has no KV cache");
}

void Model::forward(KvCache &, std::span<const int32_t>, float *, bool, int32_t) const {
    fail(HFK_E_UNSUPPORTED, "the '" + architecture() + "' model is an encoder: it cannot generate");
}

void Model::forward_batch(std::span<const BatchItem>, int32_t) const {
    fail(HFK_E_UNSUPPORTED,
         "the '" + architecture() + "' model has no batched forward (continuous batching)");
}

EncoderOutput Model::encode(std::span<const int32_t>, std::span<const int32_t>, int32_t) const {
    fail(HFK_E_UNSUPPORTED,
         "the '" + architecture() + "' model is causal: use forward(), not encode()");
}

std::shared_ptr<const Model> Model::load(const std::filesystem::path &dir, const LoadOptions &opts,
                                         const std::function<bool(double)> &progress) {
    models::report_progress(progress, 0.0);
    ModelConfig cfg = load_config(dir);
    check_supported_for_inference(cfg);
    LoadOptions with_prequant = opts;
    with_prequant.prequant = prequant_config(cfg.raw);
    const LoadOptions &o = with_prequant;
    std::shared_ptr<const WeightStore> store = WeightStore::open(dir);
    // Most of a load is bringing the weight pages in (0 .. 0.9); binding them is quick.
    store->populate([&](double f) { return progress && progress(0.9 * f); });
    const auto binding_progress = [&](double f) { return progress && progress(0.9 + 0.1 * f); };
    const std::string type = inference_family(cfg);
    std::shared_ptr<const Model> model;
    if (type == "gpt2")
        model = models::make_gpt2(std::move(cfg), std::move(store), o, binding_progress);
    else if (type == "bert")
        model = models::make_bert(std::move(cfg), std::move(store), o, binding_progress);
    else if (type == "roberta" || type == "xlm-roberta")
        model = models::make_roberta(std::move(cfg), std::move(store), o, binding_progress);
    else if (type == "distilbert")
        model = models::make_distilbert(std::move(cfg), std::move(store), o, binding_progress);
    else if (type == "modernbert")
        model = models::make_modernbert(std::move(cfg), std::move(store), o, binding_progress);
    else if (type == "llama" || type == "mistral" || type == "qwen2")
        model = models::make_llama(std::move(cfg), std::move(store), o, binding_progress);
    else if (type == "qwen3")
        model = models::make_qwen3(std::move(cfg), std::move(store), o, binding_progress);
    else if (type == "gemma" || type == "gemma2" || type == "gemma3_text")
        model = models::make_gemma(std::move(cfg), std::move(store), o, binding_progress);
    else if (type == "phi3")
        model = models::make_phi3(std::move(cfg), std::move(store), o, binding_progress);
    else if (type == "mixtral")
        model = models::make_mixtral(std::move(cfg), std::move(store), o, binding_progress);
    else if (type == "qwen3_moe")
        model = models::make_qwen3_moe(std::move(cfg), std::move(store), o, binding_progress);
    else if (type == "phi")
        model = models::make_phi(std::move(cfg), std::move(store), o, binding_progress);
    else if (type == "smollm3")
        model = models::make_smollm3(std::move(cfg), std::move(store), o, binding_progress);
    else
        fail(HFK_E_UNSUPPORTED, "model_type '" + type + "' is not supported");
    models::report_progress(progress, 1.0);
    return model;
}

void mean_pool(const EncoderOutput &out, float *dst) {
    for (int32_t j = 0; j < out.hidden; ++j) {
        double sum = 0;
        for (int32_t i = 0; i < out.n_tokens; ++i)
            sum += out.last_hidden_state[size_t(i) * out.hidden + j];
        dst[j] = float(sum / double(out.n_tokens > 0 ? out.n_tokens : 1));
    }
}

void l2_normalize(float *v, int32_t n) {
    double ss = 0;
    for (int32_t i = 0; i < n; ++i) ss += double(v[i]) * v[i];
    const double norm = std::max(std::sqrt(ss), 1e-12);
    for (int32_t i = 0; i < n; ++i) v[i] = float(v[i] / norm);
}

}  // namespace hfk
