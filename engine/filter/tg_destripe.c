/* tg_destripe.c — wavelet–FFT stripe filter. The manual is at the top of tg_destripe.h.
 *
 * Band layout per level l (input a_l of h x w floats, row-major, x fastest): the row pass makes L and Hh
 * (h x m_w), the column pass makes cA, cH from L and cV, cD from Hh (m_h x m_w), m = floor((n + F - 1) / 2).
 * Both passes work on whole rows so the inner loops run along x.
 */
#include "filter/tg_destripe.h"

#include <complex.h>
#include <fftw3.h>
#include <math.h>
#include <string.h>

#include "filter/tg_rows.h"

#ifdef _OPENMP
#include <omp.h>
#endif

#define MAXLEV 30

/* ---- Daubechies filters by spectral factorisation ---- */

static double binom(int n, int k)
{
    double r = 1;
    for (int i = 1; i <= k; i++) r = r * (n - k + i) / i;
    return r;
}

/* Roots of the real polynomial c[0] + c[1] y + ... + c[n] y^n (Durand-Kerner, then Newton polishing). */
static void poly_roots(const double *c, int n, double complex *z)
{
    double complex a[TG_DAUBECHIES_MAX + 1];
    for (int i = 0; i <= n; i++) a[i] = c[i] / c[n];
    for (int i = 0; i < n; i++) z[i] = cpow(0.4 + 0.9 * I, i);
    for (int it = 0; it < 2000; it++) {
        double change = 0;
        for (int i = 0; i < n; i++) {
            double complex p = a[n], d = 1;
            for (int k = n - 1; k >= 0; k--) p = p * z[i] + a[k];
            for (int j = 0; j < n; j++)
                if (j != i) d *= z[i] - z[j];
            double complex step = p / d;
            z[i] -= step;
            change += cabs(step);
        }
        if (change < 1e-15) break;
    }
    for (int i = 0; i < n; i++)
        for (int it = 0; it < 5; it++) {
            double complex p = a[n], dp = 0;
            for (int k = n - 1; k >= 0; k--) { dp = dp * z[i] + p; p = p * z[i] + a[k]; }
            if (cabs(dp) > 0) z[i] -= p / dp;
        }
}

int tg_daubechies(int N, double *h)
{
    if (N < 1 || N > TG_DAUBECHIES_MAX) return -1;
    /* |H|^2 ~ cos^2N(w/2) Q(y), y = sin^2(w/2), Q(y) = sum_k C(N-1+k, k) y^k. Each root y_j of Q gives the zero
     * pair z, 1/z of z^2 - (2 - 4 y_j) z + 1; the minimum-phase filter keeps the zero inside the unit circle. */
    double q[TG_DAUBECHIES_MAX] = {0};
    double complex yr[TG_DAUBECHIES_MAX], p[2 * TG_DAUBECHIES_MAX];
    for (int k = 0; k < N; k++) q[k] = binom(N - 1 + k, k);
    if (N > 1) poly_roots(q, N - 1, yr);
    int len = 1;
    p[0] = 1;
    for (int i = 0; i < N; i++) { /* (1 + z^-1)^N */
        p[len] = 0;
        for (int k = len; k > 0; k--) p[k] += p[k - 1];
        len++;
    }
    for (int j = 0; j < N - 1; j++) {
        double complex b = 1 - 2 * yr[j], s = csqrt(b * b - 1), zj = b - s;
        if (cabs(zj) > 1) zj = b + s;
        p[len] = 0;
        for (int k = len; k > 0; k--) p[k] -= zj * p[k - 1];
        len++;
    }
    double sum = 0;
    for (int k = 0; k < 2 * N; k++) sum += creal(p[k]);
    for (int k = 0; k < 2 * N; k++) h[k] = creal(p[k]) * sqrt(2.0) / sum;
    return 0;
}

