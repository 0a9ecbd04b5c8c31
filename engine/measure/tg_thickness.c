/* tg_thickness.c — local thickness (see tg_thickness.h for the manual) and volume-weighted quantiles.
 *
 * Work is done in normalised units (spacing / smallest spacing). Every squared length is read from three tables
 * of squares, sq_i[k] = (k s_i)^2, and summed in one fixed order, (sq_x[a] + sq_y[b]) + sq_z[c]: the ball of a
 * centre c with squared radius r2 is the set of voxels p with that sum of |p - c| below r2, and the reduction
 * table and the painting use the same sums, so they agree bit for bit (isotropic volumes give exact integers;
 * additions alone cannot be contracted into fused multiply-adds).
 *
 * Three steps, each exact:
 *   1. Reduction. A ball B(c) can be dropped when some other ball B(c') with R(c') >= R(c) contains it: every
 *      voxel it covers is covered by a ball at least as large. Containment of discrete balls is decided with a
 *      lookup table, as in Rémy & Thiel, "Exact medial axis with Euclidean distance", Image Vis. Comput. 23
 *      (2005) 167-175, doi:10.1016/j.imavis.2004.06.007: for an offset v, B(c) ⊆ B(c + v) iff
 *      R(c + v)^2 > M_v(R(c)^2) := max { |p - v|^2 : |p|^2 < R(c)^2 }. The ball is symmetric and the sum of
 *      squares grows with each |component|, so M_v depends only on |v_x|, |v_y|, |v_z| and its maximum is
 *      reached in the octant opposite to v, where |p - v| has components |p_i| + |v_i|: one sweep over the
 *      lattice points of an octant, sorted by norm, gives M_v for every squared radius and the 26 offset
 *      classes with |v_i| <= 2. Each voxel is tested against its 124 neighbours in the 5x5x5 cube. Balls
 *      larger than the table (at most 2^18 octant points) use the sufficient continuous test
 *      R(c + v) >= R(c) + |v| (with a relative margin of 1e-9 against rounding). Removal is only ever by strict
 *      containment in a ball at least as large, and strict inclusion cannot cycle, so every dropped ball is
 *      covered by a kept one. On a 300^3 generated cathode this keeps 4-34 % of a phase's voxels, against 88 %
 *      for the continuous test alone.
 *   2. Order. The kept centres are grouped by plane and sorted by radius inside each group, largest first.
 *   3. Painting with early exit, plane by plane. The balls reaching plane z from plane z' are a prefix of
 *      group z' (the half height shrinks with the radius); a heap merges these prefixes into one descending
 *      order. In that order the first disc covering a voxel belongs to its largest ball, so each voxel is
 *      written once: a bitmap of the plane's unpainted voxels (1 bit per voxel of one plane, in L1/L2 cache)
 *      lets a disc's span on a row cost one or two word tests plus the voxels it newly paints. The work is N
 *      plus the number of (disc, row) pairs instead of the summed ball volumes.
 * Threading: OpenMP over planes (dynamic schedule); each plane is owned by one thread, and first cover in
 * descending order is the maximum, so the result does not depend on the thread count.
 */
#include "tg_thickness.h"
#include "tg_edt.h"

#include <math.h>
#include <omp.h>
#include <stdlib.h>
#include <string.h>

#define REACH 2               /* neighbours tested: the (2 REACH + 1)^3 cube */
#define NOFF ((2 * REACH + 1) * (2 * REACH + 1) * (2 * REACH + 1) - 1)
#define NPAT 27               /* offset classes (|vx|, |vy|, |vz|) in {0,1,2}^3, index ax + 3 ay + 9 az */
#define LUT_POINTS (1L << 18) /* octant lattice points in the table, at most */
#define MARGIN 1e-9           /* relative margin of the continuous test */

typedef struct squares {
    int64_t len[3];
    double *q[3]; /* q[i][k] = (k s_i)^2, k < len[i] */
} squares;

/* The canonical squared length of the offset (a, b, c), all >= 0. */
static inline double sqn(const squares *S, int64_t a, int64_t b, int64_t c)
{
    return (S->q[0][a] + S->q[1][b]) + S->q[2][c];
}

typedef struct centre {
    double r2;           /* squared radius, normalised units */
    int32_t x, y, z, hz; /* position; hz: half height of the ball in planes */
} centre;

