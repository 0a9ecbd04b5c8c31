/* tg_register.c — phase-correlation registration and shifting. The manual is at the top of tg_register.h. */
#include "filter/tg_register.h"

#include <complex.h>
#include <fftw3.h>
#include <math.h>
#include <string.h>

#include "filter/tg_cubic.h"
#include "filter/tg_rows.h"

#ifdef _OPENMP
#include <omp.h>
#endif

#define TWO_PI 6.283185307179586

static inline float *align64(float *p) { return (float *)(((uintptr_t)p + 63) & ~(uintptr_t)63); }

typedef struct reg_plan {
    const tg_volume *in;
    int64_t x0, y0, w, h, nf; /* ROI and the number of x frequencies (w/2 + 1) */
    fftwf_plan fwd, inv, inv_half;
    int half;                      /* 1: the integer peak from a half-resolution inverse (see estimate) */
    int64_t w2, h2, nf2;           /* its size */
    int64_t *kx_end;               /* per row ky: the weight is 0 for kx >= kx_end[ky] */
    float *win_x, *win_y, *weight; /* window along x and y; spectral weight (h x nf), 0 where dropped */
    double wsum;                   /* sum of the weight over the full spectrum */
    int subpixel;
    float whiten;             /* exponent of the magnitude normalisation: 1 phase correlation, 0 plain */
    size_t real_sz, cplx_sz, per_thread; /* floats */
} reg_plan;

/* ROI of slice z, mean removed, windowed, into dst (h x w); row: nx floats of scratch */
static void load_roi(const reg_plan *P, int64_t z, float *dst, float *row)
{
    const tg_volume *in = P->in;
    int direct = in->strides[0] == 1 && (in->dtype == TG_U8 || in->dtype == TG_U16 || in->dtype == TG_F32);
    double sum = 0;
    for (int64_t y = 0; y < P->h; y++) {
        float *d = dst + y * P->w;
        if (direct) { /* contiguous rows: a conversion loop the compiler vectorises */
            const void *p = tg_volume_ptr(in, P->x0, P->y0 + y, z);
            if (in->dtype == TG_U8) { const uint8_t *q = p; for (int64_t x = 0; x < P->w; x++) d[x] = (float)q[x]; }
            else if (in->dtype == TG_U16) { const uint16_t *q = p; for (int64_t x = 0; x < P->w; x++) d[x] = (float)q[x]; }
            else memcpy(d, p, (size_t)P->w * sizeof *d);
        } else {
            tg_filter__load_row(in, P->y0 + y, z, row);
            memcpy(d, row + P->x0, (size_t)P->w * sizeof *d);
        }
        float s = 0;
        #pragma omp simd reduction(+ : s)
        for (int64_t x = 0; x < P->w; x++) {
            float v = d[x] == d[x] ? d[x] : 0.0f; /* NaN counts as the mean: zeroed here, the mean (0) after removal */
            d[x] = v;
            s += v;
        }
        sum += s;
    }
    float mean = (float)(sum / (double)(P->w * P->h));
    for (int64_t y = 0; y < P->h; y++) {
        const float wy = P->win_y[y], *wx = P->win_x;
        float *d = dst + y * P->w;
        #pragma omp simd
        for (int64_t x = 0; x < P->w; x++) d[x] = (d[x] - mean) * wx[x] * wy;
    }
}

/* The spectrum of slice z's windowed ROI into S; real: ROI-sized scratch (destroyed), row: nx floats */
static void spectrum(const reg_plan *P, int64_t z, float *real, float *row, fftwf_complex *S)
{
    load_roi(P, z, real, row);
    fftwf_execute_dft_r2c(P->fwd, real, S);
}

/* c(d) and its derivatives on the continuous correlation surface; R: h x nf weighted cross-power spectrum.
 * Each row's sums over kx run in float (SIMD; at most w/2 + 1 terms, relative rounding ~1e-6), the rows are
 * combined in double. */
static void surface(const reg_plan *P, const fftwf_complex *R, double dx, double dy, double *c, double g[2], double H[3])
{
    int64_t w = P->w, h = P->h, nf = P->nf;
    double sc = 0, gx = 0, gy = 0, hxx = 0, hyy = 0, hxy = 0;
    /* explicit real arithmetic: C's complex multiply calls a NaN-safe library routine per product */
    float exr[nf > 0 ? nf : 1], exi[nf > 0 ? nf : 1], kf[nf > 0 ? nf : 1];
    for (int64_t kx = 0; kx < nf; kx++) {
        double hw = (kx == 0 || 2 * kx == w) ? 1.0 : 2.0, ph = TWO_PI * (double)kx * dx / (double)w;
        exr[kx] = (float)(hw * cos(ph));
        exi[kx] = (float)(hw * sin(ph));
        kf[kx] = (float)kx;
    }
    for (int64_t ky = 0; ky < h; ky++) {
        double kys = (double)(ky <= h / 2 ? ky : ky - h);
        const float *r = (const float *)(R + ky * nf); /* interleaved re, im */
        float s0r = 0, s0i = 0, s1r = 0, s1i = 0, s2r = 0, s2i = 0;
        /* simd: a fixed association order set at compile time, the same in every thread */
        #pragma omp simd reduction(+ : s0r, s0i, s1r, s1i, s2r, s2i)
        for (int64_t kx = 0; kx < P->kx_end[ky]; kx++) {
            float rr = r[2 * kx], ri = r[2 * kx + 1], k = kf[kx];
            float tr = rr * exr[kx] - ri * exi[kx], ti = rr * exi[kx] + ri * exr[kx];
            s0r += tr; s0i += ti;
            s1r += k * tr; s1i += k * ti;
            s2r += k * k * tr; s2i += k * k * ti;
        }
        double ph = TWO_PI * kys * dy / (double)h, er = cos(ph), ei = sin(ph);
        double e0r = er * s0r - ei * s0i, e0i = er * s0i + ei * s0r;
        double e1r = er * s1r - ei * s1i, e1i = er * s1i + ei * s1r;
        double e2r = er * s2r - ei * s2i;
        sc += e0r;
        gx += e1i;
        gy += kys * e0i;
        hxx += e2r;
        hyy += kys * kys * e0r;
        hxy += kys * e1r;
    }
    double ax = TWO_PI / (double)w, ay = TWO_PI / (double)h;
    *c = sc;
    g[0] = -ax * gx;
    g[1] = -ay * gy;
    H[0] = -ax * ax * hxx;
    H[1] = -ay * ay * hyy;
    H[2] = -ax * ay * hxy;
}

