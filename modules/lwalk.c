/* lwalk.c — binding of the random walk: core.walk.run(labels, start|nil, walkers, steps, stride, seed, label). */
#include "lbind.h"

#include "transport/tg_walk.h"

static void push_array_d(lua_State *L, const double *a, int64_t n)
{
    lua_createtable(L, (int)n, 0);
    for (int64_t i = 0; i < n; i++) {
        lua_pushnumber(L, a[i]);
        lua_rawseti(L, -2, i + 1);
    }
}

static int l_run(lua_State *L)
{
    tg_volume *mask = lt_checkvolume(L, 1);
    tg_volume *start = lua_isnoneornil(L, 2) ? NULL : lt_checkvolume(L, 2);
    tg_walk_opts o = TG_WALK_OPTS_INIT;
    o.walkers = luaL_checkinteger(L, 3);
    o.steps = luaL_checkinteger(L, 4);
    o.stride = luaL_checkinteger(L, 5);
    o.seed = (uint64_t)luaL_checkinteger(L, 6);
    lua_Integer label = luaL_optinteger(L, 7, 1);
    luaL_argcheck(L, label >= 0 && label <= 255, 7, "the label must be 0..255 (a u8 volume)");
    o.label = (uint8_t)label;
    tg_walk_result r;
    lt_begin(L);
    lt_end(L, tg_random_walk(lt_ctx(L), mask, start, &o, &r));
    /* nothing below raises before the arrays are freed except memory errors of Lua itself */
    lua_createtable(L, 0, 8);
    lua_createtable(L, (int)r.nrec, 0);
    for (int64_t i = 0; i < r.nrec; i++) {
        lua_pushinteger(L, r.steps[i]);
        lua_rawseti(L, -2, i + 1);
    }
    lua_setfield(L, -2, "steps");
    static const char *const axes[3] = {"x", "y", "z"};
    lua_createtable(L, 0, 3);
    for (int a = 0; a < 3; a++) {
        push_array_d(L, r.msd[a], r.nrec);
        lua_setfield(L, -3, axes[a]);
        lua_pushnumber(L, r.prob[a]);
        lua_setfield(L, -2, axes[a]);
    }
    lua_setfield(L, -2, "prob");
    lua_pushinteger(L, r.dims_active);
    lua_setfield(L, -2, "dims_active");
    lua_pushinteger(L, r.start_voxels);
    lua_setfield(L, -2, "start_voxels");
    tg_walk_result_free(&r);
    return 1;
}

/* percolating_start(labels, label, connectivity) -> u8 volume */
static int l_percolating_start(lua_State *L)
{
    tg_volume *mask = lt_checkvolume(L, 1);
    lua_Integer label = luaL_checkinteger(L, 2);
    luaL_argcheck(L, label >= 0 && label <= 255, 2, "the label must be 0..255 (a u8 volume)");
    int conn = (int)luaL_checkinteger(L, 3);
    tg_volume *out = lt_newvolume(L);
    lt_begin(L);
    lt_end(L, tg_walk_percolating_start(lt_ctx(L), mask, (uint8_t)label, conn, out));
    lt_gcstep(L, out);
    return 1;
}

void lt_open_walk(lua_State *L)
{
    static const luaL_Reg fns[] = {{"run", l_run}, {"percolating_start", l_percolating_start}, {NULL, NULL}};
    lt_register(L, "walk", fns);
}
