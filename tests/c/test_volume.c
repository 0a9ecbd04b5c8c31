/* test_volume.c — the volume engine against values computed by hand. */
#include "tg_test.h"

#include <float.h>
#include <string.h>

static tg_ctx ctx;

static void make(tg_volume *v, int64_t nx, int64_t ny, int64_t nz, tg_dtype t)
{
    int64_t d[3] = {nx, ny, nz};
    double sp[3] = {1e-7, 1e-7, 2e-7};
    CHECK_OK(&ctx, tg_volume_alloc(&ctx, d, t, sp, v));
}

static void test_alloc_layout(void)
{
    tg_volume v;
    make(&v, 5, 4, 3, TG_U16);
    CHECK(tg_volume_is_contiguous(&v));
    CHECK(tg_volume_count(&v) == 60);
    CHECK(v.buf->bytes == 120);
    CHECK(tg_volume_get(&v, 4, 3, 2) == 0.0);
    tg_volume_set(&v, 4, 3, 2, 7.0);
    CHECK(((uint16_t *)v.buf->data)[4 + 3 * 5 + 2 * 20] == 7);
    NEAR(v.spacing[2], 2e-7, 0);
    tg_volume_release(&v);
    CHECK(v.buf == NULL);
    tg_volume_release(&v); /* idempotent */
    int64_t bad[3] = {0, 4, 4};
    CHECK(tg_volume_alloc(&ctx, bad, TG_U8, NULL, &v) == TG_ERR_ARG);
    CHECK(strstr(ctx.msg, "dimension x") != NULL);
}

static void test_saturation(void)
{
    tg_volume v;
    make(&v, 2, 1, 1, TG_U8);
    tg_volume_set(&v, 0, 0, 0, 300.0);
    tg_volume_set(&v, 1, 0, 0, -5.0);
    CHECK(tg_volume_get(&v, 0, 0, 0) == 255.0);
    CHECK(tg_volume_get(&v, 1, 0, 0) == 0.0);
    tg_volume_set(&v, 0, 0, 0, 2.5);
    CHECK(tg_volume_get(&v, 0, 0, 0) == 3.0); /* half away from zero */
    tg_volume_set(&v, 0, 0, 0, NAN);
    CHECK(tg_volume_get(&v, 0, 0, 0) == 0.0);
    tg_volume_release(&v);
}

static void test_views(void)
{
    tg_volume v, w, w2;
    make(&v, 6, 5, 4, TG_I32);
    for (int z = 0; z < 4; z++)
        for (int y = 0; y < 5; y++)
            for (int x = 0; x < 6; x++) tg_volume_set(&v, x, y, z, x + 10 * y + 100 * z);
    int64_t lo[3] = {1, 2, 1}, hi[3] = {4, 5, 3};
    CHECK_OK(&ctx, tg_volume_view(&ctx, &v, lo, hi, &w));
    CHECK(w.dims[0] == 3 && w.dims[1] == 3 && w.dims[2] == 2);
    CHECK(tg_volume_get(&w, 0, 0, 0) == 1 + 20 + 100);
    CHECK(tg_volume_get(&w, 2, 2, 1) == 3 + 40 + 200);
    CHECK(!tg_volume_is_contiguous(&w));
    CHECK(atomic_load(&v.buf->refs) == 2);
    /* a view of a view, writes go through to the parent */
    int64_t lo2[3] = {1, 1, 1}, hi2[3] = {2, 2, 2};
    CHECK_OK(&ctx, tg_volume_view(&ctx, &w, lo2, hi2, &w2));
    tg_volume_set(&w2, 0, 0, 0, -1);
    CHECK(tg_volume_get(&v, 2, 3, 2) == -1);
    /* copy makes it contiguous */
    tg_volume c;
    CHECK_OK(&ctx, tg_volume_copy(&ctx, &w, &c));
    CHECK(tg_volume_is_contiguous(&c));
    CHECK(tg_volume_get(&c, 1, 1, 1) == -1);
    CHECK(tg_volume_get(&c, 2, 2, 0) == 3 + 40 + 100);
    int64_t out[3] = {0, 0, 5};
    CHECK(tg_volume_view(&ctx, &v, lo, out, &w2) == TG_ERR_RANGE);
    tg_volume_release(&v); /* the views keep the buffer alive */
    CHECK(tg_volume_get(&w, 0, 0, 0) == 121);
    tg_volume_release(&w);
    tg_volume_release(&w2);
    tg_volume_release(&c);
}