/* Vertex of the parabola through (-1, a), (0, b), (1, c), clamped to [-0.5, 0.5]. */
static double parabola(double a, double b, double c)
{
    double den = a - 2 * b + c;
    if (!(den < 0)) return 0;
    double t = 0.5 * (a - c) / den;
    return t > 0.5 ? 0.5 : t < -0.5 ? -0.5 : t;
}

/* Shift of slice b relative to slice a (content of a appears at +d in b) from their spectra A and B, and the
 * correlation peak height. Scratch: real (ROI floats), R and T (h x nf complex each). */
static void estimate(const reg_plan *P, const fftwf_complex *A, const fftwf_complex *B, float *real, fftwf_complex *R,
                     fftwf_complex *T, double d[2], double *quality)
{
    int64_t w = P->w, h = P->h, nf = P->nf;
    const float *fa = (const float *)A, *fb = (const float *)B; /* interleaved re, im; real arithmetic (see surface) */
    float *fr = (float *)R;
    const float *wt = P->weight, wh = P->whiten;
    if (wh == 1) { /* phase correlation, the default: a loop the compiler vectorises, only where the weight is not 0 */
        for (int64_t ky = 0; ky < h; ky++) {
            int64_t k0 = ky * nf, ke = P->kx_end[ky];
            #pragma omp simd
            for (int64_t k = k0; k < k0 + ke; k++) {
                float ar = fa[2 * k], ai = fa[2 * k + 1], br = fb[2 * k], bi = fb[2 * k + 1];
                float cr = br * ar + bi * ai, ci = bi * ar - br * ai, m = sqrtf(cr * cr + ci * ci);
                float g = m > 1e-30f ? wt[k] / m : 0.0f;
                fr[2 * k] = cr * g;
                fr[2 * k + 1] = ci * g;
            }
            memset(fr + 2 * (k0 + ke), 0, (size_t)(2 * (nf - ke)) * sizeof *fr);
        }
    } else {
        for (int64_t k = 0; k < h * nf; k++) {
            float ar = fa[2 * k], ai = fa[2 * k + 1], br = fb[2 * k], bi = fb[2 * k + 1];
            float cr = br * ar + bi * ai, ci = bi * ar - br * ai, m = sqrtf(cr * cr + ci * ci);
            float g = m > 1e-30f ? wt[k] / (wh == 0 ? 1.0f : powf(m, wh)) : 0.0f;
            fr[2 * k] = cr * g;
            fr[2 * k + 1] = ci * g;
        }
    }
    /* the integer peak: the inverse transform of the cross-power spectrum (c2r destroys its input: T is a copy).
     * With a low-pass weight (default 0.3 of Nyquist) the frequencies above half Nyquist carry weights below
     * exp(-0.5 (0.5 / lowpass)^2); then the correlation is sampled every 2 pixels from the central quarter of the
     * spectrum (a quarter of the transform) and Newton on the full spectrum takes it from there */
    int64_t gw = w, gh = h, step = 1;
    if (P->half) {
        int64_t w2 = P->w2, h2 = P->h2, nf2 = P->nf2;
        float *ft = (float *)T;
        for (int64_t j = 0; j < h2; j++) {
            int64_t ky = j < h2 / 2 ? j : j - h2, src = ky < 0 ? ky + h : ky;
            const float *r = fr + 2 * src * nf;
            float *t = ft + 2 * j * nf2;
            if (j == h2 / 2) { memset(t, 0, (size_t)(2 * nf2) * sizeof *t); continue; } /* the small grid's Nyquist */
            memcpy(t, r, (size_t)(2 * (nf2 - 1)) * sizeof *t);
            t[2 * (nf2 - 1)] = t[2 * (nf2 - 1) + 1] = 0;
        }
        fftwf_execute_dft_c2r(P->inv_half, T, real);
        gw = w2; gh = h2; step = 2;
    } else {
        memcpy(T, R, (size_t)(h * nf) * sizeof *T);
        fftwf_execute_dft_c2r(P->inv, T, real);
    }
    int64_t gn = gw * gh, best = 0;
    float bv = real[0];
    for (int64_t i = 1; i < gn; i++)
        if (real[i] > bv) { bv = real[i]; best = i; }
    int64_t ix = best % gw, iy = best / gw;
    double dx = (double)(step * (ix > gw / 2 ? ix - gw : ix)), dy = (double)(step * (iy > gh / 2 ? iy - gh : iy));
    *quality = P->wsum > 0 ? bv / P->wsum : 0;
    if (!(bv > 0)) { /* no common signal (a constant or empty slice): no shift can be measured, report none */
        d[0] = d[1] = 0;
        *quality = 0;
        return;
    }
    if (P->subpixel) {
        /* start at the vertex of the parabolas through the peak's neighbours, then Newton */
        int64_t xm = (ix + gw - 1) % gw, xp = (ix + 1) % gw, ym = (iy + gh - 1) % gh, yp = (iy + 1) % gh;
        dx += (double)step * parabola(real[iy * gw + xm], bv, real[iy * gw + xp]);
        dy += (double)step * parabola(real[ym * gw + ix], bv, real[yp * gw + ix]);
        double c, g[2], H[3];
        for (int it = 0; it < 30; it++) {
            surface(P, R, dx, dy, &c, g, H);
            double det = H[0] * H[1] - H[2] * H[2], sx, sy;
            if (H[0] < 0 && det > 0) {
                sx = -(H[1] * g[0] - H[2] * g[1]) / det;
                sy = -(H[0] * g[1] - H[2] * g[0]) / det;
            } else { /* not concave here: a small gradient step */
                sx = g[0] > 0 ? 0.1 : g[0] < 0 ? -0.1 : 0;
                sy = g[1] > 0 ? 0.1 : g[1] < 0 ? -0.1 : 0;
            }
            if (sx > 0.5) sx = 0.5;
            if (sx < -0.5) sx = -0.5;
            if (sy > 0.5) sy = 0.5;
            if (sy < -0.5) sy = -0.5;
            dx += sx;
            dy += sy;
            if (fabs(sx) < 1e-4 && fabs(sy) < 1e-4) break; /* quadratic convergence: what is left is ~1e-8 */
        }
        *quality = P->wsum > 0 ? c / P->wsum : 0;
    }
    d[0] = dx;
    d[1] = dy;
}

