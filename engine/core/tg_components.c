/* tg_components.c — connected components (6/18/26) and percolating clusters.
 *
 * What: labels of the connected components of mask != 0, numbered 1..n in raster order of each component's
 * first voxel (x fastest, then y, then z) — the numbering of scipy.ndimage.label, so a 6-connected run
 * reproduces scipy's default labels voxel for voxel. Percolation marks the components touching both faces
 * normal to an axis.
 *
 * Algorithm (run-based union-find):
 *   1. Every row (fixed y, z) is read once into a bitmap (64 voxels per word; u8 rows eight voxels per word
 *      operation), whose run starts (in & ~(in << 1)) are counted by popcount; a second parallel pass over the
 *      bitmap stores the runs [x0, x1) of mask voxels. Run indices follow raster order of their first voxel.
 *   2. Runs are united with the overlapping runs of the neighbouring rows already visited: (y-1, z) and
 *      (y, z-1) for 6-connectivity (overlap in x); for 18, the same two rows with a one-voxel diagonal
 *      tolerance plus (y-1, z-1) and (y+1, z-1) with exact overlap; for 26, all four rows with the
 *      tolerance. Union links the larger root to the smaller, so every root is its component's first run
 *      and parent[r] <= r always. Find uses path halving. Wu, Otoo & Suzuki, Pattern Anal. Appl. 12 (2009)
 *      117-135, doi:10.1007/s10044-008-0109-y.
 *   3. z-slabs are united in parallel (a slab only touches its own runs), then the slab seams sequentially.
 *   4. One sequential pass over runs in order turns parents into final labels in place (a parent always
 *      precedes its child), then labels are written to the voxels in parallel.
 *   The output is allocated without zeroing and every voxel (background too) is written by the parallel label
 *   pass, so no serial memset touches it first.
 * Cost: O(N) to read the mask (once), O(R α(R)) for R runs. Memory: the i32 output (4 B/voxel) plus 16 B per
 * run (worst case, a checkerboard: 8 B/voxel) plus 8 B per row, and the temporary bitmap (1/8 B per voxel).
 * Threading: OpenMP over rows and z-slabs, num_threads(ctx->nthreads); the labels do not depend on the
 * thread count (the union-find partition is unique and the numbering is by raster order).
 * Conventions: the volume faces are not connected to anything (no periodicity). Input: u8, u16 or i32 with
 * any strides; float input is an error (a label volume must be integer).
 */
#include "core/tg_components.h"

#include <string.h>
#ifdef _OPENMP
#include <omp.h>
#endif

typedef struct runs {
    int64_t nrows;     /* ny * nz */
    int64_t *row;      /* nrows + 1 offsets into the run arrays */
    int32_t *x0, *x1;  /* half-open [x0, x1) */
    int64_t *parent;   /* union-find forest, then negated final labels */
} runs;

static void runs_free(runs *R)
{
    tg_free(R->row);
    tg_free(R->x0);
    tg_free(R->x1);
    tg_free(R->parent);
    memset(R, 0, sizeof *R);
}

/* Which voxels are "in": nonzero ones, or those equal to a phase value (saves building a mask). */
typedef struct in_rule {
    int use_phase;
    int64_t phase;
} in_rule;

/* The row (y, z) as bits (1 = in), wpr 64-bit words, bits past nx zero. The u8 stride-1 case (label volumes)
 * tests eight voxels per step with word arithmetic: a byte's high bit of ((v & 7F..) + 7F..) | v is set iff the
 * byte is nonzero, and a multiply gathers the eight flags into one byte. */
#define ROW_BITS(T, IN)                                                              \
    do {                                                                             \
        const T *q = (const T *)p;                                                   \
        for (int64_t w = 0; w < wpr; w++) {                                          \
            uint64_t b = 0;                                                          \
            int64_t x0 = w * 64, x1 = x0 + 64 < nx ? x0 + 64 : nx;                   \
            for (int64_t x = x0; x < x1; x++) b |= (uint64_t)(IN(q[x * s]) != 0) << (x - x0); \
            out[w] = b;                                                              \
        }                                                                            \
    } while (0)
#define IN_NZ(v) ((v) != 0)
#define IN_EQ(v) ((int64_t)(v) == ph)

