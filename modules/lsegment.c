/* lsegment.c — core.segment: the random forest (tortuga.Forest userdata), Otsu, post-processing and the confusion
 * matrix. Option checking, class names, metadata and result shaping live in lua/tortuga/segment.lua.
 *
 *   core.segment.train(channels, scribbles, feat, fopts, class_values, meta) -> Forest, nsamples
 *       channels: list of volumes (same dims); scribbles: an integer volume with the channels' dims (0 = unlabelled)
 *       or a table {[z] = slice (nx x ny x 1 integer volume), ...} (z 1-based); feat = {sigmas = {..}, kinds = mask,
 *       dims = 2|3, truncate = 4, conv = <tortuga.ConvNet> | nil}; fopts = {trees, max_depth, min_leaf, mtry, bins, bootstrap, seed, class_weight =
 *       "balanced" | {w1, w2, ...} | nil}; class_values: sorted list of the label values that are classes.
 *   core.segment.train_matrix(X, y, fopts, class_values, meta) -> Forest   X: f32 volume nx = features, ny*nz = rows;
 *       y: u8 volume of label values with ny*nz*nx... rows voxels (any shape with as many voxels as X has rows)
 *   core.segment.predict(forest, channels, feat, want_prob, slab) -> labels (u8), {prob volumes} | nil
 *   core.segment.predict_matrix(forest, X, want_prob) -> labels (u8, rows x 1 x 1), {prob} | nil
 *   core.segment.feature_names(feat, nchannels) -> {names}
 *   core.segment.features_matrix(channels, feat [, {z1, z2}]) -> f32 volume (nx = features, ny = voxels, x fastest)
 *   core.segment.load(path) -> Forest | nil, "path: reason";  forest:save(path) -> true | nil, "path: reason"
 *   forest:info() -> {features, classes, trees, channels, class_values, importance, meta, nodes, ...}
 *   forest:release()  tostring(forest)
 *   core.segment.otsu(v, classes, bins) -> labels, {thresholds}, {nan, posinf, neginf} (voxels left out)
 *   core.segment.remove_islands(labels, min_size, connectivity) -> labels, islands, voxels
 *   core.segment.majority(labels, radius, dims) -> labels
 *   core.segment.confusion(pred, truth) -> {values}, {{counts}} (rows = truth, columns = prediction, 1-based
 *       indices into values)
 */
#include "lbind.h"

#include "segment/tg_conv.h"
#include "segment/tg_features.h"
#include "segment/tg_forest.h"
#include "segment/tg_otsu.h"
#include "segment/tg_postprocess.h"

#include <stdlib.h>
#include <string.h>

#define LT_FOREST_MT "tortuga.Forest"

static tg_forest *newforest(lua_State *L)
{
    tg_forest *f = lua_newuserdatauv(L, sizeof *f, 0);
    tg_forest_init(f);
    luaL_setmetatable(L, LT_FOREST_MT);
    return f;
}

static tg_forest *checkforest(lua_State *L, int idx)
{
    tg_forest *f = luaL_checkudata(L, idx, LT_FOREST_MT);
    if (!f->trees) luaL_error(L, "the forest has been released (or was never trained)");
    return f;
}

static int l_release(lua_State *L)
{
    tg_forest *f = luaL_checkudata(L, 1, LT_FOREST_MT);
    tg_forest_free(f);
    return 0;
}

static int l_tostring(lua_State *L)
{
    tg_forest *f = luaL_checkudata(L, 1, LT_FOREST_MT);
    if (!f->trees) lua_pushstring(L, "tortuga.Forest(released)");
    else
        lua_pushfstring(L, "tortuga.Forest(%d trees, %d classes, %d features, %d channels)", f->ntrees, f->nclasses,
                        f->nfeatures, f->nchannels);
    return 1;
}

