/* tg_normalize.c — ImageJ-style percentile normalisation. The manual is at the top of tg_normalize.h. */
#include "filter/tg_normalize.h"

#include <math.h>
#include <string.h>

#include "filter/tg_rows.h"

#ifdef _OPENMP
#include <omp.h>
#endif

static double kth(double *a, int64_t n, int64_t k) /* quickselect, Hoare partition */
{
    int64_t lo = 0, hi = n - 1;
    while (hi > lo) {
        double x = a[lo], y = a[lo + (hi - lo) / 2], z = a[hi];
        double piv = x < y ? (y < z ? y : (x < z ? z : x)) : (x < z ? x : (y < z ? z : y));
        int64_t i = lo, j = hi;
        while (i <= j) {
            while (a[i] < piv) i++;
            while (a[j] > piv) j--;
            if (i <= j) { double t = a[i]; a[i] = a[j]; a[j] = t; i++; j--; }
        }
        if (k <= j) hi = j;
        else if (k >= i) lo = i;
        else return a[k];
    }
    return a[k];
}

/* lo, hi of slices [z0, z1). buf: nx*ny*(z1-z0) doubles (float inputs) or 65536 int64 (u8/u16). */
static void find_range(const tg_volume *in, int64_t z0, int64_t z1, double sat, void *buf, float *row, double *lo,
                       double *hi)
{
    int64_t nx = in->dims[0], ny = in->dims[1], n = 0;
    if (in->dtype == TG_U8 || in->dtype == TG_U16) {
        int64_t *h = buf, nb = in->dtype == TG_U8 ? 256 : 65536;
        memset(h, 0, (size_t)nb * sizeof *h);
        for (int64_t z = z0; z < z1; z++)
            for (int64_t y = 0; y < ny; y++) {
                tg_filter__load_row(in, y, z, row);
                for (int64_t x = 0; x < nx; x++) h[(int)row[x]]++;
            }
        n = nx * ny * (z1 - z0);
        int64_t t = (int64_t)floor((double)n * sat / 200.0), c = 0, i = -1;
        do { c += h[++i]; } while (c <= t && i < nb - 1);
        *lo = (double)i;
        c = 0;
        i = nb;
        do { c += h[--i]; } while (c <= t && i > 0);
        *hi = (double)i;
        return;
    }
    double *a = buf;
    for (int64_t z = z0; z < z1; z++)
        for (int64_t y = 0; y < ny; y++) {
            for (int64_t x = 0; x < nx; x++) {
                double v = tg_volume_get(in, x, y, z);
                if (v == v) a[n++] = v;
            }
        }
    if (n == 0) { *lo = *hi = NAN; return; }
    int64_t t = (int64_t)floor((double)n * sat / 200.0);
    if (t > (n - 1) / 2) t = (n - 1) / 2;
    *lo = kth(a, n, t) + 0.0; /* + 0.0: -0 becomes +0, whichever zero the selection met first */
    *hi = kth(a, n, n - 1 - t) + 0.0;
}

static void map_slice(const tg_volume *in, tg_volume *out, int64_t z, double lo, double hi, float *row)
{
    int64_t nx = in->dims[0], ny = in->dims[1];
    int isint = out->dtype == TG_U8 || out->dtype == TG_U16;
    double top = out->dtype == TG_U8 ? 255.0 : 65535.0, scale = hi > lo ? 1.0 / (hi - lo) : 1.0;
    for (int64_t y = 0; y < ny; y++) {
        if (in->dtype == TG_I32 || in->dtype == TG_F64) {
            for (int64_t x = 0; x < nx; x++) {
                double v = tg_volume_get(in, x, y, z), m = (v - lo) * scale;
                row[x] = v != v ? NAN : (float)(m < 0 ? 0 : m > 1 ? 1 : m);
            }
        } else {
            tg_filter__load_row(in, y, z, row);
            for (int64_t x = 0; x < nx; x++) {
                double v = row[x];
                if (isint) row[x] = (float)(v <= lo ? 0 : v >= hi ? top : floor((v - lo) / (hi - lo) * top));
                else {
                    double m = (v - lo) * scale;
                    row[x] = v != v ? NAN : (float)(m < 0 ? 0 : m > 1 ? 1 : m);
                }
            }
        }
        tg_filter__store_row(out, y, z, row);
    }
}

