/* test_stream.c — the slab driver (engine/io/tg_stream.c) and the streamed filters (engine/filter/tg_filter_stream.c).
 *
 * Truth: a backend plugged in through tg_stack_new that computes every page from a formula and counts the pages it
 * decodes (so the slabs the operation sees can be checked voxel by voxel, and no page is decoded twice); the slab
 * height from the budget by hand; the in-memory filters on the whole volume (streamed results must be bit-identical);
 * the allocator's own byte count against the budget.
 */
#include <string.h>

#include "tg_test.h"
#include "filter/tg_filter_stream.h"
#include "io/tg_stack.h"
#include "io/tg_stream.h"
#include "io/tg_tiff.h"

static double formula(int64_t x, int64_t y, int64_t z) { return (double)((x * 7 + y * 13 + z * 29 + (x * y * z) % 17) % 251); }

/* ---- a stack computed from the formula, counting the pages read ---- */

typedef struct mem_state {
    int64_t reads[512]; /* times each page was decoded */
    int fail_page;      /* >= 0: reading this page fails */
} mem_state;

static tg_status mem_read(tg_ctx *ctx, void *state, int64_t z0, int64_t z1, tg_volume *out, int64_t zout)
{
    mem_state *m = state;
    for (int64_t z = z0; z < z1; z++) {
        if (z == m->fail_page) return tg_fail(ctx, TG_ERR_FORMAT, "memory: page %lld: cannot decode", (long long)z + 1);
        m->reads[z]++;
        for (int64_t y = 0; y < out->dims[1]; y++)
            for (int64_t x = 0; x < out->dims[0]; x++) tg_volume_set(out, x, y, zout + z - z0, formula(x, y, z));
    }
    return TG_OK;
}

static void mem_close(void *state) { tg_free(state); }

static const tg_stack_backend mem_backend = {"memory", mem_read, mem_close};

static tg_stack *mem_stack(tg_ctx *ctx, int64_t nx, int64_t ny, int64_t nz, mem_state **state)
{
    mem_state *m = tg_calloc(1, sizeof *m);
    m->fail_page = -1;
    tg_stack_info_t in;
    memset(&in, 0, sizeof in);
    in.dims[0] = nx; in.dims[1] = ny; in.dims[2] = nz;
    in.dtype = TG_U8;
    in.spacing[0] = in.spacing[1] = in.spacing[2] = 1e-7;
    in.format = "memory";
    in.path = "memory";
    in.files = 1;
    tg_stack *st = NULL;
    CHECK_OK(ctx, tg_stack_new(ctx, &mem_backend, m, &in, &st));
    *state = m;
    return st;
}

/* ---- an operation that checks its slab and passes it on ---- */

typedef struct check_job {
    int64_t halo, slabs, bad, last_z1;
    int64_t nz;
} check_job;

static tg_status check_slab(tg_ctx *ctx, void *ud, const tg_volume *in, int64_t s0, int64_t z0, int64_t z1, tg_volume *out)
{
    check_job *J = ud;
    int64_t want0 = z0 - J->halo > 0 ? z0 - J->halo : 0, want1 = z1 + J->halo < J->nz ? z1 + J->halo : J->nz;
    if (s0 != want0 || in[0].dims[2] != want1 - want0 || z0 != J->last_z1) J->bad++;
    for (int64_t z = 0; z < in[0].dims[2]; z++)
        for (int64_t y = 0; y < in[0].dims[1]; y++)
            for (int64_t x = 0; x < in[0].dims[0]; x++)
                if (tg_volume_get(&in[0], x, y, z) != formula(x, y, s0 + z) ||
                    tg_volume_get(&in[1], x, y, z) != formula(x, y, s0 + z))
                    J->bad++;
    J->slabs++;
    J->last_z1 = z1;
    tg_status st = tg_volume_copy(ctx, &in[0], &out[0]); /* the whole slab: the driver keeps the central part */
    if (st == TG_OK) { /* the second output: the central part only, doubled */
        int64_t d[3] = {in[0].dims[0], in[0].dims[1], z1 - z0};
        st = tg_volume_alloc(ctx, d, TG_F32, NULL, &out[1]);
        for (int64_t z = 0; st == TG_OK && z < d[2]; z++)
            for (int64_t y = 0; y < d[1]; y++)
                for (int64_t x = 0; x < d[0]; x++) tg_volume_set(&out[1], x, y, z, 2 * tg_volume_get(&in[1], x, y, z0 - s0 + z));
    }
    return st;
}

