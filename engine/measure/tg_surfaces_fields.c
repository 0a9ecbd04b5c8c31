/* tg_surfaces_fields.c — areas from real-valued fields, one z layer at a time; see tg_surfaces_fields.h for the
 * manual.
 *
 * The extended domain (the volume, or the volume with a ring of zeros when closed) is walked layer by layer. For
 * each point layer: every phase's field is produced (loaded, smoothed in x and y into a ring of 2 r_z + 1 slices,
 * combined along z), the function of every set is evaluated with one sign bit per set, and the cube layer between
 * the previous and this point layer is meshed: a cube is looked at only for the sets whose sign bits differ among
 * its 8 corners. */
#include "measure/tg_surfaces_fields.h"

#include "filter/tg_gaussian.h"
#include "measure/tg_mcubes.h"

#include <math.h>
#include <string.h>

#define MAXSETS (TG_SURFACES_MAX_PHASES + TG_SURFACES_MAX_PHASES * (TG_SURFACES_MAX_PHASES - 1) / 2)

typedef struct source {
    const tg_volume *const *fields; /* one per phase, or NULL */
    const tg_volume *labels;        /* or a label volume */
    const int64_t *phases;
    int n;
    int64_t nx, ny, nz;
} source;

#define CHUNK 16 /* least cube layers per task: each task walks its layers in order with its own buffers, and
                   * smooths 2 r_z slices of halo again, so a task takes at least 8 r_z layers (halo <= 25 %) */

typedef struct job {
    const source *s;
    tg_surfaces_fields_opts o;
    int64_t off, W, H, D, plane, wplane;
    int r[3], ring;                 /* kernel radii; slices in the ring (2 r_z + 1) */
    float *w[3];                    /* kernels, 2 r + 1 weights each (NULL: axis not smoothed) */
    int nsets;
    uint32_t mask[MAXSETS];         /* phase bits of each set */
    double sp[3];                   /* spacing, metres */
    double *layer_area;             /* (D - 1) x nsets */
    double *soft;                   /* nz x n: sum of each field over a volume slice */
    int64_t *count;                 /* nz x n: points above the level */
    double *err;                    /* nz: max |sum - 1| */
    int64_t *nans;                  /* nz */
} job;

typedef struct worker {
    float *R[TG_SURFACES_MAX_PHASES]; /* ring: xy-smoothed volume slices (plane each) */
    float *X;                         /* x-smoothed slice (plane) */
    float *F[TG_SURFACES_MAX_PHASES]; /* fields at the current point layer (wplane) */
    float *G[2][MAXSETS];             /* set functions at the previous / current point layer (wplane) */
    uint64_t *S[2];                   /* sign bits of the sets, previous / current point layer (wplane) */
    float *pad;                       /* nx + 2 r_x */
    float *m1, *m2, *rest;            /* largest and second largest competitor, 1 - sum, per point of a row (W) */
    int64_t have;                     /* highest virtual slice in the ring */
} worker;

static int64_t reflect(int64_t i, int64_t n)
{
    int64_t m = 2 * n;
    i %= m;
    if (i < 0) i += m;
    return i < n ? i : m - 1 - i;
}

/* Row (y, z) of phase a's field as floats into dst; NaN values become 0 and are counted (the return). */
static int64_t load_row(const source *s, int a, int64_t y, int64_t z, float *dst)
{
    int64_t nan = 0, nx = s->nx;
    const tg_volume *v = s->labels ? s->labels : s->fields[a];
    const char *p = (const char *)tg_volume_ptr(v, 0, y, z);
    size_t step = (size_t)v->strides[0] * tg_dtype_size(v->dtype);
    int64_t ph = s->labels ? s->phases[a] : 0;
    switch (v->dtype) {
    case TG_U8:
        for (int64_t x = 0; x < nx; x++) dst[x] = *(const uint8_t *)(p + (size_t)x * step) == ph ? 1.0f : 0.0f;
        break;
    case TG_U16:
        for (int64_t x = 0; x < nx; x++) dst[x] = *(const uint16_t *)(p + (size_t)x * step) == ph ? 1.0f : 0.0f;
        break;
    case TG_I32:
        for (int64_t x = 0; x < nx; x++) dst[x] = *(const int32_t *)(p + (size_t)x * step) == ph ? 1.0f : 0.0f;
        break;
    case TG_F32:
        for (int64_t x = 0; x < nx; x++) {
            float f = *(const float *)(p + (size_t)x * step);
            if (f != f) { f = 0.0f; nan++; }
            dst[x] = f;
        }
        break;
    default: /* TG_F64 (checked before) */
        for (int64_t x = 0; x < nx; x++) {
            double f = *(const double *)(p + (size_t)x * step);
            if (f != f) { f = 0.0; nan++; }
            dst[x] = (float)f;
        }
        break;
    }
    return nan;
}

