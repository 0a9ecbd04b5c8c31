/* tg_chords.c — chord lists (see tg_chords.h for the manual and the PoreSpy conventions). */
#include "tg_chords.h"

#include <string.h>

typedef struct line_geom {
    int a, b, c;           /* chord axis, inner and outer perpendicular axes */
    int64_t step, nb, nc;  /* line step and number of sampled lines on b and c */
    int64_t lastb, lastc;  /* index of the last sampled line on b and c (in sampled units) */
} line_geom;

static inline int64_t label_at(const char *p, tg_dtype t)
{
    switch (t) {
    case TG_U8: return *(const uint8_t *)p;
    case TG_U16: return *(const uint16_t *)p;
    default: return *(const int32_t *)p;
    }
}

/* Count (out == NULL) or store the kept chords of line li; returns their number. */
static int64_t scan_line(const tg_volume *v, const line_geom *g, const tg_chords_opts *o, int64_t li, int32_t *out)
{
    int64_t ib = li % g->nb, ic = li / g->nb;
    if (o->trim == TG_TRIM_FACES && (ib == 0 || ib == g->lastb || ic == 0 || ic == g->lastc)) return 0;
    int64_t pos[3];
    pos[g->a] = 0;
    pos[g->b] = ib * g->step;
    pos[g->c] = ic * g->step;
    const char *p = tg_volume_ptr(v, pos[0], pos[1], pos[2]);
    int64_t n = v->dims[g->a], stride = v->strides[g->a] * (int64_t)tg_dtype_size(v->dtype), count = 0, i = 0;
    while (i < n) {
        while (i < n && label_at(p + i * stride, v->dtype) != o->phase) i++;
        if (i == n) break;
        int64_t start = i;
        while (i < n && label_at(p + i * stride, v->dtype) == o->phase) i++;
        if (o->trim != TG_TRIM_NONE && (start == 0 || i == n)) continue;
        if (out) out[count] = (int32_t)(i - start);
        count++;
    }
    return count;
}

tg_status tg_chords(tg_ctx *ctx, const tg_volume *labels, const tg_chords_opts *opt, tg_chords_result *out)
{
    tg_chords_opts o = TG_CHORDS_OPTS_INIT;
    int64_t *first = NULL;
    tg_status st = TG_OK;
    if (opt) o = *opt;
    memset(out, 0, sizeof *out);
    if (!labels || !labels->buf) return tg_fail(ctx, TG_ERR_ARG, "chords: the label volume is empty (released)");
    if (!tg_dtype_is_int(labels->dtype))
        return tg_fail(ctx, TG_ERR_ARG, "chords: labels must be an integer volume (u8, u16, i32), got %s", tg_dtype_name(labels->dtype));
    if (o.axis < 0 || o.axis > 2) return tg_fail(ctx, TG_ERR_ARG, "chords: axis must be 0 (x), 1 (y) or 2 (z), got %d", o.axis);
    if (o.spacing < 0) return tg_fail(ctx, TG_ERR_ARG, "chords: spacing must be >= 0 voxels, got %d", o.spacing);
    if (o.trim != TG_TRIM_NONE && o.trim != TG_TRIM_FACES && o.trim != TG_TRIM_ENDS)
        return tg_fail(ctx, TG_ERR_ARG, "chords: unknown trim mode %d", (int)o.trim);
    if (labels->dims[o.axis] > INT32_MAX) return tg_fail(ctx, TG_ERR_UNSUPPORTED, "chords: axis longer than 2^31 voxels");
    line_geom g;
    g.a = o.axis;
    g.b = o.axis == 0 ? 1 : 0;
    g.c = o.axis == 2 ? 1 : 2;
    g.step = (int64_t)o.spacing + 1;
    g.nb = (labels->dims[g.b] - 1) / g.step + 1;
    g.nc = (labels->dims[g.c] - 1) / g.step + 1;
    g.lastb = g.nb - 1;
    g.lastc = g.nc - 1;
    int64_t nl = g.nb * g.nc;
    first = tg_malloc((size_t)(nl + 1) * sizeof *first);
    if (!first) return tg_fail(ctx, TG_ERR_NOMEM, "chords: out of memory for %lld lines", (long long)nl);
    first[0] = 0;
#pragma omp parallel for schedule(static) num_threads(ctx->nthreads)
    for (int64_t li = 0; li < nl; li++) first[li + 1] = scan_line(labels, &g, &o, li, NULL);
    for (int64_t li = 0; li < nl; li++) first[li + 1] += first[li];
    out->n = first[nl];
    out->nlines = nl;
    if (out->n > 0) {
        out->lengths = tg_malloc((size_t)out->n * sizeof *out->lengths);
        if (!out->lengths) { st = tg_fail(ctx, TG_ERR_NOMEM, "chords: out of memory for %lld chords", (long long)out->n); goto done; }
#pragma omp parallel for schedule(static) num_threads(ctx->nthreads)
        for (int64_t li = 0; li < nl; li++) scan_line(labels, &g, &o, li, out->lengths + first[li]);
        for (int64_t i = 0; i < out->n; i++)
            if (out->lengths[i] > out->max_length) out->max_length = out->lengths[i];
    }
    if (tg_cancelled(ctx)) st = tg_fail(ctx, TG_ERR_CANCELLED, "chords: interrupted");
done:
    tg_free(first);
    if (st != TG_OK) tg_chords_result_free(out);
    return st;
}

