#include "kernels/cpu.h"

#include <cblas.h>

#if defined(__x86_64__)
#include <cpuid.h>
#endif

#include <cstdlib>
#include <cstring>
#include <mutex>
#include <string>

#include <strings.h>

extern "C" {
// OpenBLAS DYNAMIC_ARCH internals; absent (null) with other BLAS libraries.
void gotoblas_dynamic_init(void) __attribute__((weak));
void gotoblas_dynamic_quit(void) __attribute__((weak));
}

namespace hfk::kern {

const CpuFeatures &cpu_features() {
    static const CpuFeatures features = [] {
        CpuFeatures f;
#if defined(__x86_64__)
        __builtin_cpu_init();
        f.avx2_fma_f16c = __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma");
        f.avx512 = __builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512bw") &&
                   __builtin_cpu_supports("avx512vl") && __builtin_cpu_supports("avx512dq");
        f.avx512_vnni = f.avx512 && __builtin_cpu_supports("avx512vnni");
        // AVX512_BF16 and AVX-VNNI are read from CPUID leaf 7, sub-leaf 1 (EAX bits 5 and 4):
        // clang 14 knows neither name in __builtin_cpu_supports, and a clang build (our sanitizer
        // stage) must pick the same kernels as a GCC one. The OS's saving of the registers is
        // already implied by the AVX2 / AVX-512 checks above.
        unsigned eax = 0, ebx = 0, ecx = 0, edx = 0;
        if (__get_cpuid_count(7, 1, &eax, &ebx, &ecx, &edx)) {
            f.avx512_bf16 = f.avx512 && (eax & (1u << 5));
            f.avx_vnni = f.avx2_fma_f16c && (eax & (1u << 4));
        }
        // F16C has no __builtin_cpu_supports name in older compilers; every AVX2 CPU has it.
#endif
        return f;
    }();
    return features;
}

const char *kernel_isa() {
    static const char *isa = [] {
        const CpuFeatures &f = cpu_features();
        const char *forced = std::getenv("HFK_KERNELS");
        int level = f.avx512 ? 2 : f.avx2_fma_f16c ? 1 : 0;
        if (forced && std::strcmp(forced, "scalar") == 0) level = 0;
        if (forced && (std::strcmp(forced, "avx2") == 0 || std::strcmp(forced, "avxvnni") == 0) &&
            level > 1)
            level = 1;
        return level == 2 ? "avx512" : level == 1 ? "avx2" : "scalar";
    }();
    return isa;
}

namespace {
bool has_avx512_kernels(const char *core) {
    return core &&
           (strncasecmp(core, "skylakex", 8) == 0 || strncasecmp(core, "cooperlake", 10) == 0 ||
            strncasecmp(core, "sapphirerapids", 14) == 0);
}
// Re-runs OpenBLAS's core selection with OPENBLAS_CORETYPE = value (nullptr: unset, i.e. its own
// CPU detection), then puts the variable back as it was.
void reselect_core(const char *value) {
    const char *old = std::getenv("OPENBLAS_CORETYPE");
    std::string saved = old ? old : "";
    if (value)
        setenv("OPENBLAS_CORETYPE", value, 1);
    else
        unsetenv("OPENBLAS_CORETYPE");
    gotoblas_dynamic_quit();
    gotoblas_dynamic_init();
    if (old)
        setenv("OPENBLAS_CORETYPE", saved.c_str(), 1);
    else
        unsetenv("OPENBLAS_CORETYPE");
}
}  // namespace

void blas_setup() {
    static std::once_flag once;
    std::call_once(once, [] {
        if (gotoblas_dynamic_init && gotoblas_dynamic_quit) {
            const char *forced = std::getenv("HFK_BLAS_CORETYPE");
            if (forced && *forced && strcasecmp(forced, "keep") != 0) {
                reselect_core(forced);
            } else if (!forced && cpu_features().avx512 &&
                       !has_avx512_kernels(openblas_get_corename())) {
                reselect_core(nullptr);  // OpenBLAS's own detection (Cooperlake on Zen 5)
                if (!has_avx512_kernels(openblas_get_corename())) reselect_core("SkylakeX");
            }
        }
        openblas_set_num_threads(1);
    });
}

std::string blas_core_name() {
    const char *core = openblas_get_corename();
    return core ? std::string(core) : std::string("unknown");
}

}  // namespace hfk::kern
