/* tg_cathode.c — the composite-cathode generator. The manual (algorithm, cost, memory, threading) is at the
 * top of tg_cathode.h; this file only adds notes on the parts that are not obvious. */
#include "generate/tg_cathode.h"

#include <float.h>
#include <math.h>
#include <string.h>

#include "core/tg_rng.h"

#ifdef _OPENMP
#include <omp.h>
#endif

/* RNG purpose tags (the stream is tag x item). */
enum { TAG_CAM = 0x43414d, TAG_ISE = 0x495345, TAG_NOISE1 = 0x4e3100, TAG_NOISE2 = 0x4e3200, TAG_CORE = 0x434f52 };

#define BLOCK 8            /* edge of the voxel blocks that share one candidate list */
#define PLACE_TRIES 400    /* placement attempts per CAM particle */
#define RELAX_AFTER 100    /* attempts before the overlap limit starts to relax */

static inline double sq(double a) { return a * a; }

/* ---- a uniform grid over balls (CAM particles or ISE seeds) ---- */

typedef struct bgrid {
    double lo[3], cell;
    int64_t n[3];
    int64_t *head; /* first ball of each cell, -1 if none */
    int64_t *next; /* next ball in the same cell */
    tg_ball *b;
    int64_t nb, cap;
} bgrid;

static tg_status bgrid_init(tg_ctx *ctx, bgrid *g, const double lo[3], const double hi[3], double cell)
{
    memset(g, 0, sizeof *g);
    double vol = 1;
    for (int a = 0; a < 3; a++) vol *= hi[a] - lo[a];
    double minc = cbrt(vol / 2097152.0); /* at most ~2M cells */
    if (cell < minc) cell = minc;
    g->cell = cell;
    int64_t ncell = 1;
    for (int a = 0; a < 3; a++) {
        g->lo[a] = lo[a];
        g->n[a] = (int64_t)ceil((hi[a] - lo[a]) / cell);
        if (g->n[a] < 1) g->n[a] = 1;
        ncell *= g->n[a];
    }
    g->head = tg_malloc((size_t)ncell * sizeof *g->head);
    if (!g->head) return tg_fail(ctx, TG_ERR_NOMEM, "generate: out of memory for a particle grid of %lld cells",
                                 (long long)ncell);
    for (int64_t i = 0; i < ncell; i++) g->head[i] = -1;
    return TG_OK;
}

static void bgrid_free(bgrid *g)
{
    tg_free(g->head);
    tg_free(g->next);
    tg_free(g->b);
    memset(g, 0, sizeof *g);
}

static inline int64_t bgrid_coord(const bgrid *g, int a, double x)
{
    int64_t i = (int64_t)floor((x - g->lo[a]) / g->cell);
    return i < 0 ? 0 : i >= g->n[a] ? g->n[a] - 1 : i;
}

static tg_status bgrid_add(tg_ctx *ctx, bgrid *g, tg_ball b)
{
    if (g->nb == g->cap) {
        int64_t cap = g->cap ? 2 * g->cap : 256;
        tg_ball *nb = tg_realloc(g->b, (size_t)cap * sizeof *nb);
        if (!nb) return tg_fail(ctx, TG_ERR_NOMEM, "generate: out of memory for %lld particles", (long long)cap);
        g->b = nb;
        int64_t *nn = tg_realloc(g->next, (size_t)cap * sizeof *nn);
        if (!nn) return tg_fail(ctx, TG_ERR_NOMEM, "generate: out of memory for %lld particles", (long long)cap);
        g->next = nn;
        g->cap = cap;
    }
    int64_t c = (bgrid_coord(g, 2, b.c[2]) * g->n[1] + bgrid_coord(g, 1, b.c[1])) * g->n[0] + bgrid_coord(g, 0, b.c[0]);
    g->b[g->nb] = b;
    g->next[g->nb] = g->head[c];
    g->head[c] = g->nb;
    g->nb++;
    return TG_OK;
}

/* Cell box [clo, chi] (inclusive) covering the sphere (p, R). Balls outside the grid sit in its edge cells. */
static void bgrid_range(const bgrid *g, const double p[3], double R, int64_t clo[3], int64_t chi[3])
{
    for (int a = 0; a < 3; a++) {
        clo[a] = bgrid_coord(g, a, p[a] - R);
        chi[a] = bgrid_coord(g, a, p[a] + R);
    }
}

#define BGRID_FOREACH(g, clo, chi, k)                                                           \
    for (int64_t cz_ = (clo)[2]; cz_ <= (chi)[2]; cz_++)                                        \
        for (int64_t cy_ = (clo)[1]; cy_ <= (chi)[1]; cy_++)                                    \
            for (int64_t cx_ = (clo)[0]; cx_ <= (chi)[0]; cx_++)                                \
                for (int64_t k = (g)->head[(cz_ * (g)->n[1] + cy_) * (g)->n[0] + cx_]; k >= 0; k = (g)->next[k])

/* ---- step 1: CAM spheres ---- */

typedef struct geom {
    int64_t n[3];
    double s[3], L[3];
    int64_t nvox;
} geom;