typedef struct collect {
    tg_volume all[2]; /* the whole outputs, assembled */
} collect;

static tg_status collect_sink(tg_ctx *ctx, void *ud, const tg_volume *out, int nout, int64_t z0)
{
    collect *c = ud;
    (void)ctx;
    for (int k = 0; k < nout; k++)
        for (int64_t z = 0; z < out[k].dims[2]; z++)
            for (int64_t y = 0; y < out[k].dims[1]; y++)
                for (int64_t x = 0; x < out[k].dims[0]; x++)
                    tg_volume_set(&c->all[k], x, y, z0 + z, tg_volume_get(&out[k], x, y, z));
    return TG_OK;
}

static void test_slabs_and_halo(void)
{
    tg_ctx ctx;
    tg_ctx_init(&ctx);
    mem_state *m0, *m1;
    tg_stack *src[2] = {mem_stack(&ctx, 20, 9, 53, &m0), mem_stack(&ctx, 20, 9, 53, &m1)};
    static const int64_t halos[] = {0, 1, 3, 30}, caps[] = {1, 4, 7, 60};
    for (int hi = 0; hi < 4; hi++)
        for (int ci = 0; ci < 4; ci++) {
            memset(m0->reads, 0, sizeof m0->reads);
            check_job J = {halos[hi], 0, 0, 0, 53};
            collect c;
            int64_t d[3] = {20, 9, 53};
            CHECK_OK(&ctx, tg_volume_alloc(&ctx, d, TG_U8, NULL, &c.all[0]));
            CHECK_OK(&ctx, tg_volume_alloc(&ctx, d, TG_F32, NULL, &c.all[1]));
            tg_stream_job job = {src, 2, {4.0, 1000, halos[hi]}, 0, check_slab, &J, 2, collect_sink, &c};
            tg_stream_opts so = TG_STREAM_OPTS_INIT;
            so.max_slab = caps[ci];
            so.memory = 1 << 30;
            tg_stream_result r;
            CHECK_OK(&ctx, tg_stream_run(&ctx, &job, &so, &r));
            int64_t H = caps[ci] < 53 ? caps[ci] : 53;
            CHECK(J.bad == 0 && J.last_z1 == 53);
            CHECK(r.slab == H && r.slabs == (53 + H - 1) / H && J.slabs == r.slabs && r.halo == halos[hi]);
            CHECK(r.passes == 1 && r.voxels == 20 * 9 * 53 && r.memory == 1 << 30);
            int once = 1; /* the overlap of two slabs is moved, never decoded again */
            for (int z = 0; z < 53; z++) once &= m0->reads[z] == 1;
            CHECK(once);
            int same = 1;
            for (int64_t z = 0; z < 53; z++)
                for (int64_t y = 0; y < 9; y++)
                    for (int64_t x = 0; x < 20; x++)
                        same &= tg_volume_get(&c.all[0], x, y, z) == formula(x, y, z) &&
                                tg_volume_get(&c.all[1], x, y, z) == 2 * formula(x, y, z);
            CHECK(same);
            tg_volume_release(&c.all[0]);
            tg_volume_release(&c.all[1]);
        }
    tg_stack_close(src[0]);
    tg_stack_close(src[1]);
}