/* Channels at idx: a list of volumes with identical dims, at most 16. Returns the count. */
static int get_channels(lua_State *L, int idx, const tg_volume **ch, int max)
{
    luaL_checktype(L, idx, LUA_TTABLE);
    int n = (int)luaL_len(L, idx);
    if (n < 1) luaL_error(L, "segment: channels must be a non-empty list of volumes");
    if (n > max) luaL_error(L, "segment: at most %d channels, got %d", max, n);
    for (int i = 0; i < n; i++) {
        lua_geti(L, idx, i + 1);
        tg_volume *v = lt_testvolume(L, -1);
        if (!v) luaL_error(L, "segment: channel %d is not a volume", i + 1);
        if (!v->buf) luaL_error(L, "segment: channel %d has been released", i + 1);
        ch[i] = v;
        lua_pop(L, 1); /* the list keeps it alive */
    }
    for (int i = 1; i < n; i++)
        if (ch[i]->dims[0] != ch[0]->dims[0] || ch[i]->dims[1] != ch[0]->dims[1] || ch[i]->dims[2] != ch[0]->dims[2])
            luaL_error(L, "segment: channel %d is %dx%dx%d but channel 1 is %dx%dx%d: channels must have the same shape",
                       i + 1, (int)ch[i]->dims[0], (int)ch[i]->dims[1], (int)ch[i]->dims[2], (int)ch[0]->dims[0],
                       (int)ch[0]->dims[1], (int)ch[0]->dims[2]);
    return n;
}

static void get_feat(lua_State *L, int idx, tg_features_opts *o)
{
    tg_features_opts d = TG_FEATURES_OPTS_INIT;
    *o = d;
    luaL_checktype(L, idx, LUA_TTABLE);
    lua_getfield(L, idx, "sigmas");
    if (!lua_isnil(L, -1)) {
        luaL_checktype(L, -1, LUA_TTABLE);
        int n = (int)luaL_len(L, -1);
        if (n < 1 || n > TG_FEATURES_MAX_SIGMAS) luaL_error(L, "segment: between 1 and %d sigmas, got %d", TG_FEATURES_MAX_SIGMAS, n);
        o->nsigmas = n;
        for (int i = 0; i < n; i++) {
            lua_geti(L, -1, i + 1);
            o->sigmas[i] = luaL_checknumber(L, -1);
            lua_pop(L, 1);
        }
    }
    lua_pop(L, 1);
    o->kinds = (unsigned)lt_optinteger(L, idx, "kinds", (lua_Integer)o->kinds);
    o->dims = (int)lt_optinteger(L, idx, "dims", o->dims);
    o->truncate = lt_optnumber(L, idx, "truncate", o->truncate);
    o->conv = NULL;
    if (lua_getfield(L, idx, "conv") != LUA_TNIL) { /* a tortuga.ConvNet (modules/lfeatures.c) */
        tg_conv_net **net = luaL_testudata(L, -1, "tortuga.ConvNet");
        if (!net) luaL_error(L, "segment: features.conv must be a convolution network (tg.segment.load_conv), got %s",
                             luaL_typename(L, -1));
        if (!*net) luaL_error(L, "segment: the convolution network of the features was released");
        o->conv = *net;
    }
    lua_pop(L, 1);
    tg_ctx *ctx = lt_ctx(L);
    if (tg_features_check(ctx, o) != TG_OK) luaL_error(L, "%s", ctx->msg);
}

static void get_fopts(lua_State *L, int idx, int nclasses, tg_forest_opts *o, double *weights)
{
    tg_forest_opts d = TG_FOREST_OPTS_INIT;
    *o = d;
    luaL_checktype(L, idx, LUA_TTABLE);
    o->trees = (int)lt_optinteger(L, idx, "trees", o->trees);
    o->max_depth = (int)lt_optinteger(L, idx, "max_depth", 0);
    o->min_leaf = (int)lt_optinteger(L, idx, "min_leaf", o->min_leaf);
    o->mtry = (int)lt_optinteger(L, idx, "mtry", 0);
    o->bins = (int)lt_optinteger(L, idx, "bins", o->bins);
    o->bootstrap = lt_optboolean(L, idx, "bootstrap", 1);
    o->seed = (uint64_t)lt_optinteger(L, idx, "seed", 1);
    lua_getfield(L, idx, "class_weight");
    if (lua_type(L, -1) == LUA_TSTRING) {
        if (strcmp(lua_tostring(L, -1), "balanced") != 0) luaL_error(L, "segment: class_weight must be \"balanced\" or a table of weights, got \"%s\"", lua_tostring(L, -1));
        o->class_weight = TG_FOREST_WEIGHT_BALANCED;
    } else if (lua_istable(L, -1)) {
        if (luaL_len(L, -1) != nclasses) luaL_error(L, "segment: class_weight has %d weights for %d classes", (int)luaL_len(L, -1), nclasses);
        for (int k = 0; k < nclasses; k++) {
            lua_geti(L, -1, k + 1);
            weights[k] = luaL_checknumber(L, -1);
            lua_pop(L, 1);
        }
        o->class_weight = TG_FOREST_WEIGHT_CUSTOM;
        o->weights = weights;
    } else if (!lua_isnil(L, -1)) luaL_error(L, "segment: class_weight must be \"balanced\" or a table of weights");
    lua_pop(L, 1);
}

