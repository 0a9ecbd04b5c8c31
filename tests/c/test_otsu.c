/* test_otsu.c — multi-level Otsu on histograms with known answers, against a brute-force between-class
 * variance, and on volumes. */
#include "tg_test.h"

#include "core/tg_rng.h"
#include "segment/tg_otsu.h"

#include <string.h>

/* Between-class variance sum_k w_k (mu_k - mu)^2 of the partition by thresholds t (last bin of each class). */
static double between(const int64_t *h, int nb, const int *t, int classes)
{
    double W = 0, M = 0;
    for (int i = 0; i < nb; i++) { W += (double)h[i]; M += (double)h[i] * i; }
    double mu = M / W, s = 0;
    int lo = 0;
    for (int k = 0; k < classes; k++) {
        int hi = k < classes - 1 ? t[k] + 1 : nb;
        double w = 0, m = 0;
        for (int i = lo; i < hi; i++) { w += (double)h[i]; m += (double)h[i] * i; }
        if (w <= 0) return -1;
        s += w / W * (m / w - mu) * (m / w - mu);
        lo = hi;
    }
    return s;
}

static void test_spikes(void)
{
    tg_ctx ctx;
    tg_ctx_init(&ctx);
    int64_t h[64];
    memset(h, 0, sizeof h);
    h[10] = 100;
    h[20] = 100;
    int t[2];
    CHECK_OK(&ctx, tg_otsu_hist(&ctx, h, 64, 2, t, NULL));
    CHECK(t[0] == 10); /* every threshold in [10, 19] separates the spikes; ties take the lowest */
    h[40] = 50;
    CHECK_OK(&ctx, tg_otsu_hist(&ctx, h, 64, 3, t, NULL));
    CHECK(t[0] == 10 && t[1] == 20);
    /* two classes on three spikes: the isolated far spike is split off */
    h[20] = 0;
    h[12] = 100;
    CHECK_OK(&ctx, tg_otsu_hist(&ctx, h, 64, 2, t, NULL));
    CHECK(t[0] == 12);
    /* errors */
    memset(h, 0, sizeof h);
    h[5] = 10;
    CHECK(tg_otsu_hist(&ctx, h, 64, 2, t, NULL) == TG_ERR_ARG && strstr(ctx.msg, "distinct grey levels"));
    h[9] = 10;
    CHECK(tg_otsu_hist(&ctx, h, 64, 3, t, NULL) == TG_ERR_ARG);
    CHECK(tg_otsu_hist(&ctx, h, 64, 4, t, NULL) == TG_ERR_ARG && strstr(ctx.msg, "2 or 3"));
}

/* Bimodal and trimodal mixtures of Gaussians: the thresholds maximise the brute-force between-class variance,
 * and fall between the modes. */
static void test_mixtures(void)
{
    tg_ctx ctx;
    tg_ctx_init(&ctx);
    enum { NB = 256 };
    int64_t h[NB];
    const double mu[3] = {50, 120, 200}, sd[3] = {12, 10, 15}, w[3] = {3000, 2000, 4000};
    for (int classes = 2; classes <= 3; classes++) {
        for (int i = 0; i < NB; i++) {
            double s = 0;
            for (int k = 0; k < 3; k++) {
                if (classes == 2 && k == 1) continue;
                s += w[k] * exp(-0.5 * (i - mu[k]) * (i - mu[k]) / (sd[k] * sd[k]));
            }
            h[i] = (int64_t)(s + 0.5);
        }
        int t[2];
        double score;
        CHECK_OK(&ctx, tg_otsu_hist(&ctx, h, NB, classes, t, &score));
        double best = -1;
        int bt[2] = {0, 0};
        if (classes == 2) {
            for (int a = 0; a < NB - 1; a++) {
                int tt[1] = {a};
                double s = between(h, NB, tt, 2);
                if (s > best + 1e-12) { best = s; bt[0] = a; }
            }
            CHECK(t[0] == bt[0]);
            CHECK(t[0] > 80 && t[0] < 170);
        } else {
            for (int a = 0; a < NB - 2; a++)
                for (int b = a + 1; b < NB - 1; b++) {
                    int tt[2] = {a, b};
                    double s = between(h, NB, tt, 3);
                    if (s > best + 1e-12) { best = s; bt[0] = a; bt[1] = b; }
                }
            CHECK(t[0] == bt[0] && t[1] == bt[1]);
            CHECK(t[0] > 60 && t[0] < 110 && t[1] > 130 && t[1] < 185);
        }
    }
}

