# The layers kept apart (docs/ARCHITECTURE.md). Included from the top CMakeLists.txt.
# The library alone: stock lua5.4 with only lua/ (not app/lua/) and the built core.so on its paths loads
# `require "tortuga"` with every library module, and loads no application (not under sanitisers: the ASan
# runtime must come first in the process).
if(NOT TG_SANITIZE)
  add_test(NAME layers_library_alone
    COMMAND lua5.4 -e "
      local tg = require 'tortuga'
      for _, name in ipairs { 'volume', 'io', 'generate', 'filter', 'segment', 'measure', 'transport', 'describe', 'analysis' } do
        assert(tg[name], 'tg.' .. name .. ' is missing')
      end
      for name in pairs(package.loaded) do
        assert(not name:match('^tortuga%.app') and not ({ ['tortuga.cli'] = 1, ['tortuga.kernel'] = 1, ['tortuga.notebook'] = 1,
               ['tortuga.report'] = 1, ['tortuga.repl'] = 1 })[name], 'the library loaded the application module ' .. name)
      end
      assert(tg.report == nil and tg.cli == nil and tg.kernel == nil and tg.display == nil)
      print('the library alone: ' .. tg.version)")
  set_tests_properties(layers_library_alone PROPERTIES ENVIRONMENT
    "LUA_PATH=${PROJECT_SOURCE_DIR}/lua/?.lua\;${PROJECT_SOURCE_DIR}/lua/?/init.lua\;\;;LUA_CPATH=${PROJECT_BINARY_DIR}/lib/?.so\;\;;LUA_INIT=")
endif()

# The library's C module links none of the applications' libraries (ZeroMQ, OpenSSL, readline): those are the
# host's, which has the REPL and the Jupyter kernel (app/). ldd lists the whole tree of dependencies.
add_test(NAME layers_core_links_no_app_libs
  COMMAND sh -c "deps=$(ldd \"$1\") || exit 1; echo \"$deps\"; \
    if echo \"$deps\" | grep -E 'lib(zmq|ssl|crypto|readline|history)[.]so'; then \
      echo 'tortuga.core links an application library (above)'; exit 1; fi" sh $<TARGET_FILE:tortuga_core>)

# The engine knows nothing of Lua: no engine file includes a Lua header.
add_test(NAME layers_engine_has_no_lua
  COMMAND sh -c "if grep -rlE '#include [<\"](lua|lauxlib|lualib)[.]h' \"$1\"; then \
    echo 'engine files include a Lua header (above)'; exit 1; fi; echo 'engine/: no Lua header'" sh ${PROJECT_SOURCE_DIR}/engine)
