#include "constraint_options.h"

#include <fstream>
#include <sstream>

namespace cli {

const std::vector<std::string> kConstraintValueOptions = {"json-schema", "grammar", "regex"};

const char *const kConstraintOptionsHelp =
    "  --json-schema FILE     the output is JSON valid against the JSON Schema in FILE\n"
    "                         ('{}' in FILE: any JSON value)\n"
    "  --grammar FILE         the output is a sentence of the GBNF grammar in FILE (rule root)\n"
    "  --regex RE             the whole output matches the regular expression RE\n"
    "                         (a constrained output cut short by --max-tokens or the context\n"
    "                         is reported on stderr and exits 1; stop_reason\n"
    "                         \"constraint_incomplete\" with --json)\n";

namespace {
std::string read_file(const std::string &path) {
    std::ifstream f(path, std::ios::binary);
    if (!f) throw UsageError{"cannot read " + path};
    std::stringstream ss;
    ss << f.rdbuf();
    return ss.str();
}
}  // namespace

void apply_constraint_options(const Args &a, hfk_gen_params &p, std::string &text) {
    int given = 0;
    for (const auto &name : kConstraintValueOptions) given += a.flag(name) ? 1 : 0;
    if (given > 1) throw UsageError{"give at most one of --json-schema, --grammar, --regex"};
    if (auto f = a.get("json-schema")) {
        text = read_file(*f);
        p.constraint_kind = HFK_CONSTRAINT_JSON_SCHEMA;
    } else if (auto g = a.get("grammar")) {
        text = read_file(*g);
        p.constraint_kind = HFK_CONSTRAINT_GBNF;
    } else if (auto r = a.get("regex")) {
        text = *r;
        p.constraint_kind = HFK_CONSTRAINT_REGEX;
    } else {
        return;
    }
    p.constraint = text.c_str();
}

}  // namespace cli
