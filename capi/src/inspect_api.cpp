// C ABI: the model inspector (src/inspect) as a struct and a JSON string.
#include <memory>
#include <string>

#include "guard.h"
#include "hub_options.h"
#include "inspect/inspect.h"

using hfk::capi::set_error;

// Owns the engine's result; `info` points into it, so the two live and die together.
struct hfk_inspection {
    hfk::Inspection result;
    std::string json;
    hfk_model_info info{};
};

namespace {

const hfk_inspect_params kInspectDefaults = {sizeof(hfk_inspect_params), 0, 0, 0, nullptr};

void fill_info(hfk_inspection &h) {
    const hfk::Inspection &r = h.result;
    hfk_model_info &i = h.info;
    i.struct_size = sizeof(hfk_model_info);
    i.supported_for_inference = r.supported_for_inference ? 1 : 0;
    i.source = r.source.c_str();
    i.model_type = r.model_type.c_str();
    i.architecture = r.architecture.c_str();
    i.unsupported_reason = r.unsupported_reason.c_str();
    i.stored_dtype = r.stored_dtype.c_str();
    i.parameters_source = r.parameters_source.c_str();
    i.parameters = r.parameters;
    i.active_parameters = r.active_parameters;
    i.parameters_exact = r.parameters_exact ? 1 : 0;
    i.multimodal = r.multimodal ? 1 : 0;
    i.tied_embeddings = r.tied_embeddings ? 1 : 0;
    i.kv_bytes_per_element = r.kv_bytes_per_element;
    i.vocab_size = r.vocab_size;
    i.context_length = r.context_length;
    i.layers = r.layers;
    i.heads = r.heads;
    i.kv_heads = r.kv_heads;
    i.head_dim = r.head_dim;
    i.hidden_size = r.hidden_size;
    i.intermediate_size = r.intermediate_size;
    i.num_experts = r.num_experts;
    i.experts_per_token = r.experts_per_token;
    i.stored_weight_bytes = r.stored_weight_bytes;
    i.weight_bytes_f32 = r.weight_bytes.f32;
    i.weight_bytes_f16 = r.weight_bytes.f16;
    i.weight_bytes_q8_0 = r.weight_bytes.q8;
    i.weight_bytes_q4_0 = r.weight_bytes.q4;
    i.weight_bytes_q4_1 = r.weight_bytes.q4_1;
    i.kv_context_length = r.kv_context_length;
    i.batch = r.batch;
    i.kv_bytes_per_token = r.kv_bytes_per_token;
    i.kv_bytes_total = r.kv_bytes_total;
    i.overhead_bytes = r.overhead_bytes;
    i.resident_estimate = r.resident_estimate;
    i.download_bytes = r.download_bytes;
    i.available_memory = r.available_memory;
    i.free_disk = r.free_disk;
    i.fits_memory = r.fits_memory ? 1 : 0;
    i.fits_disk = r.fits_disk ? 1 : 0;
}

}  // namespace

extern "C" {

HFK_API hfk_status hfk_inspect_params_init(hfk_inspect_params *p, size_t caller_size) noexcept {
    return hfk::capi::init_options(p, caller_size, kInspectDefaults);
}

HFK_API hfk_status hfk_inspect(hfk_inspection **out, const char *id_or_path,
                               const hfk_inspect_params *params) noexcept {
    HFK_REQUIRE_ARG(out);
    *out = nullptr;
    HFK_REQUIRE_ARG(id_or_path);
    hfk_inspect_params p;
    if (hfk_status s = hfk::capi::read_options(p, params, kInspectDefaults); s != HFK_OK) return s;
    if (p.kv_bytes_per_element > 0 && p.kv_bytes_per_element != 1 && p.kv_bytes_per_element != 2 &&
        p.kv_bytes_per_element != 4)
        return set_error(HFK_E_INVALID_ARG, "kv_bytes_per_element must be 1, 2 or 4, not " +
                                                std::to_string(p.kv_bytes_per_element));
    return hfk::capi::with_hub_options(
        p.hub, [&](const hfk_hub_params &, const hfk::hub::Options &hub) -> hfk_status {
            hfk::InspectOptions o;
            o.context_length = p.context_length > 0 ? p.context_length : 0;
            o.batch = p.batch > 0 ? p.batch : 1;
            o.kv_bytes_per_element = p.kv_bytes_per_element > 0 ? p.kv_bytes_per_element : 2;
            o.hub = hub;
            o.hub.progress = nullptr;  // a few KB: no progress events
            auto h = std::make_unique<hfk_inspection>();
            h->result = hfk::inspect_model(id_or_path, o);
            h->json = h->result.to_json();
            fill_info(*h);
            *out = h.release();
            return HFK_OK;
        });
}

HFK_API void hfk_inspection_free(hfk_inspection *inspection) noexcept {
    delete inspection;
}

HFK_API const hfk_model_info *hfk_inspection_info(const hfk_inspection *inspection) noexcept {
    return inspection ? &inspection->info : nullptr;
}

HFK_API const char *hfk_inspection_json(const hfk_inspection *inspection) noexcept {
    return inspection ? inspection->json.c_str() : nullptr;
}

}  // extern "C"
