#include "generate_options.h"

#include <cstdint>
#include <limits>

namespace cli {

const std::vector<std::string> kGenValueOptions = {"max-tokens",
                                                   "temperature",
                                                   "top-k",
                                                   "top-p",
                                                   "min-p",
                                                   "repeat-penalty",
                                                   "presence-penalty",
                                                   "frequency-penalty",
                                                   "seed",
                                                   "stop",
                                                   "threads",
                                                   "ctx-size",
                                                   "quant",
                                                   "kv-dtype",
                                                   "compute"};

const char *const kGenOptionsHelp =
    "  --max-tokens N         tokens to generate at most (default: the model's, else 256)\n"
    "  --temperature T        0 = greedy (default: the model's generation_config, else greedy)\n"
    "  --top-k K              sample among the K most likely tokens (0 = off)\n"
    "  --top-p P              nucleus sampling mass in (0, 1] (1 = off)\n"
    "  --min-p P              drop tokens below P x the best probability (0 = off)\n"
    "  --repeat-penalty R     CTRL-style repetition penalty (1 = off)\n"
    "  --presence-penalty X   subtract X from tokens already generated\n"
    "  --frequency-penalty X  subtract X per occurrence among generated tokens\n"
    "  --seed S               random seed (same seed and options: same text)\n"
    "  --stop S               stop before the text S (repeatable)\n"
    "  --threads N            compute threads (default: one per core)\n"
    "  --ctx-size N           context size in tokens (default: the model's); the memory\n"
    "                         check sizes the KV cache for it (default min(the model's, 4096))\n"
    "  --skip-resource-check  load even if the model looks too big for the memory available\n"
    "  --quant FORMAT         weights in memory: q8 (int8 blocks), q4 (4-bit blocks), bf16, f32\n"
    "                         or auto (as stored, the default); q8/q4 quantize the\n"
    "                         embedding and lm_head too (as llama.cpp does)\n"
    "  --keep-embeddings      with --quant q8|q4: the embedding and lm_head stay as stored\n"
    "                         (higher precision, more bytes read per token)\n"
    "  --kv-dtype TYPE        the KV cache's element type: f32 (the default), f16 or bf16\n"
    "                         (half the cache's bytes)\n"
    "  --compute MODE         f32 (exact, the default) or bf16: prefills against BF16 weights\n"
    "                         round the activations to BF16 (vdpbf16ps; faster, not exact;\n"
    "                         exact anyway on a CPU without AVX512_BF16)\n";

int32_t thread_option(const Args &a) {
    return static_cast<int32_t>(a.get_int("threads", 0, kMaxThreads).value_or(0));
}

int32_t quant_option(const Args &a) {
    const auto v = a.get("quant");
    if (!v || *v == "auto") return HFK_QUANT_AUTO;
    if (*v == "f32") return HFK_QUANT_F32;
    if (*v == "bf16") return HFK_QUANT_BF16;
    if (*v == "q8") return HFK_QUANT_Q8;
    if (*v == "q4") return HFK_QUANT_Q4;
    throw UsageError{"--quant takes auto, f32, bf16, q8 or q4, got '" + *v + "'"};
}

int32_t kv_dtype_option(const Args &a) {
    const auto v = a.get("kv-dtype");
    if (!v || *v == "f32") return HFK_KV_F32;
    if (*v == "f16") return HFK_KV_F16;
    if (*v == "bf16") return HFK_KV_BF16;
    throw UsageError{"--kv-dtype takes f32, f16 or bf16, got '" + *v + "'"};
}

int32_t compute_option(const Args &a) {
    const auto v = a.get("compute");
    if (!v || *v == "f32") return HFK_COMPUTE_F32;
    if (*v == "bf16") return HFK_COMPUTE_BF16;
    throw UsageError{"--compute takes f32 or bf16, got '" + *v + "'"};
}

int32_t context_option(const Args &a) {
    return static_cast<int32_t>(a.get_int("ctx-size", 0, INT32_MAX).value_or(0));
}

void apply_gen_options(const Args &a, hfk_gen_params &p, std::vector<std::string> &stops,
                       std::vector<const char *> &stop_ptrs) {
    constexpr double kFloatMax = std::numeric_limits<float>::max();
    if (auto v = a.get_int("max-tokens", 0, INT32_MAX)) p.max_new_tokens = static_cast<int32_t>(*v);
    if (auto v = a.get_double("temperature", 0, kFloatMax)) p.temperature = static_cast<float>(*v);
    if (auto v = a.get_int("top-k", 0, INT32_MAX)) p.top_k = static_cast<int32_t>(*v);
    if (auto v = a.get_double("top-p", 0, 1, true)) p.top_p = static_cast<float>(*v);
    if (auto v = a.get_double("min-p", 0, 1)) p.min_p = static_cast<float>(*v);
    if (auto v = a.get_double("repeat-penalty", 0, kFloatMax, true))
        p.repetition_penalty = static_cast<float>(*v);
    if (auto v = a.get_double("presence-penalty", -kFloatMax, kFloatMax))
        p.presence_penalty = static_cast<float>(*v);
    if (auto v = a.get_double("frequency-penalty", -kFloatMax, kFloatMax))
        p.frequency_penalty = static_cast<float>(*v);
    if (auto v = a.get_uint64("seed")) p.seed = *v;
    if (auto it = a.options.find("stop"); it != a.options.end()) stops = it->second;
    stop_ptrs.clear();
    for (const auto &s : stops) stop_ptrs.push_back(s.c_str());
    p.stop = stop_ptrs.empty() ? nullptr : stop_ptrs.data();
    p.n_stop = static_cast<int32_t>(stop_ptrs.size());
}

}  // namespace cli
