# Engine formats: tensor types, GGUF I/O, quantisers, model quantisation, tokenizer, model maker.
list(APPEND EDGEFARM_ENGINE_SOURCES
  src/tensor_types.cc
  src/gguf_value.cc
  src/gguf_reader.cc
  src/gguf_writer.cc
  src/quant.cc
  src/quant_ggml.cc
  src/quant_kquants.cc
  src/quant_edgefarm.cc
  src/quantize_policy.cc
  src/quantize.cc
  src/tokenizer.cc
  src/make_model.cc
)
# The reference quantisers must round exactly as ggml's C code does: no fused multiply-add
# contraction, whatever -march the kernels add to the library.
set_source_files_properties(src/tensor_types.cc src/quant_ggml.cc src/quant_kquants.cc
  src/quant_edgefarm.cc PROPERTIES COMPILE_OPTIONS "-ffp-contract=off")
list(APPEND EDGEFARM_ENGINE_TOOL_SOURCES
  tools/cmd_tokenize.cc
  tools/cmd_quantize.cc
  tools/cmd_info.cc
  tools/cmd_make_model.cc
)
