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
    *lo = kth(a, n, t);
    *hi = kth(a, n, n - 1 - t);
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
    int64_t nx = in->dims[0], ny = in->dims[1], nz = in->dims[2];
    int nt = ctx->nthreads > 0 ? ctx->nthreads : 1;
    int hist = in->dtype == TG_U8 || in->dtype == TG_U16;
    int64_t group = o->per_slice ? nx * ny : nx * ny * nz;
    size_t bufsz = hist ? 65536 * sizeof(int64_t) : (size_t)group * sizeof(double);
    int nbuf = o->per_slice ? nt : 1;
    buf = tg_malloc((size_t)nbuf * bufsz);
    rows = tg_malloc((size_t)nt * (size_t)nx * sizeof *rows);
    if (!buf || !rows) { st = tg_fail(ctx, TG_ERR_NOMEM, "filter.normalize: out of memory"); goto done; }
    if ((st = tg_volume_alloc(ctx, in->dims, hist ? in->dtype : TG_F32, in->spacing, &res))) goto done;
    double glo = 0, ghi = 0;
    if (!o->per_slice) {
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
        if (o->per_slice) {
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