static tg_status check_register(tg_ctx *ctx, const tg_volume *in, const tg_register_opts *o, int64_t lo[2], int64_t hi[2])
{
    tg_status st;
    if ((st = tg_filter__check_volume(ctx, in, "filter.register"))) return st;
    for (int a = 0; a < 2; a++) {
        int64_t n = in->dims[a];
        lo[a] = o->roi_hi[a] == 0 ? 0 : o->roi_lo[a];
        hi[a] = o->roi_hi[a] == 0 ? n : o->roi_hi[a];
        if (lo[a] < 0 || hi[a] > n || hi[a] <= lo[a])
            return tg_fail(ctx, TG_ERR_RANGE, "filter.register: the region of interest [%lld, %lld) along %c is outside "
                           "the slice (0..%lld) or empty", (long long)lo[a], (long long)hi[a], "xy"[a], (long long)n);
        if (hi[a] - lo[a] < 4)
            return tg_fail(ctx, TG_ERR_ARG, "filter.register: the region of interest is %lld pixels along %c; at least 4 "
                           "are needed", (long long)(hi[a] - lo[a]), "xy"[a]);
    }
    if (o->reference < 0 || o->reference >= in->dims[2])
        return tg_fail(ctx, TG_ERR_RANGE, "filter.register: reference slice %lld is outside 0..%lld", (long long)o->reference,
                       (long long)in->dims[2] - 1);
    if (!(o->whiten >= 0 && o->whiten <= 1))
        return tg_fail(ctx, TG_ERR_ARG, "filter.register: whiten must be in [0, 1], got %g", o->whiten);
    if (!(o->lowpass >= 0) || !isfinite(o->lowpass))
        return tg_fail(ctx, TG_ERR_ARG, "filter.register: lowpass must be >= 0, got %g", o->lowpass);
    if (o->neighbours < 1 || o->neighbours > TG_REGISTER_MAX_NEIGHBOURS)
        return tg_fail(ctx, TG_ERR_ARG, "filter.register: neighbours must be 1..%d, got %d", TG_REGISTER_MAX_NEIGHBOURS,
                       o->neighbours);
    if (o->mode != TG_REGISTER_SEQUENTIAL && o->mode != TG_REGISTER_FIXED)
        return tg_fail(ctx, TG_ERR_ARG, "filter.register: unknown mode %d", o->mode);
    return TG_OK;
}

/* Weighted least squares for the absolute shifts along one axis from pair equations s_b - s_a = d (weight w), with
 * s_ref = 0: the normal equations are banded (bandwidth K), solved by banded Cholesky. A: (K + 1) * nz doubles of
 * scratch, rhs: nz doubles (the solution on return). Returns 0, or -1 if the system is singular. */
