/* tg_measure_stream.c — measures of a label stack in one pass over its slabs; see tg_measure_stream.h. */
#include "measure/tg_measure_stream.h"

#include "measure/tg_percolation.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#ifdef _OPENMP
#include <omp.h>
#endif

static int thread_num(void)
{
#ifdef _OPENMP
    return omp_get_thread_num();
#else
    return 0;
#endif
}

/* ---- counts and profiles: a table of the labels seen, with per-thread counts ---- */

typedef struct label_table {
    tg_dtype dtype;
    int32_t *lut;          /* u8, u16: label -> slot, -1 when not seen (256 or 65536 entries) */
    int64_t *hkey;         /* i32: open addressing, hcap keys (INT64_MIN = empty) */
    int32_t *hslot;
    int64_t hcap;
    int64_t nslots, cap;   /* labels seen; room for cap */
    int64_t *label;        /* cap: the label of each slot */
    int axis;              /* of the profile, -1: none */
    int64_t npos;          /* positions along it (1 without a profile) */
    int nt;
    int64_t *tcount;       /* nt x npos x cap: per-thread counts by position and slot */
    uint64_t *seen;        /* u8, u16: nt bitmaps of the values met in a slab */
    int64_t seen_words;
} label_table;

static void table_free(label_table *t)
{
    tg_free(t->lut);
    tg_free(t->hkey);
    tg_free(t->hslot);
    tg_free(t->label);
    tg_free(t->tcount);
    tg_free(t->seen);
    memset(t, 0, sizeof *t);
}

static tg_status table_init(tg_ctx *ctx, label_table *t, tg_dtype dtype, int axis, const int64_t dims[3], int nt)
{
    memset(t, 0, sizeof *t);
    t->dtype = dtype;
    t->axis = axis;
    t->npos = axis >= 0 ? dims[axis] : 1;
    t->nt = nt;
    if (dtype != TG_I32) {
        int64_t n = dtype == TG_U8 ? 256 : 65536;
        t->seen_words = n / 64;
        t->lut = tg_malloc((size_t)n * sizeof *t->lut);
        t->seen = tg_calloc((size_t)(nt * t->seen_words), sizeof *t->seen);
        if (!t->lut || !t->seen) return tg_fail(ctx, TG_ERR_NOMEM, "measure: out of memory for the label counts");
        for (int64_t i = 0; i < n; i++) t->lut[i] = -1;
    } else {
        t->hcap = 1024;
        t->hkey = tg_malloc((size_t)t->hcap * sizeof *t->hkey);
        t->hslot = tg_malloc((size_t)t->hcap * sizeof *t->hslot);
        if (!t->hkey || !t->hslot) return tg_fail(ctx, TG_ERR_NOMEM, "measure: out of memory for the label counts");
        for (int64_t i = 0; i < t->hcap; i++) t->hkey[i] = INT64_MIN;
    }
    return TG_OK;
}

static inline uint64_t hash64(int64_t v)
{
    uint64_t x = (uint64_t)v * 0x9E3779B97F4A7C15ULL;
    return x ^ (x >> 29);
}

/* i32: the slot of v, or -1. Read-only, so threads may share it. */
static inline int32_t hash_find(const label_table *t, int64_t v)
{
    for (uint64_t i = hash64(v) & (uint64_t)(t->hcap - 1);; i = (i + 1) & (uint64_t)(t->hcap - 1)) {
        if (t->hkey[i] == v) return t->hslot[i];
        if (t->hkey[i] == INT64_MIN) return -1;
    }
}

static void hash_put(label_table *t, int64_t v, int32_t slot)
{
    uint64_t i = hash64(v) & (uint64_t)(t->hcap - 1);
    while (t->hkey[i] != INT64_MIN) i = (i + 1) & (uint64_t)(t->hcap - 1);
    t->hkey[i] = v;
    t->hslot[i] = slot;
}