/* class_values list at idx -> values[], lookup[65536] (class index or -1). Returns K. */
static int get_classes(lua_State *L, int idx, int32_t *values, int16_t *lookup)
{
    luaL_checktype(L, idx, LUA_TTABLE);
    int K = (int)luaL_len(L, idx);
    if (K > TG_FOREST_MAX_CLASSES) luaL_error(L, "segment: at most %d classes, got %d", TG_FOREST_MAX_CLASSES, K);
    for (int i = 0; i < 65536; i++) lookup[i] = -1;
    for (int k = 0; k < K; k++) {
        lua_geti(L, idx, k + 1);
        lua_Integer v = luaL_checkinteger(L, -1);
        lua_pop(L, 1);
        if (v < 1 || v > 255) luaL_error(L, "segment: class label %d outside 1..255", (int)v);
        if (lookup[v] >= 0) luaL_error(L, "segment: class label %d listed twice", (int)v);
        values[k] = (int32_t)v;
        lookup[v] = (int16_t)k;
    }
    return K;
}

typedef struct points { int64_t *xyz; uint8_t *y; int64_t n, cap; } points;

static int points_push(points *p, int64_t x, int64_t y, int64_t z, uint8_t c)
{
    if (p->n == p->cap) {
        int64_t cap = p->cap ? 2 * p->cap : 4096;
        int64_t *a = tg_realloc(p->xyz, sizeof(int64_t) * 3 * (size_t)cap);
        if (!a) return -1;
        p->xyz = a;
        uint8_t *b = tg_realloc(p->y, (size_t)cap);
        if (!b) return -1;
        p->y = b;
        p->cap = cap;
    }
    p->xyz[3 * p->n] = x;
    p->xyz[3 * p->n + 1] = y;
    p->xyz[3 * p->n + 2] = z;
    p->y[p->n++] = c;
    return 0;
}

/* Labelled voxels of one scribble volume placed at slice z0 (slice lists) or 0 (full volumes). Returns 0, or
 * raises after freeing p (bad label), or -1 on memory failure. */
static int collect(lua_State *L, const tg_volume *s, int64_t z0, const int16_t *lookup, points *p, int64_t counts[])
{
    if (!tg_dtype_is_int(s->dtype)) {
        tg_free(p->xyz); tg_free(p->y);
        luaL_error(L, "segment: scribbles must be an integer label volume (u8, u16), got %s", tg_dtype_name(s->dtype));
    }
    for (int64_t z = 0; z < s->dims[2]; z++)
        for (int64_t y = 0; y < s->dims[1]; y++)
            for (int64_t x = 0; x < s->dims[0]; x++) {
                double v = tg_volume_get(s, x, y, z);
                if (v == 0) continue;
                if (v < 0 || v > 65535 || lookup[(int)v] < 0) {
                    tg_free(p->xyz); tg_free(p->y);
                    luaL_error(L, "segment: scribble label %d at (%d, %d, %d) is not in the class list", (int)v,
                               (int)x + 1, (int)y + 1, (int)(z + z0) + 1);
                }
                counts[lookup[(int)v]]++;
                if (points_push(p, x, y, z + z0, (uint8_t)lookup[(int)v])) return -1;
            }
    return 0;
}

static int l_feature_names(lua_State *L)
{
    tg_features_opts fo;
    get_feat(L, 1, &fo);
    int nch = (int)luaL_checkinteger(L, 2);
    int nf = tg_features_count(&fo, nch);
    lua_createtable(L, nf, 0);
    char buf[128];
    for (int i = 0; i < nf; i++) {
        tg_features_name(&fo, nch, i, buf, sizeof buf);
        lua_pushstring(L, buf);
        lua_rawseti(L, -2, i + 1);
    }
    return 1;
}

