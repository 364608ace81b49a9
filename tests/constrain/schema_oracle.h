// Random complete documents of a compiled JSON Schema, and python3-jsonschema (Debian's, an
// independent validator) as the oracle that checks them.
#pragma once

#include <cstdio>
#include <cstdlib>
#include <random>
#include <string>
#include <vector>

#include "../support/test_support.h"
#include "constrain/constraint.h"
#include "constrain/stack_engine.h"

namespace hfk::constrain {

// Complete documents of the grammar by random walks over bytes (ASCII where possible, so the
// walks stay short), `n` of them.
inline std::vector<std::string> sample_documents(const std::string &schema, int n, uint32_t seed) {
    StackEngine e(compile_constraint(Kind::JsonSchema, schema));
    std::mt19937 rng(seed);
    std::vector<std::string> out;
    for (int attempt = 0; attempt < 50 * n && int(out.size()) < n; ++attempt) {
        StateId s = e.start();
        std::string doc;
        while (doc.size() < 400) {
            if (e.accepting(s) && (!e.can_continue(s) || rng() % 3 == 0)) break;
            std::vector<uint8_t> ascii, any;
            for (unsigned b = 0; b < 256; ++b)
                if (b != '\n' && e.step(s, uint8_t(b)) != kDeadState)
                    (b < 0x80 ? ascii : any).push_back(uint8_t(b));
            const auto &pick = ascii.empty() ? any : ascii;
            if (pick.empty()) break;
            const uint8_t b = pick[rng() % pick.size()];
            doc += char(b);
            s = e.step(s, b);
        }
        if (e.accepting(s)) out.push_back(doc);
    }
    return out;
}

// How many of the documents python3-jsonschema rejects (-1 if the oracle did not run).
inline int n_invalid(const std::string &schema, const std::vector<std::string> &docs) {
    hfk_test::TempDir dir("hfk-schema-oracle");
    std::string lines;
    for (const auto &d : docs) lines += d + "\n";
    const auto schema_path = dir.write("schema.json", schema);
    const auto docs_path = dir.write("docs.txt", lines);
    const std::string script =
        "import json, sys, jsonschema\n"
        "schema = json.load(open(sys.argv[1]))\n"
        "v = jsonschema.Draft202012Validator(schema)\n"
        "bad = 0\n"
        "for line in open(sys.argv[2], encoding='utf-8'):\n"
        "    bad += not v.is_valid(json.loads(line))\n"
        "print(bad)\n";
    const auto script_path = dir.write("check.py", script);
    const std::string cmd = "/usr/bin/python3 " + script_path.string() + " " +
                            schema_path.string() + " " + docs_path.string();
    FILE *p = popen(cmd.c_str(), "r");
    if (!p) return -1;
    char buf[64] = {0};
    const bool got = fgets(buf, sizeof buf, p) != nullptr;
    if (pclose(p) != 0 || !got) return -1;
    return std::atoi(buf);
}

}  // namespace hfk::constrain
