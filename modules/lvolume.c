/* lvolume.c — the tortuga.Volume userdata: the userdata is the engine's tg_volume struct itself.
 * core.volume.new, core.volume.from_bytes and the method table (extended with Lua wrappers in
 * lua/tortuga/volume.lua, which own the option tables and the 1-based public names).
 */
#include "lbind.h"
#include "core/tg_sha256.h"

#include <math.h>
#include <string.h>

static int l_new(lua_State *L)
{
    int64_t dims[3];
    for (int i = 0; i < 3; i++) {
        lua_Integer n = luaL_checkinteger(L, i + 1);
        luaL_argcheck(L, n >= 1, i + 1, "each dimension must be at least 1");
        dims[i] = n;
    }
    tg_dtype t = lua_isnoneornil(L, 4) ? TG_U8 : lt_checkdtype(L, 4, "tg.volume.new");
    double sp[3] = {1.0, 1.0, 1.0};
    lt_spacing(L, 5, sp);
    tg_volume *v = lt_newvolume(L);
    lt_begin(L);
    lt_end(L, tg_volume_alloc(lt_ctx(L), dims, t, sp, v));
    lt_gcstep(L, v);
    return 1;
}

static int l_from_bytes(lua_State *L)
{
    size_t len;
    const char *s = luaL_checklstring(L, 1, &len);
    lua_settop(L, 6);
    lua_remove(L, 1);
    lua_pushcfunction(L, l_new);
    lua_insert(L, 1);
    lua_call(L, 5, 1);
    tg_volume *v = lt_checkvolume(L, -1);
    if (len != v->buf->bytes)
        return lt_error(L, "from_bytes: got %d bytes, a %dx%dx%d %s volume needs %d", (int)len, (int)v->dims[0], (int)v->dims[1],
                          (int)v->dims[2], tg_dtype_name(v->dtype), (int)v->buf->bytes);
    memcpy(v->buf->data, s, len);
    return 1;
}

/* v:sha256() -> the SHA-256 (hex) of the voxel values in x-fastest order (views are hashed as their contiguous copy) */
static int l_sha256(lua_State *L)
{
    tg_volume *v = lt_checkvolume(L, 1);
    tg_volume c;
    tg_volume_init(&c);
    const tg_volume *src = v;
    size_t bytes = (size_t)tg_volume_count(v) * tg_dtype_size(v->dtype);
    lt_begin(L);
    if (!tg_volume_is_contiguous(v)) {
        tg_status st = tg_volume_copy(lt_ctx(L), v, &c);
        if (st != TG_OK) lt_end(L, st);
        src = &c;
    }
    char hex[TG_SHA256_HEX];
    tg_status st = tg_sha256_buffer(lt_ctx(L), (const char *)src->buf->data + src->offset, bytes, hex);
    tg_volume_release(&c);
    lt_end(L, st);
    lua_pushstring(L, hex);
    return 1;
}

static int l_bytes(lua_State *L)
{
    tg_volume *v = lt_checkvolume(L, 1);
    tg_volume c;
    tg_volume_init(&c);
    const tg_volume *src = v;
    if (!tg_volume_is_contiguous(v) || v->offset != 0 || v->buf->bytes != (size_t)tg_volume_count(v) * tg_dtype_size(v->dtype)) {
        lt_begin(L);
        tg_status st = tg_volume_copy(lt_ctx(L), v, &c);
        lt_end(L, st);
        src = &c;
    }
    lua_pushlstring(L, (const char *)src->buf->data, src->buf->bytes);
    tg_volume_release(&c);
    return 1;
}

static int l_dims(lua_State *L)
{
    tg_volume *v = lt_checkvolume(L, 1);
    for (int i = 0; i < 3; i++) lua_pushinteger(L, v->dims[i]);
    return 3;
}

static int l_spacing(lua_State *L)
{
    tg_volume *v = lt_checkvolume(L, 1);
    lt_spacing(L, 2, v->spacing);
    lua_createtable(L, 3, 0);
    for (int i = 0; i < 3; i++) {
        lua_pushnumber(L, v->spacing[i]);
        lua_rawseti(L, -2, i + 1);
    }
    return 1;
}