static void check_classes_seen(lua_State *L, const int64_t *counts, const int32_t *values, int K, int64_t n, points *p)
{
    const char *err = NULL;
    char buf[160];
    if (n == 0) err = "segment: the scribbles have no labelled voxel (0 = unlabelled)";
    else {
        int seen = 0;
        for (int k = 0; k < K; k++) seen += counts[k] > 0;
        if (seen < 2) {
            snprintf(buf, sizeof buf, "segment: the scribbles label only one class (%d); a forest needs at least two", (int)values[0]);
            for (int k = 0; k < K; k++)
                if (counts[k]) snprintf(buf, sizeof buf, "segment: the scribbles label only one class (%d); a forest needs at least two", (int)values[k]);
            err = buf;
        } else
            for (int k = 0; k < K; k++)
                if (!counts[k]) {
                    snprintf(buf, sizeof buf, "segment: class %d has no labelled voxel in the scribbles", (int)values[k]);
                    err = buf;
                    break;
                }
    }
    if (err) {
        tg_free(p->xyz);
        tg_free(p->y);
        luaL_error(L, "%s", err);
    }
}

static int l_train(lua_State *L)
{
    const tg_volume *ch[16];
    int nch = get_channels(L, 1, ch, 16);
    tg_features_opts fo;
    get_feat(L, 3, &fo);
    int32_t values[TG_FOREST_MAX_CLASSES];
    int16_t *lookup = lua_newuserdatauv(L, sizeof(int16_t) * 65536, 0); /* boxed: collected if we raise */
    int K = get_classes(L, 5, values, lookup);
    double weights[TG_FOREST_MAX_CLASSES];
    tg_forest_opts o;
    get_fopts(L, 4, K, &o, weights);
    o.channels = nch;
    const char *meta = luaL_optstring(L, 6, NULL);
    points p = {NULL, NULL, 0, 0};
    int64_t counts[TG_FOREST_MAX_CLASSES] = {0};
    int mem = 0;
    tg_volume *s = lt_testvolume(L, 2);
    if (s) {
        if (!s->buf) luaL_error(L, "segment: the scribble volume has been released");
        if (s->dims[0] != ch[0]->dims[0] || s->dims[1] != ch[0]->dims[1] || s->dims[2] != ch[0]->dims[2])
            luaL_error(L, "segment: scribbles are %dx%dx%d but the channels are %dx%dx%d", (int)s->dims[0], (int)s->dims[1],
                       (int)s->dims[2], (int)ch[0]->dims[0], (int)ch[0]->dims[1], (int)ch[0]->dims[2]);
        mem = collect(L, s, 0, lookup, &p, counts);
    } else if (lua_istable(L, 2)) {
        lua_pushnil(L);
        while (!mem && lua_next(L, 2)) {
            int isnum;
            lua_Integer z = lua_tointegerx(L, -2, &isnum);
            tg_volume *sl = lt_testvolume(L, -1);
            if (!isnum || !sl || !sl->buf) { tg_free(p.xyz); tg_free(p.y); luaL_error(L, "segment: a scribble slice list maps slice numbers to 2D label volumes"); }
            if (z < 1 || z > ch[0]->dims[2]) { tg_free(p.xyz); tg_free(p.y); luaL_error(L, "segment: scribble slice %d outside 1..%d", (int)z, (int)ch[0]->dims[2]); }
            if (sl->dims[0] != ch[0]->dims[0] || sl->dims[1] != ch[0]->dims[1] || sl->dims[2] != 1) {
                tg_free(p.xyz); tg_free(p.y);
                luaL_error(L, "segment: scribble slice %d is %dx%dx%d, expected %dx%dx1", (int)z, (int)sl->dims[0], (int)sl->dims[1], (int)sl->dims[2], (int)ch[0]->dims[0], (int)ch[0]->dims[1]);
            }
            mem = collect(L, sl, z - 1, lookup, &p, counts);
            lua_pop(L, 1);
        }
    } else luaL_error(L, "segment: scribbles must be a label volume or a list of labelled slices");
    if (mem) { tg_free(p.xyz); tg_free(p.y); return luaL_error(L, "segment: out of memory collecting the scribbles"); }
    check_classes_seen(L, counts, values, K, p.n, &p);
    int nf = tg_features_count(&fo, nch);
    tg_forest *f = newforest(L);
    lt_begin(L);
    tg_ctx *ctx = lt_ctx(L);
    tg_status st = TG_OK;
    float *X = tg_malloc(sizeof(float) * (size_t)p.n * (size_t)nf);
    if (!X) st = tg_fail(ctx, TG_ERR_NOMEM, "segment: out of memory for %lld x %d features", (long long)p.n, nf);
    if (st == TG_OK) st = tg_features_points(ctx, ch, nch, &fo, p.xyz, p.n, 0, X);
    if (st == TG_OK) st = tg_forest_train(ctx, X, p.y, p.n, nf, K, values, meta, &o, f);
    tg_free(X);
    tg_free(p.xyz);
    tg_free(p.y);
    lt_end(L, st);
    lua_pushinteger(L, p.n);
    return 2;
}