void tg_chords_result_free(tg_chords_result *r)
{
    if (!r) return;
    tg_free(r->lengths);
    memset(r, 0, sizeof *r);
}

void tg_chords_histogram(const tg_chords_result *r, int64_t *hist)
{
    for (int64_t l = 0; l <= r->max_length; l++) hist[l] = 0;
    for (int64_t i = 0; i < r->n; i++) hist[r->lengths[i]]++;
}

/* ---- streamed: chord counts by length from consecutive slabs (see the header) ---- */

#ifdef _OPENMP
#include <omp.h>
#endif

struct tg_chords_acc {
    tg_chords_opts o;
    int64_t dims[3];
    line_geom g;
    int nt;
    int64_t len;       /* voxels along the axis: the longest chord */
    int64_t *hist;     /* nt x (len + 1) */
    int64_t *start;    /* axis z: the slice where each line's open run started, -1 when none */
    int64_t next_z;
};

static int thread_num(void)
{
#ifdef _OPENMP
    return omp_get_thread_num();
#else
    return 0;
#endif
}

static line_geom geom_of(const int64_t dims[3], const tg_chords_opts *o)
{
    line_geom g;
    g.a = o->axis;
    g.b = o->axis == 0 ? 1 : 0;
    g.c = o->axis == 2 ? 1 : 2;
    g.step = (int64_t)o->spacing + 1;
    g.nb = (dims[g.b] - 1) / g.step + 1;
    g.nc = (dims[g.c] - 1) / g.step + 1;
    g.lastb = g.nb - 1;
    g.lastc = g.nc - 1;
    return g;
}

void tg_chords_stream_cost(const tg_chords_opts *opt, const int64_t dims[3], int nthreads, tg_cost *cost)
{
    tg_chords_opts o = TG_CHORDS_OPTS_INIT;
    if (opt) o = *opt;
    int nt = nthreads < 1 ? 1 : nthreads;
    line_geom g = geom_of(dims, &o);
    cost->per_voxel = 0.0;
    cost->fixed = (int64_t)nt * (dims[o.axis] + 1) * 8 + (o.axis == 2 ? g.nb * g.nc * 8 : 0) + (int64_t)sizeof(tg_chords_acc);
    cost->halo = 0;
}

