/* The ABI layout table: sizeof and offsetof of every public struct on x86-64 (LP64), frozen.
 * If this test fails, a struct changed layout: fields may only be appended (then add rows
 * here), never reordered, resized or removed. See capi/README.md, "ABI policy". */
#include <stddef.h>
#include <stdio.h>

#include "hfkit/hfkit.h"

struct row {
    const char *what;
    size_t actual;
    size_t expected;
};

static const struct row rows[] = {
    {"hfk_progress", sizeof(hfk_progress), 48},
    {"hfk_progress.struct_size", offsetof(hfk_progress, struct_size), 0},
    {"hfk_progress.phase", offsetof(hfk_progress, phase), 4},
    {"hfk_progress.fraction", offsetof(hfk_progress, fraction), 8},
    {"hfk_progress.bytes_done", offsetof(hfk_progress, bytes_done), 16},
    {"hfk_progress.bytes_total", offsetof(hfk_progress, bytes_total), 24},
    {"hfk_progress.files_done", offsetof(hfk_progress, files_done), 32},
    {"hfk_progress.files_total", offsetof(hfk_progress, files_total), 36},
    {"hfk_progress.file_name", offsetof(hfk_progress, file_name), 40},
    {"hfk_hub_params", sizeof(hfk_hub_params), 104},
    {"hfk_hub_params.struct_size", offsetof(hfk_hub_params, struct_size), 0},
    {"hfk_hub_params.endpoint", offsetof(hfk_hub_params, endpoint), 8},
    {"hfk_hub_params.token", offsetof(hfk_hub_params, token), 16},
    {"hfk_hub_params.cache_dir", offsetof(hfk_hub_params, cache_dir), 24},
    {"hfk_hub_params.revision", offsetof(hfk_hub_params, revision), 32},
    {"hfk_hub_params.offline", offsetof(hfk_hub_params, offline), 40},
    {"hfk_hub_params.allow_patterns", offsetof(hfk_hub_params, allow_patterns), 48},
    {"hfk_hub_params.n_allow_patterns", offsetof(hfk_hub_params, n_allow_patterns), 56},
    {"hfk_hub_params.ignore_patterns", offsetof(hfk_hub_params, ignore_patterns), 64},
    {"hfk_hub_params.n_ignore_patterns", offsetof(hfk_hub_params, n_ignore_patterns), 72},
    {"hfk_hub_params.max_parallel", offsetof(hfk_hub_params, max_parallel), 76},
    {"hfk_hub_params.progress", offsetof(hfk_hub_params, progress), 80},
    {"hfk_hub_params.progress_user_data", offsetof(hfk_hub_params, progress_user_data), 88},
    {"hfk_hub_params.verify", offsetof(hfk_hub_params, verify), 96},
    {"hfk_hub_params.force_download", offsetof(hfk_hub_params, force_download), 100},
    {"hfk_model_status", sizeof(hfk_model_status), 56},
    {"hfk_model_status.struct_size", offsetof(hfk_model_status, struct_size), 0},
    {"hfk_model_status.state", offsetof(hfk_model_status, state), 4},
    {"hfk_model_status.error", offsetof(hfk_model_status, error), 8},
    {"hfk_model_status.load_fraction", offsetof(hfk_model_status, load_fraction), 16},
    {"hfk_model_status.bytes_done", offsetof(hfk_model_status, bytes_done), 24},
    {"hfk_model_status.bytes_total", offsetof(hfk_model_status, bytes_total), 32},
    {"hfk_model_status.files_done", offsetof(hfk_model_status, files_done), 40},
    {"hfk_model_status.files_total", offsetof(hfk_model_status, files_total), 44},
    {"hfk_model_status.model", offsetof(hfk_model_status, model), 48},
    {"hfk_load_params", sizeof(hfk_load_params), 56},
    {"hfk_load_params.struct_size", offsetof(hfk_load_params, struct_size), 0},
    {"hfk_load_params.n_threads", offsetof(hfk_load_params, n_threads), 4},
    {"hfk_load_params.progress", offsetof(hfk_load_params, progress), 8},
    {"hfk_load_params.progress_user_data", offsetof(hfk_load_params, progress_user_data), 16},
    {"hfk_load_params.hub", offsetof(hfk_load_params, hub), 24},
    {"hfk_load_params.on_state", offsetof(hfk_load_params, on_state), 32},
    {"hfk_load_params.state_user_data", offsetof(hfk_load_params, state_user_data), 40},
    {"hfk_load_params.skip_resource_check", offsetof(hfk_load_params, skip_resource_check), 48},
    {"hfk_load_params.n_ctx", offsetof(hfk_load_params, n_ctx), 52},
    {"hfk_session_params", sizeof(hfk_session_params), 12},
    {"hfk_session_params.struct_size", offsetof(hfk_session_params, struct_size), 0},
    {"hfk_session_params.n_ctx", offsetof(hfk_session_params, n_ctx), 4},
    {"hfk_session_params.n_threads", offsetof(hfk_session_params, n_threads), 8},
    {"hfk_gen_params", sizeof(hfk_gen_params), 80},
    {"hfk_gen_params.struct_size", offsetof(hfk_gen_params, struct_size), 0},
    {"hfk_gen_params.max_new_tokens", offsetof(hfk_gen_params, max_new_tokens), 4},
    {"hfk_gen_params.temperature", offsetof(hfk_gen_params, temperature), 8},
    {"hfk_gen_params.top_k", offsetof(hfk_gen_params, top_k), 12},
    {"hfk_gen_params.top_p", offsetof(hfk_gen_params, top_p), 16},
    {"hfk_gen_params.min_p", offsetof(hfk_gen_params, min_p), 20},
    {"hfk_gen_params.repetition_penalty", offsetof(hfk_gen_params, repetition_penalty), 24},
    {"hfk_gen_params.presence_penalty", offsetof(hfk_gen_params, presence_penalty), 28},
    {"hfk_gen_params.frequency_penalty", offsetof(hfk_gen_params, frequency_penalty), 32},
    {"hfk_gen_params.seed", offsetof(hfk_gen_params, seed), 40},
    {"hfk_gen_params.stop", offsetof(hfk_gen_params, stop), 48},
    {"hfk_gen_params.n_stop", offsetof(hfk_gen_params, n_stop), 56},
    {"hfk_gen_params.add_special_tokens", offsetof(hfk_gen_params, add_special_tokens), 60},
    {"hfk_gen_params.ignore_eos", offsetof(hfk_gen_params, ignore_eos), 64},
    {"hfk_gen_params.constraint_kind", offsetof(hfk_gen_params, constraint_kind), 68},
    {"hfk_gen_params.constraint", offsetof(hfk_gen_params, constraint), 72},
    {"hfk_gen_result", sizeof(hfk_gen_result), 48},
    {"hfk_gen_result.struct_size", offsetof(hfk_gen_result, struct_size), 0},
    {"hfk_gen_result.stop_reason", offsetof(hfk_gen_result, stop_reason), 4},
    {"hfk_gen_result.n_prompt_tokens", offsetof(hfk_gen_result, n_prompt_tokens), 8},
    {"hfk_gen_result.n_reused_tokens", offsetof(hfk_gen_result, n_reused_tokens), 12},
    {"hfk_gen_result.n_generated_tokens", offsetof(hfk_gen_result, n_generated_tokens), 16},
    {"hfk_gen_result.time_to_first_token_ms", offsetof(hfk_gen_result, time_to_first_token_ms), 24},
    {"hfk_gen_result.prefill_tokens_per_s", offsetof(hfk_gen_result, prefill_tokens_per_s), 32},
    {"hfk_gen_result.decode_tokens_per_s", offsetof(hfk_gen_result, decode_tokens_per_s), 40},
    {"hfk_embed_params", sizeof(hfk_embed_params), 16},
    {"hfk_embed_params.struct_size", offsetof(hfk_embed_params, struct_size), 0},
    {"hfk_embed_params.pooling", offsetof(hfk_embed_params, pooling), 4},
    {"hfk_embed_params.normalize", offsetof(hfk_embed_params, normalize), 8},
    {"hfk_embed_params.n_threads", offsetof(hfk_embed_params, n_threads), 12},
    {"hfk_inspect_params", sizeof(hfk_inspect_params), 32},
    {"hfk_inspect_params.struct_size", offsetof(hfk_inspect_params, struct_size), 0},
    {"hfk_inspect_params.context_length", offsetof(hfk_inspect_params, context_length), 8},
    {"hfk_inspect_params.batch", offsetof(hfk_inspect_params, batch), 16},
    {"hfk_inspect_params.kv_bytes_per_element", offsetof(hfk_inspect_params, kv_bytes_per_element), 20},
    {"hfk_inspect_params.hub", offsetof(hfk_inspect_params, hub), 24},
    {"hfk_model_info", sizeof(hfk_model_info), 288},
    {"hfk_model_info.struct_size", offsetof(hfk_model_info, struct_size), 0},
    {"hfk_model_info.supported_for_inference", offsetof(hfk_model_info, supported_for_inference), 4},
    {"hfk_model_info.source", offsetof(hfk_model_info, source), 8},
    {"hfk_model_info.model_type", offsetof(hfk_model_info, model_type), 16},
    {"hfk_model_info.architecture", offsetof(hfk_model_info, architecture), 24},
    {"hfk_model_info.unsupported_reason", offsetof(hfk_model_info, unsupported_reason), 32},
    {"hfk_model_info.stored_dtype", offsetof(hfk_model_info, stored_dtype), 40},
    {"hfk_model_info.parameters_source", offsetof(hfk_model_info, parameters_source), 48},
    {"hfk_model_info.parameters", offsetof(hfk_model_info, parameters), 56},
    {"hfk_model_info.active_parameters", offsetof(hfk_model_info, active_parameters), 64},
    {"hfk_model_info.parameters_exact", offsetof(hfk_model_info, parameters_exact), 72},
    {"hfk_model_info.multimodal", offsetof(hfk_model_info, multimodal), 76},
    {"hfk_model_info.tied_embeddings", offsetof(hfk_model_info, tied_embeddings), 80},
    {"hfk_model_info.kv_bytes_per_element", offsetof(hfk_model_info, kv_bytes_per_element), 84},
    {"hfk_model_info.vocab_size", offsetof(hfk_model_info, vocab_size), 88},
    {"hfk_model_info.context_length", offsetof(hfk_model_info, context_length), 96},
    {"hfk_model_info.layers", offsetof(hfk_model_info, layers), 104},
    {"hfk_model_info.heads", offsetof(hfk_model_info, heads), 112},
    {"hfk_model_info.kv_heads", offsetof(hfk_model_info, kv_heads), 120},
    {"hfk_model_info.head_dim", offsetof(hfk_model_info, head_dim), 128},
    {"hfk_model_info.hidden_size", offsetof(hfk_model_info, hidden_size), 136},
    {"hfk_model_info.intermediate_size", offsetof(hfk_model_info, intermediate_size), 144},
    {"hfk_model_info.num_experts", offsetof(hfk_model_info, num_experts), 152},
    {"hfk_model_info.experts_per_token", offsetof(hfk_model_info, experts_per_token), 160},
    {"hfk_model_info.stored_weight_bytes", offsetof(hfk_model_info, stored_weight_bytes), 168},
    {"hfk_model_info.weight_bytes_f32", offsetof(hfk_model_info, weight_bytes_f32), 176},
    {"hfk_model_info.weight_bytes_f16", offsetof(hfk_model_info, weight_bytes_f16), 184},
    {"hfk_model_info.weight_bytes_q8_0", offsetof(hfk_model_info, weight_bytes_q8_0), 192},
    {"hfk_model_info.weight_bytes_q4_0", offsetof(hfk_model_info, weight_bytes_q4_0), 200},
    {"hfk_model_info.kv_context_length", offsetof(hfk_model_info, kv_context_length), 208},
    {"hfk_model_info.batch", offsetof(hfk_model_info, batch), 216},
    {"hfk_model_info.kv_bytes_per_token", offsetof(hfk_model_info, kv_bytes_per_token), 224},
    {"hfk_model_info.kv_bytes_total", offsetof(hfk_model_info, kv_bytes_total), 232},
    {"hfk_model_info.overhead_bytes", offsetof(hfk_model_info, overhead_bytes), 240},
    {"hfk_model_info.resident_estimate", offsetof(hfk_model_info, resident_estimate), 248},
    {"hfk_model_info.download_bytes", offsetof(hfk_model_info, download_bytes), 256},
    {"hfk_model_info.available_memory", offsetof(hfk_model_info, available_memory), 264},
    {"hfk_model_info.free_disk", offsetof(hfk_model_info, free_disk), 272},
    {"hfk_model_info.fits_memory", offsetof(hfk_model_info, fits_memory), 280},
    {"hfk_model_info.fits_disk", offsetof(hfk_model_info, fits_disk), 284},
};

int main(void) {
    size_t i, bad = 0, n = sizeof rows / sizeof rows[0];
    if (sizeof(void *) != 8) {
        printf("the layout table is written for LP64; this platform has %u-byte pointers\n",
               (unsigned)sizeof(void *));
        return 1;
    }
    for (i = 0; i < n; ++i) {
        if (rows[i].actual != rows[i].expected) {
            printf("ABI CHANGE: %s is %u, the table says %u\n", rows[i].what,
                   (unsigned)rows[i].actual, (unsigned)rows[i].expected);
            ++bad;
        }
    }
    printf("%u layout rows checked, %u changed\n", (unsigned)n, (unsigned)bad);
    return bad == 0 ? 0 : 1;
}