static int solve_banded(int64_t nz, int K, int64_t ref, const double *obs, const double *wt, int axis, double *A, double *rhs)
{
    /* A[i * (K + 1) + k] = element (i, i - k) of the normal matrix */
    memset(A, 0, (size_t)nz * (size_t)(K + 1) * sizeof *A);
    memset(rhs, 0, (size_t)nz * sizeof *rhs);
    for (int64_t b = 1; b < nz; b++)
        for (int j = 1; j <= K && j <= b; j++) {
            int64_t a = b - j, o = b * K + (j - 1);
            double w = wt[o], d = obs[2 * o + axis];
            if (!(w > 0)) continue;
            A[b * (K + 1)] += w;
            A[a * (K + 1)] += w;
            A[b * (K + 1) + j] -= w;
            rhs[b] += w * d;
            rhs[a] -= w * d;
        }
    /* s_ref = 0: its row and column become the identity */
    for (int k = 1; k <= K; k++) {
        A[ref * (K + 1) + k] = 0;
        if (ref + k < nz) A[(ref + k) * (K + 1) + k] = 0;
    }
    A[ref * (K + 1)] = 1;
    rhs[ref] = 0;
    /* Cholesky: L stored over A */
    for (int64_t i = 0; i < nz; i++) {
        for (int k = K; k >= 0; k--) {
            int64_t jj = i - k;
            if (jj < 0) continue;
            double sum = A[i * (K + 1) + k];
            for (int m = k + 1; m <= K; m++) { /* sum over columns c = i - m of L(i, c) L(jj, c), c >= jj - K */
                int64_t c = i - m;
                if (c < 0 || jj - c > K) continue;
                sum -= A[i * (K + 1) + m] * A[jj * (K + 1) + (jj - c)];
            }
            if (k == 0) {
                if (!(sum > 0)) return -1;
                A[i * (K + 1)] = sqrt(sum);
            } else {
                A[i * (K + 1) + k] = sum / A[jj * (K + 1)];
            }
        }
    }
    for (int64_t i = 0; i < nz; i++) { /* L y = rhs */
        double sum = rhs[i];
        for (int k = 1; k <= K && k <= i; k++) sum -= A[i * (K + 1) + k] * rhs[i - k];
        rhs[i] = sum / A[i * (K + 1)];
    }
    for (int64_t i = nz - 1; i >= 0; i--) { /* L^T x = y */
        double sum = rhs[i];
        for (int k = 1; k <= K && i + k < nz; k++) sum -= A[(i + k) * (K + 1) + k] * rhs[i + k];
        rhs[i] = sum / A[i * (K + 1)];
    }
    return 0;
}

/* Work items: chunks of consecutive pairs, about 4 per thread (balance under load) and at least CHUNK_MIN pairs (a
 * chunk transforms the slices before its first pair once more than its neighbour chunk does). A slice's spectrum
 * is the same whichever thread computes it (one plan, the same alignment), so the chunking does not change the
 * results: they are bit-identical for any thread count. */
#define CHUNK_MIN 4

static int64_t chunk_size(int64_t items, int nt, int64_t min)
{
    int64_t c = (items + 4 * (int64_t)nt - 1) / (4 * (int64_t)nt);
    return c < min ? min : c;
}

/* K-neighbour sequential mode: for every slice z >= 1 and j = 1..min(K, z), the shift of z relative to z - j into
 * obs[2 (z K + j - 1)], weight 1 / j into owt (0 where the pair gave no peak); qual[z] = the quality of pair (z-1, z).
 * Chunks of target slices, each transforming its K predecessors again (see chunk_size). */
static tg_status register_multi(tg_ctx *ctx, const reg_plan *P, int K, float *work, double *obs, double *owt, double *qual)
{
    int nt = ctx->nthreads > 0 ? ctx->nthreads : 1;
    int64_t nz = P->in->dims[2], items = nz - 1, csz = chunk_size(items, nt, CHUNK_MIN * K), nchunks = (items + csz - 1) / csz;
    for (int64_t i = 0; i < nz * K; i++) owt[i] = 0;
    qual[0] = 1;
    #pragma omp parallel for schedule(dynamic, 1) num_threads(nt)
    for (int64_t c = 0; c < nchunks; c++) {
        if (tg_cancelled(ctx)) continue;
        tg_progress(ctx, (double)c / (double)nchunks, "register");
        float *W = work + (size_t)tg_thread_num() * P->per_thread;
        float *real = align64(W), *row = align64(real + P->real_sz);
        fftwf_complex *ring = (fftwf_complex *)align64(row + P->in->dims[0]);
        fftwf_complex *R = (fftwf_complex *)((float *)ring + (size_t)(K + 1) * P->cplx_sz);
        fftwf_complex *T = (fftwf_complex *)((float *)R + P->cplx_sz);
#define SLOT(z) ((fftwf_complex *)((float *)ring + (size_t)((z) % (K + 1)) * P->cplx_sz))
        int64_t z0 = 1 + c * csz, z1 = z0 + csz < nz ? z0 + csz : nz;
        for (int64_t z = z0 - K < 0 ? 0 : z0 - K; z < z0; z++) spectrum(P, z, real, row, SLOT(z));
        for (int64_t z = z0; z < z1 && !tg_cancelled(ctx); z++) {
            spectrum(P, z, real, row, SLOT(z));
            for (int j = 1; j <= K && j <= z; j++) {
                double q, *d = obs + 2 * (z * K + j - 1);
                estimate(P, SLOT(z - j), SLOT(z), real, R, T, d, &q);
                owt[z * K + j - 1] = q > 0 && isfinite(d[0]) && isfinite(d[1]) ? 1.0 / j : 0;
                if (j == 1) qual[z] = q;
            }
        }
#undef SLOT
    }
    if (tg_cancelled(ctx)) return tg_fail(ctx, TG_ERR_CANCELLED, "filter.register: cancelled");
    return TG_OK;
}

