/* tg_surfaces.c — phase and interface areas by streamed marching cubes; see tg_surfaces.h for the manual. */
#include "measure/tg_surfaces.h"

#include <omp.h>
#include <string.h>

#define MAXSETS (TG_SURFACES_MAX_PHASES + TG_SURFACES_MAX_PHASES * (TG_SURFACES_MAX_PHASES - 1) / 2)

typedef struct worker {
    uint8_t *lo, *hi;       /* mask slices */
    int64_t *hist;          /* nsets x 256 */
    int64_t counts[TG_SURFACES_MAX_PHASES];
    int64_t tpb[TG_SURFACES_MAX_TRIPLES][3]; /* triple-phase edges by triple and direction */
    int64_t tpb_any[3];                      /* edges where three or more of the phases meet */
    float *vlo, *vhi;       /* value slices (smooth) */
    uint8_t *scratch;
} worker;

static int stopped(const int *stop)
{
    int v;
#pragma omp atomic read
    v = *stop;
    return v;
}

static void set_stop(int *stop)
{
#pragma omp atomic write
    *stop = 1;
}

static int cancelled_or_progress(tg_ctx *ctx, int64_t done, int64_t total, const char *what)
{
    if (omp_get_thread_num() == 0) return tg_progress(ctx, (double)done / (double)total, what);
    return tg_cancelled(ctx);
}

/* A voxel edge whose four voxels have the phase bits `or` (dir 0 = along x, 1 = y, 2 = z): count it for every
 * triple all of whose phases are among them. */
static inline void tpb_edge(worker *me, uint8_t or, int dir, const uint8_t *tmask, int ntri)
{
    if (__builtin_popcount(or) < 3) return;
    me->tpb_any[dir]++;
    for (int t = 0; t < ntri; t++) me->tpb[t][dir] += (or & tmask[t]) == tmask[t];
}

/* Histograms of the 256 configurations of every set, voxel counts and triple-phase edges, in one pass.
 * Edge ownership: a cube counts the z-edges of its lower face (plane z; the last layer also its upper face),
 * the x-edges through its corners with the lower x (the last column also the upper x) and the y-edges through
 * its corners with the lower y (the last row also the upper y), so each voxel edge is counted once. */
static void binary_pass(tg_ctx *ctx, const tg_mc_grid *g, const int *sets, int nsets, const uint8_t *tmask, int ntri,
                        worker *w, int64_t e0, int64_t e1, int *stop)
{
    int64_t mw = g->mw, layers = g->D - 1;
    int64_t done = 0;
#pragma omp parallel for schedule(dynamic, 1) num_threads(ctx->nthreads)
    for (int64_t e = e0; e < e1; e++) {
        if (stopped(stop)) continue;
        worker *me = &w[omp_get_thread_num()];
        int64_t z = e - g->off;
        tg_mc_grid_masks(g, z, me->lo);
        tg_mc_grid_masks(g, z + 1, me->hi);
        for (int pass = 0; pass < 2; pass++) {
            int64_t zz = z + pass;
            if (zz < 0 || zz >= g->nz || (pass == 1 && e != layers - 1)) continue;
            const uint8_t *m = pass ? me->hi : me->lo;
            for (int64_t y = 0; y < g->ny; y++)
                for (int64_t x = 0; x < g->nx; x++) {
                    uint8_t b = m[(y + 2) * mw + x + 2];
                    for (int i = 0; i < g->nph; i++) me->counts[i] += (b >> i) & 1;
                }
        }
        for (int64_t j = 0; j + 1 < g->H; j++) {
            const uint8_t *r0 = me->lo + (j - g->off + 2) * mw + 2 - g->off, *r1 = r0 + mw;
            const uint8_t *s0 = me->hi + (j - g->off + 2) * mw + 2 - g->off, *s1 = s0 + mw;
            for (int64_t i = 0; i + 1 < g->W; i++) {
                uint8_t m[8] = {r0[i], r0[i + 1], r1[i], r1[i + 1], s0[i], s0[i + 1], s1[i], s1[i + 1]};
                if (m[0] == m[1] && m[0] == m[2] && m[0] == m[3] && m[0] == m[4] && m[0] == m[5] && m[0] == m[6] &&
                    m[0] == m[7])
                    continue;
                if (g->nph >= 3) {
                    tpb_edge(me, m[0] | m[1] | m[2] | m[3], 2, tmask, ntri);
                    if (e == layers - 1) tpb_edge(me, m[4] | m[5] | m[6] | m[7], 2, tmask, ntri);
                    tpb_edge(me, m[0] | m[2] | m[4] | m[6], 0, tmask, ntri);
                    if (i == g->W - 2) tpb_edge(me, m[1] | m[3] | m[5] | m[7], 0, tmask, ntri);
                    tpb_edge(me, m[0] | m[1] | m[4] | m[5], 1, tmask, ntri);
                    if (j == g->H - 2) tpb_edge(me, m[2] | m[3] | m[6] | m[7], 1, tmask, ntri);
                }
                for (int k = 0; k < nsets; k++) {
                    int s = sets[k], cfg = 0;
                    for (int c = 0; c < 8; c++) cfg |= ((m[c] & s) != 0) << c;
                    me->hist[k * 256 + cfg]++;
                }
            }
        }
        int64_t d;
#pragma omp atomic capture
        d = ++done;
        if (cancelled_or_progress(ctx, d, e1 - e0, "surfaces")) set_stop(stop);
    }
}