static void test_astype_stats(void)
{
    tg_volume v, f;
    make(&v, 4, 1, 1, TG_F64);
    double vals[4] = {1.5, -2.0, 300.7, 4.0};
    for (int i = 0; i < 4; i++) tg_volume_set(&v, i, 0, 0, vals[i]);
    CHECK_OK(&ctx, tg_volume_astype(&ctx, &v, TG_U8, &f));
    CHECK(tg_volume_get(&f, 0, 0, 0) == 2 && tg_volume_get(&f, 1, 0, 0) == 0 && tg_volume_get(&f, 2, 0, 0) == 255);
    tg_stats s;
    CHECK_OK(&ctx, tg_volume_stats(&ctx, &v, &s));
    NEAR(s.min, -2.0, 0);
    NEAR(s.max, 300.7, 0);
    NEAR(s.mean, (1.5 - 2.0 + 300.7 + 4.0) / 4, 1e-12);
    double m = s.mean, var = 0;
    for (int i = 0; i < 4; i++) var += (vals[i] - m) * (vals[i] - m);
    NEAR(s.std, sqrt(var / 4), 1e-12);
    CHECK(s.count == 4);
    tg_volume_set(&v, 0, 0, 0, NAN);
    CHECK_OK(&ctx, tg_volume_stats(&ctx, &v, &s));
    CHECK(s.count == 3 && s.nan_count == 1);
    tg_volume_release(&v);
    tg_volume_release(&f);
}

static void test_histogram_counts(void)
{
    tg_volume v;
    make(&v, 10, 10, 10, TG_U8);
    for (int z = 0; z < 10; z++)
        for (int y = 0; y < 10; y++)
            for (int x = 0; x < 10; x++) tg_volume_set(&v, x, y, z, (x + y + z) % 3);
    int64_t c[256];
    CHECK_OK(&ctx, tg_volume_counts(&ctx, &v, 0, 0, c));
    int64_t expect[3] = {0, 0, 0};
    for (int z = 0; z < 10; z++)
        for (int y = 0; y < 10; y++)
            for (int x = 0; x < 10; x++) expect[(x + y + z) % 3]++;
    CHECK(c[0] == expect[0] && c[1] == expect[1] && c[2] == expect[2] && c[3] == 0);
    int64_t h[3];
    CHECK_OK(&ctx, tg_volume_histogram(&ctx, &v, 3, 0.0, 3.0, h, NULL));
    CHECK(h[0] == expect[0] && h[1] == expect[1] && h[2] == expect[2]);
    /* the top edge belongs to the last bin */
    int64_t h2[2];
    CHECK_OK(&ctx, tg_volume_histogram(&ctx, &v, 2, 0.0, 2.0, h2, NULL));
    CHECK(h2[0] == expect[0] && h2[1] == expect[1] + expect[2]);
    CHECK(tg_volume_histogram(&ctx, &v, 0, 0.0, 2.0, h2, NULL) == TG_ERR_ARG);
    /* thread-count independence */
    ctx.nthreads = 1;
    int64_t c1[256];
    CHECK_OK(&ctx, tg_volume_counts(&ctx, &v, 0, 0, c1));
    CHECK(memcmp(c, c1, sizeof c) == 0);
    ctx.nthreads = tg_default_threads();
    tg_volume f;
    CHECK_OK(&ctx, tg_volume_astype(&ctx, &v, TG_F32, &f));
    CHECK(tg_volume_counts(&ctx, &f, 0, 0, c) == TG_ERR_ARG);
    tg_volume_release(&f);
    tg_volume_release(&v);
}

