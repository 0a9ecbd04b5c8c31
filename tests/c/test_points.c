/* test_points.c — core/tg_points: the non-zero voxels of a volume in scan order, with z offsets, values, views,
 * and failures that leave the list as it was. */
#include "tg_test.h"

#include "core/tg_points.h"

#include <string.h>

static void test_scan_order_and_values(void)
{
    tg_ctx ctx;
    tg_ctx_init(&ctx);
    tg_volume v;
    int64_t d[3] = {4, 3, 2};
    CHECK_OK(&ctx, tg_volume_alloc(&ctx, d, TG_U16, NULL, &v));
    /* set in an order that is not the scan order: the list must come out x fastest, then y, then z */
    tg_volume_set(&v, 1, 2, 1, 300);
    tg_volume_set(&v, 3, 0, 0, 7);
    tg_volume_set(&v, 0, 1, 0, 2);
    tg_points p;
    tg_points_init(&p, 1);
    CHECK_OK(&ctx, tg_points_add(&ctx, &p, &v, 0));
    CHECK(p.n == 3);
    static const int64_t xyz[9] = {3, 0, 0, 0, 1, 0, 1, 2, 1};
    static const int32_t val[3] = {7, 2, 300};
    CHECK(memcmp(p.xyz, xyz, sizeof xyz) == 0);
    CHECK(memcmp(p.value, val, sizeof val) == 0);
    /* a second volume appends, its slices placed at z0 */
    CHECK_OK(&ctx, tg_points_add(&ctx, &p, &v, 10));
    CHECK(p.n == 6 && p.xyz[3 * 3 + 2] == 10 && p.xyz[3 * 5 + 2] == 11 && p.value[5] == 300);
    tg_points_free(&p);
    CHECK(p.n == 0 && p.xyz == NULL && p.value == NULL);
    tg_volume_release(&v);
}

static void test_views_and_floats(void)
{
    tg_ctx ctx;
    tg_ctx_init(&ctx);
    tg_volume v, w;
    int64_t d[3] = {5, 5, 3};
    CHECK_OK(&ctx, tg_volume_alloc(&ctx, d, TG_F32, NULL, &v));
    for (int64_t z = 0; z < 3; z++)
        for (int64_t y = 0; y < 5; y++)
            for (int64_t x = 0; x < 5; x++) tg_volume_set(&v, x, y, z, (x + y + z) % 4 == 0 ? 0.5 : 0.0);
    tg_volume_set(&v, 2, 2, 2, NAN); /* NaN is not zero */
    tg_points p;
    tg_points_init(&p, 0);
    CHECK_OK(&ctx, tg_points_add(&ctx, &p, &v, 0));
    int64_t brute = 0;
    for (int64_t z = 0; z < 3; z++)
        for (int64_t y = 0; y < 5; y++)
            for (int64_t x = 0; x < 5; x++) brute += (x + y + z) % 4 == 0 || (x == 2 && y == 2 && z == 2);
    CHECK(p.n == brute && p.value == NULL);
    /* a view: coordinates are the view's */
    int64_t lo[3] = {1, 1, 1}, hi[3] = {4, 5, 3};
    CHECK_OK(&ctx, tg_volume_view(&ctx, &v, lo, hi, &w));
    tg_points q;
    tg_points_init(&q, 0);
    CHECK_OK(&ctx, tg_points_add(&ctx, &q, &w, 0));
    int ok = 1;
    for (int64_t i = 0; i < q.n; i++) {
        int64_t x = q.xyz[3 * i] + 1, y = q.xyz[3 * i + 1] + 1, z = q.xyz[3 * i + 2] + 1;
        ok &= (x + y + z) % 4 == 0 || (x == 2 && y == 2 && z == 2);
    }
    CHECK(ok && q.n > 0);
    /* values are for integer volumes */
    tg_points r;
    tg_points_init(&r, 1);
    CHECK(tg_points_add(&ctx, &r, &v, 0) == TG_ERR_ARG);
    CHECK(r.n == 0);
    tg_points_free(&p);
    tg_points_free(&q);
    tg_volume_release(&w);
    tg_volume_release(&v);
}

static void test_out_of_memory_keeps_the_list(void)
{
    tg_ctx ctx;
    tg_ctx_init(&ctx);
    tg_volume v;
    int64_t d[3] = {3, 3, 3};
    CHECK_OK(&ctx, tg_volume_alloc(&ctx, d, TG_U8, NULL, &v));
    tg_volume_set(&v, 1, 1, 1, 4);
    tg_points p;
    tg_points_init(&p, 1);
    CHECK_OK(&ctx, tg_points_add(&ctx, &p, &v, 0));
    for (long k = 1; k <= 2; k++) { /* the coordinates, then the values */
        tg_alloc_fail_after(k);
        CHECK(tg_points_add(&ctx, &p, &v, 3) == TG_ERR_NOMEM);
        tg_alloc_fail_after(0);
        CHECK(p.n == 1 && p.xyz[0] == 1 && p.value[0] == 4);
    }
    tg_volume r;
    tg_volume_init(&r);
    CHECK(tg_points_add(&ctx, &p, &r, 0) == TG_ERR_ARG); /* an empty (released) volume */
    tg_points_free(&p);
    tg_volume_release(&v);
}

TG_TEST_MAIN(test_scan_order_and_values, test_views_and_floats, test_out_of_memory_keeps_the_list)