typedef struct offset {
    int dx, dy, dz, pat;
    double d, d2; /* length and squared length, normalised units */
} offset;

typedef struct redundancy {
    int noff;
    offset off[NOFF];
    int64_t ngroups;
    double *norm; /* ngroups distinct squared norms of octant points, ascending */
    float *m;     /* ngroups x NPAT: M_v for the balls {|p|^2 <= norm[g]}, rounded up */
    double limit; /* the table decides the balls with r2 <= limit */
} redundancy;

typedef struct lattice_point {
    double n2;
    int16_t p[3];
} lattice_point;

static int cmp_offset(const void *a, const void *b)
{
    const offset *u = a, *v = b;
    return (u->d2 > v->d2) - (u->d2 < v->d2);
}

static int cmp_point(const void *a, const void *b)
{
    const lattice_point *u = a, *v = b;
    return (u->n2 > v->n2) - (u->n2 < v->n2);
}

/* largest radius first, then raster order */
static int cmp_centre(const void *a, const void *b)
{
    const centre *u = a, *v = b;
    if (u->r2 != v->r2) return u->r2 < v->r2 ? 1 : -1;
    if (u->y != v->y) return u->y < v->y ? -1 : 1;
    return (u->x > v->x) - (u->x < v->x);
}

static float round_up(double x)
{
    float f = (float)x;
    if ((double)f < x) f = nextafterf(f, INFINITY);
    return f;
}

static tg_status make_squares(tg_ctx *ctx, const double sp[3], double maxr2, squares *S)
{
    for (int i = 0; i < 3; i++) {
        S->len[i] = (int64_t)(sqrt(maxr2) / sp[i]) + REACH + 3;
        if (!(S->q[i] = tg_malloc((size_t)S->len[i] * sizeof *S->q[i])))
            return tg_fail(ctx, TG_ERR_NOMEM, "thickness: out of memory");
        for (int64_t k = 0; k < S->len[i]; k++) {
            double t = (double)k * sp[i];
            S->q[i][k] = t * t;
        }
    }
    return TG_OK;
}

/* Largest k in [0, len) with pred(k), knowing pred is true at 0 and non-increasing, starting from a guess. */
#define STEP_TO_EDGE(k, len, pred)                       \
    do {                                                 \
        if ((k) >= (len)) (k) = (len) - 1;               \
        if ((k) < 0) (k) = 0;                            \
        while ((k) + 1 < (len) && (pred((k) + 1))) (k)++; \
        while ((k) > 0 && !(pred(k))) (k)--;             \
    } while (0)

/* Half height of a ball: the largest dz with |(0, 0, dz)|^2 < r2 (r2 > 0). */
static int64_t half_height(const squares *S, double r2)
{
    int64_t k = (int64_t)(sqrt(r2) / sqrt(S->q[2][1]));
#define IN_Z(j) (sqn(S, 0, 0, (j)) < r2)
    STEP_TO_EDGE(k, S->len[2], IN_Z);
#undef IN_Z
    return k;
}

static void make_offsets(const double sp[3], redundancy *R)
{
    R->noff = 0;
    for (int dz = -REACH; dz <= REACH; dz++)
        for (int dy = -REACH; dy <= REACH; dy++)
            for (int dx = -REACH; dx <= REACH; dx++) {
                if (!dx && !dy && !dz) continue;
                offset *o = &R->off[R->noff++];
                o->dx = dx, o->dy = dy, o->dz = dz;
                o->pat = abs(dx) + 3 * abs(dy) + 9 * abs(dz);
                o->d2 = dx * dx * sp[0] * sp[0] + dy * dy * sp[1] * sp[1] + dz * dz * sp[2] * sp[2];
                o->d = sqrt(o->d2);
            }
    qsort(R->off, (size_t)R->noff, sizeof R->off[0], cmp_offset); /* nearest first: they decide most voxels */
}