/* Count the voxels of ball b that do not hold `value` yet; set them to it if write. */
static int64_t ball_paint(uint8_t *lab, const geom *G, const tg_ball *b, int write, uint8_t value)
{
    const int64_t *n = G->n;
    const double *s = G->s;
    int64_t cnt = 0;
    int64_t klo = (int64_t)ceil((b->c[2] - b->r) / s[2] - 0.5), khi = (int64_t)floor((b->c[2] + b->r) / s[2] - 0.5);
    if (klo < 0) klo = 0;
    if (khi > n[2] - 1) khi = n[2] - 1;
    for (int64_t k = klo; k <= khi; k++) {
        double rz2 = sq(b->r) - sq((k + 0.5) * s[2] - b->c[2]);
        if (rz2 < 0) continue;
        double rz = sqrt(rz2);
        int64_t jlo = (int64_t)ceil((b->c[1] - rz) / s[1] - 0.5), jhi = (int64_t)floor((b->c[1] + rz) / s[1] - 0.5);
        if (jlo < 0) jlo = 0;
        if (jhi > n[1] - 1) jhi = n[1] - 1;
        for (int64_t j = jlo; j <= jhi; j++) {
            double rx2 = rz2 - sq((j + 0.5) * s[1] - b->c[1]);
            if (rx2 < 0) continue;
            double rx = sqrt(rx2);
            int64_t ilo = (int64_t)ceil((b->c[0] - rx) / s[0] - 0.5), ihi = (int64_t)floor((b->c[0] + rx) / s[0] - 0.5);
            if (ilo < 0) ilo = 0;
            if (ihi > n[0] - 1) ihi = n[0] - 1;
            uint8_t *row = lab + (k * n[1] + j) * n[0];
            for (int64_t i = ilo; i <= ihi; i++) {
                if (row[i] != value) {
                    cnt++;
                    if (write) row[i] = value;
                }
            }
        }
    }
    return cnt;
}

/* Count the voxels of ball b that are not CAM yet; set them to CAM if write. */
static int64_t ball_raster(uint8_t *lab, const geom *G, const tg_ball *b, int write)
{
    return ball_paint(lab, G, b, write, TG_CATHODE_CAM);
}

/* Log-normal diameter clipped to [dlo, dhi]. */
static double lognormal_d(tg_rng *r, double d50, double sigma, double dlo, double dhi)
{
    double d = d50 * exp(sigma * tg_rng_normal(r));
    return d < dlo ? dlo : d > dhi ? dhi : d;
}

static void random_unit(tg_rng *r, double u[3])
{
    double z = 2.0 * tg_rng_uniform(r) - 1.0, phi = 6.283185307179586 * tg_rng_uniform(r);
    double q = sqrt(1.0 - z * z);
    u[0] = q * cos(phi);
    u[1] = q * sin(phi);
    u[2] = z;
}

/* Does a ball (c, r) respect the overlap limit ov against every placed ball? */
static int fits(const bgrid *g, const double c[3], double r, double rmax, double ov)
{
    int64_t clo[3], chi[3];
    bgrid_range(g, c, r + rmax, clo, chi);
    BGRID_FOREACH(g, clo, chi, k) {
        const tg_ball *o = &g->b[k];
        double dmin = r + o->r - ov * (r < o->r ? r : o->r);
        if (sq(c[0] - o->c[0]) + sq(c[1] - o->c[1]) + sq(c[2] - o->c[2]) < dmin * dmin) return 0;
    }
    return 1;
}

/* Propose positions for particle of radius r until one fits; returns 1 and the centre, or 0. */
static int propose(const tg_cathode_opts *o, const geom *G, const bgrid *g, tg_rng *rng, double r, double rmax,
                   const bgrid *avoid, double avoid_rmax, double c[3])
{
    for (int a = 0; a < PLACE_TRIES; a++) {
        double ov = o->cam_overlap;
        if (a >= RELAX_AFTER && ov < 1.0) ov += (1.0 - ov) * (a - RELAX_AFTER) / (double)(PLACE_TRIES - RELAX_AFTER);
        if (g->nb > 0 && tg_rng_uniform(rng) < o->cam_clustering) {
            const tg_ball *j = &g->b[(int64_t)(tg_rng_uniform(rng) * (double)g->nb)];
            double u[3];
            random_unit(rng, u);
            double dist = r + j->r - ov * (r < j->r ? r : j->r) * tg_rng_uniform(rng);
            int inside = 1;
            for (int d = 0; d < 3; d++) {
                c[d] = j->c[d] + dist * u[d];
                if (c[d] < -r || c[d] > G->L[d] + r) inside = 0;
            }
            if (!inside) continue;
        } else {
            for (int d = 0; d < 3; d++) c[d] = -r + tg_rng_uniform(rng) * (G->L[d] + 2 * r);
        }
        if (fits(g, c, r, rmax, ov) && (!avoid || fits(avoid, c, r, avoid_rmax, ov))) return 1;
    }
    return 0;
}

/* Shrink the last ball so the CAM count lands as close to target as the lattice allows; returns its count. */
static int64_t fit_last(uint8_t *lab, const geom *G, tg_ball *b, int64_t remaining)
{
    double lo = 0, hi = b->r;
    for (int it = 0; it < 50; it++) {
        tg_ball t = *b;
        t.r = 0.5 * (lo + hi);
        if (ball_raster(lab, G, &t, 0) > remaining) hi = t.r;
        else lo = t.r;
    }
    tg_ball tl = *b, th = *b;
    tl.r = lo;
    th.r = hi;
    int64_t cl = ball_raster(lab, G, &tl, 0), ch = ball_raster(lab, G, &th, 0);
    if (ch - remaining < remaining - cl) { b->r = hi; return ch; }
    b->r = lo;
    return cl;
}

