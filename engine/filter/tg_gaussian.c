/* tg_gaussian.c — separable Gaussian and Gaussian-derivative filters. The manual is at the top of tg_gaussian.h.
 *
 * Layout of the work: the x pass reads rows of the input (any dtype, any strides) into a padded float row and
 * writes contiguous f32 rows of the output. The y and z passes are the same "column pass": the lines along the
 * axis are rows of 256 floats (a column block), copied into a per-thread block, then every output row is a
 * weighted sum of whole block rows, so the inner loops run along x and vectorise.
 */
#include "filter/tg_gaussian.h"
#include "filter/tg_rows.h"

#include <limits.h>
#include <math.h>
#include <string.h>

#ifdef _OPENMP
#include <omp.h>
#endif

#define BLOCK 256 /* columns per block in the y and z passes */

/* Saturates at INT_MAX / 4 (far above TG_GAUSSIAN_MAX_RADIUS): a huge sigma * truncate overflowed the int, gave a
 * negative radius that passed the size check and crashed. */
int tg_gaussian_radius(double sigma, double truncate)
{
    double r = truncate * sigma + 0.5;
    return r < (double)(INT_MAX / 4) ? (int)r : INT_MAX / 4;
}

void tg_gaussian_kernel(double sigma, int order, double truncate, double *w)
{
    int r = tg_gaussian_radius(sigma, truncate);
    double s2 = sigma * sigma, sum = 0;
    for (int i = -r; i <= r; i++) {
        w[i + r] = exp(-0.5 / s2 * (double)i * (double)i);
        sum += w[i + r];
    }
    for (int i = -r; i <= r; i++) w[i + r] /= sum;
    if (order == 0) return;
    /* scipy's kernel k(x) = q(x) phi(x), then reversed for correlate1d: w[j] = k(r - j), i.e. k at -x. */
    double *tmp = w; /* in place: compute k(x) at index x + r, then reverse */
    for (int i = -r; i <= r; i++) {
        double x = (double)i, q = order == 1 ? -x / s2 : (x * x - s2) / (s2 * s2);
        tmp[i + r] *= q;
    }
    for (int i = 0; i < r; i++) {
        double t = w[i];
        w[i] = w[2 * r - i];
        w[2 * r - i] = t;
    }
}

/* ---- the 1D kernels ---- */

/* The two hot loops are compiled twice on x86-64 with GCC (plain SSE2, and AVX2 picked at load time when the
 * processor has it). AVX2 without FMA keeps every multiply and add separately rounded, in the same order, so
 * both versions give identical results. */
#if defined(__GNUC__) && !defined(__clang__) && defined(__x86_64__) && !defined(__SANITIZE_ADDRESS__)
#define TG_HOT_CLONES __attribute__((target_clones("avx2", "default")))
#else
#define TG_HOT_CLONES
#endif

/* Convolve one padded row p (n + 2r floats) into out (n floats). Symmetric (sym = 1), antisymmetric (-1). */
TG_HOT_CLONES static void conv_row(const float *p, int64_t n, const float *w, int r, int sym, float *out)
{
    const float c = w[r];
    for (int64_t i = 0; i < n; i++) out[i] = c * p[i + r];
    for (int j = 0; j < r; j++) {
        const float wj = w[j];
        const float *a = p + j, *b = p + 2 * r - j;
        if (sym > 0)
            for (int64_t i = 0; i < n; i++) out[i] += wj * (a[i] + b[i]);
        else
            for (int64_t i = 0; i < n; i++) out[i] += wj * (a[i] - b[i]);
    }
}

/* Column pass over n lines of width bw held in blk (row i at blk + i*BLOCK), writing output row i to dst(i). */
TG_HOT_CLONES static void conv_block(const float *blk, int64_t n, int64_t bw, const float *w, int r, int sym, float *acc,
                       float *dst, int64_t dstride)
{
    for (int64_t i = 0; i < n; i++) {
        const float *c = blk + i * BLOCK;
        for (int64_t x = 0; x < bw; x++) acc[x] = w[r] * c[x];
        for (int j = 0; j < r; j++) {
            const float wj = w[j];
            const float *a = blk + tg_filter__reflect_index(i + j - r, n) * BLOCK;
            const float *b = blk + tg_filter__reflect_index(i + r - j, n) * BLOCK;
            if (sym > 0)
                for (int64_t x = 0; x < bw; x++) acc[x] += wj * (a[x] + b[x]);
            else
                for (int64_t x = 0; x < bw; x++) acc[x] += wj * (a[x] - b[x]);
        }
        memcpy(dst + i * dstride, acc, (size_t)bw * sizeof(float));
    }
}