tg_status tg_chords_acc_new(tg_ctx *ctx, const int64_t dims[3], const tg_chords_opts *opt, tg_chords_acc **out)
{
    *out = NULL;
    tg_chords_opts o = TG_CHORDS_OPTS_INIT;
    if (opt) o = *opt;
    if (o.axis < 0 || o.axis > 2) return tg_fail(ctx, TG_ERR_ARG, "chords: axis must be 0 (x), 1 (y) or 2 (z), got %d", o.axis);
    if (o.spacing < 0) return tg_fail(ctx, TG_ERR_ARG, "chords: spacing must be >= 0 voxels, got %d", o.spacing);
    if (o.trim != TG_TRIM_NONE && o.trim != TG_TRIM_FACES && o.trim != TG_TRIM_ENDS)
        return tg_fail(ctx, TG_ERR_ARG, "chords: unknown trim mode %d", (int)o.trim);
    if (dims[0] < 1 || dims[1] < 1 || dims[2] < 1) return tg_fail(ctx, TG_ERR_ARG, "chords: empty volume");
    if (dims[o.axis] > INT32_MAX) return tg_fail(ctx, TG_ERR_UNSUPPORTED, "chords: axis longer than 2^31 voxels");
    tg_chords_acc *a = tg_calloc(1, sizeof *a);
    if (!a) return tg_fail(ctx, TG_ERR_NOMEM, "chords: out of memory");
    a->o = o;
    memcpy(a->dims, dims, sizeof a->dims);
    a->g = geom_of(dims, &o);
    a->nt = ctx->nthreads < 1 ? 1 : ctx->nthreads;
    a->len = dims[o.axis];
    a->hist = tg_calloc((size_t)(a->nt * (a->len + 1)), sizeof *a->hist);
    if (o.axis == 2) {
        a->start = tg_malloc((size_t)(a->g.nb * a->g.nc) * sizeof *a->start);
        if (a->start)
            for (int64_t i = 0; i < a->g.nb * a->g.nc; i++) a->start[i] = -1;
    }
    if (!a->hist || (o.axis == 2 && !a->start)) {
        tg_chords_acc_free(a);
        return tg_fail(ctx, TG_ERR_NOMEM, "chords: out of memory for the chord counts");
    }
    *out = a;
    return TG_OK;
}

void tg_chords_acc_free(tg_chords_acc *a)
{
    if (!a) return;
    tg_free(a->hist);
    tg_free(a->start);
    tg_free(a);
}

/* Count the kept chords of one line of n voxels (a line along x or y, wholly inside a slab) into hist. */
static void count_line(const char *p, int64_t n, int64_t stride, tg_dtype t, const tg_chords_opts *o, int64_t *hist)
{
    int64_t i = 0;
    while (i < n) {
        while (i < n && label_at(p + i * stride, t) != o->phase) i++;
        if (i == n) break;
        int64_t start = i;
        while (i < n && label_at(p + i * stride, t) == o->phase) i++;
        if (o->trim != TG_TRIM_NONE && (start == 0 || i == n)) continue;
        hist[i - start]++;
    }
}

/* Lines along x or y lie in planes z: those of the slab are scanned whole. */
static void add_in_plane(tg_ctx *ctx, tg_chords_acc *a, const tg_volume *slab, int64_t z0)
{
    const line_geom *g = &a->g;
    int64_t nz = slab->dims[2], ic0 = (z0 + g->step - 1) / g->step, ic1 = (z0 + nz - 1) / g->step + 1;
    int64_t n = slab->dims[g->a], stride = slab->strides[g->a] * (int64_t)tg_dtype_size(slab->dtype);
    int64_t lines = (ic1 - ic0) * g->nb;
#pragma omp parallel for schedule(static) num_threads(ctx->nthreads)
    for (int64_t k = 0; k < lines; k++) {
        int64_t ib = k % g->nb, ic = ic0 + k / g->nb;
        if (a->o.trim == TG_TRIM_FACES && (ib == 0 || ib == g->lastb || ic == 0 || ic == g->lastc)) continue;
        int64_t pos[3];
        pos[g->a] = 0;
        pos[g->b] = ib * g->step;
        pos[2] = ic * g->step - z0;
        count_line(tg_volume_ptr(slab, pos[0], pos[1], pos[2]), n, stride, slab->dtype, &a->o,
                   a->hist + (int64_t)thread_num() * (a->len + 1));
    }
}