static tg_status place_cam(tg_ctx *ctx, const tg_cathode_opts *o, const geom *G, uint8_t *lab, bgrid *g,
                           const bgrid *cores, double core_rmax, int64_t *cam_count)
{
    double smin = fmin(G->s[0], fmin(G->s[1], G->s[2]));
    double dlo = fmax(o->cam_d50 * exp(-3 * o->cam_sigma), 2 * smin);
    double dhi = fmax(o->cam_d50 * exp(3 * o->cam_sigma), 2 * smin);
    double rmax = 0.5 * dhi;
    double lo[3], hi[3], vext = 1;
    for (int a = 0; a < 3; a++) {
        lo[a] = -rmax;
        hi[a] = G->L[a] + rmax;
        vext *= hi[a] - lo[a];
    }
    tg_status st = bgrid_init(ctx, g, lo, hi, 2 * rmax);
    if (st) return st;
    int64_t target = llround(o->cam_fraction * (double)G->nvox), cam = 0;
    double ev = 3.141592653589793 / 6 * pow(o->cam_d50, 3) * exp(4.5 * sq(o->cam_sigma));
    double limit = 20.0 * o->cam_fraction * vext / ev + 1000.0;
    for (int64_t i = 0; cam < target; i++) {
        if ((double)i > limit)
            return tg_fail(ctx, TG_ERR_ARG, "generate.cathode: cam_fraction=%g could not be reached (%.4f after %lld "
                           "particles); lower cam_fraction or raise cam_overlap", o->cam_fraction,
                           (double)cam / (double)G->nvox, (long long)i);
        if ((i & 63) == 0 && tg_progress(ctx, 0.2 * (double)cam / (double)target, "generate.cathode"))
            return tg_fail(ctx, TG_ERR_CANCELLED, "generate.cathode: cancelled");
        tg_rng rng = tg_rng_make(o->seed, tg_rng_stream(TAG_CAM, (uint64_t)i));
        tg_ball b;
        b.r = 0.5 * lognormal_d(&rng, o->cam_d50, o->cam_sigma, dlo, dhi);
        if (!propose(o, G, g, &rng, b.r, rmax, cores, core_rmax, b.c)) continue;
        int64_t add = ball_raster(lab, G, &b, 0);
        if (add == 0) continue; /* wholly hidden or outside the box: the list keeps visible particles only */
        int last = 0;
        if (cam + add > target) {
            add = fit_last(lab, G, &b, target - cam); /* the particle that would overshoot is shrunk: the last */
            last = 1;
        }
        if (add > 0) {
            ball_raster(lab, G, &b, 1);
            cam += add;
            if ((st = bgrid_add(ctx, g, b))) return st;
        }
        if (last) break;
    }
    *cam_count = cam;
    return TG_OK;
}

/* ---- step 0 (ise_cores > 0): ISE particle cores placed before the CAM ----
 * Spheres of the ISE size distribution, random sequential addition without overlap (relaxed like the CAM's after
 * RELAX_AFTER tries), until they cover ise_cores of the box; counted on a scratch mask (1 byte per voxel). The CAM
 * then avoids them (the same overlap limit as between CAM particles) and they become the Laguerre seeds. */
static tg_status place_cores(tg_ctx *ctx, const tg_cathode_opts *o, const geom *G, uint8_t *mask, bgrid *g,
                             double *rmax_out)
{
    double smin = fmin(G->s[0], fmin(G->s[1], G->s[2]));
    double dlo = fmax(o->ise_d50 * exp(-3 * o->ise_sigma), 2 * smin);
    double dhi = fmax(o->ise_d50 * exp(3 * o->ise_sigma), 2 * smin);
    double rmax = 0.5 * dhi, lo[3], hi[3], vext = 1;
    for (int a = 0; a < 3; a++) {
        lo[a] = -rmax;
        hi[a] = G->L[a] + rmax;
        vext *= hi[a] - lo[a];
    }
    *rmax_out = rmax;
    tg_status st = bgrid_init(ctx, g, lo, hi, 2 * rmax);
    if (st) return st;
    int64_t target = llround(o->ise_cores * (double)G->nvox), got = 0;
    double ev = 3.141592653589793 / 6 * pow(o->ise_d50, 3) * exp(4.5 * sq(o->ise_sigma));
    double limit = 20.0 * o->ise_cores * vext / ev + 1000.0;
    for (int64_t i = 0; got < target; i++) {
        if ((double)i > limit)
            return tg_fail(ctx, TG_ERR_ARG, "generate.cathode: ise_cores=%g could not be reached (%.4f); lower it",
                           o->ise_cores, (double)got / (double)G->nvox);
        if ((i & 63) == 0 && tg_progress(ctx, 0.1 * (double)got / (double)target, "generate.cathode"))
            return tg_fail(ctx, TG_ERR_CANCELLED, "generate.cathode: cancelled");
        tg_rng rng = tg_rng_make(o->seed, tg_rng_stream(TAG_CORE, (uint64_t)i));
        tg_ball b;
        b.r = 0.5 * lognormal_d(&rng, o->ise_d50, o->ise_sigma, dlo, dhi);
        int placed = 0;
        for (int a = 0; a < PLACE_TRIES && !placed; a++) {
            double ov = a >= RELAX_AFTER ? 0.5 * (a - RELAX_AFTER) / (double)(PLACE_TRIES - RELAX_AFTER) : 0.0;
            for (int d = 0; d < 3; d++) b.c[d] = -b.r + tg_rng_uniform(&rng) * (G->L[d] + 2 * b.r);
            placed = fits(g, b.c, b.r, rmax, ov);
        }
        if (!placed) continue;
        int64_t add = ball_paint(mask, G, &b, 1, 1);
        if (add == 0) continue;
        got += add;
        if ((st = bgrid_add(ctx, g, b))) return st;
    }
    return TG_OK;
}