typedef struct gpass {
    float *w;
    int r, sym;
} gpass;

static int check_stop(tg_ctx *ctx, int *stop, double frac, const char *what)
{
    int halt;
    #pragma omp atomic read
    halt = *stop;
    if (halt) return 1;
    if (tg_thread_num() == 0 && tg_progress(ctx, frac, what)) {
        #pragma omp atomic write
        *stop = 1;
        return 1;
    }
    return 0;
}

static tg_status validate(tg_ctx *ctx, const tg_volume *in, const tg_gaussian_opts *o)
{
    tg_status st;
    if ((st = tg_filter__check_volume(ctx, in, "filter.gaussian"))) return st;
    if (!(o->truncate > 0) || !isfinite(o->truncate))
        return tg_fail(ctx, TG_ERR_ARG, "filter.gaussian: truncate must be a positive number, got %g", o->truncate);
    int any = 0;
    static const char ax[3] = {'x', 'y', 'z'};
    for (int a = 0; a < 3; a++) {
        double s = o->sigma[a];
        if (!(s >= 0) || !isfinite(s))
            return tg_fail(ctx, TG_ERR_ARG, "filter.gaussian: sigma along %c must be a number >= 0, got %g", ax[a], s);
        if (o->order[a] < 0 || o->order[a] > 2)
            return tg_fail(ctx, TG_ERR_ARG, "filter.gaussian: derivative order along %c must be 0, 1 or 2, got %d",
                           ax[a], o->order[a]);
        int used = s > 0 && !(a == 2 && o->per_slice);
        if (o->order[a] > 0 && !used)
            return tg_fail(ctx, TG_ERR_ARG, "filter.gaussian: a derivative along %c needs sigma > 0 along %c%s", ax[a],
                           ax[a], a == 2 && o->per_slice ? " and a 3D filter (per_slice is set)" : "");
        if (used && tg_gaussian_radius(s, o->truncate) > TG_GAUSSIAN_MAX_RADIUS)
            return tg_fail(ctx, TG_ERR_ARG, "filter.gaussian: sigma %g along %c with truncate %g is too large (a kernel "
                           "radius above %d voxels)", s, ax[a], o->truncate, TG_GAUSSIAN_MAX_RADIUS);
        any |= used;
    }
    if (!any) return tg_fail(ctx, TG_ERR_ARG, "filter.gaussian: every sigma is 0: nothing to filter");
    return TG_OK;
}