#if defined(__GNUC__) && !defined(__clang__) && defined(__x86_64__) && !defined(__SANITIZE_ADDRESS__)
#define TG_HOT_CLONES __attribute__((target_clones("avx2", "default")))
#else
#define TG_HOT_CLONES
#endif

/* out[x] = sum_k w[k] src[k][x] for x < n: the weighted sum of `taps` rows, unrolled for the usual tap counts so the
 * x loop vectorises and out is written once. */
TG_HOT_CLONES static void wsum(float *restrict out, const float *const *src, const float *w, int taps, int64_t n)
{
    switch (taps) {
    case 3: {
        const float *s0 = src[0], *s1 = src[1], *s2 = src[2];
        for (int64_t x = 0; x < n; x++) out[x] = w[0] * s0[x] + w[1] * s1[x] + w[2] * s2[x];
        return;
    }
    case 5: {
        const float *s0 = src[0], *s1 = src[1], *s2 = src[2], *s3 = src[3], *s4 = src[4];
        for (int64_t x = 0; x < n; x++) out[x] = w[0] * s0[x] + w[1] * s1[x] + w[2] * s2[x] + w[3] * s3[x] + w[4] * s4[x];
        return;
    }
    case 7: {
        const float *s0 = src[0], *s1 = src[1], *s2 = src[2], *s3 = src[3], *s4 = src[4], *s5 = src[5], *s6 = src[6];
        for (int64_t x = 0; x < n; x++)
            out[x] = w[0] * s0[x] + w[1] * s1[x] + w[2] * s2[x] + w[3] * s3[x] + w[4] * s4[x] + w[5] * s5[x] +
                     w[6] * s6[x];
        return;
    }
    case 9: { /* sigma 1 with truncate 4: the default */
        const float *s0 = src[0], *s1 = src[1], *s2 = src[2], *s3 = src[3], *s4 = src[4], *s5 = src[5], *s6 = src[6],
                    *s7 = src[7], *s8 = src[8];
        for (int64_t x = 0; x < n; x++)
            out[x] = w[0] * s0[x] + w[1] * s1[x] + w[2] * s2[x] + w[3] * s3[x] + w[4] * s4[x] + w[5] * s5[x] +
                     w[6] * s6[x] + w[7] * s7[x] + w[8] * s8[x];
        return;
    }
    default:
        for (int64_t x = 0; x < n; x++) out[x] = 0;
        for (int k = 0; k < taps; k++) {
            float wk = w[k];
            const float *sk = src[k];
            for (int64_t x = 0; x < n; x++) out[x] += wk * sk[x];
        }
    }
}

/* Volume slice z of phase a, smoothed in x and y, into dst (plane). Returns its NaN count. */
static int64_t xy_slice(const job *J, worker *wk, int a, int64_t z, float *dst)
{
    const source *s = J->s;
    int64_t nx = s->nx, ny = s->ny, nan = 0;
    int rx = J->r[0], ry = J->r[1];
    float *xs = J->w[1] ? wk->X : dst;
    for (int64_t y = 0; y < ny; y++) {
        float *out = xs + y * nx;
        if (!J->w[0]) {
            nan += load_row(s, a, y, z, out);
            continue;
        }
        float *line = wk->pad + rx;
        nan += load_row(s, a, y, z, line);
        for (int i = 1; i <= rx; i++) {
            wk->pad[rx - i] = line[reflect(-i, nx)];
            line[nx - 1 + i] = line[reflect(nx - 1 + i, nx)];
        }
        const float *src[2 * 256 + 1];
        for (int k = 0; k <= 2 * rx; k++) src[k] = wk->pad + k;
        wsum(out, src, J->w[0], 2 * rx + 1, nx);
    }
    if (J->w[1])
        for (int64_t y = 0; y < ny; y++) {
            const float *src[2 * 256 + 1];
            for (int k = 0; k <= 2 * ry; k++) src[k] = xs + reflect(y + k - ry, ny) * nx;
            wsum(dst + y * nx, src, J->w[1], 2 * ry + 1, nx);
        }
    return nan;
}

