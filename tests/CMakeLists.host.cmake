# The tortuga host's REPL, typed into a live terminal (tmux): expressions, a multi-line function, an error
# and recovery, tab completion, Ctrl-C, history and Ctrl-D. Included from the top CMakeLists.txt.
# Fails (exit 77, not counted as a pass) when tmux is not installed; tools/setup.sh installs it.
add_test(NAME host_repl_tmux
  COMMAND sh ${PROJECT_SOURCE_DIR}/tests/repl_tmux.sh $<TARGET_FILE:tortuga_host>
  WORKING_DIRECTORY ${PROJECT_BINARY_DIR})
set_tests_properties(host_repl_tmux PROPERTIES TIMEOUT 120
  ENVIRONMENT "TMPDIR=${PROJECT_BINARY_DIR}/tmp")