tg_status tg_normalize(tg_ctx *ctx, const tg_volume *in, const tg_normalize_opts *o, tg_volume *out, double *lohi)
{
    tg_status st;
    void *buf = NULL;
    float *rows = NULL;
    tg_volume res;
    tg_volume_init(&res);
    if (out != in) tg_volume_init(out);
    if ((st = tg_filter__check_volume(ctx, in, "filter.normalize"))) return st;
    if (!(o->saturated >= 0 && o->saturated < 100))
        return tg_fail(ctx, TG_ERR_ARG, "filter.normalize: saturated must be a percentage in [0, 100), got %g",
                       o->saturated);
    int given = !isnan(o->range[0]) || !isnan(o->range[1]);
    if (given && !(o->range[0] <= o->range[1]))
        return tg_fail(ctx, TG_ERR_ARG, "filter.normalize: range must be {lo, hi} with lo <= hi, got {%g, %g}", o->range[0],
                       o->range[1]);
    int64_t nx = in->dims[0], ny = in->dims[1], nz = in->dims[2];
    int nt = ctx->nthreads > 0 ? ctx->nthreads : 1;
    int hist = in->dtype == TG_U8 || in->dtype == TG_U16;
    int64_t group = given ? 1 : o->per_slice ? nx * ny : nx * ny * nz;
    size_t bufsz = hist ? 65536 * sizeof(int64_t) : (size_t)group * sizeof(double);
    int nbuf = o->per_slice && !given ? nt : 1;
    buf = tg_malloc((size_t)nbuf * bufsz);
    rows = tg_malloc((size_t)nt * (size_t)nx * sizeof *rows);
    if (!buf || !rows) { st = tg_fail(ctx, TG_ERR_NOMEM, "filter.normalize: out of memory"); goto done; }
    if ((st = tg_volume_alloc(ctx, in->dims, hist ? in->dtype : TG_F32, in->spacing, &res))) goto done;
    double glo = o->range[0], ghi = o->range[1];
    if (given) {
        if (lohi) { lohi[0] = glo; lohi[1] = ghi; }
    } else if (!o->per_slice) {
        find_range(in, 0, nz, o->saturated, buf, rows, &glo, &ghi);
        if (lohi) { lohi[0] = glo; lohi[1] = ghi; }
    }
    #pragma omp parallel for schedule(dynamic, 1) num_threads(nt)
    for (int64_t z = 0; z < nz; z++) {
        if (tg_cancelled(ctx)) continue;
        int tid = tg_thread_num();
        tg_progress(ctx, (double)z / (double)nz, "normalize");
        float *row = rows + (size_t)tid * (size_t)nx;
        double lo = glo, hi = ghi;
        if (o->per_slice && !given) {
            find_range(in, z, z + 1, o->saturated, (char *)buf + (size_t)tid * bufsz, row, &lo, &hi);
            if (lohi) { lohi[2 * z] = lo; lohi[2 * z + 1] = hi; }
        }
        map_slice(in, &res, z, lo, hi, row);
    }
    if (tg_cancelled(ctx)) { st = tg_fail(ctx, TG_ERR_CANCELLED, "filter.normalize: cancelled"); goto done; }
    tg_progress_done(ctx, "normalize");
    *out = res;
    tg_volume_init(&res);
done:
    tg_volume_release(&res);
    tg_free(buf);
    tg_free(rows);
    return st;
}

void tg_normalize_cost(const tg_normalize_opts *o, tg_dtype in, int64_t nx, int64_t ny, int nthreads, tg_cost *c)
{
    int nt = nthreads > 0 ? nthreads : 1, hist = in == TG_U8 || in == TG_U16;
    int given = !isnan(o->range[0]) || !isnan(o->range[1]);
    c->halo = 0;
    c->per_voxel = hist ? (double)tg_dtype_size(in) : 4.0;
    size_t buf = hist ? 65536 * sizeof(int64_t) : given ? sizeof(double) : (size_t)(nx * ny) * sizeof(double);
    c->fixed = (int64_t)((o->per_slice && !given ? (size_t)nt : 1) * buf + (size_t)nt * (size_t)nx * sizeof(float));
    if (!o->per_slice && !given && !hist) c->per_voxel += 8.0; /* the whole group's values (in memory only) */
}

