/* tg_flux.c — see tg_flux.h for the manual (equations, conventions, solver, cost, memory, threading).
 *
 * Steps: (1) map labels to conductivity classes and permute the volume so that the transport axis becomes
 * the slowest (z') — the other two keep their order — which makes the inlet and outlet whole planes;
 * (2) remove conducting voxels that do not percolate (tg_components, plus unions across periodic sides);
 * (3) build the operator (class tables, boundary conductances) and the multigrid hierarchy; (4) PCG with
 * reliable updates; (5) currents, sigma_eff, tau; (6) optionally the potential and current-density fields
 * back in the original layout, and the hotspot shares.
 * Conductivities are divided by the largest one and face weights by the transport-axis weight, so the
 * single-precision parts of the solver work with numbers near 1 whatever the units.
 */
#include "transport/tg_flux.h"

#include <float.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/tg_components.h"

/* ---------------------------------------------------------------- labels */

typedef struct lmap {
    int32_t *tab;       /* u8/u16: value -> listed index, -1 if not listed */
    int64_t *svals;     /* i32: sorted listed values */
    int *sidx;          /* i32: their indices */
    int n;
} lmap;

static int lmap_find(const lmap *m, int64_t v)
{
    if (m->tab) return m->tab[v];
    int lo = 0, hi = m->n - 1;
    while (lo <= hi) {
        int mid = (lo + hi) / 2;
        if (m->svals[mid] == v) return m->sidx[mid];
        if (m->svals[mid] < v) lo = mid + 1;
        else hi = mid - 1;
    }
    return -1;
}

static inline int64_t rd(const char *base, tg_dtype dt, int64_t off)
{
    switch (dt) {
    case TG_U8: return ((const uint8_t *)base)[off];
    case TG_U16: return ((const uint16_t *)base)[off];
    default: return ((const int32_t *)base)[off];
    }
}

typedef struct frame {
    int pa[3];          /* original axis of permuted axis k */
    int64_t n[3];       /* permuted dims */
    int64_t st[3];      /* source strides (elements) along the permuted axes */
    int64_t ost[3];     /* strides of a contiguous volume of the original dims along the permuted axes */
    double s[3];        /* permuted spacing */
    const char *base;   /* source element (0,0,0) */
    tg_dtype dt;
} frame;

static void frame_init(const tg_volume *v, int axis, frame *f)
{
    static const int perms[3][3] = {{1, 2, 0}, {0, 2, 1}, {0, 1, 2}};
    const int64_t ostr[3] = {1, v->dims[0], v->dims[0] * v->dims[1]};
    for (int k = 0; k < 3; k++) {
        f->pa[k] = perms[axis][k];
        f->n[k] = v->dims[f->pa[k]];
        f->st[k] = v->strides[f->pa[k]];
        f->ost[k] = ostr[f->pa[k]];
        f->s[k] = v->spacing[f->pa[k]];
    }
    f->base = (const char *)v->buf->data + v->offset;
    f->dt = v->dtype;
}

/* Classes of the permuted volume and per-plane label counts. counts: n[2] x (nl + 1); slot nl counts
 * voxels whose label is not listed, and bad[z] keeps one such value. When only_cls is set, counts only
 * the voxels whose class (already computed) is non-zero and leaves cls unchanged. */
static void classify(tg_ctx *ctx, const frame *f, const lmap *lm, const uint8_t *cls_of, uint8_t *cls,
                     int only_cls, int64_t *counts, int64_t *bad)
{
    const int nl = lm->n;
#pragma omp parallel for schedule(static) num_threads(ctx->nthreads)
    for (int64_t z = 0; z < f->n[2]; z++) {
        int64_t *cnt = counts + (nl + 1) * z;
        memset(cnt, 0, sizeof(int64_t) * (size_t)(nl + 1));
        bad[z] = 0;
        for (int64_t y = 0; y < f->n[1]; y++) {
            uint8_t *crow = cls + f->n[0] * (y + f->n[1] * z);
            const int64_t o = y * f->st[1] + z * f->st[2];
            for (int64_t x = 0; x < f->n[0]; x++) {
                if (only_cls && !crow[x]) continue;
                const int64_t v = rd(f->base, f->dt, o + x * f->st[0]);
                const int k = lmap_find(lm, v);
                if (k < 0) {
                    if (!cnt[nl]) bad[z] = v;
                    cnt[nl]++;
                    if (!only_cls) crow[x] = 0;
                    continue;
                }
                cnt[k]++;
                if (!only_cls) crow[x] = cls_of[k];
            }
        }
    }
}

/* ---------------------------------------------------------------- percolation */

static int64_t uf_find(int64_t *p, int64_t i)
{
    while (p[i] != i) {
        p[i] = p[p[i]];
        i = p[i];
    }
    return i;
}

static void uf_union(int64_t *p, int64_t a, int64_t b)
{
    if (!a || !b) return;
    a = uf_find(p, a);
    b = uf_find(p, b);
    if (a < b) p[b] = a;
    else if (b < a) p[a] = b;
}

/* Clear the classes of conducting voxels whose 6-connected cluster does not touch both plane 0 and plane
 * n[2]-1 (clusters joined across periodic x'/y' sides when periodic). */
