/* test_samples.c — segment/tg_samples: classes of scribble points and of label rows, and the checks and messages
 * that say why a forest cannot be trained. */
#include "tg_test.h"

#include "core/tg_points.h"
#include "segment/tg_samples.h"

#include <string.h>

static void test_classes(void)
{
    tg_ctx ctx;
    tg_ctx_init(&ctx);
    tg_volume s;
    int64_t d[3] = {5, 4, 3};
    CHECK_OK(&ctx, tg_volume_alloc(&ctx, d, TG_U8, NULL, &s));
    tg_volume_set(&s, 0, 0, 0, 3);
    tg_volume_set(&s, 4, 3, 2, 1);
    tg_volume_set(&s, 2, 1, 1, 3);
    tg_points p;
    tg_points_init(&p, 1);
    CHECK_OK(&ctx, tg_points_add(&ctx, &p, &s, 0));
    const int32_t values[3] = {1, 2, 3};
    uint8_t y[3];
    int64_t counts[3] = {0, 0, 0};
    CHECK_OK(&ctx, tg_samples_classes(&ctx, &p, values, 3, y, counts));
    CHECK(y[0] == 2 && y[1] == 2 && y[2] == 0); /* scan order: (0,0,0)=3, (2,1,1)=3, (4,3,2)=1 */
    CHECK(counts[0] == 1 && counts[1] == 0 && counts[2] == 2);
    CHECK(tg_samples_check(&ctx, counts, values, 3) == TG_ERR_ARG);
    CHECK(strstr(ctx.msg, "class 2 has no labelled voxel in the scribbles") != NULL);
    const int32_t two[2] = {1, 3};
    int64_t c2[2] = {0, 0};
    CHECK_OK(&ctx, tg_samples_classes(&ctx, &p, two, 2, y, c2));
    CHECK_OK(&ctx, tg_samples_check(&ctx, c2, two, 2));
    /* a label that is not a class: named with its voxel, 1-based */
    const int32_t only1[2] = {1, 2};
    int64_t c3[2] = {0, 0};
    CHECK(tg_samples_classes(&ctx, &p, only1, 2, y, c3) == TG_ERR_ARG);
    CHECK(strstr(ctx.msg, "scribble label 3 at (1, 1, 1) is not in the class list") != NULL);
    /* bad class lists */
    const int32_t dup[2] = {2, 2}, big[1] = {256};
    CHECK(tg_samples_classes(&ctx, &p, dup, 2, y, c3) == TG_ERR_ARG && strstr(ctx.msg, "listed twice"));
    CHECK(tg_samples_classes(&ctx, &p, big, 1, y, c3) == TG_ERR_ARG && strstr(ctx.msg, "outside 1..255"));
    tg_points_free(&p);
    tg_volume_release(&s);
}

static void test_checks(void)
{
    tg_ctx ctx;
    tg_ctx_init(&ctx);
    const int32_t values[3] = {1, 2, 5};
    int64_t none[3] = {0, 0, 0}, one[3] = {0, 0, 9};
    CHECK(tg_samples_check(&ctx, none, values, 3) == TG_ERR_ARG && strstr(ctx.msg, "no labelled voxel (0 = unlabelled)"));
    CHECK(tg_samples_check(&ctx, one, values, 3) == TG_ERR_ARG && strstr(ctx.msg, "only one class (5)"));
}

static void test_rows(void)
{
    tg_ctx ctx;
    tg_ctx_init(&ctx);
    tg_volume lab;
    int64_t d[3] = {6, 1, 1};
    CHECK_OK(&ctx, tg_volume_alloc(&ctx, d, TG_U8, NULL, &lab));
    const double l[6] = {2, 7, 7, 2, 2, 7};
    for (int i = 0; i < 6; i++) tg_volume_set(&lab, i, 0, 0, l[i]);
    const int32_t values[2] = {2, 7};
    uint8_t y[6];
    CHECK_OK(&ctx, tg_samples_rows(&ctx, &lab, values, 2, y));
    int ok = 1;
    for (int i = 0; i < 6; i++) ok &= y[i] == (l[i] == 7);
    CHECK(ok);
    tg_volume_set(&lab, 3, 0, 0, 0);
    CHECK(tg_samples_rows(&ctx, &lab, values, 2, y) == TG_ERR_ARG && strstr(ctx.msg, "label 0 of row 4 is not in the class list"));
    tg_volume_release(&lab);
}

TG_TEST_MAIN(test_classes, test_checks, test_rows)