tg_status tg_gaussian(tg_ctx *ctx, const tg_volume *in, const tg_gaussian_opts *o, tg_volume *out)
{
    tg_status st;
    float *kern = NULL, *work = NULL;
    double *wd = NULL;
    tg_volume res;
    tg_volume_init(&res);
    if (out != in) tg_volume_init(out); /* out must be another volume than in */
    if ((st = validate(ctx, in, o))) return st;

    int64_t nx = in->dims[0], ny = in->dims[1], nz = in->dims[2];
    int nt = ctx->nthreads > 0 ? ctx->nthreads : 1;
    gpass P[3];
    int rmax = 0, used[3];
    size_t koff[3], ktot = 0;
    for (int a = 0; a < 3; a++) {
        used[a] = o->sigma[a] > 0 && !(a == 2 && o->per_slice);
        P[a].r = used[a] ? tg_gaussian_radius(o->sigma[a], o->truncate) : 0;
        P[a].sym = o->order[a] == 1 ? -1 : 1;
        koff[a] = ktot;
        ktot += (size_t)(2 * P[a].r + 1);
        if (P[a].r > rmax) rmax = P[a].r;
    }
    int64_t lines = ny > nz ? ny : nz;
    size_t per_thread = (size_t)(nx + 2 * rmax) + (size_t)nx + (size_t)lines * BLOCK + BLOCK;
    kern = tg_malloc(ktot * sizeof *kern);
    wd = tg_malloc((size_t)(2 * rmax + 1) * sizeof *wd);
    work = tg_malloc((size_t)nt * per_thread * sizeof *work);
    if (!kern || !wd || !work) {
        st = tg_fail(ctx, TG_ERR_NOMEM, "filter.gaussian: out of memory for the work buffers");
        goto done;
    }
    for (int a = 0; a < 3; a++) {
        P[a].w = kern + koff[a];
        if (!used[a]) { P[a].w[0] = 1; continue; }
        tg_gaussian_kernel(o->sigma[a], o->order[a], o->truncate, wd);
        for (int i = 0; i <= 2 * P[a].r; i++) P[a].w[i] = (float)wd[i];
    }
    if ((st = tg_volume_alloc(ctx, in->dims, TG_F32, in->spacing, &res))) goto done;
    float *R = (float *)tg_volume_ptr(&res, 0, 0, 0);
    int stop = 0;
    int npass = used[0] + used[1] + used[2], pass = 0;

    /* x pass (also converts the input to f32 when x is not filtered) */
    {
        const gpass *g = &P[0];
        int64_t nrows = ny * nz;
        #pragma omp parallel for schedule(static) num_threads(nt)
        for (int64_t row = 0; row < nrows; row++) {
            if (check_stop(ctx, &stop, (double)row / (double)nrows / (npass ? npass : 1), "gaussian")) continue;
            int64_t y = row % ny, z = row / ny;
            float *T = work + (size_t)tg_thread_num() * per_thread;
            float *dst = R + (size_t)row * (size_t)nx;
            if (!used[0]) { tg_filter__load_row(in, y, z, dst); continue; }
            float *line = T + g->r, *pad = T;
            tg_filter__load_row(in, y, z, line);
            for (int i = 1; i <= g->r; i++) {
                pad[g->r - i] = line[tg_filter__reflect_index(-i, nx)];
                line[nx - 1 + i] = line[tg_filter__reflect_index(nx - 1 + i, nx)];
            }
            conv_row(pad, nx, g->w, g->r, g->sym, dst);
        }
        if (used[0]) pass++;
    }
    /* y pass: lines along y of each slice; z pass: lines along z of each (y) row */
    for (int a = 1; a < 3 && !stop; a++) {
        if (!used[a]) continue;
        const gpass *g = &P[a];
        int64_t n = a == 1 ? ny : nz, outer = a == 1 ? nz : ny;
        int64_t lstride = a == 1 ? nx : nx * ny, ostride = a == 1 ? nx * ny : nx;
        int64_t nblk = (nx + BLOCK - 1) / BLOCK, jobs = outer * nblk;
        #pragma omp parallel for schedule(static) num_threads(nt)
        for (int64_t job = 0; job < jobs; job++) {
            if (check_stop(ctx, &stop, (pass + (double)job / (double)jobs) / npass, "gaussian")) continue;
            int64_t ob = job / nblk, x0 = (job % nblk) * BLOCK, bw = nx - x0 < BLOCK ? nx - x0 : BLOCK;
            float *T = work + (size_t)tg_thread_num() * per_thread;
            float *blk = T + (nx + 2 * rmax) + nx, *acc = blk + (size_t)lines * BLOCK;
            float *base = R + (size_t)(ob * ostride + x0);
            for (int64_t i = 0; i < n; i++) memcpy(blk + i * BLOCK, base + i * lstride, (size_t)bw * sizeof(float));
            conv_block(blk, n, bw, g->w, g->r, g->sym, acc, base, lstride);
        }
        pass++;
    }
    if (stop || tg_cancelled(ctx)) {
        st = tg_fail(ctx, TG_ERR_CANCELLED, "filter.gaussian: cancelled");
        goto done;
    }
    tg_progress_done(ctx, "gaussian");
    *out = res;
    tg_volume_init(&res);
done:
    tg_volume_release(&res);
    tg_free(kern);
    tg_free(wd);
    tg_free(work);
    return st;
}