static tg_status percolate(tg_ctx *ctx, tg_volume *clsv, int periodic)
{
    tg_volume comp;
    int64_t ncomp = 0, *par = NULL;
    uint8_t *touch = NULL;
    tg_status st;
    tg_volume_init(&comp);
    if ((st = tg_components(ctx, clsv, 6, &comp, &ncomp)) != TG_OK) goto done;
    const int64_t nx = clsv->dims[0], ny = clsv->dims[1], nz = clsv->dims[2], plane = nx * ny;
    const int32_t *lab = (const int32_t *)comp.buf->data;
    uint8_t *cls = (uint8_t *)clsv->buf->data;
    par = tg_malloc(sizeof(int64_t) * (size_t)(ncomp + 1));
    touch = tg_calloc((size_t)(ncomp + 1), 1);
    if (!par || !touch) { st = tg_fail(ctx, TG_ERR_NOMEM, "flux: out of memory for %lld clusters", (long long)ncomp); goto done; }
    for (int64_t i = 0; i <= ncomp; i++) par[i] = i;
    if (periodic) {
        for (int64_t z = 0; z < nz; z++) {
            const int32_t *pl = lab + plane * z;
            if (nx > 1)
                for (int64_t y = 0; y < ny; y++) uf_union(par, pl[nx * y], pl[nx * y + nx - 1]);
            if (ny > 1)
                for (int64_t x = 0; x < nx; x++) uf_union(par, pl[x], pl[nx * (ny - 1) + x]);
        }
    }
    for (int64_t i = 0; i <= ncomp; i++) par[i] = uf_find(par, i);
    for (int64_t i = 0; i < plane; i++) {
        touch[par[lab[i]]] |= 1;
        touch[par[lab[plane * (nz - 1) + i]]] |= 2;
    }
    touch[0] = 0;
    const int64_t count = plane * nz;
#pragma omp parallel for schedule(static) num_threads(ctx->nthreads)
    for (int64_t i = 0; i < count; i++)
        if (touch[par[lab[i]]] != 3) cls[i] = 0;
done:
    tg_free(par);
    tg_free(touch);
    tg_volume_release(&comp);
    return st;
}

/* ---------------------------------------------------------------- hotspots */

/* The sum of the k largest values of a (reorders a). Deterministic quickselect (median of three). */
static double top_sum(float *a, int64_t n, int64_t k)
{
    if (k <= 0) return 0.0;
    if (k >= n) {
        double s = 0.0;
        for (int64_t i = 0; i < n; i++) s += a[i];
        return s;
    }
    int64_t lo = 0, hi = n - 1, want = k - 1; /* descending order: element `want` */
    while (lo < hi) {
        int64_t mid = lo + (hi - lo) / 2;
        float x = a[lo], y = a[mid], z = a[hi];
        float piv = (x > y) ? ((y > z) ? y : (x > z ? z : x)) : ((x > z) ? x : (y > z ? z : y));
        int64_t i = lo, j = hi;
        while (i <= j) {
            while (a[i] > piv) i++;
            while (a[j] < piv) j--;
            if (i <= j) {
                float t = a[i];
                a[i] = a[j];
                a[j] = t;
                i++;
                j--;
            }
        }
        if (want <= j) hi = j;
        else if (want >= i) lo = i;
        else break;
    }
    double s = 0.0;
    for (int64_t i = 0; i < k; i++) s += a[i];
    return s;
}

/* ---------------------------------------------------------------- the solve */

static double hmean(double a, double b) { return a > 0.0 && b > 0.0 ? 2.0 * a * b / (a + b) : 0.0; }

/* Inlet and outlet currents (normalised units) of the solution x on grid planes 0 and gn2-1. */
static void currents(const tg_mg_fine *F, const double *x, double *iin, double *iout)
{
    const int64_t plane = F->n[0] * F->n[1];
    const double *xl = x + plane * (F->n[2] - 1);
    double a = 0.0, b = 0.0;
    for (int64_t i = 0; i < plane; i++) {
        if (F->gbin[i] != 0.0) a += F->gbin[i] * (1.0 - x[i]);
        if (F->gbout[i] != 0.0) b += F->gbout[i] * xl[i];
    }
    *iin = a;
    *iout = b;
}

static double mismatch_of(double a, double b)
{
    double m = fmax(fabs(a), fabs(b));
    return m > 0.0 ? fabs(a - b) / m : 0.0;
}

/* The largest and smallest non-zero face conductances of the (normalised) operator, boundary faces included. */
static void conductance_range(const tg_mg_fine *F, double *gmin, double *gmax)
{
    const int K = F->ncls;
    *gmin = INFINITY;
    *gmax = 0.0;
    for (int a = 0; a < 3; a++)
        for (int i = 1; i < K * K; i++) {
            const double g = F->lutd[a][i];
            if (g > 0.0) { *gmin = fmin(*gmin, g); *gmax = fmax(*gmax, g); }
        }
    for (int64_t i = 0; i < F->n[0] * F->n[1]; i++) *gmax = fmax(*gmax, fmax(F->gbin[i], F->gbout[i]));
}

