/* tg_rank.c — median and box filters. The manual is at the top of tg_rank.h. */
#include "filter/tg_rank.h"

#include <math.h>
#include <string.h>
#ifdef __SSE__
#include <xmmintrin.h>
#endif

#include "filter/tg_rows.h"

#ifdef _OPENMP
#include <omp.h>
#endif

#define BLOCK 256

static tg_status validate(tg_ctx *ctx, const tg_volume *in, const tg_rank_opts *o, const char *name)
{
    tg_status st;
    if ((st = tg_filter__check_volume(ctx, in, name))) return st;
    if (o->radius < 1) return tg_fail(ctx, TG_ERR_ARG, "%s: radius must be >= 1, got %d", name, o->radius);
    if (o->radius > 1000) return tg_fail(ctx, TG_ERR_ARG, "%s: radius %d is too large (at most 1000)", name, o->radius);
    return TG_OK;
}

static void load_row_d(const tg_volume *v, int64_t y, int64_t z, double *dst)
{
    int64_t nx = v->dims[0], sx = v->strides[0];
    const char *p = (const char *)tg_volume_ptr(v, 0, y, z);
#define LOAD(T) do { const T *s = (const T *)p; for (int64_t x = 0; x < nx; x++) dst[x] = (double)s[x * sx]; } while (0)
    switch (v->dtype) {
    case TG_U8: LOAD(uint8_t); break;
    case TG_U16: LOAD(uint16_t); break;
    case TG_I32: LOAD(int32_t); break;
    case TG_F32: LOAD(float); break;
    case TG_F64: LOAD(double); break;
    default: break;
    }
#undef LOAD
}

/* out is contiguous and of the input dtype; the values are exact copies of input values */
static void store_row_d(tg_volume *v, int64_t y, int64_t z, const double *src)
{
    int64_t nx = v->dims[0];
    void *p = tg_volume_ptr(v, 0, y, z);
#define STORE(T) do { T *d = (T *)p; for (int64_t x = 0; x < nx; x++) d[x] = (T)src[x]; } while (0)
    switch (v->dtype) {
    case TG_U8: STORE(uint8_t); break;
    case TG_U16: STORE(uint16_t); break;
    case TG_I32: STORE(int32_t); break;
    case TG_F32: STORE(float); break;
    case TG_F64: STORE(double); break;
    default: break;
    }
#undef STORE
}

/* The k-th smallest of a[0..n) (quickselect, Hoare partition with a median-of-three pivot). */
static double select_kth(double *a, int n, int k)
{
    int lo = 0, hi = n - 1;
    while (hi > lo) {
        int mid = lo + (hi - lo) / 2;
        double x = a[lo], y = a[mid], z = a[hi];
        double piv = x < y ? (y < z ? y : (x < z ? z : x)) : (x < z ? x : (y < z ? z : y));
        int i = lo, j = hi;
        while (i <= j) {
            while (a[i] < piv) i++;
            while (a[j] > piv) j--;
            if (i <= j) {
                double t = a[i];
                a[i] = a[j];
                a[j] = t;
                i++;
                j--;
            }
        }
        if (k <= j) hi = j;
        else if (k >= i) lo = i;
        else return a[k];
    }
    return a[k];
}

/* ---- radius 1 in 3D: a selection network for the median of 27, vectorised across x ----
 * Batcher's odd-even merge sort network for 32 inputs (191 compare-exchanges), inputs 27..31 set to +inf so the
 * median of the 27 values is output 13, pruned to the compare-exchanges that output 13 depends on. Every
 * compare-exchange runs over a block of MED_B voxels of the row at once (min/max: SIMD). Exact for the types
 * that floats hold exactly (u8, u16, f32); rows with NaN and the other types take the general path. */
#define MED_N 32
#define MED_B 64

typedef struct med_net {
    int n;
    unsigned char a[200], b[200];
} med_net;

static void med27_network(med_net *net)
{
    unsigned char ca[200], cb[200];
    int m = 0;
    for (int p = 1; p < MED_N; p <<= 1)
        for (int k = p; k >= 1; k >>= 1)
            for (int j = k % p; j + k < MED_N; j += 2 * k)
                for (int i = 0; i < k && i + j + k < MED_N; i++)
                    if ((i + j) / (2 * p) == (i + j + k) / (2 * p)) { ca[m] = (unsigned char)(i + j); cb[m] = (unsigned char)(i + j + k); m++; }
    int need[MED_N] = {0}, keep[200] = {0};
    need[13] = 1;
    for (int c = m - 1; c >= 0; c--)
        if (need[ca[c]] || need[cb[c]]) { keep[c] = 1; need[ca[c]] = need[cb[c]] = 1; }
    net->n = 0;
    for (int c = 0; c < m; c++)
        if (keep[c]) { net->a[net->n] = ca[c]; net->b[net->n] = cb[c]; net->n++; }
}