/* Ring slot of virtual slice index v (v may lie outside the volume: its content is the reflected slice). */
static int slot_of(const job *J, int64_t v) { return (int)(((v % J->ring) + J->ring) % J->ring); }

/* Bring the ring up to date for point layer e (virtual slices z - r_z .. z + r_z); the NaN of the slices in
 * [own_lo, own_hi) counted. */
static void fill_ring(job *J, worker *wk, int64_t e, int64_t own_lo, int64_t own_hi)
{
    int64_t z = e - J->off, nz = J->s->nz;
    if (z < 0 || z >= nz) return;
    int64_t lo = z - J->r[2], hi = z + J->r[2];
    if (wk->have < lo - 1) wk->have = lo - 1;
    for (int64_t v = wk->have + 1; v <= hi; v++) {
        int64_t zz = reflect(v, nz), nan = 0;
        for (int a = 0; a < J->s->n; a++)
            nan += xy_slice(J, wk, a, zz, wk->R[a] + (size_t)slot_of(J, v) * (size_t)J->plane);
        if (v == zz && v >= own_lo && v < own_hi) J->nans[zz] = nan; /* each slice counted by the task owning it */
    }
    wk->have = hi;
}

/* Fields of row j of point layer e into wk->F (zeros outside the volume); soft sums and counts added to st. */
static void field_row(const job *J, worker *wk, int64_t e, int64_t j, double *soft, int64_t *cnt)
{
    const source *s = J->s;
    int64_t z = e - J->off, y = j - J->off, nx = s->nx, W = J->W;
    int rz = J->r[2];
    int in = z >= 0 && z < s->nz && y >= 0 && y < s->ny;
    for (int a = 0; a < s->n; a++) {
        float *f = wk->F[a] + j * W;
        if (!in) {
            memset(f, 0, (size_t)W * sizeof *f);
            continue;
        }
        if (J->off) f[0] = f[W - 1] = 0;
        f += J->off;
        if (!J->w[2]) {
            memcpy(f, wk->R[a] + (size_t)slot_of(J, z) * (size_t)J->plane + y * nx, (size_t)nx * sizeof *f);
        } else {
            const float *src[2 * 256 + 1];
            for (int k = 0; k <= 2 * rz; k++) src[k] = wk->R[a] + (size_t)slot_of(J, z + k - rz) * (size_t)J->plane + y * nx;
            wsum(f, src, J->w[2], 2 * rz + 1, nx);
        }
        double sum = 0;
        int64_t c = 0;
        for (int64_t x = 0; x < nx; x++) {
            sum += f[x];
            c += f[x] > (float)J->o.level;
        }
        soft[a] += sum;
        cnt[a] += c;
    }
}

/* Set functions and sign bits of row j (fields in wk->F) into plane `cur`; returns max |sum - 1| of the row.
 *   rule "level":  the sum of the set's fields minus the level;
 *   rule "argmax": the largest field of the set minus the largest competitor outside it, the competitors being
 *                  the other fields and 1 - (sum of all), what no listed phase claims (labels not listed, classes
 *                  left out). For one phase: F_a minus the larger of the other fields and that rest. */
