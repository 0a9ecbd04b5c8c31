/* test_forest.c — the random forest on analytic data: separable classes, XOR (needs depth 2), thread-count
 * independence, save/load bit-identity, corrupt/foreign/truncated/other-version files, bad input. */
#include "tg_test.h"

#include "core/tg_rng.h"
#include "segment/tg_forest.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char *tmpdir(void)
{
    const char *t = getenv("TG_TEST_TMP");
    return t ? t : "/tmp";
}

/* n rows, nf features uniform in [0,1); extra features are noise. */
static float *uniform_rows(int64_t n, int nf, uint64_t seed)
{
    float *X = tg_malloc(sizeof(float) * (size_t)n * nf);
    tg_rng r = tg_rng_make(seed, 7);
    for (int64_t i = 0; i < n * nf; i++) X[i] = (float)tg_rng_uniform(&r);
    return X;
}

static double accuracy(const uint8_t *a, const uint8_t *b, int64_t n)
{
    int64_t ok = 0;
    for (int64_t i = 0; i < n; i++) ok += a[i] == b[i];
    return (double)ok / (double)n;
}

static void test_separable(void)
{
    tg_ctx ctx;
    tg_ctx_init(&ctx);
    const int64_t n = 400, nt = 1000;
    const int nf = 3;
    float *X = uniform_rows(n, nf, 1), *T = uniform_rows(nt, nf, 2);
    uint8_t *y = tg_malloc(n), *truth = tg_malloc(nt), *pred = tg_malloc(nt);
    /* class by feature 1 in three bands; features 0 and 2 are noise. A gap around the band edges keeps the
     * classes separable with a margin, so unseen points are classified exactly. */
    for (int64_t i = 0; i < n; i++) {
        float v = X[i * nf + 1];
        if (fabsf(v - 0.3f) < 0.02f || fabsf(v - 0.6f) < 0.02f) X[i * nf + 1] = v < 0.5f ? 0.1f : 0.9f, v = X[i * nf + 1];
        y[i] = v < 0.3f ? 0 : v < 0.6f ? 1 : 2;
    }
    for (int64_t i = 0; i < nt; i++) {
        float v = T[i * nf + 1];
        if (fabsf(v - 0.3f) < 0.02f || fabsf(v - 0.6f) < 0.02f) T[i * nf + 1] = v < 0.5f ? 0.1f : 0.9f, v = T[i * nf + 1];
        truth[i] = (uint8_t)(v < 0.3f ? 1 : v < 0.6f ? 2 : 3); /* class values default to k + 1 */
    }
    for (int bins = 0; bins <= 256; bins += 256) {
        tg_forest f;
        tg_forest_opts o = TG_FOREST_OPTS_INIT;
        o.trees = 20;
        o.bins = bins;
        CHECK_OK(&ctx, tg_forest_train(&ctx, X, y, n, nf, 3, NULL, NULL, &o, &f));
        CHECK(f.mtry == 1); /* floor(sqrt(3)) */
        float *p[3] = {tg_malloc(4 * nt), tg_malloc(4 * nt), tg_malloc(4 * nt)};
        CHECK_OK(&ctx, tg_forest_predict(&ctx, &f, T, nt, nf, p, pred));
        NEAR(accuracy(pred, truth, nt), 1.0, 0);
        double worst = 0;
        for (int64_t i = 0; i < nt; i++) worst = fmax(worst, fabs(p[0][i] + p[1][i] + p[2][i] - 1.0));
        NEAR(worst, 0, 1e-5);
        /* only feature 1 carries information: it takes most of the importance (mtry = 1 also splits on noise) */
        CHECK(f.importance[1] > 0.5 && f.importance[1] > 2 * f.importance[0] && f.importance[1] > 2 * f.importance[2]);
        NEAR(f.importance[0] + f.importance[1] + f.importance[2], 1.0, 1e-12);
        for (int k = 0; k < 3; k++) tg_free(p[k]);
        tg_forest_free(&f);
    }
    tg_free(X); tg_free(T); tg_free(y); tg_free(truth); tg_free(pred);
}

/* XOR of (x >= .5, y >= .5): four clusters (each quadrant's samples at its centre) with populations 40, 20, 20, 20,
 * so the centre split is the best root split; a stump reaches 60 % at most, depth 2 is exact. Tested on fresh
 * points spread over the quadrants. */
