/* lio.c — core.io: the low-level TIFF functions (engine/io/tg_tiff.h). The public layer is lua/tortuga/io.lua.
 *
 *   core.io.info(path)                     --> table | nil, "path: reason"
 *   core.io.read_tiff(path [, opts])       --> volume | nil, "path: reason"     opts: z={first,last}, dtype, max_bytes
 *   core.io.read_tiff_memory(bytes [, opts])  (the same from a Lua string; messages name "<memory>")
 *   core.io.read_slices(paths [, opts])    --> volume | nil, "path: reason"     one slice per file; z selects files
 *   core.io.write_tiff(path, vol [, opts]) --> true | nil, "path: reason"      opts: compress, bigtiff
 *
 * Misuse (wrong types, bad dtype or compression names, a z range outside the stack) raises; failures of the
 * outside world return nil and the message. z ranges are 1-based inclusive here and converted by lt_range.
 */
#include <string.h>

#include "lbind.h"
#include "io/tg_tiff.h"

static const char *sample_format_name(int sf)
{
    switch (sf) {
    case 1: return "uint";
    case 2: return "int";
    case 3: return "float";
    case 4: return "void";
    case 5: return "complexint";
    case 6: return "complexfloat";
    default: return "unknown";
    }
}

static const char *photometric_name(int p)
{
    switch (p) {
    case 0: return "miniswhite";
    case 1: return "minisblack";
    case 2: return "rgb";
    case 3: return "palette";
    case 6: return "ycbcr";
    default: return "other";
    }
}

static void push_info(lua_State *L, const tg_tiff_info_t *in)
{
    lua_createtable(L, 0, 24);
    lua_pushinteger(L, in->dims[0]); lua_setfield(L, -2, "width");
    lua_pushinteger(L, in->dims[1]); lua_setfield(L, -2, "height");
    lua_pushinteger(L, in->dims[2]); lua_setfield(L, -2, "pages");
    lua_createtable(L, 3, 0);
    for (int i = 0; i < 3; i++) { lua_pushinteger(L, in->dims[i]); lua_rawseti(L, -2, i + 1); }
    lua_setfield(L, -2, "dims");
    lua_pushstring(L, tg_dtype_name(in->dtype)); lua_setfield(L, -2, "dtype");
    lua_pushinteger(L, in->bits); lua_setfield(L, -2, "bits");
    lua_pushstring(L, sample_format_name(in->sample_format)); lua_setfield(L, -2, "sample_format");
    lua_pushinteger(L, in->samples); lua_setfield(L, -2, "samples");
    lua_pushstring(L, photometric_name(in->photometric)); lua_setfield(L, -2, "photometric");
    lua_pushboolean(L, in->rgb); lua_setfield(L, -2, "rgb");
    lua_pushstring(L, in->compression_name); lua_setfield(L, -2, "compression");
    lua_pushinteger(L, in->compression); lua_setfield(L, -2, "compression_code");
    lua_pushboolean(L, in->bigtiff); lua_setfield(L, -2, "bigtiff");
    lua_pushboolean(L, in->tiled); lua_setfield(L, -2, "tiled");
    lua_pushboolean(L, in->imagej); lua_setfield(L, -2, "imagej");
    lua_createtable(L, 3, 0);
    for (int i = 0; i < 3; i++) { lua_pushnumber(L, in->spacing[i]); lua_rawseti(L, -2, i + 1); }
    lua_setfield(L, -2, "spacing");
    lua_pushboolean(L, in->calibrated); lua_setfield(L, -2, "calibrated");
    lua_pushboolean(L, in->z_calibrated); lua_setfield(L, -2, "z_calibrated");
    lua_pushstring(L, in->unit); lua_setfield(L, -2, "unit");
    lua_pushstring(L, "m"); lua_setfield(L, -2, "units");
    if (in->note[0]) { lua_pushstring(L, in->note); lua_setfield(L, -2, "note"); }
}

