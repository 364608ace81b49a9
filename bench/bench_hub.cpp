// Download benchmark: hfkit's prepare() vs curl, both from the local Hub on loopback, on a
// generated file (256 MB by default, in /tmp), plus streaming SHA-256 cost. Medians of 5.
// The server is Python's http.server (BENCH.md's "curl from Python's http.server" row).
#include <openssl/evp.h>
#include <sys/stat.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <fstream>
#include <random>
#include <vector>

#include "hub/hub.h"
#include "hub_server.h"

namespace fs = std::filesystem;
using Clock = std::chrono::steady_clock;

static double median(std::vector<double> v) {
    std::sort(v.begin(), v.end());
    return v[v.size() / 2];
}

int main(int argc, char **argv) {
    setenv("HFK_SOURCE_DIR", HFK_BENCH_SOURCE_DIR, 0);
    setenv("HFK_SHARED_DIR", HFK_BENCH_SHARED_DIR, 0);
    const uint64_t mb = argc > 1 ? std::strtoull(argv[1], nullptr, 10) : 256;
    const uint64_t size = mb << 20;
    const int reps = argc > 2 ? std::max(1, std::atoi(argv[2])) : 7;
    fs::path model = "/tmp/hfk-bench-hub-model";
    fs::create_directories(model);
    fs::path weights = model / "model.safetensors";
    std::error_code ec;
    if (!fs::exists(weights, ec) || fs::file_size(weights) != size) {
        std::printf("generating %llu MB into %s\n", (unsigned long long)mb, weights.c_str());
        std::ofstream f(weights, std::ios::binary);
        std::mt19937_64 rng(42);
        std::vector<uint64_t> buf(1 << 17);
        for (uint64_t done = 0; done < size; done += buf.size() * 8) {
            for (auto &x : buf) x = rng();
            f.write(reinterpret_cast<const char *>(buf.data()),
                    static_cast<std::streamsize>(std::min<uint64_t>(buf.size() * 8, size - done)));
        }
        std::ofstream(model / "config.json") << "{\"model_type\": \"bench\"}\n";
    }
    hfk_test::HubServer server({"--repo", "bench=" + model.string()});
    hfk_test::TempDir tmp;

    // hfkit's prepare() of the weights into a fresh cache (download + hash + flush + rename),
    // then curl -L of the same URL to a file, alternately: the machine's noise drifts, so each
    // pair sees the same conditions.
    std::vector<double> hfkit_mbs, curl_mbs;
    std::string out = (tmp.path / "curl.out").string();
    std::string cmd = "curl -s -f -L -o '" + out + "' '" + server.endpoint +
                      "/hfkit-test/bench/resolve/main/model.safetensors'";
    for (int i = 0; i < reps; ++i) {
        hfk::hub::Options o;
        o.endpoint = server.endpoint;
        o.cache_dir = (tmp.path / ("c" + std::to_string(i))).string();
        o.token = std::string();
        o.allow_patterns = {"model.safetensors"};
        auto t0 = Clock::now();
        hfk::hub::prepare("hfkit-test/bench", o);
        double s = std::chrono::duration<double>(Clock::now() - t0).count();
        hfkit_mbs.push_back(size / 1e6 / s);
        fs::remove_all(o.cache_dir, ec);

        t0 = Clock::now();
        if (std::system(cmd.c_str()) != 0) {
            std::fprintf(stderr, "curl failed\n");
            return 1;
        }
        s = std::chrono::duration<double>(Clock::now() - t0).count();
        curl_mbs.push_back(size / 1e6 / s);
        fs::remove(out, ec);
    }
    // SHA-256 (OpenSSL EVP) over the file in memory, 1 MiB updates as in the download.
    std::vector<char> data(size);
    std::ifstream(weights, std::ios::binary).read(data.data(), static_cast<std::streamsize>(size));
    std::vector<double> sha_mbs;
    for (int i = 0; i < reps; ++i) {
        auto t0 = Clock::now();
        EVP_MD_CTX *ctx = EVP_MD_CTX_new();
        EVP_DigestInit_ex(ctx, EVP_sha256(), nullptr);
        for (uint64_t off = 0; off < size; off += 1 << 20)
            EVP_DigestUpdate(ctx, data.data() + off, std::min<uint64_t>(1 << 20, size - off));
        unsigned char md[32];
        unsigned int n;
        EVP_DigestFinal_ex(ctx, md, &n);
        EVP_MD_CTX_free(ctx);
        double s = std::chrono::duration<double>(Clock::now() - t0).count();
        sha_mbs.push_back(size / 1e6 / s);
    }
    double h = median(hfkit_mbs), c = median(curl_mbs);
    std::printf(
        "\nDownload from the local Hub (Python http.server, loopback), %llu MB file, median of "
        "%d\n",
        (unsigned long long)mb, reps);
    std::printf("| test | MB/s (here) | BENCH.md reference MB/s |\n|---|---|---|\n");
    std::printf(
        "| hfkit prepare() to the cache (sha256 while streaming) | %.0f | target: within 10%% of "
        "curl |\n",
        h);
    std::printf(
        "| curl -L to a file, same server | %.0f | 1,072 (curl from Python's http.server) |\n", c);
    std::printf("| hfkit / curl | %.2f | >= 0.90 |\n", h / c);
    std::printf("| SHA-256 (OpenSSL EVP, in memory) | %.0f | 955 (openssl dgst -sha256) |\n",
                median(sha_mbs));
    std::printf("spreads: hfkit %.0f-%.0f, curl %.0f-%.0f MB/s\n",
                *std::min_element(hfkit_mbs.begin(), hfkit_mbs.end()),
                *std::max_element(hfkit_mbs.begin(), hfkit_mbs.end()),
                *std::min_element(curl_mbs.begin(), curl_mbs.end()),
                *std::max_element(curl_mbs.begin(), curl_mbs.end()));
    return 0;
}
