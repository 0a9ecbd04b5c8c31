/* test_measure_stream.c — measures of a label stack on disk, streamed slab by slab (engine/measure/tg_measure_stream.c
 * and the slab accumulators of tg_surfaces, tg_chords, tg_components, tg_percolation), against the in-memory calls.
 *
 * Truth: the in-memory engine functions on the whole volume (each tested against analytic shapes and peers in its own
 * test file), run on the same voxels: the streamed counts, chord counts, component sizes and percolation must be the
 * same integers and the areas the same doubles, for slabs of 1, 2, 3 and 7 slices, every surface convention, every
 * chord trim, connectivity and axis, and for 1 and 2 threads. Volumes: the generated cathode (tg_cathode) and a phase of
 * one-voxel sheets, whose largest 7-cross count is 5, so closed smoothed surfaces need the second pass.
 */
#define _GNU_SOURCE
#include <stdio.h>
#include <string.h>

#include "tg_test.h"
#include "core/tg_components.h"
#include "core/tg_sha256.h"
#include "generate/tg_cathode.h"
#include "io/tg_stack.h"
#include "io/tg_tiff.h"
#include "measure/tg_chords.h"
#include "measure/tg_measure_stream.h"
#include "measure/tg_percolation.h"
#include "measure/tg_surfaces.h"

static char tmpdir[512];

static void setup(void)
{
    const char *t = getenv("TG_TEST_TMP");
    snprintf(tmpdir, sizeof tmpdir, "%s/test_measure_stream", t ? t : "/tmp");
    char cmd[600];
    snprintf(cmd, sizeof cmd, "mkdir -p '%s'", tmpdir);
    if (system(cmd) != 0) fprintf(stderr, "cannot create %s\n", tmpdir);
}

static const char *tmp(const char *name)
{
    static char p[4][1200];
    static int k;
    k = (k + 1) % 4;
    snprintf(p[k], sizeof p[k], "%s/%s", tmpdir, name);
    return p[k];
}

/* The generated cathode (pore 0, CAM 1, ISE 2) of the given size, written to name; the stack opened on it. */
static void cathode(tg_ctx *ctx, int64_t nx, int64_t ny, int64_t nz, const char *name, tg_volume *v, tg_stack **st)
{
    tg_cathode_opts o = TG_CATHODE_OPTS_INIT;
    o.size[0] = nx, o.size[1] = ny, o.size[2] = nz;
    o.cam_d50 = 1.2e-6, o.ise_d50 = 1.0e-6, o.seed = 7;
    o.spacing[2] = 1.5e-7; /* anisotropic */
    CHECK_OK(ctx, tg_cathode(ctx, &o, v, NULL, NULL));
    CHECK_OK(ctx, tg_tiff_write(ctx, tmp(name), v, NULL));
    const char *paths[1] = {tmp(name)};
    CHECK_OK(ctx, tg_stack_open(ctx, paths, 1, NULL, st));
}

static int same_surfaces(const tg_surfaces_result *a, const tg_surfaces_result *b)
{
    int ok = a->nphases == b->nphases && a->total_voxels == b->total_voxels && a->volume_m3 == b->volume_m3 &&
             a->ntriples == b->ntriples && a->tpb_any_length == b->tpb_any_length;
    for (int i = 0; i < a->nphases; i++) {
        ok &= a->area[i] == b->area[i] && a->voxels[i] == b->voxels[i];
        for (int j = 0; j < a->nphases; j++) ok &= a->union_area[i][j] == b->union_area[i][j] && a->interface[i][j] == b->interface[i][j];
    }
    for (int t = 0; t < a->ntriples; t++) {
        ok &= a->tpb_length[t] == b->tpb_length[t];
        for (int d = 0; d < 3; d++) ok &= a->tpb_edges[t][d] == b->tpb_edges[t][d];
    }
    if (!ok) fprintf(stderr, "  surfaces differ: area[0] %.17g vs %.17g\n", a->area[0], b->area[0]);
    return ok;
}