TG_HOT_CLONES static double set_row(const job *J, worker *wk, int64_t j, int cur, int inside)
{
    int n = J->s->n;
    int64_t W = J->W;
    float level = (float)J->o.level;
    float *m1 = wk->m1, *m2 = wk->m2;
    double err = 0;
    const float *F[TG_SURFACES_MAX_PHASES];
    for (int a = 0; a < n; a++) F[a] = wk->F[a] + j * W;
    int argmax = J->o.argmax && n > 1;
    if (argmax || inside) { /* the two largest of the fields and the rest, per point; the rest = 1 - sum */
        float *rest = wk->rest;
        for (int64_t i = 0; i < W; i++) {
            m1[i] = -INFINITY;
            m2[i] = -INFINITY;
            rest[i] = 1.0f;
        }
        for (int a = 0; a <= n; a++) {
            const float *f = a < n ? F[a] : rest;
            for (int64_t i = 0; i < W; i++) {
                float v = f[i];
                if (a < n) rest[i] -= v;
                m2[i] = v > m1[i] ? m1[i] : (v > m2[i] ? v : m2[i]);
                m1[i] = v > m1[i] ? v : m1[i];
            }
        }
        if (inside)
            for (int64_t i = 0; i < W; i++) err = fabsf(rest[i]) > err ? fabsf(rest[i]) : err;
    }
    uint64_t *sg = wk->S[cur] + j * W;
    for (int64_t i = 0; i < W; i++) sg[i] = 0;
    for (int k = 0; k < J->nsets; k++) {
        float *g = wk->G[cur][k] + j * W;
        uint32_t m = J->mask[k];
        if (!argmax) {
            for (int64_t i = 0; i < W; i++) g[i] = -level;
            for (int a = 0; a < n; a++)
                if (m >> a & 1)
                    for (int64_t i = 0; i < W; i++) g[i] += F[a][i];
        } else if (k < n) { /* a single phase: F_a minus the largest competitor */
            const float *f = F[k];
            for (int64_t i = 0; i < W; i++) g[i] = f[i] - (f[i] >= m1[i] ? m2[i] : m1[i]);
        } else { /* a pair: the larger of the two minus the largest of the others and the rest */
            for (int64_t i = 0; i < W; i++) {
                float in = -INFINITY, out = -INFINITY, sum = 0;
                for (int a = 0; a < n; a++) {
                    float f = F[a][i];
                    sum += f;
                    if (m >> a & 1) in = f > in ? f : in;
                    else out = f > out ? f : out;
                }
                float rest = 1.0f - sum;
                g[i] = in - (rest > out ? rest : out);
            }
        }
        uint64_t bit = (uint64_t)1 << k;
        for (int64_t i = 0; i < W; i++) sg[i] |= g[i] > 0 ? bit : 0;
    }
    return err;
}

/* Area of each set in cube row j between the point layers in planes prev and cur, added to area[]. */
static void cube_row(const job *J, const worker *wk, int64_t j, int prev, int cur, double *area)
{
    int64_t W = J->W;
    const uint64_t *a0 = wk->S[prev] + j * W, *a1 = a0 + W, *b0 = wk->S[cur] + j * W, *b1 = b0 + W;
    for (int64_t i = 0; i + 1 < W; i++) {
        uint64_t o = a0[i] | a0[i + 1] | a1[i] | a1[i + 1] | b0[i] | b0[i + 1] | b1[i] | b1[i + 1];
        uint64_t d = a0[i] & a0[i + 1] & a1[i] & a1[i + 1] & b0[i] & b0[i + 1] & b1[i] & b1[i + 1];
        uint64_t mixed = o & ~d;
        while (mixed) {
            int k = __builtin_ctzll(mixed);
            mixed &= mixed - 1;
            const float *g0 = wk->G[prev][k] + j * W + i, *g1 = wk->G[cur][k] + j * W + i;
            double v[8] = {g0[0], g0[1], g0[W], g0[W + 1], g1[0], g1[1], g1[W], g1[W + 1]};
            int cfg = 0;
            for (int c = 0; c < 8; c++) cfg |= (v[c] > 0) << c;
            area[k] += tg_mc_tiling_area(tg_mc_decide(v, cfg, J->o.method), v, J->sp);
        }
    }
}

/* One task: point layers e0..e1 (the cube layers between them), in order. Statistics of the layers it owns
 * (e < e1, or the very last) go to the slice arrays; areas to layer_area. */
