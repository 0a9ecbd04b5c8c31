/* lsegment.c — core.segment: pixel features (tg_features, tg_conv: the tortuga.ConvNet userdata), the random
 * forest (tortuga.Forest userdata), Otsu, post-processing and the confusion matrix. Option checking, defaults,
 * class names, metadata, the Features object and result shaping live in lua/tortuga/segment.lua.
 *
 * Feature options, the one form every function here reads (`feat`): {sigmas = {...}, kinds = {"gaussian", "log",
 * ...} (names of tg_feature_kind), dims = 2|3, truncate = 4.0, conv = <tortuga.ConvNet> | nil}.
 * Channels: a list of volumes of one shape. Matrices are f32 volumes, feature index fastest (nx = features).
 *
 *   core.segment.feature_count(feat, nchannels) -> n      core.segment.feature_names(feat, nchannels) -> {names}
 *   core.segment.feature_halo(feat) -> slices read on each side of a slab
 *   core.segment.features_slab(channels, feat, {z1, z2} | nil [, flat]) -> f32 volume (nfeat, nx*ny, nz of the range),
 *       or (nfeat, nx*ny*nz, 1) when flat
 *   core.segment.features_stack(channels, feat, {z1, z2} | nil) -> {f32 volume per feature} (nx, ny, nz of the range)
 *   core.segment.features_at(channels, feat, mask [, max_slab]) -> f32 volume (nfeat, n, 1), n: the voxels where
 *       mask ~= 0 in x-fastest scan order (raises if there is none)
 *   core.segment.conv_load(path) -> ConvNet | nil, "path: reason"
 *   core.segment.conv_parse(bytes, name) -> ConvNet | nil, "name: reason"  (a weight file's bytes)
 *       net:layers() -> {{cin=, cout=}, ...}   net:outputs()   net:bytes()   net:release()   tostring(net)
 *   core.segment.train(channels, scribbles, feat, fopts, class_values, meta) -> Forest, nsamples
 *       scribbles: an integer volume with the channels' dims (0 = unlabelled) or a table {[z] = slice (nx x ny x 1
 *       integer volume), ...} (z 1-based); fopts = {trees, max_depth, min_leaf, mtry, bins, bootstrap, seed,
 *       class_weight = "balanced" | {w1, w2, ...} | nil}; class_values: sorted list of the label values that are classes.
 *   core.segment.train_matrix(X, y, fopts, class_values, meta) -> Forest   X: f32 volume nx = features, ny*nz = rows;
 *       y: u8 volume of label values with one voxel per row
 *   core.segment.predict(forest, channels, feat, want_prob, slab) -> labels (u8), {prob volumes} | nil
 *   core.segment.predict_matrix(forest, X, want_prob [, width]) -> labels (u8, rows x 1 x 1), {prob} | nil
 *       (width: the length of the image lines the rows come from, so neighbouring voxels descend together)
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

#include "core/tg_points.h"
#include "segment/tg_conv.h"
#include "segment/tg_evaluate.h"
#include "segment/tg_features.h"
#include "segment/tg_forest.h"
#include "segment/tg_otsu.h"
#include "segment/tg_postprocess.h"
#include "segment/tg_predict.h"
#include "segment/tg_samples.h"

#include <stdlib.h>
#include <string.h>

#define LT_FOREST_MT "tortuga.Forest"
#define LT_CONV_MT "tortuga.ConvNet"
#define MAX_CHANNELS 64

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
    if (!f->trees) lt_error(L, "the forest has been released (or was never trained)");
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

/* Channels at idx: a list of 1..max volumes of one shape (checked by the engine). Returns the count. */
static int get_channels(lua_State *L, int idx, const tg_volume **ch, int max)
{
    luaL_checktype(L, idx, LUA_TTABLE);
    lua_Integer n = luaL_len(L, idx);
    if (n < 1) lt_error(L, "segment: channels must be a non-empty list of volumes");
    if (n > max) lt_error(L, "segment: at most %d channels, got %d", max, (int)n);
    for (int i = 0; i < n; i++) {
        lua_geti(L, idx, i + 1);
        tg_volume *v = lt_testvolume(L, -1);
        if (!v) lt_error(L, "segment: channel %d is not a volume (%s)", i + 1, luaL_typename(L, -1));
        ch[i] = v;
        lua_pop(L, 1); /* the list keeps it alive */
    }
    tg_ctx *ctx = lt_ctx(L);
    if (tg_features_check_channels(ctx, ch, (int)n) != TG_OK) lt_error(L, "%s", ctx->msg);
    return (int)n;
}