static double conductance_span(const tg_mg_fine *F)
{
    double lo, hi;
    conductance_range(F, &lo, &hi);
    return hi / lo;
}

/* The smallest relative residual ||b - A x|| / ||b|| that double precision can show: potentials in [0, 1] held to
 * eps, times the strongest face, over the unknowns. Negligible for cubic voxels (~1e-17); voxels 1e5 times longer
 * along one axis make the other faces 1e10 times stronger and lift it to ~1e-6. */
static double residual_floor(const tg_mg_fine *F, int64_t unknowns, double bn)
{
    double lo, hi;
    conductance_range(F, &lo, &hi);
    return bn > 0.0 ? 4.0 * DBL_EPSILON * hi * sqrt((double)unknowns) / bn : 0.0;
}

/* Sets res->residual and res->mismatch of x; declares convergence (returns 1) when CG has run (ran) and the
 * residual is below tol, or below the rounding floor of double precision (floor_res > tol only for strongly
 * anisotropic voxels), and the currents agree within tol. */
static int floor_converged(const tg_mg_fine *F, double rr_true, double bn, double tol, double floor_res, const double *x,
                           int ran, tg_flux_result *res)
{
    double iin, iout;
    currents(F, x, &iin, &iout);
    res->residual = bn > 0 ? sqrt(rr_true) / bn : 0.0;
    res->mismatch = mismatch_of(iin, iout);
    if (!(ran && res->residual < fmax(tol, floor_res) && res->mismatch < tol)) return 0;
    res->converged = 1;
    if (res->residual >= tol)
        snprintf(res->message, sizeof res->message,
                 "relative residual %.2g: the floor of double precision for faces %.2g times stronger than the weakest "
                 "(anisotropic voxels); the currents agree to %.2g", res->residual, conductance_span(F), res->mismatch);
    return 1;
}

/* PCG with the multigrid preconditioner and reliable updates. x holds the initial guess. */
static tg_status pcg(tg_ctx *ctx, tg_mg *mg, const tg_mg_fine *F, const tg_flux_opts *opt, int64_t cells, double *x,
                     tg_flux_result *res)
{
    tg_status st = TG_OK;
    float *r = tg_calloc((size_t)cells, sizeof(float));
    float *p = tg_calloc((size_t)cells, sizeof(float));
    float *q = tg_calloc((size_t)cells, sizeof(float)); /* A p, then z = B r */
    if (!r || !p || !q) { st = tg_fail(ctx, TG_ERR_NOMEM, "flux: out of memory for the solver vectors (%lld cells)", (long long)cells); goto done; }
    res->solver_bytes += (size_t)cells * (3 * sizeof(float) + sizeof(double));
    const double bn = sqrt(tg_mg_rhs_norm2(mg)), tol = opt->tol;
    const double floor_res = residual_floor(F, tg_mg_unknowns(mg, 0), bn);
    double sr, iin, iout;
    double rr_true = tg_mg_residual(ctx, mg, x, r, &sr);
    const double rr0 = rr_true > 0 ? rr_true : 1.0;
    /* the recurrence aims below target (squared norm); lowered when the currents still disagree */
    double target = 0.25 * tol * tol * bn * bn, rr_check = rr_true, rr = rr_true;
    int it = 0;
    for (;;) {
        currents(F, x, &iin, &iout);
        res->residual = bn > 0 ? sqrt(rr_true) / bn : 0.0;
        res->mismatch = mismatch_of(iin, iout);
        /* never the initial guess alone: CG must have run (unless the guess solves the system exactly) */
        if (res->residual < tol && res->mismatch < tol && (it > 0 || rr_true == 0.0)) { res->converged = 1; break; }
        if (it >= opt->max_iter) break;
        if (res->residual < tol) target = fmin(target, rr_true) * 1e-2;
        /* CG until the recurrence residual is below target or has fallen 1e-3 below the last check */
        tg_mg_precondition(ctx, mg, r, q);
        double rz = tg_mg_dot(ctx, mg, r, q);
        tg_mg_xpby(ctx, mg, q, 0.0, p);
        for (;;) {
            double pq = tg_mg_apply(ctx, mg, p, q);
            if (!(pq > 0.0) || !(rz > 0.0)) break; /* breakdown: recheck the true residual */
            double alpha = rz / pq;
            rr = tg_mg_update(ctx, mg, alpha, p, q, x, r);
            it++;
            double fr = log(rr0 / fmax(rr, 1e-300)) / log(rr0 / fmax(target, 1e-300));
            if (tg_progress(ctx, fmin(fmax(fr, 0.0), 1.0), "flux")) {
                st = tg_fail(ctx, TG_ERR_CANCELLED, "flux: cancelled after %d iterations", it);
                goto done;
            }
            if (rr < target || rr < 1e-6 * rr_check || it >= opt->max_iter) break;
            if (floor_res > tol && it % 25 == 0) { /* near the floor the recurrence may never reach target: look */
                double s_;
                if (floor_converged(F, tg_mg_residual(ctx, mg, x, NULL, &s_), bn, tol, floor_res, x, 1, res)) break;
            }
            tg_mg_precondition(ctx, mg, r, q);
            double rzn = tg_mg_dot(ctx, mg, r, q);
            tg_mg_xpby(ctx, mg, q, rzn / rz, p);
            rz = rzn;
        }
        if (res->converged) break;
        double prev = rr_check;
        rr_true = tg_mg_residual(ctx, mg, x, r, &sr);
        rr_check = rr_true;
        if (!(rr_true < prev)) {
            /* the double-precision residual no longer decreases: report what we have */
            floor_converged(F, rr_true, bn, tol, floor_res, x, it > 0 || rr_true == 0.0, res);
            break;
        }
    }
    res->iterations = it;
    currents(F, x, &iin, &iout);
    if (res->converged && !(iin > 0.0 && iout > 0.0)) res->converged = 0; /* a percolating solve carries current */
done:
    tg_free(r);
    tg_free(p);
    tg_free(q);
    return st;
}