/* A matrix as a f32 volume: nx = columns, rows = ny * nz; must be contiguous. */
static const float *matrix_of(lua_State *L, int idx, int64_t *rows, int *cols)
{
    tg_volume *X = lt_checkvolume(L, idx);
    if (X->dtype != TG_F32 || !tg_volume_is_contiguous(X)) luaL_error(L, "segment: a feature matrix is a contiguous f32 volume (nx = features)");
    *rows = X->dims[1] * X->dims[2];
    *cols = (int)X->dims[0];
    return (const float *)((const char *)X->buf->data + X->offset);
}

static int l_train_matrix(lua_State *L)
{
    int64_t rows;
    int nf;
    const float *X = matrix_of(L, 1, &rows, &nf);
    tg_volume *yv = lt_checkvolume(L, 2);
    if (yv->dtype != TG_U8 || !tg_volume_is_contiguous(yv) || tg_volume_count(yv) != rows)
        return luaL_error(L, "segment: y must be a contiguous u8 volume with one label per row (%d rows)", (int)rows);
    int32_t values[TG_FOREST_MAX_CLASSES];
    int16_t *lookup = lua_newuserdatauv(L, sizeof(int16_t) * 65536, 0);
    int K = get_classes(L, 4, values, lookup);
    double weights[TG_FOREST_MAX_CLASSES];
    tg_forest_opts o;
    get_fopts(L, 3, K, &o, weights);
    const char *meta = luaL_optstring(L, 5, NULL);
    const uint8_t *lab = (const uint8_t *)yv->buf->data + yv->offset;
    uint8_t *y = lua_newuserdatauv(L, (size_t)rows, 0);
    for (int64_t i = 0; i < rows; i++) {
        if (lookup[lab[i]] < 0) return luaL_error(L, "segment: label %d of row %d is not in the class list", lab[i], (int)i + 1);
        y[i] = (uint8_t)lookup[lab[i]];
    }
    tg_forest *f = newforest(L);
    lt_begin(L);
    lt_end(L, tg_forest_train(lt_ctx(L), X, y, rows, nf, K, values, meta, &o, f));
    return 1;
}

static void push_probs(lua_State *L, const tg_forest *f, const int64_t dims[3], const double sp[3], float **prob)
{
    tg_ctx *ctx = lt_ctx(L);
    lua_createtable(L, f->nclasses, 0);
    for (int k = 0; k < f->nclasses; k++) {
        tg_volume *v = lt_newvolume(L);
        if (tg_volume_alloc(ctx, dims, TG_F32, sp, v) != TG_OK) luaL_error(L, "%s", ctx->msg);
        prob[k] = (float *)((char *)v->buf->data + v->offset);
        lt_gcstep(L, v);
        lua_rawseti(L, -2, k + 1);
    }
}

