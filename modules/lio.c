/* lio.c — core.io: reading and writing files (engine/io/). The public layer is lua/tortuga/io.lua.
 *
 *   core.io.info(path)                     --> table | nil, "path: reason"
 *   core.io.read_tiff(path [, opts])       --> volume | nil, "path: reason"     opts: z={first,last}, dtype, max_bytes
 *   core.io.read_tiff_memory(bytes [, opts])  (the same from a Lua string; messages name "<memory>")
 *   core.io.read_slices(paths [, opts])    --> volume | nil, "path: reason"     one slice per file; z selects files
 *   core.io.write_tiff(path, vol [, opts]) --> true | nil, "path: reason"      opts: compress, bigtiff
 *   core.io.write_png(path, vol, {z=, colormap="grey"|"labels"|"viridis", range={lo,hi}, labels={[v]={r,g,b}},
 *                     compression=0..9})    --> true | nil, "path: reason"
 *       z is 1-based (default: the middle slice, (nz // 2) + 1); labels overrides entries of the built-in
 *       palette (values 0..255, components 0..255).
 *   core.io.default_palette()              --> {[0]={r,g,b}, ..., [255]={r,g,b}}
 *   core.io.write_vtk(path, {{name, volume}, ...}) --> true | nil, "path: reason" (engine/io/tg_vtk.h)
 *   core.io.write_mesh(path, mesh [, "ply" | "stl"]) --> true | nil, "path: reason" (engine/io/tg_mesh_io.h)
 *   core.sha256_file(path)                 --> hex digest, size in bytes | nil, "path: reason"
 *
 * Misuse (wrong types, bad dtype, compression or colour map names, a z range outside the stack) raises;
 * failures of the outside world return nil and the message. z ranges are 1-based inclusive here and converted
 * by lt_range.
 */
#include <string.h>

#include "lbind.h"
#include "core/tg_sha256.h"
#include "io/tg_mesh_io.h"
#include "io/tg_png.h"
#include "io/tg_tiff.h"
#include "io/tg_vtk.h"

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
    lua_pushinteger(L, in->pages_complete); lua_setfield(L, -2, "pages_complete");
    if (in->truncated[0]) { lua_pushstring(L, in->truncated); lua_setfield(L, -2, "truncated"); }
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
    if (lua_getfield(L, idx, "dtype") != LUA_TNIL) o->dtype = (int)lt_checkdtype(L, -1, NULL);
    lua_pop(L, 1);
    lua_Integer mb = lt_optinteger(L, idx, "max_bytes", 0);
    if (mb < 0) lt_error(L, "max_bytes must be >= 0");
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
        if (lua_type(L, -1) != LUA_TSTRING) lt_error(L, "read_slices: entry %d is not a path string", (int)i + 1);
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
        static const char *const names[] = {"none", "deflate", "lzw", "packbits", "zip", NULL};
        static const tg_tiff_compress codes[] = {TG_TIFF_RAW, TG_TIFF_DEFLATE, TG_TIFF_LZW, TG_TIFF_PACKBITS, TG_TIFF_DEFLATE};
        if (lua_getfield(L, 3, "compress") == LUA_TBOOLEAN) o.compress = lua_toboolean(L, -1) ? TG_TIFF_DEFLATE : TG_TIFF_RAW;
        else o.compress = codes[lt_checkname(L, -1, "none", names, "option 'compress' (or false)")];
        lua_pop(L, 1);
        int t = lua_getfield(L, 3, "bigtiff");
        if (t == LUA_TBOOLEAN) o.bigtiff = lua_toboolean(L, -1);
        else if (t != LUA_TNIL) lt_error(L, "bigtiff must be true, false or nil (automatic)");
        lua_pop(L, 1);
    }
    lt_begin(L);
    tg_status st = tg_tiff_write(lt_ctx(L), path, v, &o);
    int r = lt_end_io(L, st);
    if (r) return r;
    lua_pushboolean(L, 1);
    return 1;
}

