/* tg_flatten.c — divide each slice by its blur. The manual is at the top of tg_flatten.h.
 *
 * Orders 1 and 2, per slice, on a coarse grid of step h (positions p = (i - 1) h, i = 0 .. M - 1, reaching one step past both ends):
 *   row pass (every image row, coarse x):  A_a(y, px) = sum_dx g(dx) dx^a I(px + dx, y),  a = 0, 1, 2
 *   column pass (coarse y, coarse x):      T_ab = sum_dy g(dy) dy^b A_a(py + dy),  (a, b) in the basis below
 * with g(d) = exp(-d^2 / (2 sigma^2)), |d| <= 4 sigma, the sums over pixels inside the slice. The weighted
 * least-squares fit of the basis {1, dx, dy, dx^2, dy^2, dx dy} (order 2; {1, dx, dy} for order 1) solves
 * M c = T with M_(a1 b1)(a2 b2) = Wx_(a1 + a2)(px) Wy_(b1 + b2)(py), W_k(p) = sum_{d inside} g(d) d^k, and B = c_0.
 * The coarse values of B are interpolated to every pixel by Keys cubic convolution (a = -0.5).
 */
#include "filter/tg_flatten.h"

#include <math.h>
#include <string.h>

#include "filter/tg_cubic.h"
#include "filter/tg_gaussian.h"
#include "filter/tg_rows.h"

#ifdef _OPENMP
#include <omp.h>
#endif

/* W_0 .. W_4 of the truncated kernel g[0..r] at position p of an axis of n pixels */
static void moments(const double *g, int r, int64_t n, int64_t p, double W[5])
{
    for (int k = 0; k < 5; k++) W[k] = 0;
    for (int64_t d = -r; d <= r; d++) {
        if (p + d < 0 || p + d >= n) continue;
        double k = g[d < 0 ? -d : d], dd = (double)d;
        W[0] += k;
        W[1] += k * dd;
        W[2] += k * dd * dd;
        W[3] += k * dd * dd * dd;
        W[4] += k * dd * dd * dd * dd;
    }
}

/* Solve the m x m system M c = t (Gaussian elimination, partial pivoting, M and t destroyed); returns c_0, or the
 * order-0 answer t_0 / M_00 if the system is (nearly) singular. */
static double solve_c0(double *M, double *t, int m)
{
    double t0 = t[0], m00 = M[0];
    double scale = 0;
    for (int i = 0; i < m * m; i++) scale = fmax(scale, fabs(M[i]));
    for (int c = 0; c < m; c++) {
        int piv = c;
        for (int r = c + 1; r < m; r++)
            if (fabs(M[r * m + c]) > fabs(M[piv * m + c])) piv = r;
        if (!(fabs(M[piv * m + c]) > 1e-12 * scale)) return m00 != 0 ? t0 / m00 : 0;
        if (piv != c) {
            for (int k = 0; k < m; k++) { double s = M[c * m + k]; M[c * m + k] = M[piv * m + k]; M[piv * m + k] = s; }
            double s = t[c]; t[c] = t[piv]; t[piv] = s;
        }
        for (int r = c + 1; r < m; r++) {
            double f = M[r * m + c] / M[c * m + c];
            for (int k = c; k < m; k++) M[r * m + k] -= f * M[c * m + k];
            t[r] -= f * t[c];
        }
    }
    for (int c = m - 1; c >= 0; c--) {
        double s = t[c];
        for (int k = c + 1; k < m; k++) s -= M[c * m + k] * t[k];
        t[c] = s / M[c * m + c];
    }
    return t[0];
}

/* basis exponents (a, b) of dx^a dy^b */
static const int BA[6] = {0, 1, 0, 2, 0, 1}, BB[6] = {0, 0, 1, 0, 2, 1};