/* Area of one set with smoothing (or any real-valued field) over cube layers [e0, e1): every cube triangulated. */
static void smooth_pass(tg_ctx *ctx, const tg_mc_grid *g, int set, double level, int method, worker *w,
                        double *layer_area, int64_t e0, int64_t e1, int *stop)
{
    int64_t done = 0;
#pragma omp parallel for schedule(dynamic, 1) num_threads(ctx->nthreads)
    for (int64_t e = e0; e < e1; e++) {
        if (stopped(stop)) continue;
        worker *me = &w[omp_get_thread_num()];
        tg_mc_grid_values(g, set, e, me->scratch, me->vlo);
        tg_mc_grid_values(g, set, e + 1, me->scratch, me->vhi);
        double a = 0;
        for (int64_t j = 0; j + 1 < g->H; j++)
            for (int64_t i = 0; i + 1 < g->W; i++) {
                double v[8];
                int cfg = 0;
                for (int c = 0; c < 8; c++) {
                    const float *s = (c & 4) ? me->vhi : me->vlo;
                    v[c] = (double)s[(j + ((c >> 1) & 1)) * g->W + i + (c & 1)] - level;
                    cfg |= (v[c] > 0) << c;
                }
                if (cfg == 0 || cfg == 255) continue;
                a += tg_mc_tiling_area(tg_mc_decide(v, cfg, method), v, g->sp);
            }
        layer_area[e] = a;
        int64_t d;
#pragma omp atomic capture
        d = ++done;
        if (cancelled_or_progress(ctx, d, e1 - e0, "surfaces (smoothed)")) set_stop(stop);
    }
}

/* Voxel counts and triple-phase edges of the workers into out. */
static void tally(tg_surfaces_result *out, const tg_mc_grid *g, const worker *w, int nt, int n, int ntri)
{
    for (int a = 0; a < n; a++)
        for (int t = 0; t < nt; t++) out->voxels[a] += w[t].counts[a];
    out->ntriples = ntri;
    for (int d = 0; d < 3; d++) {
        for (int t = 0; t < nt; t++) {
            out->tpb_any_edges[d] += w[t].tpb_any[d];
            for (int k = 0; k < ntri; k++) out->tpb_edges[k][d] += w[t].tpb[k][d];
        }
        out->tpb_any_length += (double)out->tpb_any_edges[d] * g->sp[d];
        for (int k = 0; k < ntri; k++) out->tpb_length[k] += (double)out->tpb_edges[k][d] * g->sp[d];
    }
}

/* Areas of the sets from the workers' configuration histograms (binary data). */
static void binary_set_areas(const tg_mc_grid *g, int method, const worker *w, int nt, int nsets, double *set_area)
{
    double cfg_area[256];
    tg_mc_binary_areas(method, g->sp, cfg_area);
    for (int k = 0; k < nsets; k++) {
        double s = 0;
        for (int cfg = 1; cfg < 255; cfg++) {
            int64_t h = 0;
            for (int t = 0; t < nt; t++) h += w[t].hist[k * 256 + cfg];
            s += (double)h * cfg_area[cfg];
        }
        set_area[k] = s;
    }
}