static int l_info(lua_State *L)
{
    const char *path = luaL_checkstring(L, 1);
    tg_tiff_info_t in;
    lt_begin(L);
    tg_status st = tg_tiff_info(lt_ctx(L), path, &in);
    int r = lt_end_io(L, st);
    if (r) return r;
    push_info(L, &in);
    return 1;
}

/* dtype and max_bytes of the options table at idx (z is handled by the caller). */
static void read_opts(lua_State *L, int idx, tg_tiff_read_opts *o)
{
    if (lua_isnoneornil(L, idx)) return;
    luaL_checktype(L, idx, LUA_TTABLE);
    if (lua_getfield(L, idx, "dtype") != LUA_TNIL) o->dtype = (int)lt_checkdtype(L, -1);
    lua_pop(L, 1);
    lua_Integer mb = lt_optinteger(L, idx, "max_bytes", 0);
    if (mb < 0) luaL_error(L, "max_bytes must be >= 0");
    o->max_bytes = (int64_t)mb;
}

/* z range of the options at idx against n pages, 1-based inclusive → o->z_first/z_last. */
static void read_z(lua_State *L, int idx, int64_t n, const char *name, tg_tiff_read_opts *o)
{
    if (lua_isnoneornil(L, idx)) return;
    if (lua_getfield(L, idx, "z") != LUA_TNIL) {
        const char *what = lua_pushfstring(L, "z of %s (%d pages)", name, (int)n);
        lt_range(L, -2, n, &o->z_first, &o->z_last, what);
        lua_pop(L, 1);
    }
    lua_pop(L, 1);
}

static int has_z(lua_State *L, int idx)
{
    if (!lua_istable(L, idx)) return 0;
    int t = lua_getfield(L, idx, "z");
    lua_pop(L, 1);
    return t != LUA_TNIL;
}

static int l_read_tiff(lua_State *L)
{
    const char *path = luaL_checkstring(L, 1);
    tg_tiff_read_opts o = TG_TIFF_READ_OPTS_INIT;
    read_opts(L, 2, &o);
    if (has_z(L, 2)) {
        tg_tiff_info_t in;
        lt_begin(L);
        int r = lt_end_io(L, tg_tiff_info(lt_ctx(L), path, &in));
        if (r) return r;
        read_z(L, 2, in.dims[2], path, &o);
    }
    tg_volume *out = lt_newvolume(L);
    lt_begin(L);
    tg_status st = tg_tiff_read(lt_ctx(L), path, &o, out);
    int r = lt_end_io(L, st);
    if (r) return r;
    lt_gcstep(L, out);
    return 1;
}

static int l_read_tiff_memory(lua_State *L)
{
    size_t size;
    const char *data = luaL_checklstring(L, 1, &size);
    tg_tiff_read_opts o = TG_TIFF_READ_OPTS_INIT;
    read_opts(L, 2, &o);
    if (has_z(L, 2)) {
        tg_tiff_info_t in;
        lt_begin(L);
        int r = lt_end_io(L, tg_tiff_info_memory(lt_ctx(L), data, size, &in));
        if (r) return r;
        read_z(L, 2, in.dims[2], "<memory>", &o);
    }
    tg_volume *out = lt_newvolume(L);
    lt_begin(L);
    tg_status st = tg_tiff_read_memory(lt_ctx(L), data, size, &o, out);
    int r = lt_end_io(L, st);
    if (r) return r;
    lt_gcstep(L, out);
    return 1;
}