/* ---- step 2: ISE seeds (Laguerre tessellation) ---- */

static tg_status place_seeds(tg_ctx *ctx, const tg_cathode_opts *o, const geom *G, const bgrid *cam, double cam_rmax,
                             bgrid *g, double reach)
{
    double smin = fmin(G->s[0], fmin(G->s[1], G->s[2]));
    double dlo = fmax(o->ise_d50 * exp(-3 * o->ise_sigma), smin);
    double dhi = fmax(o->ise_d50 * exp(3 * o->ise_sigma), smin);
    double margin = reach, lo[3], hi[3], vext = 1;
    for (int a = 0; a < 3; a++) {
        lo[a] = -margin;
        hi[a] = G->L[a] + margin;
        vext *= hi[a] - lo[a];
    }
    tg_status st = bgrid_init(ctx, g, lo, hi, reach);
    if (st) return st;
    double ev = 3.141592653589793 / 6 * pow(o->ise_d50, 3) * exp(4.5 * sq(o->ise_sigma));
    double nd = vext / ev;
    if (nd > (double)G->nvox) nd = (double)G->nvox;
    int64_t ncand = (int64_t)llround(nd);
    if (ncand < 3) ncand = 3;
    for (int64_t q = 0; q < ncand; q++) {
        tg_rng rng = tg_rng_make(o->seed, tg_rng_stream(TAG_ISE, (uint64_t)q));
        tg_ball b;
        for (int a = 0; a < 3; a++) b.c[a] = lo[a] + tg_rng_uniform(&rng) * (hi[a] - lo[a]);
        b.r = 0.5 * lognormal_d(&rng, o->ise_d50, o->ise_sigma, dlo, dhi);
        if (cam->nb > 0) {
            int64_t clo[3], chi[3];
            int inside = 0;
            bgrid_range(cam, b.c, cam_rmax, clo, chi);
            BGRID_FOREACH(cam, clo, chi, k) {
                const tg_ball *c = &cam->b[k];
                if (sq(b.c[0] - c->c[0]) + sq(b.c[1] - c->c[1]) + sq(b.c[2] - c->c[2]) < sq(c->r)) { inside = 1; break; }
            }
            if (inside) continue;
        }
        if ((st = bgrid_add(ctx, g, b))) return st;
    }
    return TG_OK;
}

/* ---- value noise: a lattice of uniform values in [-1, 1], smooth-step trilinear interpolation ---- */

typedef struct vnoise {
    float *v;
    int64_t m[3];
    double lam;
} vnoise;

static tg_status vnoise_init(tg_ctx *ctx, vnoise *N, const geom *G, double lam, uint64_t seed, uint32_t tag)
{
    N->lam = lam;
    int64_t total = 1;
    for (int a = 0; a < 3; a++) {
        N->m[a] = (int64_t)ceil(G->L[a] / lam) + 2;
        total *= N->m[a];
    }
    N->v = tg_malloc((size_t)total * sizeof *N->v);
    if (!N->v) return tg_fail(ctx, TG_ERR_NOMEM, "generate: out of memory for a noise lattice");
    for (int64_t i = 0; i < total; i++) N->v[i] = (float)tg_rng_signed(seed, tg_rng_stream(tag, 0), (uint64_t)i);
    return TG_OK;
}

static inline double smooth(double f) { return f * f * (3 - 2 * f); }

static inline double vnoise_at(const vnoise *N, const double p[3])
{
    int64_t i0[3];
    double w[3];
    for (int a = 0; a < 3; a++) {
        double u = p[a] / N->lam;
        double f = floor(u);
        i0[a] = (int64_t)f;
        if (i0[a] < 0) i0[a] = 0;
        if (i0[a] > N->m[a] - 2) i0[a] = N->m[a] - 2;
        w[a] = smooth(u - (double)i0[a]);
    }
    double acc = 0;
    for (int c = 0; c < 8; c++) {
        int dx = c & 1, dy = (c >> 1) & 1, dz = c >> 2;
        double wt = (dx ? w[0] : 1 - w[0]) * (dy ? w[1] : 1 - w[1]) * (dz ? w[2] : 1 - w[2]);
        acc += wt * N->v[((i0[2] + dz) * N->m[1] + i0[1] + dy) * N->m[0] + i0[0] + dx];
    }
    return acc;
}

/* ---- steps 2-3: score fields, block by block ---- */

