/* test_postprocess.c — island removal and majority filter on constructed label volumes. */
#include "tg_test.h"

#include "segment/tg_postprocess.h"

#include <string.h>

static uint8_t at(const tg_volume *v, int64_t x, int64_t y, int64_t z) { return *(uint8_t *)tg_volume_ptr(v, x, y, z); }
static void put(tg_volume *v, int64_t x, int64_t y, int64_t z, uint8_t c) { *(uint8_t *)tg_volume_ptr(v, x, y, z) = c; }

/* 20^3: label 1 for x < 10, label 3 for x >= 10; a 2x2x2 cube of 2 inside the 1 half; a 2x2x2 cube of 2 in the
 * 3 half against the interface (4 face neighbours of 1, 20 of 3); a single voxel of 3 inside the 1 half. */
static void make(tg_volume *v)
{
    tg_ctx ctx;
    tg_ctx_init(&ctx);
    int64_t dims[3] = {20, 20, 20};
    tg_volume_alloc(&ctx, dims, TG_U8, NULL, v);
    for (int z = 0; z < 20; z++)
        for (int y = 0; y < 20; y++)
            for (int x = 0; x < 20; x++) put(v, x, y, z, x < 10 ? 1 : 3);
    for (int z = 4; z < 6; z++)
        for (int y = 4; y < 6; y++)
            for (int x = 3; x < 5; x++) put(v, x, y, z, 2);
    for (int z = 12; z < 14; z++)
        for (int y = 12; y < 14; y++)
            for (int x = 10; x < 12; x++) put(v, x, y, z, 2); /* touches 1 on one face column, 3 elsewhere */
    put(v, 2, 15, 15, 3);
}

static void test_islands(void)
{
    tg_ctx ctx;
    tg_ctx_init(&ctx);
    tg_volume v, out;
    make(&v);
    int64_t removed, voxels;
    tg_islands_opts o = {10, 6};
    CHECK_OK(&ctx, tg_remove_islands(&ctx, &v, &o, &out, &removed, &voxels));
    CHECK(removed == 3 && voxels == 17);
    int64_t counts[4] = {0, 0, 0, 0};
    for (int z = 0; z < 20; z++)
        for (int y = 0; y < 20; y++)
            for (int x = 0; x < 20; x++) {
                counts[at(&out, x, y, z)]++;
                CHECK(at(&out, x, y, z) == (x < 10 ? 1 : 3));
            }
    CHECK(counts[2] == 0 && counts[1] == 4000);
    tg_volume_release(&out);
    /* min_size 8 keeps the 8-voxel cubes, removes the single voxel */
    o.min_size = 8;
    CHECK_OK(&ctx, tg_remove_islands(&ctx, &v, &o, &out, &removed, &voxels));
    CHECK(removed == 1 && voxels == 1 && at(&out, 2, 15, 15) == 1 && at(&out, 3, 4, 4) == 2);
    tg_volume_release(&out);
    o.connectivity = 7;
    CHECK(tg_remove_islands(&ctx, &v, &o, &out, NULL, NULL) == TG_ERR_ARG && strstr(ctx.msg, "connectivity"));
    tg_volume f;
    CHECK_OK(&ctx, tg_volume_astype(&ctx, &v, TG_F32, &f));
    CHECK(tg_remove_islands(&ctx, &f, NULL, &out, NULL, NULL) == TG_ERR_ARG && strstr(ctx.msg, "u8"));
    tg_volume_release(&f);
    tg_volume_release(&v);
}

static void test_majority(void)
{
    tg_ctx ctx;
    tg_ctx_init(&ctx);
    tg_volume v, out, out1;
    make(&v);
    tg_majority_opts o = {1, 3};
    CHECK_OK(&ctx, tg_majority(&ctx, &v, &o, &out));
    /* the lone voxel and the plane interface: the voxel vanishes, the plane stays */
    CHECK(at(&out, 2, 15, 15) == 1);
    int bad = 0;
    for (int z = 0; z < 20; z++)
        for (int y = 0; y < 20; y++)
            for (int x = 0; x < 20; x++) {
                int in_cube = (x >= 3 && x < 5 && y >= 4 && y < 6 && z >= 4 && z < 6) ||
                              (x >= 10 && x < 12 && y >= 12 && y < 14 && z >= 12 && z < 14);
                if (!in_cube && at(&out, x, y, z) != (x < 10 ? 1 : 3)) bad++;
            }
    CHECK(bad == 0);
    /* a 2x2x2 cube: each voxel sees 8 of its own among 27, the majority label around it wins */
    CHECK(at(&out, 3, 4, 4) == 1);
    /* 2D: counts only within the slice; thread count does not matter */
    tg_ctx c1;
    tg_ctx_init(&c1);
    c1.nthreads = 1;
    o.dims = 2;
    o.radius = 2;
    CHECK_OK(&ctx, tg_majority(&ctx, &v, &o, &out1));
    tg_volume out2;
    CHECK_OK(&c1, tg_majority(&c1, &v, &o, &out2));
    CHECK(memcmp(out1.buf->data, out2.buf->data, 8000) == 0);
    tg_volume_release(&out2);
    tg_volume_release(&out1);
    tg_volume_release(&out);
    /* ties: a voxel of 1 among a 2D 3x3 with four 1 and four 2 keeps 1 */
    int64_t d[3] = {3, 3, 1};
    tg_volume t;
    CHECK_OK(&ctx, tg_volume_alloc(&ctx, d, TG_U8, NULL, &t));
    const uint8_t pat[9] = {2, 1, 2, 1, 1, 2, 3, 1, 2}; /* centre 1: 1 x4 (itself included), 2 x4, 3 x1 */
    memcpy(t.buf->data, pat, 9);
    o.radius = 1;
    CHECK_OK(&ctx, tg_majority(&ctx, &t, &o, &out));
    CHECK(at(&out, 1, 1, 0) == 1); /* tied with 2: keeps its own */
    CHECK(at(&out, 0, 0, 0) == 1); /* corner sees 2,1,1,1 (clipped window): 1 */
    tg_volume_release(&out);
    const uint8_t tie[9] = {2, 2, 1, 1, 3, 1, 2, 2, 1}; /* centre 3: 1 x4, 2 x4 -> lowest, 1 */
    memcpy(t.buf->data, tie, 9);
    CHECK_OK(&ctx, tg_majority(&ctx, &t, &o, &out));
    CHECK(at(&out, 1, 1, 0) == 1);
    tg_volume_release(&out);
    o.radius = 0;
    CHECK(tg_majority(&ctx, &t, &o, &out) == TG_ERR_ARG && strstr(ctx.msg, "radius"));
    tg_volume_release(&t);
    tg_volume_release(&v);
}

TG_TEST_MAIN(test_islands, test_majority)