static void run_chunk(job *J, worker *wk, int64_t e0, int64_t e1)
{
    const source *s = J->s;
    int n = s->n;
    wk->have = -((int64_t)1 << 62);
    int64_t own_lo = e0 - J->off, own_hi = e1 == J->D - 1 ? e1 - J->off + 1 : e1 - J->off;
    for (int64_t e = e0; e <= e1; e++) {
        int cur = (int)(e & 1), own = e < e1 || e == J->D - 1;
        int64_t z = e - J->off;
        int inside = z >= 0 && z < s->nz;
        fill_ring(J, wk, e, own_lo, own_hi);
        double soft[TG_SURFACES_MAX_PHASES] = {0}, err = 0;
        int64_t cnt[TG_SURFACES_MAX_PHASES] = {0};
        for (int64_t j = 0; j < J->H; j++) {
            field_row(J, wk, e, j, soft, cnt);
            double r = set_row(J, wk, j, cur, inside && j >= J->off && j < J->off + s->ny);
            if (r > err) err = r;
        }
        if (own && inside) {
            for (int a = 0; a < n; a++) {
                J->soft[z * n + a] = soft[a];
                J->count[z * n + a] = cnt[a];
            }
            J->err[z] = err;
        }
        if (e == e0) continue;
        double area[MAXSETS] = {0};
        for (int64_t j = 0; j + 1 < J->H; j++) cube_row(J, wk, j, cur ^ 1, cur, area);
        for (int k = 0; k < J->nsets; k++) J->layer_area[(e - 1) * J->nsets + k] = area[k];
    }
}

static tg_status check_opts(tg_ctx *ctx, const tg_surfaces_fields_opts *o, int n, const double sp[3])
{
    if (!o) return tg_fail(ctx, TG_ERR_ARG, "surfaces: options are required");
    if (n < 1 || n > TG_SURFACES_MAX_PHASES)
        return tg_fail(ctx, TG_ERR_ARG, "surfaces: between 1 and %d phases, got %d", TG_SURFACES_MAX_PHASES, n);
    if (o->method != TG_MC_LEWINER && o->method != TG_MC_LORENSEN)
        return tg_fail(ctx, TG_ERR_ARG, "surfaces: unknown method %d", o->method);
    if (o->convention != TG_SURFACES_OPEN && o->convention != TG_SURFACES_CLOSED)
        return tg_fail(ctx, TG_ERR_ARG, "surfaces: unknown convention %d", o->convention);
    for (int k = 0; k < 3; k++)
        if (!(o->sigma[k] >= 0) || !isfinite(o->sigma[k]))
            return tg_fail(ctx, TG_ERR_ARG, "surfaces: sigma must be a finite number >= 0 (voxels), got %g", o->sigma[k]);
    if (!(o->truncate > 0) || !isfinite(o->truncate))
        return tg_fail(ctx, TG_ERR_ARG, "surfaces: truncate must be > 0, got %g", o->truncate);
    for (int k = 0; k < 3; k++)
        if (o->sigma[k] > 0 && tg_gaussian_radius(o->sigma[k], o->truncate) > 256)
            return tg_fail(ctx, TG_ERR_ARG, "surfaces: sigma %g x truncate %g is more than 256 voxels: that is not a light "
                           "smoothing", o->sigma[k], o->truncate);
    if (!isfinite(o->level)) return tg_fail(ctx, TG_ERR_ARG, "surfaces: level must be finite");
    for (int k = 0; k < 3 && sp; k++)
        if (!(sp[k] > 0) || !isfinite(sp[k]))
            return tg_fail(ctx, TG_ERR_ARG, "surfaces: the spacing must be positive, got %g", sp[k]);
    return TG_OK;
}