/* Order 0: the plain Gaussian blur with scipy's reflect padding (tg_gaussian), the paper's method. */
static tg_status flatten_blur(tg_ctx *ctx, const tg_volume *in, const tg_flatten_opts *o, tg_volume *out)
{
    tg_status st;
    float *row = NULL;
    tg_volume blur;
    tg_volume_init(&blur);
    int64_t nx = in->dims[0], ny = in->dims[1], nz = in->dims[2];
    int nt = ctx->nthreads > 0 ? ctx->nthreads : 1;
    row = tg_malloc((size_t)nt * (size_t)nx * sizeof *row);
    if (!row) { st = tg_fail(ctx, TG_ERR_NOMEM, "filter.flatten: out of memory"); goto done; }
    tg_gaussian_opts g = TG_GAUSSIAN_OPTS_INIT;
    g.sigma[0] = o->sigma[0];
    g.sigma[1] = o->sigma[1];
    g.sigma[2] = 0;
    g.per_slice = 1;
    if ((st = tg_gaussian(ctx, in, &g, &blur))) goto done;
    #pragma omp parallel for schedule(static) num_threads(nt)
    for (int64_t z = 0; z < nz; z++) {
        if (tg_cancelled(ctx)) continue;
        int tid = tg_thread_num();
        tg_progress(ctx, (double)z / (double)nz, "flatten");
        float *r = row + (size_t)tid * (size_t)nx;
        double sum = 0;
        for (int64_t y = 0; y < ny; y++) {
            tg_filter__load_row(in, y, z, r);
            double s = 0;
            for (int64_t x = 0; x < nx; x++) s += r[x];
            sum += s;
        }
        double mean = sum / (double)(nx * ny), rsum = 0;
        for (int64_t y = 0; y < ny; y++) { /* ratio in / blur, then scaled so the slice keeps its mean */
            tg_filter__load_row(in, y, z, r);
            float *b = (float *)tg_volume_ptr(&blur, 0, y, z);
            double s = 0;
            for (int64_t x = 0; x < nx; x++) {
                b[x] = b[x] != 0 ? (float)((double)r[x] / (double)b[x]) : 0.0f;
                s += b[x];
            }
            rsum += s;
        }
        double scale = rsum != 0 ? mean / (rsum / (double)(nx * ny)) : 0;
        for (int64_t y = 0; y < ny; y++) {
            float *b = (float *)tg_volume_ptr(&blur, 0, y, z);
            for (int64_t x = 0; x < nx; x++) b[x] = (float)(b[x] * scale);
        }
    }
    if (tg_cancelled(ctx)) { st = tg_fail(ctx, TG_ERR_CANCELLED, "filter.flatten: cancelled"); goto done; }
    tg_progress_done(ctx, "flatten");
    *out = blur;
    tg_volume_init(&blur);
done:
    tg_volume_release(&blur);
    tg_free(row);
    return st;
}

