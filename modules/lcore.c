/* lcore.c — luaopen_tortuga_core: the C half of tortuga, one table with a subtable per part
 * (core.volume, core.io, core.generate, ...); core.parts lists the parts, in the order they are opened.
 *
 * The module is pinned in memory (never unloaded): stock lua5.4 dlclose()s C modules when the state closes at
 * exit, which unloaded core.so and the OpenMP runtime it brought in while OpenMP's idle worker threads were
 * still running in them: a segfault at exit after any threaded work. Re-opening our own file with
 * RTLD_NODELETE (glibc, musl and the BSDs know it) makes the later dlclose a no-op; the OS frees it all at exit.
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE /* dladdr, RTLD_NODELETE */
#endif
#include "lbind.h"

#include <dlfcn.h>

/* Mark the shared object holding this code RTLD_NODELETE (no-op when linked into an executable). */
static void pin_module(void)
{
    Dl_info info;
    if (!dladdr((void *)pin_module, &info) || !info.dli_fname) return;
    void *self = dlopen(info.dli_fname, RTLD_NOW | RTLD_NOLOAD | RTLD_NODELETE);
    (void)self; /* deliberately never closed */
}

#define PARTS(X) X(volume) X(io) X(generate) X(measure) X(filter) X(transport) \
    X(segment) X(analysis)

int luaopen_tortuga_core(lua_State *L)
{
    pin_module();
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