/* Room for one more slot: the per-thread counts are restrided from cap to 2 cap (and the hash grown). */
static tg_status table_grow(tg_ctx *ctx, label_table *t)
{
    if (t->nslots < t->cap && (!t->hkey || 2 * (t->nslots + 1) < t->hcap)) return TG_OK;
    if (t->hkey && 2 * (t->nslots + 1) >= t->hcap) {
        int64_t ocap = t->hcap, *okey = t->hkey;
        int32_t *oslot = t->hslot;
        t->hcap = 2 * ocap;
        t->hkey = tg_malloc((size_t)t->hcap * sizeof *t->hkey);
        t->hslot = tg_malloc((size_t)t->hcap * sizeof *t->hslot);
        if (!t->hkey || !t->hslot) {
            tg_free(t->hkey);
            tg_free(t->hslot);
            t->hkey = okey, t->hslot = oslot, t->hcap = ocap;
            return tg_fail(ctx, TG_ERR_NOMEM, "measure: out of memory for %lld labels", (long long)t->nslots);
        }
        for (int64_t i = 0; i < t->hcap; i++) t->hkey[i] = INT64_MIN;
        for (int64_t i = 0; i < ocap; i++)
            if (okey[i] != INT64_MIN) hash_put(t, okey[i], oslot[i]);
        tg_free(okey);
        tg_free(oslot);
    }
    if (t->nslots < t->cap) return TG_OK;
    int64_t cap = t->cap ? 2 * t->cap : 8, rows = (int64_t)t->nt * t->npos;
    int64_t *label = tg_realloc(t->label, (size_t)cap * sizeof *label);
    if (!label) return tg_fail(ctx, TG_ERR_NOMEM, "measure: out of memory for %lld labels", (long long)cap);
    t->label = label;
    int64_t *c = tg_calloc((size_t)(rows * cap), sizeof *c);
    if (!c) return tg_fail(ctx, TG_ERR_NOMEM, "measure: out of memory for the counts of %lld labels", (long long)cap);
    for (int64_t r = 0; r < rows && t->tcount; r++) memcpy(c + r * cap, t->tcount + r * t->cap, (size_t)t->cap * sizeof *c);
    tg_free(t->tcount);
    t->tcount = c;
    t->cap = cap;
    return TG_OK;
}

static tg_status table_add(tg_ctx *ctx, label_table *t, int64_t v)
{
    tg_status st = table_grow(ctx, t);
    if (st != TG_OK) return st;
    t->label[t->nslots] = v;
    if (t->lut) t->lut[v] = (int32_t)t->nslots;
    else hash_put(t, v, (int32_t)t->nslots);
    t->nslots++;
    return TG_OK;
}

/* The values met in the central slices get slots: u8/u16 by per-thread bitmaps, i32 sequentially. */
static tg_status table_discover(tg_ctx *ctx, label_table *t, const tg_volume *v)
{
    int64_t nx = v->dims[0], rows = v->dims[1] * v->dims[2], sx = v->strides[0];
    tg_status st = TG_OK;
    if (t->dtype == TG_I32) {
        int64_t last = INT64_MIN;
        for (int64_t r = 0; r < rows && st == TG_OK; r++) {
            const int32_t *p = tg_volume_ptr(v, 0, r % v->dims[1], r / v->dims[1]);
            for (int64_t x = 0; x < nx && st == TG_OK; x++) {
                int64_t val = p[x * sx];
                if (val == last) continue;
                last = val;
                if (hash_find(t, val) < 0) st = table_add(ctx, t, val);
            }
        }
        return st;
    }
#pragma omp parallel for schedule(static) num_threads(ctx->nthreads)
    for (int64_t r = 0; r < rows; r++) {
        uint64_t *seen = t->seen + (int64_t)thread_num() * t->seen_words;
        const void *p = tg_volume_ptr(v, 0, r % v->dims[1], r / v->dims[1]);
        if (t->dtype == TG_U8)
            for (int64_t x = 0; x < nx; x++) {
                unsigned val = ((const uint8_t *)p)[x * sx];
                seen[val >> 6] |= 1ULL << (val & 63);
            }
        else
            for (int64_t x = 0; x < nx; x++) {
                unsigned val = ((const uint16_t *)p)[x * sx];
                seen[val >> 6] |= 1ULL << (val & 63);
            }
    }
    for (int64_t w = 0; w < t->seen_words && st == TG_OK; w++) {
        uint64_t bits = 0;
        for (int k = 0; k < t->nt; k++) {
            bits |= t->seen[k * t->seen_words + w];
            t->seen[k * t->seen_words + w] = 0;
        }
        for (; bits && st == TG_OK; bits &= bits - 1) {
            int64_t val = w * 64 + __builtin_ctzll(bits);
            if (t->lut[val] < 0) st = table_add(ctx, t, val);
        }
    }
    return st;
}

