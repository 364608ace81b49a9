// hfkit inspect's resident estimate of pre-quantized checkpoints (issue 18) against what loading
// them as stored really holds (Model::weight_bytes(): every bound tensor's bytes, the unpacked
// Q4_1 / Q4_1F blocks and F16 layers included). The estimate must not undercount (it used the
// file sizes: 4-bit codes at 16 bytes per 32 weights where hfkit holds 20 or 24, 8-bit codes at
// 1 byte per weight where it holds F16), and stays within 25% above (it counts every 4-bit layer
// as Q4_1F and vectors as F32).
#include <gtest/gtest.h>

#include <cstdlib>
#include <filesystem>
#include <string>

#include "inspect/inspect.h"
#include "model/model.h"
#include "prequant_cases.h"

using namespace hfk;
namespace fs = std::filesystem;

namespace {

class PrequantResident : public testing::TestWithParam<std::string> {};

TEST_P(PrequantResident, EstimateCoversTheLoadedBytes) {
    const fs::path dir = hfk_test::prequant_case_dir(GetParam());
    LoadOptions o;
    o.n_threads = 1;
    const uint64_t loaded = Model::load(dir, o)->weight_bytes();
    const Inspection r = inspect_model(dir.string(), {});
    // The weights' part of resident_estimate.
    const uint64_t estimate = r.resident_estimate - r.kv_bytes_total - r.overhead_bytes;
    std::printf("%s: loaded %llu bytes, estimate %llu, file %llu\n", GetParam().c_str(),
                static_cast<unsigned long long>(loaded), static_cast<unsigned long long>(estimate),
                static_cast<unsigned long long>(r.stored_weight_bytes));
    EXPECT_EQ(estimate, r.resident_weight_bytes);
    EXPECT_GE(estimate, loaded);
    EXPECT_LE(double(estimate), 1.25 * double(loaded));
}

INSTANTIATE_TEST_SUITE_P(Formats, PrequantResident, testing::ValuesIn(hfk_test::kPrequantCases),
                         hfk_test::prequant_case_test_name);

}  // namespace
