/* tg_volume.c — volumes: allocation, views, element access, copy, type conversion, statistics,
 * histograms, label counts, label maps, masks.
 *
 * Layout: see tg_volume.h (x fastest; strides in elements; a view is a header on a shared, refcounted buffer).
 * Conversions: floats to integer types round to nearest (half away from zero) and saturate to the type's
 * range; NaN becomes 0. Integer to float is exact except i32 -> f32 past 2^24.
 * Determinism: reductions (stats, histogram, counts) accumulate per z-slice in thread-private storage and
 * are combined in slice order, so results do not depend on the thread count.
 * Threading: OpenMP over z slices (static schedule). Progress and cancellation are checked per slice.
 * Non-finite values: stats and histograms count NaN, +Inf and -Inf apart and never mix them into min, max,
 * mean, std or bins; sums of values near ±DBL_MAX are taken on scaled values, so they cannot overflow.
 * Memory: a new volume is nx*ny*nz*sizeof(dtype) bytes; stats keep 4 doubles per slice; counts keep one
 * table per thread (256 or 65536 entries for u8/u16, n for i32).
 */
#include "tg_volume.h"

#include <math.h>
#include <string.h>
#ifdef _OPENMP
#include <omp.h>
#endif

static const size_t dtype_sizes[TG_NDTYPES] = {1, 2, 4, 4, 8};
static const char *const dtype_names[TG_NDTYPES] = {"u8", "u16", "i32", "f32", "f64"};

const char *tg_dtype_name(tg_dtype t) { return (unsigned)t < TG_NDTYPES ? dtype_names[t] : "?"; }
int tg_dtype_is_int(tg_dtype t) { return t == TG_U8 || t == TG_U16 || t == TG_I32; }

int tg_dtype_parse(const char *name, tg_dtype *out)
{
    for (int i = 0; i < TG_NDTYPES; i++)
        if (strcmp(name, dtype_names[i]) == 0) { *out = (tg_dtype)i; return 0; }
    return -1;
}

double tg_dtype_min(tg_dtype t)
{
    switch (t) {
    case TG_U8: case TG_U16: return 0.0;
    case TG_I32: return -2147483648.0;
    case TG_F32: return -3.4028234663852886e38;
    default: return -INFINITY;
    }
}

double tg_dtype_max(tg_dtype t)
{
    switch (t) {
    case TG_U8: return 255.0;
    case TG_U16: return 65535.0;
    case TG_I32: return 2147483647.0;
    case TG_F32: return 3.4028234663852886e38;
    default: return INFINITY;
    }
}

/* ---- element conversion ---- */

static inline double load(const void *p, tg_dtype t)
{
    switch (t) {
    case TG_U8: return *(const uint8_t *)p;
    case TG_U16: return *(const uint16_t *)p;
    case TG_I32: return *(const int32_t *)p;
    case TG_F32: return *(const float *)p;
    default: return *(const double *)p;
    }
}

static inline double to_int_range(double v, double lo, double hi)
{
    if (v != v) return 0.0;
    v = round(v);
    return v < lo ? lo : (v > hi ? hi : v);
}

static inline void store(void *p, tg_dtype t, double v)
{
    switch (t) {
    case TG_U8: *(uint8_t *)p = (uint8_t)to_int_range(v, 0.0, 255.0); break;
    case TG_U16: *(uint16_t *)p = (uint16_t)to_int_range(v, 0.0, 65535.0); break;
    case TG_I32: *(int32_t *)p = (int32_t)to_int_range(v, -2147483648.0, 2147483647.0); break;
    case TG_F32: *(float *)p = (float)v; break;
    default: *(double *)p = v; break;
    }
}

/* ---- lifetime ---- */

void tg_volume_init(tg_volume *v)
{
    memset(v, 0, sizeof *v);
    v->spacing[0] = v->spacing[1] = v->spacing[2] = 1.0;
}

