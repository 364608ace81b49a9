#include "auth.h"

namespace server {

namespace {
// Compares every byte of `expected` whatever the result so far; the time depends only on the
// key's length, which is no secret worth keeping.
bool constant_time_equal(std::string_view given, std::string_view expected) {
    volatile unsigned char diff = given.size() == expected.size() ? 0 : 1;
    for (size_t i = 0; i < expected.size(); ++i) {
        const unsigned char g = i < given.size() ? static_cast<unsigned char>(given[i]) : 0;
        diff = static_cast<unsigned char>(diff | (g ^ static_cast<unsigned char>(expected[i])));
    }
    return diff == 0;
}
}  // namespace

bool authorized(std::string_view header, const std::string &key) {
    constexpr std::string_view kBearer = "Bearer ";
    if (header.size() < kBearer.size()) return false;
    for (size_t i = 0; i < kBearer.size(); ++i)
        if ((header[i] | 0x20) != (kBearer[i] | 0x20)) return false;  // the scheme is case-blind
    return constant_time_equal(header.substr(kBearer.size()), key);
}

}  // namespace server