static void test_volume(void)
{
    tg_ctx ctx;
    tg_ctx_init(&ctx);
    int64_t dims[3] = {30, 20, 10};
    tg_volume v, lab, f;
    CHECK_OK(&ctx, tg_volume_alloc(&ctx, dims, TG_U8, NULL, &v));
    tg_rng r = tg_rng_make(1, 1);
    uint8_t *p = v.buf->data;
    int truth[6000];
    for (int i = 0; i < 6000; i++) {
        int k = i % 7 < 2 ? 0 : i % 7 < 5 ? 1 : 2;
        truth[i] = k;
        p[i] = (uint8_t)(40 + 80 * k + (int)(10 * tg_rng_uniform(&r)) - 5);
    }
    double thr[2];
    CHECK_OK(&ctx, tg_otsu(&ctx, &v, &(tg_otsu_opts){3, 256}, thr, &lab, NULL));
    const uint8_t *l = lab.buf->data;
    int wrong = 0;
    for (int i = 0; i < 6000; i++) wrong += l[i] != truth[i];
    CHECK(wrong == 0);
    CHECK(thr[0] >= 44 && thr[0] < 115 && thr[1] >= 124 && thr[1] < 195); /* bin centres: v > thr is the upper class */
    tg_volume_release(&lab);
    /* f32 copy, two classes: the 0 class against the rest */
    CHECK_OK(&ctx, tg_volume_astype(&ctx, &v, TG_F32, &f));
    CHECK_OK(&ctx, tg_otsu(&ctx, &f, NULL, thr, &lab, NULL));
    l = lab.buf->data;
    wrong = 0;
    for (int i = 0; i < 6000; i++) wrong += l[i] != (p[i] > thr[0]);
    CHECK(wrong == 0);
    CHECK((thr[0] > 43.5 && thr[0] < 115) || (thr[0] > 123.5 && thr[0] < 195)); /* between two of the three modes */
    tg_volume_release(&lab);
    tg_volume_release(&f);
    /* a constant volume has nothing to threshold */
    CHECK_OK(&ctx, tg_volume_fill(&ctx, &v, 7));
    CHECK(tg_otsu(&ctx, &v, NULL, thr, &lab, NULL) == TG_ERR_ARG && strstr(ctx.msg, "constant"));
    CHECK(lab.buf == NULL);
    tg_volume_release(&v);
}

/* Non-finite voxels and ranges near ±DBL_MAX (issue 14: they crashed): the thresholds come from the finite
 * values, the non-finite ones are counted, NaN and -Inf get class 0 and +Inf the top class. */
static void test_nonfinite(void)
{
    tg_ctx ctx;
    tg_ctx_init(&ctx);
    int64_t dims[3] = {10, 10, 2};
    tg_volume v, lab;
    CHECK_OK(&ctx, tg_volume_alloc(&ctx, dims, TG_F64, NULL, &v));
    for (const double *big = (const double[]){1.0, 1e308}; ; big++) {
        for (int64_t i = 0; i < 200; i++) tg_volume_set(&v, i % 10, i / 10 % 10, i / 100, i < 100 ? -*big : *big);
        tg_volume_set(&v, 0, 0, 0, INFINITY);
        tg_volume_set(&v, 1, 0, 0, -INFINITY);
        tg_volume_set(&v, 2, 0, 0, NAN);
        tg_volume_set(&v, 3, 0, 1, INFINITY);
        double thr[1];
        tg_stats s;
        CHECK_OK(&ctx, tg_otsu(&ctx, &v, NULL, thr, &lab, &s));
        CHECK(s.posinf_count == 2 && s.neginf_count == 1 && s.nan_count == 1 && s.count == 196);
        CHECK(fabs(thr[0]) < *big && isfinite(thr[0]));
        CHECK(tg_volume_get(&lab, 0, 0, 0) == 1 && tg_volume_get(&lab, 1, 0, 0) == 0 && tg_volume_get(&lab, 2, 0, 0) == 0);
        CHECK(tg_volume_get(&lab, 3, 0, 1) == 1 && tg_volume_get(&lab, 5, 5, 0) == 0 && tg_volume_get(&lab, 5, 5, 1) == 1);
        tg_volume_release(&lab);
        if (*big > 1) break;
    }
    /* nothing finite: a clear error */
    CHECK_OK(&ctx, tg_volume_fill(&ctx, &v, INFINITY));
    double thr[1];
    CHECK(tg_otsu(&ctx, &v, NULL, thr, &lab, NULL) == TG_ERR_ARG && strstr(ctx.msg, "no finite value"));
    tg_volume_release(&v);
}

TG_TEST_MAIN(test_spikes, test_mixtures, test_volume, test_nonfinite)