static tg_status volume_alloc(tg_ctx *ctx, const int64_t dims[3], tg_dtype dtype, const double spacing[3], int zero, tg_volume *out)
{
    tg_volume_init(out);
    if ((unsigned)dtype >= TG_NDTYPES) return tg_fail(ctx, TG_ERR_ARG, "unknown dtype %d", (int)dtype);
    size_t n = 1;
    for (int i = 0; i < 3; i++) {
        if (dims[i] < 1) return tg_fail(ctx, TG_ERR_ARG, "volume dimension %c must be at least 1, got %lld", "xyz"[i], (long long)dims[i]);
        if ((uint64_t)dims[i] > SIZE_MAX / n) return tg_fail(ctx, TG_ERR_ARG, "volume of %lldx%lldx%lld voxels is too large",
                                                               (long long)dims[0], (long long)dims[1], (long long)dims[2]);
        n *= (size_t)dims[i];
    }
    size_t es = dtype_sizes[dtype];
    if (n > SIZE_MAX / es) return tg_fail(ctx, TG_ERR_ARG, "volume too large");
    tg_buffer *b = tg_malloc(sizeof *b);
    if (!b) return tg_fail(ctx, TG_ERR_NOMEM, "out of memory allocating a volume header");
    b->data = zero ? tg_calloc_large(n * es) : tg_malloc_large(n * es);
    if (!b->data) {
        tg_free(b);
        return tg_fail(ctx, TG_ERR_NOMEM, "out of memory allocating %lldx%lldx%lld %s (%.3g GiB)", (long long)dims[0],
                       (long long)dims[1], (long long)dims[2], dtype_names[dtype], (double)(n * es) / 1073741824.0);
    }
    atomic_init(&b->refs, 1);
    b->bytes = n * es;
    out->buf = b;
    out->dtype = dtype;
    for (int i = 0; i < 3; i++) {
        out->dims[i] = dims[i];
        out->spacing[i] = spacing ? spacing[i] : 1.0;
    }
    out->strides[0] = 1;
    out->strides[1] = dims[0];
    out->strides[2] = dims[0] * dims[1];
    return TG_OK;
}

tg_status tg_volume_alloc(tg_ctx *ctx, const int64_t dims[3], tg_dtype dtype, const double spacing[3], tg_volume *out)
{
    return volume_alloc(ctx, dims, dtype, spacing, 1, out);
}

tg_status tg_volume_alloc_uninit(tg_ctx *ctx, const int64_t dims[3], tg_dtype dtype, const double spacing[3], tg_volume *out)
{
    return volume_alloc(ctx, dims, dtype, spacing, 0, out);
}

void tg_volume_release(tg_volume *v)
{
    if (v->buf && atomic_fetch_sub(&v->buf->refs, 1) == 1) {
        tg_free(v->buf->data);
        tg_free(v->buf);
    }
    tg_volume_init(v);
}

void tg_volume_ref(const tg_volume *in, tg_volume *out)
{
    *out = *in;
    if (in->buf) atomic_fetch_add(&in->buf->refs, 1);
}

tg_status tg_volume_view(tg_ctx *ctx, const tg_volume *in, const int64_t lo[3], const int64_t hi[3], tg_volume *out)
{
    for (int i = 0; i < 3; i++)
        if (lo[i] < 0 || hi[i] > in->dims[i] || lo[i] >= hi[i])
            return tg_fail(ctx, TG_ERR_RANGE, "view range %c = [%lld, %lld) is outside [0, %lld) or empty", "xyz"[i],
                           (long long)lo[i], (long long)hi[i], (long long)in->dims[i]);
    tg_volume_ref(in, out);
    out->offset = in->offset + (size_t)(lo[0] * in->strides[0] + lo[1] * in->strides[1] + lo[2] * in->strides[2]) *
                                   dtype_sizes[in->dtype];
    for (int i = 0; i < 3; i++) out->dims[i] = hi[i] - lo[i];
    return TG_OK;
}

int64_t tg_volume_count(const tg_volume *v) { return v->dims[0] * v->dims[1] * v->dims[2]; }

int tg_volume_is_contiguous(const tg_volume *v)
{
    return v->strides[0] == 1 && v->strides[1] == v->dims[0] && v->strides[2] == v->dims[0] * v->dims[1];
}