typedef struct scorer {
    const geom *G;
    const bgrid *g;     /* CAM balls (pass 1) or ISE seeds (pass 2) */
    double reach;       /* how far a ball matters, metres */
    double ball_rmax;   /* > 0: reach counts from the ball's surface (largest radius); 0: from its centre */
    const vnoise *N;
    double amp;         /* noise amplitude, metres */
    uint8_t *lab;
    float *score;
    int32_t *grains;    /* pass 2 only, may be NULL */
} scorer;

/* Pass 1 on one block: non-CAM voxels become ISE, score = d1 + d2 (+ noise). */
static void score_cam_block(const scorer *S, const int64_t lo[3], const int64_t hi[3], const int64_t *cand, int64_t nc)
{
    const geom *G = S->G;
    for (int64_t k = lo[2]; k < hi[2]; k++)
        for (int64_t j = lo[1]; j < hi[1]; j++)
            for (int64_t i = lo[0]; i < hi[0]; i++) {
                int64_t idx = (k * G->n[1] + j) * G->n[0] + i;
                if (S->lab[idx] == TG_CATHODE_CAM) continue;
                S->lab[idx] = TG_CATHODE_ISE;
                double p[3] = {(i + 0.5) * G->s[0], (j + 0.5) * G->s[1], (k + 0.5) * G->s[2]};
                double d1 = S->reach, d2 = S->reach;
                for (int64_t q = 0; q < nc; q++) {
                    const tg_ball *b = &S->g->b[cand[q]];
                    double d = sqrt(sq(p[0] - b->c[0]) + sq(p[1] - b->c[1]) + sq(p[2] - b->c[2])) - b->r;
                    if (d < 0) d = 0;
                    if (d < d1) { d2 = d1; d1 = d; }
                    else if (d < d2) d2 = d;
                }
                S->score[idx] = (float)(d1 + d2 + S->amp * vnoise_at(S->N, p));
            }
}

/* Pass 2 on one block: ISE voxels get score = distance to the nearest triple line (+ noise) and a grain id. */
static void score_ise_block(const scorer *S, const int64_t lo[3], const int64_t hi[3], const int64_t *cand, int64_t nc)
{
    const geom *G = S->G;
    for (int64_t k = lo[2]; k < hi[2]; k++)
        for (int64_t j = lo[1]; j < hi[1]; j++)
            for (int64_t i = lo[0]; i < hi[0]; i++) {
                int64_t idx = (k * G->n[1] + j) * G->n[0] + i;
                if (S->lab[idx] != TG_CATHODE_ISE) continue;
                double p[3] = {(i + 0.5) * G->s[0], (j + 0.5) * G->s[1], (k + 0.5) * G->s[2]};
                double pw[3] = {DBL_MAX, DBL_MAX, DBL_MAX};
                int64_t id[3] = {-1, -1, -1};
                for (int64_t q = 0; q < nc; q++) {
                    const tg_ball *b = &S->g->b[cand[q]];
                    double d = sq(p[0] - b->c[0]) + sq(p[1] - b->c[1]) + sq(p[2] - b->c[2]) - sq(b->r);
                    if (d >= pw[2]) continue;
                    int at = d < pw[0] ? 0 : d < pw[1] ? 1 : 2;
                    for (int m = 2; m > at; m--) { pw[m] = pw[m - 1]; id[m] = id[m - 1]; }
                    pw[at] = d;
                    id[at] = cand[q];
                }
                double bmax = S->reach;
                if (id[2] >= 0) {
                    const tg_ball *b0 = &S->g->b[id[0]], *b1 = &S->g->b[id[1]], *b2 = &S->g->b[id[2]];
                    double l1 = sqrt(sq(b0->c[0] - b1->c[0]) + sq(b0->c[1] - b1->c[1]) + sq(b0->c[2] - b1->c[2]));
                    double l2 = sqrt(sq(b0->c[0] - b2->c[0]) + sq(b0->c[1] - b2->c[1]) + sq(b0->c[2] - b2->c[2]));
                    double b01 = l1 > 0 ? (pw[1] - pw[0]) / (2 * l1) : 0;
                    double b02 = l2 > 0 ? (pw[2] - pw[0]) / (2 * l2) : 0;
                    bmax = b01 > b02 ? b01 : b02;
                }
                S->score[idx] = (float)(bmax + S->amp * vnoise_at(S->N, p));
                if (S->grains) S->grains[idx] = id[0] >= 0 ? (int32_t)(id[0] + 1) : 0;
            }
}

typedef void (*block_fn)(const scorer *, const int64_t lo[3], const int64_t hi[3], const int64_t *cand, int64_t nc);