/* tg_register, or (pairs != NULL, sequential mode, K = 1) only the pair shifts of consecutive slices and their
 * qualities into pairs[2 (nz - 1)] and pairq[nz - 1], without chaining them. */
static tg_status register_run(tg_ctx *ctx, const tg_volume *in, const tg_register_opts *o, double *shifts, double *quality,
                              double *pairs, double *pairq)
{
    tg_status st;
    int64_t lo[2], hi[2];
    if ((st = check_register(ctx, in, o, lo, hi))) return st;
    int64_t nz = in->dims[2], ref = o->reference;
    int nt = ctx->nthreads > 0 ? ctx->nthreads : 1;
    int K = o->mode == TG_REGISTER_SEQUENTIAL ? o->neighbours : 1;
    if (K > nz - 1) K = nz > 1 ? (int)(nz - 1) : 1;
    reg_plan P;
    memset(&P, 0, sizeof P);
    P.in = in;
    P.x0 = lo[0]; P.y0 = lo[1]; P.w = hi[0] - lo[0]; P.h = hi[1] - lo[1]; P.nf = P.w / 2 + 1;
    P.subpixel = o->subpixel;
    P.whiten = (float)o->whiten;
    /* multiples of 16 floats: buffers laid end to end stay 64-byte aligned, as FFTW's plans were made */
    P.real_sz = ((size_t)(P.w * P.h) + 15) / 16 * 16 + 16;
    P.cplx_sz = (2 * (size_t)(P.h * P.nf) + 15) / 16 * 16 + 16;
    /* per thread: the ROI, a row, K + 1 slice spectra (a ring), the cross-power and its copy */
    P.per_thread = P.real_sz + (size_t)in->dims[0] + 16 + (size_t)(K + 3) * P.cplx_sz + 16;
    float *work = NULL, *fixed = NULL, *refspec = NULL;
    double *pair = NULL, *qual = NULL, *obs = NULL, *owt = NULL, *band = NULL;
    work = tg_malloc_large((size_t)nt * P.per_thread * sizeof(float));
    fixed = tg_malloc(((size_t)(P.w + P.h) + (size_t)(P.h * P.nf)) * sizeof(float));
    P.kx_end = tg_malloc((size_t)P.h * sizeof *P.kx_end);
    pair = tg_malloc((size_t)(2 * nz) * sizeof *pair);
    qual = tg_malloc((size_t)nz * sizeof *qual);
    if (o->mode != TG_REGISTER_SEQUENTIAL) refspec = tg_malloc((P.cplx_sz + 16) * sizeof(float));
    if (K > 1) {
        obs = tg_malloc((size_t)(2 * nz * K) * sizeof *obs);
        owt = tg_malloc((size_t)(nz * K) * sizeof *owt);
        band = tg_malloc((size_t)(nz * (K + 1)) * sizeof *band);
    }
    if (!work || !fixed || !P.kx_end || !pair || !qual || (o->mode != TG_REGISTER_SEQUENTIAL && !refspec) || (K > 1 && (!obs || !owt || !band))) {
        st = tg_fail(ctx, TG_ERR_NOMEM, "filter.register: out of memory");
        goto done;
    }
    P.win_x = fixed;
    P.win_y = fixed + P.w;
    P.weight = fixed + P.w + P.h;
    for (int64_t x = 0; x < P.w; x++) P.win_x[x] = o->window ? (float)(0.5 - 0.5 * cos(TWO_PI * (x + 0.5) / (double)P.w)) : 1.0f;
    for (int64_t y = 0; y < P.h; y++) P.win_y[y] = o->window ? (float)(0.5 - 0.5 * cos(TWO_PI * (y + 0.5) / (double)P.h)) : 1.0f;
    P.wsum = 0;
    for (int64_t ky = 0; ky < P.h; ky++)
        for (int64_t kx = 0; kx < P.nf; kx++) {
            double kys = (double)(ky <= P.h / 2 ? ky : ky - P.h);
            double f2 = (kx * 2.0 / P.w) * (kx * 2.0 / P.w) + (kys * 2.0 / P.h) * (kys * 2.0 / P.h); /* (f / f_nyq)^2 */
            /* the Gaussian low-pass is cut at 3 sigma (weights below 0.011): the cross-power and Newton skip the rest */
            double wgt = o->lowpass > 0 ? (f2 <= 9 * o->lowpass * o->lowpass ? exp(-0.5 * f2 / (o->lowpass * o->lowpass)) : 0) : 1.0;
            if ((o->ignore_axes && (kx == 0 || ky == 0)) || 2 * kx == P.w || 2 * ky == P.h) wgt = 0; /* Nyquist: ambiguous */
            if (kx == 0 && ky == 0) wgt = 0; /* the mean */
            P.weight[ky * P.nf + kx] = (float)wgt;
            P.wsum += (kx == 0 || 2 * kx == P.w ? 1.0 : 2.0) * wgt;
        }
    for (int64_t ky = 0; ky < P.h; ky++) {
        int64_t e = P.nf;
        while (e > 0 && P.weight[ky * P.nf + e - 1] == 0) e--;
        P.kx_end[ky] = e;
    }
    {
        float *a = align64(work), *row = align64(a + P.real_sz);
        fftwf_complex *A = (fftwf_complex *)align64(row + in->dims[0]);
        P.fwd = fftwf_plan_dft_r2c_2d((int)P.h, (int)P.w, a, A, FFTW_ESTIMATE);
        P.inv = fftwf_plan_dft_c2r_2d((int)P.h, (int)P.w, A, a, FFTW_ESTIMATE);
        if (!P.fwd || !P.inv) { st = tg_fail(ctx, TG_ERR_NOMEM, "filter.register: FFTW could not plan the transforms"); goto done; }
        P.half = o->lowpass > 0 && o->lowpass <= 0.35 && P.w % 4 == 0 && P.h % 4 == 0 && P.w >= 16 && P.h >= 16;
        if (P.half) {
            P.w2 = P.w / 2; P.h2 = P.h / 2; P.nf2 = P.w2 / 2 + 1;
            P.inv_half = fftwf_plan_dft_c2r_2d((int)P.h2, (int)P.w2, A, a, FFTW_ESTIMATE);
            if (!P.inv_half) { st = tg_fail(ctx, TG_ERR_NOMEM, "filter.register: FFTW could not plan the transforms"); goto done; }
        }
        if (o->mode != TG_REGISTER_SEQUENTIAL) { /* the reference's spectrum, once */
            spectrum(&P, ref, a, row, (fftwf_complex *)align64(refspec));
        }
    }
    /* sequential: pair k is slice k + 1 relative to slice k (k = 0 .. nz - 2), in chunks of csz consecutive pairs,
     * each slice transformed once per chunk; fixed: item k is slice k relative to the reference */
    if (K > 1) {
        st = register_multi(ctx, &P, K, work, obs, owt, qual);
        if (st) goto done;
        for (int a = 0; a < 2; a++) {
            if (solve_banded(nz, K, ref, obs, owt, a, band, pair)) {
                st = tg_fail(ctx, TG_ERR_ARG, "filter.register: the pair equations do not determine the shifts");
                goto done;
            }
            for (int64_t z = 0; z < nz; z++) shifts[2 * z + a] = pair[z];
        }
        /* the quality of slice z: that of its pair with the previous slice (slice 0: its pair with slice 1) */
        qual[0] = nz > 1 ? qual[1] : 1;
        qual[ref] = 1;
        if (quality) memcpy(quality, qual, (size_t)nz * sizeof *qual);
        tg_progress_done(ctx, "register");
        st = TG_OK;
        goto done;
    }
    int64_t items = o->mode == TG_REGISTER_SEQUENTIAL ? nz - 1 : nz, csz = chunk_size(items, nt, CHUNK_MIN), nchunks = (items + csz - 1) / csz;
    double *dk = pair; /* sequential: dk[2k..2k+1] = pair k; fixed: the shift of slice k */
    #pragma omp parallel for schedule(dynamic, 1) num_threads(nt)
    for (int64_t c = 0; c < nchunks; c++) {
        if (tg_cancelled(ctx)) continue;
        tg_progress(ctx, (double)c / (double)nchunks, "register");
        float *W = work + (size_t)tg_thread_num() * P.per_thread;
        float *real = align64(W), *row = align64(real + P.real_sz);
        fftwf_complex *S0 = (fftwf_complex *)align64(row + in->dims[0]);
        fftwf_complex *S1 = (fftwf_complex *)align64((float *)S0 + P.cplx_sz);
        fftwf_complex *R = (fftwf_complex *)align64((float *)S1 + P.cplx_sz);
        fftwf_complex *T = (fftwf_complex *)align64((float *)R + P.cplx_sz);
        int64_t k0 = c * csz, k1 = k0 + csz < items ? k0 + csz : items;
        if (o->mode == TG_REGISTER_SEQUENTIAL) {
            spectrum(&P, k0, real, row, S0);
            for (int64_t k = k0; k < k1 && !tg_cancelled(ctx); k++) {
                spectrum(&P, k + 1, real, row, S1);
                estimate(&P, S0, S1, real, R, T, dk + 2 * k, qual + k);
                fftwf_complex *t = S0; S0 = S1; S1 = t;
            }
        } else {
            const fftwf_complex *Sr = (const fftwf_complex *)align64(refspec);
            for (int64_t k = k0; k < k1 && !tg_cancelled(ctx); k++) {
                if (k == ref) continue;
                spectrum(&P, k, real, row, S1);
                estimate(&P, Sr, S1, real, R, T, dk + 2 * k, qual + k);
            }
        }
    }
    if (tg_cancelled(ctx)) { st = tg_fail(ctx, TG_ERR_CANCELLED, "filter.register: cancelled"); goto done; }
    if (pairs) {
        memcpy(pairs, dk, (size_t)(2 * (nz - 1)) * sizeof *dk);
        memcpy(pairq, qual, (size_t)(nz - 1) * sizeof *qual);
    } else if (o->mode == TG_REGISTER_SEQUENTIAL) {
        tg_register_chain(nz, ref, dk, qual, shifts, qual); /* in place: qual holds the pair qualities */
        if (quality) memcpy(quality, qual, (size_t)nz * sizeof *qual);
    } else {
        shifts[2 * ref] = shifts[2 * ref + 1] = 0;
        for (int64_t z = 0; z < nz; z++)
            if (z != ref) for (int a = 0; a < 2; a++) shifts[2 * z + a] = dk[2 * z + a];
        qual[ref] = 1;
        if (quality) memcpy(quality, qual, (size_t)nz * sizeof *qual);
    }
    tg_progress_done(ctx, "register");
    st = TG_OK;
done:
    if (P.fwd) fftwf_destroy_plan(P.fwd);
    if (P.inv) fftwf_destroy_plan(P.inv);
    if (P.inv_half) fftwf_destroy_plan(P.inv_half);
    tg_free(work);
    tg_free(fixed);
    tg_free(P.kx_end);
    tg_free(refspec);
    tg_free(pair);
    tg_free(qual);
    tg_free(obs);
    tg_free(owt);
    tg_free(band);
    return st;
}