/* The median of the 27 neighbours of x0 .. x0 + MED_B - 1 from the 9 padded rows (row k holds x - 1 at index x). */
static void med27_block(const med_net *net, const double *rows, int64_t padn, int64_t x0, int64_t bw, float *L,
                        double *out)
{
    for (int k = 0; k < 9; k++)
        for (int d = 0; d < 3; d++) {
            float *l = L + (3 * k + d) * MED_B;
            const double *p = rows + (size_t)k * (size_t)padn + x0 + d;
            int64_t i = 0;
            for (; i < bw; i++) l[i] = (float)p[i];
            for (; i < MED_B; i++) l[i] = 0;
        }
    for (int k = 27; k < MED_N; k++)
        for (int i = 0; i < MED_B; i++) L[k * MED_B + i] = INFINITY;
    for (int c = 0; c < net->n; c++) {
        float *la = L + net->a[c] * MED_B, *lb = L + net->b[c] * MED_B;
#ifdef __SSE__ /* min/max as instructions: the compiler will not if-convert the compare (it may trap) */
        for (int i = 0; i < MED_B; i += 4) {
            __m128 u = _mm_load_ps(la + i), v = _mm_load_ps(lb + i);
            _mm_store_ps(la + i, _mm_min_ps(u, v));
            _mm_store_ps(lb + i, _mm_max_ps(u, v));
        }
#else
        for (int i = 0; i < MED_B; i++) {
            float u = la[i], v = lb[i];
            la[i] = u < v ? u : v;
            lb[i] = u < v ? v : u;
        }
#endif
    }
    for (int64_t i = 0; i < bw; i++) out[x0 + i] = L[13 * MED_B + i];
}

tg_status tg_median(tg_ctx *ctx, const tg_volume *in, const tg_rank_opts *o, tg_volume *out)
{
    tg_status st;
    double *work = NULL;
    tg_volume res;
    tg_volume_init(&res);
    if (out != in) tg_volume_init(out);
    if ((st = validate(ctx, in, o, "filter.median"))) return st;
    int64_t nx = in->dims[0], ny = in->dims[1], nz = in->dims[2];
    int r = o->radius, w = 2 * r + 1, nt = ctx->nthreads > 0 ? ctx->nthreads : 1;
    int krows = o->per_slice ? w : w * w, wsize = krows * w;
    int64_t padn = nx + 2 * r;
    size_t per_thread = (size_t)krows * (size_t)padn + (size_t)wsize + (size_t)nx + MED_N * MED_B / 2 + 16;
    int fast = r == 1 && !o->per_slice && (in->dtype == TG_U8 || in->dtype == TG_U16 || in->dtype == TG_F32);
    med_net net;
    if (fast) med27_network(&net);
    work = tg_malloc((size_t)nt * per_thread * sizeof *work);
    if (!work) { st = tg_fail(ctx, TG_ERR_NOMEM, "filter.median: out of memory for the work rows"); goto done; }
    if ((st = tg_volume_alloc(ctx, in->dims, in->dtype, in->spacing, &res))) goto done;
    int64_t nrows = ny * nz;
    #pragma omp parallel for schedule(dynamic, 16) num_threads(nt)
    for (int64_t row = 0; row < nrows; row++) {
        if (tg_cancelled(ctx)) continue;
        int tid = tg_thread_num();
        tg_progress(ctx, (double)row / (double)nrows, "median");
        int64_t y = row % ny, z = row / ny;
        double *rows = work + (size_t)tid * per_thread, *win = rows + (size_t)krows * (size_t)padn, *orow = win + wsize;
        int k = 0;
        for (int dz = o->per_slice ? 0 : -r; dz <= (o->per_slice ? 0 : r); dz++)
            for (int dy = -r; dy <= r; dy++, k++) {
                double *p = rows + (size_t)k * (size_t)padn;
                load_row_d(in, tg_filter__reflect_index(y + dy, ny), tg_filter__reflect_index(z + dz, nz), p + r);
                for (int i = 1; i <= r; i++) {
                    p[r - i] = p[r + tg_filter__reflect_index(-i, nx)];
                    p[r + nx - 1 + i] = p[r + tg_filter__reflect_index(nx - 1 + i, nx)];
                }
            }
        int row_fast = fast;
        if (row_fast && in->dtype == TG_F32) /* NaN sorts last: the network does not know that */
            for (int64_t i = 0; i < (int64_t)krows * padn && row_fast; i++) row_fast = rows[i] == rows[i];
        if (row_fast) {
            float *L = (float *)(void *)(((uintptr_t)(orow + nx) + 63) & ~(uintptr_t)63);
            for (int64_t x0 = 0; x0 < nx; x0 += MED_B)
                med27_block(&net, rows, padn, x0, nx - x0 < MED_B ? nx - x0 : MED_B, L, orow);
            store_row_d(&res, y, z, orow);
            continue;
        }
        for (int64_t x = 0; x < nx; x++) {
            int n = 0, nan = 0;
            for (int kk = 0; kk < krows; kk++) {
                const double *p = rows + (size_t)kk * (size_t)padn + x;
                for (int i = 0; i < w; i++) {
                    if (p[i] == p[i]) win[n++] = p[i];
                    else nan++;
                }
            }
            int mid = wsize / 2; /* NaN sorts last */
            orow[x] = mid < n ? select_kth(win, n, mid) : NAN;
        }
        store_row_d(&res, y, z, orow);
    }
    if (tg_cancelled(ctx)) { st = tg_fail(ctx, TG_ERR_CANCELLED, "filter.median: cancelled"); goto done; }
    tg_progress_done(ctx, "median");
    *out = res;
    tg_volume_init(&res);
done:
    tg_volume_release(&res);
    tg_free(work);
    return st;
}