/* The lookup table of M_v for the squared radii up to min(maxr2, what LUT_POINTS octant points cover). */
static tg_status make_table(tg_ctx *ctx, const squares *S, const double sp[3], double maxr2, redundancy *R)
{
    double lim = maxr2;
    int64_t ext[3], npts;
    for (;;) {
        npts = 1;
        for (int i = 0; i < 3; i++) {
            ext[i] = (int64_t)(sqrt(lim) / sp[i]) + 1;
            if (ext[i] + REACH >= S->len[i]) ext[i] = S->len[i] - REACH - 1;
            npts *= ext[i] + 1;
        }
        if (npts <= LUT_POINTS) break;
        lim *= 0.8;
    }
    R->limit = lim;
    lattice_point *pts = tg_malloc((size_t)npts * sizeof *pts);
    if (!pts) return tg_fail(ctx, TG_ERR_NOMEM, "thickness: out of memory for the redundancy table");
    int64_t n = 0;
    for (int64_t z = 0; z <= ext[2]; z++)
        for (int64_t y = 0; y <= ext[1]; y++)
            for (int64_t x = 0; x <= ext[0]; x++) {
                double n2 = sqn(S, x, y, z);
                if (n2 <= lim) pts[n++] = (lattice_point){n2, {(int16_t)x, (int16_t)y, (int16_t)z}};
            }
    qsort(pts, (size_t)n, sizeof *pts, cmp_point);
    int64_t ng = 0;
    for (int64_t i = 0; i < n; i++) ng += i == 0 || pts[i].n2 != pts[i - 1].n2;
    R->norm = tg_malloc((size_t)ng * sizeof *R->norm);
    R->m = tg_malloc((size_t)ng * NPAT * sizeof *R->m);
    if (!R->norm || !R->m) {
        tg_free(pts);
        return tg_fail(ctx, TG_ERR_NOMEM, "thickness: out of memory for the redundancy table");
    }
    double run[NPAT] = {0};
    int64_t g = -1;
    for (int64_t i = 0; i < n; i++) {
        const int16_t *p = pts[i].p;
        for (int pat = 1; pat < NPAT; pat++) {
            double q = sqn(S, p[0] + pat % 3, p[1] + pat / 3 % 3, p[2] + pat / 9);
            if (q > run[pat]) run[pat] = q;
        }
        if (i + 1 == n || pts[i + 1].n2 != pts[i].n2) {
            R->norm[++g] = pts[i].n2;
            R->m[g * NPAT] = INFINITY; /* class 0 is the ball itself, never used */
            for (int pat = 1; pat < NPAT; pat++) R->m[g * NPAT + pat] = round_up(run[pat]);
        }
    }
    R->ngroups = ng;
    tg_free(pts);
    return TG_OK;
}

/* Index of the last norm below r2, 0 < r2 <= limit: the ball {|p|^2 < r2} is the union of groups 0..g. */
static int64_t group_of(const redundancy *R, double r2)
{
    int64_t lo = 0, hi = R->ngroups - 1; /* norm[0] = 0 < r2 */
    while (lo < hi) {
        int64_t mid = (lo + hi + 1) / 2;
        if (R->norm[mid] < r2) lo = mid;
        else hi = mid - 1;
    }
    return lo;
}

/* Is the ball of voxel (x, y, z) contained in none of the balls of its neighbours that are at least as large?
 * Interior voxels (REACH from every face) take the branch-free path with linear offsets. */
static int keep_ball(const double *e2, const int64_t dims[3], const redundancy *R, const int64_t *lin, int64_t x,
                     int64_t y, int64_t z)
{
    int64_t nx = dims[0], ny = dims[1], i = x + nx * (y + ny * z);
    double r2 = e2[i];
    if (r2 > R->limit) { /* beyond the table: the continuous test, sufficient for containment */
        double r = sqrt(r2);
        for (int k = 0; k < R->noff; k++) {
            const offset *o = &R->off[k];
            int64_t X = x + o->dx, Y = y + o->dy, Z = z + o->dz;
            if (X < 0 || Y < 0 || Z < 0 || X >= nx || Y >= ny || Z >= dims[2]) continue;
            double q = e2[X + nx * (Y + ny * Z)];
            if (q >= r2 && q >= (r2 + 2.0 * r * o->d + o->d2) * (1 + MARGIN)) return 0;
        }
        return 1;
    }
    const float *m = R->m + group_of(R, r2) * NPAT;
    if (x >= REACH && y >= REACH && z >= REACH && x + REACH < nx && y + REACH < ny && z + REACH < dims[2]) {
        const double *c = e2 + i;
        int hit = 0;
        for (int k = 0; k < 26; k++) {
            double q = c[lin[k]];
            hit |= (q >= r2) & (q > (double)m[R->off[k].pat]);
        }
        if (hit) return 0;
        for (int k = 26; k < R->noff; k++) {
            double q = c[lin[k]];
            hit |= (q >= r2) & (q > (double)m[R->off[k].pat]);
        }
        return !hit;
    }
    for (int k = 0; k < R->noff; k++) {
        const offset *o = &R->off[k];
        int64_t X = x + o->dx, Y = y + o->dy, Z = z + o->dz;
        if (X < 0 || Y < 0 || Z < 0 || X >= nx || Y >= ny || Z >= dims[2]) continue;
        double q = e2[X + nx * (Y + ny * Z)];
        if (q >= r2 && q > (double)m[o->pat]) return 0;
    }
    return 1;
}