tg_status tg_register(tg_ctx *ctx, const tg_volume *in, const tg_register_opts *o, double *shifts, double *quality)
{
    return register_run(ctx, in, o, shifts, quality, NULL, NULL);
}

tg_status tg_register_pairs(tg_ctx *ctx, const tg_volume *in, const tg_register_opts *o, double *pairs, double *quality)
{
    if (o->mode != TG_REGISTER_SEQUENTIAL || o->neighbours != 1)
        return tg_fail(ctx, TG_ERR_ARG, "filter.register: pair shifts are those of sequential mode with one neighbour");
    if (in->dims[2] < 2) return TG_OK; /* no pair */
    tg_register_opts p = *o;
    p.reference = 0;
    return register_run(ctx, in, &p, NULL, NULL, pairs, quality);
}

void tg_register_chain(int64_t nz, int64_t ref, const double *pairs, const double *pairq, double *shifts, double *quality)
{
    /* outward from the reference: above it slice z moved by pair z - 1 from slice z - 1; below it slice z is slice
     * z + 1 moved back by pair z */
    shifts[2 * ref] = shifts[2 * ref + 1] = 0;
    for (int64_t z = ref + 1; z < nz; z++)
        for (int a = 0; a < 2; a++) shifts[2 * z + a] = shifts[2 * (z - 1) + a] + pairs[2 * (z - 1) + a];
    for (int64_t z = ref - 1; z >= 0; z--)
        for (int a = 0; a < 2; a++) shifts[2 * z + a] = shifts[2 * (z + 1) + a] - pairs[2 * z + a];
    if (!quality) return;
    /* the quality of slice z is that of its pair toward the reference (quality may be pairq itself) */
    for (int64_t z = nz - 1; z > ref; z--) quality[z] = pairq[z - 1];
    for (int64_t z = ref - 1; z >= 0; z--) quality[z] = pairq[z];
    quality[ref] = 1;
}

