/* tg_thickness.c — local thickness (see tg_thickness.h for the manual) and volume-weighted quantiles.
 *
 * Work is done in normalised units (spacing / smallest spacing), where squared distances of isotropic volumes
 * are exact integers, so the strict test |x - c|^2 < R(c)^2 never mistakes a voxel at exactly R(c).
 */
#include "tg_thickness.h"
#include "tg_edt.h"

#include <math.h>
#include <string.h>

typedef struct centre {
    int32_t x, y, z;
    double r2; /* squared radius, normalised units */
} centre;

typedef struct nb_offsets {
    int n;
    int dx[26], dy[26], dz[26];
    double d[26], d2[26]; /* length and squared length, normalised units */
} nb_offsets;

static void make_offsets(const double sp[3], nb_offsets *o)
{
    o->n = 0;
    for (int dz = -1; dz <= 1; dz++)
        for (int dy = -1; dy <= 1; dy++)
            for (int dx = -1; dx <= 1; dx++) {
                if (!dx && !dy && !dz) continue;
                double d2 = dx * dx * sp[0] * sp[0] + dy * dy * sp[1] * sp[1] + dz * dz * sp[2] * sp[2];
                o->dx[o->n] = dx; o->dy[o->n] = dy; o->dz[o->n] = dz;
                o->d2[o->n] = d2; o->d[o->n] = sqrt(d2);
                o->n++;
            }
}

/* Is the ball of (x, y, z) not contained in a neighbour's ball? */
static int is_ridge(const double *e2, const int64_t dims[3], const nb_offsets *o, int64_t x, int64_t y, int64_t z)
{
    int64_t nx = dims[0], ny = dims[1], i = x + nx * (y + ny * z);
    double r2 = e2[i], r = sqrt(r2);
    for (int k = 0; k < o->n; k++) {
        int64_t X = x + o->dx[k], Y = y + o->dy[k], Z = z + o->dz[k];
        if (X < 0 || Y < 0 || Z < 0 || X >= nx || Y >= ny || Z >= dims[2]) continue;
        /* R' >= R + d  <=>  R'^2 >= R^2 + 2 R d + d^2 (all non-negative) */
        if (e2[X + nx * (Y + ny * Z)] >= r2 + 2.0 * r * o->d[k] + o->d2[k]) return 0;
    }
    return 1;
}

static int64_t plane_ridge(const double *e2, const int64_t dims[3], const nb_offsets *o, int64_t z, centre *out)
{
    int64_t n = 0, nx = dims[0], ny = dims[1];
    for (int64_t y = 0; y < ny; y++)
        for (int64_t x = 0; x < nx; x++) {
            double r2 = e2[x + nx * (y + ny * z)];
            if (r2 <= 0.0 || !is_ridge(e2, dims, o, x, y, z)) continue;
            if (out) out[n] = (centre){(int32_t)x, (int32_t)y, (int32_t)z, r2};
            n++;
        }
    return n;
}

/* Largest integer k >= 0 with (k s)^2 < rem, or -1 when rem <= 0. */
static inline int64_t half_width(double rem, double s)
{
    if (rem <= 0.0) return -1;
    int64_t k = (int64_t)floor(sqrt(rem) / s);
    while (k >= 0 && (double)k * s * (double)k * s >= rem) k--;
    while ((double)(k + 1) * s * (double)(k + 1) * s < rem) k++;
    return k;
}

/* Paint the part of ball c that lies in planes [z0, z1) with max(r2) over mask voxels (e2 > 0). */
static void paint(const centre *c, const double sp[3], const int64_t dims[3], int64_t z0, int64_t z1,
                  const double *e2, float *o)
{
    int64_t nx = dims[0], ny = dims[1];
    int64_t hz = half_width(c->r2, sp[2]);
    int64_t za = c->z - hz > z0 ? c->z - hz : z0, zb = c->z + hz + 1 < z1 ? c->z + hz + 1 : z1;
    float r2f = (float)c->r2;
    for (int64_t z = za; z < zb; z++) {
        double dz = (double)(z - c->z) * sp[2], remz = c->r2 - dz * dz;
        int64_t hy = half_width(remz, sp[1]);
        int64_t ya = c->y - hy > 0 ? c->y - hy : 0, yb = c->y + hy + 1 < ny ? c->y + hy + 1 : ny;
        for (int64_t y = ya; y < yb; y++) {
            double dy = (double)(y - c->y) * sp[1];
            int64_t hx = half_width(remz - dy * dy, sp[0]);
            if (hx < 0) continue;
            int64_t xa = c->x - hx > 0 ? c->x - hx : 0, xb = c->x + hx + 1 < nx ? c->x + hx + 1 : nx;
            int64_t row = nx * (y + ny * z);
            for (int64_t x = xa; x < xb; x++)
                if (e2[row + x] > 0.0 && o[row + x] < r2f) o[row + x] = r2f;
        }
    }
}