static tg_conv_net **checkconv(lua_State *L, int idx)
{
    tg_conv_net **p = luaL_checkudata(L, idx, LT_CONV_MT);
    if (!*p) lt_error(L, "the convolution network was released");
    return p;
}

static const char *const kind_names[] = {"gaussian", "log", "gradmag", "dog", "st", "hessian", NULL};

/* The feature options at idx (the form in the header) -> o, checked by the engine (raises with its message). */
static void get_feat(lua_State *L, int idx, tg_features_opts *o)
{
    idx = lua_absindex(L, idx);
    luaL_checktype(L, idx, LUA_TTABLE);
    tg_features_opts d = TG_FEATURES_OPTS_INIT;
    *o = d;
    if (lua_getfield(L, idx, "sigmas") != LUA_TNIL) {
        luaL_checktype(L, -1, LUA_TTABLE);
        lua_Integer n = luaL_len(L, -1);
        if (n < 1 || n > TG_FEATURES_MAX_SIGMAS)
            lt_error(L, "segment.features: between 1 and %d sigmas are needed, got %d", TG_FEATURES_MAX_SIGMAS, (int)n);
        o->nsigmas = (int)n;
        for (int i = 0; i < o->nsigmas; i++) {
            lua_geti(L, -1, i + 1);
            int ok;
            o->sigmas[i] = lua_tonumberx(L, -1, &ok);
            if (!ok) lt_error(L, "segment.features: sigma %d must be a number, got %s", i + 1, luaL_typename(L, -1));
            lua_pop(L, 1);
        }
    }
    lua_pop(L, 1);
    if (lua_getfield(L, idx, "kinds") != LUA_TNIL) {
        luaL_checktype(L, -1, LUA_TTABLE);
        o->kinds = 0;
        lua_Integer n = luaL_len(L, -1);
        for (lua_Integer i = 1; i <= n; i++) {
            lua_geti(L, -1, i);
            o->kinds |= TG_FEAT_BIT(lt_checkname(L, -1, NULL, kind_names, "segment.features: a feature kind"));
            lua_pop(L, 1);
        }
    }
    lua_pop(L, 1);
    o->dims = (int)lt_optinteger(L, idx, "dims", o->dims);
    o->truncate = lt_optnumber(L, idx, "truncate", o->truncate);
    if (lua_getfield(L, idx, "conv") != LUA_TNIL) o->conv = *checkconv(L, -1);
    lua_pop(L, 1);
    tg_ctx *ctx = lt_ctx(L);
    if (tg_features_check(ctx, o) != TG_OK) lt_error(L, "%s", ctx->msg);
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
    static const char *const weightings[] = {"balanced", NULL};
    lua_getfield(L, idx, "class_weight");
    if (lua_type(L, -1) == LUA_TSTRING) {
        lt_checkname(L, -1, NULL, weightings, "segment: class_weight (or a table of weights)");
        o->class_weight = TG_FOREST_WEIGHT_BALANCED;
    } else if (lua_istable(L, -1)) {
        if (luaL_len(L, -1) != nclasses) lt_error(L, "segment: class_weight has %d weights for %d classes", (int)luaL_len(L, -1), nclasses);
        for (int k = 0; k < nclasses; k++) {
            lua_geti(L, -1, k + 1);
            weights[k] = luaL_checknumber(L, -1);
            lua_pop(L, 1);
        }
        o->class_weight = TG_FOREST_WEIGHT_CUSTOM;
        o->weights = weights;
    } else if (!lua_isnil(L, -1)) lt_error(L, "segment: class_weight must be \"balanced\" or a table of weights");
    lua_pop(L, 1);
}

/* class_values list at idx -> values[] (checked by the engine: 1..255, distinct). Returns K. */
static int get_classes(lua_State *L, int idx, int32_t *values)
{
    luaL_checktype(L, idx, LUA_TTABLE);
    lua_Integer K = luaL_len(L, idx);
    if (K > TG_FOREST_MAX_CLASSES) lt_error(L, "segment: at most %d classes, got %d", TG_FOREST_MAX_CLASSES, (int)K);
    for (int k = 0; k < K; k++) {
        lua_geti(L, idx, k + 1);
        lua_Integer v = luaL_checkinteger(L, -1);
        lua_pop(L, 1);
        values[k] = v < INT32_MIN ? INT32_MIN : v > INT32_MAX ? INT32_MAX : (int32_t)v;
    }
    return (int)K;
}