static int same_chords(tg_ctx *ctx, const tg_volume *v, const tg_chords_opts *o, const tg_chords_counts *c)
{
    tg_chords_result r;
    if (tg_chords(ctx, v, o, &r) != TG_OK) return 0;
    int64_t *h = tg_calloc((size_t)r.max_length + 1, sizeof *h);
    tg_chords_histogram(&r, h);
    int ok = r.n == c->n && r.nlines == c->nlines && r.max_length == c->max_length;
    for (int64_t l = 0; ok && l <= r.max_length; l++) ok &= h[l] == c->hist[l];
    if (!ok) fprintf(stderr, "  chords (axis %d, trim %d, spacing %d): n %lld vs %lld\n", o->axis, (int)o->trim, o->spacing,
                     (long long)r.n, (long long)c->n);
    tg_free(h);
    tg_chords_result_free(&r);
    return ok;
}

/* the streamed components equal tg_components_ex (count, sizes in order) and tg_percolation on every axis */
static int same_components(tg_ctx *ctx, const tg_volume *v, const tg_components_opts *o, const tg_components_totals *t)
{
    tg_volume lab;
    tg_components_info info;
    int64_t n = 0;
    if (tg_components_ex(ctx, v, o, &lab, &n, &info) != TG_OK) return 0;
    int ok = n == t->n;
    for (int64_t i = 0; ok && i <= n; i++) ok &= info.sizes[i] == t->sizes[i];
    for (int axis = 0; ok && axis < 3; axis++) {
        tg_percolation_opts po = {o->phase, axis, o->connectivity};
        tg_percolation_result a, b;
        ok &= tg_percolation(ctx, v, &po, &a) == TG_OK;
        tg_percolation_from_totals(t, axis, v->dims, &b);
        ok &= memcmp(&a, &b, sizeof a) == 0;
    }
    if (!ok) fprintf(stderr, "  components (phase %lld, %d-connected): n %lld vs %lld\n", (long long)o->phase,
                     o->connectivity, (long long)n, (long long)t->n);
    tg_components_info_free(&info);
    tg_volume_release(&lab);
    return ok;
}

