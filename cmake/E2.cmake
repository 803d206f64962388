# Helpers shared by every part of E2.
#
#   e2_pkg(NAME pkgconfig-module)      imported target PkgConfig::NAME
#   e2_test(NAME SOURCES ... [LIBS ...] [LABELS ...] [TIMEOUT s] [ARGS ...])
#       a cmocka (or any) test executable registered with CTest
#   e2_fuzzer(NAME SOURCES ... [LIBS ...] [SECONDS s] [CORPUS dir])
#       a libFuzzer target, built only with clang; CTest runs it briefly

include(CMakeParseArguments)

macro(e2_pkg name module)
  if(NOT TARGET PkgConfig::${name})
    pkg_check_modules(${name} REQUIRED IMPORTED_TARGET GLOBAL ${module})
  endif()
endmacro()

function(e2_test name)
  cmake_parse_arguments(T "" "TIMEOUT" "SOURCES;LIBS;LABELS;ARGS" ${ARGN})
  add_executable(${name} ${T_SOURCES})
  e2_pkg(CMOCKA cmocka)
  target_link_libraries(${name} PRIVATE ${T_LIBS} PkgConfig::CMOCKA)
  add_test(NAME ${name} COMMAND ${name} ${T_ARGS})
  if(NOT T_TIMEOUT)
    set(T_TIMEOUT 120)
  endif()
  set_tests_properties(${name} PROPERTIES TIMEOUT ${T_TIMEOUT}
    ENVIRONMENT "E2_SOURCE_DIR=${PROJECT_SOURCE_DIR};E2_BINARY_DIR=${PROJECT_BINARY_DIR}")
  if(T_LABELS)
    set_tests_properties(${name} PROPERTIES LABELS "${T_LABELS}")
  endif()
endfunction()

# CI fuzzes with a fixed seed so that a red run can be replayed; long campaigns
# (see README) pass -DE2_FUZZ_SEED=0 for a fresh random seed per run.
set(E2_FUZZ_SEED 1 CACHE STRING "libFuzzer -seed for the CTest fuzz runs (0 = random)")

function(e2_fuzzer name)
  cmake_parse_arguments(F "" "SECONDS;CORPUS" "SOURCES;LIBS" ${ARGN})
  if(NOT E2_FUZZ OR NOT CMAKE_C_COMPILER_ID MATCHES "Clang")
    return()
  endif()
  if(NOT F_SECONDS)
    set(F_SECONDS 10)
  endif()
  add_executable(${name} ${F_SOURCES})
  target_compile_options(${name} PRIVATE -fsanitize=fuzzer,address,undefined)
  target_link_options(${name} PRIVATE -fsanitize=fuzzer,address,undefined)
  target_link_libraries(${name} PRIVATE ${F_LIBS})
  set(corpus_args)
  if(F_CORPUS)
    set(corpus_args ${F_CORPUS})
  endif()
  add_test(NAME ${name}
    COMMAND ${name} -seed=${E2_FUZZ_SEED} -max_total_time=${F_SECONDS} -rss_limit_mb=1024
            -print_final_stats=0 ${corpus_args})
  set_tests_properties(${name} PROPERTIES TIMEOUT 300 LABELS fuzz)
endfunction()