tg_status tg_flatten(tg_ctx *ctx, const tg_volume *in, const tg_flatten_opts *o, tg_volume *out)
{
    tg_status st;
    double *work = NULL, *gx = NULL, *gy = NULL, *Wx = NULL, *Wy = NULL;
    tg_volume res;
    tg_volume_init(&res);
    if (out != in) tg_volume_init(out);
    if ((st = tg_filter__check_volume(ctx, in, "filter.flatten"))) return st;
    for (int a = 0; a < 2; a++)
        if (!(o->sigma[a] > 0) || !isfinite(o->sigma[a]) || o->sigma[a] > 1e6)
            return tg_fail(ctx, TG_ERR_ARG, "filter.flatten: sigma along %c must be a positive number, got %g",
                           "xy"[a], o->sigma[a]);
    if (o->order < 0 || o->order > 2)
        return tg_fail(ctx, TG_ERR_ARG, "filter.flatten: order must be 0 (Gaussian blur), 1 (local linear) or 2 (local "
                       "quadratic), got %d", o->order);
    if (o->order == 0) return flatten_blur(ctx, in, o, out);
    int64_t nx = in->dims[0], ny = in->dims[1], nz = in->dims[2], npx = nx * ny;
    int nt = ctx->nthreads > 0 ? ctx->nthreads : 1;
    if (nt > nz) nt = (int)nz;
    int m = o->order == 2 ? 6 : 3;
    int rx = (int)fmin(4.0 * o->sigma[0] + 0.5, (double)(2 * nx)), ry = (int)fmin(4.0 * o->sigma[1] + 0.5, (double)(2 * ny));
    if (rx < 1) rx = 1;
    if (ry < 1) ry = 1;
    int64_t hx = (int64_t)(o->sigma[0] / 8), hy = (int64_t)(o->sigma[1] / 8);
    if (hx < 1) hx = 1;
    if (hy < 1) hy = 1;
    int64_t Mx = (nx - 1) / hx + 5, My = (ny - 1) / hy + 5; /* positions -h .. past the end, Keys' 4 taps inside */
    /* per thread: A_0..A_2 (ny x Mx), T (6 x Mx), the coarse B (My x Mx), a row of input */
    size_t per_thread = 3 * (size_t)(ny * Mx) + 6 * (size_t)Mx + (size_t)(My * Mx) + (size_t)nx + 8;
    work = tg_malloc_large((size_t)nt * per_thread * sizeof *work);
    gx = tg_malloc((size_t)(rx + 1) * sizeof *gx);
    gy = tg_malloc((size_t)(ry + 1) * sizeof *gy);
    Wx = tg_malloc((size_t)(5 * Mx) * sizeof *Wx);
    Wy = tg_malloc((size_t)(5 * My) * sizeof *Wy);
    if (!work || !gx || !gy || !Wx || !Wy) {
        st = tg_fail(ctx, TG_ERR_NOMEM, "filter.flatten: out of memory for the work buffers");
        goto done;
    }
    for (int d = 0; d <= rx; d++) gx[d] = exp(-0.5 * (double)d * d / (o->sigma[0] * o->sigma[0]));
    for (int d = 0; d <= ry; d++) gy[d] = exp(-0.5 * (double)d * d / (o->sigma[1] * o->sigma[1]));
    for (int64_t i = 0; i < Mx; i++) moments(gx, rx, nx, (i - 1) * hx, Wx + 5 * i);
    for (int64_t j = 0; j < My; j++) moments(gy, ry, ny, (j - 1) * hy, Wy + 5 * j);
    if ((st = tg_volume_alloc(ctx, in->dims, TG_F32, in->spacing, &res))) goto done;
    #pragma omp parallel for schedule(dynamic, 1) num_threads(nt)
    for (int64_t z = 0; z < nz; z++) {
        if (tg_cancelled(ctx)) continue;
        int tid = tg_thread_num();
        tg_progress(ctx, (double)z / (double)nz, "flatten");
        double *A = work + (size_t)tid * per_thread, *T = A + 3 * (size_t)(ny * Mx), *C = T + 6 * (size_t)Mx;
        float *row = (float *)(C + (size_t)(My * Mx));
        double sum = 0;
        for (int64_t y = 0; y < ny; y++) { /* row pass at the coarse x positions; the slice's mean */
            tg_filter__load_row(in, y, z, row);
            double s = 0;
            for (int64_t x = 0; x < nx; x++) s += row[x];
            sum += s;
            double *a0 = A + y * Mx, *a1 = a0 + ny * Mx, *a2 = a1 + ny * Mx;
            for (int64_t i = 0; i < Mx; i++) {
                int64_t px = (i - 1) * hx, d0 = -px > -rx ? -px : -rx, d1 = nx - 1 - px < rx ? nx - 1 - px : rx;
                double s0 = 0, s1 = 0, s2 = 0;
                for (int64_t d = d0; d <= d1; d++) {
                    double v = gx[d < 0 ? -d : d] * row[px + d], dd = (double)d;
                    s0 += v;
                    s1 += v * dd;
                    s2 += v * dd * dd;
                }
                a0[i] = s0;
                a1[i] = s1;
                a2[i] = s2;
            }
        }
        for (int64_t j = 0; j < My; j++) { /* column pass and the fit at each coarse point */
            int64_t py = (j - 1) * hy, d0 = -py > -ry ? -py : -ry, d1 = ny - 1 - py < ry ? ny - 1 - py : ry;
            memset(T, 0, 6 * (size_t)Mx * sizeof *T);
            for (int64_t d = d0; d <= d1; d++) {
                double k = gy[d < 0 ? -d : d], kd = k * (double)d, kdd = kd * (double)d;
                const double *a0 = A + (py + d) * Mx, *a1 = a0 + ny * Mx, *a2 = a1 + ny * Mx;
                for (int64_t i = 0; i < Mx; i++) {
                    T[i] += k * a0[i];                /* (0, 0) */
                    T[Mx + i] += k * a1[i];           /* (1, 0) */
                    T[2 * Mx + i] += kd * a0[i];      /* (0, 1) */
                    T[3 * Mx + i] += k * a2[i];       /* (2, 0) */
                    T[4 * Mx + i] += kdd * a0[i];     /* (0, 2) */
                    T[5 * Mx + i] += kd * a1[i];      /* (1, 1) */
                }
            }
            for (int64_t i = 0; i < Mx; i++) {
                double Mm[36] = {0}, t[6] = {0};
                const double *wx = Wx + 5 * i, *wy = Wy + 5 * j;
                for (int p = 0; p < m; p++) {
                    t[p] = T[p * Mx + i];
                    for (int q = 0; q < m; q++) Mm[p * m + q] = wx[BA[p] + BA[q]] * wy[BB[p] + BB[q]];
                }
                C[j * Mx + i] = solve_c0(Mm, t, m);
            }
        }
        float *dst0 = (float *)tg_volume_ptr(&res, 0, 0, z);
        double rsum = 0;
        for (int64_t y = 0; y < ny; y++) { /* B by Keys interpolation of the coarse grid, ratio in / B */
            double u = (double)y / (double)hy + 1, fy = floor(u), wy[4];
            int64_t j0 = (int64_t)fy - 1;
            tg_filter__keys(u - fy, wy);
            tg_filter__load_row(in, y, z, row);
            float *dst = dst0 + y * nx;
            double s = 0;
            for (int64_t x = 0; x < nx; x++) {
                double v = (double)x / (double)hx + 1, fx = floor(v), wx[4];
                int64_t i0 = (int64_t)fx - 1;
                tg_filter__keys(v - fx, wx);
                double B = 0;
                for (int jj = 0; jj < 4; jj++) {
                    const double *c = C + (j0 + jj) * Mx + i0;
                    B += wy[jj] * (wx[0] * c[0] + wx[1] * c[1] + wx[2] * c[2] + wx[3] * c[3]);
                }
                dst[x] = B != 0 ? (float)((double)row[x] / B) : 0.0f;
                s += dst[x];
            }
            rsum += s;
        }
        double scale = rsum != 0 ? (sum / (double)npx) / (rsum / (double)npx) : 0;
        for (int64_t q = 0; q < npx; q++) dst0[q] = (float)(dst0[q] * scale);
    }
    if (tg_cancelled(ctx)) { st = tg_fail(ctx, TG_ERR_CANCELLED, "filter.flatten: cancelled"); goto done; }
    tg_progress_done(ctx, "flatten");
    *out = res;
    tg_volume_init(&res);
done:
    tg_volume_release(&res);
    tg_free(work);
    tg_free(gx);
    tg_free(gy);
    tg_free(Wx);
    tg_free(Wy);
    return st;
}

