/* tg_register.c — phase-correlation registration and shifting. The manual is at the top of tg_register.h. */
#include "filter/tg_register.h"

#include <complex.h>
#include <fftw3.h>
#include <math.h>
#include <string.h>

#include "filter/tg_gaussian.h" /* row helpers */

#ifdef _OPENMP
#include <omp.h>
#endif

#define TWO_PI 6.283185307179586

static inline int thread_id(void)
{
#ifdef _OPENMP
    return omp_get_thread_num();
#else
    return 0;
#endif
}

static inline float *align64(float *p) { return (float *)(((uintptr_t)p + 63) & ~(uintptr_t)63); }

typedef struct reg_plan {
    const tg_volume *in;
    int64_t x0, y0, w, h, nf; /* ROI and the number of x frequencies (w/2 + 1) */
    fftwf_plan fwd, inv;
    float *win_x, *win_y, *weight; /* window along x and y; spectral weight (h x nf), 0 where dropped */
    double wsum;                   /* sum of the weight over the full spectrum */
    int subpixel;
    float whiten;             /* exponent of the magnitude normalisation: 1 phase correlation, 0 plain */
    size_t real_sz, cplx_sz, per_thread; /* floats */
} reg_plan;

/* ROI of slice z, mean removed, windowed, into dst (h x w); row: nx floats of scratch */
static void load_roi(const reg_plan *P, int64_t z, float *dst, float *row)
{
    double sum = 0;
    for (int64_t y = 0; y < P->h; y++) {
        tg_filter_load_row(P->in, P->y0 + y, z, row);
        memcpy(dst + y * P->w, row + P->x0, (size_t)P->w * sizeof *dst);
        for (int64_t x = 0; x < P->w; x++) sum += dst[y * P->w + x];
    }
    float mean = (float)(sum / (double)(P->w * P->h));
    for (int64_t y = 0; y < P->h; y++)
        for (int64_t x = 0; x < P->w; x++) {
            float v = dst[y * P->w + x];
            dst[y * P->w + x] = v == v ? (v - mean) * P->win_x[x] * P->win_y[y] : 0.0f; /* NaN counts as the mean */
        }
}