double tg_volume_get(const tg_volume *v, int64_t x, int64_t y, int64_t z) { return load(tg_volume_ptr(v, x, y, z), v->dtype); }
void tg_volume_set(tg_volume *v, int64_t x, int64_t y, int64_t z, double val) { store(tg_volume_ptr(v, x, y, z), v->dtype, val); }

static tg_status check_input(tg_ctx *ctx, const tg_volume *in)
{
    if (!in || !in->buf) return tg_fail(ctx, TG_ERR_ARG, "the volume is empty (released)");
    return TG_OK;
}

/* outputs of the operations below are written completely */
static tg_status alloc_like(tg_ctx *ctx, const tg_volume *in, tg_dtype dtype, tg_volume *out)
{
    return tg_volume_alloc_uninit(ctx, in->dims, dtype, in->spacing, out);
}

/* Per-slice work runs in parallel; a cancelled run stops taking new slices. */
static tg_status finish(tg_ctx *ctx, const char *what)
{
    if (tg_cancelled(ctx)) return tg_fail(ctx, TG_ERR_CANCELLED, "%s: interrupted", what);
    tg_progress_done(ctx, what);
    return TG_OK;
}

/* ---- copy and conversion ---- */

static void convert_row(const tg_volume *in, int64_t y, int64_t z, tg_volume *out)
{
    const char *s = tg_volume_ptr(in, 0, y, z);
    char *d = tg_volume_ptr(out, 0, y, z);
    int64_t nx = in->dims[0];
    size_t ss = dtype_sizes[in->dtype] * (size_t)in->strides[0], ds = dtype_sizes[out->dtype] * (size_t)out->strides[0];
    if (in->dtype == out->dtype && in->strides[0] == 1 && out->strides[0] == 1) {
        memcpy(d, s, (size_t)nx * dtype_sizes[in->dtype]);
        return;
    }
    for (int64_t x = 0; x < nx; x++) store(d + (size_t)x * ds, out->dtype, load(s + (size_t)x * ss, in->dtype));
}

static tg_status convert(tg_ctx *ctx, const tg_volume *in, tg_volume *out, const char *what)
{
    int64_t nz = in->dims[2], ny = in->dims[1];
    int64_t done = 0;
#pragma omp parallel for schedule(static) num_threads(ctx->nthreads)
    for (int64_t z = 0; z < nz; z++) {
        if (tg_cancelled(ctx)) continue;
        for (int64_t y = 0; y < ny; y++) convert_row(in, y, z, out);
        int64_t d;
#pragma omp atomic capture
        d = ++done;
        tg_progress(ctx, (double)d / (double)nz, what);
    }
    return finish(ctx, what);
}

tg_status tg_volume_copy(tg_ctx *ctx, const tg_volume *in, tg_volume *out)
{
    return tg_volume_astype(ctx, in, in ? in->dtype : TG_U8, out);
}

tg_status tg_volume_astype(tg_ctx *ctx, const tg_volume *in, tg_dtype dtype, tg_volume *out)
{
    tg_status st = check_input(ctx, in);
    if (st) { tg_volume_init(out); return st; }
    if ((st = alloc_like(ctx, in, dtype, out))) return st;
    if ((st = convert(ctx, in, out, "convert"))) tg_volume_release(out);
    return st;
}

tg_status tg_volume_fill(tg_ctx *ctx, tg_volume *v, double val)
{
    tg_status st = check_input(ctx, v);
    if (st) return st;
    int64_t nz = v->dims[2], ny = v->dims[1], nx = v->dims[0];
#pragma omp parallel for schedule(static) num_threads(ctx->nthreads)
    for (int64_t z = 0; z < nz; z++)
        for (int64_t y = 0; y < ny; y++)
            for (int64_t x = 0; x < nx; x++) tg_volume_set(v, x, y, z, val);
    return TG_OK;
}

/* ---- statistics ---- */

typedef struct { double min, max, sum, sumsq; int64_t n, nan, posinf, neginf; } slice_acc;