void tg_flatten_cost(const tg_flatten_opts *o, int64_t nx, int64_t ny, int nthreads, tg_cost *c)
{
    int nt = nthreads > 0 ? nthreads : 1;
    c->halo = 0;
    if (o->order == 0) { /* the blur is the output; tg_gaussian's work per slice (2D) and a row per thread */
        tg_gaussian_opts g = TG_GAUSSIAN_OPTS_INIT;
        g.sigma[0] = o->sigma[0];
        g.sigma[1] = o->sigma[1];
        g.sigma[2] = 0;
        g.per_slice = 1;
        tg_gaussian_cost(&g, nx, ny, nthreads, c);
        c->fixed += (int64_t)((size_t)nt * (size_t)nx * sizeof(float));
        return;
    }
    int rx = (int)fmin(4.0 * o->sigma[0] + 0.5, (double)(2 * nx)), ry = (int)fmin(4.0 * o->sigma[1] + 0.5, (double)(2 * ny));
    int64_t hx = (int64_t)(o->sigma[0] / 8), hy = (int64_t)(o->sigma[1] / 8);
    if (hx < 1) hx = 1;
    if (hy < 1) hy = 1;
    int64_t Mx = (nx - 1) / hx + 5, My = (ny - 1) / hy + 5;
    size_t per_thread = 3 * (size_t)(ny * Mx) + 6 * (size_t)Mx + (size_t)(My * Mx) + (size_t)nx + 8;
    c->per_voxel = 4.0;
    c->fixed = (int64_t)(((size_t)nt * per_thread + (size_t)(rx + ry + 4) + 5 * (size_t)(Mx + My)) * sizeof(double));
}
