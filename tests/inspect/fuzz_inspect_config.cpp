// libFuzzer target for the inspector's own arithmetic and header reading (RELIABILITY.md d.5):
// input = a config.json, optionally followed by a line "#####" and the bytes of a
// model.safetensors, read through the same header reader the Hub path uses. Properties: only
// HFK_E_FORMAT is thrown; accepted counts respect active <= total <= 2^50 and the headers read are
// within the file.
#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <map>
#include <string>
#include <string_view>

#include "inspect/inspect.h"
#include "inspect/weight_headers.h"
#include "util/error.h"

namespace {

class MemoryFiles final : public hfk::inspect::ModelFiles {
  public:
    explicit MemoryFiles(std::map<std::string, std::string> files) : files_(std::move(files)) {}
    std::string where() const override { return "mem"; }
    std::vector<std::string> list() override {
        std::vector<std::string> out;
        for (auto &[k, v] : files_) out.push_back(k);
        return out;
    }
    std::string read_small(const std::string &name, size_t max_bytes) override {
        const std::string &s = files_.at(name);
        if (s.size() > max_bytes) hfk::fail(HFK_E_FORMAT, "too big");
        return s;
    }
    std::string read_range(const std::string &name, uint64_t offset, uint64_t length) override {
        const std::string &s = files_.at(name);
        if (offset >= s.size()) return {};
        return s.substr(size_t(offset), size_t(std::min<uint64_t>(length, s.size() - offset)));
    }
    std::optional<uint64_t> file_size(const std::string &name) override {
        return files_.at(name).size();
    }

  private:
    std::map<std::string, std::string> files_;
};

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    std::string_view all(reinterpret_cast<const char *>(data), size);
    const size_t sep = all.find("\n#####\n");
    std::string_view config = sep == std::string_view::npos ? all : all.substr(0, sep);
    try {
        hfk::ModelConfig c = hfk::parse_config(config);
        uint64_t active = 0;
        uint64_t total = hfk::count_parameters_from_config(c, &active);
        if (active > total || total > (uint64_t(1) << 50)) __builtin_trap();
    } catch (const hfk::Error &e) {
        if (e.status() != HFK_E_FORMAT) __builtin_trap();
    }
    if (sep != std::string_view::npos) {
        std::string weights(all.substr(sep + 7));
        MemoryFiles files({{"model.safetensors", weights}});
        try {
            hfk::inspect::WeightHeaders h = hfk::inspect::read_weight_headers(files);
            if (h.header_bytes > weights.size() || h.file_bytes != weights.size()) __builtin_trap();
        } catch (const hfk::Error &e) {
            if (e.status() != HFK_E_FORMAT) __builtin_trap();
        }
    }
    return 0;
}
