# Warnings on and clean for every edgefarm target.
function(edgefarm_warnings target)
  target_compile_options(${target} PRIVATE -Wall -Wextra -Wpedantic -Wno-missing-field-initializers)
endfunction()

# edgefarm_add_test(NAME name SOURCES a.cc b.cc LIBS lib... LABELS unit|integration|browser
#                   [TIMEOUT seconds])
# One gtest binary registered with CTest under the given labels. Tests run from the build tree
# with EDGEFARM_SOURCE_DIR / EDGEFARM_BINARY_DIR in the environment so they can find fixtures
# and built binaries without hard-coded paths.
function(edgefarm_add_test)
  cmake_parse_arguments(T "" "NAME;TIMEOUT" "SOURCES;LIBS;LABELS" ${ARGN})
  add_executable(${T_NAME} ${T_SOURCES})
  target_link_libraries(${T_NAME} PRIVATE ${T_LIBS} edgefarm_test_support GTest::gtest GTest::gmock GTest::gtest_main)
  edgefarm_warnings(${T_NAME})
  add_test(NAME ${T_NAME} COMMAND ${T_NAME})
  if(NOT T_TIMEOUT)
    set(T_TIMEOUT 300)
  endif()
  set_tests_properties(${T_NAME} PROPERTIES
    LABELS "${T_LABELS}"
    TIMEOUT ${T_TIMEOUT}
    ENVIRONMENT "EDGEFARM_SOURCE_DIR=${PROJECT_SOURCE_DIR};EDGEFARM_BINARY_DIR=${PROJECT_BINARY_DIR}")
endfunction()