/* Potential of full-volume voxel (x,y,z) in the permuted frame (NaN where no current flows). */
static inline double pot_at(const tg_mg_fine *F, const uint8_t *clsfull, const frame *f, int porespy, const double *x,
                            int64_t xx, int64_t y, int64_t z)
{
    const int64_t plane = f->n[0] * f->n[1], i = xx + f->n[0] * y;
    if (!clsfull[plane * z + i]) return NAN;
    if (!porespy) return x[plane * z + i];
    if (z == 0) return 1.0;
    if (z == f->n[2] - 1) return 0.0;
    return x[plane * (z - 1) + i];
}

static tg_status fields(tg_ctx *ctx, const tg_volume *labels, const frame *f, const uint8_t *cls, const float *lut[3],
                        const tg_mg_fine *F, int porespy, const double *x, double inorm, tg_volume *potential,
                        tg_volume *current, tg_flux_result *res)
{
    tg_status st = TG_OK;
    float *mag = NULL;
    const int64_t n0 = f->n[0], n1 = f->n[1], n2 = f->n[2], plane = n0 * n1;
    const int K = F->ncls;
    const int wx = F->periodic[0] && n0 > 1, wy = F->periodic[1] && n1 > 1;
    float *po = NULL, *cu = NULL;
    if (potential) {
        if ((st = tg_volume_alloc(ctx, labels->dims, TG_F32, labels->spacing, potential)) != TG_OK) goto done;
        po = (float *)potential->buf->data;
    }
    if (current) {
        if ((st = tg_volume_alloc(ctx, labels->dims, TG_F32, labels->spacing, current)) != TG_OK) goto done;
        cu = (float *)current->buf->data;
    }
    /* factor turning a normalised face current along axis a into j / j_mean */
    double fa[3];
    const double A[3] = {f->s[1] * f->s[2], f->s[0] * f->s[2], f->s[0] * f->s[1]};
    for (int a = 0; a < 3; a++) fa[a] = (double)plane * f->s[0] * f->s[1] / (A[a] * inorm);
#pragma omp parallel for schedule(static) num_threads(ctx->nthreads)
    for (int64_t z = 0; z < n2; z++) {
        for (int64_t y = 0; y < n1; y++) {
            for (int64_t xx = 0; xx < n0; xx++) {
                const int64_t i = plane * z + n0 * y + xx;
                const int64_t o = xx * f->ost[0] + y * f->ost[1] + z * f->ost[2];
                const int c = cls[i];
                const double ph = pot_at(F, cls, f, porespy, x, xx, y, z);
                if (po) po[o] = (float)ph;
                if (!cu) continue;
                if (!c) { cu[o] = 0.0f; continue; }
                double j2 = 0.0;
                /* x' and y': average of the two face currents (0 across an insulated side) */
                for (int a = 0; a < 2; a++) {
                    const int64_t na = a == 0 ? n0 : n1, pos = a == 0 ? xx : y;
                    const int wrap = a == 0 ? wx : wy;
                    double fm = 0.0, fp = 0.0;
                    const int64_t pm = pos > 0 ? pos - 1 : (wrap ? na - 1 : -1);
                    const int64_t pp = pos + 1 < na ? pos + 1 : (wrap ? 0 : -1);
                    if (pm >= 0) {
                        const int64_t xm = a == 0 ? pm : xx, ym = a == 0 ? y : pm;
                        const int cm = cls[plane * z + n0 * ym + xm];
                        if (cm) fm = lut[a][cm * K + c] * (pot_at(F, cls, f, porespy, x, xm, ym, z) - ph);
                    }
                    if (pp >= 0) {
                        const int64_t xp = a == 0 ? pp : xx, yp = a == 0 ? y : pp;
                        const int cp = cls[plane * z + n0 * yp + xp];
                        if (cp) fp = lut[a][c * K + cp] * (ph - pot_at(F, cls, f, porespy, x, xp, yp, z));
                    }
                    const double ja = 0.5 * (fm + fp) * fa[a];
                    j2 += ja * ja;
                }
                /* z': faces to the neighbouring planes, or the boundary faces */
                double fm = 0.0, fp = 0.0;
                if (z > 0 && cls[i - plane]) {
                    fm = lut[2][cls[i - plane] * K + c] * (pot_at(F, cls, f, porespy, x, xx, y, z - 1) - ph);
                } else if (z == 0 && !porespy) {
                    fm = F->gbin[n0 * y + xx] * (1.0 - ph);
                }
                if (z + 1 < n2 && cls[i + plane]) {
                    fp = lut[2][c * K + cls[i + plane]] * (ph - pot_at(F, cls, f, porespy, x, xx, y, z + 1));
                } else if (z == n2 - 1 && !porespy) {
                    fp = F->gbout[n0 * y + xx] * ph;
                }
                double jz = porespy && (z == 0 || z == n2 - 1) ? (z == 0 ? fp : fm) : 0.5 * (fm + fp);
                jz *= fa[2];
                j2 += jz * jz;
                cu[o] = (float)sqrt(j2);
            }
        }
    }
    if (cu) {
        /* hotspot shares over the conducting voxels */
        int64_t n = 0;
        for (int64_t i = 0; i < plane * n2; i++) n += cls[i] != 0;
        mag = tg_malloc(sizeof(float) * (size_t)(n + 1));
        if (!mag) { st = tg_fail(ctx, TG_ERR_NOMEM, "flux: out of memory for the hotspot statistics"); goto done; }
        int64_t k = 0;
        for (int64_t z = 0; z < n2; z++)
            for (int64_t y = 0; y < n1; y++)
                for (int64_t xx = 0; xx < n0; xx++)
                    if (cls[plane * z + n0 * y + xx]) mag[k++] = cu[xx * f->ost[0] + y * f->ost[1] + z * f->ost[2]];
        double total = 0.0;
        for (int64_t i = 0; i < n; i++) total += mag[i];
        int64_t k1 = (int64_t)ceil(0.01 * (double)n), k5 = (int64_t)ceil(0.05 * (double)n);
        double s5 = top_sum(mag, n, k5);
        double s1 = top_sum(mag, k5, k1); /* the top k1 lie within the top k5 after the first selection */
        res->hot1 = total > 0 ? s1 / total : NAN;
        res->hot5 = total > 0 ? s5 / total : NAN;
    }
done:
    tg_free(mag);
    if (st != TG_OK) {
        if (potential) tg_volume_release(potential);
        if (current) tg_volume_release(current);
    }
    return st;
}