static int l_read_slices(lua_State *L)
{
    luaL_checktype(L, 1, LUA_TTABLE);
    lua_Integer n = luaL_len(L, 1);
    if (n < 1) luaL_argerror(L, 1, "no files to read");
    if (n > 0x7fffffff) luaL_argerror(L, 1, "too many files");
    tg_tiff_read_opts o = TG_TIFF_READ_OPTS_INIT;
    read_opts(L, 2, &o);
    int64_t lo = 0, hi = n;
    if (has_z(L, 2)) {
        tg_tiff_read_opts zr = o;
        lua_rawgeti(L, 1, 1);
        const char *first = lua_tostring(L, -1);
        read_z(L, 2, n, first ? first : "slices", &zr);
        lua_pop(L, 1);
        lo = zr.z_first;
        hi = zr.z_last;
    }
    /* the strings stay alive in the table at 1; the array is a userdata so a raise frees it */
    const char **paths = lua_newuserdatauv(L, sizeof(char *) * (size_t)(hi - lo), 0);
    for (int64_t i = lo; i < hi; i++) {
        lua_rawgeti(L, 1, (lua_Integer)i + 1);
        if (lua_type(L, -1) != LUA_TSTRING) luaL_error(L, "read_slices: entry %d is not a path string", (int)i + 1);
        paths[i - lo] = lua_tostring(L, -1);
        lua_pop(L, 1);
    }
    tg_volume *out = lt_newvolume(L);
    lt_begin(L);
    tg_status st = tg_tiff_read_slices(lt_ctx(L), paths, (int)(hi - lo), &o, out);
    int r = lt_end_io(L, st);
    if (r) return r;
    lt_gcstep(L, out);
    return 1;
}

static int l_write_tiff(lua_State *L)
{
    const char *path = luaL_checkstring(L, 1);
    const tg_volume *v = lt_checkvolume(L, 2);
    tg_tiff_write_opts o = TG_TIFF_WRITE_OPTS_INIT;
    if (!lua_isnoneornil(L, 3)) {
        luaL_checktype(L, 3, LUA_TTABLE);
        int t = lua_getfield(L, 3, "compress");
        if (t == LUA_TSTRING) {
            const char *c = lua_tostring(L, -1);
            if (strcmp(c, "deflate") == 0 || strcmp(c, "zip") == 0) o.compress = TG_TIFF_DEFLATE;
            else if (strcmp(c, "lzw") == 0) o.compress = TG_TIFF_LZW;
            else if (strcmp(c, "packbits") == 0) o.compress = TG_TIFF_PACKBITS;
            else if (strcmp(c, "none") == 0) o.compress = TG_TIFF_RAW;
            else luaL_error(L, "compress must be \"deflate\", \"lzw\", \"packbits\" or false, got '%s'", c);
        } else if (t == LUA_TBOOLEAN) {
            o.compress = lua_toboolean(L, -1) ? TG_TIFF_DEFLATE : TG_TIFF_RAW;
        } else if (t != LUA_TNIL) {
            luaL_error(L, "compress must be \"deflate\", \"lzw\", \"packbits\" or false, got %s", luaL_typename(L, -1));
        }
        lua_pop(L, 1);
        t = lua_getfield(L, 3, "bigtiff");
        if (t == LUA_TBOOLEAN) o.bigtiff = lua_toboolean(L, -1);
        else if (t != LUA_TNIL) luaL_error(L, "bigtiff must be true, false or nil (automatic)");
        lua_pop(L, 1);
    }
    lt_begin(L);
    tg_status st = tg_tiff_write(lt_ctx(L), path, v, &o);
    int r = lt_end_io(L, st);
    if (r) return r;
    lua_pushboolean(L, 1);
    return 1;
}

void lt_open_io(lua_State *L)
{
    static const luaL_Reg fns[] = {
        {"info", l_info},
        {"read_tiff", l_read_tiff},
        {"read_tiff_memory", l_read_tiff_memory},
        {"read_slices", l_read_slices},
        {"write_tiff", l_write_tiff},
        {NULL, NULL},
    };
    /* another part (png) may add its functions to core.io too: extend the table when it exists */
    if (lua_getfield(L, -1, "io") != LUA_TTABLE) {
        lua_pop(L, 1);
        lt_register(L, "io", fns);
        return;
    }
    luaL_setfuncs(L, fns, 0);
    lua_pop(L, 1);
}