/* Phase, union and interface areas from the set areas (phases first, then the pairs a < b). */
static void finish_areas(tg_surfaces_result *out, const tg_mc_grid *g, int n, const double *set_area)
{
    out->nphases = n;
    for (int a = 0; a < n; a++) out->area[a] = set_area[a];
    int k = n;
    for (int a = 0; a < n; a++)
        for (int b = a + 1; b < n; b++) {
            double u = set_area[k++];
            out->union_area[a][b] = out->union_area[b][a] = u;
            double s = 0.5 * (set_area[a] + set_area[b] - u);
            out->interface[a][b] = out->interface[b][a] = s > 0 ? s : 0.0;
        }
    out->total_voxels = g->nx * g->ny * g->nz;
    out->volume_m3 = (double)out->total_voxels * g->sp[0] * g->sp[1] * g->sp[2];
}

static tg_status check_opts(tg_ctx *ctx, const tg_surfaces_opts *opt)
{
    if (!opt) return tg_fail(ctx, TG_ERR_ARG, "surfaces: options with the list of phases are required");
    if (opt->nphases < 1 || opt->nphases > TG_SURFACES_MAX_PHASES)
        return tg_fail(ctx, TG_ERR_ARG, "surfaces: between 1 and %d phases, got %d", TG_SURFACES_MAX_PHASES, opt->nphases);
    for (int a = 0; a < opt->nphases; a++)
        for (int b = a + 1; b < opt->nphases; b++)
            if (opt->phases[a] == opt->phases[b])
                return tg_fail(ctx, TG_ERR_ARG, "surfaces: label %lld is listed twice", (long long)opt->phases[a]);
    if (opt->method != TG_MC_LEWINER && opt->method != TG_MC_LORENSEN)
        return tg_fail(ctx, TG_ERR_ARG, "surfaces: unknown method %d", opt->method);
    if (opt->convention != TG_SURFACES_OPEN && opt->convention != TG_SURFACES_CLOSED)
        return tg_fail(ctx, TG_ERR_ARG, "surfaces: unknown convention %d", opt->convention);
    return TG_OK;
}

/* The phase sets (each phase, then each pair a < b) and the triples a < b < c of n phases. */
static void plan_sets(int n, int *sets, int *nsets, uint8_t *tmask, int *ntri, int triple[][3])
{
    *nsets = *ntri = 0;
    for (int a = 0; a < n; a++) sets[(*nsets)++] = 1 << a;
    for (int a = 0; a < n; a++)
        for (int b = a + 1; b < n; b++) sets[(*nsets)++] = (1 << a) | (1 << b);
    for (int a = 0; a < n; a++)
        for (int b = a + 1; b < n; b++)
            for (int c = b + 1; c < n; c++) {
                triple[*ntri][0] = a, triple[*ntri][1] = b, triple[*ntri][2] = c;
                tmask[(*ntri)++] = (uint8_t)((1 << a) | (1 << b) | (1 << c));
            }
}

static void workers_free(worker *w, int nt)
{
    if (w)
        for (int t = 0; t < nt; t++) {
            tg_free(w[t].lo);
            tg_free(w[t].hi);
            tg_free(w[t].hist);
            tg_free(w[t].vlo);
            tg_free(w[t].vhi);
            tg_free(w[t].scratch);
        }
    tg_free(w);
}

