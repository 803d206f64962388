# SPDX-License-Identifier: BSD-3-Clause
# Tests of the filter, flow, NSH, tunnel and capture modules (filters, flow affinity, NSH, tunnels, capture).
e2_test(test_bpf SOURCES ${CMAKE_CURRENT_SOURCE_DIR}/test_bpf.c LIBS e2dp TIMEOUT 60)
e2_test(test_flow SOURCES ${CMAKE_CURRENT_SOURCE_DIR}/test_flow.c LIBS e2dp TIMEOUT 60)
e2_test(test_nsh SOURCES ${CMAKE_CURRENT_SOURCE_DIR}/test_nsh.c LIBS e2dp TIMEOUT 60)
e2_test(test_capture SOURCES ${CMAKE_CURRENT_SOURCE_DIR}/test_capture.c LIBS e2dp TIMEOUT 60)
e2_test(test_tunnel SOURCES ${CMAKE_CURRENT_SOURCE_DIR}/test_tunnel.c LIBS e2dp TIMEOUT 60)
# without tcpdump or tshark their decode checks are skipped, and the test says so (77)
set_tests_properties(test_capture test_tunnel PROPERTIES SKIP_RETURN_CODE 77)
# The parsers are header-only (modules/nsh.h, modules/flowkey.h): the target includes them.
e2_fuzzer(fuzz_nsh SOURCES ${CMAKE_CURRENT_SOURCE_DIR}/fuzz_nsh.c LIBS e2common PkgConfig::DPDK RUNS 2500000
          CORPUS ${CMAKE_CURRENT_SOURCE_DIR}/fuzz_corpus/nsh)
# Two e2d processes in two network namespaces, edges tunnelled over a veth pair (root only).
add_test(NAME test_tunnel_netns COMMAND ${CMAKE_CURRENT_SOURCE_DIR}/test_tunnel_netns.sh ${CMAKE_CURRENT_BINARY_DIR})
set_tests_properties(test_tunnel_netns PROPERTIES LABELS serial TIMEOUT 60 SKIP_RETURN_CODE 77)
# Micro-benchmarks of these modules and of the scheduler (run by bench/e2d-modules).
add_executable(e2-bench-modules ${CMAKE_CURRENT_SOURCE_DIR}/bench_modules.c)
target_link_libraries(e2-bench-modules PRIVATE e2dp m)