/* Count the central slices [z0, z0 + v->dims[2]) by position and slot into the threads' tables. */
static void table_count(tg_ctx *ctx, label_table *t, const tg_volume *v, int64_t z0)
{
    int64_t nx = v->dims[0], ny = v->dims[1], rows = ny * v->dims[2], sx = v->strides[0], cap = t->cap;
#pragma omp parallel for schedule(static) num_threads(ctx->nthreads)
    for (int64_t r = 0; r < rows; r++) {
        int64_t y = r % ny, z = r / ny;
        int64_t *c = t->tcount + (int64_t)thread_num() * t->npos * cap;
        const void *p = tg_volume_ptr(v, 0, y, z);
        if (t->axis == 1) c += y * cap;
        else if (t->axis == 2) c += (z0 + z) * cap;
        int64_t xstep = t->axis == 0 ? cap : 0;
        switch (t->dtype) {
        case TG_U8:
            for (int64_t x = 0; x < nx; x++) c[x * xstep + t->lut[((const uint8_t *)p)[x * sx]]]++;
            break;
        case TG_U16:
            for (int64_t x = 0; x < nx; x++) c[x * xstep + t->lut[((const uint16_t *)p)[x * sx]]]++;
            break;
        default:
            for (int64_t x = 0; x < nx; x++) c[x * xstep + hash_find(t, ((const int32_t *)p)[x * sx])]++;
            break;
        }
    }
}

typedef struct slot_label {
    int64_t label, slot;
} slot_label;

static int cmp_label(const void *a, const void *b)
{
    int64_t x = ((const slot_label *)a)->label, y = ((const slot_label *)b)->label;
    return x < y ? -1 : x > y;
}

/* Labels ascending, their counts, and the profile in that order, into res. */
static tg_status table_finish(tg_ctx *ctx, label_table *t, tg_measure_stream_result *res)
{
    int64_t n = t->nslots, cap = t->cap;
    slot_label *order = tg_malloc((size_t)(n ? n : 1) * sizeof *order);
    res->labels = tg_malloc((size_t)(n ? n : 1) * sizeof *res->labels);
    res->counts = tg_calloc((size_t)(n ? n : 1), sizeof *res->counts);
    if (t->axis >= 0) res->profile_counts = tg_calloc((size_t)(t->npos * (n ? n : 1)), sizeof *res->profile_counts);
    if (!order || !res->labels || !res->counts || (t->axis >= 0 && !res->profile_counts)) {
        tg_free(order);
        return tg_fail(ctx, TG_ERR_NOMEM, "measure: out of memory for the counts");
    }
    for (int64_t i = 0; i < n; i++) order[i] = (slot_label){t->label[i], i};
    qsort(order, (size_t)n, sizeof *order, cmp_label);
    for (int64_t j = 0; j < n; j++) {
        int64_t s = order[j].slot;
        res->labels[j] = order[j].label;
        for (int k = 0; k < t->nt; k++)
            for (int64_t i = 0; i < t->npos; i++) {
                int64_t c = t->tcount[(k * t->npos + i) * cap + s];
                res->counts[j] += c;
                if (res->profile_counts) res->profile_counts[i * n + j] += c;
            }
    }
    res->nlabels = n;
    res->profile = t->axis;
    res->npos = t->axis >= 0 ? t->npos : 0;
    tg_free(order);
    return TG_OK;
}

/* ---- the plan ---- */

typedef struct plan {
    int64_t slab, planned, lo, hi;
} plan;