/* Non-finite values are counted apart (NaN, +Inf, -Inf) and take no part in min, max, sum. */
static void acc_row(const tg_volume *in, int64_t y, int64_t z, slice_acc *a)
{
    const char *s = tg_volume_ptr(in, 0, y, z);
    size_t ss = dtype_sizes[in->dtype] * (size_t)in->strides[0];
    for (int64_t x = 0; x < in->dims[0]; x++) {
        double v = load(s + (size_t)x * ss, in->dtype);
        if (!isfinite(v)) {
            if (v != v) a->nan++;
            else if (v > 0) a->posinf++;
            else a->neginf++;
            continue;
        }
        if (v < a->min) a->min = v;
        if (v > a->max) a->max = v;
        a->sum += v;
        a->n++;
    }
}

/* Sum over the slices of the finite values times k (a power of two, so k = 1 changes nothing), or, with
 * mean given, of the squared deviations ((v - mean) k)^2. Per-slice partial sums added in slice order. */
static void scaled_sums(tg_ctx *ctx, const tg_volume *in, double k, double mean, int deviations, slice_acc *acc)
{
    int64_t nz = in->dims[2], ny = in->dims[1];
#pragma omp parallel for schedule(static) num_threads(ctx->nthreads)
    for (int64_t z = 0; z < nz; z++) {
        double sum = 0.0;
        if (!tg_cancelled(ctx))
            for (int64_t y = 0; y < ny; y++) {
                const char *s = tg_volume_ptr(in, 0, y, z);
                size_t es = dtype_sizes[in->dtype] * (size_t)in->strides[0];
                for (int64_t x = 0; x < in->dims[0]; x++) {
                    double v = load(s + (size_t)x * es, in->dtype);
                    if (!isfinite(v)) continue;
                    double d = deviations ? v * k - mean * k : v * k;
                    sum += deviations ? d * d : d;
                }
            }
        if (deviations) acc[z].sumsq = sum;
        else acc[z].sum = sum;
        tg_progress(ctx, 0.5 + 0.5 * (double)(z + 1) / (double)nz, "stats");
    }
}

/* The power of two that brings the largest magnitude near 1, so sums of values near DBL_MAX (and of their
 * squared deviations) cannot overflow; multiplying by it is exact, so ordinary data give the same bits. */
static double unit_scale(double lo, double hi)
{
    double m = fmax(fabs(lo), fabs(hi));
    int e = 0;
    if (m > 0) frexp(m, &e);
    if (e > 1000) e = 1000; /* ldexp(1, -e) must stay a normal number */
    if (e < -1000) e = -1000;
    return ldexp(1.0, -e);
}

tg_status tg_volume_stats(tg_ctx *ctx, const tg_volume *in, tg_stats *out)
{
    memset(out, 0, sizeof *out);
    tg_status st = check_input(ctx, in);
    if (st) return st;
    int64_t nz = in->dims[2], ny = in->dims[1];
    slice_acc *acc = tg_malloc((size_t)nz * sizeof *acc);
    if (!acc) return tg_fail(ctx, TG_ERR_NOMEM, "out of memory in stats");
    /* two passes (mean, then squared deviations) for an accurate standard deviation */
#pragma omp parallel for schedule(static) num_threads(ctx->nthreads)
    for (int64_t z = 0; z < nz; z++) {
        slice_acc a = {INFINITY, -INFINITY, 0.0, 0.0, 0, 0, 0, 0};
        if (!tg_cancelled(ctx))
            for (int64_t y = 0; y < ny; y++) acc_row(in, y, z, &a);
        acc[z] = a;
        tg_progress(ctx, 0.5 * (double)(z + 1) / (double)nz, "stats");
    }
    slice_acc t = {INFINITY, -INFINITY, 0.0, 0.0, 0, 0, 0, 0};
    for (int64_t z = 0; z < nz; z++) {
        if (acc[z].min < t.min) t.min = acc[z].min;
        if (acc[z].max > t.max) t.max = acc[z].max;
        t.sum += acc[z].sum;
        t.n += acc[z].n;
        t.nan += acc[z].nan;
        t.posinf += acc[z].posinf;
        t.neginf += acc[z].neginf;
    }
    double k = t.n ? unit_scale(t.min, t.max) : 1.0;
    double mean = t.n ? t.sum / (double)t.n : NAN;
    if (t.n && !isfinite(t.sum)) { /* finite values whose sum overflows (near ±DBL_MAX): add them scaled */
        scaled_sums(ctx, in, k, 0.0, 0, acc);
        double s = 0.0;
        for (int64_t z = 0; z < nz; z++) s += acc[z].sum;
        mean = s / (double)t.n / k; /* between min and max, so finite */
    }
    scaled_sums(ctx, in, k, mean, 1, acc);
    for (int64_t z = 0; z < nz; z++) t.sumsq += acc[z].sumsq;
    tg_free(acc);
    if ((st = finish(ctx, "stats"))) return st;
    out->count = t.n;
    out->nan_count = t.nan;
    out->posinf_count = t.posinf;
    out->neginf_count = t.neginf;
    out->min = t.n ? t.min : NAN;
    out->max = t.n ? t.max : NAN;
    out->mean = mean;
    out->std = t.n ? sqrt(t.sumsq / (double)t.n) / k : NAN;
    return TG_OK;
}

