# SPDX-License-Identifier: BSD-3-Clause
# Sources of further e2d modules and their tests. Included by vswitch/CMakeLists.txt:
#   E2D_EXTRA_SOURCES  module/port .c files compiled into e2dp (they self-register)
#   E2D_EXTRA_LIBS     extra link libraries (imported targets) for e2dp
# Tests are declared here with e2_test(... LIBS e2dp) after e2dp exists (see the end of
# vswitch/CMakeLists.txt, which includes modules/tests.cmake if present).
set(E2D_EXTRA_SOURCES)
set(E2D_EXTRA_LIBS)

# filters, flow affinity, NSH, tunnels, capture
e2_pkg(PCAP libpcap)
list(APPEND E2D_EXTRA_SOURCES
  ${CMAKE_CURRENT_SOURCE_DIR}/modules/bpf.c
  ${CMAKE_CURRENT_SOURCE_DIR}/modules/flowhash.c
  ${CMAKE_CURRENT_SOURCE_DIR}/modules/rangesplit.c
  ${CMAKE_CURRENT_SOURCE_DIR}/modules/nsh.c
  ${CMAKE_CURRENT_SOURCE_DIR}/modules/capture.c
  ${CMAKE_CURRENT_SOURCE_DIR}/modules/tunnel.c)
list(APPEND E2D_EXTRA_LIBS PkgConfig::PCAP)