/* nt workers with their slice buffers for grid g (value slices too when smooth). */
static tg_status workers_new(tg_ctx *ctx, const tg_mc_grid *g, int nt, int nsets, int smooth, worker **out)
{
    worker *w = tg_calloc((size_t)nt, sizeof *w);
    *out = NULL;
    if (!w) return tg_fail(ctx, TG_ERR_NOMEM, "surfaces: out of memory");
    size_t plane = (size_t)(g->mw * g->mh), vplane = (size_t)(g->W * g->H);
    for (int t = 0; t < nt; t++) {
        w[t].lo = tg_malloc(plane);
        w[t].hi = tg_malloc(plane);
        w[t].hist = tg_calloc((size_t)nsets * 256, sizeof(int64_t));
        if (smooth) {
            w[t].vlo = tg_malloc(vplane * sizeof(float));
            w[t].vhi = tg_malloc(vplane * sizeof(float));
            w[t].scratch = tg_malloc(tg_mc_grid_scratch_bytes(g));
        }
        if (!w[t].lo || !w[t].hi || !w[t].hist || (smooth && (!w[t].vlo || !w[t].vhi || !w[t].scratch))) {
            workers_free(w, nt);
            return tg_fail(ctx, TG_ERR_NOMEM, "surfaces: out of memory for slice buffers (%lld x %lld)", (long long)g->W,
                           (long long)g->H);
        }
    }
    *out = w;
    return TG_OK;
}

tg_status tg_surfaces(tg_ctx *ctx, const tg_volume *labels, const tg_surfaces_opts *opt, tg_surfaces_result *out)
{
    memset(out, 0, sizeof *out);
    tg_status st = check_opts(ctx, opt);
    if (st != TG_OK) return st;
    tg_mc_grid g;
    st = tg_mc_grid_init(ctx, &g, labels, opt->phases, opt->nphases, opt->convention == TG_SURFACES_CLOSED, opt->smooth);
    if (st != TG_OK) return st;
    int n = opt->nphases, nsets, sets[MAXSETS], ntri;
    uint8_t tmask[TG_SURFACES_MAX_TRIPLES];
    plan_sets(n, sets, &nsets, tmask, &ntri, out->triple);
    int nt = ctx->nthreads < 1 ? 1 : ctx->nthreads, stop = 0;
    worker *w = NULL;
    double *layer_area = tg_calloc((size_t)g.D, sizeof *layer_area);
    double set_area[MAXSETS];
    if (!layer_area) {
        st = tg_fail(ctx, TG_ERR_NOMEM, "surfaces: out of memory");
        goto done;
    }
    if ((st = workers_new(ctx, &g, nt, nsets, opt->smooth, &w)) != TG_OK) goto done;
    binary_pass(ctx, &g, sets, nsets, tmask, ntri, w, 0, g.D - 1, &stop);
    if (stop) {
        st = tg_fail(ctx, TG_ERR_CANCELLED, "surfaces: cancelled");
        goto done;
    }
    tally(out, &g, w, nt, n, ntri);
    if (!opt->smooth) {
        binary_set_areas(&g, opt->method, w, nt, nsets, set_area);
    } else {
        for (int k = 0; k < nsets; k++) {
            double level = 0.5;
            if (g.closed) {
                int maxc;
                st = tg_mc_grid_maxcount(ctx, &g, sets[k], &maxc);
                if (st != TG_OK) goto done;
                level = 0.5 * (float)(maxc / 7.0);
            }
            memset(layer_area, 0, (size_t)g.D * sizeof *layer_area);
            smooth_pass(ctx, &g, sets[k], level, opt->method, w, layer_area, 0, g.D - 1, &stop);
            if (stop) {
                st = tg_fail(ctx, TG_ERR_CANCELLED, "surfaces: cancelled");
                goto done;
            }
            double s = 0;
            for (int64_t e = 0; e < g.D; e++) s += layer_area[e];
            set_area[k] = s;
        }
    }
    finish_areas(out, &g, n, set_area);
    tg_progress_done(ctx, "surfaces");
done:
    workers_free(w, nt);
    tg_free(layer_area);
    tg_mc_grid_free(&g);
    if (st != TG_OK) memset(out, 0, sizeof *out);
    return st;
}

/* ---- streamed: the same passes over the cube layers of one slab at a time (see the header) ---- */

