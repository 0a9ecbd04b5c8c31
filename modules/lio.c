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
 * Stacks on disk (engine/io/tg_stack.h), userdata tortuga.Stack:
 *   core.io.open(path | {paths...} [, dtype]) --> stack | nil, "path: reason"  (a table: one slice per file)
 *   st:dims() --> nx, ny, nz        st.dtype        #st --> nz        st:spacing([s]) --> {sx, sy, sz}
 *   st:info() --> {dims, dtype, spacing, spacing_source, format, path, files, compression, note, pages}
 *   st:read(first, last) --> volume | nil, "path: page N: reason"  (1-based inclusive slice range)
 *   st:close()  (also __gc and __close; idempotent)
 *   core.io.stack_methods: the method table, which the Lua layer extends (st:read{z = ...})
 *
 * Writers (engine/io/tg_writer.h), userdata tortuga.Writer:
 *   core.io.writer(path, {nx, ny[, nz]} | nil, dtype | nil, spacing | nil, compress, bigtiff) --> writer | nil, msg
 *   w:write(volume) --> true | nil, "path: page N: reason"      w:close() --> path | nil, "path: reason"
 *   w:abort()  (also __gc and __close: an unclosed writer leaves nothing)     w:pages() --> pages written
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
#include "io/tg_stack.h"
#include "io/tg_tiff.h"
#include "io/tg_vtk.h"
#include "io/tg_writer.h"

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

/* ---- stacks on disk ---- */

typedef struct lt_stackud {
    tg_stack *st; /* NULL once closed */
} lt_stackud;

tg_stack *lt_teststack(lua_State *L, int idx)
{
    lt_stackud *u = luaL_testudata(L, idx, LT_STACK_MT);
    return u ? u->st : NULL;
}

tg_stack *lt_checkstack(lua_State *L, int idx)
{
    lt_stackud *u = luaL_checkudata(L, idx, LT_STACK_MT);
    if (!u->st) luaL_argerror(L, idx, "the stack has been closed");
    return u->st;
}

static int l_open(lua_State *L)
{
    tg_stack_open_opts o = TG_STACK_OPEN_OPTS_INIT;
    if (!lua_isnoneornil(L, 2)) o.dtype = (int)lt_checkdtype(L, 2, NULL);
    const char **paths;
    lua_Integer n = 1;
    if (lua_type(L, 1) == LUA_TSTRING) {
        paths = lua_newuserdatauv(L, sizeof(char *), 0);
        paths[0] = lua_tostring(L, 1);
    } else {
        luaL_checktype(L, 1, LUA_TTABLE);
        n = luaL_len(L, 1);
        if (n < 1 || n > 0x7fffffff) luaL_argerror(L, 1, "expected 1 or more slice files");
        paths = lua_newuserdatauv(L, sizeof(char *) * (size_t)n, 0); /* the strings stay alive in the table */
        for (lua_Integer i = 1; i <= n; i++) {
            if (lua_rawgeti(L, 1, i) != LUA_TSTRING) lt_error(L, "open: entry %d is not a path string", (int)i);
            paths[i - 1] = lua_tostring(L, -1);
            lua_pop(L, 1);
        }
    }
    lt_stackud *u = lua_newuserdatauv(L, sizeof *u, 0);
    u->st = NULL;
    luaL_setmetatable(L, LT_STACK_MT);
    lt_begin(L);
    int r = lt_end_io(L, tg_stack_open(lt_ctx(L), paths, (int)n, &o, &u->st));
    if (r) return r;
    return 1;
}

static int l_stack_close(lua_State *L)
{
    lt_stackud *u = luaL_checkudata(L, 1, LT_STACK_MT);
    tg_stack_close(u->st);
    u->st = NULL;
    return 0;
}

static int l_stack_dims(lua_State *L)
{
    const tg_stack_info_t *in = tg_stack_info(lt_checkstack(L, 1));
    for (int a = 0; a < 3; a++) lua_pushinteger(L, (lua_Integer)in->dims[a]);
    return 3;
}

