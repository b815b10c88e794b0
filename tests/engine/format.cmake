# Engine formats suites (engine/format.cmake).
edgefarm_add_test(NAME engine_gguf_test
  SOURCES gguf_test.cc gguf_corruption_test.cc
  LIBS edgefarm_engine
  LABELS unit)
edgefarm_add_test(NAME engine_quant_test
  SOURCES quant_test.cc quantize_test.cc
  LIBS edgefarm_engine
  LABELS unit)
edgefarm_add_test(NAME engine_tokenizer_test
  SOURCES tokenizer_test.cc
  LIBS edgefarm_engine
  LABELS unit)
edgefarm_add_test(NAME engine_make_model_test
  SOURCES make_model_test.cc
  LIBS edgefarm_engine
  LABELS unit)
# Runs the real binary: it must be built first.
edgefarm_add_test(NAME engine_format_tools_test
  SOURCES format_tools_test.cc
  LIBS edgefarm_engine
  LABELS integration)
add_dependencies(engine_format_tools_test edgefarm-engine)
