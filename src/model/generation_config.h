// generation_config.json: the checkpoint's default sampling settings (RELIABILITY.md CJ5).
#pragma once

#include <cstdint>
#include <filesystem>
#include <optional>
#include <string_view>
#include <vector>

namespace hfk {

struct GenerationDefaults {
    std::optional<float> temperature, top_p, min_p, repetition_penalty;
    std::optional<int32_t> top_k, max_new_tokens;
    std::optional<bool> do_sample;
    std::vector<int32_t> eos_token_ids;
    std::optional<int32_t> bos_token_id, pad_token_id;
};

// Missing file -> all empty; malformed (bad JSON, wrong types, temperature < 0 or not finite,
// top_p outside (0,1], top_k < 0, ...) -> HFK_E_FORMAT naming the field.
GenerationDefaults parse_generation_config(std::string_view json_text,
                                           std::string_view file_name = "generation_config.json");
GenerationDefaults load_generation_config(const std::filesystem::path &dir);

}  // namespace hfk