static int worker_alloc(const job *J, worker *wk)
{
    int n = J->s->n, ok = 1;
    size_t pf = (size_t)J->plane * sizeof(float), wf = (size_t)J->wplane * sizeof(float);
    for (int a = 0; a < n; a++) {
        ok &= (wk->R[a] = tg_malloc((size_t)J->ring * pf)) != NULL;
        ok &= (wk->F[a] = tg_malloc(wf)) != NULL;
    }
    if (J->w[1]) ok &= (wk->X = tg_malloc(pf)) != NULL;
    for (int c = 0; c < 2; c++) {
        for (int k = 0; k < J->nsets; k++) ok &= (wk->G[c][k] = tg_malloc(wf)) != NULL;
        ok &= (wk->S[c] = tg_malloc((size_t)J->wplane * sizeof(uint64_t))) != NULL;
    }
    ok &= (wk->pad = tg_malloc((size_t)(J->s->nx + 2 * J->r[0]) * sizeof(float))) != NULL;
    ok &= (wk->m1 = tg_malloc((size_t)J->W * sizeof(float))) != NULL;
    ok &= (wk->m2 = tg_malloc((size_t)J->W * sizeof(float))) != NULL;
    ok &= (wk->rest = tg_malloc((size_t)J->W * sizeof(float))) != NULL;
    return ok;
}

static void worker_free(worker *wk)
{
    for (int a = 0; a < TG_SURFACES_MAX_PHASES; a++) {
        tg_free(wk->R[a]);
        tg_free(wk->F[a]);
    }
    tg_free(wk->X);
    for (int c = 0; c < 2; c++) {
        for (int k = 0; k < MAXSETS; k++) tg_free(wk->G[c][k]);
        tg_free(wk->S[c]);
    }
    tg_free(wk->pad);
    tg_free(wk->m1);
    tg_free(wk->m2);
    tg_free(wk->rest);
}

static tg_status alloc_job(tg_ctx *ctx, job *J)
{
    const source *s = J->s;
    for (int k = 0; k < 3; k++)
        if (J->o.sigma[k] > 0) {
            J->r[k] = tg_gaussian_radius(J->o.sigma[k], J->o.truncate);
            double *wd = tg_malloc((size_t)(2 * J->r[k] + 1) * sizeof *wd);
            J->w[k] = tg_malloc((size_t)(2 * J->r[k] + 1) * sizeof(float));
            if (!wd || !J->w[k]) {
                tg_free(wd);
                return tg_fail(ctx, TG_ERR_NOMEM, "surfaces: out of memory");
            }
            tg_gaussian_kernel(J->o.sigma[k], 0, J->o.truncate, wd);
            for (int i = 0; i <= 2 * J->r[k]; i++) J->w[k][i] = (float)wd[i];
            tg_free(wd);
        }
    J->ring = 2 * J->r[2] + 1;
    J->layer_area = tg_calloc((size_t)(J->D - 1) * (size_t)J->nsets, sizeof *J->layer_area);
    J->soft = tg_calloc((size_t)s->nz * (size_t)s->n, sizeof *J->soft);
    J->count = tg_calloc((size_t)s->nz * (size_t)s->n, sizeof *J->count);
    J->err = tg_calloc((size_t)s->nz, sizeof *J->err);
    J->nans = tg_calloc((size_t)s->nz, sizeof *J->nans);
    if (!J->layer_area || !J->soft || !J->count || !J->err || !J->nans)
        return tg_fail(ctx, TG_ERR_NOMEM, "surfaces: out of memory");
    return TG_OK;
}

static void free_job(job *J)
{
    for (int k = 0; k < 3; k++) tg_free(J->w[k]);
    tg_free(J->layer_area);
    tg_free(J->soft);
    tg_free(J->count);
    tg_free(J->err);
    tg_free(J->nans);
}