tg_status tg_thickness(tg_ctx *ctx, const tg_volume *mask, tg_volume *out)
{
    tg_volume e2v;
    int64_t *first = NULL;
    centre *cs = NULL;
    tg_status st;
    tg_volume_init(&e2v);
    tg_volume_init(out);
    if (!mask || !mask->buf) return tg_fail(ctx, TG_ERR_ARG, "thickness: the mask is empty (released)");
    double smin = mask->spacing[0], sp[3];
    for (int i = 1; i < 3; i++)
        if (mask->spacing[i] < smin) smin = mask->spacing[i];
    if (!(smin > 0.0)) return tg_fail(ctx, TG_ERR_ARG, "thickness: spacing must be positive");
    for (int i = 0; i < 3; i++) sp[i] = mask->spacing[i] / smin;
    if ((st = tg_edt_squared(ctx, mask, sp, TG_F64, &e2v)) != TG_OK) goto done;
    const double *e2 = e2v.buf->data;
    const int64_t *dims = mask->dims;
    nb_offsets nbo;
    make_offsets(sp, &nbo);
    first = tg_malloc((size_t)(dims[2] + 1) * sizeof *first);
    if (!first) { st = tg_fail(ctx, TG_ERR_NOMEM, "thickness: out of memory"); goto done; }
    first[0] = 0;
#pragma omp parallel for schedule(static) num_threads(ctx->nthreads)
    for (int64_t z = 0; z < dims[2]; z++) first[z + 1] = plane_ridge(e2, dims, &nbo, z, NULL);
    for (int64_t z = 0; z < dims[2]; z++) first[z + 1] += first[z];
    int64_t nc = first[dims[2]];
    cs = tg_malloc((size_t)(nc > 0 ? nc : 1) * sizeof *cs);
    if (!cs) { st = tg_fail(ctx, TG_ERR_NOMEM, "thickness: out of memory for %lld ridge centres", (long long)nc); goto done; }
#pragma omp parallel for schedule(static) num_threads(ctx->nthreads)
    for (int64_t z = 0; z < dims[2]; z++) plane_ridge(e2, dims, &nbo, z, cs + first[z]);
    if (tg_progress(ctx, 0.5, "thickness")) { st = tg_fail(ctx, TG_ERR_CANCELLED, "thickness: interrupted"); goto done; }
    if ((st = tg_volume_alloc(ctx, dims, TG_F32, mask->spacing, out)) != TG_OK) goto done;
    float *o = out->buf->data;
    int64_t nslab = dims[2] < 4 * (int64_t)ctx->nthreads ? dims[2] : 4 * (int64_t)ctx->nthreads;
#pragma omp parallel for schedule(dynamic, 1) num_threads(ctx->nthreads)
    for (int64_t k = 0; k < nslab; k++) {
        int64_t z0 = dims[2] * k / nslab, z1 = dims[2] * (k + 1) / nslab;
        for (int64_t i = 0; i < nc; i++) {
            double reach = sqrt(cs[i].r2) / sp[2] + 1.0;
            if ((double)cs[i].z + reach < (double)z0 || (double)cs[i].z - reach >= (double)z1) continue;
            paint(&cs[i], sp, dims, z0, z1, e2, o);
        }
    }
    if (tg_cancelled(ctx)) { st = tg_fail(ctx, TG_ERR_CANCELLED, "thickness: interrupted"); goto done; }
    int64_t count = tg_volume_count(out);
#pragma omp parallel for schedule(static) num_threads(ctx->nthreads)
    for (int64_t i = 0; i < count; i++) o[i] = o[i] > 0.0f ? (float)(2.0 * sqrt((double)o[i]) * smin) : 0.0f;
    tg_progress_done(ctx, "thickness");
done:
    tg_free(first);
    tg_free(cs);
    tg_volume_release(&e2v);
    if (st != TG_OK) tg_volume_release(out);
    return st;
}

static void swapf(double *a, double *b) { double t = *a; *a = *b; *b = t; }

/* k-th smallest of a[0..n) (0-based), rearranging a (Hoare selection with median-of-three pivots). */
static double select_kth(double *a, int64_t n, int64_t k)
{
    int64_t lo = 0, hi = n - 1;
    while (hi > lo) {
        int64_t mid = lo + (hi - lo) / 2;
        if (a[mid] < a[lo]) swapf(&a[mid], &a[lo]);
        if (a[hi] < a[lo]) swapf(&a[hi], &a[lo]);
        if (a[hi] < a[mid]) swapf(&a[hi], &a[mid]);
        double pivot = a[mid];
        int64_t i = lo, j = hi;
        while (i <= j) {
            while (a[i] < pivot) i++;
            while (a[j] > pivot) j--;
            if (i <= j) { swapf(&a[i], &a[j]); i++; j--; }
        }
        if (k <= j) hi = j;
        else if (k >= i) lo = i;
        else return a[k];
    }
    return a[k];
}

tg_status tg_positive_quantiles(tg_ctx *ctx, const tg_volume *v, int nq, const double *q, double *out)
{
    if (!v || !v->buf || (v->dtype != TG_F32 && v->dtype != TG_F64))
        return tg_fail(ctx, TG_ERR_ARG, "quantiles: expected an f32 or f64 volume");
    for (int i = 0; i < nq; i++)
        if (!(q[i] >= 0.0 && q[i] <= 1.0)) return tg_fail(ctx, TG_ERR_ARG, "quantiles: q must lie in [0, 1], got %g", q[i]);
    int64_t n = 0, total = tg_volume_count(v);
    double *a = tg_malloc((size_t)(total > 0 ? total : 1) * sizeof *a);
    if (!a) return tg_fail(ctx, TG_ERR_NOMEM, "quantiles: out of memory for %lld values", (long long)total);
    for (int64_t z = 0; z < v->dims[2]; z++)
        for (int64_t y = 0; y < v->dims[1]; y++)
            for (int64_t x = 0; x < v->dims[0]; x++) {
                double val = tg_volume_get(v, x, y, z);
                if (val > 0.0) a[n++] = val;
            }
    for (int i = 0; i < nq; i++) {
        if (n == 0) { out[i] = 0.0; continue; }
        int64_t k = (int64_t)ceil(q[i] * (double)n) - 1;
        if (k < 0) k = 0;
        if (k >= n) k = n - 1;
        out[i] = select_kth(a, n, k);
    }
    tg_free(a);
    return TG_OK;
}