static void check_index(lua_State *L, const tg_volume *v, int64_t *xyz)
{
    for (int i = 0; i < 3; i++) {
        lua_Integer c = luaL_checkinteger(L, i + 2);
        if (c < 1 || c > v->dims[i])
            lt_error(L, "index %c = %d is outside 1..%d", "xyz"[i], (int)c, (int)v->dims[i]);
        xyz[i] = c - 1;
    }
}

static int l_get(lua_State *L)
{
    tg_volume *v = lt_checkvolume(L, 1);
    int64_t p[3];
    check_index(L, v, p);
    double val = tg_volume_get(v, p[0], p[1], p[2]);
    if (tg_dtype_is_int(v->dtype)) lua_pushinteger(L, (lua_Integer)val);
    else lua_pushnumber(L, val);
    return 1;
}

static int l_set(lua_State *L)
{
    tg_volume *v = lt_checkvolume(L, 1);
    int64_t p[3];
    check_index(L, v, p);
    tg_volume_set(v, p[0], p[1], p[2], luaL_checknumber(L, 5));
    return 0;
}

/* view(v, xrange, yrange, zrange): ranges as lt_range reads them */
static int l_view(lua_State *L)
{
    tg_volume *v = lt_checkvolume(L, 1);
    int64_t lo[3], hi[3];
    static const char *const what[3] = {"view x", "view y", "view z"};
    for (int i = 0; i < 3; i++) lt_range(L, i + 2, v->dims[i], &lo[i], &hi[i], what[i]);
    tg_volume *out = lt_newvolume(L);
    lt_begin(L);
    lt_end(L, tg_volume_view(lt_ctx(L), v, lo, hi, out));
    return 1;
}

static int l_copy(lua_State *L)
{
    tg_volume *v = lt_checkvolume(L, 1);
    tg_volume *out = lt_newvolume(L);
    lt_begin(L);
    lt_end(L, tg_volume_copy(lt_ctx(L), v, out));
    lt_gcstep(L, out);
    return 1;
}

static int l_astype(lua_State *L)
{
    tg_volume *v = lt_checkvolume(L, 1);
    tg_dtype t = lt_checkdtype(L, 2, "v:astype");
    tg_volume *out = lt_newvolume(L);
    lt_begin(L);
    lt_end(L, tg_volume_astype(lt_ctx(L), v, t, out));
    lt_gcstep(L, out);
    return 1;
}

static void setnum(lua_State *L, const char *k, double v)
{
    lua_pushnumber(L, v);
    lua_setfield(L, -2, k);
}

static void setcount(lua_State *L, const char *k, int64_t n)
{
    lua_pushinteger(L, (lua_Integer)n);
    lua_setfield(L, -2, k);
}

static int l_stats(lua_State *L)
{
    tg_volume *v = lt_checkvolume(L, 1);
    tg_stats s;
    lt_begin(L);
    lt_end(L, tg_volume_stats(lt_ctx(L), v, &s));
    lua_createtable(L, 0, 8);
    setnum(L, "min", s.min);
    setnum(L, "max", s.max);
    setnum(L, "mean", s.mean);
    setnum(L, "std", s.std);
    setcount(L, "count", s.count);
    setcount(L, "nan_count", s.nan_count);
    setcount(L, "posinf_count", s.posinf_count);
    setcount(L, "neginf_count", s.neginf_count);
    return 1;
}

/* histogram(v, bins, lo, hi) -> array of counts, {below, above, nan, posinf, neginf} (voxels not binned) */
static int l_histogram(lua_State *L)
{
    tg_volume *v = lt_checkvolume(L, 1);
    lua_Integer bins = luaL_checkinteger(L, 2);
    double lo = luaL_checknumber(L, 3), hi = luaL_checknumber(L, 4);
    luaL_argcheck(L, bins >= 1 && bins <= (1 << 24), 2, "bins must be between 1 and 16777216");
    int64_t *counts = lua_newuserdatauv(L, (size_t)bins * sizeof *counts, 0); /* boxed: freed by Lua if we raise */
    tg_hist_outside out;
    lt_begin(L);
    lt_end(L, tg_volume_histogram(lt_ctx(L), v, (int)bins, lo, hi, counts, &out));
    lua_createtable(L, (int)bins, 0);
    for (lua_Integer b = 0; b < bins; b++) {
        lua_pushinteger(L, counts[b]);
        lua_rawseti(L, -2, b + 1);
    }
    lua_createtable(L, 0, 5);
    setcount(L, "below", out.below);
    setcount(L, "above", out.above);
    setcount(L, "nan", out.nan);
    setcount(L, "posinf", out.posinf);
    setcount(L, "neginf", out.neginf);
    return 2;
}