static int l_predict(lua_State *L)
{
    tg_forest *f = checkforest(L, 1);
    const tg_volume *ch[16];
    int nch = get_channels(L, 2, ch, 16);
    tg_features_opts fo;
    get_feat(L, 3, &fo);
    int want_prob = lua_toboolean(L, 4);
    int64_t slab = luaL_optinteger(L, 5, 0);
    int nf = tg_features_count(&fo, nch);
    if (f->nchannels && nch != f->nchannels)
        return luaL_error(L, "segment: the forest was trained on %d channels, given %d", f->nchannels, nch);
    if (nf != f->nfeatures)
        return luaL_error(L, "segment: the forest was trained on %d features, these options give %d", f->nfeatures, nf);
    const int64_t nx = ch[0]->dims[0], ny = ch[0]->dims[1], nz = ch[0]->dims[2];
    if (slab <= 0) { /* about 512 MiB of features per slab */
        slab = (int64_t)((512.0 * 1024 * 1024) / ((double)nx * ny * nf * 4.0));
        if (slab < 1) slab = 1;
    }
    if (slab > nz) slab = nz;
    tg_ctx *ctx = lt_ctx(L);
    tg_volume *lab = lt_newvolume(L);
    if (tg_volume_alloc(ctx, ch[0]->dims, TG_U8, ch[0]->spacing, lab) != TG_OK) return luaL_error(L, "%s", ctx->msg);
    float *prob[TG_FOREST_MAX_CLASSES], *pk[TG_FOREST_MAX_CLASSES];
    if (want_prob) push_probs(L, f, ch[0]->dims, ch[0]->spacing, prob);
    else lua_pushnil(L);
    uint8_t *lp = (uint8_t *)lab->buf->data + lab->offset;
    lt_begin(L);
    tg_status st = TG_OK;
    float *X = tg_malloc(sizeof(float) * (size_t)(slab * nx * ny) * (size_t)nf);
    if (!X) st = tg_fail(ctx, TG_ERR_NOMEM, "segment: out of memory for a slab of %lld slices x %d features", (long long)slab, nf);
    for (int64_t z0 = 0; st == TG_OK && z0 < nz; z0 += slab) {
        int64_t z1 = z0 + slab < nz ? z0 + slab : nz, off = z0 * nx * ny, m = (z1 - z0) * nx * ny;
        st = tg_features_slab(ctx, ch, nch, &fo, z0, z1, X);
        for (int k = 0; want_prob && k < f->nclasses; k++) pk[k] = prob[k] + off;
        if (st == TG_OK) st = tg_forest_predict(ctx, f, X, m, nf, want_prob ? pk : NULL, lp + off);
    }
    tg_free(X);
    lt_end(L, st);
    return 2;
}

static int l_predict_matrix(lua_State *L)
{
    tg_forest *f = checkforest(L, 1);
    int64_t rows;
    int nf;
    const float *X = matrix_of(L, 2, &rows, &nf);
    int want_prob = lua_toboolean(L, 3);
    tg_ctx *ctx = lt_ctx(L);
    tg_volume *lab = lt_newvolume(L);
    int64_t dims[3] = {rows, 1, 1};
    if (tg_volume_alloc(ctx, dims, TG_U8, NULL, lab) != TG_OK) return luaL_error(L, "%s", ctx->msg);
    float *prob[TG_FOREST_MAX_CLASSES];
    if (want_prob) push_probs(L, f, dims, NULL, prob);
    else lua_pushnil(L);
    lt_begin(L);
    lt_end(L, tg_forest_predict(ctx, f, X, rows, nf, want_prob ? prob : NULL, (uint8_t *)lab->buf->data + lab->offset));
    return 2;
}

/* features_matrix(channels, feat [, {z1, z2}]) -> f32 volume nx = features, ny = voxels of the z range (x fastest). */
static int l_features_matrix(lua_State *L)
{
    const tg_volume *ch[16];
    int nch = get_channels(L, 1, ch, 16);
    tg_features_opts fo;
    get_feat(L, 2, &fo);
    int64_t z0, z1;
    lt_range(L, 3, ch[0]->dims[2], &z0, &z1, "z");
    int nf = tg_features_count(&fo, nch);
    int64_t dims[3] = {nf, ch[0]->dims[0] * ch[0]->dims[1] * (z1 - z0), 1};
    tg_ctx *ctx = lt_ctx(L);
    tg_volume *X = lt_newvolume(L);
    if (tg_volume_alloc(ctx, dims, TG_F32, NULL, X) != TG_OK) return luaL_error(L, "%s", ctx->msg);
    lt_gcstep(L, X);
    lt_begin(L);
    lt_end(L, tg_features_slab(ctx, ch, nch, &fo, z0, z1, (float *)((char *)X->buf->data + X->offset)));
    return 1;
}

static int l_save(lua_State *L)
{
    tg_forest *f = checkforest(L, 1);
    const char *path = luaL_checkstring(L, 2);
    lt_begin(L);
    int n = lt_end_io(L, tg_forest_save(lt_ctx(L), f, path));
    if (n) return n;
    lua_pushboolean(L, 1);
    return 1;
}

static int l_load(lua_State *L)
{
    const char *path = luaL_checkstring(L, 1);
    tg_forest *f = newforest(L);
    lt_begin(L);
    int n = lt_end_io(L, tg_forest_load(lt_ctx(L), path, f));
    if (n) return n;
    return 1;
}

