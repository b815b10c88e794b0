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
