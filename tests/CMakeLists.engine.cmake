# The engine's layering (tools/check_stages.sh): no Lua header in engine/, no stage includes a later one
# (core < io < filter < segment < measure < transport < generate; analysis uses core only). The second test runs
# the same check on a tiny tree with one violation of each kind (tests/fixtures/stages) and passes only if all
# three are reported. Included from the top CMakeLists.txt.
add_test(NAME engine_stages COMMAND sh ${PROJECT_SOURCE_DIR}/tools/check_stages.sh ${PROJECT_SOURCE_DIR}/engine)
add_test(NAME engine_stages_catches_violations
  COMMAND sh ${PROJECT_SOURCE_DIR}/tools/check_stages.sh ${PROJECT_SOURCE_DIR}/tests/fixtures/stages)
set_tests_properties(engine_stages_catches_violations PROPERTIES
  PASS_REGULAR_EXPRESSION "measure/tg_thing.c:3:#include <lauxlib.h>  \\(the engine includes Lua\\).*analysis/tg_fit.c: includes io/tg_writer.h \\(analysis uses core only\\).*io/tg_writer.c: includes measure/tg_thing.h \\(a later stage\\)")