/* ---- the global range over data seen slab by slab: exact order statistics by radix selection ----
 * Each value maps to an unsigned key whose order is the values' order (floats: sign-magnitude flipped; -0 as +0;
 * NaN skipped; integers: the sign bit flipped). A pass histograms the next 16 bits of the keys that match the
 * digits chosen so far, separately for the two targets (lo = the (t+1)-th smallest, hi = the (t+1)-th largest); the
 * count of values before the chosen bucket is carried. 32-bit keys (i32, f32) take 2 passes, 64-bit (f64) 4; u8 and
 * u16 take one pass of a plain histogram. The result equals find_range's (the same n, t and order statistics). */

struct tg_normalize_range {
    tg_dtype dtype;
    double saturated;
    int bits, pass, passes;     /* key width; the pass being run; passes needed */
    int64_t n;                  /* values counted (non-NaN), after pass 0 */
    uint64_t prefix[2];         /* chosen high digits of the two targets' keys */
    int64_t rank[2];            /* rank of each target among the keys with its prefix */
    int64_t *hist;              /* 2 x 65536 */
};

static uint64_t key_of(tg_dtype t, double v)
{
    if (t == TG_F32) {
        float f = (float)v + 0.0f;
        uint32_t b;
        memcpy(&b, &f, 4);
        return b & 0x80000000u ? ~b : b | 0x80000000u;
    }
    if (t == TG_F64) {
        double d = v + 0.0;
        uint64_t b;
        memcpy(&b, &d, 8);
        return b & 0x8000000000000000ull ? ~b : b | 0x8000000000000000ull;
    }
    return (uint64_t)(uint32_t)((int32_t)v) ^ 0x80000000u; /* i32 */
}

static double value_of(tg_dtype t, uint64_t k)
{
    if (t == TG_F32) {
        uint32_t b = (uint32_t)k;
        b = b & 0x80000000u ? b & 0x7fffffffu : ~b;
        float f;
        memcpy(&f, &b, 4);
        return (double)f;
    }
    if (t == TG_F64) {
        uint64_t b = k & 0x8000000000000000ull ? k & 0x7fffffffffffffffull : ~k;
        double d;
        memcpy(&d, &b, 8);
        return d;
    }
    return (double)(int32_t)((uint32_t)k ^ 0x80000000u);
}

tg_status tg_normalize_range_new(tg_ctx *ctx, tg_dtype dtype, double saturated, tg_normalize_range **out)
{
    *out = NULL;
    if (!(saturated >= 0 && saturated < 100))
        return tg_fail(ctx, TG_ERR_ARG, "filter.normalize: saturated must be a percentage in [0, 100), got %g", saturated);
    tg_normalize_range *r = tg_calloc(1, sizeof *r);
    if (r) r->hist = tg_calloc(2 * 65536, sizeof *r->hist);
    if (!r || !r->hist) {
        if (r) tg_free(r);
        return tg_fail(ctx, TG_ERR_NOMEM, "filter.normalize: out of memory");
    }
    r->dtype = dtype;
    r->saturated = saturated;
    r->bits = dtype == TG_F64 ? 64 : 32;
    r->passes = dtype == TG_U8 || dtype == TG_U16 ? 1 : r->bits / 16;
    *out = r;
    return TG_OK;
}

void tg_normalize_range_free(tg_normalize_range *r)
{
    if (!r) return;
    tg_free(r->hist);
    tg_free(r);
}

/* Count the keys of one row of n values (any dtype but u8/u16) into the pass's histograms. */
static void range_row(tg_normalize_range *r, const double *v, int64_t n, int shift, uint64_t high)
{
    int64_t *h0 = r->hist, *h1 = r->hist + 65536;
    for (int64_t i = 0; i < n; i++) {
        if (v[i] != v[i]) continue;
        uint64_t k = key_of(r->dtype, v[i]);
        int d = (int)((k >> shift) & 0xffff);
        if (r->pass == 0) { h0[d]++; r->n++; continue; }
        if ((k & high) == r->prefix[0]) h0[d]++;
        if ((k & high) == r->prefix[1]) h1[d]++;
    }
}

