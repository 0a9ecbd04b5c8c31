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
                        worker *w, int *stop)
{
    int64_t mw = g->mw, layers = g->D - 1;
    int64_t done = 0;
#pragma omp parallel for schedule(dynamic, 1) num_threads(ctx->nthreads)
    for (int64_t e = 0; e < layers; e++) {
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
        if (cancelled_or_progress(ctx, d, layers, "surfaces")) set_stop(stop);
    }
}

/* Area of one set with smoothing (or any real-valued field): every cube triangulated. */
static void smooth_pass(tg_ctx *ctx, const tg_mc_grid *g, int set, double level, int method, worker *w,
                        double *layer_area, int *stop)
{
    int64_t layers = g->D - 1;
    int64_t done = 0;
#pragma omp parallel for schedule(dynamic, 1) num_threads(ctx->nthreads)
    for (int64_t e = 0; e < layers; e++) {
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
        if (cancelled_or_progress(ctx, d, layers, "surfaces (smoothed)")) set_stop(stop);
    }
}

tg_status tg_surfaces(tg_ctx *ctx, const tg_volume *labels, const tg_surfaces_opts *opt, tg_surfaces_result *out)
{
    memset(out, 0, sizeof *out);
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
    tg_mc_grid g;
    tg_status st = tg_mc_grid_init(ctx, &g, labels, opt->phases, opt->nphases, opt->convention == TG_SURFACES_CLOSED,
                                   opt->smooth);
    if (st != TG_OK) return st;
    int n = opt->nphases, nsets = 0, sets[MAXSETS], ntri = 0;
    uint8_t tmask[TG_SURFACES_MAX_TRIPLES];
    for (int a = 0; a < n; a++) sets[nsets++] = 1 << a;
    for (int a = 0; a < n; a++)
        for (int b = a + 1; b < n; b++) sets[nsets++] = (1 << a) | (1 << b);
    for (int a = 0; a < n; a++)
        for (int b = a + 1; b < n; b++)
            for (int c = b + 1; c < n; c++) {
                out->triple[ntri][0] = a, out->triple[ntri][1] = b, out->triple[ntri][2] = c;
                tmask[ntri++] = (uint8_t)((1 << a) | (1 << b) | (1 << c));
            }
    int nt = ctx->nthreads < 1 ? 1 : ctx->nthreads, stop = 0;
    worker *w = tg_calloc((size_t)nt, sizeof *w);
    double *layer_area = tg_calloc((size_t)g.D, sizeof *layer_area);
    double set_area[MAXSETS];
    if (!w || !layer_area) {
        st = tg_fail(ctx, TG_ERR_NOMEM, "surfaces: out of memory");
        goto done;
    }
    size_t plane = (size_t)(g.mw * g.mh), vplane = (size_t)(g.W * g.H);
    for (int t = 0; t < nt; t++) {
        w[t].lo = tg_malloc(plane);
        w[t].hi = tg_malloc(plane);
        w[t].hist = tg_calloc((size_t)nsets * 256, sizeof(int64_t));
        if (opt->smooth) {
            w[t].vlo = tg_malloc(vplane * sizeof(float));
            w[t].vhi = tg_malloc(vplane * sizeof(float));
            w[t].scratch = tg_malloc(tg_mc_grid_scratch_bytes(&g));
        }
        if (!w[t].lo || !w[t].hi || !w[t].hist || (opt->smooth && (!w[t].vlo || !w[t].vhi || !w[t].scratch))) {
            st = tg_fail(ctx, TG_ERR_NOMEM, "surfaces: out of memory for slice buffers (%lld x %lld)", (long long)g.W,
                         (long long)g.H);
            goto done;
        }
    }
    binary_pass(ctx, &g, sets, nsets, tmask, ntri, w, &stop);
    if (stop) {
        st = tg_fail(ctx, TG_ERR_CANCELLED, "surfaces: cancelled");
        goto done;
    }
    for (int a = 0; a < n; a++)
        for (int t = 0; t < nt; t++) out->voxels[a] += w[t].counts[a];
    out->ntriples = ntri;
    for (int d = 0; d < 3; d++) {
        for (int t = 0; t < nt; t++) {
            out->tpb_any_edges[d] += w[t].tpb_any[d];
            for (int k = 0; k < ntri; k++) out->tpb_edges[k][d] += w[t].tpb[k][d];
        }
        out->tpb_any_length += (double)out->tpb_any_edges[d] * g.sp[d];
        for (int k = 0; k < ntri; k++) out->tpb_length[k] += (double)out->tpb_edges[k][d] * g.sp[d];
    }
    if (!opt->smooth) {
        double cfg_area[256];
        tg_mc_binary_areas(opt->method, g.sp, cfg_area);
        for (int k = 0; k < nsets; k++) {
            double s = 0;
            for (int cfg = 1; cfg < 255; cfg++) {
                int64_t h = 0;
                for (int t = 0; t < nt; t++) h += w[t].hist[k * 256 + cfg];
                s += (double)h * cfg_area[cfg];
            }
            set_area[k] = s;
        }
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
            smooth_pass(ctx, &g, sets[k], level, opt->method, w, layer_area, &stop);
            if (stop) {
                st = tg_fail(ctx, TG_ERR_CANCELLED, "surfaces: cancelled");
                goto done;
            }
            double s = 0;
            for (int64_t e = 0; e < g.D; e++) s += layer_area[e];
            set_area[k] = s;
        }
    }
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
    out->total_voxels = g.nx * g.ny * g.nz;
    out->volume_m3 = (double)out->total_voxels * g.sp[0] * g.sp[1] * g.sp[2];
    tg_progress_done(ctx, "surfaces");
done:
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
    tg_free(layer_area);
    tg_mc_grid_free(&g);
    if (st != TG_OK) memset(out, 0, sizeof *out);
    return st;
}