static void points_release(void *p) { tg_points_free(p); }

/* The labelled voxels of the scribbles at idx (a volume with the channels' dims, or {[z] = nx x ny x 1 slice})
 * into p, with their label values; raises on misuse. */
static void get_scribbles(lua_State *L, int idx, const tg_volume *ch0, tg_points *p)
{
    tg_ctx *ctx = lt_ctx(L);
    tg_volume *s = lt_testvolume(L, idx);
    if (s) {
        if (!s->buf) lt_error(L, "segment: the scribble volume has been released");
        if (!tg_dtype_is_int(s->dtype))
            lt_error(L, "segment: scribbles must be an integer label volume (u8, u16), got %s", tg_dtype_name(s->dtype));
        if (s->dims[0] != ch0->dims[0] || s->dims[1] != ch0->dims[1] || s->dims[2] != ch0->dims[2])
            lt_error(L, "segment: scribbles are %dx%dx%d but the channels are %dx%dx%d", (int)s->dims[0], (int)s->dims[1],
                       (int)s->dims[2], (int)ch0->dims[0], (int)ch0->dims[1], (int)ch0->dims[2]);
        if (tg_points_add(ctx, p, s, 0) != TG_OK) lt_error(L, "%s", ctx->msg);
        return;
    }
    if (!lua_istable(L, idx)) lt_error(L, "segment: scribbles must be a label volume or a list of labelled slices");
    lua_pushnil(L);
    while (lua_next(L, idx)) {
        int isnum;
        lua_Integer z = lua_tointegerx(L, -2, &isnum);
        tg_volume *sl = lt_testvolume(L, -1);
        if (!isnum || !sl || !sl->buf) lt_error(L, "segment: a scribble slice list maps slice numbers to 2D label volumes");
        if (z < 1 || z > ch0->dims[2]) lt_error(L, "segment: scribble slice %d outside 1..%d", (int)z, (int)ch0->dims[2]);
        if (!tg_dtype_is_int(sl->dtype))
            lt_error(L, "segment: scribbles must be an integer label volume (u8, u16), got %s", tg_dtype_name(sl->dtype));
        if (sl->dims[0] != ch0->dims[0] || sl->dims[1] != ch0->dims[1] || sl->dims[2] != 1)
            lt_error(L, "segment: scribble slice %d is %dx%dx%d, expected %dx%dx1", (int)z, (int)sl->dims[0],
                       (int)sl->dims[1], (int)sl->dims[2], (int)ch0->dims[0], (int)ch0->dims[1]);
        if (tg_points_add(ctx, p, sl, z - 1) != TG_OK) lt_error(L, "%s", ctx->msg);
        lua_pop(L, 1);
    }
}

/* Raise with the context's message unless st is TG_OK (for engine calls outside lt_begin / lt_end). */
static void check(lua_State *L, tg_status st)
{
    if (st != TG_OK) lt_error(L, "%s", lt_ctx(L)->msg);
}

static int l_train(lua_State *L)
{
    const tg_volume *ch[16];
    int nch = get_channels(L, 1, ch, 16); /* a forest is trained on at most 16 channels */
    tg_features_opts fo;
    get_feat(L, 3, &fo);
    int32_t values[TG_FOREST_MAX_CLASSES];
    int K = get_classes(L, 5, values);
    double weights[TG_FOREST_MAX_CLASSES];
    tg_forest_opts o;
    get_fopts(L, 4, K, &o, weights);
    o.channels = nch;
    const char *meta = luaL_optstring(L, 6, NULL);
    lua_settop(L, 6);
    tg_points *p = lt_boxobj(L, sizeof *p, points_release); /* 7 */
    tg_points_init(p, 1);
    get_scribbles(L, 2, ch[0], p);
    tg_ctx *ctx = lt_ctx(L);
    int64_t counts[TG_FOREST_MAX_CLASSES] = {0};
    uint8_t *y = lt_box(L, (size_t)p->n); /* 8 */
    check(L, tg_samples_classes(ctx, p, values, K, y, counts));
    check(L, tg_samples_check(ctx, counts, values, K));
    int nf = tg_features_count(&fo, nch);
    float *X = lt_box(L, sizeof(float) * (size_t)p->n * (size_t)nf); /* 9: the samples' features */
    tg_forest *f = newforest(L);                                       /* 10 */
    lt_begin(L);
    tg_status st = tg_features_points(ctx, ch, nch, &fo, p->xyz, p->n, 0, X);
    if (st == TG_OK) st = tg_forest_train(ctx, X, y, p->n, nf, K, values, meta, &o, f);
    lt_end(L, st);
    int64_t n = p->n;
    lt_unbox(L, 9); /* the features can be large: free them now rather than at the next collection */
    lt_unbox(L, 7);
    lua_pushvalue(L, 10);
    lua_pushinteger(L, n);
    return 2;
}