static int l_stack_len(lua_State *L)
{
    lua_pushinteger(L, (lua_Integer)tg_stack_info(lt_checkstack(L, 1))->dims[2]);
    return 1;
}

static void push_spacing_table(lua_State *L, const double s[3])
{
    lua_createtable(L, 3, 0);
    for (int a = 0; a < 3; a++) {
        lua_pushnumber(L, s[a]);
        lua_rawseti(L, -2, a + 1);
    }
}

/* st:spacing([number | {sx, sy, sz}]) -> {sx, sy, sz} (after setting) */
static int l_stack_spacing(lua_State *L)
{
    tg_stack *st = lt_checkstack(L, 1);
    if (!lua_isnoneornil(L, 2)) {
        double s[3];
        memcpy(s, tg_stack_info(st)->spacing, sizeof s);
        lt_spacing(L, 2, s);
        lt_end(L, tg_stack_set_spacing(lt_ctx(L), st, s));
    }
    push_spacing_table(L, tg_stack_info(st)->spacing);
    return 1;
}

static int l_stack_info(lua_State *L)
{
    static const char *const sources[] = {"file", "file (z = x)", "none", "set"};
    const tg_stack_info_t *in = tg_stack_info(lt_checkstack(L, 1));
    lua_createtable(L, 0, 12);
    lua_createtable(L, 3, 0);
    for (int a = 0; a < 3; a++) { lua_pushinteger(L, (lua_Integer)in->dims[a]); lua_rawseti(L, -2, a + 1); }
    lua_setfield(L, -2, "dims");
    lua_pushinteger(L, (lua_Integer)in->dims[2]); lua_setfield(L, -2, "pages");
    lua_pushstring(L, tg_dtype_name(in->dtype)); lua_setfield(L, -2, "dtype");
    push_spacing_table(L, in->spacing); lua_setfield(L, -2, "spacing");
    lua_pushstring(L, (unsigned)in->spacing_source < 4 ? sources[in->spacing_source] : "unknown");
    lua_setfield(L, -2, "spacing_source");
    lua_pushstring(L, "m"); lua_setfield(L, -2, "units");
    lua_pushstring(L, in->format); lua_setfield(L, -2, "format");
    lua_pushstring(L, in->path); lua_setfield(L, -2, "path");
    lua_pushinteger(L, in->files); lua_setfield(L, -2, "files");
    lua_pushstring(L, in->compression); lua_setfield(L, -2, "compression");
    lua_Integer bytes = (lua_Integer)(in->dims[0] * in->dims[1] * in->dims[2] * (int64_t)tg_dtype_size(in->dtype));
    lua_pushinteger(L, bytes); lua_setfield(L, -2, "bytes");
    if (in->note[0]) { lua_pushstring(L, in->note); lua_setfield(L, -2, "note"); }
    return 1;
}

/* st:read(first, last) -> volume | nil, message; 1-based inclusive slices */
static int l_stack_read(lua_State *L)
{
    tg_stack *st = lt_checkstack(L, 1);
    int64_t nz = tg_stack_info(st)->dims[2], z0, z1;
    lua_settop(L, 3);
    if (lua_isnil(L, 2) && lua_isnil(L, 3)) lua_pushnil(L);
    else {
        lua_createtable(L, 2, 0);
        lua_pushvalue(L, 2); lua_rawseti(L, -2, 1);
        lua_pushvalue(L, lua_isnil(L, 3) ? 2 : 3); lua_rawseti(L, -2, 2);
    }
    const char *what = lua_pushfstring(L, "z of %s (%d slices)", tg_stack_info(st)->path, (int)nz);
    lt_range(L, 4, nz, &z0, &z1, what);
    tg_volume *out = lt_newvolume(L);
    lt_begin(L);
    int r = lt_end_io(L, tg_stack_read(lt_ctx(L), st, z0, z1, out));
    if (r) return r;
    lt_gcstep(L, out);
    return 1;
}

