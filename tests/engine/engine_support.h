// Shared by the engine tests: the trained tiny Llama, loaded once per process.
#pragma once

#include <memory>
#include <string>
#include <vector>

#include "../support/test_support.h"
#include "engine/engine.h"
#include "runtime/loaded_model.h"

namespace hfk_test {

inline std::shared_ptr<const hfk::LoadedModel> aidreams() {
    static std::shared_ptr<const hfk::LoadedModel> m =
        hfk::LoadedModel::load(shared_models_dir() / "aidreams260K", {}, {});
    return m;
}

// Prompts in the trained model's domain (children's stories), from one word to a long sentence.
inline const std::vector<std::string> kStoryPrompts = {
    "Once upon a time",
    "The little dog ran",
    "She looked at the sky and",
    "In a small village near the sea, there lived an old man who",
    "Tom",
    "The cat and the bird were friends. One day",
    "Lily wanted to play",
    "It was a sunny day. The children went to the park and saw a big tree with red",
};

// A greedy request for n new tokens (the engine's default options otherwise).
inline hfk::EngineRequest greedy(const std::string &prompt, int32_t n) {
    hfk::EngineRequest r;
    r.prompt = prompt;
    r.options.max_new_tokens = n;
    return r;
}

}  // namespace hfk_test