struct tg_surfaces_acc {
    tg_surfaces_opts o;
    int64_t dims[3];
    tg_mc_grid g;     /* the whole volume's extended domain, pointed at the slab being added */
    int nt, nsets, sets[MAXSETS], ntri;
    uint8_t tmask[TG_SURFACES_MAX_TRIPLES];
    int triple[TG_SURFACES_MAX_TRIPLES][3];
    worker *w;
    double *layer_area;   /* smooth: nsets x D areas by cube layer, summed in layer order at the end */
    int maxc[MAXSETS];    /* closed + smooth: the largest 7-cross count of each set (pass 1) */
    int level_of[MAXSETS];/* the count whose level the set's areas were computed at */
    int redo[MAXSETS];    /* pass 2: the sets whose level was not the one assumed */
    int pass;             /* 1, or 2 when some sets are computed again */
};

void tg_surfaces_stream_cost(const tg_surfaces_opts *opt, const int64_t dims[3], int nthreads, tg_cost *cost)
{
    int n = opt ? opt->nphases : 1, nsets = n + n * (n - 1) / 2, nt = nthreads < 1 ? 1 : nthreads;
    int smooth = opt && opt->smooth;
    int64_t mw = dims[0] + 4, mh = dims[1] + 4, W = dims[0] + 2, H = dims[1] + 2;
    int64_t per_thread = 2 * mw * mh + (int64_t)nsets * 256 * 8 + (smooth ? 2 * W * H * 4 + 3 * mw * mh : 0);
    cost->per_voxel = 0.0; /* nothing per voxel of the slab */
    cost->fixed = nt * per_thread + (smooth ? (int64_t)nsets * (dims[2] + 2) * 8 : 0) + 65536 /* the label table */ +
                  (int64_t)sizeof(tg_surfaces_acc);
    cost->halo = smooth ? 2 : 1; /* below: 1 when smooth (else 0); above: 2 when smooth (else 1) */
}

tg_status tg_surfaces_acc_new(tg_ctx *ctx, const int64_t dims[3], const tg_surfaces_opts *opt, tg_surfaces_acc **out)
{
    *out = NULL;
    tg_status st = check_opts(ctx, opt);
    if (st != TG_OK) return st;
    tg_surfaces_acc *a = tg_calloc(1, sizeof *a);
    if (!a) return tg_fail(ctx, TG_ERR_NOMEM, "surfaces: out of memory");
    a->o = *opt;
    memcpy(a->dims, dims, sizeof a->dims);
    a->nt = ctx->nthreads < 1 ? 1 : ctx->nthreads;
    a->pass = 1;
    plan_sets(opt->nphases, a->sets, &a->nsets, a->tmask, &a->ntri, a->triple);
    for (int k = 0; k < a->nsets; k++) a->level_of[k] = 7;
    *out = a;
    return TG_OK;
}

void tg_surfaces_acc_free(tg_surfaces_acc *a)
{
    if (!a) return;
    workers_free(a->w, a->nt);
    tg_free(a->layer_area);
    tg_mc_grid_free(&a->g);
    tg_free(a);
}

/* The grid and the workers, at the first slab (the grid needs a volume of the labels' type). */
static tg_status acc_prepare(tg_ctx *ctx, tg_surfaces_acc *a, const tg_volume *slab, int64_t s0)
{
    const tg_surfaces_opts *o = &a->o;
    tg_status st = tg_mc_grid_init_slab(ctx, &a->g, slab, s0, a->dims[2], o->phases, o->nphases,
                                        o->convention == TG_SURFACES_CLOSED, o->smooth);
    if (st != TG_OK) return st;
    if ((st = workers_new(ctx, &a->g, a->nt, a->nsets, o->smooth, &a->w)) != TG_OK) return st;
    if (o->smooth && !(a->layer_area = tg_calloc((size_t)(a->nsets * a->g.D), sizeof *a->layer_area)))
        return tg_fail(ctx, TG_ERR_NOMEM, "surfaces: out of memory");
    return TG_OK;
}