void tg_gaussian_cost(const tg_gaussian_opts *o, int64_t nx, int64_t ny, int nthreads, tg_cost *c)
{
    int nt = nthreads > 0 ? nthreads : 1, rmax = 0;
    for (int a = 0; a < 3; a++) {
        int used = o->sigma[a] > 0 && !(a == 2 && o->per_slice);
        int r = used ? tg_gaussian_radius(o->sigma[a], o->truncate) : 0;
        if (r > rmax) rmax = r;
        if (a == 2) c->halo = r;
    }
    /* per thread: two rows, a block of max(ny, slab) lines (ny fixed, the slab's per voxel); 3 kernels */
    size_t per_thread = (size_t)(nx + 2 * rmax) + (size_t)nx + (size_t)ny * BLOCK + BLOCK;
    c->per_voxel = 4.0 + (double)nt * BLOCK * sizeof(float) / ((double)nx * (double)ny);
    c->fixed = (int64_t)(nt * per_thread * sizeof(float) + (size_t)(3 * (2 * rmax + 1)) * (sizeof(float) + sizeof(double)));
}

/* ---- passes into caller-owned buffers ---- */

struct tg_gaussian_work {
    int nt, rmax;
    int64_t nx, lines;  /* capacities: row length, lines along y or z */
    size_t per_thread;  /* floats */
    float *buf;         /* nt * per_thread */
    float *kern;        /* 3 kernels of 2 rmax + 1 */
    double *wd;         /* 2 rmax + 1 */
};

tg_status tg_gaussian_work_new(tg_ctx *ctx, const int64_t dims[3], int rmax, tg_gaussian_work **work)
{
    *work = NULL;
    if (!dims || dims[0] < 1 || dims[1] < 1 || dims[2] < 1 || rmax < 0 || rmax > TG_GAUSSIAN_MAX_RADIUS)
        return tg_fail(ctx, TG_ERR_ARG, "filter.gaussian: bad work dimensions or radius");
    tg_gaussian_work *w = tg_calloc(1, sizeof *w);
    if (!w) return tg_fail(ctx, TG_ERR_NOMEM, "filter.gaussian: out of memory for the work buffers");
    w->nt = ctx->nthreads > 0 ? ctx->nthreads : 1;
    w->rmax = rmax;
    w->nx = dims[0];
    w->lines = dims[1] > dims[2] ? dims[1] : dims[2];
    w->per_thread = (size_t)(w->nx + 2 * rmax) + (size_t)w->lines * BLOCK + BLOCK;
    w->buf = tg_malloc((size_t)w->nt * w->per_thread * sizeof *w->buf);
    w->kern = tg_malloc((size_t)3 * (size_t)(2 * rmax + 1) * sizeof *w->kern);
    w->wd = tg_malloc((size_t)(2 * rmax + 1) * sizeof *w->wd);
    if (!w->buf || !w->kern || !w->wd) {
        tg_gaussian_work_free(w);
        return tg_fail(ctx, TG_ERR_NOMEM, "filter.gaussian: out of memory for the work buffers");
    }
    *work = w;
    return TG_OK;
}

void tg_gaussian_work_free(tg_gaussian_work *w)
{
    if (!w) return;
    tg_free(w->buf);
    tg_free(w->kern);
    tg_free(w->wd);
    tg_free(w);
}

/* Inside a parallel loop of tg_gaussian_pass: 1 when the pass is cancelled (the first thread to see the context's
 * cancel flag raises the shared stop flag; the others skip their remaining work). */
static int pass_halted(tg_ctx *ctx, int *stop)
{
    int halt;
    #pragma omp atomic read
    halt = *stop;
    if (halt) return 1;
    if (tg_cancelled(ctx)) {
        #pragma omp atomic write
        *stop = 1;
        return 1;
    }
    return 0;
}