/* counts(v) -> {[value] = voxels} for the values present */
static int l_counts(lua_State *L)
{
    tg_volume *v = lt_checkvolume(L, 1);
    tg_ctx *ctx = lt_ctx(L);
    if (!tg_dtype_is_int(v->dtype))
        return lt_error(L, "counts: needs an integer volume (u8, u16 or i32), got %s; use histogram for grey values", tg_dtype_name(v->dtype));
    int64_t vmin = 0, n = v->dtype == TG_U8 ? 256 : 65536;
    lt_begin(L);
    if (v->dtype == TG_I32) {
        tg_stats s;
        tg_status st = tg_volume_stats(ctx, v, &s);
        if (st == TG_OK && s.max - s.min + 1 > (double)(1 << 26))
            st = tg_fail(ctx, TG_ERR_RANGE, "counts: i32 values span %.0f..%.0f, too wide for a table of counts", s.min, s.max);
        lt_end(L, st);
        vmin = (int64_t)s.min;
        n = (int64_t)(s.max - s.min) + 1;
        lt_begin(L);
    }
    int64_t *counts = lua_newuserdatauv(L, (size_t)n * sizeof *counts, 0);
    lt_end(L, tg_volume_counts(ctx, v, vmin, n, counts));
    lua_newtable(L);
    for (int64_t i = 0; i < n; i++)
        if (counts[i]) {
            lua_pushinteger(L, counts[i]);
            lua_rawseti(L, -2, vmin + i);
        }
    return 1;
}

/* map(v, from_array, to_array, dtype) */
static int l_map(lua_State *L)
{
    tg_volume *v = lt_checkvolume(L, 1);
    luaL_checktype(L, 2, LUA_TTABLE);
    luaL_checktype(L, 3, LUA_TTABLE);
    tg_dtype t = lua_isnoneornil(L, 4) ? v->dtype : lt_checkdtype(L, 4, "v:map");
    lua_Integer n = luaL_len(L, 2);
    luaL_argcheck(L, n == luaL_len(L, 3), 3, "from and to must have the same length");
    double *tab = lua_newuserdatauv(L, (size_t)(2 * n + 1) * sizeof *tab, 0);
    for (lua_Integer i = 0; i < n; i++) {
        lua_geti(L, 2, i + 1);
        lua_geti(L, 3, i + 1);
        tab[i] = luaL_checknumber(L, -2);
        tab[n + i] = luaL_checknumber(L, -1);
        lua_pop(L, 2);
    }
    tg_volume *out = lt_newvolume(L);
    lt_begin(L);
    lt_end(L, tg_volume_map(lt_ctx(L), v, tab, tab + n, (int)n, t, out));
    lt_gcstep(L, out);
    return 1;
}

static int mask_op(lua_State *L, tg_status (*op)(tg_ctx *, const tg_volume *, double, tg_volume *))
{
    tg_volume *v = lt_checkvolume(L, 1);
    double t = luaL_checknumber(L, 2);
    tg_volume *out = lt_newvolume(L);
    lt_begin(L);
    lt_end(L, op(lt_ctx(L), v, t, out));
    lt_gcstep(L, out);
    return 1;
}

static int l_eq(lua_State *L) { return mask_op(L, tg_volume_eq); }
static int l_threshold(lua_State *L) { return mask_op(L, tg_volume_threshold); }

static int l_fill(lua_State *L)
{
    tg_volume *v = lt_checkvolume(L, 1);
    double val = luaL_checknumber(L, 2);
    lt_begin(L);
    lt_end(L, tg_volume_fill(lt_ctx(L), v, val));
    lua_settop(L, 1);
    return 1;
}