static void test_xor(void)
{
    tg_ctx ctx;
    tg_ctx_init(&ctx);
    const int quad[4] = {40, 20, 20, 20}; /* (lo,lo)=class 0, (lo,hi)=1, (hi,lo)=1, (hi,hi)=0 */
    const int64_t n = 100;
    float *X = tg_malloc(sizeof(float) * 2 * n);
    uint8_t *y = tg_malloc(n), *pred = tg_malloc(n), *truth = tg_malloc(n);
    float *T = tg_malloc(sizeof(float) * 2 * n);
    tg_rng r = tg_rng_make(3, 1);
    int64_t i = 0;
    for (int q = 0; q < 4; q++)
        for (int j = 0; j < quad[q]; j++, i++) {
            int hx = q >= 2, hy = q & 1;
            X[2 * i] = 0.25f + 0.5f * hx;
            X[2 * i + 1] = 0.25f + 0.5f * hy;
            T[2 * i] = (float)(0.02 + 0.46 * tg_rng_uniform(&r) + 0.5 * hx);
            T[2 * i + 1] = (float)(0.02 + 0.46 * tg_rng_uniform(&r) + 0.5 * hy);
            y[i] = (uint8_t)(hx ^ hy);
            truth[i] = (uint8_t)(y[i] + 1);
        }
    tg_forest f;
    tg_forest_opts o = TG_FOREST_OPTS_INIT;
    o.trees = 1;
    o.bootstrap = 0;
    o.mtry = 2;
    o.bins = 0;
    o.max_depth = 1;
    CHECK_OK(&ctx, tg_forest_train(&ctx, X, y, n, 2, 2, NULL, NULL, &o, &f));
    CHECK_OK(&ctx, tg_forest_predict(&ctx, &f, T, n, 2, NULL, pred));
    CHECK(accuracy(pred, truth, n) <= 0.60 + 1e-12);
    CHECK(f.trees[0].nnodes == 3);
    tg_forest_free(&f);
    o.max_depth = 2;
    CHECK_OK(&ctx, tg_forest_train(&ctx, X, y, n, 2, 2, NULL, NULL, &o, &f));
    CHECK_OK(&ctx, tg_forest_predict(&ctx, &f, T, n, 2, NULL, pred));
    NEAR(accuracy(pred, truth, n), 1.0, 0);
    CHECK(f.trees[0].nnodes == 7);
    tg_forest_free(&f);
    /* a bagged forest of depth-2 trees with the binned splitter learns it too */
    o.trees = 25;
    o.bootstrap = 1;
    o.bins = 256;
    CHECK_OK(&ctx, tg_forest_train(&ctx, X, y, n, 2, 2, NULL, NULL, &o, &f));
    CHECK_OK(&ctx, tg_forest_predict(&ctx, &f, T, n, 2, NULL, pred));
    NEAR(accuracy(pred, truth, n), 1.0, 0);
    tg_forest_free(&f);
    tg_free(X); tg_free(T); tg_free(y); tg_free(pred); tg_free(truth);
}

/* Noisy three-class data: class from a noisy linear score of 5 features. */
static void noisy_data(int64_t n, float **X, uint8_t **y)
{
    *X = uniform_rows(n, 5, 11);
    *y = tg_malloc(n);
    tg_rng r = tg_rng_make(5, 2);
    for (int64_t i = 0; i < n; i++) {
        const float *x = *X + i * 5;
        double s = x[0] + 0.5 * x[1] - 0.3 * x[2] + 0.2 * tg_rng_normal(&r);
        (*y)[i] = (uint8_t)(s < 0.3 ? 0 : s < 0.8 ? 1 : 2);
    }
}