/* Run fn over all blocks, OpenMP over (y, z) block rows; each block gathers the balls within reach. */
static tg_status run_blocks(tg_ctx *ctx, const scorer *S, block_fn fn, int64_t *scratch, double p0, double p1)
{
    const geom *G = S->G;
    const bgrid *g = S->g;
    int64_t nbx = (G->n[0] + BLOCK - 1) / BLOCK, nby = (G->n[1] + BLOCK - 1) / BLOCK, nbz = (G->n[2] + BLOCK - 1) / BLOCK;
    int64_t items = nby * nbz;
    #pragma omp parallel for schedule(dynamic, 1) num_threads(ctx->nthreads)
    for (int64_t it = 0; it < items; it++) {
        if (tg_cancelled(ctx)) continue;
        int tid = tg_thread_num();
        tg_progress(ctx, p0 + (p1 - p0) * (double)it / (double)items, "generate.cathode");
        int64_t *cand = scratch + (int64_t)tid * (g->nb > 0 ? g->nb : 1);
        int64_t by = it % nby, bz = it / nby;
        for (int64_t bx = 0; bx < nbx; bx++) {
            int64_t lo[3] = {bx * BLOCK, by * BLOCK, bz * BLOCK}, hi[3];
            double c[3], h2 = 0;
            for (int a = 0; a < 3; a++) {
                hi[a] = lo[a] + BLOCK < G->n[a] ? lo[a] + BLOCK : G->n[a];
                c[a] = 0.5 * (lo[a] + hi[a]) * G->s[a];
                h2 += sq(0.5 * (hi[a] - lo[a]) * G->s[a]);
            }
            double h = sqrt(h2);
            int64_t clo[3], chi[3], n = 0;
            /* balls whose surface (pass 1, ball_rmax > 0) or centre (pass 2) may lie within reach of the block */
            bgrid_range(g, c, S->reach + h + S->ball_rmax, clo, chi);
            BGRID_FOREACH(g, clo, chi, k) {
                const tg_ball *b = &g->b[k];
                double d = sqrt(sq(c[0] - b->c[0]) + sq(c[1] - b->c[1]) + sq(c[2] - b->c[2]));
                if (d < S->reach + h + (S->ball_rmax > 0 ? b->r : 0)) cand[n++] = k;
            }
            fn(S, lo, hi, cand, n);
        }
    }
    if (tg_cancelled(ctx)) return tg_fail(ctx, TG_ERR_CANCELLED, "generate.cathode: cancelled");
    return TG_OK;
}

/* ---- exact-count selection of the k lowest scores among voxels labelled `from` (ties by voxel index) ---- */

static inline uint32_t fkey(float f)
{
    uint32_t u;
    memcpy(&u, &f, sizeof u);
    return (u & 0x80000000u) ? ~u : (u | 0x80000000u);
}

/* Histogram of (key >> shift) & 0xFFFF for candidates (whose key >> 16 == hi16 when shift == 0). */
static void key_histogram(tg_ctx *ctx, const geom *G, const float *score, const uint8_t *lab, uint8_t from,
                          int shift, uint32_t hi16, int64_t *hist_t, int64_t *hist)
{
    int64_t plane = G->n[0] * G->n[1];
    int nt = ctx->nthreads;
    memset(hist_t, 0, (size_t)nt * 65536 * sizeof *hist_t);
    #pragma omp parallel for schedule(static) num_threads(nt)
    for (int64_t z = 0; z < G->n[2]; z++) {
        int tid = tg_thread_num();
        int64_t *h = hist_t + (int64_t)tid * 65536;
        for (int64_t q = z * plane; q < (z + 1) * plane; q++) {
            if (lab[q] != from) continue;
            uint32_t key = fkey(score[q]);
            if (shift == 0 && (key >> 16) != hi16) continue;
            h[(key >> shift) & 0xFFFFu]++;
        }
    }
    for (int64_t b = 0; b < 65536; b++) {
        int64_t s = 0;
        for (int t = 0; t < nt; t++) s += hist_t[(int64_t)t * 65536 + b];
        hist[b] = s;
    }
}

static tg_status select_lowest(tg_ctx *ctx, const geom *G, const float *score, uint8_t *lab, uint8_t from,
                               uint8_t to, int64_t k, int64_t *selected)
{
    tg_status st = TG_OK;
    int nt = ctx->nthreads;
    int64_t plane = G->n[0] * G->n[1], nz = G->n[2];
    int64_t *hist_t = tg_malloc((size_t)nt * 65536 * sizeof *hist_t);
    int64_t *hist = tg_malloc(65536 * sizeof *hist);
    int64_t *take = tg_malloc((size_t)nz * sizeof *take);
    *selected = 0;
    if (!hist_t || !hist || !take) { st = tg_fail(ctx, TG_ERR_NOMEM, "generate: out of memory for selection"); goto done; }
    key_histogram(ctx, G, score, lab, from, 16, 0, hist_t, hist);
    int64_t total = 0;
    for (int b = 0; b < 65536; b++) total += hist[b];
    if (k > total) k = total;
    if (k <= 0) goto done;
    uint32_t b1 = 0;
    int64_t need = k;
    while (hist[b1] < need) need -= hist[b1++];
    key_histogram(ctx, G, score, lab, from, 0, b1, hist_t, hist);
    uint32_t b2 = 0;
    while (hist[b2] < need) need -= hist[b2++];
    uint32_t T = (b1 << 16) | b2;
    /* need voxels with key == T are taken, the first ones in index order: count them per slice */
    #pragma omp parallel for schedule(static) num_threads(nt)
    for (int64_t z = 0; z < nz; z++) {
        int64_t c = 0;
        for (int64_t q = z * plane; q < (z + 1) * plane; q++)
            if (lab[q] == from && fkey(score[q]) == T) c++;
        take[z] = c;
    }
    for (int64_t z = 0; z < nz; z++) {
        int64_t t = take[z] < need ? take[z] : need;
        need -= t;
        take[z] = t;
    }
    #pragma omp parallel for schedule(static) num_threads(nt)
    for (int64_t z = 0; z < nz; z++) {
        int64_t left = take[z];
        for (int64_t q = z * plane; q < (z + 1) * plane; q++) {
            if (lab[q] != from) continue;
            uint32_t key = fkey(score[q]);
            if (key < T || (key == T && left-- > 0)) lab[q] = to;
        }
    }
    *selected = k;
done:
    tg_free(hist_t);
    tg_free(hist);
    tg_free(take);
    return st;
}