static void test_map_masks(void)
{
    tg_volume v, m, e, t;
    make(&v, 3, 1, 1, TG_U8);
    tg_volume_set(&v, 0, 0, 0, 1);
    tg_volume_set(&v, 1, 0, 0, 2);
    tg_volume_set(&v, 2, 0, 0, 5);
    double from[2] = {1, 2}, to[2] = {2, 1};
    CHECK_OK(&ctx, tg_volume_map(&ctx, &v, from, to, 2, TG_U8, &m));
    CHECK(tg_volume_get(&m, 0, 0, 0) == 2 && tg_volume_get(&m, 1, 0, 0) == 1 && tg_volume_get(&m, 2, 0, 0) == 5);
    CHECK_OK(&ctx, tg_volume_eq(&ctx, &v, 2, &e));
    CHECK(tg_volume_get(&e, 0, 0, 0) == 0 && tg_volume_get(&e, 1, 0, 0) == 1 && tg_volume_get(&e, 2, 0, 0) == 0);
    CHECK_OK(&ctx, tg_volume_threshold(&ctx, &v, 2, &t));
    CHECK(tg_volume_get(&t, 0, 0, 0) == 0 && tg_volume_get(&t, 1, 0, 0) == 1 && tg_volume_get(&t, 2, 0, 0) == 1);
    tg_volume_release(&v);
    tg_volume_release(&m);
    tg_volume_release(&e);
    tg_volume_release(&t);
}

/* Non-finite values are counted apart and never binned (issue 14: ±Inf made scale 0 and a NaN bin index);
 * ranges whose width overflows (±1e308) or is subnormal still bin correctly. */
static void test_nonfinite(void)
{
    tg_volume v;
    make(&v, 8, 2, 3, TG_F32);
    for (int z = 0; z < 3; z++)
        for (int y = 0; y < 2; y++)
            for (int x = 0; x < 8; x++) tg_volume_set(&v, x, y, z, x); /* 0..7, six times each */
    tg_volume_set(&v, 0, 0, 0, INFINITY);
    tg_volume_set(&v, 0, 1, 0, INFINITY);
    tg_volume_set(&v, 0, 0, 1, -INFINITY);
    tg_volume_set(&v, 0, 1, 1, NAN);
    tg_stats s;
    CHECK_OK(&ctx, tg_volume_stats(&ctx, &v, &s));
    CHECK(s.count == 44 && s.nan_count == 1 && s.posinf_count == 2 && s.neginf_count == 1);
    NEAR(s.min, 0, 0);
    NEAR(s.max, 7, 0);
    NEAR(s.mean, (6.0 * 28 - 0) / 44, 1e-12); /* the four changed voxels held 0 */
    int64_t h[8];
    tg_hist_outside out;
    CHECK_OK(&ctx, tg_volume_histogram(&ctx, &v, 8, 0.0, 8.0, h, &out));
    CHECK(h[0] == 2 && h[1] == 6 && h[7] == 6);
    CHECK(out.posinf == 2 && out.neginf == 1 && out.nan == 1 && out.below == 0 && out.above == 0);
    CHECK_OK(&ctx, tg_volume_histogram(&ctx, &v, 4, 2.0, 5.0, h, &out));
    CHECK(h[0] == 6 && h[1] == 6 && h[2] == 6 && h[3] == 6 && out.below == 8 && out.above == 12);
    CHECK(tg_volume_histogram(&ctx, &v, 4, 0.0, INFINITY, h, NULL) == TG_ERR_ARG && strstr(ctx.msg, "finite"));
    CHECK(tg_volume_histogram(&ctx, &v, 4, NAN, 1.0, h, NULL) == TG_ERR_ARG);
    tg_volume_release(&v);

    /* a range wider than DBL_MAX: -1e308, 0, 1e308 fall in the first, middle and last bins */
    make(&v, 4, 1, 1, TG_F64);
    tg_volume_set(&v, 0, 0, 0, -1e308);
    tg_volume_set(&v, 1, 0, 0, 0.0);
    tg_volume_set(&v, 2, 0, 0, 1e308);
    tg_volume_set(&v, 3, 0, 0, 1e308);
    CHECK_OK(&ctx, tg_volume_stats(&ctx, &v, &s));
    NEAR(s.mean, 0.25e308, 1e293);       /* the plain sum overflows */
    NEAR(s.std, 1e308 * sqrt((1.5625 + 0.0625 + 2 * 0.5625) / 4), 1e294);
    CHECK(isfinite(s.mean) && isfinite(s.std));
    int64_t h3[3];
    CHECK_OK(&ctx, tg_volume_histogram(&ctx, &v, 3, -1e308, 1e308, h3, &out));
    CHECK(h3[0] == 1 && h3[1] == 1 && h3[2] == 2);
    CHECK_OK(&ctx, tg_volume_histogram(&ctx, &v, 3, -DBL_MAX, DBL_MAX, h3, &out));
    CHECK(h3[0] == 1 && h3[1] == 1 && h3[2] == 2);
    /* a subnormal range: bins / (hi - lo) overflows */
    const double u = 0x1p-1070; /* subnormal */
    tg_volume_set(&v, 0, 0, 0, 0.0);
    tg_volume_set(&v, 1, 0, 0, u);
    tg_volume_set(&v, 2, 0, 0, 3 * u);
    tg_volume_set(&v, 3, 0, 0, 4 * u);
    CHECK_OK(&ctx, tg_volume_histogram(&ctx, &v, 4, 0.0, 4 * u, h, &out));
    CHECK(h[0] == 1 && h[1] == 1 && h[2] == 0 && h[3] == 2);
    /* ordinary data: the scaled sums give the same bits as the plain formula */
    double vals[4] = {0.1, 0.7, 1.3, 2.9}, m = 0, var = 0;
    for (int i = 0; i < 4; i++) { tg_volume_set(&v, i, 0, 0, vals[i]); m += vals[i]; }
    m /= 4;
    for (int i = 0; i < 4; i++) var += (vals[i] - m) * (vals[i] - m);
    CHECK_OK(&ctx, tg_volume_stats(&ctx, &v, &s));
    CHECK(s.mean == m && s.std == sqrt(var / 4));
    tg_volume_release(&v);
}