/* Sums in layer and slice order (so the result does not depend on the thread count) and the interfaces. */
static void finish(const job *J, tg_surfaces_fields_result *out)
{
    int n = J->s->n;
    double set_area[MAXSETS] = {0};
    for (int64_t c = 0; c + 1 < J->D; c++)
        for (int k = 0; k < J->nsets; k++) set_area[k] += J->layer_area[c * J->nsets + k];
    for (int64_t z = 0; z < J->s->nz; z++) {
        for (int a = 0; a < n; a++) {
            out->soft_voxels[a] += J->soft[z * n + a];
            out->voxels[a] += J->count[z * n + a];
        }
        if (J->err[z] > out->sum_error) out->sum_error = J->err[z];
        out->nan_voxels += J->nans[z];
    }
    out->nphases = n;
    for (int a = 0; a < n; a++) out->area[a] = set_area[a];
    for (int a = 0; a < TG_SURFACES_MAX_PHASES; a++)
        for (int b = 0; b < TG_SURFACES_MAX_PHASES; b++) out->union_area[a][b] = out->interface[a][b] = NAN;
    out->interface_formula = J->o.unions && n > 1 ? 1 : n == 3 ? 2 : 0;
    for (int k = n; k < J->nsets; k++) {
        int a = __builtin_ctz(J->mask[k]), b = 31 - __builtin_clz(J->mask[k]);
        double s = 0.5 * (set_area[a] + set_area[b] - set_area[k]);
        out->union_area[a][b] = out->union_area[b][a] = set_area[k];
        out->interface[a][b] = out->interface[b][a] = s > 0 ? s : 0.0;
    }
    if (out->interface_formula == 2)
        for (int a = 0; a < 3; a++)
            for (int b = a + 1; b < 3; b++) {
                double s = 0.5 * (set_area[a] + set_area[b] - set_area[3 - a - b]);
                out->interface[a][b] = out->interface[b][a] = s > 0 ? s : 0.0;
            }
    out->total_voxels = J->s->nx * J->s->ny * J->s->nz;
    out->volume_m3 = (double)out->total_voxels * J->sp[0] * J->sp[1] * J->sp[2];
    for (int k = 0; k < 3; k++) out->radius[k] = J->r[k];
}

/* The chunk loop shared by both sources. */
static tg_status run(tg_ctx *ctx, const source *s, const double sp[3], const tg_surfaces_fields_opts *o,
                     tg_surfaces_fields_result *out)
{
    job J;
    memset(&J, 0, sizeof J);
    J.s = s;
    J.o = *o;
    memcpy(J.sp, sp, sizeof J.sp);
    J.off = o->convention == TG_SURFACES_CLOSED;
    J.W = s->nx + 2 * J.off;
    J.H = s->ny + 2 * J.off;
    J.D = s->nz + 2 * J.off;
    if (J.W < 2 || J.H < 2 || J.D < 2)
        return tg_fail(ctx, TG_ERR_ARG, "surfaces: the open convention needs at least 2 voxels along each axis, got "
                       "%lldx%lldx%lld", (long long)s->nx, (long long)s->ny, (long long)s->nz);
    J.plane = s->nx * s->ny;
    J.wplane = J.W * J.H;
    for (int a = 0; a < s->n; a++) J.mask[J.nsets++] = 1u << a;
    if (o->unions)
        for (int a = 0; a < s->n; a++)
            for (int b = a + 1; b < s->n; b++) J.mask[J.nsets++] = 1u << a | 1u << b;
    int nt = ctx->nthreads > 0 ? ctx->nthreads : 1, stop = 0;
    for (int k = 0; k < 3; k++) J.r[k] = o->sigma[k] > 0 ? tg_gaussian_radius(o->sigma[k], o->truncate) : 0;
    int64_t chunk = 8 * (int64_t)J.r[2] > CHUNK ? 8 * (int64_t)J.r[2] : CHUNK;
    int64_t nchunks = (J.D - 1 + chunk - 1) / chunk, done = 0;
    if (nt > nchunks) nt = (int)nchunks;
    worker *wk = tg_calloc((size_t)nt, sizeof *wk);
    tg_status st = wk ? alloc_job(ctx, &J) : tg_fail(ctx, TG_ERR_NOMEM, "surfaces: out of memory");
    for (int t = 0; st == TG_OK && t < nt; t++)
        if (!worker_alloc(&J, &wk[t]))
            st = tg_fail(ctx, TG_ERR_NOMEM, "surfaces: out of memory for slices of %lld x %lld", (long long)s->nx,
                         (long long)s->ny);
    if (st == TG_OK) {
        #pragma omp parallel for schedule(dynamic, 1) num_threads(nt)
        for (int64_t c = 0; c < nchunks; c++) {
            int halt;
            #pragma omp atomic read
            halt = stop;
            if (halt) continue;
            int64_t e0 = c * chunk, e1 = e0 + chunk < J.D - 1 ? e0 + chunk : J.D - 1;
            run_chunk(&J, &wk[tg_thread_num()], e0, e1);
            int64_t d;
            #pragma omp atomic capture
            d = ++done;
            if (tg_cancelled(ctx) || (tg_thread_num() == 0 && tg_progress(ctx, (double)d / (double)nchunks, "surfaces"))) {
                #pragma omp atomic write
                stop = 1;
            }
        }
        if (stop) st = tg_fail(ctx, TG_ERR_CANCELLED, "surfaces: cancelled");
    }
    if (st == TG_OK) {
        finish(&J, out);
        tg_progress_done(ctx, "surfaces");
    }
    if (wk)
        for (int t = 0; t < nt; t++) worker_free(&wk[t]);
    tg_free(wk);
    free_job(&J);
    return st;
}

