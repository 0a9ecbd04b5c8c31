/* test_evaluate.c — segment/tg_evaluate: the confusion matrix against counts made by hand, label values found in
 * either volume (sorted), views, and the errors. */
#include "tg_test.h"

#include "segment/tg_evaluate.h"

#include <string.h>

static void test_counts(void)
{
    tg_ctx ctx;
    tg_ctx_init(&ctx);
    tg_volume p, t;
    int64_t d[3] = {10, 1, 1};
    CHECK_OK(&ctx, tg_volume_alloc(&ctx, d, TG_U8, NULL, &p));
    CHECK_OK(&ctx, tg_volume_alloc(&ctx, d, TG_U16, NULL, &t));
    /* truth 0 0 0 5 5 5 5 900 900 900, prediction 0 0 5 5 5 5 7 900 900 0 */
    const double tv[10] = {0, 0, 0, 5, 5, 5, 5, 900, 900, 900}, pv[10] = {0, 0, 5, 5, 5, 5, 7, 900 % 256, 900 % 256, 0};
    for (int i = 0; i < 10; i++) {
        tg_volume_set(&t, i, 0, 0, tv[i]);
        tg_volume_set(&p, i, 0, 0, pv[i]);
    }
    tg_confusion_result r;
    CHECK_OK(&ctx, tg_confusion(&ctx, &p, &t, &r));
    /* values present in either: 0, 5, 7 (prediction only), 132 (900 % 256, prediction only), 900 (truth only) */
    static const uint16_t values[5] = {0, 5, 7, 132, 900};
    CHECK(r.n == 5 && memcmp(r.values, values, sizeof values) == 0);
    static const int64_t want[25] = {
        2, 1, 0, 0, 0, /* truth 0: predicted 0 twice, 5 once */
        0, 3, 1, 0, 0, /* truth 5 */
        0, 0, 0, 0, 0, /* truth 7: none */
        0, 0, 0, 0, 0, /* truth 132: none */
        1, 0, 0, 2, 0, /* truth 900: predicted 0 once, 132 twice */
    };
    CHECK(memcmp(r.counts, want, sizeof want) == 0);
    int64_t total = 0;
    for (int i = 0; i < 25; i++) total += r.counts[i];
    CHECK(total == 10);
    tg_confusion_free(&r);
    tg_volume_release(&p);
    tg_volume_release(&t);
}

static void test_errors(void)
{
    tg_ctx ctx;
    tg_ctx_init(&ctx);
    tg_volume a, b, f, many;
    int64_t d[3] = {10, 1, 1}, e[3] = {9, 1, 1}, m[3] = {300, 1, 1};
    CHECK_OK(&ctx, tg_volume_alloc(&ctx, d, TG_U8, NULL, &a));
    CHECK_OK(&ctx, tg_volume_alloc(&ctx, e, TG_U8, NULL, &b));
    CHECK_OK(&ctx, tg_volume_alloc(&ctx, d, TG_F32, NULL, &f));
    CHECK_OK(&ctx, tg_volume_alloc(&ctx, m, TG_U16, NULL, &many));
    for (int i = 0; i < 300; i++) tg_volume_set(&many, i, 0, 0, i);
    tg_confusion_result r;
    CHECK(tg_confusion(&ctx, &a, &b, &r) == TG_ERR_ARG && strstr(ctx.msg, "prediction is 10x1x1 but truth is 9x1x1"));
    CHECK(tg_confusion(&ctx, &f, &a, &r) == TG_ERR_ARG && strstr(ctx.msg, "u8 or u16"));
    CHECK(tg_confusion(&ctx, &many, &many, &r) == TG_ERR_ARG && strstr(ctx.msg, "more than 256 distinct labels"));
    CHECK(r.counts == NULL && r.n == 0);
    tg_alloc_fail_after(2); /* the counts */
    CHECK(tg_confusion(&ctx, &a, &a, &r) == TG_ERR_NOMEM && r.counts == NULL);
    tg_alloc_fail_after(0);
    tg_volume_release(&a);
    tg_volume_release(&b);
    tg_volume_release(&f);
    tg_volume_release(&many);
}

TG_TEST_MAIN(test_counts, test_errors)
