# SPDX-License-Identifier: BSD-3-Clause
# Helpers shared by every part of E2.
#
#   e2_pkg(NAME pkgconfig-module)      imported target PkgConfig::NAME
#   e2_test(NAME SOURCES ... [LIBS ...] [LABELS ...] [TIMEOUT s] [ARGS ...])
#       a cmocka (or any) test executable registered with CTest
#   e2_fuzzer(NAME SOURCES ... [LIBS ...] [RUNS n] [CORPUS srcdir...])
#       a libFuzzer target, built only with clang (else a test that reports skipped);
#       CTest runs n inputs from the read-only seed corpora through cmake/fuzz-run.sh

include(CMakeParseArguments)

macro(e2_pkg name module)
  if(NOT TARGET PkgConfig::${name})
    pkg_check_modules(${name} REQUIRED IMPORTED_TARGET GLOBAL ${module})
    e2_pkg_march(${name})
  endif()
endmacro()

# Debian's libdpdk.pc carries -march=corei7. A consumer's own options come before those
# of what it links, so that flag used to override E2_NATIVE_FLAGS on e2d's packet path
# (built for corei7: no AVX2 copies, write prefetches compiled as read prefetches). A
# target with the property E2_NATIVE set (e2_native below) drops the package's -march;
# every other consumer keeps it.
function(e2_pkg_march name)
  get_target_property(opts PkgConfig::${name} INTERFACE_COMPILE_OPTIONS)
  if(NOT opts)
    return()
  endif()
  set(out)
  foreach(o IN LISTS opts)
    if(o MATCHES "^-march=")
      list(APPEND out "$<$<NOT:$<BOOL:$<TARGET_PROPERTY:E2_NATIVE>>>:${o}>")
    else()
      list(APPEND out "${o}")
    endif()
  endforeach()
  set_target_properties(PkgConfig::${name} PROPERTIES INTERFACE_COMPILE_OPTIONS "${out}")
endfunction()

# The target is built for this machine's CPU (E2_NATIVE_FLAGS), whatever -march the
# packages it links ask for.
function(e2_native target scope)
  set_target_properties(${target} PROPERTIES E2_NATIVE ON)
  target_compile_options(${target} ${scope} ${E2_NATIVE_FLAGS})
endfunction()

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

# Fuzzing in CTest replays: every run starts from the seed corpora in the source tree
# (read only) with a fixed seed and a fixed number of runs, so two runs execute the
# same inputs and a red run can be replayed from its log (cmake/fuzz-run.sh prints the
# failing input). Long campaigns (see README) pass -DE2_FUZZ_SEED=0 for a random seed.
set(E2_FUZZ_SEED 1 CACHE STRING "libFuzzer -seed for the CTest fuzz runs (0 = random)")
set(E2_FUZZ_RUN ${CMAKE_CURRENT_LIST_DIR}/fuzz-run.sh)

function(e2_fuzzer name)
  cmake_parse_arguments(F "" "RUNS" "SOURCES;LIBS;CORPUS" ${ARGN})
  if(NOT E2_FUZZ OR NOT CMAKE_C_COMPILER_ID MATCHES "Clang")
    # Registered all the same, so that a build without them says so instead of
    # silently running fewer tests.
    if(NOT E2_FUZZ)
      set(why "E2_FUZZ is OFF")
    else()
      set(why "libFuzzer needs clang, the compiler is ${CMAKE_C_COMPILER_ID}")
    endif()
    add_test(NAME ${name} COMMAND sh -c "echo '${name}: not built: ${why}'; exit 77")
    set_tests_properties(${name} PROPERTIES LABELS fuzz SKIP_RETURN_CODE 77)
    return()
  endif()
  if(NOT F_RUNS)
    set(F_RUNS 10000)
  endif()
  add_executable(${name} ${F_SOURCES})
  # Undefined behaviour stops the run like a crash (by default UBSan only prints).
  # (and no _FORTIFY_SOURCE: ASan checks those calls itself)
  target_compile_options(${name} PRIVATE -fsanitize=fuzzer,address,undefined -fno-sanitize-recover=all
                         -U_FORTIFY_SOURCE)
  target_link_options(${name} PRIVATE -fsanitize=fuzzer,address,undefined -fno-sanitize-recover=all)
  target_link_libraries(${name} PRIVATE ${F_LIBS} e2common)
  add_test(NAME ${name}
    COMMAND sh ${E2_FUZZ_RUN} $<TARGET_FILE:${name}> ${E2_FUZZ_SEED} ${F_RUNS} ${F_CORPUS})
  set_tests_properties(${name} PROPERTIES TIMEOUT 300 LABELS fuzz)
endfunction()

# A negative corpus (cmake/negative-run.sh): every bad input in DIR is refused with the
# text of its NAME.expect, within LIMIT_MS (default 1000), without a sanitizer report.
# COMMAND names the input as {} (or {args} for a case of flags). The sanitizer stage of
# ci/test runs these too.
set(E2_NEGATIVE_RUN ${CMAKE_CURRENT_LIST_DIR}/negative-run.sh)
function(e2_negative name)
  cmake_parse_arguments(N "" "DIR;LIMIT_MS" "COMMAND" ${ARGN})
  if(NOT N_LIMIT_MS)
    set(N_LIMIT_MS 1000)
  endif()
  add_test(NAME ${name} COMMAND ${E2_NEGATIVE_RUN} ${N_DIR} ${N_LIMIT_MS} -- ${N_COMMAND})
  set_tests_properties(${name} PROPERTIES LABELS negative TIMEOUT 900)
endfunction()