static void row_bits(const tg_volume *m, const in_rule *rule, int64_t y, int64_t z, int64_t wpr, uint64_t *out)
{
    const void *p = tg_volume_ptr(m, 0, y, z);
    int64_t nx = m->dims[0], s = m->strides[0], ph = rule->phase;
    if (m->dtype == TG_U8 && s == 1 && (!rule->use_phase || (ph >= 0 && ph <= 255))) {
        const uint8_t *q = p;
        const uint64_t lo7 = 0x7F7F7F7F7F7F7F7FULL, pat = rule->use_phase ? (uint64_t)ph * 0x0101010101010101ULL : 0;
        int64_t x = 0;
        for (int64_t w = 0; w < wpr; w++) out[w] = 0;
        for (; x + 8 <= nx; x += 8) {
            uint64_t v;
            memcpy(&v, q + x, 8);
            v ^= pat;
            uint64_t nz = (((v & lo7) + lo7) | v) & ~lo7; /* high bit of each nonzero byte */
            if (rule->use_phase) nz ^= ~lo7;           /* in = equal to the phase = zero after the xor */
            out[x >> 6] |= (((nz >> 7) * 0x0102040810204080ULL) >> 56) << (x & 63);
        }
        for (; x < nx; x++) out[x >> 6] |= (uint64_t)(rule->use_phase ? q[x] == ph : q[x] != 0) << (x & 63);
        return;
    }
    if (rule->use_phase) {
        switch (m->dtype) {
        case TG_U8: ROW_BITS(uint8_t, IN_EQ); break;
        case TG_U16: ROW_BITS(uint16_t, IN_EQ); break;
        default: ROW_BITS(int32_t, IN_EQ); break;
        }
    } else {
        switch (m->dtype) {
        case TG_U8: ROW_BITS(uint8_t, IN_NZ); break;
        case TG_U16: ROW_BITS(uint16_t, IN_NZ); break;
        default: ROW_BITS(int32_t, IN_NZ); break;
        }
    }
}

/* Runs of a row from its bits: starts are in-bits whose left neighbour is out, ends (exclusive) follow in-bits
 * whose right neighbour is out. Count (x0 == NULL) or store; returns the count. */
static int64_t bits_runs(const uint64_t *b, int64_t wpr, int32_t *x0, int32_t *x1)
{
    int64_t n = 0, e = 0;
    uint64_t carry = 0; /* the previous word's last bit */
    for (int64_t w = 0; w < wpr; w++) {
        uint64_t v = b[w], starts = v & ~((v << 1) | carry);
        carry = v >> 63;
        if (!x0) {
            n += __builtin_popcountll(starts);
            continue;
        }
        uint64_t next = w + 1 < wpr ? b[w + 1] & 1 : 0, ends = v & ~((v >> 1) | (next << 63));
        for (; starts; starts &= starts - 1) x0[n++] = (int32_t)(w * 64 + __builtin_ctzll(starts));
        for (; ends; ends &= ends - 1) x1[e++] = (int32_t)(w * 64 + __builtin_ctzll(ends) + 1);
    }
    return n;
}

static tg_status build_runs(tg_ctx *ctx, const tg_volume *m, const in_rule *rule, runs *R)
{
    int64_t ny = m->dims[1], nz = m->dims[2], wpr = (m->dims[0] + 63) / 64;
    R->nrows = ny * nz;
    R->row = tg_malloc((size_t)(R->nrows + 1) * sizeof *R->row);
    uint64_t *bits = tg_malloc((size_t)(R->nrows * wpr) * sizeof *bits);
    if (!R->row || !bits) {
        tg_free(bits);
        return tg_fail(ctx, TG_ERR_NOMEM, "components: out of memory for %lld rows", (long long)R->nrows);
    }
    R->row[0] = 0;
#pragma omp parallel for schedule(static) num_threads(ctx->nthreads)
    for (int64_t r = 0; r < R->nrows; r++) {
        row_bits(m, rule, r % ny, r / ny, wpr, bits + r * wpr);
        R->row[r + 1] = bits_runs(bits + r * wpr, wpr, NULL, NULL);
    }
    for (int64_t r = 0; r < R->nrows; r++) R->row[r + 1] += R->row[r];
    int64_t nr = R->row[R->nrows];
    size_t cnt = nr > 0 ? (size_t)nr : 1;
    R->x0 = tg_malloc(cnt * sizeof *R->x0);
    R->x1 = tg_malloc(cnt * sizeof *R->x1);
    R->parent = tg_malloc(cnt * sizeof *R->parent);
    if (!R->x0 || !R->x1 || !R->parent) {
        tg_free(bits);
        return tg_fail(ctx, TG_ERR_NOMEM, "components: out of memory for %lld runs (%.3g GiB)", (long long)nr, (double)nr * 16 / 1073741824.0);
    }
#pragma omp parallel for schedule(static) num_threads(ctx->nthreads)
    for (int64_t r = 0; r < R->nrows; r++) {
        int64_t b = R->row[r];
        bits_runs(bits + r * wpr, wpr, R->x0 + b, R->x1 + b);
        for (int64_t i = b; i < R->row[r + 1]; i++) R->parent[i] = i;
    }
    tg_free(bits);
    return TG_OK;
}