tg_status tg_gaussian_pass(tg_ctx *ctx, tg_gaussian_work *w, const float *in, const float *in2, const int64_t dims[3],
                           int axis, double sigma, double truncate, int n, const int *orders, float *const *out)
{
    if (!w || !in || !dims || !orders || !out) return tg_fail(ctx, TG_ERR_ARG, "filter.gaussian: pass without buffers");
    if (axis < 0 || axis > 2) return tg_fail(ctx, TG_ERR_ARG, "filter.gaussian: pass axis must be 0, 1 or 2, got %d", axis);
    if (n < 1 || n > 3) return tg_fail(ctx, TG_ERR_ARG, "filter.gaussian: a pass makes 1 to 3 outputs, got %d", n);
    if (!(sigma > 0) || !isfinite(sigma) || !(truncate > 0) || !isfinite(truncate))
        return tg_fail(ctx, TG_ERR_ARG, "filter.gaussian: pass needs sigma > 0 and truncate > 0 (got %g, %g)", sigma,
                       truncate);
    int r = tg_gaussian_radius(sigma, truncate);
    int64_t nx = dims[0], ny = dims[1], nz = dims[2];
    if (r > w->rmax || nx < 1 || ny < 1 || nz < 1 || nx > w->nx || (axis == 1 && ny > w->lines) ||
        (axis == 2 && nz > w->lines))
        return tg_fail(ctx, TG_ERR_ARG, "filter.gaussian: the work buffers were made for smaller dims or radius");
    gpass P[3];
    for (int k = 0; k < n; k++) {
        if (orders[k] < 0 || orders[k] > 2)
            return tg_fail(ctx, TG_ERR_ARG, "filter.gaussian: derivative order must be 0, 1 or 2, got %d", orders[k]);
        if (!out[k] || out[k] == in || out[k] == in2)
            return tg_fail(ctx, TG_ERR_ARG, "filter.gaussian: pass output %d is missing or aliases the input", k + 1);
        P[k].w = w->kern + (size_t)k * (size_t)(2 * w->rmax + 1);
        P[k].r = r;
        P[k].sym = orders[k] == 1 ? -1 : 1;
        tg_gaussian_kernel(sigma, orders[k], truncate, w->wd);
        for (int i = 0; i <= 2 * r; i++) P[k].w[i] = (float)w->wd[i];
    }
    int nt = ctx->nthreads > 0 ? ctx->nthreads : 1;
    if (nt > w->nt) nt = w->nt;
    int stop = 0;
    if (axis == 0) {
        int64_t nrows = ny * nz;
        #pragma omp parallel for schedule(static) num_threads(nt)
        for (int64_t row = 0; row < nrows; row++) {
            if (pass_halted(ctx, &stop)) continue;
            float *T = w->buf + (size_t)tg_thread_num() * w->per_thread;
            float *line = T + r, *pad = T;
            const float *src = in + (size_t)row * (size_t)nx;
            if (in2) {
                const float *s2 = in2 + (size_t)row * (size_t)nx;
                for (int64_t x = 0; x < nx; x++) line[x] = src[x] * s2[x];
            } else {
                memcpy(line, src, (size_t)nx * sizeof(float));
            }
            for (int i = 1; i <= r; i++) {
                pad[r - i] = line[tg_filter__reflect_index(-i, nx)];
                line[nx - 1 + i] = line[tg_filter__reflect_index(nx - 1 + i, nx)];
            }
            for (int k = 0; k < n; k++) conv_row(pad, nx, P[k].w, r, P[k].sym, out[k] + (size_t)row * (size_t)nx);
        }
    } else {
        int64_t len = axis == 1 ? ny : nz, outer = axis == 1 ? nz : ny;
        int64_t lstride = axis == 1 ? nx : nx * ny, ostride = axis == 1 ? nx * ny : nx;
        int64_t nblk = (nx + BLOCK - 1) / BLOCK, jobs = outer * nblk;
        #pragma omp parallel for schedule(static) num_threads(nt)
        for (int64_t job = 0; job < jobs; job++) {
            if (pass_halted(ctx, &stop)) continue;
            int64_t ob = job / nblk, x0 = (job % nblk) * BLOCK, bw = nx - x0 < BLOCK ? nx - x0 : BLOCK;
            float *T = w->buf + (size_t)tg_thread_num() * w->per_thread;
            float *blk = T + (w->nx + 2 * w->rmax), *acc = blk + (size_t)w->lines * BLOCK;
            size_t base = (size_t)(ob * ostride + x0);
            if (in2) {
                for (int64_t i = 0; i < len; i++) {
                    const float *a = in + base + (size_t)(i * lstride), *b = in2 + base + (size_t)(i * lstride);
                    float *d = blk + i * BLOCK;
                    for (int64_t x = 0; x < bw; x++) d[x] = a[x] * b[x];
                }
            } else {
                for (int64_t i = 0; i < len; i++)
                    memcpy(blk + i * BLOCK, in + base + (size_t)(i * lstride), (size_t)bw * sizeof(float));
            }
            for (int k = 0; k < n; k++) conv_block(blk, len, bw, P[k].w, r, P[k].sym, acc, out[k] + base, lstride);
        }
    }
    if (stop || tg_cancelled(ctx)) return tg_fail(ctx, TG_ERR_CANCELLED, "filter.gaussian: cancelled");
    return TG_OK;
}
