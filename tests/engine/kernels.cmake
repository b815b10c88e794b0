# Kernel suites: thread pool, and MatMul for every type and path against the references.
edgefarm_add_test(NAME engine_kernels_thread_pool_test
  SOURCES ${CMAKE_CURRENT_SOURCE_DIR}/kernels_thread_pool_test.cc
  LIBS edgefarm_engine LABELS unit)
edgefarm_add_test(NAME engine_kernels_matmul_test
  SOURCES ${CMAKE_CURRENT_SOURCE_DIR}/kernels_matmul_test.cc
  LIBS edgefarm_engine LABELS unit)
# White-box: compares the internal quantisers directly (engine/src/kernels_common.h).
edgefarm_add_test(NAME engine_kernels_quantize_act_test
  SOURCES ${CMAKE_CURRENT_SOURCE_DIR}/kernels_quantize_act_test.cc
  LIBS edgefarm_engine LABELS unit)
target_include_directories(engine_kernels_quantize_act_test PRIVATE ${PROJECT_SOURCE_DIR}/engine/src)
# The NEON kernels, cross-compiled for AArch64 and run under qemu-aarch64 (Cortex-A53 and `max`)
# by a script; skipped (exit 77) where the cross toolchain or qemu is missing. Not a gtest binary:
# there is no arm64 GoogleTest to link. Label integration: the first run compiles (~15 s of CPU).
add_test(NAME engine_kernels_neon_qemu_test
  COMMAND ${PROJECT_SOURCE_DIR}/scripts/cross-arm64-test.sh ${CMAKE_CURRENT_BINARY_DIR}/cross-arm64)
set_tests_properties(engine_kernels_neon_qemu_test PROPERTIES
  LABELS integration SKIP_RETURN_CODE 77 TIMEOUT 300)