static inline int64_t uf_find(int64_t *p, int64_t a)
{
    while (p[a] != a) {
        p[a] = p[p[a]];
        a = p[a];
    }
    return a;
}

static inline void uf_unite(int64_t *p, int64_t a, int64_t b)
{
    a = uf_find(p, a);
    b = uf_find(p, b);
    if (a < b) p[b] = a;
    else if (b < a) p[a] = b;
}

/* Unite the runs of rows ra and rb that overlap; d = 1 lets diagonal neighbours (x differing by one) touch. */
static void unite_rows(runs *R, int64_t ra, int64_t rb, int d)
{
    int64_t i = R->row[ra], ie = R->row[ra + 1], j = R->row[rb], je = R->row[rb + 1];
    while (i < ie && j < je) {
        if (R->x1[i] + d <= R->x0[j]) i++;
        else if (R->x1[j] + d <= R->x0[i]) j++;
        else {
            uf_unite(R->parent, i, j);
            if (R->x1[i] < R->x1[j]) i++;
            else j++;
        }
    }
}

/* Unite row (y, z) with its neighbouring rows: the previous row in its plane always, and the rows of
 * plane z-1 when with_below is set. */
static void unite_row(runs *R, int64_t ny, int64_t y, int64_t z, int conn, int with_below)
{
    int d = conn == 6 ? 0 : 1;
    int64_t r = z * ny + y;
    if (y > 0) unite_rows(R, r, r - 1, d);
    if (!with_below || z == 0) return;
    unite_rows(R, r, r - ny, d);
    if (conn == 6) return;
    if (y > 0) unite_rows(R, r, r - ny - 1, conn == 26);
    if (y + 1 < ny) unite_rows(R, r, r - ny + 1, conn == 26);
}

static void unite_all(tg_ctx *ctx, runs *R, int64_t ny, int64_t nz, int conn)
{
    int nslab = ctx->nthreads < 1 ? 1 : ctx->nthreads;
    if (nslab > nz) nslab = (int)nz;
#pragma omp parallel for schedule(static, 1) num_threads(ctx->nthreads)
    for (int k = 0; k < nslab; k++) {
        int64_t z0 = nz * k / nslab, z1 = nz * (k + 1) / nslab;
        for (int64_t z = z0; z < z1; z++)
            for (int64_t y = 0; y < ny; y++) unite_row(R, ny, y, z, conn, z > z0);
    }
    for (int k = 1; k < nslab; k++) {
        int64_t z0 = nz * k / nslab;
        for (int64_t y = 0; y < ny; y++) {
            int64_t r = z0 * ny + y;
            int d = conn == 6 ? 0 : 1;
            unite_rows(R, r, r - ny, d);
            if (conn == 6) continue;
            if (y > 0) unite_rows(R, r, r - ny - 1, conn == 26);
            if (y + 1 < ny) unite_rows(R, r, r - ny + 1, conn == 26);
        }
    }
}

static tg_status check_mask(tg_ctx *ctx, const tg_volume *mask, int connectivity, const char *what)
{
    if (!mask || !mask->buf) return tg_fail(ctx, TG_ERR_ARG, "%s: the mask is empty (released)", what);
    if (!tg_dtype_is_int(mask->dtype))
        return tg_fail(ctx, TG_ERR_ARG, "%s: the mask must be an integer volume (u8, u16, i32), got %s", what, tg_dtype_name(mask->dtype));
    if (connectivity != 6 && connectivity != 18 && connectivity != 26)
        return tg_fail(ctx, TG_ERR_ARG, "%s: connectivity must be 6, 18 or 26, got %d", what, connectivity);
    if (mask->dims[0] > INT32_MAX) return tg_fail(ctx, TG_ERR_UNSUPPORTED, "%s: rows longer than 2^31 voxels", what);
    return TG_OK;
}