/* c(d) and its derivatives on the continuous correlation surface; R: h x nf weighted cross-power spectrum */
static void surface(const reg_plan *P, const fftwf_complex *R, double dx, double dy, double *c, double g[2], double H[3])
{
    int64_t w = P->w, h = P->h, nf = P->nf;
    double sc = 0, gx = 0, gy = 0, hxx = 0, hyy = 0, hxy = 0;
    /* explicit real arithmetic: C's complex multiply calls a NaN-safe library routine per product */
    double exr[nf > 0 ? nf : 1], exi[nf > 0 ? nf : 1];
    for (int64_t kx = 0; kx < nf; kx++) {
        double hw = (kx == 0 || 2 * kx == w) ? 1.0 : 2.0, ph = TWO_PI * (double)kx * dx / (double)w;
        exr[kx] = hw * cos(ph);
        exi[kx] = hw * sin(ph);
    }
    for (int64_t ky = 0; ky < h; ky++) {
        double kys = (double)(ky <= h / 2 ? ky : ky - h);
        const float *r = (const float *)(R + ky * nf); /* interleaved re, im */
        double s0r = 0, s0i = 0, s1r = 0, s1i = 0, s2r = 0, s2i = 0;
        for (int64_t kx = 0; kx < nf; kx++) {
            double rr = r[2 * kx], ri = r[2 * kx + 1];
            double tr = rr * exr[kx] - ri * exi[kx], ti = rr * exi[kx] + ri * exr[kx], k = (double)kx;
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

/* Shift of slice b relative to slice a (content of a appears at +d in b) and the correlation peak height. */
static void estimate(const reg_plan *P, int64_t za, int64_t zb, float *W, double d[2], double *quality)
{
    int64_t w = P->w, h = P->h, nf = P->nf, n = w * h;
    float *a = align64(W), *b = align64(a + P->real_sz), *row = align64(b + P->real_sz);
    fftwf_complex *A = (fftwf_complex *)align64(row + P->in->dims[0]), *B = (fftwf_complex *)align64((float *)(A) + P->cplx_sz);
    load_roi(P, za, a, row);
    load_roi(P, zb, b, row);
    fftwf_execute_dft_r2c(P->fwd, a, A);
    fftwf_execute_dft_r2c(P->fwd, b, B);
    float *fa = (float *)A, *fb = (float *)B; /* interleaved re, im; real arithmetic (see surface) */
    for (int64_t k = 0; k < h * nf; k++) {
        float ar = fa[2 * k], ai = fa[2 * k + 1], br = fb[2 * k], bi = fb[2 * k + 1];
        float cr = br * ar + bi * ai, ci = bi * ar - br * ai, m = sqrtf(cr * cr + ci * ci);
        float g = m > 1e-30f ? P->weight[k] / (P->whiten == 1 ? m : P->whiten == 0 ? 1.0f : powf(m, P->whiten)) : 0.0f;
        fa[2 * k] = cr * g;
        fa[2 * k + 1] = ci * g;
    }
    memcpy(B, A, (size_t)(h * nf) * sizeof *B); /* c2r destroys its input */
    fftwf_execute_dft_c2r(P->inv, B, a);
    int64_t best = 0;
    for (int64_t i = 1; i < n; i++)
        if (a[i] > a[best]) best = i;
    int64_t ix = best % w, iy = best / w;
    double dx = (double)(ix > w / 2 ? ix - w : ix), dy = (double)(iy > h / 2 ? iy - h : iy);
    *quality = P->wsum > 0 ? a[best] / P->wsum : 0;
    if (P->subpixel) {
        double c, g[2], H[3];
        for (int it = 0; it < 30; it++) {
            surface(P, A, dx, dy, &c, g, H);
            double det = H[0] * H[1] - H[2] * H[2], sx, sy;
            if (H[0] < 0 && det > 0) {
                sx = -(H[1] * g[0] - H[2] * g[1]) / det;
                sy = -(H[0] * g[1] - H[2] * g[0]) / det;
            } else { /* not concave here: a small gradient step */
                sx = g[0] > 0 ? 0.1 : -0.1;
                sy = g[1] > 0 ? 0.1 : -0.1;
            }
            if (sx > 0.5) sx = 0.5;
            if (sx < -0.5) sx = -0.5;
            if (sy > 0.5) sy = 0.5;
            if (sy < -0.5) sy = -0.5;
            dx += sx;
            dy += sy;
            if (fabs(sx) < 1e-7 && fabs(sy) < 1e-7) break;
        }
        *quality = P->wsum > 0 ? c / P->wsum : 0;
    }
    d[0] = dx;
    d[1] = dy;
}

static tg_status check_register(tg_ctx *ctx, const tg_volume *in, const tg_register_opts *o, int64_t lo[2], int64_t hi[2])
{
    tg_status st;
    if ((st = tg_filter_check_volume(ctx, in, "filter.register"))) return st;
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
    return TG_OK;
}

tg_status tg_register(tg_ctx *ctx, const tg_volume *in, const tg_register_opts *o, double *shifts, double *quality)
{
    tg_status st;
    int64_t lo[2], hi[2];
    if ((st = check_register(ctx, in, o, lo, hi))) return st;
    int64_t nz = in->dims[2], ref = o->reference;
    int nt = ctx->nthreads > 0 ? ctx->nthreads : 1;
    reg_plan P;
    memset(&P, 0, sizeof P);
    P.in = in;
    P.x0 = lo[0]; P.y0 = lo[1]; P.w = hi[0] - lo[0]; P.h = hi[1] - lo[1]; P.nf = P.w / 2 + 1;
    P.subpixel = o->subpixel;
    P.whiten = (float)o->whiten;
    P.real_sz = (size_t)(P.w * P.h) + 16;
    P.cplx_sz = 2 * (size_t)(P.h * P.nf) + 16;
    P.per_thread = 2 * P.real_sz + (size_t)in->dims[0] + 16 + 2 * P.cplx_sz + 32;
    float *work = NULL, *fixed = NULL;
    double *pair = NULL, *qual = NULL;
    work = tg_malloc((size_t)nt * P.per_thread * sizeof(float));
    fixed = tg_malloc(((size_t)(P.w + P.h) + (size_t)(P.h * P.nf)) * sizeof(float));
    pair = tg_malloc((size_t)(2 * nz) * sizeof *pair);
    qual = tg_malloc((size_t)nz * sizeof *qual);
    if (!work || !fixed || !pair || !qual) { st = tg_fail(ctx, TG_ERR_NOMEM, "filter.register: out of memory"); goto done; }
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
            double wgt = o->lowpass > 0 ? exp(-0.5 * f2 / (o->lowpass * o->lowpass)) : 1.0;
            if ((o->ignore_axes && (kx == 0 || ky == 0)) || 2 * kx == P.w || 2 * ky == P.h) wgt = 0; /* Nyquist: ambiguous */
            if (kx == 0 && ky == 0) wgt = 0; /* the mean */
            P.weight[ky * P.nf + kx] = (float)wgt;
            P.wsum += (kx == 0 || 2 * kx == P.w ? 1.0 : 2.0) * wgt;
        }
    {
        float *a = align64(work), *b = align64(a + P.real_sz), *row = align64(b + P.real_sz);
        fftwf_complex *A = (fftwf_complex *)align64(row + in->dims[0]);
        P.fwd = fftwf_plan_dft_r2c_2d((int)P.h, (int)P.w, a, A, FFTW_ESTIMATE);
        P.inv = fftwf_plan_dft_c2r_2d((int)P.h, (int)P.w, A, a, FFTW_ESTIMATE);
        if (!P.fwd || !P.inv) { st = tg_fail(ctx, TG_ERR_NOMEM, "filter.register: FFTW could not plan the transforms"); goto done; }
    }
    #pragma omp parallel for schedule(dynamic, 1) num_threads(nt)
    for (int64_t z = 0; z < nz; z++) {
        if (tg_cancelled(ctx) || z == ref) continue;
        tg_progress(ctx, (double)z / (double)nz, "register");
        int64_t za = !o->sequential ? ref : z > ref ? z - 1 : z + 1;
        estimate(&P, za, z, work + (size_t)thread_id() * P.per_thread, pair + 2 * z, qual + z);
    }
    if (tg_cancelled(ctx)) { st = tg_fail(ctx, TG_ERR_CANCELLED, "filter.register: cancelled"); goto done; }
    shifts[2 * ref] = shifts[2 * ref + 1] = 0;
    qual[ref] = 1;
    for (int64_t z = ref + 1; z < nz; z++)
        for (int a = 0; a < 2; a++) shifts[2 * z + a] = pair[2 * z + a] + (o->sequential ? shifts[2 * (z - 1) + a] : 0);
    for (int64_t z = ref - 1; z >= 0; z--)
        for (int a = 0; a < 2; a++) shifts[2 * z + a] = pair[2 * z + a] + (o->sequential ? shifts[2 * (z + 1) + a] : 0);
    if (quality) memcpy(quality, qual, (size_t)nz * sizeof *qual);
    tg_progress_done(ctx, "register");
    st = TG_OK;
done:
    if (P.fwd) fftwf_destroy_plan(P.fwd);
    if (P.inv) fftwf_destroy_plan(P.inv);
    tg_free(work);
    tg_free(fixed);
    tg_free(pair);
    tg_free(qual);
    return st;
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
    const double a = -0.5;
    double s1 = 1 + t, s2 = 1 - t, s3 = 2 - t;
    w[0] = a * s1 * s1 * s1 - 5 * a * s1 * s1 + 8 * a * s1 - 4 * a;
    w[1] = (a + 2) * t * t * t - (a + 3) * t * t + 1;
    w[2] = (a + 2) * s2 * s2 * s2 - (a + 3) * s2 * s2 + 1;
    w[3] = a * s3 * s3 * s3 - 5 * a * s3 * s3 + 8 * a * s3 - 4 * a;
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
    if ((st = tg_filter_check_volume(ctx, in, "filter.shift"))) return st;
    int64_t nx = in->dims[0], ny = in->dims[1], nz = in->dims[2];
    for (int64_t z = 0; z < nz; z++)
        if (!isfinite(shifts[2 * z]) || !isfinite(shifts[2 * z + 1]))
            return tg_fail(ctx, TG_ERR_ARG, "filter.shift: the shift of slice %lld is not a finite number", (long long)z);
    int64_t lo[2] = {0, 0}, hi[2] = {nx, ny};
    if (o->crop && tg_shift_valid_region(in->dims, shifts, o->invert, lo, hi))
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
        float *T = work + (size_t)thread_id() * per_thread, *src = T, *vert = T + 4 * nx, *dst = T + 6 * nx;
        double dx = sgn * shifts[2 * z], dy = sgn * shifts[2 * z + 1];
        double py = (double)y + dy, wy[4], wx[4];
        int outside_y = py < -1e-9 || py > (double)(ny - 1) + 1e-9;
        if (outside_y && o->fill_nearest) { py = py < 0 ? 0 : (double)(ny - 1); outside_y = 0; }
        if (outside_y) {
            for (int64_t x = 0; x < dims[0]; x++) dst[x] = (float)o->fill;
            tg_filter_store_row(&res, oy, z, dst);
            continue;
        }
        double fy = floor(py);
        int ny_t = taps(o->cubic, py - fy, wy), y0 = o->cubic ? -1 : 0;
        for (int64_t x = 0; x < nx; x++) vert[x] = 0;
        for (int j = 0; j < ny_t; j++) {
            if (wy[j] == 0) continue;
            tg_filter_load_row(in, clampi((int64_t)fy + y0 + j, ny), z, src);
            for (int64_t x = 0; x < nx; x++) vert[x] += (float)wy[j] * src[x];
        }
        double fxs = floor(dx), t = dx - fxs;
        int nx_t = taps(o->cubic, t, wx), x0 = o->cubic ? -1 : 0;
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
        tg_filter_store_row(&res, oy, z, dst);
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