/* A matrix as a f32 volume: nx = columns, rows = ny * nz; must be contiguous. */
static const float *matrix_of(lua_State *L, int idx, int64_t *rows, int *cols)
{
    tg_volume *X = lt_checkvolume(L, idx);
    if (X->dtype != TG_F32 || !tg_volume_is_contiguous(X)) lt_error(L, "segment: a feature matrix is a contiguous f32 volume (nx = features)");
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
        return lt_error(L, "segment: y must be a contiguous u8 volume with one label per row (%d rows)", (int)rows);
    int32_t values[TG_FOREST_MAX_CLASSES];
    int K = get_classes(L, 4, values);
    double weights[TG_FOREST_MAX_CLASSES];
    tg_forest_opts o;
    get_fopts(L, 3, K, &o, weights);
    const char *meta = luaL_optstring(L, 5, NULL);
    uint8_t *y = lua_newuserdatauv(L, (size_t)(rows > 0 ? rows : 1), 0);
    check(L, tg_samples_rows(lt_ctx(L), yv, values, K, y));
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
        if (tg_volume_alloc(ctx, dims, TG_F32, sp, v) != TG_OK) lt_error(L, "%s", ctx->msg);
        prob[k] = (float *)((char *)v->buf->data + v->offset);
        lt_gcstep(L, v);
        lua_rawseti(L, -2, k + 1);
    }
}

static int l_predict(lua_State *L)
{
    tg_forest *f = checkforest(L, 1);
    const tg_volume *ch[16];
    int nch = get_channels(L, 2, ch, 16); /* a forest is trained on at most 16 channels */
    tg_features_opts fo;
    get_feat(L, 3, &fo);
    int want_prob = lua_toboolean(L, 4);
    int64_t slab = luaL_optinteger(L, 5, 0);
    int nf = tg_features_count(&fo, nch);
    if (f->nchannels && nch != f->nchannels) /* before the outputs are allocated */
        return lt_error(L, "segment: the forest was trained on %d channels, given %d", f->nchannels, nch);
    if (nf != f->nfeatures)
        return lt_error(L, "segment: the forest was trained on %d features, these options give %d", f->nfeatures, nf);
    tg_ctx *ctx = lt_ctx(L);
    tg_volume *lab = lt_newvolume(L);
    if (tg_volume_alloc(ctx, ch[0]->dims, TG_U8, ch[0]->spacing, lab) != TG_OK) return lt_error(L, "%s", ctx->msg);
    float *prob[TG_FOREST_MAX_CLASSES];
    if (want_prob) push_probs(L, f, ch[0]->dims, ch[0]->spacing, prob);
    else lua_pushnil(L);
    lt_begin(L);
    lt_end(L, tg_predict_stack(ctx, f, ch, nch, &fo, slab, (uint8_t *)tg_volume_ptr(lab, 0, 0, 0), want_prob ? prob : NULL));
    return 2;
}

static int l_predict_matrix(lua_State *L)
{
    tg_forest *f = checkforest(L, 1);
    int64_t rows;
    int nf;
    const float *X = matrix_of(L, 2, &rows, &nf);
    int want_prob = lua_toboolean(L, 3);
    lua_Integer width = luaL_optinteger(L, 4, 0);
    tg_ctx *ctx = lt_ctx(L);
    tg_volume *lab = lt_newvolume(L);
    int64_t dims[3] = {rows, 1, 1};
    if (tg_volume_alloc(ctx, dims, TG_U8, NULL, lab) != TG_OK) return lt_error(L, "%s", ctx->msg);
    float *prob[TG_FOREST_MAX_CLASSES];
    if (want_prob) push_probs(L, f, dims, NULL, prob);
    else lua_pushnil(L);
    lt_begin(L);
    lt_end(L, tg_forest_predict_grid(ctx, f, X, rows, nf, (int64_t)width, want_prob ? prob : NULL,
                                     (uint8_t *)lab->buf->data + lab->offset));
    return 2;
}

