/* test_walk.c — lattice random walks against free space, straight channels and exact determinism. */
#include "tg_test.h"

#include <pthread.h>
#include <string.h>
#include <time.h>

#include "transport/tg_walk.h"

static tg_ctx ctx;

/* 1 / slope of y/p through the origin */
static double tau_axis(const tg_walk_result *r, int a)
{
    double sxy = 0, sxx = 0;
    for (int64_t i = 0; i < r->nrec; i++) {
        double t = (double)r->steps[i];
        sxy += t * r->msd[a][i] / r->prob[a];
        sxx += t * t;
    }
    return sxx / sxy;
}

static void make_mask(tg_volume *m, int64_t nx, int64_t ny, int64_t nz, const double sp[3])
{
    int64_t d[3] = {nx, ny, nz};
    CHECK_OK(&ctx, tg_volume_alloc(&ctx, d, TG_U8, sp, m));
    CHECK_OK(&ctx, tg_volume_fill(&ctx, m, 1));
}

static void test_free_space(void)
{
    tg_volume m;
    make_mask(&m, 16, 16, 16, NULL);
    tg_walk_opts o = TG_WALK_OPTS_INIT;
    o.walkers = 40000;
    o.steps = 1000;
    o.stride = 10;
    tg_walk_result r;
    CHECK_OK(&ctx, tg_random_walk(&ctx, &m, NULL, &o, &r));
    CHECK(r.nrec == 101 && r.steps[100] == 1000);
    for (int a = 0; a < 3; a++) {
        NEAR(r.prob[a], 1.0 / 3.0, 1e-9);
        NEAR(tau_axis(&r, a), 1.0, 0.02);
    }
    CHECK(r.msd[0][0] == 0.0);
    tg_walk_result_free(&r);
    tg_volume_release(&m);
}

static void test_anisotropic_free_space(void)
{
    tg_volume m;
    double sp[3] = {1e-7, 1e-7, 2e-7};
    make_mask(&m, 12, 12, 12, sp);
    tg_walk_opts o = TG_WALK_OPTS_INIT;
    o.walkers = 40000;
    o.steps = 600;
    o.stride = 6;
    tg_walk_result r;
    CHECK_OK(&ctx, tg_random_walk(&ctx, &m, NULL, &o, &r));
    /* p ~ 1/s^2: 4 : 4 : 1 */
    NEAR(r.prob[0], 4.0 / 9.0, 1e-9);
    NEAR(r.prob[2], 1.0 / 9.0, 1e-9);
    for (int a = 0; a < 3; a++) NEAR(tau_axis(&r, a), 1.0, 0.03);
    tg_walk_result_free(&r);
    tg_volume_release(&m);
}

static void test_2d(void)
{
    tg_volume m;
    make_mask(&m, 20, 20, 1, NULL);
    tg_walk_opts o = TG_WALK_OPTS_INIT;
    o.walkers = 30000;
    o.steps = 500;
    o.stride = 5;
    tg_walk_result r;
    CHECK_OK(&ctx, tg_random_walk(&ctx, &m, NULL, &o, &r));
    CHECK(r.dims_active == 2);
    NEAR(r.prob[0], 0.5, 1e-9);
    CHECK(r.prob[2] == 0.0);
    NEAR(tau_axis(&r, 0), 1.0, 0.02);
    NEAR(tau_axis(&r, 1), 1.0, 0.02);
    CHECK(r.msd[2][r.nrec - 1] == 0.0);
    tg_walk_result_free(&r);
    tg_volume_release(&m);
}

/* straight channels along z in a solid: tau_z = 1 exactly in expectation, no transport across */
static void test_channels(void)
{
    tg_volume m;
    int64_t d[3] = {15, 15, 20};
    CHECK_OK(&ctx, tg_volume_alloc(&ctx, d, TG_U8, NULL, &m));
    for (int z = 0; z < 20; z++)
        for (int y = 0; y < 15; y++)
            for (int x = 0; x < 15; x++) tg_volume_set(&m, x, y, z, (x % 5 == 2 && y % 5 == 2) ? 1 : 0);
    tg_walk_opts o = TG_WALK_OPTS_INIT;
    o.walkers = 20000;
    o.steps = 1500;
    o.stride = 15;
    tg_walk_result r;
    CHECK_OK(&ctx, tg_random_walk(&ctx, &m, NULL, &o, &r));
    NEAR(tau_axis(&r, 2), 1.0, 0.02);
    CHECK(r.msd[0][r.nrec - 1] == 0.0 && r.msd[1][r.nrec - 1] == 0.0);
    CHECK(r.start_voxels == 9 * 20);
    tg_walk_result_free(&r);
    tg_volume_release(&m);
}