static void test_threads(void)
{
    tg_ctx c1, c2;
    tg_ctx_init(&c1);
    tg_ctx_init(&c2);
    c1.nthreads = 1;
    c2.nthreads = 3;
    float *X;
    uint8_t *y;
    const int64_t n = 3000;
    noisy_data(n, &X, &y);
    for (int bins = 0; bins <= 256; bins += 256) {
        tg_forest a, b;
        tg_forest_opts o = TG_FOREST_OPTS_INIT;
        o.trees = 7;
        o.bins = bins;
        o.seed = 42;
        o.class_weight = TG_FOREST_WEIGHT_BALANCED;
        CHECK_OK(&c1, tg_forest_train(&c1, X, y, n, 5, 3, NULL, "meta", &o, &a));
        CHECK_OK(&c2, tg_forest_train(&c2, X, y, n, 5, 3, NULL, "meta", &o, &b));
        CHECK(tg_forest_equal(&a, &b));
        uint8_t *pa = tg_malloc(n), *pb = tg_malloc(n);
        float *qa[3], *qb[3];
        for (int k = 0; k < 3; k++) { qa[k] = tg_malloc(4 * n); qb[k] = tg_malloc(4 * n); }
        CHECK_OK(&c1, tg_forest_predict(&c1, &a, X, n, 5, qa, pa));
        CHECK_OK(&c2, tg_forest_predict(&c2, &a, X, n, 5, qb, pb));
        CHECK(memcmp(pa, pb, n) == 0);
        for (int k = 0; k < 3; k++) CHECK(memcmp(qa[k], qb[k], 4 * n) == 0);
        /* another seed gives another forest */
        tg_forest c;
        o.seed = 43;
        CHECK_OK(&c2, tg_forest_train(&c2, X, y, n, 5, 3, NULL, "meta", &o, &c));
        CHECK(!tg_forest_equal(&a, &c));
        tg_forest_free(&c);
        for (int k = 0; k < 3; k++) { tg_free(qa[k]); tg_free(qb[k]); }
        tg_free(pa); tg_free(pb);
        tg_forest_free(&a);
        tg_forest_free(&b);
    }
    tg_free(X);
    tg_free(y);
}

static void test_balanced_and_exact_vs_binned(void)
{
    tg_ctx ctx;
    tg_ctx_init(&ctx);
    float *X;
    uint8_t *y;
    const int64_t n = 4000;
    noisy_data(n, &X, &y);
    int64_t cnt[3] = {0, 0, 0};
    for (int64_t i = 0; i < n; i++) cnt[y[i]]++;
    tg_forest a, b;
    tg_forest_opts o = TG_FOREST_OPTS_INIT;
    o.trees = 30;
    o.class_weight = TG_FOREST_WEIGHT_BALANCED;
    o.bins = 0;
    CHECK_OK(&ctx, tg_forest_train(&ctx, X, y, n / 2, 5, 3, NULL, NULL, &o, &a));
    for (int k = 0; k < 3; k++) CHECK(a.weights[k] > 0);
    o.bins = 256;
    CHECK_OK(&ctx, tg_forest_train(&ctx, X, y, n / 2, 5, 3, NULL, NULL, &o, &b));
    uint8_t *pa = tg_malloc(n / 2), *pb = tg_malloc(n / 2), *truth = tg_malloc(n / 2);
    for (int64_t i = 0; i < n / 2; i++) truth[i] = (uint8_t)(y[n / 2 + i] + 1);
    CHECK_OK(&ctx, tg_forest_predict(&ctx, &a, X + (n / 2) * 5, n / 2, 5, NULL, pa));
    CHECK_OK(&ctx, tg_forest_predict(&ctx, &b, X + (n / 2) * 5, n / 2, 5, NULL, pb));
    double acc_a = accuracy(pa, truth, n / 2), acc_b = accuracy(pb, truth, n / 2);
    /* the noise (sigma 0.2 on a score spanning ~1.7) caps the accuracy near 80 %; binned equals exact within 1 % here */
    CHECK(acc_a > 0.7 && acc_b > 0.7);
    NEAR(acc_a, acc_b, 0.01);
    tg_free(pa); tg_free(pb); tg_free(truth);
    tg_forest_free(&a);
    tg_forest_free(&b);
    tg_free(X);
    tg_free(y);
}

static void write_bytes(const char *path, const uint8_t *b, size_t n)
{
    FILE *f = fopen(path, "wb");
    fwrite(b, 1, n, f);
    fclose(f);
}

