/* lcore.c — luaopen_tortuga_core: the C half of tortuga, one table with a subtable per part
 * (core.volume, core.io, core.generate, ...); core.parts lists the parts, in the order they are opened.
 */
#include "lbind.h"

#define PARTS(X) X(volume) X(io) X(generate) X(measure) X(filter) X(transport) \
    X(segment) X(analysis)

int luaopen_tortuga_core(lua_State *L)
{
    lua_newtable(L);
    lt_open_state(L);
    lua_pushstring(L, TG_VERSION);
    lua_setfield(L, -2, "version");
    lua_newtable(L); /* core.parts */
    int i = 0;
#define OPEN(name)                      \
    lua_pushvalue(L, -2);               \
    lt_open_##name(L);                  \
    lua_pop(L, 1);                      \
    lua_pushstring(L, #name);           \
    lua_rawseti(L, -2, ++i);
    PARTS(OPEN)
#undef OPEN
    lua_setfield(L, -2, "parts");
    return 1;
}
