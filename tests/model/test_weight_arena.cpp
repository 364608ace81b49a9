// WeightArena (model/weight_arena.h): the owned memory of converted weights. Every allocation
// 64-byte aligned, writable, apart from every other; small ones packed into shared chunks that
// ask for huge pages (the kernel's VmFlags "hg" in /proc/self/smaps says MADV_HUGEPAGE was taken,
// whether or not THP then finds huge pages), and a quantized load's matrices in such memory.
#include <gtest/gtest.h>

#include <algorithm>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>
#include <utility>
#include <vector>

#include "model/model.h"
#include "model/weight_arena.h"

using namespace hfk;

namespace {

// The VmFlags line of the mapping that holds p ("" when none is found).
std::string vm_flags_of(const void *p) {
    std::ifstream smaps("/proc/self/smaps");
    std::string line;
    bool inside = false;
    const uintptr_t a = reinterpret_cast<uintptr_t>(p);
    while (std::getline(smaps, line)) {
        unsigned long lo = 0, hi = 0;
        char dash = 0;
        std::istringstream head(line);
        if (line.find("VmFlags:") == 0) {
            if (inside) return line;
            continue;
        }
        if ((head >> std::hex >> lo >> dash >> hi) && dash == '-') inside = a >= lo && a < hi;
    }
    return "";
}

struct Mapping {
    uintptr_t lo = 0;
    uint64_t rss_kb = 0;
    bool anonymous = false;  // no file behind it (the checkpoint's own map is file-backed)
    bool hg = false;         // VmFlags has "hg": MADV_HUGEPAGE
};

std::vector<Mapping> mappings() {
    std::ifstream smaps("/proc/self/smaps");
    std::vector<Mapping> out;
    std::string line;
    while (std::getline(smaps, line)) {
        unsigned long lo = 0, hi = 0;
        char dash = 0;
        std::istringstream in(line);
        if (line.rfind("Rss:", 0) == 0 && !out.empty()) {
            std::istringstream(line.substr(4)) >> out.back().rss_kb;
        } else if (line.rfind("VmFlags:", 0) == 0 && !out.empty()) {
            out.back().hg = (line + " ").find(" hg ") != std::string::npos;
        } else if ((in >> std::hex >> lo >> dash >> hi) && dash == '-') {
            std::string perms, offset, device, inode, path;
            in >> perms >> offset >> device >> inode >> path;
            out.push_back(Mapping{lo, 0, inode == "0" && path.empty(), false});
        }
    }
    return out;
}

bool asks_for_huge_pages(const void *p) {
    std::istringstream flags(vm_flags_of(p));
    std::string f;
    while (flags >> f)
        if (f == "hg") return true;
    return false;
}

}  // namespace

TEST(WeightArena, AllocationsAreAlignedWritableAndApart) {
    WeightArena arena;
    std::vector<std::pair<uint8_t *, size_t>> got;
    // Odd sizes, a run of small ones (shared chunks), some crossing a chunk's end, a large one.
    const size_t sizes[] = {1,
                            63,
                            64,
                            65,
                            4097,
                            1 << 20,
                            3 << 20,
                            5 << 20,
                            7,
                            0,  // an empty tensor: a pointer of its own all the same
                            WeightArena::kChunk,
                            9 << 20,
                            100,
                            WeightArena::kChunk - 64};
    for (size_t n : sizes) {
        uint8_t *p = arena.alloc(n);
        ASSERT_NE(p, nullptr) << n;
        for (const auto &[q, m] : got) EXPECT_NE(p, q) << n;
        EXPECT_EQ(reinterpret_cast<uintptr_t>(p) % 64, 0u) << n;
        std::memset(p, int(got.size() + 1), n);
        got.emplace_back(p, n);
    }
    for (size_t i = 0; i < got.size(); ++i) {
        // Nothing written later overlapped: every byte still holds its allocation's mark.
        const auto [p, n] = got[i];
        EXPECT_EQ(std::count(p, p + n, uint8_t(i + 1)), std::ptrdiff_t(n)) << "allocation " << i;
    }
    // Moved, the memory stays where it is and the new owner gives out fresh space.
    WeightArena owner = std::move(arena);
    EXPECT_GT(owner.chunks(), 1u);
    EXPECT_EQ(got[0].first[0], 1);
    uint8_t *again = owner.alloc(64);
    for (const auto &[p, n] : got) EXPECT_TRUE(again + 64 <= p || again >= p + n);
}

TEST(WeightArena, SmallMatricesShareChunksThatAskForHugePages) {
    WeightArena arena;
    // 0.9 MiB each: a 576 x 1536 Q8_0 projection of a llama-135m shape, below one huge page.
    std::vector<uint8_t *> mats;
    for (int i = 0; i < 12; ++i) mats.push_back(arena.alloc(612 * 1536));
    // 11 MiB in all: one chunk holds them side by side (612 x 1536 is whole lines).
    for (size_t i = 1; i < mats.size(); ++i) EXPECT_EQ(mats[i] - mats[i - 1], 612 * 1536) << i;
    for (uint8_t *m : mats) EXPECT_TRUE(asks_for_huge_pages(m)) << vm_flags_of(m);
    uint8_t *large = arena.alloc(WeightArena::kChunk + 12345);
    EXPECT_EQ(reinterpret_cast<uintptr_t>(large) % WeightArena::kHugePage, 0u);
    EXPECT_TRUE(asks_for_huge_pages(large + WeightArena::kHugePage)) << vm_flags_of(large);
}

TEST(WeightArena, QuantizedLoadKeepsItsMatricesInHugePageMemory) {
    const std::filesystem::path dir =
        std::filesystem::path(HFK_TEST_SHARED_DIR) / "models" / "aidreams260K";
    const std::vector<Mapping> before = mappings();
    LoadOptions opts;
    opts.format = WeightFormat::Q8;
    opts.quantize_embeddings = false;
    const std::shared_ptr<const Model> model = Model::load(dir, opts);
    // The Q8_0 matrices (all but the F32 embedding and norms) are committed in new anonymous
    // mappings that ask for huge pages.
    const ModelConfig &c = model->config();
    const uint64_t embedding_and_norms = uint64_t(c.vocab_size * c.hidden_size) * 4 +
                                         uint64_t((2 * c.num_layers + 1) * c.hidden_size) * 4;
    const uint64_t matrices = model->weight_bytes() - embedding_and_norms;
    uint64_t huge_rss = 0;
    for (const Mapping &m : mappings()) {
        const bool old = std::any_of(before.begin(), before.end(),
                                     [&](const Mapping &b) { return b.lo == m.lo; });
        if (!old && m.anonymous && m.hg) huge_rss += m.rss_kb * 1024;
    }
    EXPECT_GE(huge_rss, matrices);
}