int tg_destripe_max_levels(int64_t nx, int64_t ny, int order)
{
    /* a level needs a band of at least 2F: n_l = floor((n_{l-1} + F - 1) / 2) while n_{l-1} >= 2F */
    int64_t n = nx < ny ? nx : ny, f = 2 * order;
    int lev = 0;
    while (lev < MAXLEV && n >= 2 * f) {
        n = (n + f - 1) / 2;
        lev++;
    }
    return lev;
}

/* ---- one-level transforms ---- */

typedef struct wfilt {
    int F;
    float lo[2 * TG_DAUBECHIES_MAX], hi[2 * TG_DAUBECHIES_MAX];   /* decomposition */
    float rlo[2 * TG_DAUBECHIES_MAX], rhi[2 * TG_DAUBECHIES_MAX]; /* reconstruction */
} wfilt;

static inline int64_t band_len(int64_t n, int F) { return (n + F - 1) / 2; }

/* Rows: a (h x w) -> lo, hi (h x m). */
static void dwt_rows(const wfilt *f, const float *a, int64_t h, int64_t w, float *lo, float *hi)
{
    int64_t m = band_len(w, f->F);
    for (int64_t y = 0; y < h; y++) {
        const float *r = a + y * w;
        float *L = lo + y * m, *H = hi + y * m;
        for (int64_t o = 0; o < m; o++) {
            float sl = 0, sh = 0;
            for (int j = 0; j < f->F; j++) {
                float v = r[tg_filter__reflect_index(2 * o + 1 - j, w)];
                sl += f->lo[j] * v;
                sh += f->hi[j] * v;
            }
            L[o] = sl;
            H[o] = sh;
        }
    }
}

/* Columns: a (h x w) -> lo, hi (m x w), whole rows at a time. */
static void dwt_cols(const wfilt *f, const float *a, int64_t h, int64_t w, float *lo, float *hi)
{
    int64_t m = band_len(h, f->F);
    for (int64_t o = 0; o < m; o++) {
        float *L = lo + o * w, *H = hi + o * w;
        memset(L, 0, (size_t)w * sizeof *L);
        memset(H, 0, (size_t)w * sizeof *H);
        for (int j = 0; j < f->F; j++) {
            const float *r = a + tg_filter__reflect_index(2 * o + 1 - j, h) * w;
            float cl = f->lo[j], ch = f->hi[j];
            for (int64_t x = 0; x < w; x++) { L[x] += cl * r[x]; H[x] += ch * r[x]; }
        }
    }
}

/* Inverse along columns: lo, hi (m x w) -> out (n x w), n <= 2m - F + 2 (cropped). */
static void idwt_cols(const wfilt *f, const float *lo, const float *hi, int64_t m, int64_t w, float *out, int64_t n)
{
    int F = f->F;
    for (int64_t k = 0; k < n; k++) {
        float *o = out + k * w;
        memset(o, 0, (size_t)w * sizeof *o);
        /* taps t = k + F - 2 - 2i in [0, F): i in [ceil((k - 1) / 2), floor((k + F - 2) / 2)] */
        for (int64_t i = k / 2; i <= (k + F - 2) / 2 && i < m; i++) {
            int64_t t = k + F - 2 - 2 * i;
            const float *a = lo + i * w, *d = hi + i * w;
            float cl = f->rlo[t], ch = f->rhi[t];
            for (int64_t x = 0; x < w; x++) o[x] += cl * a[x] + ch * d[x];
        }
    }
}

/* Inverse along rows: lo, hi (h x m) -> out (h x n). */
static void idwt_rows(const wfilt *f, const float *lo, const float *hi, int64_t h, int64_t m, float *out, int64_t n)
{
    int F = f->F;
    for (int64_t y = 0; y < h; y++) {
        const float *a = lo + y * m, *d = hi + y * m;
        float *o = out + y * n;
        for (int64_t k = 0; k < n; k++) {
            float s = 0;
            for (int64_t i = k / 2; i <= (k + F - 2) / 2 && i < m; i++) {
                int64_t t = k + F - 2 - 2 * i;
                s += f->rlo[t] * a[i] + f->rhi[t] * d[i];
            }
            o[k] = s;
        }
    }
}