/* Sizes and boxes from the runs (labels already final, stored negated in parent). */
static tg_status runs_info(tg_ctx *ctx, const runs *R, int64_t ny, int64_t n, int64_t total, tg_components_info *info)
{
    info->sizes = tg_calloc((size_t)(n + 1), sizeof *info->sizes);
    info->bbox = tg_malloc((size_t)(n + 1) * 6 * sizeof *info->bbox);
    if (!info->sizes || !info->bbox) return tg_fail(ctx, TG_ERR_NOMEM, "components: out of memory for %lld component sizes", (long long)n);
    int64_t *b = info->bbox, fg = 0;
    for (int64_t i = 0; i < (n + 1) * 6; i++) b[i] = i % 6 < 3 ? INT64_MAX : 0;
    for (int64_t row = 0; row < R->nrows; row++) {
        int64_t y = row % ny, z = row / ny;
        for (int64_t i = R->row[row]; i < R->row[row + 1]; i++) {
            int64_t l = -R->parent[i], *bb = b + l * 6;
            info->sizes[l] += R->x1[i] - R->x0[i];
            fg += R->x1[i] - R->x0[i];
            if (R->x0[i] < bb[0]) bb[0] = R->x0[i];
            if (y < bb[1]) bb[1] = y;
            if (z < bb[2]) bb[2] = z;
            if (R->x1[i] > bb[3]) bb[3] = R->x1[i];
            if (y + 1 > bb[4]) bb[4] = y + 1;
            if (z + 1 > bb[5]) bb[5] = z + 1;
        }
    }
    info->sizes[0] = total - fg;
    for (int k = 0; k < 6; k++) b[k] = 0;
    return TG_OK;
}

/* The runs of v labelled: parent[r] = -(label of r's component), labels 1..*n in raster order of first voxels. */
static tg_status label_runs(tg_ctx *ctx, const tg_volume *v, const tg_components_opts *o, runs *R, int64_t *n_out)
{
    in_rule rule = {o->use_phase, o->phase};
    tg_status st = build_runs(ctx, v, &rule, R);
    if (st != TG_OK) return st;
    if (tg_progress(ctx, 0.3, "components")) return tg_fail(ctx, TG_ERR_CANCELLED, "components: interrupted");
    unite_all(ctx, R, v->dims[1], v->dims[2], o->connectivity);
    if (tg_progress(ctx, 0.6, "components")) return tg_fail(ctx, TG_ERR_CANCELLED, "components: interrupted");
    /* parents precede children, so one ordered pass turns the forest into labels (stored negated) */
    int64_t nr = R->row[R->nrows], n = 0;
    for (int64_t r = 0; r < nr; r++) {
        int64_t p = R->parent[r];
        R->parent[r] = p == r ? -(++n) : R->parent[p];
    }
    *n_out = n;
    return TG_OK;
}

tg_status tg_components_ex(tg_ctx *ctx, const tg_volume *v, const tg_components_opts *opt, tg_volume *labels,
                           int64_t *n_out, tg_components_info *info)
{
    tg_components_opts o = TG_COMPONENTS_OPTS_INIT;
    runs R = {0};
    tg_status st;
    if (opt) o = *opt;
    tg_volume_init(labels);
    if (n_out) *n_out = 0;
    if (info) memset(info, 0, sizeof *info);
    if ((st = check_mask(ctx, v, o.connectivity, "components")) != TG_OK) return st;
    int64_t nx = v->dims[0], ny = v->dims[1], n = 0;
    if ((st = label_runs(ctx, v, &o, &R, &n)) != TG_OK) goto done;
    if (n > INT32_MAX) { st = tg_fail(ctx, TG_ERR_UNSUPPORTED, "components: %lld components do not fit i32 labels", (long long)n); goto done; }
    if (info && (st = runs_info(ctx, &R, ny, n, tg_volume_count(v), info)) != TG_OK) goto done;
    /* every voxel is written below (background too), in parallel: no serial zeroing of the output */
    if ((st = tg_volume_alloc_uninit(ctx, v->dims, TG_I32, v->spacing, labels)) != TG_OK) goto done;
    int32_t *L = (int32_t *)labels->buf->data;
#pragma omp parallel for schedule(static) num_threads(ctx->nthreads)
    for (int64_t row = 0; row < R.nrows; row++) {
        int32_t *dst = L + row * nx;
        int32_t x = 0;
        for (int64_t i = R.row[row]; i < R.row[row + 1]; i++) {
            int32_t lab = (int32_t)(-R.parent[i]), a = R.x0[i], b = R.x1[i]; /* locals: dst may alias x0/x1 */
            for (; x < a; x++) dst[x] = 0;
            for (; x < b; x++) dst[x] = lab;
        }
        for (; x < nx; x++) dst[x] = 0;
    }
    if (info) info->n = n;
    if (n_out) *n_out = n;
    tg_progress_done(ctx, "components");
done:
    runs_free(&R);
    if (st != TG_OK) {
        tg_volume_release(labels);
        if (info) tg_components_info_free(info);
    }
    return st;
}

