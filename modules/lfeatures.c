/* lfeatures.c — core.features: the bindings of engine/segment/tg_features and tg_conv. Only translation:
 * option checking, defaults and the Features object live in lua/tortuga/features.lua.
 *
 * The options table `o` read by every function: {sigmas = {...}, kinds = {"gaussian", "log", ...}, dims = 2|3,
 * truncate = 4.0, conv = <tortuga.ConvNet or nil>}.
 * Channels: a list of volumes of one shape. Matrices are f32 volumes of dims (nfeat, rows, 1) or
 * (nfeat, nx*ny, nz) — the engine's row-major (voxels x features) layout, feature index fastest.
 * The userdata tortuga.ConvNet holds a `tg_conv_net *` as its only field.
 */
#include "lbind.h"

#include <string.h>

#include "segment/tg_conv.h"
#include "segment/tg_features.h"

#define LT_CONV_MT "tortuga.ConvNet"
#define MAX_CHANNELS 64

static const char *const kind_names[] = {"gaussian", "log", "gradmag", "dog", "st", "hessian", NULL};

static tg_conv_net **checkconv(lua_State *L, int idx)
{
    tg_conv_net **p = luaL_checkudata(L, idx, LT_CONV_MT);
    if (!*p) luaL_error(L, "the convolution network was released");
    return p;
}

static void read_opts(lua_State *L, int idx, tg_features_opts *o)
{
    idx = lua_absindex(L, idx);
    luaL_checktype(L, idx, LUA_TTABLE);
    tg_features_opts d = TG_FEATURES_OPTS_INIT;
    *o = d;
    if (lua_getfield(L, idx, "sigmas") == LUA_TTABLE) {
        lua_Integer n = luaL_len(L, -1);
        if (n < 1 || n > TG_FEATURES_MAX_SIGMAS)
            luaL_error(L, "segment.features: between 1 and %d sigmas are needed, got %d", TG_FEATURES_MAX_SIGMAS, (int)n);
        o->nsigmas = (int)n;
        for (int i = 0; i < o->nsigmas; i++) {
            lua_geti(L, -1, i + 1);
            int ok;
            o->sigmas[i] = lua_tonumberx(L, -1, &ok);
            if (!ok) luaL_error(L, "segment.features: sigma %d must be a number, got %s", i + 1, luaL_typename(L, -1));
            lua_pop(L, 1);
        }
    }
    lua_pop(L, 1);
    if (lua_getfield(L, idx, "kinds") == LUA_TTABLE) {
        o->kinds = 0;
        lua_Integer n = luaL_len(L, -1);
        for (lua_Integer i = 1; i <= n; i++) {
            lua_geti(L, -1, i);
            o->kinds |= TG_FEAT_BIT(luaL_checkoption(L, -1, NULL, kind_names));
            lua_pop(L, 1);
        }
    }
    lua_pop(L, 1);
    o->dims = (int)lt_optinteger(L, idx, "dims", 2);
    o->truncate = lt_optnumber(L, idx, "truncate", 4.0);
    if (lua_getfield(L, idx, "conv") != LUA_TNIL) o->conv = *checkconv(L, -1);
    lua_pop(L, 1);
}

/* Check the options or raise with the engine's message. */
static void check_opts(lua_State *L, const tg_features_opts *o)
{
    tg_ctx *ctx = lt_ctx(L);
    if (tg_features_check(ctx, o)) luaL_error(L, "%s", ctx->msg);
}

static int read_channels(lua_State *L, int idx, const tg_volume **ch)
{
    luaL_checktype(L, idx, LUA_TTABLE);
    lua_Integer n = luaL_len(L, idx);
    if (n < 1 || n > MAX_CHANNELS) luaL_error(L, "segment.features: between 1 and %d channels are needed, got %d",
                                              MAX_CHANNELS, (int)n);
    for (int i = 0; i < n; i++) {
        lua_geti(L, idx, i + 1);
        if (!lt_testvolume(L, -1)) luaL_error(L, "segment.features: channel %d is not a volume (%s)", i + 1, luaL_typename(L, -1));
        ch[i] = lt_checkvolume(L, -1);
        lua_pop(L, 1); /* the table keeps it alive */
    }
    tg_ctx *ctx = lt_ctx(L);
    if (tg_features_check_channels(ctx, ch, (int)n)) luaL_error(L, "%s", ctx->msg);
    return (int)n;
}

