/* lfilter.c — core.filter: the bindings of engine/filter (Gaussian, median, mean, flatten, destripe, normalize,
 * register, shift). Only translation: option checking, defaults and units live in lua/tortuga/filter.lua.
 * Every filter takes a volume (returns a new volume) or a stack on disk (tortuga.Stack); a stack takes two more
 * arguments after the filter's own, a writer (tortuga.Writer, neither closed nor aborted here) and the streaming
 * options {memory = size, max_slab = n}, and returns the streamed table (lt_pushstreamed) instead of a volume
 * (engine/filter/tg_filter_stream.h). */
#include "lbind.h"

#include <math.h>
#include <string.h>

#include "filter/tg_destripe.h"
#include "filter/tg_filter_stream.h"
#include "filter/tg_flatten.h"
#include "filter/tg_gaussian.h"
#include "filter/tg_normalize.h"
#include "filter/tg_rank.h"
#include "filter/tg_register.h"
#include "io/tg_stack.h"

/* dims of the volume or stack at idx */
static void input_dims(lua_State *L, int idx, int64_t dims[3])
{
    tg_volume *v = lt_testvolume(L, idx);
    if (v) {
        if (!v->buf) luaL_argerror(L, idx, "the volume has been released");
        memcpy(dims, v->dims, 3 * sizeof *dims);
        return;
    }
    if (!lt_teststack(L, idx)) luaL_typeerror(L, idx, "volume or stack");
    memcpy(dims, tg_stack_info(lt_teststack(L, idx))->dims, 3 * sizeof *dims);
}

/* The filter o on the volume or stack at 1. A volume: push the new volume. A stack: append to the writer at wpos,
 * with the streaming options at wpos + 1, and push the streamed table. lohi: normalize's ranges (may be NULL). */
static int run(lua_State *L, tg_filter_stream_opts *o, int wpos, double *lohi)
{
    tg_volume *in = lt_testvolume(L, 1);
    if (!in) {
        tg_stack *st = lt_checkstack(L, 1);
        tg_writer *w = lt_checkwriter(L, wpos);
        lt_streamopts(L, wpos + 1, &o->stream);
        tg_stream_result r;
        lt_begin(L);
        lt_end(L, tg_filter_stream(lt_ctx(L), st, o, w, lohi, &r));
        lt_pushstreamed(L, &r);
        return 1;
    }
    if (!in->buf) return luaL_argerror(L, 1, "the volume has been released");
    tg_volume *out = lt_newvolume(L);
    tg_ctx *ctx = lt_ctx(L);
    tg_status st = TG_ERR_ARG;
    lt_begin(L);
    switch (o->kind) {
    case TG_FILTER_GAUSSIAN: st = tg_gaussian(ctx, in, &o->gaussian, out); break;
    case TG_FILTER_MEDIAN: st = tg_median(ctx, in, &o->rank, out); break;
    case TG_FILTER_MEAN: st = tg_mean(ctx, in, &o->rank, out); break;
    case TG_FILTER_FLATTEN: st = tg_flatten(ctx, in, &o->flatten, out); break;
    case TG_FILTER_DESTRIPE: st = tg_destripe(ctx, in, &o->destripe, out); break;
    case TG_FILTER_NORMALIZE: st = tg_normalize(ctx, in, &o->normalize, out, lohi); break;
    case TG_FILTER_SHIFT: st = tg_shift(ctx, in, o->shifts, &o->shift, out); break;
    }
    lt_end(L, st);
    lt_gcstep(L, out);
    return 1;
}

/* gaussian(v, {sx, sy, sz}, {ox, oy, oz}, per_slice, truncate [, writer, stream]) */
static int l_gaussian(lua_State *L)
{
    tg_filter_stream_opts f = TG_FILTER_STREAM_OPTS_INIT;
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
    f.kind = TG_FILTER_GAUSSIAN;
    f.gaussian = o;
    return run(L, &f, 6, NULL);
}