/* H = floor((budget - fixed) / (nx ny c)) - 2h, c = input bytes + the operation's per voxel. */
static void test_plan(void)
{
    tg_ctx ctx;
    tg_ctx_init(&ctx);
    int64_t dims[3] = {100, 50, 1000}, H, planned;
    tg_cost c = {4.0, 10000, 3};
    CHECK_OK(&ctx, tg_stream_plan(&ctx, dims, 1.0, &c, 0, 10000 + 5 * 5000 * 20, 0, "op", &H, &planned));
    CHECK(H == 14 && planned == 10000 + 5 * 5000 * 20);
    CHECK_OK(&ctx, tg_stream_plan(&ctx, dims, 1.0, &c, 0, 10000 + 5 * 5000 * 20 + 24999, 0, "op", &H, &planned));
    CHECK(H == 14);
    CHECK_OK(&ctx, tg_stream_plan(&ctx, dims, 1.0, &c, 3.0, 10000 + 8 * 5000 * 20, 0, "op", &H, &planned));
    CHECK(H == 14); /* the sink's bytes count too */
    CHECK_OK(&ctx, tg_stream_plan(&ctx, dims, 1.0, &c, 0, (int64_t)1 << 40, 0, "op", &H, &planned));
    CHECK(H == 1000 && planned == 10000 + 5 * 5000 * 1000); /* one slab: the whole stack, no halo to read */
    CHECK_OK(&ctx, tg_stream_plan(&ctx, dims, 1.0, &c, 0, (int64_t)1 << 40, 64, "op", &H, &planned));
    CHECK(H == 64);
    CHECK(tg_stream_plan(&ctx, dims, 1.0, &c, 0, 10000 + 5 * 5000 * 6, 0, "gaussian", &H, &planned) == TG_ERR_ARG);
    CHECK(strstr(ctx.msg, "gaussian: a memory budget of") && strstr(ctx.msg, "allow at least 181 KiB"));
}

static tg_status failing_op(tg_ctx *ctx, void *ud, const tg_volume *in, int64_t s0, int64_t z0, int64_t z1, tg_volume *out)
{
    (void)in; (void)s0; (void)z1; (void)out;
    int64_t *when = ud;
    if (z0 >= *when) return tg_fail(ctx, TG_ERR_FORMAT, "op: slab at %lld fails", (long long)z0);
    return TG_OK;
}

static int count_calls(void *ud, double f, const char *what)
{
    int *n = ud;
    (void)f;
    (*n)++;
    return strstr(what, "|slab ") == NULL; /* a label without the slab count would cancel */
}

static void test_errors_and_cancel(void)
{
    tg_ctx ctx;
    tg_ctx_init(&ctx);
    mem_state *m;
    tg_stack *src = mem_stack(&ctx, 8, 8, 40, &m);
    int64_t when = 12;
    tg_stream_job job = {&src, 1, {0, 0, 1}, 0, failing_op, &when, 0, NULL, NULL};
    tg_stream_opts so = TG_STREAM_OPTS_INIT;
    so.max_slab = 5;
    CHECK(tg_stream_run(&ctx, &job, &so, NULL) == TG_ERR_FORMAT && strstr(ctx.msg, "slab at 15 fails"));
    when = 1000;
    m->fail_page = 22;
    CHECK(tg_stream_run(&ctx, &job, &so, NULL) == TG_ERR_FORMAT && strstr(ctx.msg, "page 23"));
    m->fail_page = -1;
    /* progress: each call carries the slab count; the caller's callback is put back afterwards */
    int calls = 0;
    ctx.progress = count_calls;
    ctx.progress_ud = &calls;
    ctx.last_report = 0;
    tg_stream_result r;
    CHECK_OK(&ctx, tg_stream_run(&ctx, &job, &so, &r));
    CHECK(calls >= 1 && ctx.progress == count_calls && ctx.progress_ud == &calls);
    ctx.progress = NULL;
    atomic_store(&ctx.cancel, 1);
    CHECK(tg_stream_run(&ctx, &job, &so, NULL) == TG_ERR_CANCELLED);
    atomic_store(&ctx.cancel, 0);
    /* sources of different sizes */
    mem_state *m2;
    tg_stack *other = mem_stack(&ctx, 8, 8, 41, &m2), *two[2] = {src, other};
    job.src = two;
    job.nsrc = 2;
    CHECK(tg_stream_run(&ctx, &job, &so, NULL) == TG_ERR_ARG && strstr(ctx.msg, "8x8x41"));
    tg_stack_close(other);
    tg_stack_close(src);
}