static tg_status check_opts(tg_ctx *ctx, const tg_measure_stream_opts *o)
{
    const char *w = o->what ? o->what : "measure";
    if (o->nsurfaces < 0 || o->nsurfaces > TG_MS_MAX_SURFACES || o->nchords < 0 || o->nchords > TG_MS_MAX_CHORDS ||
        o->ncomponents < 0 || o->ncomponents > TG_MS_MAX_COMPONENTS)
        return tg_fail(ctx, TG_ERR_ARG, "%s: at most %d surfaces, %d chords and %d components at once", w,
                       TG_MS_MAX_SURFACES, TG_MS_MAX_CHORDS, TG_MS_MAX_COMPONENTS);
    if (o->profile < -1 || o->profile > 2) return tg_fail(ctx, TG_ERR_ARG, "%s: profile axis %d", w, o->profile);
    if (o->max_slab < 0 || o->memory < 0) return tg_fail(ctx, TG_ERR_ARG, "%s: negative memory or max_slab", w);
    int nsp = 0;
    for (int d = 0; d < 3; d++) nsp += o->spacing[d] > 0 && o->spacing[d] < HUGE_VAL;
    if ((nsp != 0 && nsp != 3) || o->spacing[0] < 0 || o->spacing[1] < 0 || o->spacing[2] < 0)
        return tg_fail(ctx, TG_ERR_ARG, "%s: spacing must be three positive finite lengths (m) or none", w);
    return TG_OK;
}

tg_status tg_measure_stream_plan(tg_ctx *ctx, const int64_t dims[3], tg_dtype dtype, const tg_measure_stream_opts *opt,
                                 int64_t *slab, int64_t *planned, int64_t *lo, int64_t *hi)
{
    tg_status st = check_opts(ctx, opt);
    if (st != TG_OK) return st;
    const char *what = opt->what ? opt->what : "measure";
    int nt = ctx->nthreads < 1 ? 1 : ctx->nthreads;
    double c_in = (double)tg_dtype_size(dtype), c_op = 0.0, plane = (double)dims[0] * (double)dims[1];
    int64_t fixed = 4096; /* small blocks: the parts' structs, a sort of the labels */
    *lo = *hi = 0;
    if (opt->counts || opt->profile >= 0) { /* tables for 16 labels (more grow them: reported in the peak) */
        int64_t npos = opt->profile >= 0 ? dims[opt->profile] : 1, words = dtype == TG_U8 ? 4 : 1024;
        fixed += (int64_t)nt * npos * 16 * 8 + 16 * 24 + words * 64 * 4 + (int64_t)nt * words * 8 + (dtype == TG_I32 ? 24576 : 0);
    }
    for (int i = 0; i < opt->nsurfaces; i++) {
        tg_cost c = TG_COST_INIT;
        tg_surfaces_stream_cost(&opt->surfaces[i], dims, nt, &c);
        fixed += c.fixed;
        if (opt->surfaces[i].smooth) *lo = 1;
        if (c.halo > *hi) *hi = c.halo;
    }
    for (int i = 0; i < opt->nchords; i++) {
        tg_cost c = TG_COST_INIT;
        tg_chords_stream_cost(&opt->chords[i], dims, nt, &c);
        fixed += c.fixed;
    }
    for (int i = 0; i < opt->ncomponents; i++) {
        tg_cost c = TG_COST_INIT;
        tg_components_stream_cost(&opt->components[i], dims, &c);
        fixed += c.fixed;
        if (c.per_voxel > c_op) c_op = c.per_voxel;
    }
    int64_t budget = opt->memory > 0 ? opt->memory : tg_memory_budget(ctx);
    double per_slice = plane * (c_in + c_op), h = ((double)(budget - fixed) / plane - (double)(*lo + *hi) * c_in) / (c_in + c_op);
    if (!(h >= 1)) {
        char b[32], need[32];
        int64_t least = fixed + (int64_t)(per_slice + (double)(*lo + *hi) * plane * c_in) + 1;
        return tg_fail(ctx, TG_ERR_ARG, "%s: a memory budget of %s is too small for slabs of %lld x %lld %s voxels "
                       "(these measures need at least %s)", what, tg_memory_format(budget, b, sizeof b), (long long)dims[0],
                       (long long)dims[1], tg_dtype_name(dtype), tg_memory_format(least, need, sizeof need));
    }
    int64_t H = h > (double)dims[2] ? dims[2] : (int64_t)h;
    if (opt->max_slab > 0 && H > opt->max_slab) H = opt->max_slab;
    *slab = H;
    *planned = fixed + (int64_t)((double)(H + *lo + *hi) * plane * c_in + (double)H * plane * c_op);
    return TG_OK;
}