tg_status tg_surfaces_fields(tg_ctx *ctx, const tg_volume *const *fields, int n, const tg_surfaces_fields_opts *opt,
                             tg_surfaces_fields_result *out)
{
    memset(out, 0, sizeof *out);
    if (!fields) return tg_fail(ctx, TG_ERR_ARG, "surfaces: no fields");
    if (n >= 1 && n <= TG_SURFACES_MAX_PHASES && (!fields[0] || !fields[0]->buf))
        return tg_fail(ctx, TG_ERR_ARG, "surfaces: field 1 is empty or released");
    tg_status st = check_opts(ctx, opt, n, n >= 1 ? fields[0]->spacing : NULL);
    if (st != TG_OK) return st;
    for (int a = 0; a < n; a++) {
        const tg_volume *f = fields[a];
        if (!f || !f->buf) return tg_fail(ctx, TG_ERR_ARG, "surfaces: field %d is empty or released", a + 1);
        if (f->dtype != TG_F32 && f->dtype != TG_F64)
            return tg_fail(ctx, TG_ERR_ARG, "surfaces: field %d must be f32 or f64 (probabilities), got %s", a + 1,
                           tg_dtype_name(f->dtype));
        for (int k = 0; k < 3; k++)
            if (f->dims[k] != fields[0]->dims[k])
                return tg_fail(ctx, TG_ERR_ARG, "surfaces: field %d is %lldx%lldx%lld, field 1 is %lldx%lldx%lld", a + 1,
                               (long long)f->dims[0], (long long)f->dims[1], (long long)f->dims[2],
                               (long long)fields[0]->dims[0], (long long)fields[0]->dims[1], (long long)fields[0]->dims[2]);
    }
    source s = {fields, NULL, NULL, n, fields[0]->dims[0], fields[0]->dims[1], fields[0]->dims[2]};
    st = run(ctx, &s, fields[0]->spacing, opt, out);
    if (st != TG_OK) memset(out, 0, sizeof *out);
    return st;
}

tg_status tg_surfaces_smoothed(tg_ctx *ctx, const tg_volume *labels, const int64_t *phases, int n,
                               const tg_surfaces_fields_opts *opt, tg_surfaces_fields_result *out)
{
    memset(out, 0, sizeof *out);
    if (!labels || !labels->buf) return tg_fail(ctx, TG_ERR_ARG, "surfaces: the label volume is empty or released");
    tg_status st = check_opts(ctx, opt, n, labels->spacing);
    if (st != TG_OK) return st;
    if (labels->dtype != TG_U8 && labels->dtype != TG_U16 && labels->dtype != TG_I32)
        return tg_fail(ctx, TG_ERR_ARG, "surfaces: labels must be u8, u16 or i32, got %s", tg_dtype_name(labels->dtype));
    for (int a = 0; a < n; a++)
        for (int b = a + 1; b < n; b++)
            if (phases[a] == phases[b])
                return tg_fail(ctx, TG_ERR_ARG, "surfaces: label %lld is listed twice", (long long)phases[a]);
    source s = {NULL, labels, phases, n, labels->dims[0], labels->dims[1], labels->dims[2]};
    st = run(ctx, &s, labels->spacing, opt, out);
    if (st != TG_OK) memset(out, 0, sizeof *out);
    return st;
}