/* ---- streamed filters against the in-memory ones ---- */

static int same_bytes(const tg_volume *a, const tg_volume *b)
{
    if (a->dtype != b->dtype || a->dims[0] != b->dims[0] || a->dims[1] != b->dims[1] || a->dims[2] != b->dims[2]) return 0;
    size_t es = tg_dtype_size(a->dtype);
    for (int64_t z = 0; z < a->dims[2]; z++)
        for (int64_t y = 0; y < a->dims[1]; y++)
            if (memcmp(tg_volume_ptr(a, 0, y, z), tg_volume_ptr(b, 0, y, z), (size_t)a->dims[0] * es)) return 0;
    return 1;
}

static const char *tmp_path(const char *name)
{
    static char p[2][600];
    static int k;
    const char *t = getenv("TG_TEST_TMP");
    k ^= 1;
    snprintf(p[k], sizeof p[k], "%s/%s", t ? t : "/tmp", name);
    return p[k];
}

/* The filter streamed through a writer into a file, read back. */
static tg_status streamed(tg_ctx *ctx, tg_stack *st, const tg_filter_stream_opts *o, tg_volume *out, tg_stream_result *r)
{
    const char *path = tmp_path("test_stream_out.tif");
    tg_writer *w = NULL;
    tg_status s = tg_writer_open(ctx, path, NULL, &w);
    if (s) return s;
    s = tg_filter_stream(ctx, st, o, w, NULL, r);
    if (s) { tg_writer_abort(w); return s; }
    if ((s = tg_writer_close(ctx, w))) return s;
    return tg_tiff_read(ctx, path, NULL, out);
}

