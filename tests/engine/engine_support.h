// Shared by the engine tests: the trained tiny Llama, loaded once per process.
#pragma once

#include <memory>

#include "../support/test_support.h"
#include "runtime/loaded_model.h"

namespace hfk_test {

inline std::shared_ptr<const hfk::LoadedModel> aidreams() {
    static std::shared_ptr<const hfk::LoadedModel> m =
        hfk::LoadedModel::load(shared_models_dir() / "aidreams260K", {}, {});
    return m;
}

}  // namespace hfk_test