static int l_stack_tostring(lua_State *L)
{
    lt_stackud *u = luaL_checkudata(L, 1, LT_STACK_MT);
    if (!u->st) {
        lua_pushliteral(L, "tortuga.Stack(closed)");
        return 1;
    }
    const tg_stack_info_t *in = tg_stack_info(u->st);
    if (in->spacing_source == TG_STACK_SPACING_NONE) lua_pushliteral(L, "uncalibrated");
    else lt_pushspacing(L, in->spacing);
    lua_pushfstring(L, "tortuga.Stack(%dx%dx%d %s, %s, on disk)", (int)in->dims[0], (int)in->dims[1], (int)in->dims[2],
                    tg_dtype_name(in->dtype), lua_tostring(L, -1));
    return 1;
}

/* st.dtype is a field (as a volume's); everything else comes from the method table (upvalue 1) */
static int l_stack_index(lua_State *L)
{
    const char *k = lua_tostring(L, 2);
    if (k && strcmp(k, "dtype") == 0) {
        lua_pushstring(L, tg_dtype_name(tg_stack_info(lt_checkstack(L, 1))->dtype));
        return 1;
    }
    lua_pushvalue(L, 2);
    lua_gettable(L, lua_upvalueindex(1));
    return 1;
}

static void open_stack_meta(lua_State *L)
{
    static const luaL_Reg methods[] = {{"dims", l_stack_dims}, {"spacing", l_stack_spacing}, {"info", l_stack_info},
                                       {"read", l_stack_read}, {"close", l_stack_close},   {NULL, NULL}};
    static const luaL_Reg meta[] = {{"__gc", l_stack_close}, {"__close", l_stack_close}, {"__len", l_stack_len},
                                    {"__tostring", l_stack_tostring}, {NULL, NULL}};
    luaL_newmetatable(L, LT_STACK_MT);
    luaL_setfuncs(L, meta, 0);
    lua_newtable(L);
    luaL_setfuncs(L, methods, 0);
    lua_pushvalue(L, -1);
    lua_setfield(L, -4, "stack_methods"); /* core.io.stack_methods */
    lua_pushcclosure(L, l_stack_index, 1);
    lua_setfield(L, -2, "__index");
    lua_pop(L, 1);
}

/* ---- writers ---- */

typedef struct lt_writerud {
    tg_writer *w; /* NULL once closed or aborted */
} lt_writerud;

tg_writer *lt_checkwriter(lua_State *L, int idx)
{
    lt_writerud *u = luaL_checkudata(L, idx, LT_WRITER_MT);
    if (!u->w) luaL_argerror(L, idx, "the writer has been closed");
    return u->w;
}

static const char *const compress_names[] = {"none", "deflate", "lzw", "packbits", "zip", NULL};
static const tg_tiff_compress compress_codes[] = {TG_TIFF_RAW, TG_TIFF_DEFLATE, TG_TIFF_LZW, TG_TIFF_PACKBITS,
                                                  TG_TIFF_DEFLATE};

static int l_writer(lua_State *L)
{
    const char *path = luaL_checkstring(L, 1);
    tg_writer_opts o = TG_WRITER_OPTS_INIT;
    if (!lua_isnoneornil(L, 2)) {
        luaL_checktype(L, 2, LUA_TTABLE);
        lua_Integer n = luaL_len(L, 2);
        if (n != 2 && n != 3) lt_error(L, "dims must be {nx, ny} or {nx, ny, nz}");
        for (int a = 0; a < n; a++) {
            lua_geti(L, 2, a + 1);
            int ok;
            lua_Integer d = lua_tointegerx(L, -1, &ok);
            if (!ok || d < 1) lt_error(L, "dims[%d] must be a positive integer", a + 1);
            o.dims[a] = (int64_t)d;
            lua_pop(L, 1);
        }
    }
    if (!lua_isnoneornil(L, 3)) o.dtype = (int)lt_checkdtype(L, 3, NULL);
    if (!lua_isnoneornil(L, 4)) lt_spacing(L, 4, o.spacing);
    if (lua_type(L, 5) == LUA_TBOOLEAN) o.compress = lua_toboolean(L, 5) ? TG_TIFF_DEFLATE : TG_TIFF_RAW;
    else o.compress = compress_codes[lt_checkname(L, 5, "none", compress_names, "option 'compress' (or false)")];
    if (!lua_isnoneornil(L, 6)) o.bigtiff = lua_toboolean(L, 6);
    lt_writerud *u = lua_newuserdatauv(L, sizeof *u, 0);
    u->w = NULL;
    luaL_setmetatable(L, LT_WRITER_MT);
    lt_begin(L);
    int r = lt_end_io(L, tg_writer_open(lt_ctx(L), path, &o, &u->w));
    if (r) return r;
    return 1;
}