void tg_register_cost(const tg_register_opts *o, int64_t nx, int64_t ny, int nthreads, tg_cost *c)
{
    int nt = nthreads > 0 ? nthreads : 1;
    int64_t w = o->roi_hi[0] ? o->roi_hi[0] - o->roi_lo[0] : nx, h = o->roi_hi[1] ? o->roi_hi[1] - o->roi_lo[1] : ny;
    int K = o->mode == TG_REGISTER_SEQUENTIAL ? o->neighbours : 1;
    size_t real_sz = ((size_t)(w * h) + 15) / 16 * 16 + 16, cplx_sz = (2 * (size_t)(h * (w / 2 + 1)) + 15) / 16 * 16 + 16;
    size_t per_thread = real_sz + (size_t)nx + 16 + (size_t)(K + 3) * cplx_sz + 16;
    c->halo = o->mode == TG_REGISTER_SEQUENTIAL ? K : 0;
    /* per slice: the pair shifts and qualities (3 doubles, more with K > 1) */
    c->per_voxel = (double)(3 + 4 * K) * sizeof(double) / ((double)nx * (double)ny);
    c->fixed = (int64_t)(((size_t)nt * per_thread + (size_t)(w + h) + (size_t)(h * (w / 2 + 1)) + cplx_sz + 16) * sizeof(float) +
                         (size_t)h * sizeof(int64_t));
}

/* ---- shifting ---- */

int tg_shift_valid_region(const int64_t dims[3], const double *shifts, int invert, int64_t lo[2], int64_t hi[2])
{
    double s = invert ? -1 : 1;
    for (int a = 0; a < 2; a++) {
        double l = 0, u = (double)(dims[a] - 1);
        for (int64_t z = 0; z < dims[2]; z++) {
            double d = s * shifts[2 * z + a];
            if (-d > l) l = -d;
            if ((double)(dims[a] - 1) - d < u) u = (double)(dims[a] - 1) - d;
        }
        lo[a] = (int64_t)ceil(l - 1e-9);
        hi[a] = (int64_t)floor(u + 1e-9) + 1;
        if (hi[a] <= lo[a]) return -1;
    }
    return 0;
}

/* Interpolation taps for a sample at integer i0 + fraction t: 2 (linear) or 4 (cubic, from i0 - 1). */
static int taps(int cubic, double t, double *w)
{
    if (!cubic) { w[0] = 1 - t; w[1] = t; return 2; }
    tg_filter__keys(t, w);
    return 4;
}

static inline int64_t clampi(int64_t i, int64_t n) { return i < 0 ? 0 : i >= n ? n - 1 : i; }