/* Every part at once, in slabs of max_slab slices, against the in-memory calls. */
static void check_all(tg_ctx *ctx, tg_stack *st, const tg_volume *v, int64_t max_slab)
{
    tg_measure_stream_opts o = TG_MEASURE_STREAM_OPTS_INIT;
    o.max_slab = max_slab;
    o.counts = 1;
    o.sha256 = 1;
    o.profile = 2;
    for (int k = 0; k < 3; k++) { /* open; closed + smoothed (PoreSpy); closed binary */
        tg_surfaces_opts s = TG_SURFACES_OPTS_INIT;
        s.nphases = 3;
        s.phases[0] = 0, s.phases[1] = 1, s.phases[2] = 2;
        s.convention = k == 0 ? TG_SURFACES_OPEN : TG_SURFACES_CLOSED;
        s.smooth = k == 1;
        o.surfaces[o.nsurfaces++] = s;
    }
    static const tg_chord_trim trims[3] = {TG_TRIM_FACES, TG_TRIM_ENDS, TG_TRIM_NONE};
    for (int axis = 0; axis < 3; axis++)
        for (int t = 0; t < 3; t++) {
            tg_chords_opts c = {t == 2 ? 2 : 1, axis, t == 1 ? 0 : 2, trims[t]};
            o.chords[o.nchords++] = c;
        }
    static const int conns[3] = {6, 18, 26};
    for (int k = 0; k < 3; k++) {
        tg_components_opts c = {conns[k], 1, k == 2 ? 0 : k + 1};
        o.components[o.ncomponents++] = c;
    }
    tg_measure_stream_result r;
    CHECK_OK(ctx, tg_measure_stream(ctx, st, &o, &r));
    CHECK(r.slab == max_slab);
    CHECK(r.slabs == (v->dims[2] + max_slab - 1) / max_slab);
    CHECK(r.total == tg_volume_count(v));
    CHECK(r.peak > 0 && r.peak <= r.planned);
    /* counts and the z profile */
    int64_t counts[256] = {0};
    CHECK_OK(ctx, tg_volume_counts(ctx, v, 0, 256, counts));
    int64_t present = 0;
    for (int l = 0; l < 256; l++) present += counts[l] > 0;
    CHECK(r.nlabels == present);
    for (int64_t j = 0; j < r.nlabels; j++) CHECK(r.counts[j] == counts[r.labels[j]]);
    int prof_ok = r.profile == 2 && r.npos == v->dims[2];
    for (int64_t z = 0; prof_ok && z < v->dims[2]; z++) {
        int64_t lo[3] = {0, 0, z}, hi[3] = {v->dims[0], v->dims[1], z + 1}, c[256] = {0};
        tg_volume s;
        tg_volume_view(ctx, v, lo, hi, &s);
        tg_volume_counts(ctx, &s, 0, 256, c);
        tg_volume_release(&s);
        for (int64_t j = 0; j < r.nlabels; j++) prof_ok &= r.profile_counts[z * r.nlabels + j] == c[r.labels[j]];
    }
    CHECK(prof_ok);
    char hex[TG_SHA256_HEX];
    CHECK_OK(ctx, tg_sha256_buffer(ctx, v->buf->data, v->buf->bytes, hex));
    CHECK(strcmp(hex, r.sha256) == 0);
    for (int i = 0; i < o.nsurfaces; i++) {
        tg_surfaces_result m;
        CHECK_OK(ctx, tg_surfaces(ctx, v, &o.surfaces[i], &m));
        CHECK(same_surfaces(&m, &r.surfaces[i]));
    }
    CHECK(r.surfaces[0].area[0] > 0 && r.surfaces[1].tpb_length[0] > 0);
    for (int i = 0; i < o.nchords; i++) CHECK(same_chords(ctx, v, &o.chords[i], &r.chords[i]));
    CHECK(r.chords[0].n > 0 && r.chords[8].n > 0);
    for (int i = 0; i < o.ncomponents; i++) CHECK(same_components(ctx, v, &o.components[i], &r.components[i]));
    CHECK(r.components[0].n > 1);
    tg_measure_stream_result_free(&r);
}

static void test_cathode_every_slab_height(void)
{
    tg_ctx ctx;
    tg_ctx_init(&ctx);
    tg_volume v;
    tg_stack *st = NULL;
    cathode(&ctx, 37, 29, 23, "cathode.tif", &v, &st);
    for (int k = 0; k < 4; k++) check_all(&ctx, st, &v, (int64_t[]){1, 2, 3, 7}[k]);
    check_all(&ctx, st, &v, 23); /* one slab: the whole volume */
    tg_stack_close(st);
    tg_volume_release(&v);
}

static void test_threads_agree(void)
{
    tg_ctx ctx;
    tg_ctx_init(&ctx);
    tg_volume v;
    tg_stack *st = NULL;
    cathode(&ctx, 30, 26, 20, "threads.tif", &v, &st);
    ctx.nthreads = 1;
    check_all(&ctx, st, &v, 3);
    ctx.nthreads = 2;
    check_all(&ctx, st, &v, 3);
    tg_stack_close(st);
    tg_volume_release(&v);
}

/* A phase of one-voxel sheets (every other slice) has a largest 7-cross count of 5: closed smoothed surfaces put
 * the level at 5/14, which pass 1 cannot know, so a second pass computes that set again. */
