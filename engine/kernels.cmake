# Kernels: thread pool, CPU feature detection, matmul dispatch and the per-ISA tiles. The SIMD
# files get their own -m flags; nothing else does, so the library runs on any x86-64 (or any
# ARMv8.0 AArch64) and picks the path at run time (cpu_features.cc).
list(APPEND EDGEFARM_ENGINE_SOURCES
  src/thread_pool.cc
  src/cpu_features.cc
  src/matmul.cc
  src/kernels_scalar.cc)

if(CMAKE_SYSTEM_PROCESSOR MATCHES "x86_64|AMD64|amd64")
  list(APPEND EDGEFARM_ENGINE_SOURCES
    src/kernels_avx2.cc src/kernels_avx512.cc src/kernels_avx512_packed.cc)
  # GCC 12 reports its own _mm*_undefined_* intrinsics (self-initialised on purpose) as
  # uninitialised once they are inlined at -O3; silence that false positive in these two files.
  set(_ef_simd_common "-O3;-Wno-uninitialized;-Wno-maybe-uninitialized")
  set_source_files_properties(src/kernels_avx2.cc PROPERTIES
    COMPILE_OPTIONS "-mavx2;-mfma;-mf16c;${_ef_simd_common}")
  set_source_files_properties(src/kernels_avx512.cc src/kernels_avx512_packed.cc PROPERTIES
    COMPILE_OPTIONS "-mavx512f;-mavx512bw;-mavx512vl;-mavx512dq;-mavx512vnni;-mavx2;-mfma;-mf16c;${_ef_simd_common}")
else()
  list(APPEND EDGEFARM_ENGINE_SOURCES src/kernels_nosimd.cc)
endif()

# NEON is part of every AArch64 CPU, so kernels_neon.cc needs no flag; SDOT (ARMv8.2 dotprod) is
# optional and its file alone is built for it. scripts/cross-arm64-test.sh uses the same flags.
if(CMAKE_SYSTEM_PROCESSOR MATCHES "aarch64|arm64|ARM64")
  list(APPEND EDGEFARM_ENGINE_SOURCES src/kernels_neon.cc src/kernels_neon_dotprod.cc)
  set_source_files_properties(src/kernels_neon.cc PROPERTIES COMPILE_OPTIONS "-O3")
  set_source_files_properties(src/kernels_neon_dotprod.cc PROPERTIES
    COMPILE_OPTIONS "-march=armv8.2-a+dotprod;-O3")
else()
  list(APPEND EDGEFARM_ENGINE_SOURCES src/kernels_noneon.cc)
endif()