void tg_components_info_free(tg_components_info *info)
{
    if (!info) return;
    tg_free(info->sizes);
    tg_free(info->bbox);
    memset(info, 0, sizeof *info);
}

tg_status tg_components(tg_ctx *ctx, const tg_volume *mask, int connectivity, tg_volume *labels, int64_t *n_out)
{
    tg_components_opts o = TG_COMPONENTS_OPTS_INIT;
    o.connectivity = connectivity;
    return tg_components_ex(ctx, mask, &o, labels, n_out, NULL);
}

tg_status tg_components_touch(tg_ctx *ctx, const tg_volume *labels, int64_t n, int axis, uint8_t *touch)
{
    if (!labels || !labels->buf || labels->dtype != TG_I32)
        return tg_fail(ctx, TG_ERR_ARG, "components_touch: labels must be an i32 volume");
    if (axis < 0 || axis > 2) return tg_fail(ctx, TG_ERR_ARG, "components_touch: axis must be 0, 1 or 2, got %d", axis);
    memset(touch, 0, (size_t)(n + 1));
    int a = axis, b = (axis + 1) % 3, c = (axis + 2) % 3;
    int64_t last = labels->dims[a] - 1;
    for (int side = 0; side < 2; side++) {
        int64_t pos[3];
        pos[a] = side ? last : 0;
        for (pos[c] = 0; pos[c] < labels->dims[c]; pos[c]++)
            for (pos[b] = 0; pos[b] < labels->dims[b]; pos[b]++) {
                int32_t l = *(const int32_t *)tg_volume_ptr(labels, pos[0], pos[1], pos[2]);
                if (l < 0 || l > n) return tg_fail(ctx, TG_ERR_RANGE, "components_touch: label %d outside 0..%lld", l, (long long)n);
                if (l) touch[l] |= (uint8_t)(1u << side);
            }
    }
    touch[0] = 0;
    return TG_OK;
}

tg_status tg_percolating(tg_ctx *ctx, const tg_volume *mask, int axis, int connectivity, tg_volume *out)
{
    tg_volume labels;
    uint8_t *touch = NULL;
    int64_t n = 0;
    tg_status st;
    tg_volume_init(&labels);
    tg_volume_init(out);
    if (axis < 0 || axis > 2) return tg_fail(ctx, TG_ERR_ARG, "percolating: axis must be 0 (x), 1 (y) or 2 (z), got %d", axis);
    if ((st = tg_components(ctx, mask, connectivity, &labels, &n)) != TG_OK) goto done;
    touch = tg_malloc((size_t)(n + 1));
    if (!touch) { st = tg_fail(ctx, TG_ERR_NOMEM, "percolating: out of memory for %lld clusters", (long long)n); goto done; }
    if ((st = tg_components_touch(ctx, &labels, n, axis, touch)) != TG_OK) goto done;
    if ((st = tg_volume_alloc(ctx, mask->dims, TG_U8, mask->spacing, out)) != TG_OK) goto done;
    const int32_t *L = (const int32_t *)labels.buf->data;
    uint8_t *o = (uint8_t *)out->buf->data;
    int64_t count = tg_volume_count(mask);
#pragma omp parallel for schedule(static) num_threads(ctx->nthreads)
    for (int64_t i = 0; i < count; i++) o[i] = touch[L[i]] == 3;
done:
    tg_free(touch);
    tg_volume_release(&labels);
    if (st != TG_OK) tg_volume_release(out);
    return st;
}