/* ---- the filter ---- */

typedef struct level {
    int64_t h, w, mh, mw;   /* input size of this level, band size */
    size_t off, bs;         /* offset of this level's three detail bands in the detail pool, band stride */
    fftwf_plan fwd, inv;    /* FFT of the stripe band along the stripes */
    int64_t nfreq;          /* complex values per transform */
} level;

typedef struct job {
    const tg_destripe_opts *o;
    wfilt f;
    level lev[MAXLEV];
    size_t pool, slice, tmp, cbuf, per_thread; /* floats */
} job;

static inline float *align64(float *p) { return (float *)(((uintptr_t)p + 63) & ~(uintptr_t)63); }

/* damp the stripe band s (mh x mw) of level L in place; c is complex scratch */
static void damp_band(const job *J, const level *L, float *s, fftwf_complex *c)
{
    int64_t n = J->o->direction == TG_DESTRIPE_HORIZONTAL ? L->mw : L->mh;
    double s2 = 2 * J->o->sigma * J->o->sigma;
    fftwf_execute_dft_r2c(L->fwd, s, c);
    int64_t count = J->o->direction == TG_DESTRIPE_HORIZONTAL ? L->mh : L->mw, nf = L->nfreq;
    for (int64_t k = 0; k < nf; k++) {
        float g = (float)((1.0 - exp(-(double)(k * k) / s2)) / (double)n);
        if (J->o->direction == TG_DESTRIPE_HORIZONTAL) /* rows: transform r has its frequencies at r * nf + k */
            for (int64_t r = 0; r < count; r++) c[r * nf + k] *= g;
        else /* columns: frequency k of column x at k * mw + x (fftwf_complex is float complex: complex.h comes first) */
            for (int64_t x = 0; x < count; x++) c[k * count + x] *= g;
    }
    fftwf_execute_dft_c2r(L->inv, c, s);
}

static void destripe_slice(const job *J, const tg_volume *in, tg_volume *out, int64_t z, float *W)
{
    const wfilt *f = &J->f;
    int nl = J->o->levels;
    int64_t nx = in->dims[0], ny = in->dims[1];
    float *a = align64(W), *pool = align64(a + J->slice), *t1 = align64(pool + J->pool), *t2 = align64(t1 + J->tmp);
    fftwf_complex *c = (fftwf_complex *)align64(t2 + J->tmp);
    for (int64_t y = 0; y < ny; y++) tg_filter__load_row(in, y, z, a + y * nx);
    /* analysis: a holds the approximation of the current level */
    for (int l = 0; l < nl; l++) {
        const level *L = &J->lev[l];
        float *cH = pool + L->off, *cV = cH + L->bs, *cD = cV + L->bs;
        dwt_rows(f, a, L->h, L->w, t1, t2);      /* t1 = L (x low), t2 = Hh (x high), h x mw */
        dwt_cols(f, t1, L->h, L->mw, a, cH);     /* cA -> a, cH: x low, y high */
        dwt_cols(f, t2, L->h, L->mw, cV, cD);    /* cV: x high, y low; cD */
        damp_band(J, L, J->o->direction == TG_DESTRIPE_HORIZONTAL ? cH : cV, c);
    }
    /* synthesis */
    for (int l = nl - 1; l >= 0; l--) {
        const level *L = &J->lev[l];
        float *cH = pool + L->off, *cV = cH + L->bs, *cD = cV + L->bs;
        idwt_cols(f, a, cH, L->mh, L->mw, t1, L->h);
        idwt_cols(f, cV, cD, L->mh, L->mw, t2, L->h);
        idwt_rows(f, t1, t2, L->h, L->mw, a, L->w);
    }
    for (int64_t y = 0; y < ny; y++) memcpy(tg_volume_ptr(out, 0, y, z), a + y * nx, (size_t)nx * sizeof(float));
}