/* Box mean over a column block of n lines (blk rows of BLOCK floats): dst row i = mean of rows i-r..i+r.
 * running = 1: a running sum (O(1) per line); running = 0: each window summed afresh in the order i-r..i+r, so a line's
 * value depends only on its window, not on where the block starts (the z pass: streamed slabs give the same bits). */
static void box_block(const float *blk, int64_t n, int64_t bw, int r, int running, double *acc, float *dst, int64_t dstride)
{
    double inv = 1.0 / (2 * r + 1);
    if (!running) {
        for (int64_t i = 0; i < n; i++) {
            for (int64_t x = 0; x < bw; x++) acc[x] = 0;
            for (int64_t j = i - r; j <= i + r; j++) {
                const float *s = blk + tg_filter__reflect_index(j, n) * BLOCK;
                for (int64_t x = 0; x < bw; x++) acc[x] += s[x];
            }
            float *d = dst + i * dstride;
            for (int64_t x = 0; x < bw; x++) d[x] = (float)(acc[x] * inv);
        }
        return;
    }
    for (int64_t x = 0; x < bw; x++) acc[x] = 0;
    for (int64_t i = -r; i <= r; i++) {
        const float *s = blk + tg_filter__reflect_index(i, n) * BLOCK;
        for (int64_t x = 0; x < bw; x++) acc[x] += s[x];
    }
    for (int64_t i = 0; i < n; i++) {
        float *d = dst + i * dstride;
        for (int64_t x = 0; x < bw; x++) d[x] = (float)(acc[x] * inv);
        const float *add = blk + tg_filter__reflect_index(i + r + 1, n) * BLOCK, *sub = blk + tg_filter__reflect_index(i - r, n) * BLOCK;
        for (int64_t x = 0; x < bw; x++) acc[x] += (double)add[x] - (double)sub[x];
    }
}