/* ---- histogram and counts: one private table per thread, summed in thread order (integers: exact) ---- */

/* Bin indices without overflow for any finite lo < hi: bin = (v p - lo p) * scale, where the power of two p
 * keeps both hi p - lo p and scale = bins / (hi p - lo p) finite (p = 1/2 when hi - lo overflows, as for
 * [-1e308, 1e308]; p = 2^600 when the range is so narrow that bins / (hi - lo) would). */
static void hist_scale(double lo, double hi, int bins, double *p, double *scale)
{
    *p = 1.0;
    if (!isfinite(hi - lo)) *p = 0.5;
    else if (!isfinite((double)bins / (hi - lo))) *p = 0x1p600;
    *scale = (double)bins / (hi * *p - lo * *p);
}

enum { H_BELOW, H_ABOVE, H_NAN, H_POSINF, H_NEGINF, H_NEXTRA }; /* extra cells after each thread's bins */

/* Why long: the per-voxel loop sits inside the parallel region, so the thread-private table stays in reach. */
tg_status tg_volume_histogram(tg_ctx *ctx, const tg_volume *in, int bins, double lo, double hi, int64_t *counts,
                              tg_hist_outside *outside)
{
    if (outside) memset(outside, 0, sizeof *outside);
    tg_status st = check_input(ctx, in);
    if (st) return st;
    if (bins < 1) return tg_fail(ctx, TG_ERR_ARG, "histogram: bins must be at least 1, got %d", bins);
    if (!isfinite(lo) || !isfinite(hi)) return tg_fail(ctx, TG_ERR_ARG, "histogram: range [%g, %g] must be finite", lo, hi);
    if (!(hi > lo)) return tg_fail(ctx, TG_ERR_ARG, "histogram: range [%g, %g] is empty", lo, hi);
    int nt = ctx->nthreads;
    size_t row = (size_t)bins + H_NEXTRA;
    int64_t *tables = tg_calloc((size_t)nt * row, sizeof *tables);
    if (!tables) return tg_fail(ctx, TG_ERR_NOMEM, "out of memory in histogram");
    int64_t nz = in->dims[2], ny = in->dims[1], nx = in->dims[0];
    double p, scale;
    hist_scale(lo, hi, bins, &p, &scale);
    const double lop = lo * p;
#pragma omp parallel num_threads(nt)
    {
        int tid = tg_thread_num();
        int64_t *h = tables + (size_t)tid * row, *extra = h + bins;
#pragma omp for schedule(static)
        for (int64_t z = 0; z < nz; z++) {
            if (tg_cancelled(ctx)) continue;
            for (int64_t y = 0; y < ny; y++) {
                const char *s = tg_volume_ptr(in, 0, y, z);
                size_t es = dtype_sizes[in->dtype] * (size_t)in->strides[0];
                for (int64_t x = 0; x < nx; x++) {
                    double v = load(s + (size_t)x * es, in->dtype);
                    if (v >= lo && v <= hi) {
                        double t = (v * p - lop) * scale; /* in [0, bins] up to rounding */
                        int b = t < bins ? (int)t : bins - 1;
                        h[b > 0 ? b : 0]++;
                    } else if (v < lo) extra[v == -INFINITY ? H_NEGINF : H_BELOW]++;
                    else if (v > hi) extra[v == INFINITY ? H_POSINF : H_ABOVE]++;
                    else extra[H_NAN]++;
                }
            }
            tg_progress(ctx, (double)(z + 1) / (double)nz, "histogram");
        }
    }
    int64_t sum[H_NEXTRA] = {0};
    for (size_t b = 0; b < row; b++) {
        int64_t c = 0;
        for (int t = 0; t < nt; t++) c += tables[(size_t)t * row + b];
        if (b < (size_t)bins) counts[b] = c;
        else sum[b - (size_t)bins] = c;
    }
    tg_free(tables);
    if (outside) *outside = (tg_hist_outside){sum[H_BELOW], sum[H_ABOVE], sum[H_NAN], sum[H_POSINF], sum[H_NEGINF]};
    return finish(ctx, "histogram");
}