/* count(o, nch) */
static int l_count(lua_State *L)
{
    tg_features_opts o;
    read_opts(L, 1, &o);
    int nch = (int)luaL_checkinteger(L, 2);
    check_opts(L, &o);
    lua_pushinteger(L, tg_features_count(&o, nch));
    return 1;
}

/* names(o, nch) -> {name, ...} */
static int l_names(lua_State *L)
{
    tg_features_opts o;
    read_opts(L, 1, &o);
    int nch = (int)luaL_checkinteger(L, 2);
    check_opts(L, &o);
    int n = tg_features_count(&o, nch);
    lua_createtable(L, n, 0);
    char buf[96];
    for (int i = 0; i < n; i++) {
        tg_features_name(&o, nch, i, buf, sizeof buf);
        lua_pushstring(L, buf);
        lua_rawseti(L, -2, i + 1);
    }
    return 1;
}

/* halo(o) -> slices read on each side of a slab */
static int l_halo(lua_State *L)
{
    tg_features_opts o;
    read_opts(L, 1, &o);
    check_opts(L, &o);
    lua_pushinteger(L, tg_features_halo(&o));
    return 1;
}

/* The arguments every feature request starts with: channels at 1, options at 2 (checked). */
static int read_request(lua_State *L, const tg_volume **ch, tg_features_opts *o)
{
    int nch = read_channels(L, 1, ch);
    read_opts(L, 2, o);
    check_opts(L, o);
    return nch;
}

/* slab(channels, o, zrange) -> matrix f32 volume (nfeat, nx*ny, nz of the range) */
static int l_slab(lua_State *L)
{
    const tg_volume *ch[MAX_CHANNELS];
    tg_features_opts o;
    int nch = read_request(L, ch, &o);
    int64_t z0, z1;
    lt_range(L, 3, ch[0]->dims[2], &z0, &z1, "segment.features: z");
    int64_t d[3] = {tg_features_count(&o, nch), ch[0]->dims[0] * ch[0]->dims[1], z1 - z0};
    tg_volume *out = lt_newvolume(L);
    tg_ctx *ctx = lt_ctx(L);
    lt_begin(L);
    tg_status st = tg_volume_alloc_uninit(ctx, d, TG_F32, NULL, out); /* the slab writes every element */
    if (!st) st = tg_features_slab(ctx, ch, nch, &o, z0, z1, (float *)tg_volume_ptr(out, 0, 0, 0));
    if (st) tg_volume_release(out);
    lt_end(L, st);
    lt_gcstep(L, out);
    return 1;
}

/* stack(channels, o, zrange) -> {volume per feature} (nx, ny, nz of the range), channel 1's spacing */
static int l_stack(lua_State *L)
{
    const tg_volume *ch[MAX_CHANNELS];
    tg_features_opts o;
    int nch = read_request(L, ch, &o);
    int64_t z0, z1;
    lt_range(L, 3, ch[0]->dims[2], &z0, &z1, "segment.features: z");
    int nf = tg_features_count(&o, nch);
    int64_t nxy = ch[0]->dims[0] * ch[0]->dims[1], nv = nxy * (z1 - z0);
    int64_t d[3] = {ch[0]->dims[0], ch[0]->dims[1], z1 - z0};
    tg_ctx *ctx = lt_ctx(L);
    lua_createtable(L, nf, 0);
    for (int j = 0; j < nf; j++) {
        tg_volume *v = lt_newvolume(L);
        tg_status st = tg_volume_alloc(ctx, d, TG_F32, ch[0]->spacing, v);
        if (st) luaL_error(L, "%s", ctx->msg);
        lua_rawseti(L, -2, j + 1);
    }
    float *m = tg_malloc((size_t)nv * (size_t)nf * sizeof *m);
    if (!m) luaL_error(L, "segment.features: out of memory for %lld voxels x %d features", (long long)nv, nf);
    lt_begin(L);
    tg_status st = tg_features_slab(ctx, ch, nch, &o, z0, z1, m);
    if (!st)
        for (int j = 0; j < nf; j++) {
            lua_rawgeti(L, -1, j + 1);
            float *dst = (float *)tg_volume_ptr(lt_checkvolume(L, -1), 0, 0, 0);
            lua_pop(L, 1);
            for (int64_t i = 0; i < nv; i++) dst[i] = m[i * nf + j];
        }
    tg_free(m);
    lt_end(L, st);
    return 1;
}