/* ---- progress: the parts' own fractions mapped into the slab's share ---- */

typedef struct progress_map {
    tg_progress_fn fn;
    void *ud;
    const char *what;
    int64_t slab, slabs; /* the slab being processed (0-based) and how many in all passes */
    int stage, stages;   /* reading, then each part */
    double t0;
    int64_t voxels;      /* central voxels done */
    char label[160];
} progress_map;

static int mapped_progress(void *ud, double f, const char *what)
{
    progress_map *m = ud;
    (void)what;
    double frac = ((double)m->slab + ((double)m->stage + (f < 0 ? 0 : f > 1 ? 1 : f)) / m->stages) / (double)m->slabs;
    double dt = tg_now() - m->t0, left = frac > 0 ? dt * (1 - frac) / frac : 0;
    int secs = left < 0 ? 0 : left > 359999 ? 359999 : (int)(left + 0.5);
    snprintf(m->label, sizeof m->label, "%s|slab %lld/%lld, %.1f Mvox/s, %d:%02d left", m->what,
             (long long)(m->slab < m->slabs ? m->slab + 1 : m->slabs),
             (long long)m->slabs, dt > 0 ? (double)m->voxels / dt / 1e6 : 0.0, secs / 60, secs % 60);
    return m->fn(m->ud, frac, m->label);
}

/* ---- the pass ---- */

typedef struct run {
    const tg_measure_stream_opts *o;
    label_table counts;
    int counting;
    tg_sha256_state sha;
    tg_surfaces_acc *surf[TG_MS_MAX_SURFACES];
    tg_chords_acc *chords[TG_MS_MAX_CHORDS];
    tg_components_acc *comp[TG_MS_MAX_COMPONENTS];
    int redo[TG_MS_MAX_SURFACES]; /* pass 2: the surfaces that need it */
} run;

static void run_free(run *r)
{
    table_free(&r->counts);
    for (int i = 0; i < TG_MS_MAX_SURFACES; i++) tg_surfaces_acc_free(r->surf[i]);
    for (int i = 0; i < TG_MS_MAX_CHORDS; i++) tg_chords_acc_free(r->chords[i]);
    for (int i = 0; i < TG_MS_MAX_COMPONENTS; i++) tg_components_acc_free(r->comp[i]);
}

static tg_status run_init(tg_ctx *ctx, run *r, const tg_measure_stream_opts *o, const int64_t dims[3], tg_dtype dtype)
{
    memset(r, 0, sizeof *r);
    r->o = o;
    tg_status st = TG_OK;
    r->counting = o->counts || o->profile >= 0;
    if (r->counting) st = table_init(ctx, &r->counts, dtype, o->profile, dims, ctx->nthreads < 1 ? 1 : ctx->nthreads);
    if (o->sha256) tg_sha256_init(&r->sha);
    for (int i = 0; i < o->nsurfaces && st == TG_OK; i++) st = tg_surfaces_acc_new(ctx, dims, &o->surfaces[i], &r->surf[i]);
    for (int i = 0; i < o->nchords && st == TG_OK; i++) st = tg_chords_acc_new(ctx, dims, &o->chords[i], &r->chords[i]);
    for (int i = 0; i < o->ncomponents && st == TG_OK; i++)
        st = tg_components_acc_new(ctx, dims, &o->components[i], &r->comp[i]);
    return st;
}

/* A header for slices [z, z + n) of v (no reference taken: valid while v is). */
static tg_volume slices_of(const tg_volume *v, int64_t z, int64_t n)
{
    tg_volume s = *v;
    s.offset += (size_t)(z * v->strides[2]) * tg_dtype_size(v->dtype);
    s.dims[2] = n;
    return s;
}