static void test_second_pass(void)
{
    tg_ctx ctx;
    tg_ctx_init(&ctx);
    int64_t d[3] = {12, 10, 9};
    tg_volume v;
    CHECK_OK(&ctx, tg_volume_alloc(&ctx, d, TG_U8, NULL, &v));
    for (int64_t z = 0; z < 9; z++)
        for (int64_t y = 0; y < 10; y++)
            for (int64_t x = 0; x < 12; x++) tg_volume_set(&v, x, y, z, z % 2 ? 3 : (x + y) % 5 == 0 ? 1 : 0);
    CHECK_OK(&ctx, tg_tiff_write(&ctx, tmp("sheets.tif"), &v, NULL));
    const char *paths[1] = {tmp("sheets.tif")};
    tg_stack *st = NULL;
    CHECK_OK(&ctx, tg_stack_open(&ctx, paths, 1, NULL, &st));
    tg_measure_stream_opts o = TG_MEASURE_STREAM_OPTS_INIT;
    o.max_slab = 2;
    tg_surfaces_opts s = TG_SURFACES_OPTS_INIT;
    s.nphases = 3, s.phases[0] = 0, s.phases[1] = 1, s.phases[2] = 3;
    s.convention = TG_SURFACES_CLOSED, s.smooth = 1;
    o.surfaces[o.nsurfaces++] = s;
    tg_measure_stream_result r;
    CHECK_OK(&ctx, tg_measure_stream(&ctx, st, &o, &r));
    CHECK(r.passes == 2);
    CHECK(r.slabs == 10);
    tg_surfaces_result m;
    CHECK_OK(&ctx, tg_surfaces(&ctx, &v, &s, &m));
    CHECK(same_surfaces(&m, &r.surfaces[0]));
    CHECK(m.area[2] > 0);
    tg_measure_stream_result_free(&r);
    tg_stack_close(st);
    tg_volume_release(&v);
}

/* The slab height comes from the budget: a budget for about 4 slices gives slabs of about 4, a budget below one
 * slice is an error naming it, and the plan holds what the allocator counted. */
static void test_budget(void)
{
    tg_ctx ctx;
    tg_ctx_init(&ctx);
    tg_volume v;
    tg_stack *st = NULL;
    cathode(&ctx, 200, 180, 24, "budget.tif", &v, &st);
    tg_measure_stream_opts o = TG_MEASURE_STREAM_OPTS_INIT;
    o.counts = 1;
    tg_components_opts c = {6, 1, 1};
    o.components[o.ncomponents++] = c;
    int64_t slab, planned, lo, hi;
    o.memory = 1;
    CHECK(tg_measure_stream_plan(&ctx, v.dims, TG_U8, &o, &slab, &planned, &lo, &hi) == TG_ERR_ARG);
    CHECK(strstr(ctx.msg, "a memory budget of 1 B is too small for slabs of 200 x 180 u8 voxels") != NULL);
    o.memory = 0;
    CHECK_OK(&ctx, tg_measure_stream_plan(&ctx, v.dims, TG_U8, &o, &slab, &planned, &lo, &hi));
    tg_cost cc;
    tg_components_stream_cost(&c, v.dims, &cc);
    int64_t per_slice = (int64_t)(200 * 180 * (1 + cc.per_voxel)), fixed = planned - slab * per_slice;
    o.memory = fixed + 4 * per_slice + 10;
    CHECK_OK(&ctx, tg_measure_stream_plan(&ctx, v.dims, TG_U8, &o, &slab, &planned, &lo, &hi));
    CHECK(slab == 4 && lo == 0 && hi == 0 && planned <= o.memory);
    tg_measure_stream_result r;
    CHECK_OK(&ctx, tg_measure_stream(&ctx, st, &o, &r));
    CHECK(r.slab == 4 && r.slabs == 6 && r.memory == o.memory);
    CHECK(r.peak > 0 && r.peak <= r.planned);
    CHECK(r.components[0].n > 0);
    tg_measure_stream_result_free(&r);
    tg_stack_close(st);
    tg_volume_release(&v);
}

static int cancel_at(void *ud, double f, const char *what)
{
    (void)what;
    int *calls = ud;
    return ++*calls >= 3 && f > 0;
}