static void test_thread_independence(void)
{
    tg_volume m;
    int64_t d[3] = {20, 18, 16};
    CHECK_OK(&ctx, tg_volume_alloc(&ctx, d, TG_U8, NULL, &m));
    for (int z = 0; z < 16; z++)
        for (int y = 0; y < 18; y++)
            for (int x = 0; x < 20; x++) tg_volume_set(&m, x, y, z, ((x * 7 + y * 3 + z * 5) % 11) < 7);
    tg_walk_opts o = TG_WALK_OPTS_INIT;
    o.walkers = 777;
    o.steps = 300;
    o.stride = 7;
    tg_walk_result r1, r2;
    ctx.nthreads = 1;
    CHECK_OK(&ctx, tg_random_walk(&ctx, &m, NULL, &o, &r1));
    ctx.nthreads = 3;
    CHECK_OK(&ctx, tg_random_walk(&ctx, &m, NULL, &o, &r2));
    ctx.nthreads = tg_default_threads();
    CHECK(r1.nrec == r2.nrec && r1.nrec == 300 / 7 + 1);
    for (int a = 0; a < 3; a++) CHECK(memcmp(r1.msd[a], r2.msd[a], (size_t)r1.nrec * sizeof(double)) == 0);
    /* another seed gives another walk */
    o.seed = 2;
    tg_walk_result r3;
    CHECK_OK(&ctx, tg_random_walk(&ctx, &m, NULL, &o, &r3));
    CHECK(memcmp(r1.msd[0], r3.msd[0], (size_t)r1.nrec * sizeof(double)) != 0);
    tg_walk_result_free(&r1);
    tg_walk_result_free(&r2);
    tg_walk_result_free(&r3);
    tg_volume_release(&m);
}

static void test_start_mask(void)
{
    tg_volume m, s;
    make_mask(&m, 10, 10, 10, NULL);
    int64_t d[3] = {10, 10, 10};
    CHECK_OK(&ctx, tg_volume_alloc(&ctx, d, TG_U8, NULL, &s));
    tg_volume_set(&s, 3, 4, 5, 1);
    tg_walk_opts o = TG_WALK_OPTS_INIT;
    o.walkers = 10;
    o.steps = 1;
    tg_walk_result r;
    CHECK_OK(&ctx, tg_random_walk(&ctx, &m, &s, &o, &r));
    CHECK(r.start_voxels == 1);
    /* after one step every walker moved by exactly one voxel along one axis (free space, or mirrored) */
    NEAR(r.msd[0][1] + r.msd[1][1] + r.msd[2][1], 1.0, 1e-12);
    tg_walk_result_free(&r);
    tg_volume_release(&s);
    tg_volume_release(&m);
}

static void test_bad_input(void)
{
    tg_volume m, e;
    make_mask(&m, 4, 4, 4, NULL);
    tg_walk_opts o = TG_WALK_OPTS_INIT;
    tg_walk_result r;
    o.walkers = 0;
    CHECK(tg_random_walk(&ctx, &m, NULL, &o, &r) == TG_ERR_ARG);
    CHECK(strstr(ctx.msg, "walkers") != NULL);
    o.walkers = 5;
    o.steps = 0;
    CHECK(tg_random_walk(&ctx, &m, NULL, &o, &r) == TG_ERR_ARG);
    o.steps = 10;
    o.stride = 11;
    CHECK(tg_random_walk(&ctx, &m, NULL, &o, &r) == TG_ERR_ARG);
    o.stride = 1;
    int64_t d[3] = {4, 4, 4};
    CHECK_OK(&ctx, tg_volume_alloc(&ctx, d, TG_U8, NULL, &e));
    CHECK(tg_random_walk(&ctx, &e, NULL, &o, &r) == TG_ERR_ARG);
    CHECK(strstr(ctx.msg, "no voxel to start from") != NULL);
    for (long n = 1; n <= 6; n++) {
        tg_alloc_fail_after(n);
        tg_status st = tg_random_walk(&ctx, &m, NULL, &o, &r);
        tg_alloc_fail_after(0);
        if (st == TG_OK) tg_walk_result_free(&r);
        else CHECK(st == TG_ERR_NOMEM && r.steps == NULL);
    }
    tg_volume_release(&e);
    tg_volume_release(&m);
}

/* Long walks are cut into chunks (to look at the cancel flag): the chunk boundary changes nothing, so a run of
 * 2^21 + 7 steps starts exactly as a run of 2^20 + 14 steps with the same seed and stride. */