tg_status tg_volume_counts(tg_ctx *ctx, const tg_volume *in, int64_t vmin, int64_t n, int64_t *counts)
{
    tg_status st = check_input(ctx, in);
    if (st) return st;
    if (!tg_dtype_is_int(in->dtype)) return tg_fail(ctx, TG_ERR_ARG, "counts: needs an integer volume (u8, u16, i32), got %s", dtype_names[in->dtype]);
    if (in->dtype == TG_U8) { vmin = 0; n = 256; }
    if (in->dtype == TG_U16) { vmin = 0; n = 65536; }
    if (n < 1) return tg_fail(ctx, TG_ERR_ARG, "counts: empty value range");
    int nt = ctx->nthreads;
    int64_t *tables = tg_calloc((size_t)nt * (size_t)n, sizeof *tables);
    if (!tables) return tg_fail(ctx, TG_ERR_NOMEM, "out of memory in counts (%lld distinct values)", (long long)n);
    int64_t nz = in->dims[2], ny = in->dims[1], nx = in->dims[0];
    atomic_int outside;
    atomic_init(&outside, 0);
#pragma omp parallel num_threads(nt)
    {
        int tid = tg_thread_num();
        int64_t *h = tables + (size_t)tid * (size_t)n;
#pragma omp for schedule(static)
        for (int64_t z = 0; z < nz; z++) {
            if (tg_cancelled(ctx)) continue;
            for (int64_t y = 0; y < ny; y++) {
                const char *row = tg_volume_ptr(in, 0, y, z);
                int64_t sx = in->strides[0];
                switch (in->dtype) {
                case TG_U8: for (int64_t x = 0; x < nx; x++) h[((const uint8_t *)row)[x * sx]]++; break;
                case TG_U16: for (int64_t x = 0; x < nx; x++) h[((const uint16_t *)row)[x * sx]]++; break;
                default:
                    for (int64_t x = 0; x < nx; x++) {
                        int64_t v = (int64_t)((const int32_t *)row)[x * sx] - vmin;
                        if (v < 0 || v >= n) atomic_store(&outside, 1);
                        else h[v]++;
                    }
                }
            }
            tg_progress(ctx, (double)(z + 1) / (double)nz, "counts");
        }
    }
    for (int64_t v = 0; v < n; v++) {
        int64_t c = 0;
        for (int t = 0; t < nt; t++) c += tables[(size_t)t * (size_t)n + (size_t)v];
        counts[v] = c;
    }
    tg_free(tables);
    if (atomic_load(&outside)) return tg_fail(ctx, TG_ERR_RANGE, "counts: values outside [%lld, %lld)", (long long)vmin, (long long)(vmin + n));
    return finish(ctx, "counts");
}

/* ---- maps and masks ---- */

typedef struct { const double *from, *to; int n; double t; int kind; } pointwise;
enum { PW_MAP, PW_EQ, PW_GE };

static inline double apply(const pointwise *p, double v)
{
    switch (p->kind) {
    case PW_EQ: return v == p->t ? 1.0 : 0.0;
    case PW_GE: return v >= p->t ? 1.0 : 0.0;
    default:
        for (int i = 0; i < p->n; i++)
            if (v == p->from[i]) return p->to[i];
        return v;
    }
}

