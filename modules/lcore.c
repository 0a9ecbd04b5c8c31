/* lcore.c — luaopen_tortuga_core: the C half of tortuga, one table with a subtable per part
 * (core.volume, core.io, core.generate, ...). Parts are declared weak so the module builds and loads
 * while a part is absent from the tree; core.parts lists the parts that are present.
 */
#include "lbind.h"

#define PARTS(X) X(volume) X(io) X(png) X(generate) X(measure) X(mesh) X(filter) X(transport) X(walk) X(features) X(segment) X(kernel) X(analysis)
#define DECLARE_WEAK(name) __attribute__((weak)) void lt_open_##name(lua_State *L);
PARTS(DECLARE_WEAK)

int luaopen_tortuga_core(lua_State *L)
{
    lua_newtable(L);
    lt_open_state(L);
    lua_pushstring(L, TG_VERSION);
    lua_setfield(L, -2, "version");
    lua_newtable(L); /* core.parts: the names of the parts compiled in */
#define OPEN(name)                      \
    if (lt_open_##name) {               \
        lua_pushvalue(L, -2);           \
        lt_open_##name(L);              \
        lua_pop(L, 1);                  \
        lua_pushboolean(L, 1);          \
        lua_setfield(L, -2, #name);     \
    }
    PARTS(OPEN)
#undef OPEN
    lua_setfield(L, -2, "parts");
    return 1;
}