/* Every part on one slab: buf holds slices [s0, s1), its central part is [z0, z1). */
static tg_status run_slab(tg_ctx *ctx, run *r, progress_map *pm, int pass, const tg_volume *slab, int64_t s0, int64_t z0,
                          int64_t z1)
{
    const tg_measure_stream_opts *o = r->o;
    tg_volume central = slices_of(slab, z0 - s0, z1 - z0);
    tg_status st = TG_OK;
    if (pass == 1) {
        if (o->sha256)
            tg_sha256_update(&r->sha, tg_volume_ptr(&central, 0, 0, 0),
                             (size_t)tg_volume_count(&central) * tg_dtype_size(central.dtype));
        if (r->counting) {
            if ((st = table_discover(ctx, &r->counts, &central)) != TG_OK) return st;
            table_count(ctx, &r->counts, &central, z0);
        }
    }
    for (int i = 0; i < o->nsurfaces && st == TG_OK; i++) {
        pm->stage++;
        if (pass == 1 || r->redo[i]) st = tg_surfaces_acc_add(ctx, r->surf[i], slab, s0, z0, z1);
    }
    if (pass > 1) return st;
    for (int i = 0; i < o->nchords && st == TG_OK; i++) st = tg_chords_acc_add(ctx, r->chords[i], &central, z0);
    for (int i = 0; i < o->ncomponents && st == TG_OK; i++) {
        pm->stage++;
        st = tg_components_acc_add(ctx, r->comp[i], &central, z0);
    }
    if (st == TG_OK && tg_cancelled(ctx)) st = tg_fail(ctx, TG_ERR_CANCELLED, "%s: interrupted", o->what ? o->what : "measure");
    return st;
}

/* One pass over the stack's slabs; buf is the slab buffer (H + lo + hi slices). */
static tg_status run_pass(tg_ctx *ctx, run *r, tg_stack *stk, tg_volume *buf, const plan *p, int pass, progress_map *pm)
{
    int64_t nz = tg_stack_info(stk)->dims[2], ps0 = 0, ps1 = 0, plane = buf->strides[2];
    size_t es = tg_dtype_size(buf->dtype);
    for (int64_t z0 = 0; z0 < nz; z0 += p->slab) {
        int64_t z1 = z0 + p->slab < nz ? z0 + p->slab : nz;
        int64_t s0 = z0 - p->lo < 0 ? 0 : z0 - p->lo, s1 = z1 + p->hi > nz ? nz : z1 + p->hi, from = s0;
        char *data = (char *)buf->buf->data + buf->offset;
        if (z0 > 0 && s0 < ps1) { /* the slices this slab shares with the previous one */
            memmove(data, data + (size_t)((s0 - ps0) * plane) * es, (size_t)((ps1 - s0) * plane) * es);
            from = ps1;
        }
        pm->stage = 0;
        tg_status st = from < s1 ? tg_stack_read_into(ctx, stk, from, s1, buf, from - s0) : TG_OK;
        if (st != TG_OK) return st;
        tg_volume slab = slices_of(buf, 0, s1 - s0);
        if ((st = run_slab(ctx, r, pm, pass, &slab, s0, z0, z1)) != TG_OK) return st;
        ps0 = s0, ps1 = s1;
        pm->voxels += (z1 - z0) * plane;
        pm->slab++;
        pm->stage = 0;
        if (tg_progress(ctx, 0.0, pm->what)) return tg_fail(ctx, TG_ERR_CANCELLED, "%s: interrupted", pm->what);
    }
    return TG_OK;
}

/* The results of every part into res. */
static tg_status run_finish(tg_ctx *ctx, run *r, tg_measure_stream_result *res)
{
    const tg_measure_stream_opts *o = r->o;
    tg_status st = TG_OK;
    res->profile = -1;
    if (r->counting && (st = table_finish(ctx, &r->counts, res)) != TG_OK) return st;
    if (o->sha256) tg_sha256_final(&r->sha, res->sha256);
    for (int i = 0; i < o->nsurfaces && st == TG_OK; i++) st = tg_surfaces_acc_finish(ctx, r->surf[i], &res->surfaces[i]);
    for (int i = 0; i < o->nchords && st == TG_OK; i++) st = tg_chords_acc_finish(ctx, r->chords[i], &res->chords[i]);
    for (int i = 0; i < o->ncomponents && st == TG_OK; i++)
        st = tg_components_acc_finish(ctx, r->comp[i], &res->components[i]);
    return st;
}

