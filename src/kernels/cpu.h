// What the CPU can do, probed once, and the one-time set-up of OpenBLAS.
#pragma once

#include <string>

namespace hfk::kern {

struct CpuFeatures {
    bool avx2_fma_f16c = false;  // Haswell and later: 8-wide FMA, F16C conversions
    bool avx512 = false;         // F + BW + VL + DQ: 16-wide FMA, masked 16-bit loads
    bool avx512_bf16 = false;    // vdpbf16ps (kernels/bf16_compute.cpp)
    bool avx512_vnni = false;    // vpdpbusd on 512-bit registers (kernels/quant_kernels.cpp)
    bool avx_vnni = false;       // vpdpbusd on 256-bit registers, VEX-encoded (AVX-VNNI)
};
const CpuFeatures &cpu_features();

// The instruction set our kernels dispatch to: "avx512", "avx2" or "scalar". HFK_KERNELS=avx2 or
// =scalar in the environment forces a lower level (tests use it to cover every path);
// HFK_KERNELS=avxvnni is avx2 here and 256-bit VNNI for quantized weights (kernels/quant.h).
const char *kernel_isa();

// Called before the first BLAS call (idempotent, thread-safe). OpenBLAS (DYNAMIC_ARCH builds, as
// Debian's) picks its kernel set once, while initialising, from OPENBLAS_CORETYPE or its own CPU
// detection. With OPENBLAS_CORETYPE=Haswell in the environment (as on the benchmark machines) it
// runs sgemm on AVX-512 CPUs at half speed. So when the CPU has AVX-512 and the selected kernels do
// not use it, we re-run the selection (gotoblas_dynamic_quit + gotoblas_dynamic_init, exported by
// DYNAMIC_ARCH builds; weak references, so any other BLAS is left alone) with the variable
// unset -- OpenBLAS's own detection (Cooperlake on Zen 5) -- falling back to SkylakeX, and put the
// variable back. HFK_BLAS_CORETYPE=<name> forces a core type; HFK_BLAS_CORETYPE=keep keeps
// OpenBLAS's choice. OpenBLAS itself is set to one thread: our own threads split each matrix
// product, so the one `n_threads` knob drives everything and concurrent forward() calls do not
// fight over OpenBLAS's global thread pool.
void blas_setup();
// OpenBLAS's core name after blas_setup() ("SkylakeX"), or "unknown".
std::string blas_core_name();

}  // namespace hfk::kern