/* median(v, radius, per_slice [, writer, stream]), mean(...) */
static int rank(lua_State *L, int median)
{
    tg_filter_stream_opts f = TG_FILTER_STREAM_OPTS_INIT;
    f.kind = median ? TG_FILTER_MEDIAN : TG_FILTER_MEAN;
    f.rank.radius = (int)luaL_checkinteger(L, 2);
    f.rank.per_slice = lua_toboolean(L, 3);
    return run(L, &f, 4, NULL);
}
static int l_median(lua_State *L) { return rank(L, 1); }
static int l_mean(lua_State *L) { return rank(L, 0); }

/* flatten(v, sx, sy, order [, writer, stream]) */
static int l_flatten(lua_State *L)
{
    tg_filter_stream_opts f = TG_FILTER_STREAM_OPTS_INIT;
    f.kind = TG_FILTER_FLATTEN;
    f.flatten = (tg_flatten_opts){{luaL_checknumber(L, 2), luaL_checknumber(L, 3)}, (int)luaL_optinteger(L, 4, 0)};
    return run(L, &f, 5, NULL);
}

/* destripe(v, levels, wavelet, sigma, direction = "vertical" | "horizontal" [, writer, stream]) */
static int l_destripe(lua_State *L)
{
    static const char *const directions[] = {"vertical", "horizontal", NULL}; /* TG_DESTRIPE_VERTICAL, _HORIZONTAL */
    tg_filter_stream_opts f = TG_FILTER_STREAM_OPTS_INIT;
    f.kind = TG_FILTER_DESTRIPE;
    f.destripe = (tg_destripe_opts){(int)luaL_checkinteger(L, 2), (int)luaL_checkinteger(L, 3), luaL_checknumber(L, 4),
                                    luaL_checkoption(L, 5, "vertical", directions)};
    return run(L, &f, 6, NULL);
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

/* normalize(v, saturated, per_slice, lo, hi [, writer, stream]) -> volume or streamed, {{lo=, hi=}, ...} (per slice,
 * or one pair; lo, hi given (numbers): that range, one pair) */
static int l_normalize(lua_State *L)
{
    lua_settop(L, 7);
    int64_t dims[3];
    input_dims(L, 1, dims);
    tg_filter_stream_opts f = TG_FILTER_STREAM_OPTS_INIT;
    f.kind = TG_FILTER_NORMALIZE;
    f.normalize.saturated = luaL_checknumber(L, 2);
    f.normalize.per_slice = lua_toboolean(L, 3);
    if (!lua_isnoneornil(L, 4)) {
        f.normalize.range[0] = luaL_checknumber(L, 4);
        f.normalize.range[1] = luaL_checknumber(L, 5);
        f.normalize.per_slice = 0;
    }
    int64_t n = f.normalize.per_slice ? dims[2] : 1;
    double *lohi = lt_box(L, (size_t)(2 * n) * sizeof(double));
    int top = lua_gettop(L);
    run(L, &f, 6, lohi);
    lua_createtable(L, (int)n, 0);
    for (int64_t i = 0; i < n; i++) {
        lua_createtable(L, 0, 2);
        lua_pushnumber(L, lohi[2 * i]);
        lua_setfield(L, -2, "lo");
        lua_pushnumber(L, lohi[2 * i + 1]);
        lua_setfield(L, -2, "hi");
        lua_rawseti(L, -2, (lua_Integer)i + 1);
    }
    return lua_gettop(L) - top;
}

/* register(v, {x=range, y=range, reference=z, mode="sequential"|"fixed", subpixel=bool, window=bool, lowpass=n, ignore_axes=bool,
 *              whiten=n, neighbours=K [, memory=, max_slab= (a stack)]})
 * -> shifts {{x=, y=}, ...}, quality {...} [, streamed (a stack)] */
static int l_register(lua_State *L)
{
    int64_t dims[3];
    input_dims(L, 1, dims);
    tg_stack *stack = lt_teststack(L, 1);
    luaL_checktype(L, 2, LUA_TTABLE);
    tg_register_opts o = TG_REGISTER_OPTS_INIT;
    static const char *const what[2] = {"register roi x", "register roi y"};
    for (int a = 0; a < 2; a++) {
        lua_getfield(L, 2, a == 0 ? "x" : "y");
        lt_range(L, -1, dims[a], &o.roi_lo[a], &o.roi_hi[a], what[a]);
        lua_pop(L, 1);
    }
    int64_t lo, hi;
    if (lua_getfield(L, 2, "reference") != LUA_TNIL) {
        if (!lua_isinteger(L, -1)) lt_error(L, "register: reference must be a slice index (integer)");
        lt_range(L, -1, dims[2], &lo, &hi, "register reference");
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
    tg_stream_opts so = TG_STREAM_OPTS_INIT;
    if (stack) lt_streamopts(L, 2, &so);
    int64_t nz = dims[2];
    double *buf = lt_box(L, (size_t)(3 * nz) * sizeof(double));
    tg_stream_result r;
    lt_begin(L);
    if (stack) lt_end(L, tg_register_stream(lt_ctx(L), stack, &o, &so, buf, buf + 2 * nz, &r));
    else lt_end(L, tg_register(lt_ctx(L), lt_checkvolume(L, 1), &o, buf, buf + 2 * nz));
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
    if (!stack) return 2;
    lt_pushstreamed(L, &r);
    return 3;
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

/* shift(v, shifts, interpolation = "linear" | "cubic", fill = number | "nearest", invert, crop [, writer, stream, region])
 * region (a stack): {x = {first, last}, y = {first, last}} of the frame to write (1-based inclusive), instead of crop */
static int l_shift(lua_State *L)
{
    static const char *const interpolations[] = {"linear", "cubic", NULL}; /* TG_SHIFT_LINEAR, _CUBIC */
    static const char *const nearest[] = {"nearest", NULL};
    lua_settop(L, 9);
    int64_t dims[3];
    input_dims(L, 1, dims);
    int64_t nz = dims[2];
    tg_filter_stream_opts f = TG_FILTER_STREAM_OPTS_INIT;
    tg_shift_opts *o = &f.shift;
    f.kind = TG_FILTER_SHIFT;
    o->interpolation = luaL_checkoption(L, 3, "linear", interpolations);
    if (lua_type(L, 4) == LUA_TSTRING) o->fill_nearest = luaL_checkoption(L, 4, NULL, nearest) == 0;
    else o->fill = luaL_optnumber(L, 4, 0);
    o->invert = lua_toboolean(L, 5);
    o->crop = lua_toboolean(L, 6);
    if (!lua_isnil(L, 9)) {
        luaL_checktype(L, 9, LUA_TTABLE);
        static const char *const what[2] = {"shift region x", "shift region y"};
        for (int a = 0; a < 2; a++) {
            lua_getfield(L, 9, a == 0 ? "x" : "y");
            lt_range(L, -1, dims[a], &o->region_lo[a], &o->region_hi[a], what[a]);
            lua_pop(L, 1);
        }
    }
    double *s = lt_box(L, (size_t)(2 * nz) * sizeof(double));
    read_shifts(L, 2, nz, s);
    f.shifts = s;
    lua_replace(L, 9); /* keep the box alive below the result */
    return run(L, &f, 7, NULL);
}

/* valid_region(v, shifts, invert) -> {x={first, last}, y={first, last}} (1-based inclusive) or nil */
static int l_valid_region(lua_State *L)
{
    int64_t dims[3];
    input_dims(L, 1, dims);
    int64_t nz = dims[2], lo[2], hi[2];
    double *s = lua_newuserdatauv(L, (size_t)(2 * nz) * sizeof(double), 0);
    read_shifts(L, 2, nz, s);
    if (tg_shift_valid_region(dims, s, lua_toboolean(L, 3), lo, hi) != 0) {
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