static void test_save_load(void)
{
    tg_ctx ctx;
    tg_ctx_init(&ctx);
    float *X;
    uint8_t *y;
    const int64_t n = 1500;
    noisy_data(n, &X, &y);
    const int32_t values[3] = {3, 7, 9};
    tg_forest a, b;
    tg_forest_opts o = TG_FOREST_OPTS_INIT;
    o.trees = 5;
    o.channels = 2;
    CHECK_OK(&ctx, tg_forest_train(&ctx, X, y, n, 5, 3, values, "{\"names\":[\"a\",\"b\"]}", &o, &a));
    char path[512], bad[512];
    snprintf(path, sizeof path, "%s/test_forest_model.tgf", tmpdir());
    snprintf(bad, sizeof bad, "%s/test_forest_bad.tgf", tmpdir());
    CHECK_OK(&ctx, tg_forest_save(&ctx, &a, path));
    CHECK_OK(&ctx, tg_forest_load(&ctx, path, &b));
    CHECK(tg_forest_equal(&a, &b));
    CHECK(b.nchannels == 2 && b.class_values[1] == 7 && strcmp(b.meta, "{\"names\":[\"a\",\"b\"]}") == 0);
    uint8_t *pa = tg_malloc(n), *pb = tg_malloc(n);
    CHECK_OK(&ctx, tg_forest_predict(&ctx, &a, X, n, 5, NULL, pa));
    CHECK_OK(&ctx, tg_forest_predict(&ctx, &b, X, n, 5, NULL, pb));
    CHECK(memcmp(pa, pb, n) == 0);
    for (int64_t i = 0; i < n; i++) CHECK(pa[i] == 3 || pa[i] == 7 || pa[i] == 9);
    tg_forest_free(&b);

    uint8_t *buf;
    size_t len;
    CHECK_OK(&ctx, tg_forest_serialize(&ctx, &a, &buf, &len));
    /* one flipped bit in a tree: checksum */
    buf[len / 2] ^= 1;
    write_bytes(bad, buf, len);
    CHECK(tg_forest_load(&ctx, bad, &b) == TG_ERR_FORMAT && strstr(ctx.msg, "checksum") && strstr(ctx.msg, bad));
    CHECK(b.trees == NULL);
    buf[len / 2] ^= 1;
    /* truncated */
    write_bytes(bad, buf, len - 40);
    CHECK(tg_forest_load(&ctx, bad, &b) == TG_ERR_FORMAT && strstr(ctx.msg, "corrupt or truncated"));
    write_bytes(bad, buf, 12);
    CHECK(tg_forest_load(&ctx, bad, &b) == TG_ERR_FORMAT && strstr(ctx.msg, "truncated"));
    /* another version */
    buf[8] = 2;
    write_bytes(bad, buf, len);
    CHECK(tg_forest_load(&ctx, bad, &b) == TG_ERR_FORMAT && strstr(ctx.msg, "version 2"));
    buf[8] = 1;
    /* a foreign file */
    write_bytes(bad, (const uint8_t *)"II*\0 this is a TIFF, not a model", 32);
    CHECK(tg_forest_load(&ctx, bad, &b) == TG_ERR_FORMAT && strstr(ctx.msg, "not a tortuga forest model"));
    CHECK(tg_forest_load(&ctx, "/nonexistent/dir/model.tgf", &b) == TG_ERR_IO && strstr(ctx.msg, "/nonexistent/dir/model.tgf"));
    /* intact buffer deserialises */
    CHECK_OK(&ctx, tg_forest_deserialize(&ctx, buf, len, "mem", &b));
    CHECK(tg_forest_equal(&a, &b));
    tg_forest_free(&b);
    tg_free(buf);
    remove(path);
    remove(bad);
    tg_free(pa); tg_free(pb);
    tg_forest_free(&a);
    tg_forest_free(&a); /* idempotent */
    tg_free(X);
    tg_free(y);
}

