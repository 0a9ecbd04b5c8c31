/* tg_edt.c — exact Euclidean distance transform (see tg_edt.h for the manual).
 *
 * Pass 1 runs along x on the mask directly; passes 2 (y) and 3 (z) gather blocks of TG_EDT_BLOCK adjacent
 * columns into a line buffer, so a strided line costs one cache line per TG_EDT_BLOCK lines, run the
 * Felzenszwalb-Huttenlocher lower envelope on each, and scatter back. The square root is taken in the last
 * scatter. Infinite values (no zero voxel on any line seen so far) are skipped when building the envelope.
 */
#include "tg_edt.h"

#include <math.h>
#include <string.h>
#ifdef _OPENMP
#include <omp.h>
#endif

#define TG_EDT_BLOCK 8

typedef struct line_work {
    double *buf; /* TG_EDT_BLOCK * n gathered values */
    double *d;   /* n results */
    int64_t *v;  /* n parabola apexes */
    double *zb;  /* n + 1 boundaries */
} line_work;

static inline int mask_at(const tg_volume *m, int64_t x, int64_t y, int64_t z)
{
    const void *p = tg_volume_ptr(m, x, y, z);
    switch (m->dtype) {
    case TG_U8: return *(const uint8_t *)p != 0;
    case TG_U16: return *(const uint16_t *)p != 0;
    default: return *(const int32_t *)p != 0;
    }
}

/* Lower envelope of the parabolas w (q - p)^2 + f[p] over the finite f[p]; d[q] = its value at q. */
static void envelope(const double *f, int64_t n, double w, double *d, int64_t *v, double *zb)
{
    int64_t k = -1;
    for (int64_t q = 0; q < n; q++) {
        if (isinf(f[q])) continue;
        double fq = f[q] + w * (double)q * (double)q, s = 0.0;
        while (k >= 0) {
            int64_t p = v[k];
            s = (fq - (f[p] + w * (double)p * (double)p)) / (2.0 * w * (double)(q - p));
            if (s > zb[k]) break;
            k--;
        }
        k++;
        v[k] = q;
        zb[k] = k == 0 ? -INFINITY : s;
        zb[k + 1] = INFINITY;
    }
    if (k < 0) {
        for (int64_t q = 0; q < n; q++) d[q] = INFINITY;
        return;
    }
    k = 0;
    for (int64_t q = 0; q < n; q++) {
        while (zb[k + 1] < (double)q) k++;
        double dq = (double)(q - v[k]);
        d[q] = w * dq * dq + f[v[k]];
    }
}

static inline double load_out(const void *base, tg_dtype t, int64_t i)
{
    return t == TG_F64 ? ((const double *)base)[i] : (double)((const float *)base)[i];
}

static inline void store_out(void *base, tg_dtype t, int64_t i, double v)
{
    if (t == TG_F64) ((double *)base)[i] = v;
    else ((float *)base)[i] = (float)v;
}

/* Pass 1: squared distance to the nearest zero in each row (x). Returns the number of zero voxels. */
static int64_t pass_x(tg_ctx *ctx, const tg_volume *m, double sx, tg_volume *out)
{
    int64_t nx = m->dims[0], ny = m->dims[1], nz = m->dims[2], zeros = 0;
    void *o = out->buf->data;
    tg_dtype t = out->dtype;
#pragma omp parallel for schedule(static) reduction(+ : zeros) num_threads(ctx->nthreads)
    for (int64_t r = 0; r < ny * nz; r++) {
        int64_t y = r % ny, z = r / ny, base = r * nx, last = -1;
        for (int64_t x = 0; x < nx; x++) { /* forward: distance to the zero on the left */
            if (!mask_at(m, x, y, z)) { last = x; zeros++; }
            store_out(o, t, base + x, last < 0 ? INFINITY : (double)(x - last));
        }
        last = -1;
        for (int64_t x = nx - 1; x >= 0; x--) { /* backward, then square */
            double d = load_out(o, t, base + x);
            if (d == 0.0) last = x;
            if (last >= 0 && (double)(last - x) < d) d = (double)(last - x);
            store_out(o, t, base + x, isinf(d) ? INFINITY : (d * sx) * (d * sx));
        }
    }
    return zeros;
}

