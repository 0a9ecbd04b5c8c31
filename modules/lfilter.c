/* lfilter.c — core.filter: the bindings of engine/filter (Gaussian, median, mean, flatten, destripe, normalize,
 * register, shift). Only translation: option checking, defaults and units live in lua/tortuga/filter.lua. */
#include "lbind.h"

#include <math.h>
#include <string.h>

#include "filter/tg_destripe.h"
#include "filter/tg_flatten.h"
#include "filter/tg_gaussian.h"
#include "filter/tg_normalize.h"
#include "filter/tg_rank.h"
#include "filter/tg_register.h"

/* gaussian(v, {sx, sy, sz}, {ox, oy, oz}, per_slice, truncate) */
static int l_gaussian(lua_State *L)
{
    tg_volume *in = lt_checkvolume(L, 1);
    tg_gaussian_opts o = TG_GAUSSIAN_OPTS_INIT;
    luaL_checktype(L, 2, LUA_TTABLE);
    for (int a = 0; a < 3; a++) {
        lua_geti(L, 2, a + 1);
        o.sigma[a] = luaL_optnumber(L, -1, 0);
        lua_pop(L, 1);
        if (lua_istable(L, 3)) {
            lua_geti(L, 3, a + 1);
            o.order[a] = (int)luaL_optinteger(L, -1, 0);
            lua_pop(L, 1);
        }
    }
    o.per_slice = lua_toboolean(L, 4);
    o.truncate = luaL_optnumber(L, 5, 4.0);
    tg_volume *out = lt_newvolume(L);
    lt_begin(L);
    lt_end(L, tg_gaussian(lt_ctx(L), in, &o, out));
    lt_gcstep(L, out);
    return 1;
}

static int rank(lua_State *L, int median)
{
    tg_volume *in = lt_checkvolume(L, 1);
    tg_rank_opts o = {(int)luaL_checkinteger(L, 2), lua_toboolean(L, 3)};
    tg_volume *out = lt_newvolume(L);
    lt_begin(L);
    lt_end(L, median ? tg_median(lt_ctx(L), in, &o, out) : tg_mean(lt_ctx(L), in, &o, out));
    lt_gcstep(L, out);
    return 1;
}
static int l_median(lua_State *L) { return rank(L, 1); }
static int l_mean(lua_State *L) { return rank(L, 0); }

/* flatten(v, sx, sy [, order]) */
static int l_flatten(lua_State *L)
{
    tg_volume *in = lt_checkvolume(L, 1);
    tg_flatten_opts o = {{luaL_checknumber(L, 2), luaL_checknumber(L, 3)}, (int)luaL_optinteger(L, 4, 0)};
    tg_volume *out = lt_newvolume(L);
    lt_begin(L);
    lt_end(L, tg_flatten(lt_ctx(L), in, &o, out));
    lt_gcstep(L, out);
    return 1;
}

/* destripe(v, levels, wavelet, sigma, direction = "vertical" | "horizontal") */
static int l_destripe(lua_State *L)
{
    static const char *const directions[] = {"vertical", "horizontal", NULL}; /* TG_DESTRIPE_VERTICAL, _HORIZONTAL */
    tg_volume *in = lt_checkvolume(L, 1);
    tg_destripe_opts o = {(int)luaL_checkinteger(L, 2), (int)luaL_checkinteger(L, 3), luaL_checknumber(L, 4),
                          luaL_checkoption(L, 5, "vertical", directions)};
    tg_volume *out = lt_newvolume(L);
    lt_begin(L);
    lt_end(L, tg_destripe(lt_ctx(L), in, &o, out));
    lt_gcstep(L, out);
    return 1;
}

static int l_destripe_max_levels(lua_State *L)
{
    lua_pushinteger(L, tg_destripe_max_levels(luaL_checkinteger(L, 1), luaL_checkinteger(L, 2), (int)luaL_checkinteger(L, 3)));
    return 1;
}

static int l_daubechies(lua_State *L)
{
    int n = (int)luaL_checkinteger(L, 1);
    double h[2 * TG_DAUBECHIES_MAX];
    if (tg_daubechies(n, h) != 0) return luaL_argerror(L, 1, lua_pushfstring(L, "order must be 1..%d", TG_DAUBECHIES_MAX));
    lua_createtable(L, 2 * n, 0);
    for (int i = 0; i < 2 * n; i++) {
        lua_pushnumber(L, h[i]);
        lua_rawseti(L, -2, i + 1);
    }
    return 1;
}