static void test_filters_bit_identical(void)
{
    tg_ctx ctx;
    tg_ctx_init(&ctx);
    int64_t d[3] = {40, 33, 37};
    tg_volume v, a, b;
    CHECK_OK(&ctx, tg_volume_alloc(&ctx, d, TG_F32, NULL, &v));
    for (int64_t z = 0; z < d[2]; z++)
        for (int64_t y = 0; y < d[1]; y++)
            for (int64_t x = 0; x < d[0]; x++) /* values of many magnitudes: running sums would round differently */
                tg_volume_set(&v, x, y, z, formula(x, y, z) * (1 + 1e-3 * z) + 1e-6 * (double)((x * 31 + y * 17) % 97));
    const char *path = tmp_path("test_stream_in.tif");
    CHECK_OK(&ctx, tg_tiff_write(&ctx, path, &v, NULL));
    tg_stack *st = NULL;
    CHECK_OK(&ctx, tg_stack_open(&ctx, &path, 1, NULL, &st));
    if (!st) return;
    for (int kind = 0; kind < 7; kind++) {
        tg_filter_stream_opts o = TG_FILTER_STREAM_OPTS_INIT;
        double shifts[2 * 37];
        for (int z = 0; z < 37; z++) { shifts[2 * z] = 0.3 * z - 4; shifts[2 * z + 1] = -0.17 * z; }
        o.kind = kind;
        o.gaussian.sigma[0] = 1.2; o.gaussian.sigma[1] = 0.8; o.gaussian.sigma[2] = 1.6; o.gaussian.order[2] = 1;
        o.rank.radius = 2;
        o.flatten.sigma[0] = o.flatten.sigma[1] = 6;
        o.destripe.levels = 2;
        o.normalize.per_slice = 0;
        o.shifts = shifts;
        o.shift.interpolation = TG_SHIFT_CUBIC;
        o.shift.region_lo[0] = 5; o.shift.region_hi[0] = 30; o.shift.region_lo[1] = 2; o.shift.region_hi[1] = 33;
        o.stream.max_slab = 3;
        tg_stream_result r;
        tg_status s = TG_OK;
        switch (kind) {
        case TG_FILTER_GAUSSIAN: s = tg_gaussian(&ctx, &v, &o.gaussian, &a); break;
        case TG_FILTER_MEDIAN: s = tg_median(&ctx, &v, &o.rank, &a); break;
        case TG_FILTER_MEAN: s = tg_mean(&ctx, &v, &o.rank, &a); break;
        case TG_FILTER_FLATTEN: s = tg_flatten(&ctx, &v, &o.flatten, &a); break;
        case TG_FILTER_DESTRIPE: s = tg_destripe(&ctx, &v, &o.destripe, &a); break;
        case TG_FILTER_NORMALIZE: s = tg_normalize(&ctx, &v, &o.normalize, &a, NULL); break;
        case TG_FILTER_SHIFT: s = tg_shift(&ctx, &v, shifts, &o.shift, &a); break;
        }
        CHECK_OK(&ctx, s);
        CHECK_OK(&ctx, streamed(&ctx, st, &o, &b, &r));
        if (!same_bytes(&a, &b)) fprintf(stderr, "filter %d differs\n", kind);
        CHECK(same_bytes(&a, &b));
        CHECK(r.slabs >= 13 * (kind == TG_FILTER_NORMALIZE ? 3 : 1)); /* the global range takes 2 passes for f32 */
        tg_volume_release(&a);
        tg_volume_release(&b);
    }
    /* registration: sequential and fixed, against tg_register */
    for (int mode = 0; mode < 2; mode++) {
        tg_register_opts ro = TG_REGISTER_OPTS_INIT;
        ro.mode = mode;
        ro.reference = 11;
        double s1[2 * 37], s2[2 * 37], q1[37], q2[37];
        tg_stream_opts so = TG_STREAM_OPTS_INIT;
        so.max_slab = 4;
        CHECK_OK(&ctx, tg_register(&ctx, &v, &ro, s1, q1));
        CHECK_OK(&ctx, tg_register_stream(&ctx, st, &ro, &so, s2, q2, NULL));
        CHECK(memcmp(s1, s2, sizeof s1) == 0 && memcmp(q1, q2, sizeof q1) == 0);
    }
    tg_stack_close(st);
    tg_volume_release(&v);
}

/* What the allocator counts stays within the budget, and the slab height is what the budget allows. */
static void test_budget_is_kept(void)
{
    tg_ctx ctx;
    tg_ctx_init(&ctx);
    mem_state *m;
    tg_stack *st = mem_stack(&ctx, 128, 96, 60, &m);
    tg_filter_stream_opts o = TG_FILTER_STREAM_OPTS_INIT;
    o.gaussian.sigma[0] = o.gaussian.sigma[1] = o.gaussian.sigma[2] = 1.0;
    o.stream.memory = 1000000;
    const char *path = tmp_path("test_stream_budget.tif");
    tg_writer *w = NULL;
    CHECK_OK(&ctx, tg_writer_open(&ctx, path, NULL, &w));
    tg_stream_result r;
    CHECK_OK(&ctx, tg_filter_stream(&ctx, st, &o, w, NULL, &r));
    CHECK_OK(&ctx, tg_writer_close(&ctx, w));
    CHECK(r.halo == 4 && r.slab >= 1 && r.slabs == (60 + r.slab - 1) / r.slab && r.slabs >= 10);
    CHECK(r.peak > 0 && r.peak <= r.planned && r.planned <= r.memory);
    if (!(r.peak <= r.planned)) fprintf(stderr, "peak %lld planned %lld budget %lld\n", (long long)r.peak,
                                        (long long)r.planned, (long long)r.memory);
    o.stream.memory = 100000; /* not one slab */
    CHECK_OK(&ctx, tg_writer_open(&ctx, path, NULL, &w));
    CHECK(tg_filter_stream(&ctx, st, &o, w, NULL, &r) == TG_ERR_ARG && strstr(ctx.msg, "gaussian: a memory budget of"));
    tg_writer_abort(w);
    tg_stack_close(st);
}