tg_status tg_normalize_range_add(tg_ctx *ctx, tg_normalize_range *r, const tg_volume *in)
{
    if (in->dtype != r->dtype)
        return tg_fail(ctx, TG_ERR_ARG, "filter.normalize: a slab of %s, the range was started for %s",
                       tg_dtype_name(in->dtype), tg_dtype_name(r->dtype));
    int64_t nx = in->dims[0], ny = in->dims[1], nz = in->dims[2], sx = in->strides[0];
    if (r->passes == 1) { /* u8, u16: values are the histogram's bins */
        for (int64_t z = 0; z < nz; z++)
            for (int64_t y = 0; y < ny; y++) {
                const void *p = tg_volume_ptr(in, 0, y, z);
                if (in->dtype == TG_U8) for (int64_t x = 0; x < nx; x++) r->hist[((const uint8_t *)p)[x * sx]]++;
                else for (int64_t x = 0; x < nx; x++) r->hist[((const uint16_t *)p)[x * sx]]++;
            }
        r->n += nx * ny * nz;
        return TG_OK;
    }
    double *row = tg_malloc((size_t)nx * sizeof *row);
    if (!row) return tg_fail(ctx, TG_ERR_NOMEM, "filter.normalize: out of memory");
    int shift = r->bits - 16 * (r->pass + 1);
    uint64_t high = r->pass == 0 ? 0 : ~(uint64_t)0 << (shift + 16);
    for (int64_t z = 0; z < nz; z++)
        for (int64_t y = 0; y < ny; y++) {
            const void *p = tg_volume_ptr(in, 0, y, z);
            switch (in->dtype) {
            case TG_I32: for (int64_t x = 0; x < nx; x++) row[x] = (double)((const int32_t *)p)[x * sx]; break;
            case TG_F32: for (int64_t x = 0; x < nx; x++) row[x] = (double)((const float *)p)[x * sx]; break;
            default: for (int64_t x = 0; x < nx; x++) row[x] = ((const double *)p)[x * sx]; break;
            }
            range_row(r, row, nx, shift, high);
        }
    tg_free(row);
    return TG_OK;
}

/* The bucket of the rank-th key (0-based) in a histogram; the rank within it goes back into *rank. */
static int bucket(const int64_t *h, int64_t *rank)
{
    int64_t c = 0;
    for (int d = 0; d < 65536; d++) {
        if (c + h[d] > *rank) { *rank -= c; return d; }
        c += h[d];
    }
    return 65535;
}

int tg_normalize_range_next(tg_normalize_range *r)
{
    int64_t *h0 = r->hist, *h1 = r->hist + 65536;
    if (r->passes == 1) { r->pass = 1; return 0; }
    if (r->pass == 0) {
        if (r->n == 0) { r->pass = r->passes; return 0; }
        int64_t t = (int64_t)floor((double)r->n * r->saturated / 200.0);
        if (t > (r->n - 1) / 2) t = (r->n - 1) / 2;
        r->rank[0] = t;
        r->rank[1] = r->n - 1 - t;
        memcpy(h1, h0, 65536 * sizeof *h1);
    }
    int shift = r->bits - 16 * (r->pass + 1);
    for (int i = 0; i < 2; i++) r->prefix[i] |= (uint64_t)bucket(i ? h1 : h0, &r->rank[i]) << shift;
    memset(r->hist, 0, 2 * 65536 * sizeof *r->hist);
    r->pass++;
    return r->pass < r->passes;
}

void tg_normalize_range_result(const tg_normalize_range *r, double *lo, double *hi)
{
    if (r->passes == 1) { /* as find_range's histogram path */
        const int64_t *h = r->hist;
        int64_t nb = r->dtype == TG_U8 ? 256 : 65536, t = (int64_t)floor((double)r->n * r->saturated / 200.0), c = 0, i = -1;
        do { c += h[++i]; } while (c <= t && i < nb - 1);
        *lo = (double)i;
        c = 0;
        i = nb;
        do { c += h[--i]; } while (c <= t && i > 0);
        *hi = (double)i;
        return;
    }
    if (r->n == 0) { *lo = *hi = NAN; return; }
    *lo = value_of(r->dtype, r->prefix[0]);
    *hi = value_of(r->dtype, r->prefix[1]);
}
