/* test_walk.c — lattice random walks against free space, straight channels and exact determinism. */
#include "tg_test.h"

#include <string.h>

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

static void setup(void) { tg_ctx_init(&ctx); }

TG_TEST_MAIN(setup, test_free_space, test_anisotropic_free_space, test_2d, test_channels, test_thread_independence,
             test_start_mask, test_bad_input)