static tg_status plan_levels(tg_ctx *ctx, job *J, int64_t nx, int64_t ny, float *W)
{
    int F = J->f.F;
    int64_t h = ny, w = nx;
    size_t off = 0, tmp = 0, cb = 0;
    for (int l = 0; l < J->o->levels; l++) {
        level *L = &J->lev[l];
        L->h = h; L->w = w; L->mh = band_len(h, F); L->mw = band_len(w, F); L->off = off;
        L->bs = ((size_t)(L->mh * L->mw) + 15) / 16 * 16; /* bands start 64-byte aligned, as FFTW planned */
        off += 3 * L->bs;
        size_t t = (size_t)(h * L->mw), tc = (size_t)((L->mh / 2 + 1) * L->mw + (L->mw / 2 + 1) * L->mh);
        if (t > tmp) tmp = t;
        if (tc > cb) cb = tc;
        h = L->mh;
        w = L->mw;
    }
    J->slice = (size_t)(nx * ny);
    if ((size_t)(h * w) > J->slice) J->slice = (size_t)(h * w);
    /* the approximation grows a little at each level (band length > n/2), so keep room for the largest */
    for (int l = 0; l < J->o->levels; l++)
        if ((size_t)(J->lev[l].mh * J->lev[l].mw) > J->slice) J->slice = (size_t)(J->lev[l].mh * J->lev[l].mw);
    J->pool = off;
    J->tmp = tmp;
    J->cbuf = 2 * cb;
    J->per_thread = J->slice + J->pool + 2 * J->tmp + J->cbuf + 5 * 16;
    (void)ctx;
    (void)W;
    return TG_OK;
}

static tg_status make_plans(tg_ctx *ctx, job *J, float *W)
{
    float *s = align64(W);
    fftwf_complex *c = (fftwf_complex *)align64(s + J->tmp);
    for (int l = 0; l < J->o->levels; l++) {
        level *L = &J->lev[l];
        int n[1];
        unsigned flags = FFTW_ESTIMATE;
        if (J->o->direction == TG_DESTRIPE_HORIZONTAL) { /* transforms along x: one per row, contiguous */
            n[0] = (int)L->mw;
            L->nfreq = L->mw / 2 + 1;
            L->fwd = fftwf_plan_many_dft_r2c(1, n, (int)L->mh, s, NULL, 1, (int)L->mw, c, NULL, 1, (int)L->nfreq, flags);
            L->inv = fftwf_plan_many_dft_c2r(1, n, (int)L->mh, c, NULL, 1, (int)L->nfreq, s, NULL, 1, (int)L->mw, flags);
        } else { /* along y: one per column, stride mw */
            n[0] = (int)L->mh;
            L->nfreq = L->mh / 2 + 1;
            L->fwd = fftwf_plan_many_dft_r2c(1, n, (int)L->mw, s, NULL, (int)L->mw, 1, c, NULL, (int)L->mw, 1, flags);
            L->inv = fftwf_plan_many_dft_c2r(1, n, (int)L->mw, c, NULL, (int)L->mw, 1, s, NULL, (int)L->mw, 1, flags);
        }
        if (!L->fwd || !L->inv) return tg_fail(ctx, TG_ERR_NOMEM, "filter.destripe: FFTW could not plan a transform");
    }
    return TG_OK;
}