/* ---- options ---- */

tg_status tg_cathode_check(tg_ctx *ctx, const tg_cathode_opts *o)
{
    static const char *ax = "xyz";
    for (int a = 0; a < 3; a++) {
        if (o->size[a] < 1)
            return tg_fail(ctx, TG_ERR_ARG, "generate.cathode: size[%d] (%c) must be >= 1, got %lld", a + 1, ax[a],
                           (long long)o->size[a]);
        if (!(o->spacing[a] > 0) || !isfinite(o->spacing[a]))
            return tg_fail(ctx, TG_ERR_ARG, "generate.cathode: spacing must be > 0 metres, got %g along %c",
                           o->spacing[a], ax[a]);
    }
    if (o->size[0] > 100000 || o->size[1] > 100000 || o->size[2] > 100000 ||
        (double)o->size[0] * (double)o->size[1] * (double)o->size[2] > 4e11)
        return tg_fail(ctx, TG_ERR_ARG, "generate.cathode: size %lldx%lldx%lld is too large", (long long)o->size[0],
                       (long long)o->size[1], (long long)o->size[2]);
    struct { const char *name; double v, lo, hi; } r[] = {
        {"cam_fraction", o->cam_fraction, 0, 1}, {"porosity", o->porosity, 0, 1},
        {"cam_overlap", o->cam_overlap, 0, 1}, {"cam_clustering", o->cam_clustering, 0, 1},
        {"pore_cam_share", o->pore_cam_share, 0, 1}, {"ise_cores", o->ise_cores, 0, 0.9},
    };
    for (size_t i = 0; i < sizeof r / sizeof r[0]; i++)
        if (!(r[i].v >= r[i].lo && r[i].v <= r[i].hi))
            return tg_fail(ctx, TG_ERR_ARG, "generate.cathode: %s must be in [%g, %g], got %g", r[i].name, r[i].lo,
                           r[i].hi, r[i].v);
    if (o->ise_cores > 0 && !(o->ise_cores < 1 - o->cam_fraction - o->porosity))
        return tg_fail(ctx, TG_ERR_ARG, "generate.cathode: ise_cores (%g) must be below the ISE fraction 1 - cam_fraction - "
                       "porosity = %g", o->ise_cores, 1 - o->cam_fraction - o->porosity);
    if (!(o->cam_fraction + o->porosity < 1))
        return tg_fail(ctx, TG_ERR_ARG, "generate.cathode: cam_fraction + porosity must be < 1 (ISE is the rest), "
                       "got %g + %g", o->cam_fraction, o->porosity);
    struct { const char *name; double v; } p[] = {{"cam_d50", o->cam_d50}, {"ise_d50", o->ise_d50}};
    for (size_t i = 0; i < 2; i++)
        if (!(p[i].v > 0) || !isfinite(p[i].v))
            return tg_fail(ctx, TG_ERR_ARG, "generate.cathode: %s must be > 0 metres, got %g", p[i].name, p[i].v);
    struct { const char *name; double v; } q[] = {
        {"cam_sigma", o->cam_sigma}, {"ise_sigma", o->ise_sigma}, {"pore_roughness", o->pore_roughness}};
    for (size_t i = 0; i < 3; i++)
        if (!(q[i].v >= 0) || !isfinite(q[i].v) || q[i].v > 10)
            return tg_fail(ctx, TG_ERR_ARG, "generate.cathode: %s must be in [0, 10], got %g", q[i].name, q[i].v);
    return TG_OK;
}

/* ---- the operation ---- */

void tg_cathode_info_free(tg_cathode_info *info)
{
    if (!info) return;
    tg_free(info->cam);
    info->cam = NULL;
    info->n_cam = 0;
}