static int l_info(lua_State *L)
{
    tg_forest *f = checkforest(L, 1);
    lua_newtable(L);
#define SETI(name, v) (lua_pushinteger(L, (lua_Integer)(v)), lua_setfield(L, -2, name))
    SETI("features", f->nfeatures);
    SETI("classes", f->nclasses);
    SETI("trees", f->ntrees);
    SETI("channels", f->nchannels);
    SETI("max_depth", f->max_depth);
    SETI("min_leaf", f->min_leaf);
    SETI("mtry", f->mtry);
    SETI("bins", f->bins);
    SETI("seed", f->seed);
    SETI("nodes", tg_forest_nodes(f));
#undef SETI
    static const char *const cw[] = {"none", "balanced", "custom"};
    lua_pushstring(L, cw[f->class_weight <= 2 ? f->class_weight : 0]);
    lua_setfield(L, -2, "class_weight");
    lua_createtable(L, f->nclasses, 0);
    for (int k = 0; k < f->nclasses; k++) { lua_pushinteger(L, f->class_values[k]); lua_rawseti(L, -2, k + 1); }
    lua_setfield(L, -2, "class_values");
    lua_createtable(L, f->nclasses, 0);
    for (int k = 0; k < f->nclasses; k++) { lua_pushnumber(L, f->weights[k]); lua_rawseti(L, -2, k + 1); }
    lua_setfield(L, -2, "weights");
    lua_createtable(L, f->nfeatures, 0);
    for (int j = 0; j < f->nfeatures; j++) { lua_pushnumber(L, f->importance[j]); lua_rawseti(L, -2, j + 1); }
    lua_setfield(L, -2, "importance");
    if (f->meta) { lua_pushlstring(L, f->meta, f->meta_len); lua_setfield(L, -2, "meta"); }
    return 1;
}

static int l_equal(lua_State *L)
{
    lua_pushboolean(L, tg_forest_equal(checkforest(L, 1), checkforest(L, 2)));
    return 1;
}

static void setcount(lua_State *L, const char *k, int64_t n)
{
    lua_pushinteger(L, (lua_Integer)n);
    lua_setfield(L, -2, k);
}

static int l_otsu(lua_State *L)
{
    tg_volume *v = lt_checkvolume(L, 1);
    tg_otsu_opts o = TG_OTSU_OPTS_INIT;
    o.classes = (int)luaL_optinteger(L, 2, 2);
    o.bins = (int)luaL_optinteger(L, 3, 256);
    double thr[TG_OTSU_MAX_CLASSES];
    tg_stats s;
    tg_volume *lab = lt_newvolume(L);
    lt_begin(L);
    lt_end(L, tg_otsu(lt_ctx(L), v, &o, thr, lab, &s));
    lua_createtable(L, o.classes - 1, 0);
    for (int k = 0; k < o.classes - 1; k++) { lua_pushnumber(L, thr[k]); lua_rawseti(L, -2, k + 1); }
    lua_createtable(L, 0, 3);
    setcount(L, "nan", s.nan_count);
    setcount(L, "posinf", s.posinf_count);
    setcount(L, "neginf", s.neginf_count);
    return 3;
}

static int l_remove_islands(lua_State *L)
{
    tg_volume *v = lt_checkvolume(L, 1);
    tg_islands_opts o = TG_ISLANDS_OPTS_INIT;
    o.min_size = luaL_checkinteger(L, 2);
    o.connectivity = (int)luaL_optinteger(L, 3, 6);
    tg_volume *out = lt_newvolume(L);
    int64_t removed = 0, voxels = 0;
    lt_begin(L);
    lt_end(L, tg_remove_islands(lt_ctx(L), v, &o, out, &removed, &voxels));
    lua_pushinteger(L, removed);
    lua_pushinteger(L, voxels);
    return 3;
}

static int l_majority(lua_State *L)
{
    tg_volume *v = lt_checkvolume(L, 1);
    tg_majority_opts o = TG_MAJORITY_OPTS_INIT;
    o.radius = (int)luaL_checkinteger(L, 2);
    o.dims = (int)luaL_optinteger(L, 3, 3);
    tg_volume *out = lt_newvolume(L);
    lt_begin(L);
    lt_end(L, tg_majority(lt_ctx(L), v, &o, out));
    return 1;
}

