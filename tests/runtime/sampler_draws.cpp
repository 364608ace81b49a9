// Test driver for the sampling-distribution oracle (test_sampler_distribution.py): reads one
// case as JSON on stdin {"logits": [...], "params": {...}, "context": [...], "generated": [...],
// "n": draws}, runs Sampler::sample n times on fresh copies of the logits with one seeded
// sampler, and prints the count of each token id as a JSON array.
#include <cstdio>
#include <iostream>
#include <iterator>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "runtime/sampler.h"
#include "util/error.h"

int main() {
    try {
        const std::string input((std::istreambuf_iterator<char>(std::cin)),
                                std::istreambuf_iterator<char>());
        const auto c = nlohmann::json::parse(input);
        const auto &jp = c.at("params");
        hfk::SamplerParams p;
        p.temperature = jp.value("temperature", 1.0f);
        p.top_k = jp.value("top_k", 0);
        p.top_p = jp.value("top_p", 1.0f);
        p.min_p = jp.value("min_p", 0.0f);
        p.repetition_penalty = jp.value("repetition_penalty", 1.0f);
        p.presence_penalty = jp.value("presence_penalty", 0.0f);
        p.frequency_penalty = jp.value("frequency_penalty", 0.0f);
        p.seed = jp.value("seed", uint64_t(0));
        hfk::validate(p);
        std::vector<float> logits;
        for (const auto &v : c.at("logits"))
            logits.push_back(v.is_null() ? -INFINITY : v.get<float>());  // null = masked
        const auto context = c.value("context", std::vector<int32_t>{});
        const auto generated = c.value("generated", std::vector<int32_t>{});
        const int64_t n = c.at("n").get<int64_t>();
        hfk::Sampler sampler(p);
        std::vector<int64_t> counts(logits.size(), 0);
        std::vector<float> work(logits.size());
        for (int64_t i = 0; i < n; ++i) {
            work = logits;
            const int32_t id = sampler.sample(work, context, generated);
            if (id < 0 || static_cast<size_t>(id) >= counts.size()) {
                std::fprintf(stderr, "sampled id %d out of range\n", id);
                return 1;
            }
            ++counts[static_cast<size_t>(id)];
        }
        std::cout << nlohmann::json(counts).dump() << "\n";
        return 0;
    } catch (const std::exception &e) {
        std::fprintf(stderr, "sampler_draws: %s\n", e.what());
        return 1;
    }
}
