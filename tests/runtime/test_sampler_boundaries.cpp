// Issue 15 item 7: temperatures down to the smallest positive float sample the argmax, as greedy
// does; (logit - max) / T never overflows into inf - inf = NaN.
#include <gtest/gtest.h>

#include <cfloat>
#include <cmath>
#include <vector>

#include "runtime/sampler.h"

namespace {

using hfk::Sampler;
using hfk::SamplerParams;

// Positive and negative logits with one clear maximum (id 4), none tied with it.
std::vector<float> logits() {
    return {3.0f, -2.0f, 7.5f, 0.0f, 9.25f, 9.0f, -40.0f, 5.0f};
}

TEST(SamplerBoundaries, TinyPositiveTemperaturesPickTheArgmax) {
    for (float t : {std::nextafter(0.0f, 1.0f), 1e-38f, FLT_MIN, 1e-30f, 1e-12f, 1e-3f}) {
        for (uint64_t seed = 0; seed < 50; ++seed) {
            SamplerParams p;
            p.temperature = t;
            p.seed = seed;
            Sampler s(p);
            auto l = logits();
            ASSERT_EQ(s.sample(l, {}, {}), 4) << "temperature " << t << " seed " << seed;
            for (float x : l) EXPECT_FALSE(std::isnan(x));
        }
    }
}

// Just above the boundary the distribution is still a distribution: a temperature large enough
// to flatten it reaches other ids too (the fix must not turn every small T into greedy by fiat).
TEST(SamplerBoundaries, ModerateTemperaturesStillSample) {
    SamplerParams p;
    p.temperature = 100.0f;
    int not_argmax = 0;
    for (uint64_t seed = 0; seed < 50; ++seed) {
        p.seed = seed;
        Sampler s(p);
        auto l = logits();
        if (s.sample(l, {}, {}) != 4) ++not_argmax;
    }
    EXPECT_GT(not_argmax, 10);
}

}  // namespace