tg_status tg_mean(tg_ctx *ctx, const tg_volume *in, const tg_rank_opts *o, tg_volume *out)
{
    tg_status st;
    float *work = NULL;
    tg_volume res;
    tg_volume_init(&res);
    if (out != in) tg_volume_init(out);
    if ((st = validate(ctx, in, o, "filter.mean"))) return st;
    int64_t nx = in->dims[0], ny = in->dims[1], nz = in->dims[2];
    int r = o->radius, nt = ctx->nthreads > 0 ? ctx->nthreads : 1;
    int64_t lines = ny > nz ? ny : nz;
    /* per thread: a padded row (floats), a block, and a double accumulator of BLOCK (2 floats each) */
    size_t per_thread = (size_t)(nx + 2 * r) + (size_t)lines * BLOCK + 2 * BLOCK + 2;
    work = tg_malloc((size_t)nt * per_thread * sizeof *work);
    if (!work) { st = tg_fail(ctx, TG_ERR_NOMEM, "filter.mean: out of memory for the work buffers"); goto done; }
    if ((st = tg_volume_alloc(ctx, in->dims, TG_F32, in->spacing, &res))) goto done;
    float *R = (float *)tg_volume_ptr(&res, 0, 0, 0);
    int64_t nrows = ny * nz;
    #pragma omp parallel for schedule(static) num_threads(nt)
    for (int64_t row = 0; row < nrows; row++) {
        if (tg_cancelled(ctx)) continue;
        tg_progress(ctx, (double)row / (double)nrows / 3, "mean");
        float *pad = work + (size_t)tg_thread_num() * per_thread, *line = pad + r, *dst = R + (size_t)row * (size_t)nx;
        tg_filter__load_row(in, row % ny, row / ny, line);
        for (int i = 1; i <= r; i++) {
            pad[r - i] = line[tg_filter__reflect_index(-i, nx)];
            line[nx - 1 + i] = line[tg_filter__reflect_index(nx - 1 + i, nx)];
        }
        double acc = 0, inv = 1.0 / (2 * r + 1);
        for (int i = 0; i < 2 * r + 1; i++) acc += pad[i];
        for (int64_t x = 0; x < nx; x++) {
            dst[x] = (float)(acc * inv);
            if (x + 1 < nx) acc += (double)pad[x + 2 * r + 1] - (double)pad[x];
        }
    }
    for (int a = 1; a < 3 && !tg_cancelled(ctx); a++) {
        if (a == 2 && o->per_slice) break;
        int64_t n = a == 1 ? ny : nz, outer = a == 1 ? nz : ny;
        int64_t lstride = a == 1 ? nx : nx * ny, ostride = a == 1 ? nx * ny : nx;
        int64_t nblk = (nx + BLOCK - 1) / BLOCK, jobs = outer * nblk;
        #pragma omp parallel for schedule(static) num_threads(nt)
        for (int64_t job = 0; job < jobs; job++) {
            if (tg_cancelled(ctx)) continue;
            tg_progress(ctx, (a + (double)job / (double)jobs) / 3, "mean");
            int64_t ob = job / nblk, x0 = (job % nblk) * BLOCK, bw = nx - x0 < BLOCK ? nx - x0 : BLOCK;
            float *T = work + (size_t)tg_thread_num() * per_thread;
            float *blk = T + (nx + 2 * r);
            double *acc = (double *)(void *)(((uintptr_t)(blk + (size_t)lines * BLOCK) + 7) & ~(uintptr_t)7);
            float *base = R + (size_t)(ob * ostride + x0);
            for (int64_t i = 0; i < n; i++) memcpy(blk + i * BLOCK, base + i * lstride, (size_t)bw * sizeof(float));
            box_block(blk, n, bw, r, a == 1, acc, base, lstride);
        }
    }
    if (tg_cancelled(ctx)) { st = tg_fail(ctx, TG_ERR_CANCELLED, "filter.mean: cancelled"); goto done; }
    tg_progress_done(ctx, "mean");
    *out = res;
    tg_volume_init(&res);
done:
    tg_volume_release(&res);
    tg_free(work);
    return st;
}

void tg_rank_cost(const tg_rank_opts *o, int median, tg_dtype in, int64_t nx, int64_t ny, int nthreads, tg_cost *c)
{
    int r = o->radius > 0 ? o->radius : 1, w = 2 * r + 1, nt = nthreads > 0 ? nthreads : 1;
    int krows = o->per_slice ? w : w * w;
    c->halo = o->per_slice ? 0 : r;
    if (median) {
        size_t per_thread = (size_t)krows * (size_t)(nx + 2 * r) + (size_t)(krows * w) + (size_t)nx + MED_N * MED_B / 2 + 16;
        c->per_voxel = (double)tg_dtype_size(in);
        c->fixed = (int64_t)(nt * per_thread * sizeof(double));
    } else { /* the column block holds max(ny, slab) lines: ny of them fixed, the slab's per voxel */
        size_t per_thread = (size_t)(nx + 2 * r) + (size_t)ny * BLOCK + 2 * BLOCK + 2;
        c->per_voxel = 4.0 + (double)nt * BLOCK * sizeof(float) / ((double)nx * (double)ny);
        c->fixed = (int64_t)(nt * per_thread * sizeof(float));
    }
}
