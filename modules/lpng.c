/* lpng.c — bindings for PNG slices and file hashes:
 *
 *   core.png.write(path, vol, {z=, colormap="grey"|"labels"|"viridis", range={lo,hi}, labels={[v]={r,g,b}},
 *                  compression=0..9})          --> true | nil, "path: reason"
 *       z is 1-based (default: the middle slice, (nz // 2) + 1); labels overrides entries of the built-in
 *       palette (values 0..255, components 0..255).
 *   core.png.default_palette()                 --> {[0]={r,g,b}, ..., [255]={r,g,b}}
 *   core.sha256_file(path)                     --> hex digest, size in bytes | nil, "path: reason"
 *
 * Misuse (wrong types, z outside the volume, bad colour map) raises; file-system failures return nil, msg.
 */
#include "lbind.h"

#include <string.h>

#include "core/tg_sha256.h"
#include "io/tg_png.h"

static tg_png_colormap check_colormap(lua_State *L, const char *name)
{
    if (strcmp(name, "grey") == 0 || strcmp(name, "gray") == 0) return TG_PNG_GREY;
    if (strcmp(name, "labels") == 0) return TG_PNG_LABELS;
    if (strcmp(name, "viridis") == 0) return TG_PNG_VIRIDIS;
    luaL_error(L, "colormap must be 'grey', 'labels' or 'viridis', got '%s'", name);
    return TG_PNG_GREY;
}

static int byte_at(lua_State *L, int t, int i, lua_Integer label)
{
    lua_geti(L, t, i);
    int ok;
    lua_Integer c = lua_tointegerx(L, -1, &ok);
    if (!ok || c < 0 || c > 255)
        luaL_error(L, "labels[%d] must be {r, g, b} with integers 0..255", (int)label);
    lua_pop(L, 1);
    return (int)c;
}

/* Read opts.labels ({[value] = {r, g, b}}) over the built-in palette. */
static void read_palette(lua_State *L, int opts, uint8_t pal[256 * 3])
{
    tg_png_default_palette(pal);
    if (!lua_istable(L, opts)) return;
    lua_getfield(L, opts, "labels");
    int t = lua_gettop(L);
    if (lua_isnil(L, t)) { lua_pop(L, 1); return; }
    luaL_argexpected(L, lua_istable(L, t), 3, "labels = {[value] = {r, g, b}}");
    lua_pushnil(L);
    while (lua_next(L, t)) {
        int ok;
        lua_Integer label = lua_tointegerx(L, -2, &ok);
        if (!ok || label < 0 || label > 255) luaL_error(L, "labels: keys must be label values 0..255");
        if (!lua_istable(L, -1) || luaL_len(L, -1) != 3) luaL_error(L, "labels[%d] must be {r, g, b}", (int)label);
        int c = lua_gettop(L);
        for (int k = 0; k < 3; k++) pal[3 * label + k] = (uint8_t)byte_at(L, c, k + 1, label);
        lua_pop(L, 1);
    }
    lua_pop(L, 1);
}

static void read_range(lua_State *L, int opts, tg_png_opts *o)
{
    if (!lua_istable(L, opts)) return;
    lua_getfield(L, opts, "range");
    if (!lua_isnil(L, -1)) {
        int t = lua_gettop(L), ok1 = 0, ok2 = 0;
        if (lua_istable(L, t)) {
            lua_geti(L, t, 1);
            lua_geti(L, t, 2);
            o->lo = lua_tonumberx(L, -2, &ok1);
            o->hi = lua_tonumberx(L, -1, &ok2);
            lua_pop(L, 2);
        }
        if (!ok1 || !ok2 || !(o->lo <= o->hi))
            luaL_error(L, "range must be {lo, hi} with numbers lo <= hi");
        o->has_range = 1;
    }
    lua_pop(L, 1);
}

static int l_png_write(lua_State *L)
{
    const char *path = luaL_checkstring(L, 1);
    tg_volume *v = lt_checkvolume(L, 2);
    if (!lua_isnoneornil(L, 3)) luaL_checktype(L, 3, LUA_TTABLE);
    tg_png_opts o = TG_PNG_OPTS_INIT;
    o.colormap = check_colormap(L, lt_optstring(L, 3, "colormap", "grey"));
    o.compression = (int)lt_optinteger(L, 3, "compression", -1);
    if (o.compression < -1 || o.compression > 9) luaL_error(L, "compression must be 0..9");
    read_range(L, 3, &o);
    uint8_t pal[256 * 3];
    if (o.colormap == TG_PNG_LABELS) {
        read_palette(L, 3, pal);
        o.palette = pal;
    }
    int64_t zlo, zhi;
    if (lua_istable(L, 3)) lua_getfield(L, 3, "z");
    else lua_pushnil(L);
    if (lua_isnil(L, -1)) {
        lua_pop(L, 1);
        lua_pushinteger(L, (lua_Integer)(v->dims[2] / 2 + 1));
    } else if (!lua_isinteger(L, -1)) {
        luaL_error(L, "z must be an integer slice index, got %s", luaL_typename(L, -1));
    }
    lt_range(L, -1, v->dims[2], &zlo, &zhi, "z");
    lua_pop(L, 1);

    tg_ctx *ctx = lt_ctx(L);
    tg_volume slice;
    tg_volume_init(&slice);
    int64_t lo[3] = {0, 0, zlo}, hi[3] = {v->dims[0], v->dims[1], zhi};
    lt_begin(L);
    tg_status st = tg_volume_view(ctx, v, lo, hi, &slice);
    if (st == TG_OK) st = tg_png_write(ctx, path, &slice, &o);
    tg_volume_release(&slice);
    int n = lt_end_io(L, st);
    if (n) return n;
    lua_pushboolean(L, 1);
    return 1;
}

static int l_png_default_palette(lua_State *L)
{
    uint8_t pal[256 * 3];
    tg_png_default_palette(pal);
    lua_createtable(L, 255, 1);
    for (int i = 0; i < 256; i++) {
        lua_createtable(L, 3, 0);
        for (int k = 0; k < 3; k++) {
            lua_pushinteger(L, pal[3 * i + k]);
            lua_seti(L, -2, k + 1);
        }
        lua_seti(L, -2, i);
    }
    return 1;
}

static int l_sha256_file(lua_State *L)
{
    const char *path = luaL_checkstring(L, 1);
    char hex[TG_SHA256_HEX];
    uint64_t size = 0;
    lt_begin(L);
    tg_status st = tg_sha256_file(lt_ctx(L), path, hex, &size);
    int n = lt_end_io(L, st);
    if (n) return n;
    lua_pushstring(L, hex);
    lua_pushinteger(L, (lua_Integer)size);
    return 2;
}

void lt_open_png(lua_State *L)
{
    static const luaL_Reg fns[] = {{"write", l_png_write}, {"default_palette", l_png_default_palette}, {NULL, NULL}};
    lt_register(L, "png", fns);
    lua_pushcfunction(L, l_sha256_file);
    lua_setfield(L, -2, "sha256_file");
}