/* ---------------------------------------------------------------- entry point */

static tg_status check_opts(tg_ctx *ctx, const tg_volume *labels, const tg_flux_opts *o)
{
    if (!labels || !labels->buf) return tg_fail(ctx, TG_ERR_ARG, "flux: no label volume");
    if (labels->dtype != TG_U8 && labels->dtype != TG_U16 && labels->dtype != TG_I32)
        return tg_fail(ctx, TG_ERR_ARG, "flux: labels must be an integer volume (u8, u16 or i32), got %s",
                       tg_dtype_name(labels->dtype));
    if (o->axis < 0 || o->axis > 2) return tg_fail(ctx, TG_ERR_ARG, "flux: axis must be 0 (x), 1 (y) or 2 (z), got %d", o->axis);
    if (!(o->tol > 0.0) || !(o->tol < 1.0)) return tg_fail(ctx, TG_ERR_ARG, "flux: tol must be in (0, 1), got %g", o->tol);
    if (o->max_iter < 1) return tg_fail(ctx, TG_ERR_ARG, "flux: max_iter must be >= 1, got %d", o->max_iter);
    if (o->boundary != TG_FLUX_TAUFACTOR && o->boundary != TG_FLUX_POREPY)
        return tg_fail(ctx, TG_ERR_ARG, "flux: unknown boundary convention %d", o->boundary);
    if (o->fraction != TG_FLUX_TOTAL && o->fraction != TG_FLUX_PERCOLATING)
        return tg_fail(ctx, TG_ERR_ARG, "flux: unknown fraction convention %d", o->fraction);
    if (o->sides != TG_FLUX_INSULATED && o->sides != TG_FLUX_PERIODIC)
        return tg_fail(ctx, TG_ERR_ARG, "flux: unknown sides convention %d", o->sides);
    if (o->nlabels < 1 || !o->labels || !o->sigma) return tg_fail(ctx, TG_ERR_ARG, "flux: no conductivities given");
    for (int k = 0; k < o->nlabels; k++) {
        if (!isfinite(o->sigma[k]) || o->sigma[k] < 0.0)
            return tg_fail(ctx, TG_ERR_ARG, "flux: conductivity of label %g must be finite and >= 0, got %g", o->labels[k], o->sigma[k]);
        if (o->labels[k] != floor(o->labels[k]) || o->labels[k] < (labels->dtype == TG_I32 ? -2147483648.0 : 0.0) ||
            o->labels[k] > tg_dtype_max(labels->dtype))
            return tg_fail(ctx, TG_ERR_ARG, "flux: label %g cannot occur in a %s volume", o->labels[k], tg_dtype_name(labels->dtype));
        for (int j = 0; j < k; j++)
            if (o->labels[j] == o->labels[k]) return tg_fail(ctx, TG_ERR_ARG, "flux: label %g is given twice", o->labels[k]);
    }
    if (o->boundary == TG_FLUX_POREPY && labels->dims[o->axis] < 2)
        return tg_fail(ctx, TG_ERR_ARG, "flux: the porespy boundary convention needs at least 2 voxels along the axis, got %lld",
                       (long long)labels->dims[o->axis]);
    for (int a = 0; a < 3; a++)
        if (!(labels->spacing[a] > 0.0) || !isfinite(labels->spacing[a]))
            return tg_fail(ctx, TG_ERR_ARG, "flux: voxel spacing must be positive, got %g along axis %d", labels->spacing[a], a);
    return TG_OK;
}