/* Confusion matrix of two integer volumes of the same dims (values 0..65535). */
static int l_confusion(lua_State *L)
{
    tg_volume *p = lt_checkvolume(L, 1), *t = lt_checkvolume(L, 2);
    for (int i = 0; i < 3; i++)
        if (p->dims[i] != t->dims[i]) return luaL_error(L, "segment.evaluate: prediction is %dx%dx%d but truth is %dx%dx%d", (int)p->dims[0], (int)p->dims[1], (int)p->dims[2], (int)t->dims[0], (int)t->dims[1], (int)t->dims[2]);
    if ((p->dtype != TG_U8 && p->dtype != TG_U16) || (t->dtype != TG_U8 && t->dtype != TG_U16))
        return luaL_error(L, "segment.evaluate: labels must be u8 or u16 volumes (got %s and %s)", tg_dtype_name(p->dtype), tg_dtype_name(t->dtype));
    int32_t *idx = lua_newuserdatauv(L, sizeof(int32_t) * 65536, 0);
    for (int i = 0; i < 65536; i++) idx[i] = -1;
    int nv = 0;
    uint16_t vals[256];
    for (int pass = 0; pass < 2; pass++) {
        const tg_volume *v = pass ? p : t;
        for (int64_t z = 0; z < v->dims[2]; z++)
            for (int64_t y = 0; y < v->dims[1]; y++)
                for (int64_t x = 0; x < v->dims[0]; x++) {
                    int a = (int)tg_volume_get(v, x, y, z);
                    if (idx[a] < 0) {
                        if (nv == 256) return luaL_error(L, "segment.evaluate: more than 256 distinct labels");
                        idx[a] = 0;
                        vals[nv++] = (uint16_t)a;
                    }
                }
    }
    /* sorted values */
    for (int i = 1; i < nv; i++)
        for (int j = i; j > 0 && vals[j - 1] > vals[j]; j--) { uint16_t tmp = vals[j]; vals[j] = vals[j - 1]; vals[j - 1] = tmp; }
    for (int i = 0; i < nv; i++) idx[vals[i]] = i;
    lua_Integer *cm = lua_newuserdatauv(L, sizeof(lua_Integer) * (size_t)nv * nv, 0);
    memset(cm, 0, sizeof(lua_Integer) * (size_t)nv * nv);
    for (int64_t z = 0; z < t->dims[2]; z++)
        for (int64_t y = 0; y < t->dims[1]; y++)
            for (int64_t x = 0; x < t->dims[0]; x++)
                cm[idx[(int)tg_volume_get(t, x, y, z)] * nv + idx[(int)tg_volume_get(p, x, y, z)]]++;
    lua_createtable(L, nv, 0);
    for (int i = 0; i < nv; i++) { lua_pushinteger(L, vals[i]); lua_rawseti(L, -2, i + 1); }
    lua_createtable(L, nv, 0);
    for (int i = 0; i < nv; i++) {
        lua_createtable(L, nv, 0);
        for (int j = 0; j < nv; j++) { lua_pushinteger(L, cm[i * nv + j]); lua_rawseti(L, -2, j + 1); }
        lua_rawseti(L, -2, i + 1);
    }
    return 2;
}

void lt_open_segment(lua_State *L)
{
    static const luaL_Reg methods[] = {
        {"save", l_save}, {"info", l_info}, {"release", l_release}, {"equal", l_equal}, {NULL, NULL}};
    if (luaL_newmetatable(L, LT_FOREST_MT)) {
        luaL_newlib(L, methods);
        lua_setfield(L, -2, "__index");
        lua_pushcfunction(L, l_release);
        lua_setfield(L, -2, "__gc");
        lua_pushcfunction(L, l_release);
        lua_setfield(L, -2, "__close");
        lua_pushcfunction(L, l_tostring);
        lua_setfield(L, -2, "__tostring");
    }
    lua_pop(L, 1);
    static const luaL_Reg fns[] = {
        {"train", l_train}, {"train_matrix", l_train_matrix}, {"predict", l_predict},
        {"predict_matrix", l_predict_matrix}, {"feature_names", l_feature_names}, {"features_matrix", l_features_matrix}, {"load", l_load},
        {"save", l_save}, {"info", l_info}, {"equal", l_equal}, {"otsu", l_otsu},
        {"remove_islands", l_remove_islands}, {"majority", l_majority}, {"confusion", l_confusion},
        {NULL, NULL}};
    lt_register(L, "segment", fns);
}