/* A cancel and every failing allocation end cleanly: an error status, nothing left allocated (checked at exit). */
static void test_cancel_and_failures(void)
{
    tg_ctx ctx;
    tg_ctx_init(&ctx);
    tg_volume v;
    tg_stack *st = NULL;
    cathode(&ctx, 24, 20, 16, "fail.tif", &v, &st);
    tg_measure_stream_opts o = TG_MEASURE_STREAM_OPTS_INIT;
    o.max_slab = 2;
    o.counts = 1;
    o.profile = 0;
    tg_surfaces_opts s = TG_SURFACES_OPTS_INIT;
    s.nphases = 2, s.phases[0] = 1, s.phases[1] = 2, s.convention = TG_SURFACES_CLOSED, s.smooth = 1;
    o.surfaces[o.nsurfaces++] = s;
    tg_chords_opts c = {1, 2, 2, TG_TRIM_FACES};
    o.chords[o.nchords++] = c;
    tg_components_opts k = {26, 1, 2};
    o.components[o.ncomponents++] = k;
    tg_measure_stream_result r;
    int calls = 0;
    ctx.progress = cancel_at;
    ctx.progress_ud = &calls;
    ctx.last_report = -1e9;
    tg_status stc = TG_OK;
    for (int i = 0; i < 200 && stc == TG_OK; i++) { /* progress is throttled to 10 Hz: repeat until it fires */
        ctx.last_report = -1e9;
        stc = tg_measure_stream(&ctx, st, &o, &r);
        if (stc == TG_OK) tg_measure_stream_result_free(&r);
    }
    CHECK(stc == TG_ERR_CANCELLED);
    ctx.progress = NULL;
    atomic_store(&ctx.cancel, 0);
    int failures = 0;
    for (long n = 1; n < 400; n++) {
        tg_alloc_fail_after(n);
        tg_status x = tg_measure_stream(&ctx, st, &o, &r);
        tg_alloc_fail_after(0);
        if (x == TG_OK) {
            tg_measure_stream_result_free(&r);
            break;
        }
        failures += x == TG_ERR_NOMEM;
    }
    CHECK(failures > 10);
    tg_stack_close(st);
    tg_volume_release(&v);
}


/* ---- past 2^31 voxels: 64-bit counts, sizes and positions, with neither 2 GB of memory nor of disk ----
 * A stack of 2048 x 2048 x 520 = 2 181 038 080 voxels (> 2^31 = 2 147 483 648) from a backend that computes its
 * slices (tg_stack_new; the TIFF reader is tested apart), measured within a 400 MB budget. Label 1: one column
 * (x 7, y 9) through every slice; label 2: the row y 100 of every 13th slice; label 0 the rest, one component of
 * more than 2^31 voxels joined across every slab face. Every expected number is an exact integer computed here: a
 * 32-bit count, size, position or product anywhere on the way gives another one. */
enum { BIG_NX = 2048, BIG_NY = 2048, BIG_NZ = 520 };

static tg_status big_read(tg_ctx *ctx, void *state, int64_t z0, int64_t z1, tg_volume *out, int64_t zout)
{
    (void)ctx, (void)state;
    for (int64_t z = z0; z < z1; z++) {
        uint8_t *p = tg_volume_ptr(out, 0, 0, zout + z - z0);
        memset(p, 0, (size_t)BIG_NX * BIG_NY);
        p[9 * BIG_NX + 7] = 1;
        if (z % 13 == 0) memset(p + 100 * BIG_NX, 2, BIG_NX);
    }
    return TG_OK;
}

static void big_close(void *state) { (void)state; }