tg_status tg_components_stats(tg_ctx *ctx, const tg_volume *labels, int64_t n, int64_t *sizes, int64_t *bbox)
{
    if (!labels || !labels->buf || labels->dtype != TG_I32)
        return tg_fail(ctx, TG_ERR_ARG, "components_stats: labels must be an i32 volume");
    if (sizes) memset(sizes, 0, (size_t)(n + 1) * sizeof *sizes);
    if (bbox)
        for (int64_t l = 1; l <= n; l++)
            for (int k = 0; k < 3; k++) {
                bbox[l * 6 + k] = labels->dims[k];
                bbox[l * 6 + 3 + k] = 0;
            }
    for (int64_t z = 0; z < labels->dims[2]; z++)
        for (int64_t y = 0; y < labels->dims[1]; y++) {
            const int32_t *p = tg_volume_ptr(labels, 0, y, z);
            int64_t s = labels->strides[0];
            for (int64_t x = 0; x < labels->dims[0]; x++) {
                int32_t l = p[x * s];
                if (l < 0 || l > n) return tg_fail(ctx, TG_ERR_RANGE, "components_stats: label %d outside 0..%lld", l, (long long)n);
                if (sizes) sizes[l]++;
                if (l == 0) continue;
                if (bbox) {
                    int64_t *b = bbox + (int64_t)l * 6, c[3] = {x, y, z};
                    for (int k = 0; k < 3; k++) {
                        if (c[k] < b[k]) b[k] = c[k];
                        if (c[k] + 1 > b[3 + k]) b[3 + k] = c[k] + 1;
                    }
                }
            }
        }
    return TG_OK;
}

/* ---- streamed: slab-wise labelling joined by union-find across slab faces (see the header) ---- */

struct tg_components_acc {
    tg_components_opts o;
    int64_t dims[3];
    int64_t next_z;       /* the first slice of the next slab */
    /* every provisional label (a component's piece in one slab), 0-based ids in raster order of first voxels */
    int64_t nprov, cap;
    int64_t *parent;      /* union-find, parent[i] <= i */
    int64_t *size;
    uint8_t *touch;       /* TG_TOUCH_* */
    /* the runs of the previous slab's last plane: rows 0..ny-1, with their provisional ids */
    int64_t *prow;        /* ny + 1 offsets */
    int32_t *px0, *px1;
    int64_t *pid;
    int64_t pcap;
};

static inline int64_t acc_find(int64_t *p, int64_t a)
{
    while (p[a] != a) {
        p[a] = p[p[a]];
        a = p[a];
    }
    return a;
}

static inline void acc_unite(int64_t *p, int64_t a, int64_t b)
{
    a = acc_find(p, a);
    b = acc_find(p, b);
    if (a < b) p[b] = a;
    else if (b < a) p[a] = b;
}

void tg_components_stream_cost(const tg_components_opts *opt, const int64_t dims[3], tg_cost *cost)
{
    (void)opt;
    double nx = (double)dims[0];
    /* per slab: runs (16 B) and per-label size + touch (9 B), at most ceil(nx/2) runs per row, plus row offsets and
     * the bitmap; the plane kept from the previous slab; the provisional labels grow with the stack (not counted) */
    double runs_per_voxel = (double)((dims[0] + 1) / 2) / nx;
    cost->per_voxel = 25.0 * runs_per_voxel + 0.125 + 8.0 / nx;
    cost->fixed = (int64_t)((dims[1] + 1) * 8 + dims[1] * ((dims[0] + 1) / 2) * 16);
    cost->halo = 0;
}