/* The global range found over slabs in passes equals the in-memory order statistics, for every dtype, with negative
 * values, both zeros, NaN, ties, and saturations that reach the ends. */
static void test_normalize_range(void)
{
    tg_ctx ctx;
    tg_ctx_init(&ctx);
    static const tg_dtype types[] = {TG_U8, TG_U16, TG_I32, TG_F32, TG_F64};
    static const double sats[] = {0, 0.35, 10, 99.9};
    for (int t = 0; t < 5; t++)
        for (int k = 0; k < 4; k++) {
            int64_t d[3] = {23, 17, 11};
            tg_volume v, out;
            CHECK_OK(&ctx, tg_volume_alloc(&ctx, d, types[t], NULL, &v));
            for (int64_t z = 0; z < 11; z++)
                for (int64_t y = 0; y < 17; y++)
                    for (int64_t x = 0; x < 23; x++) {
                        int64_t i = x + 23 * (y + 17 * z), h = (i * 2654435761u) % 1000;
                        double val = types[t] == TG_U8 ? h % 256 : types[t] == TG_U16 ? h * 61 : (double)(h - 500) * 3.7e-3;
                        if (types[t] >= TG_F32 && h % 97 == 0) val = NAN;
                        if (types[t] >= TG_F32 && h % 89 == 0) val = -0.0;
                        if (types[t] == TG_I32) val = (double)(h - 500) * 1000003;
                        tg_volume_set(&v, x, y, z, val);
                    }
            tg_normalize_opts o = TG_NORMALIZE_OPTS_INIT;
            o.saturated = sats[k];
            o.per_slice = 0;
            double want[2], got[2];
            CHECK_OK(&ctx, tg_normalize(&ctx, &v, &o, &out, want));
            tg_volume_release(&out);
            tg_normalize_range *r = NULL;
            CHECK_OK(&ctx, tg_normalize_range_new(&ctx, types[t], sats[k], &r));
            int more = 1, passes = 0;
            while (more && r) {
                for (int64_t z0 = 0; z0 < 11; z0 += 4) { /* slabs of 4 slices, last one first */
                    int64_t a = 8 - z0, lo[3] = {0, 0, a}, hi[3] = {23, 17, a + 4 < 11 ? a + 4 : 11};
                    tg_volume s;
                    CHECK_OK(&ctx, tg_volume_view(&ctx, &v, lo, hi, &s));
                    CHECK_OK(&ctx, tg_normalize_range_add(&ctx, r, &s));
                    tg_volume_release(&s);
                }
                more = tg_normalize_range_next(r);
                passes++;
            }
            if (r) tg_normalize_range_result(r, &got[0], &got[1]);
            tg_normalize_range_free(r);
            CHECK(memcmp(want, got, sizeof want) == 0);
            if (memcmp(want, got, sizeof want))
                fprintf(stderr, "%s sat %g: want %.17g %.17g got %.17g %.17g\n", tg_dtype_name(types[t]), sats[k], want[0],
                        want[1], got[0], got[1]);
            CHECK(passes == (types[t] == TG_U8 || types[t] == TG_U16 ? 1 : types[t] == TG_F64 ? 4 : 2));
            tg_volume_release(&v);
        }
}

TG_TEST_MAIN(test_slabs_and_halo, test_plan, test_errors_and_cancel, test_filters_bit_identical, test_budget_is_kept,
             test_normalize_range)