/* Mark the kept centres of plane z in its rows of the bitmap (64-bit words, each row padded to whole words);
 * returns their number. */
static int64_t plane_centres(const double *e2, const int64_t dims[3], const redundancy *R, const int64_t *lin,
                             int64_t z, uint64_t *bits)
{
    int64_t n = 0, nx = dims[0], ny = dims[1], wpr = (nx + 63) / 64;
    for (int64_t y = 0; y < ny; y++) {
        uint64_t *row = bits + (z * ny + y) * wpr;
        memset(row, 0, (size_t)wpr * sizeof *row);
        const double *e = e2 + nx * (y + ny * z);
        for (int64_t x = 0; x < nx; x++) {
            if (e[x] <= 0.0 || !keep_ball(e2, dims, R, lin, x, y, z)) continue;
            row[x >> 6] |= (uint64_t)1 << (x & 63);
            n++;
        }
    }
    return n;
}

/* The kept centres, grouped by plane (group z is cs[first[z] .. first[z+1])) and sorted largest first inside each
 * group (ties by raster position). */
static tg_status find_centres(tg_ctx *ctx, const double *e2, const int64_t dims[3], const squares *S,
                              const redundancy *R, centre **cs_out, int64_t *first)
{
    int64_t nx = dims[0], ny = dims[1], nz = dims[2], wpr = (nx + 63) / 64, lin[NOFF];
    for (int k = 0; k < R->noff; k++) lin[k] = R->off[k].dx + nx * (R->off[k].dy + ny * R->off[k].dz);
    uint64_t *bits = tg_malloc((size_t)(wpr * ny * nz) * sizeof *bits);
    if (!bits) return tg_fail(ctx, TG_ERR_NOMEM, "thickness: out of memory for the centre map");
    first[0] = 0;
#pragma omp parallel for schedule(dynamic, 2) num_threads(ctx->nthreads)
    for (int64_t z = 0; z < nz; z++) first[z + 1] = plane_centres(e2, dims, R, lin, z, bits);
    for (int64_t z = 0; z < nz; z++) first[z + 1] += first[z];
    int64_t nc = first[nz];
    centre *cs = tg_malloc((size_t)(nc > 0 ? nc : 1) * sizeof *cs);
    if (!cs) {
        tg_free(bits);
        return tg_fail(ctx, TG_ERR_NOMEM, "thickness: out of memory for %lld ball centres", (long long)nc);
    }
#pragma omp parallel for schedule(dynamic, 2) num_threads(ctx->nthreads)
    for (int64_t z = 0; z < nz; z++) {
        centre *c = cs + first[z];
        for (int64_t y = 0; y < ny; y++) {
            const uint64_t *row = bits + (z * ny + y) * wpr;
            for (int64_t w = 0; w < wpr; w++)
                for (uint64_t b = row[w]; b; b &= b - 1) {
                    int64_t x = w * 64 + __builtin_ctzll(b);
                    double r2 = e2[x + nx * (y + ny * z)];
                    *c++ = (centre){r2, (int32_t)x, (int32_t)y, (int32_t)z, (int32_t)half_height(S, r2)};
                }
        }
        qsort(cs + first[z], (size_t)(first[z + 1] - first[z]), sizeof *cs, cmp_centre);
    }
    tg_free(bits);
    *cs_out = cs;
    return TG_OK;
}

