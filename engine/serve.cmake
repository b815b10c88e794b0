# Serving commands of edgefarm-engine (serve, stage-check, load, route); their logic lives in
# edgefarm_serving (serving/), which this binary links. Included after edgefarm-engine is defined.
target_sources(edgefarm-engine PRIVATE tools/cmd_serve.cc tools/cmd_stage_check.cc
  tools/cmd_load.cc tools/cmd_route.cc)
target_link_libraries(edgefarm-engine PRIVATE edgefarm_serving spdlog::spdlog)