static int cmp_i64(const void *a, const void *b)
{
    int64_t x = ((const int64_t *)a)[0], y = ((const int64_t *)b)[0];
    return x < y ? -1 : x > y;
}

tg_status tg_flux(tg_ctx *ctx, const tg_volume *labels, const tg_flux_opts *opt, tg_flux_result *res,
                  double *label_frac_total, double *label_frac_perc, tg_volume *potential, tg_volume *current)
{
    static const tg_flux_opts defaults = TG_FLUX_OPTS_INIT;
    const tg_flux_opts *o = opt ? opt : &defaults;
    tg_status st;
    lmap lm = {0};
    int64_t *counts = NULL, *bad = NULL, *pairs = NULL;
    double *x = NULL, *gbin = NULL, *gbout = NULL, *lutd = NULL;
    float *lutf = NULL;
    tg_volume clsv;
    tg_mg *mg = NULL;
    tg_volume_init(&clsv);
    if (potential) tg_volume_init(potential);
    if (current) tg_volume_init(current);
    memset(res, 0, sizeof *res);
    res->hot1 = res->hot5 = NAN;
    const double t0 = tg_now();
    if ((st = check_opts(ctx, labels, o)) != TG_OK) return st;
    const int nl = o->nlabels;

    /* label lookup */
    lm.n = nl;
    if (labels->dtype == TG_I32) {
        lm.svals = tg_malloc(sizeof(int64_t) * (size_t)nl);
        lm.sidx = tg_malloc(sizeof(int) * (size_t)nl);
        pairs = tg_malloc(sizeof(int64_t) * 2 * (size_t)nl);
        if (!lm.svals || !lm.sidx || !pairs) { st = tg_fail(ctx, TG_ERR_NOMEM, "flux: out of memory"); goto done; }
        for (int k = 0; k < nl; k++) { pairs[2 * k] = (int64_t)o->labels[k]; pairs[2 * k + 1] = k; }
        qsort(pairs, (size_t)nl, 2 * sizeof(int64_t), cmp_i64);
        for (int k = 0; k < nl; k++) { lm.svals[k] = pairs[2 * k]; lm.sidx[k] = (int)pairs[2 * k + 1]; }
    } else {
        size_t ntab = labels->dtype == TG_U8 ? 256 : 65536;
        lm.tab = tg_malloc(sizeof(int32_t) * ntab);
        if (!lm.tab) { st = tg_fail(ctx, TG_ERR_NOMEM, "flux: out of memory"); goto done; }
        for (size_t v = 0; v < ntab; v++) lm.tab[v] = -1;
        for (int k = 0; k < nl; k++) lm.tab[(int64_t)o->labels[k]] = k;
    }

    /* classes: distinct positive conductivities, ascending */
    double csig[256];
    uint8_t cls_of[4096];
    int ncls = 1;
    double sref = 0.0;
    csig[0] = 0.0;
    if (nl > 4096) { st = tg_fail(ctx, TG_ERR_ARG, "flux: at most 4096 labels, got %d", nl); goto done; }
    for (int k = 0; k < nl; k++) sref = fmax(sref, o->sigma[k]);
    for (int k = 0; k < nl; k++) {
        cls_of[k] = 0;
        if (o->sigma[k] <= 0.0) continue;
        int c = 1;
        while (c < ncls && csig[c] != o->sigma[k]) c++;
        if (c == ncls) {
            if (ncls == 256) { st = tg_fail(ctx, TG_ERR_ARG, "flux: at most 255 distinct positive conductivities"); goto done; }
            csig[ncls++] = o->sigma[k];
        }
        cls_of[k] = (uint8_t)c;
    }
    res->sigma_ref = sref;

    frame f;
    frame_init(labels, o->axis, &f);
    const int64_t n0 = f.n[0], n1 = f.n[1], n2 = f.n[2], plane = n0 * n1, N = plane * n2;
    if ((st = tg_volume_alloc(ctx, f.n, TG_U8, f.s, &clsv)) != TG_OK) goto done;
    uint8_t *cls = (uint8_t *)clsv.buf->data;
    counts = tg_malloc(sizeof(int64_t) * (size_t)((nl + 1) * n2));
    bad = tg_malloc(sizeof(int64_t) * (size_t)n2);
    if (!counts || !bad) { st = tg_fail(ctx, TG_ERR_NOMEM, "flux: out of memory"); goto done; }
    classify(ctx, &f, &lm, cls_of, cls, 0, counts, bad);
    for (int64_t z = 0; z < n2; z++)
        if (counts[(nl + 1) * z + nl]) {
            st = tg_fail(ctx, TG_ERR_ARG,
                         "flux: label %lld occurs in the volume but has no conductivity (give it one; 0 for an insulating phase)",
                         (long long)bad[z]);
            goto done;
        }
    double ftot[4096], fpc[4096];
    for (int k = 0; k < nl; k++) {
        int64_t c = 0;
        for (int64_t z = 0; z < n2; z++) c += counts[(nl + 1) * z + k];
        ftot[k] = (double)c / (double)N;
        if (label_frac_total) label_frac_total[k] = ftot[k];
        res->d_mean_total += ftot[k] * o->sigma[k];
        if (o->sigma[k] > 0.0) res->frac_total += ftot[k];
    }

    /* percolation */
    if (ncls > 1 && (st = percolate(ctx, &clsv, o->sides == TG_FLUX_PERIODIC)) != TG_OK) goto done;
    classify(ctx, &f, &lm, cls_of, cls, 1, counts, bad);
    int64_t nperc = 0;
    for (int k = 0; k < nl; k++) {
        int64_t c = 0;
        for (int64_t z = 0; z < n2; z++) c += counts[(nl + 1) * z + k];
        double fp = fpc[k] = (double)c / (double)N;
        if (label_frac_perc) label_frac_perc[k] = fp;
        res->d_mean_percolating += fp * o->sigma[k];
        if (o->sigma[k] > 0.0) { res->frac_percolating += fp; nperc += c; }
    }
    /* the solver works with conductivities divided by the largest one that carries current (snorm), in single
     * precision: contrasts past ~1e30 between conducting labels do not fit; D_mean / snorm avoids the underflow
     * of D_mean itself for tiny (even subnormal) sigmas */
    double snorm = 0.0, smin = INFINITY, dn_total = 0.0, dn_perc = 0.0;
    int kmax = 0, kmin = 0;
    for (int k = 0; k < nl; k++)
        if (fpc[k] > 0.0 && o->sigma[k] > 0.0) {
            if (o->sigma[k] > snorm) { snorm = o->sigma[k]; kmax = k; }
            if (o->sigma[k] < smin) { smin = o->sigma[k]; kmin = k; }
        }
    if (nperc > 0 && smin / snorm < 1e-30) {
        st = tg_fail(ctx, TG_ERR_ARG, "flux: the conductivities of labels %g (%g) and %g (%g) differ by more than 1e30, beyond "
                     "the solver's precision; give the weaker one 0 (insulating) if it should carry no current",
                     o->labels[kmin], smin, o->labels[kmax], snorm);
        goto done;
    }
    for (int k = 0; k < nl && snorm > 0.0; k++) {
        dn_total += ftot[k] * (o->sigma[k] / snorm);
        dn_perc += fpc[k] * (o->sigma[k] / snorm);
    }
    const int porespy = o->boundary == TG_FLUX_POREPY;
    res->length = (porespy ? (double)(n2 - 1) : (double)n2) * f.s[2];
    res->area = (double)n0 * f.s[0] * (double)n1 * f.s[1];
    static const char axname[3] = {'x', 'y', 'z'};
    if (nperc == 0) {
        res->percolates = 0;
        res->converged = 1;
        res->tau = res->tau_total = res->tau_percolating = INFINITY;
        res->sigma_eff = 0.0;
        if (ncls == 1)
            snprintf(res->message, sizeof res->message, "no label has a positive conductivity: nothing conducts");
        else
            snprintf(res->message, sizeof res->message,
                     "the conducting phase does not percolate along %c: no 6-connected path of conducting voxels joins the two faces",
                     axname[o->axis]);
        if (potential || current) {
            if (potential) {
                if ((st = tg_volume_alloc(ctx, labels->dims, TG_F32, labels->spacing, potential)) != TG_OK) goto done;
                float *pp = (float *)potential->buf->data;
                for (int64_t i = 0; i < N; i++) pp[i] = NAN;
            }
            if (current && (st = tg_volume_alloc(ctx, labels->dims, TG_F32, labels->spacing, current)) != TG_OK) goto done;
        }
        res->seconds = tg_now() - t0;
        goto done;
    }
    res->percolates = 1;

    /* the operator: normalised class conductivities and face weights */
    double w[3];
    {
        const double wa[3] = {f.s[1] * f.s[2] / f.s[0], f.s[0] * f.s[2] / f.s[1], f.s[0] * f.s[1] / f.s[2]};
        for (int a = 0; a < 3; a++) w[a] = wa[a] / wa[2];
    }
    const int K = ncls;
    lutf = tg_malloc(sizeof(float) * 3 * (size_t)(K * K));
    lutd = tg_malloc(sizeof(double) * 3 * (size_t)(K * K));
    gbin = tg_calloc((size_t)plane, sizeof(double));
    gbout = tg_calloc((size_t)plane, sizeof(double));
    if (!lutf || !lutd || !gbin || !gbout) { st = tg_fail(ctx, TG_ERR_NOMEM, "flux: out of memory"); goto done; }
    for (int a = 0; a < 3; a++)
        for (int i = 0; i < K; i++)
            for (int j = 0; j < K; j++) {
                double g = w[a] * hmean(csig[i] / snorm, csig[j] / snorm);
                lutd[a * K * K + i * K + j] = g;
                lutf[a * K * K + i * K + j] = (float)g;
            }
    tg_mg_fine F;
    memset(&F, 0, sizeof F);
    F.n[0] = n0;
    F.n[1] = n1;
    F.n[2] = porespy ? n2 - 2 : n2;
    F.periodic[0] = F.periodic[1] = o->sides == TG_FLUX_PERIODIC;
    F.cls = porespy ? cls + plane : cls;
    F.ncls = K;
    for (int a = 0; a < 3; a++) {
        F.lut[a] = lutf + a * K * K;
        F.lutd[a] = lutd + a * K * K;
    }
    F.gbin = gbin;
    F.gbout = gbout;
    const uint8_t *cl0 = cls, *cll = cls + plane * (n2 - 1);
    for (int64_t i = 0; i < plane; i++) {
        if (!porespy) {
            gbin[i] = cl0[i] ? 2.0 * csig[cl0[i]] / snorm : 0.0;
            gbout[i] = cll[i] ? 2.0 * csig[cll[i]] / snorm : 0.0;
        } else {
            gbin[i] = hmean(csig[cl0[i]] / snorm, csig[cl0[plane + i]] / snorm);
            gbout[i] = hmean(csig[cll[i - plane]] / snorm, csig[cll[i]] / snorm);
        }
    }
    double iin = 0.0, iout = 0.0;
    const int64_t gcells = plane * F.n[2];
    if (F.n[2] == 0) {
        /* PoreSpy convention with two layers: the current flows straight from the first layer to the last */
        for (int64_t i = 0; i < plane; i++) iin += gbin[i];
        iout = iin;
        res->converged = 1;
    } else {
        if ((st = tg_mg_build(ctx, &F, &o->solver, &mg)) != TG_OK) goto done;
        res->levels = tg_mg_levels(mg);
        res->unknowns = tg_mg_unknowns(mg, 0);
        res->solver_bytes = tg_mg_bytes(mg);
        x = tg_calloc((size_t)gcells, sizeof(double));
        if (!x) { st = tg_fail(ctx, TG_ERR_NOMEM, "flux: out of memory for the potential (%lld cells)", (long long)gcells); goto done; }
        /* initial guess: the linear potential of a uniform conductor */
        const double nL = porespy ? (double)(n2 - 1) : (double)n2;
        for (int64_t z = 0; z < F.n[2]; z++) {
            const double v = porespy ? 1.0 - (double)(z + 1) / nL : 1.0 - ((double)z + 0.5) / nL;
            for (int64_t i = 0; i < plane; i++)
                if (F.cls[plane * z + i]) x[plane * z + i] = v;
        }
        if ((st = pcg(ctx, mg, &F, o, gcells, x, res)) != TG_OK) goto done;
        currents(&F, x, &iin, &iout);
        tg_mg_free(mg);
        mg = NULL;
    }
    const double inorm = 0.5 * (iin + iout);
    /* physical units: conductance = snorm * (s0 s1 / s2) * normalised conductance. snorm comes last and tau from
     * normalised values: a tiny (even subnormal) sigma underflowed sigma_eff to 0, tau to inf */
    const double geo = f.s[0] * f.s[1] / f.s[2], seff = inorm * (geo * res->length / res->area); /* sigma_eff / snorm */
    res->current_in = iin * geo * snorm;
    res->current_out = iout * geo * snorm;
    res->mismatch = mismatch_of(iin, iout);
    res->sigma_eff = seff * snorm;
    res->tau_total = seff > 0 ? dn_total / seff : INFINITY;
    res->tau_percolating = seff > 0 ? dn_perc / seff : INFINITY;
    res->tau = o->fraction == TG_FLUX_TOTAL ? res->tau_total : res->tau_percolating;
    if (!res->converged)
        snprintf(res->message, sizeof res->message,
                 "not converged after %d iterations: relative residual %.3g, current mismatch %.3g (tol %.3g)",
                 res->iterations, res->residual, res->mismatch, o->tol);
    if (potential || current) {
        const float *lt[3] = {lutf, lutf + K * K, lutf + 2 * K * K};
        double *xx = x;
        double dummy = 0.0;
        if (!xx) xx = &dummy; /* no unknowns: only the two fixed layers have potentials */
        if ((st = fields(ctx, labels, &f, cls, lt, &F, porespy, xx, inorm, potential, current, res)) != TG_OK) goto done;
    }
    res->seconds = tg_now() - t0;
done:
    tg_mg_free(mg);
    tg_free(x);
    tg_free(gbin);
    tg_free(gbout);
    tg_free(lutf);
    tg_free(lutd);
    tg_free(counts);
    tg_free(bad);
    tg_free(pairs);
    tg_free(lm.tab);
    tg_free(lm.svals);
    tg_free(lm.sidx);
    tg_volume_release(&clsv);
    if (st != TG_OK) {
        if (potential) tg_volume_release(potential);
        if (current) tg_volume_release(current);
    }
    return st;
}
