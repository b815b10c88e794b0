// Run-time CPU feature detection for the kernel dispatch (internal to the engine).
//
// The binary is built for baseline x86-64 (or aarch64); SIMD kernels live in files compiled with
// their own flags and are only called when these checks pass. Thread-safety: pure after the
// first call (the result is cached in a function-local static).
#pragma once

namespace edgefarm::engine {

struct CpuFeatures {
  bool avx2 = false;          // AVX2 + FMA + F16C
  bool avx512 = false;        // AVX-512 F/BW/VL/DQ + VNNI (what the kAvx512 path needs)
  bool neon = false;          // AArch64 Advanced SIMD (always present there)
  bool neon_dotprod = false;  // ARMv8.2 SDOT/UDOT (HWCAP_ASIMDDP)
};

const CpuFeatures& GetCpuFeatures();

}  // namespace edgefarm::engine
