/* test_predict.c — segment/tg_predict: a forest trained on strokes of three bands labels the whole stack exactly,
 * and the labels and probabilities do not depend on the slab size or the thread count; mismatched channels or
 * feature options fail before any work. */
#include "tg_test.h"

#include "core/tg_points.h"
#include "segment/tg_predict.h"
#include "segment/tg_samples.h"

#include <string.h>

enum { NX = 24, NY = 20, NZ = 6 };

/* Channel a: 10, 50, 90 by column band (x < 8, < 16, else); channel b: a ramp along y. truth: the band 1, 2, 3. */
static void bands(tg_ctx *ctx, tg_volume *a, tg_volume *b, tg_volume *truth, tg_volume *strokes)
{
    int64_t d[3] = {NX, NY, NZ};
    tg_volume_alloc(ctx, d, TG_F32, NULL, a);
    tg_volume_alloc(ctx, d, TG_F32, NULL, b);
    tg_volume_alloc(ctx, d, TG_U8, NULL, truth);
    tg_volume_alloc(ctx, d, TG_U8, NULL, strokes);
    for (int z = 0; z < NZ; z++)
        for (int y = 0; y < NY; y++)
            for (int x = 0; x < NX; x++) {
                int c = x < 8 ? 1 : x < 16 ? 2 : 3;
                tg_volume_set(a, x, y, z, 10 + 40 * (c - 1));
                tg_volume_set(b, x, y, z, 3.0 * y);
                tg_volume_set(truth, x, y, z, c);
                if ((z == 1 || z == 4) && (y == 4 || y == 14)) tg_volume_set(strokes, x, y, z, c);
            }
}

static void test_whole_stack(void)
{
    tg_ctx ctx;
    tg_ctx_init(&ctx);
    tg_volume a, b, truth, strokes;
    bands(&ctx, &a, &b, &truth, &strokes);
    const tg_volume *ch[2] = {&a, &b};
    tg_features_opts fo = TG_FEATURES_OPTS_INIT;
    fo.nsigmas = 2;
    fo.sigmas[0] = 0.7;
    fo.sigmas[1] = 1.6;
    int nf = tg_features_count(&fo, 2);
    /* training samples: the strokes' voxels, their classes and features */
    tg_points p;
    tg_points_init(&p, 1);
    CHECK_OK(&ctx, tg_points_add(&ctx, &p, &strokes, 0));
    const int32_t values[3] = {1, 2, 3};
    uint8_t *y = tg_malloc((size_t)p.n);
    int64_t counts[3] = {0, 0, 0};
    CHECK_OK(&ctx, tg_samples_classes(&ctx, &p, values, 3, y, counts));
    float *X = tg_malloc(sizeof(float) * (size_t)p.n * (size_t)nf);
    CHECK_OK(&ctx, tg_features_points(&ctx, ch, 2, &fo, p.xyz, p.n, 0, X));
    tg_forest f;
    tg_forest_init(&f);
    tg_forest_opts o = TG_FOREST_OPTS_INIT;
    o.trees = 10;
    o.channels = 2;
    CHECK_OK(&ctx, tg_forest_train(&ctx, X, y, p.n, nf, 3, values, NULL, &o, &f));
    /* the whole stack, in slabs of 1, 4 and automatic size, at 1 and 2 threads: identical, and exact */
    size_t nv = (size_t)NX * NY * NZ;
    uint8_t *l[3];
    float *prob[3][3], *pl[3];
    for (int r = 0; r < 3; r++) {
        l[r] = tg_malloc(nv);
        pl[r] = tg_malloc(3 * nv * sizeof(float));
        for (int k = 0; k < 3; k++) prob[r][k] = pl[r] + (size_t)k * nv;
    }
    const int64_t slabs[3] = {1, 4, 0};
    for (int r = 0; r < 3; r++) {
        ctx.nthreads = r == 1 ? 1 : 2;
        CHECK_OK(&ctx, tg_predict_stack(&ctx, &f, ch, 2, &fo, slabs[r], l[r], prob[r]));
    }
    CHECK(memcmp(l[0], l[1], nv) == 0 && memcmp(l[0], l[2], nv) == 0);
    CHECK(memcmp(pl[0], pl[1], 3 * nv * sizeof(float)) == 0 && memcmp(pl[0], pl[2], 3 * nv * sizeof(float)) == 0);
    CHECK(memcmp(l[0], truth.buf->data, nv) == 0);
    double worst = 0;
    for (size_t i = 0; i < nv; i++) {
        double s = prob[0][0][i] + prob[0][1][i] + prob[0][2][i];
        if (fabs(s - 1) > worst) worst = fabs(s - 1);
    }
    CHECK(worst < 1e-5);
    /* labels only */
    CHECK_OK(&ctx, tg_predict_stack(&ctx, &f, ch, 2, &fo, 2, l[1], NULL));
    CHECK(memcmp(l[0], l[1], nv) == 0);
    /* mismatches */
    CHECK(tg_predict_stack(&ctx, &f, ch, 1, &fo, 0, l[1], NULL) == TG_ERR_ARG && strstr(ctx.msg, "trained on 2 channels, given 1"));
    tg_features_opts one = fo;
    one.nsigmas = 1;
    CHECK(tg_predict_stack(&ctx, &f, ch, 2, &one, 0, l[1], NULL) == TG_ERR_ARG &&
          strstr(ctx.msg, "trained on 16 features, these options give 8"));
    for (int r = 0; r < 3; r++) {
        tg_free(l[r]);
        tg_free(pl[r]);
    }
    tg_forest_free(&f);
    tg_free(X);
    tg_free(y);
    tg_points_free(&p);
    tg_volume_release(&a);
    tg_volume_release(&b);
    tg_volume_release(&truth);
    tg_volume_release(&strokes);
}

TG_TEST_MAIN(test_whole_stack)