/* every allocation of an operation fails in turn: a clean error, no leak, no half result */
static void test_failing_allocations(void)
{
    tg_volume v;
    make(&v, 8, 8, 8, TG_U16);
    for (long n = 1; n <= 4; n++) {
        tg_volume out;
        tg_alloc_fail_after(n);
        tg_status st = tg_volume_map(&ctx, &v, (double[]){1}, (double[]){2}, 1, TG_U8, &out);
        tg_alloc_fail_after(0);
        if (st == TG_OK) { tg_volume_release(&out); continue; }
        CHECK(st == TG_ERR_NOMEM);
        CHECK(out.buf == NULL);
        CHECK(strstr(ctx.msg, "out of memory") != NULL);
    }
    tg_stats s;
    tg_alloc_fail_after(1);
    CHECK(tg_volume_stats(&ctx, &v, &s) == TG_ERR_NOMEM);
    tg_alloc_fail_after(0);
    tg_volume_release(&v);
}

static int cancel_at_first(void *ud, double f, const char *what)
{
    (void)ud; (void)f; (void)what;
    return 1;
}

static void test_cancel(void)
{
    tg_volume v, out;
    make(&v, 64, 64, 64, TG_U8);
    atomic_store(&ctx.cancel, 1);
    CHECK(tg_volume_astype(&ctx, &v, TG_F32, &out) == TG_ERR_CANCELLED);
    CHECK(out.buf == NULL);
    atomic_store(&ctx.cancel, 0);
    ctx.progress = cancel_at_first;
    ctx.last_report = 0;
    CHECK(tg_volume_astype(&ctx, &v, TG_F32, &out) == TG_ERR_CANCELLED);
    ctx.progress = NULL;
    atomic_store(&ctx.cancel, 0);
    tg_volume_release(&v);
}

static void setup(void) { tg_ctx_init(&ctx); }

TG_TEST_MAIN(setup, test_alloc_layout, test_saturation, test_views, test_astype_stats, test_histogram_counts, test_nonfinite, test_map_masks,
             test_failing_allocations, test_cancel)
