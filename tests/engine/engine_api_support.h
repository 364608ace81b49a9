// What the engine's C API tests share: an owning handle and the statistics read as a value.
#pragma once

#include <memory>

#include "../capi/api_support.h"

namespace hfk_api_test {

struct EngineDeleter {
    void operator()(hfk_engine *e) const { hfk_engine_free(e); }
};
using EnginePtr = std::unique_ptr<hfk_engine, EngineDeleter>;

inline hfk_engine_statistics stats(hfk_engine *e) {
    hfk_engine_statistics s;
    HFK_ENGINE_STATISTICS_INIT(&s);
    EXPECT_EQ(hfk_engine_stats(e, &s), HFK_OK);
    return s;
}

}  // namespace hfk_api_test