tg_status tg_measure_stream(tg_ctx *ctx, tg_stack *stk, const tg_measure_stream_opts *opt, tg_measure_stream_result *res)
{
    tg_measure_stream_opts def = TG_MEASURE_STREAM_OPTS_INIT;
    const tg_measure_stream_opts *o = opt ? opt : &def;
    const char *what = o->what ? o->what : "measure";
    memset(res, 0, sizeof *res);
    res->profile = -1;
    if (!stk) return tg_fail(ctx, TG_ERR_ARG, "%s: no stack", what);
    const tg_stack_info_t *in = tg_stack_info(stk);
    if (!tg_dtype_is_int(in->dtype))
        return tg_fail(ctx, TG_ERR_ARG, "%s: %s holds %s values; labels must be integers (u8, u16, i32)", what, in->path,
                       tg_dtype_name(in->dtype));
    plan p;
    tg_status st = tg_measure_stream_plan(ctx, in->dims, in->dtype, o, &p.slab, &p.planned, &p.lo, &p.hi);
    if (st != TG_OK) return st;
    int64_t before = tg_alloc_bytes();
    tg_alloc_peak_reset();
    double t0 = tg_now();
    run r;
    tg_volume buf;
    tg_volume_init(&buf);
    progress_map pm = {ctx->progress, ctx->progress_ud, what, 0, 0, 0, 1, t0, 0, ""};
    if ((st = run_init(ctx, &r, o, in->dims, in->dtype)) != TG_OK) goto done;
    int64_t dims[3] = {in->dims[0], in->dims[1], p.slab + p.lo + p.hi > in->dims[2] ? in->dims[2] : p.slab + p.lo + p.hi};
    const double *sp = o->spacing[0] > 0 ? o->spacing : in->spacing; /* the slab's spacing scales the areas */
    if ((st = tg_volume_alloc_uninit(ctx, dims, in->dtype, sp, &buf)) != TG_OK) goto done;
    int64_t nslabs = (in->dims[2] + p.slab - 1) / p.slab;
    pm.slabs = nslabs;
    pm.stages = 1 + o->nsurfaces + o->ncomponents;
    if (pm.fn) {
        ctx->progress = mapped_progress;
        ctx->progress_ud = &pm;
    }
    int passes = 1;
    st = run_pass(ctx, &r, stk, &buf, &p, 1, &pm);
    for (int i = 0; i < o->nsurfaces && st == TG_OK; i++) r.redo[i] = tg_surfaces_acc_next_pass(r.surf[i]);
    int again = 0;
    for (int i = 0; i < o->nsurfaces; i++) again |= r.redo[i];
    if (st == TG_OK && again) {
        passes = 2;
        pm.slabs += nslabs;
        st = run_pass(ctx, &r, stk, &buf, &p, 2, &pm);
    }
    if (st == TG_OK) st = run_finish(ctx, &r, res);
    if (st != TG_OK) goto done;
    memcpy(res->dims, in->dims, sizeof res->dims);
    res->total = in->dims[0] * in->dims[1] * in->dims[2];
    res->slab = p.slab;
    res->slabs = pm.slab;
    res->halo_lo = p.lo;
    res->halo_hi = p.hi;
    res->memory = o->memory > 0 ? o->memory : tg_memory_budget(ctx);
    res->planned = p.planned;
    res->passes = passes;
    res->seconds = tg_now() - t0;
    res->voxels_per_second = res->seconds > 0 ? (double)pm.voxels / res->seconds : 0.0;
done:
    if (pm.fn) {
        ctx->progress = pm.fn;
        ctx->progress_ud = pm.ud;
    }
    res->peak = tg_alloc_peak() - before;
    tg_volume_release(&buf);
    run_free(&r);
    if (st != TG_OK) tg_measure_stream_result_free(res);
    else tg_progress_done(ctx, what);
    return st;
}

void tg_measure_stream_result_free(tg_measure_stream_result *res)
{
    if (!res) return;
    tg_free(res->labels);
    tg_free(res->counts);
    tg_free(res->profile_counts);
    for (int i = 0; i < TG_MS_MAX_CHORDS; i++) tg_chords_counts_free(&res->chords[i]);
    for (int i = 0; i < TG_MS_MAX_COMPONENTS; i++) tg_components_totals_free(&res->components[i]);
    int64_t keep = res->peak;
    memset(res, 0, sizeof *res);
    res->profile = -1;
    res->peak = keep;
}