/* Paint the voxels of [xa, xb) of one row that are still unpainted (bits set) with val, and clear their bits. */
static inline void paint_row(uint64_t *bits, float *orow, int64_t xa, int64_t xb, float val)
{
    int64_t wa = xa >> 6, wb = (xb - 1) >> 6;
    for (int64_t w = wa; w <= wb; w++) {
        uint64_t m = bits[w];
        if (w == wa) m &= ~0ULL << (xa & 63);
        if (w == wb) m &= ~0ULL >> (63 - ((xb - 1) & 63));
        if (!m) continue;
        bits[w] &= ~m;
        for (; m; m &= m - 1) orow[w * 64 + __builtin_ctzll(m)] = val;
    }
}

/* The disc of ball c on plane z (unpainted bits, wpr words per row, and output o of that plane). Row half widths
 * shrink as |y - cy| grows, so they are stepped down from the middle row, with the canonical sums. */
static void paint_disc(const centre *c, int64_t z, const squares *S, int64_t nx, int64_t ny, int64_t wpr,
                       uint64_t *bits, float *o)
{
    float val = (float)c->r2;
    double r2 = c->r2;
    int64_t dz = z > c->z ? z - c->z : c->z - z;
    double rem = r2 - S->q[2][dz];
    if (rem <= 0) return;
    int64_t hy = (int64_t)(sqrt(rem) / sqrt(S->q[1][1])), hx = (int64_t)(sqrt(rem) / sqrt(S->q[0][1]));
#define IN_Y(j) (sqn(S, 0, (j), dz) < r2)
    STEP_TO_EDGE(hy, S->len[1], IN_Y);
#undef IN_Y
#define IN_X(j) (sqn(S, (j), 0, dz) < r2)
    STEP_TO_EDGE(hx, S->len[0], IN_X);
#undef IN_X
    for (int64_t d = 0; d <= hy; d++) {
        while (hx > 0 && !(sqn(S, hx, d, dz) < r2)) hx--;
        int64_t xa = c->x - hx > 0 ? c->x - hx : 0, xb = c->x + hx + 1 < nx ? c->x + hx + 1 : nx;
        if (c->y - d >= 0) paint_row(bits + (c->y - d) * wpr, o + (c->y - d) * nx, xa, xb, val);
        if (d > 0 && c->y + d < ny) paint_row(bits + (c->y + d) * wpr, o + (c->y + d) * nx, xa, xb, val);
    }
}

typedef struct head {
    int64_t pos, end; /* the next centre of a plane's group and the end of the part that reaches this plane */
} head;

/* Largest radius first; among equal radii the earlier position in cs */
static inline int head_before(const centre *cs, const head *a, const head *b)
{
    double ra = cs[a->pos].r2, rb = cs[b->pos].r2;
    return ra > rb || (ra == rb && a->pos < b->pos);
}

static void sift_down(const centre *cs, head *h, int64_t n, int64_t i)
{
    for (;;) {
        int64_t l = 2 * i + 1, best = i;
        if (l < n && head_before(cs, &h[l], &h[best])) best = l;
        if (l + 1 < n && head_before(cs, &h[l + 1], &h[best])) best = l + 1;
        if (best == i) return;
        head t = h[i];
        h[i] = h[best];
        h[best] = t;
        i = best;
    }
}

/* Paint plane z: merge the prefixes of the groups whose balls reach it, largest first. bits: room for the plane's
 * bitmap of unpainted voxels; h: room for 2 hmax + 1 heads. */
static void paint_plane(const centre *cs, const int64_t *first, int64_t hmax, const squares *S,
                        const int64_t dims[3], int64_t z, float *o, uint64_t *bits, head *h)
{
    int64_t nx = dims[0], ny = dims[1], plane = nx * ny, wpr = (nx + 63) / 64, nh = 0;
    float *op = o + z * plane;
    memset(bits, 0, (size_t)(wpr * ny) * sizeof *bits);
    for (int64_t y = 0; y < ny; y++)
        for (int64_t x = 0; x < nx; x++) bits[y * wpr + (x >> 6)] |= (uint64_t)(op[y * nx + x] < 0.0f) << (x & 63);
    int64_t za = z - hmax > 0 ? z - hmax : 0, zb = z + hmax + 1 < dims[2] ? z + hmax + 1 : dims[2];
    for (int64_t zz = za; zz < zb; zz++) {
        int64_t dz = zz > z ? zz - z : z - zz, lo = first[zz], hi = first[zz + 1];
        while (lo < hi) { /* the first centre of the group whose ball does not reach plane z */
            int64_t mid = lo + (hi - lo) / 2;
            if (cs[mid].hz >= dz) lo = mid + 1;
            else hi = mid;
        }
        if (lo > first[zz]) h[nh++] = (head){first[zz], lo};
    }
    for (int64_t i = nh / 2 - 1; i >= 0; i--) sift_down(cs, h, nh, i);
    while (nh > 0) {
        paint_disc(&cs[h[0].pos], z, S, nx, ny, wpr, bits, op);
        if (++h[0].pos == h[0].end) h[0] = h[--nh];
        sift_down(cs, h, nh, 0);
    }
}