/* ---- features ---- */

/* feature_count(feat, nch) */
static int l_feature_count(lua_State *L)
{
    tg_features_opts o;
    get_feat(L, 1, &o);
    int nch = (int)luaL_checkinteger(L, 2);
    lua_pushinteger(L, tg_features_count(&o, nch));
    return 1;
}

/* feature_names(feat, nch) -> {name, ...} */
static int l_feature_names(lua_State *L)
{
    tg_features_opts o;
    get_feat(L, 1, &o);
    int nch = (int)luaL_checkinteger(L, 2);
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

/* feature_halo(feat) -> slices read on each side of a slab */
static int l_feature_halo(lua_State *L)
{
    tg_features_opts o;
    get_feat(L, 1, &o);
    lua_pushinteger(L, tg_features_halo(&o));
    return 1;
}

/* The arguments every feature request starts with: channels at 1, options at 2 (checked). */
static int read_request(lua_State *L, const tg_volume **ch, tg_features_opts *o)
{
    int nch = get_channels(L, 1, ch, MAX_CHANNELS);
    get_feat(L, 2, o);
    return nch;
}

/* features_slab(channels, feat, zrange [, flat]) -> matrix f32 volume (nfeat, nx*ny, nz of the range), or
 * (nfeat, nx*ny*nz, 1) when flat */
static int l_features_slab(lua_State *L)
{
    const tg_volume *ch[MAX_CHANNELS];
    tg_features_opts o;
    int nch = read_request(L, ch, &o);
    int64_t z0, z1;
    lt_range(L, 3, ch[0]->dims[2], &z0, &z1, "segment.features: z");
    int64_t d[3] = {tg_features_count(&o, nch), ch[0]->dims[0] * ch[0]->dims[1], z1 - z0};
    if (lua_toboolean(L, 4)) {
        d[1] *= d[2];
        d[2] = 1;
    }
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

/* features_stack(channels, feat, zrange) -> {volume per feature} (nx, ny, nz of the range), channel 1's spacing */
static int l_features_stack(lua_State *L)
{
    const tg_volume *ch[MAX_CHANNELS];
    tg_features_opts o;
    int nch = read_request(L, ch, &o);
    int64_t z0, z1;
    lt_range(L, 3, ch[0]->dims[2], &z0, &z1, "segment.features: z");
    int nf = tg_features_count(&o, nch);
    int64_t d[3] = {ch[0]->dims[0], ch[0]->dims[1], z1 - z0};
    tg_ctx *ctx = lt_ctx(L);
    float **planes = lua_newuserdatauv(L, sizeof(float *) * (size_t)(nf > 0 ? nf : 1), 0);
    lua_createtable(L, nf, 0);
    for (int j = 0; j < nf; j++) {
        tg_volume *v = lt_newvolume(L);
        if (tg_volume_alloc(ctx, d, TG_F32, ch[0]->spacing, v) != TG_OK) lt_error(L, "%s", ctx->msg);
        planes[j] = (float *)tg_volume_ptr(v, 0, 0, 0);
        lua_rawseti(L, -2, j + 1);
    }
    lt_begin(L);
    lt_end(L, tg_features_stack(ctx, ch, nch, &o, z0, z1, planes));
    return 1;
}

/* features_at(channels, feat, mask [, max_slab]) -> matrix f32 volume (nfeat, n, 1), n: voxels where mask ~= 0, in
 * x-fastest scan order. Raises if the mask selects nothing. */
static int l_features_at(lua_State *L)
{
    const tg_volume *ch[MAX_CHANNELS];
    tg_features_opts o;
    int nch = read_request(L, ch, &o);
    tg_volume *mask = lt_checkvolume(L, 3);
    lua_Integer max_slab = luaL_optinteger(L, 4, 0);
    for (int a = 0; a < 3; a++)
        if (mask->dims[a] != ch[0]->dims[a])
            lt_error(L, "segment.features: the mask is %dx%dx%d but the channels are %dx%dx%d", (int)mask->dims[0],
                       (int)mask->dims[1], (int)mask->dims[2], (int)ch[0]->dims[0], (int)ch[0]->dims[1],
                       (int)ch[0]->dims[2]);
    lua_settop(L, 4);
    tg_points *p = lt_boxobj(L, sizeof *p, points_release); /* 5 */
    tg_points_init(p, 0);
    tg_ctx *ctx = lt_ctx(L);
    check(L, tg_points_add(ctx, p, mask, 0));
    int64_t n = p->n;
    if (n == 0) lt_error(L, "segment.features: the mask selects no voxel");
    int64_t d[3] = {tg_features_count(&o, nch), n, 1};
    tg_volume *out = lt_newvolume(L);
    lt_begin(L);
    tg_status st = tg_volume_alloc_uninit(ctx, d, TG_F32, NULL, out); /* every row is written */
    if (!st) st = tg_features_points(ctx, ch, nch, &o, p->xyz, n, max_slab, (float *)tg_volume_ptr(out, 0, 0, 0));
    if (st) tg_volume_release(out);
    lt_end(L, st);
    lt_unbox(L, 5);
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

/* A box holding a pointer to an engine block: frees the block. */
static void free_slot(void *slot) { tg_free(*(void **)slot); }

/* net:bytes() -> the weight file's bytes (tg_conv_serialize) */
static int conv_bytes(lua_State *L)
{
    tg_conv_net *net = *checkconv(L, 1);
    tg_ctx *ctx = lt_ctx(L);
    unsigned char **buf = lt_boxobj(L, sizeof *buf, free_slot); /* the engine's buffer, freed by the box */
    size_t len;
    if (tg_conv_serialize(ctx, net, buf, &len)) lt_error(L, "%s", ctx->msg);
    lua_pushlstring(L, (const char *)*buf, len);
    lt_unbox(L, -2);
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

/* ---- forests ---- */

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

static void confusion_release(void *r) { tg_confusion_free(r); }

/* confusion(pred, truth) -> {values}, {{counts}}: engine/segment/tg_evaluate.h */
static int l_confusion(lua_State *L)
{
    tg_volume *p = lt_checkvolume(L, 1), *t = lt_checkvolume(L, 2);
    tg_confusion_result *r = lt_boxobj(L, sizeof *r, confusion_release);
    lt_begin(L);
    lt_end(L, tg_confusion(lt_ctx(L), p, t, r));
    int nv = r->n;
    lua_createtable(L, nv, 0);
    for (int i = 0; i < nv; i++) { lua_pushinteger(L, r->values[i]); lua_rawseti(L, -2, i + 1); }
    lua_createtable(L, nv, 0);
    for (int i = 0; i < nv; i++) {
        lua_createtable(L, nv, 0);
        for (int j = 0; j < nv; j++) { lua_pushinteger(L, r->counts[i * nv + j]); lua_rawseti(L, -2, j + 1); }
        lua_rawseti(L, -2, i + 1);
    }
    return 2;
}

void lt_open_segment(lua_State *L)
{
    static const luaL_Reg conv_methods[] = {
        {"layers", conv_layers}, {"outputs", conv_outputs}, {"bytes", conv_bytes}, {"release", conv_release}, {NULL, NULL}};
    if (luaL_newmetatable(L, LT_CONV_MT)) {
        luaL_newlib(L, conv_methods);
        lua_setfield(L, -2, "__index");
        lua_pushcfunction(L, conv_release);
        lua_setfield(L, -2, "__gc");
        lua_pushcfunction(L, conv_release);
        lua_setfield(L, -2, "__close");
        lua_pushcfunction(L, conv_tostring);
        lua_setfield(L, -2, "__tostring");
    }
    lua_pop(L, 1);
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
        {"predict_matrix", l_predict_matrix}, {"feature_names", l_feature_names}, {"feature_count", l_feature_count},
        {"feature_halo", l_feature_halo}, {"features_slab", l_features_slab}, {"features_stack", l_features_stack},
        {"features_at", l_features_at}, {"conv_load", l_conv_load}, {"conv_parse", l_conv_parse}, {"load", l_load},
        {"save", l_save}, {"info", l_info}, {"equal", l_equal}, {"otsu", l_otsu},
        {"remove_islands", l_remove_islands}, {"majority", l_majority}, {"confusion", l_confusion},
        {NULL, NULL}};
    lt_register(L, "segment", fns);
}