/* normalize(v, saturated, per_slice) -> volume, {lo, hi, ...} (per slice pairs, or one pair) */
static int l_normalize(lua_State *L)
{
    tg_volume *in = lt_checkvolume(L, 1);
    tg_normalize_opts o = {luaL_checknumber(L, 2), lua_toboolean(L, 3)};
    int64_t n = o.per_slice ? in->dims[2] : 1;
    double *lohi = lua_newuserdatauv(L, (size_t)(2 * n) * sizeof(double), 0); /* boxed: freed by the collector */
    tg_volume *out = lt_newvolume(L);
    lt_begin(L);
    lt_end(L, tg_normalize(lt_ctx(L), in, &o, out, lohi));
    lt_gcstep(L, out);
    lua_createtable(L, (int)n, 0);
    for (int64_t i = 0; i < n; i++) {
        lua_createtable(L, 0, 2);
        lua_pushnumber(L, lohi[2 * i]);
        lua_setfield(L, -2, "lo");
        lua_pushnumber(L, lohi[2 * i + 1]);
        lua_setfield(L, -2, "hi");
        lua_rawseti(L, -2, (lua_Integer)i + 1);
    }
    return 2;
}

/* register(v, {x=range, y=range, reference=z, mode="sequential"|"fixed", subpixel=bool, window=bool, lowpass=n, ignore_axes=bool,
 *              whiten=n, neighbours=K})
 * -> shifts {{x=, y=}, ...}, quality {...} */
static int l_register(lua_State *L)
{
    tg_volume *in = lt_checkvolume(L, 1);
    luaL_checktype(L, 2, LUA_TTABLE);
    tg_register_opts o = TG_REGISTER_OPTS_INIT;
    static const char *const what[2] = {"register roi x", "register roi y"};
    for (int a = 0; a < 2; a++) {
        lua_getfield(L, 2, a == 0 ? "x" : "y");
        lt_range(L, -1, in->dims[a], &o.roi_lo[a], &o.roi_hi[a], what[a]);
        lua_pop(L, 1);
    }
    int64_t lo, hi;
    if (lua_getfield(L, 2, "reference") != LUA_TNIL) {
        if (!lua_isinteger(L, -1)) lt_error(L, "register: reference must be a slice index (integer)");
        lt_range(L, -1, in->dims[2], &lo, &hi, "register reference");
        o.reference = lo;
    }
    lua_pop(L, 1);
    static const char *const modes[] = {"sequential", "fixed", NULL}; /* TG_REGISTER_SEQUENTIAL, _FIXED */
    o.mode = lt_optname(L, 2, "mode", "sequential", modes);
    o.subpixel = lt_optboolean(L, 2, "subpixel", 1);
    o.window = lt_optboolean(L, 2, "window", 1);
    o.ignore_axes = lt_optboolean(L, 2, "ignore_axes", 1);
    o.whiten = lt_optnumber(L, 2, "whiten", 1.0);
    o.lowpass = lt_optnumber(L, 2, "lowpass", 0.3);
    o.neighbours = (int)lt_optinteger(L, 2, "neighbours", o.neighbours);
    int64_t nz = in->dims[2];
    double *buf = lua_newuserdatauv(L, (size_t)(3 * nz) * sizeof(double), 0);
    lt_begin(L);
    lt_end(L, tg_register(lt_ctx(L), in, &o, buf, buf + 2 * nz));
    lua_createtable(L, (int)nz, 0);
    lua_createtable(L, (int)nz, 0);
    for (int64_t z = 0; z < nz; z++) {
        lua_createtable(L, 0, 2);
        lua_pushnumber(L, buf[2 * z]);
        lua_setfield(L, -2, "x");
        lua_pushnumber(L, buf[2 * z + 1]);
        lua_setfield(L, -2, "y");
        lua_rawseti(L, -3, (lua_Integer)z + 1);
        lua_pushnumber(L, buf[2 * nz + z]);
        lua_rawseti(L, -2, (lua_Integer)z + 1);
    }
    return 2;
}

