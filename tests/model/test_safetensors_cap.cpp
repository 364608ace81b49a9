// The tensor-count cap of safetensors headers (RELIABILITY a.1), exercised for real: a header
// with exactly kSafetensorsMaxTensors tensors is accepted and one with a single tensor more is
// refused, naming the cap. Both headers are ~65 MB (under the 100 MB header cap), so the only
// thing that tells them apart is the count.
#include <gtest/gtest.h>

#include <string>

#include "model/safetensors.h"
#include "util/error.h"

using namespace hfk;

namespace {

// n one-byte U8 tensors, contiguous from offset 0.
std::string header_with(size_t n) {
    std::string h;
    h.reserve(n * 72 + 2);
    h += '{';
    for (size_t i = 0; i < n; ++i) {
        const std::string at = std::to_string(i), next = std::to_string(i + 1);
        if (i) h += ',';
        h += '"' + at + R"(":{"dtype":"U8","shape":[1],"data_offsets":[)" + at + ',' + next + "]}";
    }
    h += '}';
    return h;
}

}  // namespace

TEST(SafetensorsCap, ExactlyTheCapIsAccepted) {
    const std::string h = header_with(kSafetensorsMaxTensors);
    ASSERT_LT(h.size(), kSafetensorsMaxHeader);
    const auto tensors = parse_safetensors_header_only(h, "cap.safetensors");
    EXPECT_EQ(tensors.size(), kSafetensorsMaxTensors);
    EXPECT_EQ(safetensors_data_size(tensors), kSafetensorsMaxTensors);
}

TEST(SafetensorsCap, OneTensorOverTheCapIsRefused) {
    const std::string h = header_with(kSafetensorsMaxTensors + 1);
    ASSERT_LT(h.size(), kSafetensorsMaxHeader);
    try {
        parse_safetensors_header_only(h, "over.safetensors");
        FAIL() << "a header with " << kSafetensorsMaxTensors + 1 << " tensors was accepted";
    } catch (const Error &e) {
        EXPECT_EQ(e.status(), HFK_E_FORMAT);
        const std::string msg = e.what();
        EXPECT_NE(msg.find("over.safetensors"), std::string::npos) << msg;
        EXPECT_NE(msg.find("more than " + std::to_string(kSafetensorsMaxTensors) + " tensors"),
                  std::string::npos)
            << msg;
    }
}