static void test_chunk_boundary(void)
{
    tg_volume m;
    int64_t d[3] = {9, 8, 7};
    CHECK_OK(&ctx, tg_volume_alloc(&ctx, d, TG_U8, NULL, &m));
    for (int z = 0; z < 7; z++)
        for (int y = 0; y < 8; y++)
            for (int x = 0; x < 9; x++) tg_volume_set(&m, x, y, z, ((x * 5 + y * 3 + z) % 7) < 5);
    tg_walk_opts o = TG_WALK_OPTS_INIT;
    o.walkers = 3;
    o.stride = 7;
    o.steps = ((int64_t)1 << 21) + 7;
    tg_walk_result a, b;
    CHECK_OK(&ctx, tg_random_walk(&ctx, &m, NULL, &o, &a));
    o.steps = ((int64_t)1 << 20) + 14;
    ctx.nthreads = 2;
    CHECK_OK(&ctx, tg_random_walk(&ctx, &m, NULL, &o, &b));
    ctx.nthreads = tg_default_threads();
    CHECK(b.nrec < a.nrec && b.nrec == o.steps / 7 + 1);
    for (int k = 0; k < 3; k++) CHECK(memcmp(a.msd[k], b.msd[k], (size_t)b.nrec * sizeof(double)) == 0);
    CHECK(a.msd[0][b.nrec] != 0.0); /* the long run went on past the boundary */
    tg_walk_result_free(&a);
    tg_walk_result_free(&b);
    tg_volume_release(&m);
}

static void *cancel_later(void *arg)
{
    struct timespec ts = {0, 200 * 1000 * 1000};
    nanosleep(&ts, NULL);
    atomic_store(&((tg_ctx *)arg)->cancel, 1);
    return NULL;
}

static int stop_now(void *ud, double fraction, const char *what) { return ++*(int *)ud >= 2; }

/* Issue 14: a single walker of 1e12 steps (hours of work) stops promptly when the cancel flag is set from
 * another thread (Ctrl-C) or the progress callback asks; the run fails cleanly with no result. */
static void test_cancel_long_walk(void)
{
    tg_volume m;
    make_mask(&m, 6, 6, 6, NULL);
    tg_walk_opts o = TG_WALK_OPTS_INIT;
    o.walkers = 3;
    o.steps = 1000000000000LL;
    o.stride = 1000000000LL;
    tg_walk_result r;
    for (int nt = 1; nt <= 3; nt += 2) {
        ctx.nthreads = nt;
        pthread_t th;
        CHECK(pthread_create(&th, NULL, cancel_later, &ctx) == 0);
        tg_status st = tg_random_walk(&ctx, &m, NULL, &o, &r);
        pthread_join(th, NULL);
        CHECK(st == TG_ERR_CANCELLED && r.steps == NULL && strstr(ctx.msg, "interrupted"));
        atomic_store(&ctx.cancel, 0);
    }
    ctx.nthreads = 1;
    int calls = 0;
    ctx.progress = stop_now;
    ctx.progress_ud = &calls;
    CHECK(tg_random_walk(&ctx, &m, NULL, &o, &r) == TG_ERR_CANCELLED && calls == 2);
    ctx.progress = NULL;
    atomic_store(&ctx.cancel, 0);
    ctx.nthreads = tg_default_threads();
    tg_volume_release(&m);
}

/* Sizes whose time or memory is absurd are refused at once, naming the option to change. */
static void test_absurd_sizes(void)
{
    tg_volume m;
    make_mask(&m, 4, 4, 4, NULL);
    tg_walk_opts o = TG_WALK_OPTS_INIT;
    tg_walk_result r;
    o.walkers = 2000;
    o.steps = 1000000000000LL;
    o.stride = 1000000000LL;
    CHECK(tg_random_walk(&ctx, &m, NULL, &o, &r) == TG_ERR_ARG && r.steps == NULL);
    CHECK(strstr(ctx.msg, "walkers x steps = 2000 x 1000000000000") && strstr(ctx.msg, "lower steps or walkers"));
    o.walkers = 1;
    o.steps = 1000000000LL;
    o.stride = 1;
    CHECK(tg_random_walk(&ctx, &m, NULL, &o, &r) == TG_ERR_ARG);
    CHECK(strstr(ctx.msg, "raise stride to at least 101"));
    o.stride = 101; /* just within: 9900991 records; only checked, not run */
    CHECK(o.steps / o.stride + 1 <= TG_WALK_MAX_RECORDS);
    tg_volume_release(&m);
}

static void setup(void) { tg_ctx_init(&ctx); }

TG_TEST_MAIN(setup, test_free_space, test_anisotropic_free_space, test_2d, test_channels, test_thread_independence,
             test_start_mask, test_bad_input, test_chunk_boundary, test_cancel_long_walk, test_absurd_sizes)
