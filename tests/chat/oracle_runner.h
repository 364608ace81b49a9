// Runs jinja_oracle.py (Debian's python3-jinja2 set up as transformers does) over a plan and
// returns its records by id.
#pragma once

#include <cstdio>
#include <ctime>
#include <filesystem>
#include <fstream>
#include <map>
#include <nlohmann/json.hpp>
#include <sstream>
#include <stdexcept>
#include <string>
#include <unistd.h>

namespace chat_test {

inline std::filesystem::path shared_dir() {
    const char *e = std::getenv("HFK_SHARED_DIR");
    return std::filesystem::path(e && *e ? e : HFK_TEST_SHARED_DIR);
}
inline std::filesystem::path source_dir() {
    const char *e = std::getenv("HFK_SOURCE_DIR");
    return std::filesystem::path(e && *e ? e : HFK_TEST_SOURCE_DIR);
}

inline std::string read_text(const std::filesystem::path &p) {
    std::ifstream f(p, std::ios::binary);
    std::stringstream ss;
    ss << f.rdbuf();
    return ss.str();
}

// The oracle's clock: 2024-07-26 12:00.
inline std::string fixed_clock(const std::string &format) {
    std::tm tm{};
    tm.tm_year = 124;
    tm.tm_mon = 6;
    tm.tm_mday = 26;
    tm.tm_hour = 12;
    std::time_t t = timegm(&tm);
    gmtime_r(&t, &tm);
    char buf[256];
    return std::string(buf, std::strftime(buf, sizeof buf, format.c_str(), &tm));
}

// id -> {"rendered"} or {"error", "raised"}.
inline std::map<std::string, nlohmann::ordered_json> run_oracle(
    const nlohmann::ordered_json &plan) {
    namespace fs = std::filesystem;
    fs::path plan_file =
        fs::temp_directory_path() / ("hfk_chat_oracle_" + std::to_string(getpid()) + "_" +
                                     std::to_string(std::rand()) + ".json");
    {
        std::ofstream f(plan_file, std::ios::binary);
        f << plan.dump();
    }
    std::string cmd = "/usr/bin/python3 " + (source_dir() / "tests/chat/jinja_oracle.py").string() +
                      " " + plan_file.string();
    FILE *p = popen(cmd.c_str(), "r");
    if (!p) throw std::runtime_error("cannot run " + cmd);
    std::string output;
    char buf[65536];
    size_t n;
    while ((n = fread(buf, 1, sizeof buf, p)) > 0) output.append(buf, n);
    int status = pclose(p);
    fs::remove(plan_file);
    if (status != 0) throw std::runtime_error("the oracle failed: " + cmd);
    std::map<std::string, nlohmann::ordered_json> out;
    std::istringstream lines(output);
    std::string line;
    while (std::getline(lines, line)) {
        auto rec = nlohmann::ordered_json::parse(line);
        out[rec["id"].get<std::string>()] = rec;
    }
    return out;
}

}  // namespace chat_test
