// Every numeric command-line option goes through these getters: the whole word must be a number
// of the option's type and range, or the command stops with a usage error naming the option.
// strtoll/strtoul would silently saturate ("--seed 18446744073709551615" became INT64_MAX) and a
// static_cast to int32_t would wrap ("--max-tokens 4294967296" became 0); from_chars reports both.
#include <charconv>
#include <cmath>
#include <cstdio>
#include <string>
#include <system_error>

#include "cli.h"

namespace cli {
namespace {

template <class T>
std::optional<T> parse_whole(const std::string &word) {
    T value{};
    const char *end = word.data() + word.size();
    const auto [ptr, ec] = std::from_chars(word.data(), end, value);
    if (word.empty() || ec != std::errc{} || ptr != end) return std::nullopt;
    return value;
}

std::string number_text(double d) {
    char buf[32];
    std::snprintf(buf, sizeof buf, "%g", d);
    return buf;
}

// "a number from 0 to 1", "a number above 0", "a finite number".
std::string range_text(double min, double max, bool min_excluded) {
    constexpr double kUnbounded = 1e30;  // float-sized limits read as "no limit"
    std::string text = "a number";
    if (min > -kUnbounded && max < kUnbounded)
        return text + (min_excluded ? " above " : " from ") + number_text(min) +
               (min_excluded ? " up to " : " to ") + number_text(max);
    if (min > -kUnbounded) return text + (min_excluded ? " above " : " >= ") + number_text(min);
    if (max < kUnbounded) return text + " <= " + number_text(max);
    return "a finite number";
}

}  // namespace

std::optional<int64_t> Args::get_int(const std::string &name, int64_t min, int64_t max) const {
    auto v = get(name);
    if (!v) return std::nullopt;
    const auto n = parse_whole<int64_t>(*v);
    if (!n || *n < min || *n > max)
        throw UsageError{"--" + name + " takes a whole number from " + std::to_string(min) +
                         " to " + std::to_string(max) + ", got '" + *v + "'"};
    return n;
}

std::optional<uint64_t> Args::get_uint64(const std::string &name) const {
    auto v = get(name);
    if (!v) return std::nullopt;
    const auto n = parse_whole<uint64_t>(*v);
    if (!n)
        throw UsageError{"--" + name + " takes a whole number from 0 to " +
                         std::to_string(UINT64_MAX) + ", got '" + *v + "'"};
    return n;
}

std::optional<double> Args::get_double(const std::string &name, double min, double max,
                                       bool min_excluded) const {
    auto v = get(name);
    if (!v) return std::nullopt;
    const auto d = parse_whole<double>(*v);
    if (!d || !std::isfinite(*d) || *d < min || *d > max || (min_excluded && *d == min))
        throw UsageError{"--" + name + " takes " + range_text(min, max, min_excluded) + ", got '" +
                         *v + "'"};
    return d;
}

}  // namespace cli