static void test_past_2_31_voxels(void)
{
    tg_ctx ctx;
    tg_ctx_init(&ctx);
    static const tg_stack_backend backend = {"computed", big_read, big_close};
    tg_stack_info_t info;
    memset(&info, 0, sizeof info);
    info.dims[0] = BIG_NX, info.dims[1] = BIG_NY, info.dims[2] = BIG_NZ;
    info.dtype = TG_U8;
    info.spacing[0] = info.spacing[1] = info.spacing[2] = 1e-7;
    info.format = "computed";
    info.path = "(computed)";
    info.files = 1;
    tg_stack *st = NULL;
    CHECK_OK(&ctx, tg_stack_new(&ctx, &backend, NULL, &info, &st));
    const int64_t total = (int64_t)BIG_NX * BIG_NY * BIG_NZ, rows2 = (BIG_NZ + 12) / 13;
    const int64_t n1 = BIG_NZ, n2 = rows2 * BIG_NX, n0 = total - n1 - n2;
    CHECK(total > ((int64_t)1 << 31) && n0 > ((int64_t)1 << 31));
    tg_measure_stream_opts o = TG_MEASURE_STREAM_OPTS_INIT;
    o.memory = 400000000;
    o.counts = 1;
    o.profile = 2;
    tg_components_opts k0 = {6, 1, 0}; /* the voxels of label 0: one component of n0 voxels */
    tg_components_opts k2 = {26, 1, 2};
    o.components[o.ncomponents++] = k0;
    o.components[o.ncomponents++] = k2;
    tg_chords_opts c = TG_CHORDS_OPTS_INIT; /* label 0 along z, no trimming: one chord per line but on (7, 9) */
    c.phase = 0, c.axis = 2, c.spacing = 0, c.trim = TG_TRIM_NONE;
    o.chords[o.nchords++] = c;
    tg_measure_stream_result r;
    tg_status x = tg_measure_stream(&ctx, st, &o, &r);
    CHECK_OK(&ctx, x);
    if (x != TG_OK) {
        tg_stack_close(st);
        return;
    }
    CHECK(r.total == total && r.nlabels == 3);
    CHECK(r.labels[0] == 0 && r.counts[0] == n0);
    CHECK(r.labels[1] == 1 && r.counts[1] == n1);
    CHECK(r.labels[2] == 2 && r.counts[2] == n2);
    int prof_ok = r.profile == 2 && r.npos == BIG_NZ;
    for (int64_t z = 0; z < BIG_NZ && prof_ok; z++)
        prof_ok = r.profile_counts[z * 3] == (int64_t)BIG_NX * BIG_NY - 1 - (z % 13 == 0 ? BIG_NX : 0) &&
                  r.profile_counts[z * 3 + 1] == 1 && r.profile_counts[z * 3 + 2] == (z % 13 == 0 ? BIG_NX : 0);
    CHECK(prof_ok);
    const tg_components_totals *t0 = &r.components[0], *t2 = &r.components[1];
    CHECK(t0->n == 1 && t0->sizes[1] == n0 && t0->sizes[0] == n1 + n2);
    CHECK(t2->n == rows2 && t2->sizes[0] == n0 + n1);
    for (int64_t i = 1; i <= t2->n; i++) CHECK(t2->sizes[i] == BIG_NX);
    tg_percolation_result pr;
    tg_percolation_from_totals(t0, 2, r.dims, &pr);
    CHECK(pr.phase_voxels == n0 && pr.total_voxels == total && pr.voxels[TG_PERC_SPANNING] == n0);
    /* chords of label 0 along z: every line but (7, 9) is one chord of 130 voxels except where a row of label 2
     * cuts it (y 100: rows2 pieces, the first slice being label 2); the count and their voxels add up exactly */
    const tg_chords_counts *cc = &r.chords[0];
    int64_t nch = 0, vox = 0;
    for (int64_t l = 1; l <= cc->max_length; l++) nch += cc->hist[l], vox += l * cc->hist[l];
    CHECK(nch == cc->n && vox == n0);
    CHECK(cc->n == (int64_t)BIG_NX * BIG_NY - 1 - BIG_NX + (int64_t)BIG_NX * rows2);
    CHECK(r.slabs >= 2 && r.peak <= o.memory && r.planned <= o.memory);
    tg_measure_stream_result_free(&r);
    tg_stack_close(st);
}

TG_TEST_MAIN(setup, test_cathode_every_slab_height, test_threads_agree, test_second_pass, test_budget,
             test_cancel_and_failures, test_past_2_31_voxels)
