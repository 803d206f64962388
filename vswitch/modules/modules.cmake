# Sources of further e2d modules and their tests. Included by vswitch/CMakeLists.txt:
#   E2D_EXTRA_SOURCES  module/port .c files compiled into e2dp (they self-register)
#   E2D_EXTRA_LIBS     extra link libraries (imported targets) for e2dp
# Tests are declared here with e2_test(... LIBS e2dp) after e2dp exists (see the end of
# vswitch/CMakeLists.txt, which includes modules/tests.cmake if present).
set(E2D_EXTRA_SOURCES)
set(E2D_EXTRA_LIBS)