/* One row through a lookup table of output-typed values (u8/u16 input): no conversion per voxel. */
#define LUT_ROW(TI, TO)                                                                            \
    do {                                                                                           \
        const TI *a_ = (const TI *)src;                                                            \
        TO *b_ = (TO *)dst;                                                                        \
        const TO *t_ = (const TO *)lut;                                                            \
        for (int64_t x = 0; x < nx; x++) b_[x * dx] = t_[a_[x * sx]];                              \
    } while (0)
#define LUT_OUT(TI)                                                                                \
    switch (out->dtype) {                                                                          \
    case TG_U8: LUT_ROW(TI, uint8_t); break;                                                       \
    case TG_U16: LUT_ROW(TI, uint16_t); break;                                                     \
    case TG_I32: LUT_ROW(TI, int32_t); break;                                                      \
    case TG_F32: LUT_ROW(TI, float); break;                                                        \
    default: LUT_ROW(TI, double); break;                                                           \
    }

static void lut_row(const tg_volume *in, tg_volume *out, int64_t y, int64_t z, const void *lut)
{
    int64_t nx = in->dims[0], sx = in->strides[0], dx = out->strides[0];
    const void *src = tg_volume_ptr(in, 0, y, z);
    void *dst = tg_volume_ptr(out, 0, y, z);
    if (in->dtype == TG_U8) LUT_OUT(uint8_t) else LUT_OUT(uint16_t)
}
#undef LUT_OUT
#undef LUT_ROW

static tg_status pointwise_op(tg_ctx *ctx, const tg_volume *in, const pointwise *p, tg_dtype dtype, tg_volume *out, const char *what)
{
    tg_status st = check_input(ctx, in);
    if (st) { tg_volume_init(out); return st; }
    if ((st = alloc_like(ctx, in, dtype, out))) return st;
    int64_t nz = in->dims[2], ny = in->dims[1], nx = in->dims[0];
    /* u8/u16 inputs go through a lookup table of output values: one pass, no search or conversion per voxel */
    char *lut = NULL;
    size_t nlut = in->dtype == TG_U8 ? 256 : in->dtype == TG_U16 ? 65536 : 0, es = dtype_sizes[dtype];
    if (nlut) {
        lut = tg_malloc(nlut * es);
        if (!lut) { tg_volume_release(out); return tg_fail(ctx, TG_ERR_NOMEM, "out of memory in %s", what); }
        for (size_t i = 0; i < nlut; i++) store(lut + i * es, dtype, apply(p, (double)i));
    }
#pragma omp parallel for schedule(static) num_threads(ctx->nthreads)
    for (int64_t z = 0; z < nz; z++) {
        if (tg_cancelled(ctx)) continue;
        for (int64_t y = 0; y < ny; y++) {
            if (lut) {
                lut_row(in, out, y, z, lut);
                continue;
            }
            for (int64_t x = 0; x < nx; x++) tg_volume_set(out, x, y, z, apply(p, tg_volume_get(in, x, y, z)));
        }
        tg_progress(ctx, (double)(z + 1) / (double)nz, what);
    }
    tg_free(lut);
    if ((st = finish(ctx, what))) tg_volume_release(out);
    return st;
}

tg_status tg_volume_map(tg_ctx *ctx, const tg_volume *in, const double *from, const double *to, int n, tg_dtype out_dtype, tg_volume *out)
{
    pointwise p = {from, to, n, 0.0, PW_MAP};
    return pointwise_op(ctx, in, &p, out_dtype, out, "map");
}

tg_status tg_volume_eq(tg_ctx *ctx, const tg_volume *in, double target, tg_volume *out)
{
    pointwise p = {NULL, NULL, 0, target, PW_EQ};
    return pointwise_op(ctx, in, &p, TG_U8, out, "eq");
}

tg_status tg_volume_threshold(tg_ctx *ctx, const tg_volume *in, double t, tg_volume *out)
{
    pointwise p = {NULL, NULL, 0, t, PW_GE};
    return pointwise_op(ctx, in, &p, TG_U8, out, "threshold");
}