/* read {{x=, y=}, ...} (or {{dx, dy}, ...}) of length nz into s[2 nz] */
static void read_shifts(lua_State *L, int idx, int64_t nz, double *s)
{
    luaL_checktype(L, idx, LUA_TTABLE);
    lua_Integer n = luaL_len(L, idx);
    if (n != nz)
        lt_error(L, "shift: the shifts table has %d entries but the volume has %d slices", (int)n, (int)nz);
    for (int64_t z = 0; z < nz; z++) {
        lua_geti(L, idx, (lua_Integer)z + 1);
        if (!lua_istable(L, -1)) lt_error(L, "shift: shifts[%d] must be a table {x=..., y=...}", (int)z + 1);
        for (int a = 0; a < 2; a++) {
            if (lua_getfield(L, -1, a == 0 ? "x" : "y") == LUA_TNIL) {
                lua_pop(L, 1);
                lua_geti(L, -1, a + 1);
            }
            int ok;
            double v = lua_tonumberx(L, -1, &ok);
            if (!ok || !isfinite(v)) lt_error(L, "shift: shifts[%d].%s must be a finite number", (int)z + 1, a ? "y" : "x");
            s[2 * z + a] = v;
            lua_pop(L, 1);
        }
        lua_pop(L, 1);
    }
}

/* shift(v, shifts, interpolation = "linear" | "cubic", fill = number | "nearest", invert, crop) */
static int l_shift(lua_State *L)
{
    static const char *const interpolations[] = {"linear", "cubic", NULL}; /* TG_SHIFT_LINEAR, _CUBIC */
    static const char *const nearest[] = {"nearest", NULL};
    tg_volume *in = lt_checkvolume(L, 1);
    int64_t nz = in->dims[2];
    tg_shift_opts o = TG_SHIFT_OPTS_INIT;
    o.interpolation = luaL_checkoption(L, 3, "linear", interpolations);
    if (lua_type(L, 4) == LUA_TSTRING) o.fill_nearest = luaL_checkoption(L, 4, NULL, nearest) == 0;
    else o.fill = luaL_optnumber(L, 4, 0);
    o.invert = lua_toboolean(L, 5);
    o.crop = lua_toboolean(L, 6);
    double *s = lua_newuserdatauv(L, (size_t)(2 * nz) * sizeof(double), 0);
    read_shifts(L, 2, nz, s);
    tg_volume *out = lt_newvolume(L);
    lt_begin(L);
    lt_end(L, tg_shift(lt_ctx(L), in, s, &o, out));
    lt_gcstep(L, out);
    return 1;
}

/* valid_region(v, shifts, invert) -> {x={first, last}, y={first, last}} (1-based inclusive) or nil */
static int l_valid_region(lua_State *L)
{
    tg_volume *in = lt_checkvolume(L, 1);
    int64_t nz = in->dims[2], lo[2], hi[2];
    double *s = lua_newuserdatauv(L, (size_t)(2 * nz) * sizeof(double), 0);
    read_shifts(L, 2, nz, s);
    if (tg_shift_valid_region(in->dims, s, lua_toboolean(L, 3), lo, hi) != 0) {
        luaL_pushfail(L);
        return 1;
    }
    lua_createtable(L, 0, 2);
    for (int a = 0; a < 2; a++) {
        lua_createtable(L, 2, 0);
        lua_pushinteger(L, lo[a] + 1); /* back to Lua's inclusive 1-based convention */
        lua_rawseti(L, -2, 1);
        lua_pushinteger(L, hi[a]);
        lua_rawseti(L, -2, 2);
        lua_setfield(L, -2, a ? "y" : "x");
    }
    return 1;
}

void lt_open_filter(lua_State *L)
{
    static const luaL_Reg fns[] = {{"gaussian", l_gaussian},   {"median", l_median},
                                   {"mean", l_mean},           {"flatten", l_flatten},
                                   {"destripe", l_destripe},   {"destripe_max_levels", l_destripe_max_levels},
                                   {"daubechies", l_daubechies}, {"normalize", l_normalize},
                                   {"register", l_register},   {"shift", l_shift},
                                   {"valid_region", l_valid_region}, {NULL, NULL}};
    lt_register(L, "filter", fns);
}