/* masked(channels, o, mask [, max_slab]) -> matrix f32 volume (nfeat, n, 1), n: voxels where mask ~= 0, in
 * x-fastest scan order. Raises if the mask selects nothing. */
static int l_masked(lua_State *L)
{
    const tg_volume *ch[MAX_CHANNELS];
    tg_features_opts o;
    int nch = read_request(L, ch, &o);
    tg_volume *mask = lt_checkvolume(L, 3);
    lua_Integer max_slab = luaL_optinteger(L, 4, 0);
    for (int a = 0; a < 3; a++)
        if (mask->dims[a] != ch[0]->dims[a])
            luaL_error(L, "segment.features: the mask is %dx%dx%d but the channels are %dx%dx%d", (int)mask->dims[0],
                       (int)mask->dims[1], (int)mask->dims[2], (int)ch[0]->dims[0], (int)ch[0]->dims[1],
                       (int)ch[0]->dims[2]);
    int64_t n = 0;
    for (int64_t z = 0; z < mask->dims[2]; z++)
        for (int64_t y = 0; y < mask->dims[1]; y++)
            for (int64_t x = 0; x < mask->dims[0]; x++) n += tg_volume_get(mask, x, y, z) != 0;
    if (n == 0) luaL_error(L, "segment.features: the mask selects no voxel");
    int64_t *xyz = tg_malloc((size_t)n * 3 * sizeof *xyz);
    if (!xyz) luaL_error(L, "segment.features: out of memory for %lld points", (long long)n);
    int64_t k = 0;
    for (int64_t z = 0; z < mask->dims[2]; z++)
        for (int64_t y = 0; y < mask->dims[1]; y++)
            for (int64_t x = 0; x < mask->dims[0]; x++)
                if (tg_volume_get(mask, x, y, z) != 0) {
                    xyz[3 * k] = x; xyz[3 * k + 1] = y; xyz[3 * k + 2] = z;
                    k++;
                }
    int64_t d[3] = {tg_features_count(&o, nch), n, 1};
    tg_ctx *ctx = lt_ctx(L);
    tg_volume *out = lt_newvolume(L);
    lt_begin(L);
    tg_status st = tg_volume_alloc_uninit(ctx, d, TG_F32, NULL, out); /* every row is written */
    if (!st) st = tg_features_points(ctx, ch, nch, &o, xyz, n, max_slab, (float *)tg_volume_ptr(out, 0, 0, 0));
    tg_free(xyz);
    if (st) tg_volume_release(out);
    lt_end(L, st);
    lt_gcstep(L, out);
    lua_pushinteger(L, n);
    return 2;
}

/* ---- tortuga.ConvNet ---- */

static int conv_release(lua_State *L)
{
    tg_conv_net **p = luaL_checkudata(L, 1, LT_CONV_MT);
    tg_conv_free(*p);
    *p = NULL;
    return 0;
}

/* conv_load(path) -> ConvNet | nil, "path: reason" */
static int l_conv_load(lua_State *L)
{
    const char *path = luaL_checkstring(L, 1);
    tg_conv_net **p = lua_newuserdatauv(L, sizeof *p, 0);
    *p = NULL;
    luaL_setmetatable(L, LT_CONV_MT);
    tg_ctx *ctx = lt_ctx(L);
    tg_status st = tg_conv_load(ctx, path, p);
    if (st) {
        lua_pushnil(L);
        lua_pushstring(L, ctx->msg);
        return 2;
    }
    return 1;
}