/* Lines along z cross the slabs: each carries the start of its open run from slab to slab. */
static void add_along_z(tg_ctx *ctx, tg_chords_acc *a, const tg_volume *slab, int64_t z0)
{
    const line_geom *g = &a->g;
    const tg_chords_opts *o = &a->o;
    int64_t nz = slab->dims[2], sx = slab->strides[0];
    size_t es = tg_dtype_size(slab->dtype);
#pragma omp parallel for schedule(static) num_threads(ctx->nthreads)
    for (int64_t ic = 0; ic < g->nc; ic++) {
        if (o->trim == TG_TRIM_FACES && (ic == 0 || ic == g->lastc)) continue;
        int64_t *hist = a->hist + (int64_t)thread_num() * (a->len + 1), *start = a->start + ic * g->nb;
        for (int64_t z = 0; z < nz; z++) {
            const char *row = tg_volume_ptr(slab, 0, ic * g->step, z);
            int64_t zg = z0 + z;
            for (int64_t ib = 0; ib < g->nb; ib++) {
                if (o->trim == TG_TRIM_FACES && (ib == 0 || ib == g->lastb)) continue;
                int in = label_at(row + (size_t)(ib * g->step * sx) * es, slab->dtype) == o->phase;
                if (in) {
                    if (start[ib] < 0) start[ib] = zg;
                } else if (start[ib] >= 0) {
                    if (o->trim == TG_TRIM_NONE || start[ib] != 0) hist[zg - start[ib]]++;
                    start[ib] = -1;
                }
            }
        }
    }
}

tg_status tg_chords_acc_add(tg_ctx *ctx, tg_chords_acc *a, const tg_volume *slab, int64_t z0)
{
    if (!slab || !slab->buf) return tg_fail(ctx, TG_ERR_ARG, "chords: the slab is empty (released)");
    if (!tg_dtype_is_int(slab->dtype))
        return tg_fail(ctx, TG_ERR_ARG, "chords: labels must be an integer volume (u8, u16, i32), got %s", tg_dtype_name(slab->dtype));
    if (slab->dims[0] != a->dims[0] || slab->dims[1] != a->dims[1] || z0 != a->next_z || z0 + slab->dims[2] > a->dims[2])
        return tg_fail(ctx, TG_ERR_ARG, "chords: a slab of %lldx%lldx%lld at z = %lld does not continue the stack (next slice %lld)",
                       (long long)slab->dims[0], (long long)slab->dims[1], (long long)slab->dims[2], (long long)z0,
                       (long long)a->next_z);
    if (ctx->nthreads > a->nt)
        return tg_fail(ctx, TG_ERR_ARG, "chords: %d threads, but the accumulator was made for %d", ctx->nthreads, a->nt);
    if (a->o.axis == 2) add_along_z(ctx, a, slab, z0);
    else add_in_plane(ctx, a, slab, z0);
    a->next_z = z0 + slab->dims[2];
    if (tg_cancelled(ctx)) return tg_fail(ctx, TG_ERR_CANCELLED, "chords: interrupted");
    return TG_OK;
}

tg_status tg_chords_acc_finish(tg_ctx *ctx, tg_chords_acc *a, tg_chords_counts *out)
{
    memset(out, 0, sizeof *out);
    if (a->next_z != a->dims[2])
        return tg_fail(ctx, TG_ERR_ARG, "chords: the slabs end at slice %lld of %lld", (long long)a->next_z, (long long)a->dims[2]);
    if (a->o.axis == 2 && a->o.trim == TG_TRIM_NONE) /* runs still open reach the last slice: kept only untrimmed */
        for (int64_t i = 0; i < a->g.nb * a->g.nc; i++)
            if (a->start[i] >= 0) a->hist[a->dims[2] - a->start[i]]++;
    out->nlines = a->g.nb * a->g.nc;
    for (int t = 1; t < a->nt; t++)
        for (int64_t l = 0; l <= a->len; l++) a->hist[l] += a->hist[t * (a->len + 1) + l];
    for (int64_t l = 1; l <= a->len; l++)
        if (a->hist[l]) {
            out->n += a->hist[l];
            out->max_length = l;
        }
    out->hist = tg_calloc((size_t)out->max_length + 1, sizeof *out->hist);
    if (!out->hist) return tg_fail(ctx, TG_ERR_NOMEM, "chords: out of memory");
    memcpy(out->hist, a->hist, (size_t)(out->max_length + 1) * sizeof *out->hist);
    return TG_OK;
}

void tg_chords_counts_free(tg_chords_counts *c)
{
    if (!c) return;
    tg_free(c->hist);
    memset(c, 0, sizeof *c);
}