static void test_bad_input(void)
{
    tg_ctx ctx;
    tg_ctx_init(&ctx);
    float *X;
    uint8_t *y;
    const int64_t n = 200;
    noisy_data(n, &X, &y);
    tg_forest f;
    tg_forest_opts o = TG_FOREST_OPTS_INIT;
    o.trees = 3;
    CHECK(tg_forest_train(&ctx, X, y, n, 5, 1, NULL, NULL, &o, &f) == TG_ERR_ARG && strstr(ctx.msg, "classes"));
    CHECK(tg_forest_train(&ctx, X, y, n, 5, 4, NULL, NULL, &o, &f) == TG_ERR_ARG && strstr(ctx.msg, "no training sample"));
    uint8_t saved = y[0];
    y[0] = 5;
    CHECK(tg_forest_train(&ctx, X, y, n, 5, 3, NULL, NULL, &o, &f) == TG_ERR_ARG && strstr(ctx.msg, "outside"));
    y[0] = saved;
    X[3] = NAN;
    CHECK(tg_forest_train(&ctx, X, y, n, 5, 3, NULL, NULL, &o, &f) == TG_ERR_ARG && strstr(ctx.msg, "not finite"));
    X[3] = 0.5f;
    o.mtry = 9;
    CHECK(tg_forest_train(&ctx, X, y, n, 5, 3, NULL, NULL, &o, &f) == TG_ERR_ARG && strstr(ctx.msg, "mtry"));
    o.mtry = 0;
    o.trees = 0;
    CHECK(tg_forest_train(&ctx, X, y, n, 5, 3, NULL, NULL, &o, &f) == TG_ERR_ARG && strstr(ctx.msg, "trees"));
    o.trees = 3;
    CHECK(f.trees == NULL);
    CHECK_OK(&ctx, tg_forest_train(&ctx, X, y, n, 5, 3, NULL, NULL, &o, &f));
    uint8_t *p = tg_malloc(n);
    CHECK(tg_forest_predict(&ctx, &f, X, n / 2, 4, NULL, p) == TG_ERR_ARG && strstr(ctx.msg, "trained on 5 features, given 4"));
    CHECK(tg_forest_predict_grid(&ctx, &f, X, n / 2, 5, -3, NULL, p) == TG_ERR_ARG && strstr(ctx.msg, "negative row width -3"));
    tg_forest_free(&f);
    CHECK(tg_forest_predict(&ctx, &f, X, n, 5, NULL, p) == TG_ERR_ARG && strstr(ctx.msg, "empty"));
    /* min_leaf and max_depth shape the trees */
    o.trees = 1;
    o.min_leaf = 50;
    CHECK_OK(&ctx, tg_forest_train(&ctx, X, y, n, 5, 3, NULL, NULL, &o, &f));
    CHECK(f.trees[0].nnodes <= 2 * (n / 50) - 1);
    tg_forest_free(&f);
    tg_free(p);
    tg_free(X);
    tg_free(y);
}

/* The straightforward descent: each row walks each tree from the root (left when x <= threshold), adds the leaf's
 * values in tree order from 0, takes the mean and the first class of highest sum. */
static void reference_predict(const tg_forest *f, const float *X, int64_t n, float *const *prob, uint8_t *label)
{
    const int K = f->nclasses;
    float acc[8];
    for (int64_t r = 0; r < n; r++) {
        const float *x = X + r * f->nfeatures;
        for (int k = 0; k < K; k++) acc[k] = 0.0f;
        for (int t = 0; t < f->ntrees; t++) {
            const tg_forest_node *nd = f->trees[t].nodes;
            int32_t i = 0;
            while (nd[i].feature >= 0) i = x[nd[i].feature] <= nd[i].threshold ? nd[i].child : nd[i].child + 1;
            for (int k = 0; k < K; k++) acc[k] += f->trees[t].values[nd[i].child + k];
        }
        int best = 0;
        for (int k = 1; k < K; k++)
            if (acc[k] > acc[best]) best = k;
        label[r] = (uint8_t)f->class_values[best];
        for (int k = 0; k < K; k++) prob[k][r] = acc[k] * (1.0f / (float)f->ntrees);
    }
}

/* Rows of a 61 x 37 x 2 volume (widths not multiples of the 8 x 8 tiles): smooth fields plus noise, so that
 * neighbours mostly share paths, with NaN and infinities sprinkled in; every third row labelled for training. */
static float *field_rows(int64_t n, int nf, uint64_t seed)
{
    float *X = tg_malloc(sizeof(float) * (size_t)n * nf);
    tg_rng r = tg_rng_make(seed, 3);
    for (int64_t i = 0; i < n; i++) {
        const double x = (double)(i % 61), y = (double)(i / 61 % 37), z = (double)(i / (61 * 37));
        for (int q = 0; q < nf; q++)
            X[i * nf + q] = (float)(sin(0.11 * (q + 1) * x + 0.07 * (q + 2) * y + z) + 0.2 * tg_rng_uniform(&r));
        if (i % 97 == 5) X[i * nf + i % nf] = NAN;
        if (i % 89 == 7) X[i * nf + i % nf] = (i & 1) ? INFINITY : -INFINITY;
    }
    return X;
}

/* Both prediction paths (the packets and the lockstep descent), with and without a row width, on 1 and 3 threads,
 * give exactly the labels and probabilities of the straightforward descent: smooth rows (packets rarely split),
 * uniform random rows (they split at nearly every node), and a forest of single leaves. */