/* conv_parse(bytes, name) -> ConvNet | nil, "name: reason"   (the weight file's bytes, e.g. kept in a model) */
static int l_conv_parse(lua_State *L)
{
    size_t len;
    const char *bytes = luaL_checklstring(L, 1, &len);
    const char *name = luaL_optstring(L, 2, "convolution weights");
    tg_conv_net **p = lua_newuserdatauv(L, sizeof *p, 0);
    *p = NULL;
    luaL_setmetatable(L, LT_CONV_MT);
    tg_ctx *ctx = lt_ctx(L);
    if (tg_conv_parse(ctx, name, bytes, len, p)) {
        lua_pushnil(L);
        lua_pushstring(L, ctx->msg);
        return 2;
    }
    return 1;
}

/* net:bytes() -> the weight file's bytes (tg_conv_serialize) */
static int conv_bytes(lua_State *L)
{
    tg_conv_net *net = *checkconv(L, 1);
    tg_ctx *ctx = lt_ctx(L);
    unsigned char *buf;
    size_t len;
    if (tg_conv_serialize(ctx, net, &buf, &len)) luaL_error(L, "%s", ctx->msg);
    lua_pushlstring(L, (const char *)buf, len);
    tg_free(buf);
    return 1;
}

/* net:layers() -> {{cin=, cout=}, ...} */
static int conv_layers(lua_State *L)
{
    tg_conv_net *net = *checkconv(L, 1);
    lua_createtable(L, net->nlayers, 0);
    for (int l = 0; l < net->nlayers; l++) {
        lua_createtable(L, 0, 2);
        lua_pushinteger(L, net->layer[l].cin);
        lua_setfield(L, -2, "cin");
        lua_pushinteger(L, net->layer[l].cout);
        lua_setfield(L, -2, "cout");
        lua_rawseti(L, -2, l + 1);
    }
    return 1;
}

static int conv_outputs(lua_State *L)
{
    lua_pushinteger(L, tg_conv_outputs(*checkconv(L, 1)));
    return 1;
}

static int conv_tostring(lua_State *L)
{
    tg_conv_net **p = luaL_checkudata(L, 1, LT_CONV_MT);
    if (!*p) {
        lua_pushstring(L, "tortuga.ConvNet(released)");
        return 1;
    }
    luaL_Buffer b;
    luaL_buffinit(L, &b);
    luaL_addstring(&b, "tortuga.ConvNet(");
    for (int l = 0; l < (*p)->nlayers; l++) {
        char s[48];
        snprintf(s, sizeof s, "%s%d->%d", l ? ", " : "", (*p)->layer[l].cin, (*p)->layer[l].cout);
        luaL_addstring(&b, s);
    }
    luaL_addstring(&b, " 3x3 + ReLU)");
    luaL_pushresult(&b);
    return 1;
}

void lt_open_features(lua_State *L)
{
    static const luaL_Reg methods[] = {
        {"layers", conv_layers}, {"outputs", conv_outputs}, {"bytes", conv_bytes}, {"release", conv_release}, {NULL, NULL}};
    if (luaL_newmetatable(L, LT_CONV_MT)) {
        luaL_newlib(L, methods);
        lua_setfield(L, -2, "__index");
        lua_pushcfunction(L, conv_release);
        lua_setfield(L, -2, "__gc");
        lua_pushcfunction(L, conv_release);
        lua_setfield(L, -2, "__close");
        lua_pushcfunction(L, conv_tostring);
        lua_setfield(L, -2, "__tostring");
    }
    lua_pop(L, 1);
    static const luaL_Reg fns[] = {{"count", l_count}, {"names", l_names}, {"halo", l_halo},
                                   {"slab", l_slab},   {"stack", l_stack}, {"masked", l_masked},
                                   {"conv_load", l_conv_load}, {"conv_parse", l_conv_parse}, {NULL, NULL}};
    lt_register(L, "features", fns);
}