tg_status tg_thickness(tg_ctx *ctx, const tg_volume *mask, tg_volume *out)
{
    tg_volume e2v;
    centre *cs = NULL;
    int64_t *first = NULL;
    uint64_t **rows = NULL;
    head **heads = NULL;
    redundancy R = {0};
    squares S = {{0}, {0}};
    int nt = ctx->nthreads < 1 ? 1 : ctx->nthreads;
    tg_status st;
    tg_volume_init(&e2v);
    tg_volume_init(out);
    if (!mask || !mask->buf) return tg_fail(ctx, TG_ERR_ARG, "thickness: the mask is empty (released)");
    double smin = mask->spacing[0], sp[3];
    for (int i = 1; i < 3; i++)
        if (mask->spacing[i] < smin) smin = mask->spacing[i];
    if (!(smin > 0.0)) return tg_fail(ctx, TG_ERR_ARG, "thickness: spacing must be positive");
    for (int i = 0; i < 3; i++) sp[i] = mask->spacing[i] / smin;
    if ((st = tg_edt_squared(ctx, mask, sp, TG_F64, &e2v)) != TG_OK) goto done;
    const double *e2 = e2v.buf->data;
    const int64_t *dims = mask->dims;
    int64_t count = tg_volume_count(mask);
    double maxr2 = 0;
#pragma omp parallel for schedule(static) reduction(max : maxr2) num_threads(ctx->nthreads)
    for (int64_t i = 0; i < count; i++)
        if (e2[i] > maxr2) maxr2 = e2[i];
    make_offsets(sp, &R);
    if ((st = make_squares(ctx, sp, maxr2, &S)) != TG_OK) goto done;
    if ((st = make_table(ctx, &S, sp, maxr2, &R)) != TG_OK) goto done;
    if (!(first = tg_malloc((size_t)(dims[2] + 1) * sizeof *first))) {
        st = tg_fail(ctx, TG_ERR_NOMEM, "thickness: out of memory");
        goto done;
    }
    if ((st = find_centres(ctx, e2, dims, &S, &R, &cs, first)) != TG_OK) goto done;
    if (tg_progress(ctx, 0.5, "thickness")) { st = tg_fail(ctx, TG_ERR_CANCELLED, "thickness: interrupted"); goto done; }
    if ((st = tg_volume_alloc_uninit(ctx, dims, TG_F32, mask->spacing, out)) != TG_OK) goto done;
    float *o = out->buf->data;
#pragma omp parallel for schedule(static) num_threads(ctx->nthreads)
    for (int64_t i = 0; i < count; i++) o[i] = e2[i] > 0.0 ? -1.0f : 0.0f; /* -1: in the mask, not yet painted */
    tg_volume_release(&e2v);
    int64_t hmax = maxr2 > 0 ? half_height(&S, maxr2) : 0;
    rows = tg_calloc((size_t)nt, sizeof *rows);
    heads = tg_calloc((size_t)nt, sizeof *heads);
    if (!rows || !heads) { st = tg_fail(ctx, TG_ERR_NOMEM, "thickness: out of memory"); goto done; }
    for (int t = 0; t < nt; t++) {
        rows[t] = tg_malloc((size_t)(dims[1] * ((dims[0] + 63) / 64)) * sizeof **rows);
        heads[t] = tg_malloc((size_t)(2 * hmax + 1) * sizeof **heads);
        if (!rows[t] || !heads[t]) { st = tg_fail(ctx, TG_ERR_NOMEM, "thickness: out of memory for the painting rows"); goto done; }
    }
    int64_t planes_done = 0;
#pragma omp parallel for schedule(dynamic, 1) num_threads(ctx->nthreads)
    for (int64_t z = 0; z < dims[2]; z++) {
        int t = omp_get_thread_num();
        if (tg_cancelled(ctx)) continue;
        paint_plane(cs, first, hmax, &S, dims, z, o, rows[t], heads[t]);
        int64_t d;
#pragma omp atomic capture
        d = ++planes_done;
        tg_progress(ctx, 0.5 + 0.5 * (double)d / (double)dims[2], "thickness");
    }
    if (tg_cancelled(ctx)) { st = tg_fail(ctx, TG_ERR_CANCELLED, "thickness: interrupted"); goto done; }
#pragma omp parallel for schedule(static) num_threads(ctx->nthreads)
    for (int64_t i = 0; i < count; i++) o[i] = o[i] > 0.0f ? (float)(2.0 * sqrt((double)o[i]) * smin) : 0.0f;
    tg_progress_done(ctx, "thickness");
done:
    for (int t = 0; t < nt; t++) {
        if (rows) tg_free(rows[t]);
        if (heads) tg_free(heads[t]);
    }
    tg_free(rows);
    tg_free(heads);
    tg_free(cs);
    tg_free(first);
    for (int i = 0; i < 3; i++) tg_free(S.q[i]);
    tg_free(R.norm);
    tg_free(R.m);
    tg_volume_release(&e2v);
    if (st != TG_OK) tg_volume_release(out);
    return st;
}