tg_status tg_cathode(tg_ctx *ctx, const tg_cathode_opts *o, tg_volume *labels, tg_volume *grains,
                     tg_cathode_info *info)
{
    tg_status st;
    bgrid cam, ise;
    vnoise n1 = {0}, n2 = {0};
    float *score = NULL;
    int64_t *scratch = NULL;
    memset(&cam, 0, sizeof cam);
    memset(&ise, 0, sizeof ise);
    tg_volume_init(labels);
    if (grains) tg_volume_init(grains);
    if (info) memset(info, 0, sizeof *info);
    if ((st = tg_cathode_check(ctx, o))) return st;

    geom G;
    G.nvox = 1;
    for (int a = 0; a < 3; a++) {
        G.n[a] = o->size[a];
        G.s[a] = o->spacing[a];
        G.L[a] = (double)G.n[a] * G.s[a];
        G.nvox *= G.n[a];
    }
    if ((st = tg_volume_alloc(ctx, G.n, TG_U8, G.s, labels))) goto done;
    if (grains && (st = tg_volume_alloc(ctx, G.n, TG_I32, G.s, grains))) goto done;
    uint8_t *lab = (uint8_t *)labels->buf->data + labels->offset;
    score = tg_malloc((size_t)G.nvox * sizeof *score);
    if (!score) { st = tg_fail(ctx, TG_ERR_NOMEM, "generate.cathode: out of memory for the score field"); goto done; }

    /* 0. ISE cores (optional), counted on the label buffer itself, cleared before the CAM */
    bgrid core;
    memset(&core, 0, sizeof core);
    double core_rmax = 0;
    if (o->ise_cores > 0) {
        if ((st = place_cores(ctx, o, &G, lab, &core, &core_rmax))) { bgrid_free(&core); goto done; }
        memset(lab, 0, (size_t)G.nvox);
    }

    /* 1. CAM */
    int64_t ncam = 0;
    st = place_cam(ctx, o, &G, lab, &cam, o->ise_cores > 0 ? &core : NULL, core_rmax, &ncam);
    if (st) { bgrid_free(&core); goto done; }
    double smin = fmin(G.s[0], fmin(G.s[1], G.s[2])), smax = fmax(G.s[0], fmax(G.s[1], G.s[2]));
    double cam_rmax = 0.5 * fmax(o->cam_d50 * exp(3 * o->cam_sigma), 2 * smin);

    /* 2. ISE seeds; noise lattices */
    double ise_reach = 1.3 * fmax(o->ise_d50, 2 * smax);
    if (o->ise_cores > 0) {
        ise = core; /* the cores are the grains' seeds */
        ise_reach = fmax(ise_reach, 2.6 * core_rmax);
    } else if ((st = place_seeds(ctx, o, &G, &cam, cam_rmax, &ise, ise_reach))) goto done;
    double lam = fmax(0.25 * o->ise_d50, 1.5 * smax);
    if ((st = vnoise_init(ctx, &n1, &G, lam, o->seed, TAG_NOISE1))) goto done;
    if ((st = vnoise_init(ctx, &n2, &G, lam, o->seed, TAG_NOISE2))) goto done;
    int64_t maxb = cam.nb > ise.nb ? cam.nb : ise.nb;
    scratch = tg_malloc((size_t)ctx->nthreads * (size_t)(maxb > 0 ? maxb : 1) * sizeof *scratch);
    if (!scratch) { st = tg_fail(ctx, TG_ERR_NOMEM, "generate.cathode: out of memory"); goto done; }

    /* 3. pores: CAM gaps, then ISE grain junctions */
    int64_t npore = llround(o->porosity * (double)G.nvox), got1 = 0, got2 = 0;
    int64_t n_in_gaps = cam.nb > 0 ? llround(o->pore_cam_share * (double)npore) : 0;
    scorer S = {&G, &cam, fmax(o->cam_d50, o->ise_d50), cam_rmax, &n1, o->pore_roughness * lam, lab, score, NULL};
    if (cam.nb == 0) {
        for (int64_t q = 0; q < G.nvox; q++) lab[q] = TG_CATHODE_ISE;
    } else if ((st = run_blocks(ctx, &S, score_cam_block, scratch, 0.2, 0.5))) goto done;
    if ((st = select_lowest(ctx, &G, score, lab, TG_CATHODE_ISE, TG_CATHODE_PORE, n_in_gaps, &got1))) goto done;
    scorer S2 = {&G, &ise, ise_reach, 0, &n2, o->pore_roughness * lam, lab, score,
                 grains ? (int32_t *)((char *)grains->buf->data + grains->offset) : NULL};
    if ((st = run_blocks(ctx, &S2, score_ise_block, scratch, 0.5, 0.95))) goto done;
    if ((st = select_lowest(ctx, &G, score, lab, TG_CATHODE_ISE, TG_CATHODE_PORE, npore - got1, &got2))) goto done;
    if (grains) {
        int32_t *gr = (int32_t *)((char *)grains->buf->data + grains->offset);
        for (int64_t q = 0; q < G.nvox; q++)
            if (lab[q] != TG_CATHODE_ISE) gr[q] = 0;
    }
    tg_progress_done(ctx, "generate.cathode");

    if (info) {
        int64_t cnt[3] = {0, 0, 0};
        for (int64_t q = 0; q < G.nvox; q++) cnt[lab[q]]++;
        for (int a = 0; a < 3; a++) {
            info->count[a] = cnt[a];
            info->fraction[a] = (double)cnt[a] / (double)G.nvox;
        }
        info->n_ise = ise.nb;
        info->seed = o->seed;
        info->n_cam = cam.nb;
        if (cam.nb > 0) {
            info->cam = tg_malloc((size_t)cam.nb * sizeof *info->cam);
            if (!info->cam) { st = tg_fail(ctx, TG_ERR_NOMEM, "generate.cathode: out of memory"); goto done; }
            memcpy(info->cam, cam.b, (size_t)cam.nb * sizeof *info->cam);
        }
    }
done:
    bgrid_free(&cam);
    bgrid_free(&ise);
    tg_free(n1.v);
    tg_free(n2.v);
    tg_free(score);
    tg_free(scratch);
    if (st) {
        tg_volume_release(labels);
        if (grains) tg_volume_release(grains);
        if (info) tg_cathode_info_free(info);
    }
    return st;
}