/* Passes 2 and 3: the envelope along axis (1 = y, 2 = z) for every line, in blocks of adjacent x. */
static void pass_yz(tg_ctx *ctx, tg_volume *out, int axis, double s, int take_root, line_work *work)
{
    int64_t nx = out->dims[0], ny = out->dims[1], nz = out->dims[2];
    int64_t n = axis == 1 ? ny : nz, nouter = axis == 1 ? nz : ny;
    int64_t stride = axis == 1 ? nx : nx * ny;
    void *o = out->buf->data;
    tg_dtype t = out->dtype;
    double w = s * s;
#pragma omp parallel for schedule(static) num_threads(ctx->nthreads)
    for (int64_t u = 0; u < nouter; u++) {
        int tid = tg_thread_num();
        line_work *lw = &work[tid];
        int64_t plane = axis == 1 ? u * nx * ny : u * nx;
        for (int64_t x0 = 0; x0 < nx; x0 += TG_EDT_BLOCK) {
            int64_t nb = nx - x0 < TG_EDT_BLOCK ? nx - x0 : TG_EDT_BLOCK;
            for (int64_t q = 0; q < n; q++)
                for (int64_t k = 0; k < nb; k++) lw->buf[k * n + q] = load_out(o, t, plane + q * stride + x0 + k);
            for (int64_t k = 0; k < nb; k++) {
                envelope(lw->buf + k * n, n, w, lw->d, lw->v, lw->zb);
                memcpy(lw->buf + k * n, lw->d, (size_t)n * sizeof *lw->d);
            }
            for (int64_t q = 0; q < n; q++)
                for (int64_t k = 0; k < nb; k++) {
                    double d = lw->buf[k * n + q];
                    store_out(o, t, plane + q * stride + x0 + k, take_root ? sqrt(d) : d);
                }
        }
        if (tid == 0) tg_progress(ctx, (axis == 1 ? 0.33 : 0.66) + 0.33 * (double)u / (double)nouter, "distance");
    }
}

static tg_status edt_run(tg_ctx *ctx, const tg_volume *mask, const double sp[3], tg_dtype dtype, int squared,
                         tg_volume *out)
{
    tg_status st = TG_OK;
    int nt = ctx->nthreads < 1 ? 1 : ctx->nthreads;
    line_work *work = NULL;
    tg_volume_init(out);
    if (!mask || !mask->buf) return tg_fail(ctx, TG_ERR_ARG, "distance: the mask is empty (released)");
    if (!tg_dtype_is_int(mask->dtype))
        return tg_fail(ctx, TG_ERR_ARG, "distance: the mask must be an integer volume (u8, u16, i32), got %s", tg_dtype_name(mask->dtype));
    if (dtype != TG_F64 && dtype != TG_F32)
        return tg_fail(ctx, TG_ERR_ARG, "distance: output dtype must be f32 or f64, got %s", tg_dtype_name(dtype));
    for (int i = 0; i < 3; i++)
        if (!(sp[i] > 0.0) || isinf(sp[i])) return tg_fail(ctx, TG_ERR_ARG, "distance: spacing %c must be positive, got %g", "xyz"[i], sp[i]);
    int64_t nmax = mask->dims[1] > mask->dims[2] ? mask->dims[1] : mask->dims[2];
    work = tg_calloc((size_t)nt, sizeof *work);
    if (!work) { st = tg_fail(ctx, TG_ERR_NOMEM, "distance: out of memory"); goto done; }
    for (int i = 0; i < nt; i++) {
        work[i].buf = tg_malloc((size_t)(TG_EDT_BLOCK * nmax) * sizeof(double));
        work[i].d = tg_malloc((size_t)nmax * sizeof(double));
        work[i].v = tg_malloc((size_t)nmax * sizeof(int64_t));
        work[i].zb = tg_malloc((size_t)(nmax + 1) * sizeof(double));
        if (!work[i].buf || !work[i].d || !work[i].v || !work[i].zb) { st = tg_fail(ctx, TG_ERR_NOMEM, "distance: out of memory for line buffers"); goto done; }
    }
    if ((st = tg_volume_alloc(ctx, mask->dims, dtype, mask->spacing, out)) != TG_OK) goto done;
    if (pass_x(ctx, mask, sp[0], out) == 0) {
        st = tg_fail(ctx, TG_ERR_ARG, "distance: the mask has no zero (background) voxel, so the distance to the background is undefined");
        goto done;
    }
    pass_yz(ctx, out, 1, sp[1], 0, work);
    if (tg_cancelled(ctx)) { st = tg_fail(ctx, TG_ERR_CANCELLED, "distance: interrupted"); goto done; }
    pass_yz(ctx, out, 2, sp[2], !squared, work);
    if (tg_cancelled(ctx)) { st = tg_fail(ctx, TG_ERR_CANCELLED, "distance: interrupted"); goto done; }
    tg_progress_done(ctx, "distance");
done:
    if (work)
        for (int i = 0; i < nt; i++) {
            tg_free(work[i].buf);
            tg_free(work[i].d);
            tg_free(work[i].v);
            tg_free(work[i].zb);
        }
    tg_free(work);
    if (st != TG_OK) tg_volume_release(out);
    return st;
}

tg_status tg_edt(tg_ctx *ctx, const tg_volume *mask, const tg_edt_opts *opt, tg_volume *out)
{
    tg_edt_opts o = TG_EDT_OPTS_INIT;
    if (opt) o = *opt;
    if (!mask || !mask->buf) { tg_volume_init(out); return tg_fail(ctx, TG_ERR_ARG, "distance: the mask is empty (released)"); }
    return edt_run(ctx, mask, mask->spacing, o.dtype, o.squared, out);
}

tg_status tg_edt_squared(tg_ctx *ctx, const tg_volume *mask, const double spacing[3], tg_dtype out_dtype, tg_volume *out)
{
    return edt_run(ctx, mask, spacing, out_dtype, 1, out);
}