static void swapf(double *a, double *b) { double t = *a; *a = *b; *b = t; }

/* k-th smallest of a[0..n) (0-based), rearranging a (Hoare selection with median-of-three pivots). */
static double select_kth(double *a, int64_t n, int64_t k)
{
    int64_t lo = 0, hi = n - 1;
    while (hi > lo) {
        int64_t mid = lo + (hi - lo) / 2;
        if (a[mid] < a[lo]) swapf(&a[mid], &a[lo]);
        if (a[hi] < a[lo]) swapf(&a[hi], &a[lo]);
        if (a[hi] < a[mid]) swapf(&a[hi], &a[mid]);
        double pivot = a[mid];
        int64_t i = lo, j = hi;
        while (i <= j) {
            while (a[i] < pivot) i++;
            while (a[j] > pivot) j--;
            if (i <= j) { swapf(&a[i], &a[j]); i++; j--; }
        }
        if (k <= j) hi = j;
        else if (k >= i) lo = i;
        else return a[k];
    }
    return a[k];
}

tg_status tg_positive_quantiles(tg_ctx *ctx, const tg_volume *v, int nq, const double *q, double *out)
{
    if (!v || !v->buf || (v->dtype != TG_F32 && v->dtype != TG_F64))
        return tg_fail(ctx, TG_ERR_ARG, "quantiles: expected an f32 or f64 volume");
    for (int i = 0; i < nq; i++)
        if (!(q[i] >= 0.0 && q[i] <= 1.0)) return tg_fail(ctx, TG_ERR_ARG, "quantiles: q must lie in [0, 1], got %g", q[i]);
    int64_t n = 0, total = tg_volume_count(v);
    double *a = tg_malloc((size_t)(total > 0 ? total : 1) * sizeof *a);
    if (!a) return tg_fail(ctx, TG_ERR_NOMEM, "quantiles: out of memory for %lld values", (long long)total);
    if (tg_volume_is_contiguous(v) && v->dtype == TG_F32) { /* thickness maps: straight through the floats */
        const float *p = tg_volume_ptr(v, 0, 0, 0);
        for (int64_t i = 0; i < total; i++)
            if (p[i] > 0.0f) a[n++] = p[i];
    } else {
        for (int64_t z = 0; z < v->dims[2]; z++)
            for (int64_t y = 0; y < v->dims[1]; y++)
                for (int64_t x = 0; x < v->dims[0]; x++) {
                    double val = tg_volume_get(v, x, y, z);
                    if (val > 0.0) a[n++] = val;
                }
    }
    for (int i = 0; i < nq; i++) {
        if (n == 0) { out[i] = 0.0; continue; }
        int64_t k = (int64_t)ceil(q[i] * (double)n) - 1;
        if (k < 0) k = 0;
        if (k >= n) k = n - 1;
        out[i] = select_kth(a, n, k);
    }
    tg_free(a);
    return TG_OK;
}