/* ---- PNG slices ---- */

static const char *const colormap_names[] = {"grey", "labels", "viridis", "gray", NULL};
static const tg_png_colormap colormap_of[] = {TG_PNG_GREY, TG_PNG_LABELS, TG_PNG_VIRIDIS, TG_PNG_GREY};

static int byte_at(lua_State *L, int t, int i, lua_Integer label)
{
    lua_geti(L, t, i);
    int ok;
    lua_Integer c = lua_tointegerx(L, -1, &ok);
    if (!ok || c < 0 || c > 255)
        lt_error(L, "labels[%d] must be {r, g, b} with integers 0..255", (int)label);
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
        if (!ok || label < 0 || label > 255) lt_error(L, "labels: keys must be label values 0..255");
        if (!lua_istable(L, -1) || luaL_len(L, -1) != 3) lt_error(L, "labels[%d] must be {r, g, b}", (int)label);
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
            lt_error(L, "range must be {lo, hi} with numbers lo <= hi");
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
    o.colormap = colormap_of[lt_optname(L, 3, "colormap", "grey", colormap_names)];
    o.compression = (int)lt_optinteger(L, 3, "compression", -1);
    if (o.compression < -1 || o.compression > 9) lt_error(L, "compression must be 0..9");
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
        lt_error(L, "z must be an integer slice index, got %s", luaL_typename(L, -1));
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

/* ---- VTK volumes and meshes ---- */

/* write_vtk(path, {{name, volume}, ...}) -> true | nil, message (io failures); bad arguments raise. */
static int l_write_vtk(lua_State *L)
{
    const char *path = luaL_checkstring(L, 1);
    luaL_checktype(L, 2, LUA_TTABLE);
    lua_settop(L, 2);
    const lua_Integer n = luaL_len(L, 2);
    luaL_argcheck(L, n >= 1 && n <= 64, 2, "write_vtk: 1 to 64 fields");
    tg_vtk_field fs[64];
    for (lua_Integer i = 1; i <= n; i++) {
        if (lua_geti(L, 2, i) != LUA_TTABLE) return lt_error(L, "write_vtk: field %d is not a {name, volume} pair", (int)i);
        lua_geti(L, -1, 1);
        fs[i - 1].name = luaL_checkstring(L, -1); /* kept alive by the fields table */
        lua_geti(L, -2, 2);
        fs[i - 1].vol = lt_checkvolume(L, -1);
        lua_pop(L, 3);
    }
    lt_begin(L);
    tg_status st = tg_vtk_write(lt_ctx(L), path, fs, (int)n);
    if (st == TG_ERR_ARG || st == TG_ERR_UNSUPPORTED) { lt_end(L, st); return 0; }
    int r = lt_end_io(L, st);
    if (r) return r;
    lua_pushboolean(L, 1);
    return 1;
}

static int l_write_mesh(lua_State *L)
{
    const char *path = luaL_checkstring(L, 1);
    const tg_mesh *m = lt_checkmesh(L, 2);
    int fmt;
    if (lua_isnoneornil(L, 3)) {
        fmt = tg_mesh_format_of(path);
        if (fmt < 0) return lt_error(L, "%s: cannot tell the mesh format from the name; use .ply or .stl", path);
    } else {
        static const char *const names[] = {"ply", "stl", NULL};
        fmt = luaL_checkoption(L, 3, NULL, names);
    }
    lt_begin(L);
    int nret = lt_end_io(L, tg_mesh_write(lt_ctx(L), path, m, (tg_mesh_format)fmt));
    if (nret) return nret;
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
        {"write_png", l_png_write},
        {"default_palette", l_png_default_palette},
        {"write_vtk", l_write_vtk},
        {"write_mesh", l_write_mesh},
        {NULL, NULL},
    };
    lt_register(L, "io", fns);
    lua_pushcfunction(L, l_sha256_file);
    lua_setfield(L, -2, "sha256_file");
}