static void check_paths(const tg_forest *f, const float *X, int64_t n)
{
    const int K = f->nclasses;
    uint8_t *lr = tg_malloc(n), *lp = tg_malloc(n);
    float *pr[8], *pp[8];
    for (int k = 0; k < K; k++) { pr[k] = tg_malloc(4 * n); pp[k] = tg_malloc(4 * n); }
    reference_predict(f, X, n, pr, lr);
    const int64_t widths[] = {0, 1, 8, 61, 7, 64, 4 * n};
    for (int generic = 0; generic <= 1; generic++) {
        if (generic) setenv("TG_FOREST_GENERIC", "1", 1);
        for (int th = 1; th <= 3; th += 2)
            for (size_t w = 0; w < sizeof widths / sizeof *widths; w++) {
                tg_ctx ctx;
                tg_ctx_init(&ctx);
                ctx.nthreads = th;
                memset(lp, 0, n);
                CHECK_OK(&ctx, tg_forest_predict_grid(&ctx, f, X, n, f->nfeatures, widths[w], pp, lp));
                int same = memcmp(lr, lp, n) == 0;
                for (int k = 0; k < K; k++) same &= memcmp(pr[k], pp[k], 4 * n) == 0;
                if (!same) fprintf(stderr, "  differs: generic %d, %d threads, width %lld\n", generic, th, (long long)widths[w]);
                CHECK(same);
            }
        unsetenv("TG_FOREST_GENERIC");
    }
    for (int k = 0; k < K; k++) { tg_free(pr[k]); tg_free(pp[k]); }
    tg_free(lr);
    tg_free(lp);
}

static void test_fast_paths_match_reference(void)
{
    tg_ctx ctx;
    tg_ctx_init(&ctx);
    const int nf = 6, K = 4;
    const int64_t n = 61 * 37 * 2, ntr = n / 3;
    const int32_t values[4] = {3, 7, 200, 9};
    float *F = field_rows(n, nf, 5), *U = uniform_rows(n, nf, 6);
    float *Xtr = tg_malloc(sizeof(float) * (size_t)ntr * nf);
    uint8_t *y = tg_malloc(ntr);
    for (int data = 0; data < 2; data++) {
        const float *X = data ? U : F;
        tg_rng r = tg_rng_make(9, data);
        for (int64_t i = 0; i < ntr; i++) { /* class: quadrant of features 0 and 1, 10 % label noise */
            const float *x = X + 3 * i * nf;
            memcpy(Xtr + i * nf, x, sizeof(float) * nf);
            if (Xtr[i * nf] != Xtr[i * nf]) Xtr[i * nf] = 0.0f; /* training rows hold no NaN */
            if (!isfinite(Xtr[i * nf + (3 * i) % nf])) Xtr[i * nf + (3 * i) % nf] = 0.5f;
            const float t = data ? 0.5f : 0.0f;
            y[i] = (uint8_t)((Xtr[i * nf] > t) + 2 * (Xtr[i * nf + 1] > t));
            if (tg_rng_uniform(&r) < 0.1) y[i] = (uint8_t)(tg_rng_u32(&r) % K);
        }
        for (int bins = 0; bins <= 256; bins += 256) {
            tg_forest f;
            tg_forest_opts o = TG_FOREST_OPTS_INIT;
            o.trees = 9;
            o.bins = bins;
            CHECK_OK(&ctx, tg_forest_train(&ctx, Xtr, y, ntr, nf, K, values, NULL, &o, &f));
            check_paths(&f, X, n);
            tg_forest_free(&f);
        }
    }
    /* constant features: every tree is a single leaf (the root) */
    for (int64_t i = 0; i < ntr * nf; i++) Xtr[i] = 1.0f;
    tg_forest f;
    tg_forest_opts o = TG_FOREST_OPTS_INIT;
    o.trees = 3;
    CHECK_OK(&ctx, tg_forest_train(&ctx, Xtr, y, ntr, nf, K, values, NULL, &o, &f));
    CHECK(f.trees[0].nnodes == 1 && f.trees[2].nnodes == 1);
    check_paths(&f, F, n);
    tg_forest_free(&f);
    tg_free(F);
    tg_free(U);
    tg_free(Xtr);
    tg_free(y);
}

TG_TEST_MAIN(test_separable, test_xor, test_threads, test_balanced_and_exact_vs_binned, test_save_load, test_bad_input,
             test_fast_paths_match_reference)