tg_status tg_components_acc_new(tg_ctx *ctx, const int64_t dims[3], const tg_components_opts *opt, tg_components_acc **out)
{
    *out = NULL;
    tg_components_opts o = TG_COMPONENTS_OPTS_INIT;
    if (opt) o = *opt;
    if (o.connectivity != 6 && o.connectivity != 18 && o.connectivity != 26)
        return tg_fail(ctx, TG_ERR_ARG, "components: connectivity must be 6, 18 or 26, got %d", o.connectivity);
    if (dims[0] < 1 || dims[1] < 1 || dims[2] < 1 || dims[0] > INT32_MAX)
        return tg_fail(ctx, TG_ERR_ARG, "components: bad dims %lldx%lldx%lld", (long long)dims[0], (long long)dims[1],
                       (long long)dims[2]);
    tg_components_acc *a = tg_calloc(1, sizeof *a);
    if (!a) return tg_fail(ctx, TG_ERR_NOMEM, "components: out of memory");
    a->o = o;
    memcpy(a->dims, dims, sizeof a->dims);
    a->prow = tg_calloc((size_t)dims[1] + 1, sizeof *a->prow);
    if (!a->prow) {
        tg_free(a);
        return tg_fail(ctx, TG_ERR_NOMEM, "components: out of memory");
    }
    *out = a;
    return TG_OK;
}

void tg_components_acc_free(tg_components_acc *a)
{
    if (!a) return;
    tg_free(a->parent);
    tg_free(a->size);
    tg_free(a->touch);
    tg_free(a->prow);
    tg_free(a->px0);
    tg_free(a->px1);
    tg_free(a->pid);
    tg_free(a);
}

static tg_status acc_reserve(tg_ctx *ctx, tg_components_acc *a, int64_t more)
{
    if (a->nprov + more <= a->cap) return TG_OK;
    int64_t cap = a->cap ? a->cap : 1024;
    while (cap < a->nprov + more) cap *= 2;
    int64_t *p = tg_realloc(a->parent, (size_t)cap * sizeof *p);
    if (p) a->parent = p;
    int64_t *s = p ? tg_realloc(a->size, (size_t)cap * sizeof *s) : NULL;
    if (s) a->size = s;
    uint8_t *t = s ? tg_realloc(a->touch, (size_t)cap) : NULL;
    if (t) a->touch = t;
    if (!t) return tg_fail(ctx, TG_ERR_NOMEM, "components: out of memory for %lld provisional labels", (long long)cap);
    a->cap = cap;
    return TG_OK;
}

/* Unite the runs of row y of the slab's first plane (ids base + label - 1) with the overlapping runs of row yb of
 * the previous slab's last plane; d = 1 lets diagonal neighbours touch. */
static void acc_seam_rows(tg_components_acc *a, const runs *R, int64_t y, int64_t yb, int d, int64_t base)
{
    int64_t i = R->row[y], ie = R->row[y + 1], j = a->prow[yb], je = a->prow[yb + 1];
    while (i < ie && j < je) {
        if (R->x1[i] + d <= a->px0[j]) i++;
        else if (a->px1[j] + d <= R->x0[i]) j++;
        else {
            acc_unite(a->parent, base - R->parent[i] - 1, a->pid[j]);
            if (R->x1[i] < a->px1[j]) i++;
            else j++;
        }
    }
}

/* Keep the runs of the slab's last plane, with their provisional ids, for the next slab's seam. */
static tg_status acc_keep_last_plane(tg_ctx *ctx, tg_components_acc *a, const runs *R, int64_t nz, int64_t base)
{
    int64_t ny = a->dims[1], r0 = (nz - 1) * ny, first = R->row[r0], nr = R->row[r0 + ny] - first;
    if (nr > a->pcap) {
        tg_free(a->px0);
        tg_free(a->px1);
        tg_free(a->pid);
        a->px0 = tg_malloc((size_t)nr * sizeof *a->px0);
        a->px1 = tg_malloc((size_t)nr * sizeof *a->px1);
        a->pid = tg_malloc((size_t)nr * sizeof *a->pid);
        a->pcap = nr;
        if (!a->px0 || !a->px1 || !a->pid) {
            a->pcap = 0;
            return tg_fail(ctx, TG_ERR_NOMEM, "components: out of memory for %lld runs of a plane", (long long)nr);
        }
    }
    for (int64_t y = 0; y <= ny; y++) a->prow[y] = R->row[r0 + y] - first;
    for (int64_t i = 0; i < nr; i++) {
        a->px0[i] = R->x0[first + i];
        a->px1[i] = R->x1[first + i];
        a->pid[i] = base - R->parent[first + i] - 1;
    }
    return TG_OK;
}