tg_status tg_shift(tg_ctx *ctx, const tg_volume *in, const double *shifts, const tg_shift_opts *o, tg_volume *out)
{
    tg_status st;
    float *work = NULL;
    tg_volume res;
    tg_volume_init(&res);
    if (out != in) tg_volume_init(out);
    if ((st = tg_filter__check_volume(ctx, in, "filter.shift"))) return st;
    if (o->interpolation != TG_SHIFT_LINEAR && o->interpolation != TG_SHIFT_CUBIC)
        return tg_fail(ctx, TG_ERR_ARG, "filter.shift: unknown interpolation %d", o->interpolation);
    int64_t nx = in->dims[0], ny = in->dims[1], nz = in->dims[2];
    for (int64_t z = 0; z < nz; z++)
        if (!isfinite(shifts[2 * z]) || !isfinite(shifts[2 * z + 1]))
            return tg_fail(ctx, TG_ERR_ARG, "filter.shift: the shift of slice %lld is not a finite number", (long long)z);
    int64_t lo[2] = {0, 0}, hi[2] = {nx, ny};
    if (o->region_hi[0] > 0 || o->region_hi[1] > 0) {
        for (int a = 0; a < 2; a++) {
            lo[a] = o->region_lo[a];
            hi[a] = o->region_hi[a];
            if (lo[a] < 0 || hi[a] > in->dims[a] || hi[a] <= lo[a])
                return tg_fail(ctx, TG_ERR_RANGE, "filter.shift: the region [%lld, %lld) along %c is outside the slice "
                               "(0..%lld) or empty", (long long)lo[a], (long long)hi[a], "xy"[a], (long long)in->dims[a]);
        }
    } else if (o->crop && tg_shift_valid_region(in->dims, shifts, o->invert, lo, hi))
        return tg_fail(ctx, TG_ERR_ARG, "filter.shift: the shifts leave no region valid in every slice (they span more "
                       "than the slice)");
    int64_t dims[3] = {hi[0] - lo[0], hi[1] - lo[1], nz};
    int nt = ctx->nthreads > 0 ? ctx->nthreads : 1;
    size_t per_thread = 6 * (size_t)nx + (size_t)dims[0];
    work = tg_malloc((size_t)nt * per_thread * sizeof *work);
    if (!work) { st = tg_fail(ctx, TG_ERR_NOMEM, "filter.shift: out of memory"); goto done; }
    if ((st = tg_volume_alloc(ctx, dims, in->dtype, in->spacing, &res))) goto done;
    double sgn = o->invert ? -1 : 1;
    int64_t nrows = dims[1] * nz;
    #pragma omp parallel for schedule(static) num_threads(nt)
    for (int64_t row = 0; row < nrows; row++) {
        if (tg_cancelled(ctx)) continue;
        tg_progress(ctx, (double)row / (double)nrows, "shift");
        int64_t oy = row % dims[1], z = row / dims[1], y = oy + lo[1];
        float *T = work + (size_t)tg_thread_num() * per_thread, *src = T, *vert = T + 4 * nx, *dst = T + 6 * nx;
        double dx = sgn * shifts[2 * z], dy = sgn * shifts[2 * z + 1];
        double py = (double)y + dy, wy[4], wx[4];
        int outside_y = py < -1e-9 || py > (double)(ny - 1) + 1e-9;
        if (outside_y && o->fill_nearest) { py = py < 0 ? 0 : (double)(ny - 1); outside_y = 0; }
        if (outside_y) {
            for (int64_t x = 0; x < dims[0]; x++) dst[x] = (float)o->fill;
            tg_filter__store_row(&res, oy, z, dst);
            continue;
        }
        double fy = floor(py);
        int cubic = o->interpolation == TG_SHIFT_CUBIC;
        int ny_t = taps(cubic, py - fy, wy), y0 = cubic ? -1 : 0;
        for (int64_t x = 0; x < nx; x++) vert[x] = 0;
        for (int j = 0; j < ny_t; j++) {
            if (wy[j] == 0) continue;
            tg_filter__load_row(in, clampi((int64_t)fy + y0 + j, ny), z, src);
            for (int64_t x = 0; x < nx; x++) vert[x] += (float)wy[j] * src[x];
        }
        double fxs = floor(dx), t = dx - fxs;
        int nx_t = taps(cubic, t, wx), x0 = cubic ? -1 : 0;
        for (int64_t ox = 0; ox < dims[0]; ox++) {
            int64_t x = ox + lo[0];
            double px = (double)x + dx;
            if (px < -1e-9 || px > (double)(nx - 1) + 1e-9) {
                if (!o->fill_nearest) { dst[ox] = (float)o->fill; continue; }
                dst[ox] = vert[px < 0 ? 0 : nx - 1];
                continue;
            }
            int64_t base = x + (int64_t)fxs + x0;
            float s = 0;
            for (int i = 0; i < nx_t; i++) s += (float)wx[i] * vert[clampi(base + i, nx)];
            dst[ox] = s;
        }
        tg_filter__store_row(&res, oy, z, dst);
    }
    if (tg_cancelled(ctx)) { st = tg_fail(ctx, TG_ERR_CANCELLED, "filter.shift: cancelled"); goto done; }
    tg_progress_done(ctx, "shift");
    *out = res;
    tg_volume_init(&res);
done:
    tg_volume_release(&res);
    tg_free(work);
    return st;
}

void tg_shift_cost(const tg_shift_opts *o, tg_dtype in, int64_t nx, int64_t ny, int nthreads, tg_cost *c)
{
    (void)o;
    (void)ny;
    int nt = nthreads > 0 ? nthreads : 1;
    c->halo = 0;
    c->per_voxel = (double)tg_dtype_size(in); /* the output: at most the whole frame */
    c->fixed = (int64_t)((size_t)nt * (7 * (size_t)nx) * sizeof(float));
}
