# Model suites (engine/model.cmake): forward pass, evaluator, benchmark, the cell job.
edgefarm_add_test(NAME engine_model_test
  SOURCES ${CMAKE_CURRENT_SOURCE_DIR}/model_test.cc
  LIBS edgefarm_engine LABELS unit)
edgefarm_add_test(NAME engine_eval_test
  SOURCES ${CMAKE_CURRENT_SOURCE_DIR}/eval_test.cc
  LIBS edgefarm_engine LABELS unit TIMEOUT 900)
edgefarm_add_test(NAME engine_bench_test
  SOURCES ${CMAKE_CURRENT_SOURCE_DIR}/bench_test.cc
  LIBS edgefarm_engine nlohmann_json::nlohmann_json LABELS unit)
edgefarm_add_test(NAME engine_cell_job_record_test
  SOURCES ${CMAKE_CURRENT_SOURCE_DIR}/cell_job_record_test.cc
  LIBS edgefarm_engine LABELS unit)
edgefarm_add_test(NAME engine_cell_job_test
  SOURCES ${CMAKE_CURRENT_SOURCE_DIR}/cell_job_test.cc
  LIBS edgefarm_engine nlohmann_json::nlohmann_json LABELS integration TIMEOUT 900)
edgefarm_add_test(NAME engine_model_attention_test
  SOURCES ${CMAKE_CURRENT_SOURCE_DIR}/model_attention_test.cc
  LIBS edgefarm_engine LABELS unit)
# The attention kernels are internal to the engine (engine/src).
target_include_directories(engine_model_attention_test PRIVATE ${PROJECT_SOURCE_DIR}/engine/src)