tg_status tg_destripe(tg_ctx *ctx, const tg_volume *in, const tg_destripe_opts *o, tg_volume *out)
{
    tg_status st;
    float *work = NULL, *planbuf = NULL;
    job J;
    memset(&J, 0, sizeof J);
    J.o = o;
    tg_volume res;
    tg_volume_init(&res);
    if (out != in) tg_volume_init(out);
    if ((st = tg_filter__check_volume(ctx, in, "filter.destripe"))) return st;
    if (o->wavelet < 1 || o->wavelet > TG_DAUBECHIES_MAX)
        return tg_fail(ctx, TG_ERR_ARG, "filter.destripe: wavelet order must be 1..%d (Daubechies dbN), got %d",
                       TG_DAUBECHIES_MAX, o->wavelet);
    if (!(o->sigma > 0) || !isfinite(o->sigma))
        return tg_fail(ctx, TG_ERR_ARG, "filter.destripe: sigma must be a positive number, got %g", o->sigma);
    if (o->direction != TG_DESTRIPE_VERTICAL && o->direction != TG_DESTRIPE_HORIZONTAL)
        return tg_fail(ctx, TG_ERR_ARG, "filter.destripe: unknown direction %d", o->direction);
    int64_t nx = in->dims[0], ny = in->dims[1], nz = in->dims[2];
    int maxl = tg_destripe_max_levels(nx, ny, o->wavelet);
    if (o->levels < 1 || o->levels > maxl)
        return tg_fail(ctx, TG_ERR_ARG, "filter.destripe: levels must be 1..%d for %lldx%lld slices with db%d, got %d%s",
                       maxl, (long long)nx, (long long)ny, o->wavelet, o->levels,
                       maxl < 1 ? " (the slices are too small for this wavelet)" : "");
    double h[2 * TG_DAUBECHIES_MAX];
    tg_daubechies(o->wavelet, h);
    J.f.F = 2 * o->wavelet;
    for (int k = 0; k < J.f.F; k++) {
        J.f.rlo[k] = (float)h[k];
        J.f.lo[k] = (float)h[J.f.F - 1 - k];
        J.f.hi[k] = (float)((k % 2 ? 1 : -1) * h[k]);
    }
    for (int k = 0; k < J.f.F; k++) J.f.rhi[k] = J.f.hi[J.f.F - 1 - k];
    int nt = ctx->nthreads > 0 ? ctx->nthreads : 1;
    plan_levels(ctx, &J, nx, ny, NULL);
    work = tg_malloc((size_t)nt * J.per_thread * sizeof(float));
    planbuf = tg_malloc((J.tmp + J.cbuf + 32) * sizeof(float));
    if (!work || !planbuf) { st = tg_fail(ctx, TG_ERR_NOMEM, "filter.destripe: out of memory for the work buffers"); goto done; }
    if ((st = make_plans(ctx, &J, planbuf))) goto done;
    if ((st = tg_volume_alloc(ctx, in->dims, TG_F32, in->spacing, &res))) goto done;
    #pragma omp parallel for schedule(dynamic, 1) num_threads(nt)
    for (int64_t z = 0; z < nz; z++) {
        if (tg_cancelled(ctx)) continue;
        int tid = tg_thread_num();
        tg_progress(ctx, (double)z / (double)nz, "destripe");
        destripe_slice(&J, in, &res, z, work + (size_t)tid * J.per_thread);
    }
    if (tg_cancelled(ctx)) { st = tg_fail(ctx, TG_ERR_CANCELLED, "filter.destripe: cancelled"); goto done; }
    tg_progress_done(ctx, "destripe");
    *out = res;
    tg_volume_init(&res);
done:
    for (int l = 0; l < MAXLEV; l++) {
        if (J.lev[l].fwd) fftwf_destroy_plan(J.lev[l].fwd);
        if (J.lev[l].inv) fftwf_destroy_plan(J.lev[l].inv);
    }
    tg_volume_release(&res);
    tg_free(work);
    tg_free(planbuf);
    return st;
}

void tg_destripe_cost(const tg_destripe_opts *o, int64_t nx, int64_t ny, int nthreads, tg_cost *c)
{
    job J;
    memset(&J, 0, sizeof J);
    J.o = o;
    J.f.F = 2 * (o->wavelet > 0 ? o->wavelet : 1);
    tg_destripe_opts lim = *o;
    if (lim.levels > MAXLEV) lim.levels = MAXLEV;
    if (lim.levels < 1) lim.levels = 1;
    J.o = &lim;
    plan_levels(NULL, &J, nx, ny, NULL);
    int nt = nthreads > 0 ? nthreads : 1;
    c->halo = 0;
    c->per_voxel = 4.0;
    c->fixed = (int64_t)(((size_t)nt * J.per_thread + J.tmp + J.cbuf + 32) * sizeof(float));
}