tg_status tg_surfaces_acc_add(tg_ctx *ctx, tg_surfaces_acc *a, const tg_volume *slab, int64_t s0, int64_t z0, int64_t z1)
{
    int64_t nz = a->dims[2], lo = a->o.smooth ? 1 : 0, hi = a->o.smooth ? 2 : 1;
    if (!slab || !slab->buf || slab->dims[0] != a->dims[0] || slab->dims[1] != a->dims[1])
        return tg_fail(ctx, TG_ERR_ARG, "surfaces: the slab is not %lld x %lld", (long long)a->dims[0], (long long)a->dims[1]);
    int64_t need0 = z0 - lo < 0 ? 0 : z0 - lo, need1 = z1 + hi > nz ? nz : z1 + hi;
    if (z0 < 0 || z1 > nz || z0 >= z1 || s0 > need0 || s0 + slab->dims[2] < need1)
        return tg_fail(ctx, TG_ERR_ARG, "surfaces: slices %lld..%lld of the slab do not hold %lld..%lld (central %lld..%lld)",
                       (long long)s0, (long long)(s0 + slab->dims[2]), (long long)need0, (long long)need1, (long long)z0,
                       (long long)z1);
    if (ctx->nthreads > a->nt)
        return tg_fail(ctx, TG_ERR_ARG, "surfaces: %d threads, but the accumulator was made for %d", ctx->nthreads, a->nt);
    tg_status st;
    if (!a->w && (st = acc_prepare(ctx, a, slab, s0)) != TG_OK) return st;
    if (slab->dtype != a->g.labels->dtype) return tg_fail(ctx, TG_ERR_ARG, "surfaces: the slabs change type");
    tg_mc_grid_set_slab(&a->g, slab, s0);
    tg_mc_grid *g = &a->g;
    int64_t e0 = z0 == 0 ? 0 : z0 + g->off, e1 = z1 + g->off < g->D - 1 ? z1 + g->off : g->D - 1;
    int stop = 0;
    if (a->pass == 1) binary_pass(ctx, g, a->sets, a->nsets, a->tmask, a->ntri, a->w, e0, e1, &stop);
    for (int k = 0; k < a->nsets && a->o.smooth && !stop; k++) {
        if (a->pass == 1 && g->closed) {
            int m;
            if ((st = tg_mc_grid_maxcount_range(ctx, g, a->sets[k], z0, z1, &m)) != TG_OK) return st;
            if (m > a->maxc[k]) a->maxc[k] = m;
        }
        if (a->pass == 2 && !a->redo[k]) continue;
        double level = g->closed ? 0.5 * (float)(a->level_of[k] / 7.0) : 0.5;
        smooth_pass(ctx, g, a->sets[k], level, a->o.method, a->w, a->layer_area + (int64_t)k * g->D, e0, e1, &stop);
    }
    if (stop) return tg_fail(ctx, TG_ERR_CANCELLED, "surfaces: cancelled");
    return TG_OK;
}

int tg_surfaces_acc_next_pass(tg_surfaces_acc *a)
{
    if (a->pass != 1 || !a->o.smooth || !a->g.closed) return 0;
    int again = 0;
    for (int k = 0; k < a->nsets; k++) {
        /* a count of 0 (the set is absent) gives no area at any level, so only 1..6 differ from the 7 assumed */
        a->redo[k] = a->maxc[k] >= 1 && a->maxc[k] <= 6;
        if (!a->redo[k]) continue;
        a->level_of[k] = a->maxc[k];
        memset(a->layer_area + (int64_t)k * a->g.D, 0, (size_t)a->g.D * sizeof *a->layer_area);
        again = 1;
    }
    if (again) a->pass = 2;
    return again;
}

tg_status tg_surfaces_acc_finish(tg_ctx *ctx, tg_surfaces_acc *a, tg_surfaces_result *out)
{
    memset(out, 0, sizeof *out);
    if (!a->w) return tg_fail(ctx, TG_ERR_ARG, "surfaces: no slab was added");
    double set_area[MAXSETS];
    tally(out, &a->g, a->w, a->nt, a->o.nphases, a->ntri);
    memcpy(out->triple, a->triple, sizeof a->triple);
    if (!a->o.smooth) binary_set_areas(&a->g, a->o.method, a->w, a->nt, a->nsets, set_area);
    else
        for (int k = 0; k < a->nsets; k++) {
            const double *la = a->layer_area + (int64_t)k * a->g.D;
            double s = 0;
            for (int64_t e = 0; e < a->g.D; e++) s += la[e];
            set_area[k] = s;
        }
    finish_areas(out, &a->g, a->o.nphases, set_area);
    return TG_OK;
}
