# Model part of the engine: forward pass, generation, evaluation, benchmark, the cell job.
list(APPEND EDGEFARM_ENGINE_SOURCES
  src/llama_model.cc
  src/forward.cc
  src/forward_attention.cc
  src/forward_attention_avx2.cc
  src/sampler.cc
  src/generate.cc
  src/perplexity.cc
  src/evaluator.cc
  src/benchmark.cc
  src/rss.cc
  src/energy.cc
  src/cell_job.cc
  src/cell_job_record.cc
  src/olive_search.cc)
if(CMAKE_SYSTEM_PROCESSOR MATCHES "x86_64|AMD64|i.86")
  # Only this file is built for AVX2+FMA; forward_attention.cc calls it after a CPU check.
  set_source_files_properties(src/forward_attention_avx2.cc PROPERTIES COMPILE_OPTIONS "-mavx2;-mfma;-fno-trapping-math")
endif()
# The portable build uses 32-byte GNU vectors internally (never across an ABI boundary). Both
# builds assume no FP traps so the clamps in the exp and max loops vectorise (values unchanged).
set_source_files_properties(src/forward_attention.cc PROPERTIES COMPILE_OPTIONS
  "-Wno-psabi;-fno-trapping-math")
list(APPEND EDGEFARM_ENGINE_TOOL_SOURCES
  tools/cmd_generate.cc
  tools/cmd_bench.cc
  tools/cmd_eval.cc
  tools/cmd_run.cc)
