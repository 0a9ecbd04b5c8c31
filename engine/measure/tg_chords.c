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
