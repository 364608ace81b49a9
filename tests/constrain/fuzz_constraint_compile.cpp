// Fuzz target: the first byte picks the front end (GBNF, JSON Schema, regex), the rest is its
// text. Compiling may fail only with hfk::Error(HFK_E_INVALID_ARG) (or HFK_E_RESOURCE for a
// grammar too ambiguous to expand); a grammar that compiles is then walked over a few bytes.
// Any other exception, a crash or a hang is a bug.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string>

#include "constrain/constraint.h"
#include "util/error.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    if (size == 0) return 0;
    using hfk::constrain::Kind;
    static const Kind kinds[] = {Kind::Gbnf, Kind::JsonSchema, Kind::Regex};
    const Kind kind = kinds[data[0] % 3];
    const std::string text(reinterpret_cast<const char *>(data) + 1, size - 1);
    try {
        auto grammar = hfk::constrain::compile_constraint(kind, text);
        hfk::constrain::StackEngine engine(grammar);
        hfk::constrain::StateId s = engine.start();
        for (size_t i = 1; i < size && s != hfk::constrain::kDeadState; ++i)
            s = engine.step(s, data[i]);
    } catch (const hfk::Error &e) {
        if (e.status() != HFK_E_INVALID_ARG && e.status() != HFK_E_RESOURCE) std::abort();
    }
    return 0;
}