static int l_writer_write(lua_State *L)
{
    lt_writerud *u = luaL_checkudata(L, 1, LT_WRITER_MT);
    if (!u->w) return lt_error(L, "the writer has been closed");
    tg_volume *v = lt_checkvolume(L, 2);
    lt_begin(L);
    tg_status st = tg_writer_write(lt_ctx(L), u->w, v);
    if (st) { /* the temporary is gone: the writer is of no further use */
        tg_writer_abort(u->w);
        u->w = NULL;
    }
    int r = lt_end_io(L, st);
    if (r) return r;
    lua_pushboolean(L, 1);
    return 1;
}

static int l_writer_close(lua_State *L)
{
    lt_writerud *u = luaL_checkudata(L, 1, LT_WRITER_MT);
    if (!u->w) return lt_error(L, "the writer has been closed");
    tg_writer *w = u->w;
    u->w = NULL;
    lua_pushstring(L, tg_writer_path(w));
    lt_begin(L);
    int r = lt_end_io(L, tg_writer_close(lt_ctx(L), w)); /* frees w in every case */
    if (r) return r;
    return 1;
}

static int l_writer_abort(lua_State *L)
{
    lt_writerud *u = luaL_checkudata(L, 1, LT_WRITER_MT);
    tg_writer_abort(u->w);
    u->w = NULL;
    return 0;
}

static int l_writer_pages(lua_State *L)
{
    lua_pushinteger(L, (lua_Integer)tg_writer_pages(lt_checkwriter(L, 1)));
    return 1;
}

static int l_writer_tostring(lua_State *L)
{
    lt_writerud *u = luaL_checkudata(L, 1, LT_WRITER_MT);
    if (!u->w) lua_pushliteral(L, "tortuga.Writer(closed)");
    else lua_pushfstring(L, "tortuga.Writer(%s, %d pages written)", tg_writer_path(u->w), (int)tg_writer_pages(u->w));
    return 1;
}

static void open_writer_meta(lua_State *L)
{
    static const luaL_Reg methods[] = {{"write", l_writer_write}, {"close", l_writer_close},
                                       {"abort", l_writer_abort}, {"pages", l_writer_pages}, {NULL, NULL}};
    static const luaL_Reg meta[] = {{"__gc", l_writer_abort}, {"__close", l_writer_abort},
                                    {"__tostring", l_writer_tostring}, {NULL, NULL}};
    luaL_newmetatable(L, LT_WRITER_MT);
    luaL_setfuncs(L, meta, 0);
    lua_newtable(L);
    luaL_setfuncs(L, methods, 0);
    lua_pushvalue(L, -1);
    lua_setfield(L, -4, "writer_methods"); /* core.io.writer_methods */
    lua_setfield(L, -2, "__index");
    lua_pop(L, 1);
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
        {"open", l_open},
        {"writer", l_writer},
        {NULL, NULL},
    };
    lt_register(L, "io", fns);
    lua_getfield(L, -1, "io");
    open_stack_meta(L);
    open_writer_meta(L);
    lua_pop(L, 1);
    lua_pushcfunction(L, l_sha256_file);
    lua_setfield(L, -2, "sha256_file");
}
