/* test_percolation.c — measure/tg_percolation: clusters placed by hand (spanning, inlet, outlet, isolated) along
 * each axis, connectivity, an absent phase, and bad input. */
#include "tg_test.h"

#include "measure/tg_percolation.h"

#include <string.h>

/* 12 x 10 x 8 of phase 0 with, for axis z: a spanning column (x = 1, y = 1, all z: 8 voxels), an inlet stub
 * (x = 5, y = 5, z = 0..2: 3), an outlet stub (x = 8, y = 2, z = 5..7: 3), an isolated 2x2x2 cube at (9..10,
 * 7..8, 3..4) (8), and an isolated voxel at (3, 8, 4) diagonal to nothing (1). Phase 2 marks one voxel. */
static void build(tg_volume *v)
{
    for (int z = 0; z < 8; z++) tg_volume_set(v, 1, 1, z, 1);
    for (int z = 0; z < 3; z++) tg_volume_set(v, 5, 5, z, 1);
    for (int z = 5; z < 8; z++) tg_volume_set(v, 8, 2, z, 1);
    for (int z = 3; z < 5; z++)
        for (int y = 7; y < 9; y++)
            for (int x = 9; x < 11; x++) tg_volume_set(v, x, y, z, 1);
    tg_volume_set(v, 3, 8, 4, 1);
    tg_volume_set(v, 0, 9, 7, 2);
}

static void test_kinds(void)
{
    tg_ctx ctx;
    tg_ctx_init(&ctx);
    tg_volume v;
    int64_t d[3] = {12, 10, 8};
    CHECK_OK(&ctx, tg_volume_alloc(&ctx, d, TG_U16, NULL, &v));
    build(&v);
    tg_percolation_opts o = TG_PERCOLATION_OPTS_INIT;
    tg_percolation_result r;
    CHECK_OK(&ctx, tg_percolation(&ctx, &v, &o, &r));
    CHECK(r.phase_voxels == 23 && r.total_voxels == 960 && r.n_clusters == 5);
    CHECK(r.voxels[TG_PERC_SPANNING] == 8 && r.clusters[TG_PERC_SPANNING] == 1);
    CHECK(r.voxels[TG_PERC_INLET] == 3 && r.clusters[TG_PERC_INLET] == 1);
    CHECK(r.voxels[TG_PERC_OUTLET] == 3 && r.clusters[TG_PERC_OUTLET] == 1);
    CHECK(r.voxels[TG_PERC_ISOLATED] == 9 && r.clusters[TG_PERC_ISOLATED] == 2);
    /* along x nothing reaches x = 0 and x = 11: all isolated */
    o.axis = 0;
    CHECK_OK(&ctx, tg_percolation(&ctx, &v, &o, &r));
    CHECK(r.voxels[TG_PERC_ISOLATED] == 23 && r.clusters[TG_PERC_SPANNING] == 0);
    /* phase 2: one voxel on the last z slice and the last y row */
    o.phase = 2;
    o.axis = 2;
    CHECK_OK(&ctx, tg_percolation(&ctx, &v, &o, &r));
    CHECK(r.phase_voxels == 1 && r.voxels[TG_PERC_OUTLET] == 1);
    o.axis = 1;
    CHECK_OK(&ctx, tg_percolation(&ctx, &v, &o, &r));
    CHECK(r.voxels[TG_PERC_OUTLET] == 1);
    /* an absent phase: zeros, the volume's size still reported */
    o.phase = 7;
    CHECK_OK(&ctx, tg_percolation(&ctx, &v, &o, &r));
    CHECK(r.phase_voxels == 0 && r.n_clusters == 0 && r.total_voxels == 960);
    tg_volume_release(&v);
}

static void test_connectivity(void)
{
    tg_ctx ctx;
    tg_ctx_init(&ctx);
    tg_volume v;
    int64_t d[3] = {4, 4, 4};
    CHECK_OK(&ctx, tg_volume_alloc(&ctx, d, TG_U8, NULL, &v));
    for (int k = 0; k < 4; k++) tg_volume_set(&v, k, k, k, 1); /* a body diagonal: corners only */
    tg_percolation_opts o = TG_PERCOLATION_OPTS_INIT;
    tg_percolation_result r;
    CHECK_OK(&ctx, tg_percolation(&ctx, &v, &o, &r));
    CHECK(r.n_clusters == 4 && r.voxels[TG_PERC_SPANNING] == 0 && r.voxels[TG_PERC_INLET] == 1 && r.voxels[TG_PERC_OUTLET] == 1);
    o.connectivity = 18;
    CHECK_OK(&ctx, tg_percolation(&ctx, &v, &o, &r));
    CHECK(r.n_clusters == 4);
    o.connectivity = 26;
    CHECK_OK(&ctx, tg_percolation(&ctx, &v, &o, &r));
    CHECK(r.n_clusters == 1 && r.voxels[TG_PERC_SPANNING] == 4 && r.clusters[TG_PERC_SPANNING] == 1);
    tg_volume_release(&v);
}

static void test_bad_input(void)
{
    tg_ctx ctx;
    tg_ctx_init(&ctx);
    tg_volume v;
    int64_t d[3] = {3, 3, 3};
    CHECK_OK(&ctx, tg_volume_alloc(&ctx, d, TG_F32, NULL, &v));
    tg_percolation_opts o = TG_PERCOLATION_OPTS_INIT;
    tg_percolation_result r;
    CHECK(tg_percolation(&ctx, &v, &o, &r) == TG_ERR_ARG && strstr(ctx.msg, "integer volume"));
    tg_volume_release(&v);
    CHECK_OK(&ctx, tg_volume_alloc(&ctx, d, TG_U8, NULL, &v));
    o.axis = 3;
    CHECK(tg_percolation(&ctx, &v, &o, &r) == TG_ERR_ARG);
    o.axis = 2;
    o.connectivity = 8;
    CHECK(tg_percolation(&ctx, &v, &o, &r) == TG_ERR_ARG);
    o.connectivity = 6;
    for (long k = 1; k <= 6; k++) { /* any failed allocation: a clean error, nothing leaked */
        tg_alloc_fail_after(k);
        tg_status st = tg_percolation(&ctx, &v, &o, &r);
        tg_alloc_fail_after(0);
        CHECK(st == TG_OK || st == TG_ERR_NOMEM);
    }
    tg_volume_release(&v);
}

TG_TEST_MAIN(test_kinds, test_connectivity, test_bad_input)