static int l_release(lua_State *L)
{
    tg_volume *v = luaL_checkudata(L, 1, LT_VOLUME_MT);
    tg_volume_release(v);
    return 0;
}

static int l_released(lua_State *L)
{
    tg_volume *v = luaL_checkudata(L, 1, LT_VOLUME_MT);
    lua_pushboolean(L, v->buf == NULL);
    return 1;
}

static int l_layout(lua_State *L)
{
    tg_volume *v = lt_checkvolume(L, 1);
    lua_createtable(L, 0, 4);
    lua_pushboolean(L, tg_volume_is_contiguous(v) && v->offset == 0);
    lua_setfield(L, -2, "contiguous");
    lua_pushinteger(L, (lua_Integer)(tg_volume_count(v) * (int64_t)tg_dtype_size(v->dtype)));
    lua_setfield(L, -2, "bytes");
    lua_pushinteger(L, (lua_Integer)v->buf->bytes);
    lua_setfield(L, -2, "buffer_bytes");
    lua_pushinteger(L, (lua_Integer)atomic_load(&v->buf->refs));
    lua_setfield(L, -2, "shared_by");
    return 1;
}

static int l_tostring(lua_State *L)
{
    tg_volume *v = luaL_checkudata(L, 1, LT_VOLUME_MT);
    if (!v->buf) {
        lua_pushstring(L, "tortuga.Volume(released)");
        return 1;
    }
    if (v->spacing[0] == 1.0 && v->spacing[1] == 1.0 && v->spacing[2] == 1.0) lua_pushliteral(L, "uncalibrated");
    else lt_pushspacing(L, v->spacing);
    lua_pushfstring(L, "tortuga.Volume(%dx%dx%d %s, %s)", (int)v->dims[0], (int)v->dims[1], (int)v->dims[2],
                    tg_dtype_name(v->dtype), lua_tostring(L, -1));
    return 1;
}

static int l_index(lua_State *L)
{
    tg_volume *v = luaL_checkudata(L, 1, LT_VOLUME_MT);
    const char *k = lua_tostring(L, 2);
    if (k && strcmp(k, "dtype") == 0) {
        if (!v->buf) return lt_error(L, "the volume has been released");
        lua_pushstring(L, tg_dtype_name(v->dtype));
        return 1;
    }
    lua_pushvalue(L, 2);
    lua_gettable(L, lua_upvalueindex(1));
    return 1;
}

void lt_open_volume(lua_State *L)
{
    static const luaL_Reg methods[] = {
        {"dims", l_dims},       {"spacing", l_spacing},     {"get", l_get},         {"set", l_set},
        {"view", l_view},       {"copy", l_copy},           {"astype", l_astype},   {"stats", l_stats},
        {"histogram", l_histogram}, {"counts", l_counts},   {"map", l_map},         {"eq", l_eq},
        {"threshold", l_threshold}, {"fill", l_fill},       {"release", l_release}, {"released", l_released},
        {"layout", l_layout},   {"bytes", l_bytes},         {"sha256", l_sha256},   {NULL, NULL}};
    static const luaL_Reg meta[] = {{"__gc", l_release}, {"__close", l_release}, {"__tostring", l_tostring}, {NULL, NULL}};
    static const luaL_Reg fns[] = {{"new", l_new}, {"from_bytes", l_from_bytes}, {NULL, NULL}};

    lt_register(L, "volume", fns);
    lua_getfield(L, -1, "volume");
    luaL_newmetatable(L, LT_VOLUME_MT);
    luaL_setfuncs(L, meta, 0);
    lua_newtable(L);
    luaL_setfuncs(L, methods, 0);
    lua_pushvalue(L, -1);
    lua_setfield(L, -4, "methods"); /* core.volume.methods: the Lua layer adds and wraps methods here */
    lua_pushcclosure(L, l_index, 1);
    lua_setfield(L, -2, "__index");
    lua_pushstring(L, "tortuga.Volume");
    lua_setfield(L, -2, "__name");
    lua_pop(L, 2);
}