tg_status tg_components_acc_add(tg_ctx *ctx, tg_components_acc *a, const tg_volume *slab, int64_t z0)
{
    runs R = {0};
    int64_t n = 0, base = a->nprov;
    tg_status st = check_mask(ctx, slab, a->o.connectivity, "components");
    if (st != TG_OK) return st;
    int64_t nx = a->dims[0], ny = a->dims[1], nzv = a->dims[2], nz = slab->dims[2];
    if (slab->dims[0] != nx || slab->dims[1] != ny || z0 != a->next_z || z0 + nz > nzv)
        return tg_fail(ctx, TG_ERR_ARG, "components: slab of %lldx%lldx%lld at z = %lld does not continue the stack "
                       "(%lldx%lldx%lld, next slice %lld)", (long long)slab->dims[0], (long long)slab->dims[1],
                       (long long)nz, (long long)z0, (long long)nx, (long long)ny, (long long)nzv, (long long)a->next_z);
    if ((st = label_runs(ctx, slab, &a->o, &R, &n)) != TG_OK) goto done;
    if ((st = acc_reserve(ctx, a, n)) != TG_OK) goto done;
    for (int64_t i = 0; i < n; i++) {
        a->parent[base + i] = base + i;
        a->size[base + i] = 0;
        a->touch[base + i] = 0;
    }
    for (int64_t row = 0; row < R.nrows; row++) {
        int64_t y = row % ny, z = z0 + row / ny;
        uint8_t t = (uint8_t)((y == 0 ? TG_TOUCH_Y0 : 0) | (y == ny - 1 ? TG_TOUCH_Y1 : 0) |
                              (z == 0 ? TG_TOUCH_Z0 : 0) | (z == nzv - 1 ? TG_TOUCH_Z1 : 0));
        for (int64_t i = R.row[row]; i < R.row[row + 1]; i++) {
            int64_t id = base - R.parent[i] - 1;
            a->size[id] += R.x1[i] - R.x0[i];
            a->touch[id] |= (uint8_t)(t | (R.x0[i] == 0 ? TG_TOUCH_X0 : 0) | (R.x1[i] == nx ? TG_TOUCH_X1 : 0));
        }
    }
    if (z0 > 0) { /* the seam with the previous slab, as unite_all joins its own z-slabs */
        int conn = a->o.connectivity, d = conn == 6 ? 0 : 1;
        for (int64_t y = 0; y < ny; y++) {
            acc_seam_rows(a, &R, y, y, d, base);
            if (conn == 6) continue;
            if (y > 0) acc_seam_rows(a, &R, y, y - 1, conn == 26, base);
            if (y + 1 < ny) acc_seam_rows(a, &R, y, y + 1, conn == 26, base);
        }
    }
    if ((st = acc_keep_last_plane(ctx, a, &R, nz, base)) != TG_OK) goto done;
    a->nprov += n;
    a->next_z = z0 + nz;
done:
    runs_free(&R);
    return st;
}

tg_status tg_components_acc_finish(tg_ctx *ctx, tg_components_acc *a, tg_components_totals *out)
{
    memset(out, 0, sizeof *out);
    if (a->next_z != a->dims[2])
        return tg_fail(ctx, TG_ERR_ARG, "components: the slabs end at slice %lld of %lld", (long long)a->next_z,
                       (long long)a->dims[2]);
    /* ids precede their parents' children, so one ordered pass turns the forest into final labels (negated) */
    int64_t n = 0, *p = a->parent;
    for (int64_t i = 0; i < a->nprov; i++) p[i] = p[i] == i ? -(++n) : p[p[i]];
    out->sizes = tg_calloc((size_t)n + 1, sizeof *out->sizes);
    out->touch = tg_calloc((size_t)n + 1, 1);
    if (!out->sizes || !out->touch) {
        tg_components_totals_free(out);
        return tg_fail(ctx, TG_ERR_NOMEM, "components: out of memory for %lld component sizes", (long long)n);
    }
    int64_t fg = 0;
    for (int64_t i = 0; i < a->nprov; i++) {
        out->sizes[-p[i]] += a->size[i];
        out->touch[-p[i]] |= a->touch[i];
        fg += a->size[i];
    }
    out->n = n;
    out->sizes[0] = a->dims[0] * a->dims[1] * a->dims[2] - fg;
    out->provisional = a->nprov;
    return TG_OK;
}

void tg_components_totals_free(tg_components_totals *t)
{
    if (!t) return;
    tg_free(t->sizes);
    tg_free(t->touch);
    memset(t, 0, sizeof *t);
}
