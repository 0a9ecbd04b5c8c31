/* test_gaussian.c — the Gaussian filters against scipy.ndimage (fixtures written once by bench/filter_ref.py),
 * analytic kernel moments, thread-count independence, dtypes, views, bad input, cancel and allocation failure. */
#include <stdio.h>
#include <string.h>

#include "filter/tg_gaussian.h"
#include "tg_test.h"

#define NX 12
#define NY 10
#define NZ 8

/* tests/fixtures/filter/ from this file's path (tests/c/test_gaussian.c) */
static void fixture_path(const char *name, char *out, size_t n)
{
    const char *f = __FILE__, *slash = strrchr(f, '/');
    int dir = slash ? (int)(slash - f) : 0; /* .../tests/c */
    snprintf(out, n, "%.*s/../fixtures/filter/%s", dir, f, name);
}

static int load_f32(const char *name, tg_volume *v)
{
    char path[1024];
    fixture_path(name, path, sizeof path);
    FILE *fp = fopen(path, "rb");
    if (!fp) { fprintf(stderr, "cannot open fixture %s\n", path); return -1; }
    tg_ctx ctx;
    tg_ctx_init(&ctx);
    int64_t d[3] = {NX, NY, NZ};
    if (tg_volume_alloc(&ctx, d, TG_F32, NULL, v)) { fclose(fp); return -1; }
    size_t got = fread(tg_volume_ptr(v, 0, 0, 0), sizeof(float), NX * NY * NZ, fp);
    fclose(fp);
    return got == NX * NY * NZ ? 0 : -1;
}

/* max |a - b| / max |b| over the volume */
static double rel_err(const tg_volume *a, const tg_volume *b)
{
    double num = 0, den = 0;
    for (int64_t z = 0; z < a->dims[2]; z++)
        for (int64_t y = 0; y < a->dims[1]; y++)
            for (int64_t x = 0; x < a->dims[0]; x++) {
                double va = tg_volume_get(a, x, y, z), vb = tg_volume_get(b, x, y, z);
                if (fabs(va - vb) > num) num = fabs(va - vb);
                if (fabs(vb) > den) den = fabs(vb);
            }
    return den > 0 ? num / den : num;
}

static int same_bits(const tg_volume *a, const tg_volume *b)
{
    if (a->dims[0] != b->dims[0] || a->dims[1] != b->dims[1] || a->dims[2] != b->dims[2]) return 0;
    return memcmp(tg_volume_ptr(a, 0, 0, 0), tg_volume_ptr(b, 0, 0, 0), (size_t)tg_volume_count(a) * 4) == 0;
}

static void random_volume(int64_t nx, int64_t ny, int64_t nz, tg_dtype t, uint32_t seed, tg_volume *v)
{
    tg_ctx ctx;
    tg_ctx_init(&ctx);
    int64_t d[3] = {nx, ny, nz};
    tg_volume_alloc(&ctx, d, t, NULL, v);
    uint32_t s = seed;
    for (int64_t z = 0; z < nz; z++)
        for (int64_t y = 0; y < ny; y++)
            for (int64_t x = 0; x < nx; x++) {
                s = s * 1664525u + 1013904223u;
                tg_volume_set(v, x, y, z, (double)(s >> 24));
            }
}

static const struct {
    const char *name, *input;
    double sigma[3];
    int order[3];
} cases[] = {
    {"g_random_aniso", "random", {1.0, 1.5, 0.7}, {0, 0, 0}},
    {"g_random_wide", "random", {2.0, 2.0, 2.5}, {0, 0, 0}},
    {"g_impulse", "impulse", {1.2, 0.8, 2.0}, {0, 0, 0}},
    {"g_random_2d", "random", {1.3, 1.3, 0.0}, {0, 0, 0}},
    {"g_dx", "random", {1.5, 1.5, 1.5}, {1, 0, 0}},
    {"g_dyy", "random", {1.5, 1.5, 1.5}, {0, 2, 0}},
    {"g_dz", "random", {1.5, 1.5, 1.5}, {0, 0, 1}},
    {"g_dxy", "random", {1.5, 1.5, 1.5}, {1, 1, 0}},
    {"g_impulse_dxx", "impulse", {1.0, 1.0, 1.0}, {2, 0, 0}},
};

static void test_against_scipy(void)
{
    tg_ctx ctx;
    tg_ctx_init(&ctx);
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        tg_volume in, ref, out;
        char fin[64], fref[64];
        snprintf(fin, sizeof fin, "%s.f32", cases[i].input);
        snprintf(fref, sizeof fref, "%s.f32", cases[i].name);
        tg_volume_init(&in);
        tg_volume_init(&ref);
        tg_volume_init(&out);
        CHECK(load_f32(fin, &in) == 0);
        CHECK(load_f32(fref, &ref) == 0);
        tg_gaussian_opts o = TG_GAUSSIAN_OPTS_INIT;
        memcpy(o.sigma, cases[i].sigma, sizeof o.sigma);
        memcpy(o.order, cases[i].order, sizeof o.order);
        CHECK_OK(&ctx, tg_gaussian(&ctx, &in, &o, &out));
        double e = out.buf ? rel_err(&out, &ref) : 1;
        if (e > 1e-5) fprintf(stderr, "%s: relative error %g\n", cases[i].name, e);
        CHECK(e <= 1e-5);
        if (cases[i].sigma[2] == 0) { /* the same result as a per-slice filter with any z sigma */
            tg_volume o2;
            o.sigma[2] = 3.0;
            o.per_slice = 1;
            CHECK_OK(&ctx, tg_gaussian(&ctx, &in, &o, &o2));
            CHECK(same_bits(&o2, &out));
            tg_volume_release(&o2);
        }
        tg_volume_release(&in);
        tg_volume_release(&ref);
        tg_volume_release(&out);
    }
}

/* Moments of the kernels: sum w = 1; a ramp has derivative 1; x^2/2 has second derivative 1. */
static void test_kernel_moments(void)
{
    double sig[] = {0.5, 1.0, 2.3, 7.0};
    for (int k = 0; k < 4; k++) {
        int r = tg_gaussian_radius(sig[k], 4.0);
        double w[64], m0 = 0, m1 = 0, m2 = 0;
        tg_gaussian_kernel(sig[k], 0, 4.0, w);
        for (int j = 0; j <= 2 * r; j++) m0 += w[j];
        NEAR(m0, 1.0, 1e-12);
        tg_gaussian_kernel(sig[k], 1, 4.0, w);
        for (int j = 0; j <= 2 * r; j++) m1 += w[j] * (j - r);
        /* sampling a narrow Gaussian and truncating it at 4 sigma bend the moments a little */
        if (sig[k] >= 1) NEAR(m1, 1.0, 1e-3);
        tg_gaussian_kernel(sig[k], 2, 4.0, w);
        for (int j = 0; j <= 2 * r; j++) m2 += w[j] * 0.5 * (j - r) * (j - r);
        if (sig[k] >= 1) NEAR(m2, 1.0, 1e-2);
    }
    CHECK(tg_gaussian_radius(2.0, 4.0) == 8);
    CHECK(tg_gaussian_radius(0.7, 4.0) == 3);
}

/* A constant volume stays constant; its derivatives are 0. */
static void test_constant(void)
{
    tg_ctx ctx;
    tg_ctx_init(&ctx);
    tg_volume v, out;
    int64_t d[3] = {9, 7, 5};
    tg_volume_alloc(&ctx, d, TG_U16, NULL, &v);
    tg_volume_fill(&ctx, &v, 1234);
    tg_gaussian_opts o = TG_GAUSSIAN_OPTS_INIT;
    o.sigma[0] = 3; o.sigma[1] = 0.6; o.sigma[2] = 11; /* radius 44 on a 5-slice axis */
    CHECK_OK(&ctx, tg_gaussian(&ctx, &v, &o, &out));
    CHECK(out.dtype == TG_F32);
    double maxdev = 0;
    for (int64_t i = 0; i < tg_volume_count(&out); i++) {
        double dv = fabs(((float *)tg_volume_ptr(&out, 0, 0, 0))[i] - 1234.0);
        if (dv > maxdev) maxdev = dv;
    }
    NEAR(maxdev, 0, 1e-3);
    tg_volume_release(&out);
    o.order[1] = 1;
    CHECK_OK(&ctx, tg_gaussian(&ctx, &v, &o, &out));
    maxdev = 0;
    for (int64_t i = 0; i < tg_volume_count(&out); i++) {
        double dv = fabs(((float *)tg_volume_ptr(&out, 0, 0, 0))[i]);
        if (dv > maxdev) maxdev = dv;
    }
    NEAR(maxdev, 0, 1e-3);
    tg_volume_release(&out);
    tg_volume_release(&v);
}

static void test_threads_dtypes_views(void)
{
    tg_ctx c1, c3;
    tg_ctx_init(&c1);
    tg_ctx_init(&c3);
    c1.nthreads = 1;
    c3.nthreads = 3;
    tg_volume u8, f32, a, b, c, view, vcopy, va, vb;
    random_volume(300, 29, 23, TG_U8, 7, &u8); /* 300 columns: two blocks of 256 in the y/z passes */
    tg_volume_astype(&c1, &u8, TG_F32, &f32);
    tg_gaussian_opts o = TG_GAUSSIAN_OPTS_INIT;
    o.sigma[0] = 1.7; o.sigma[1] = 2.2; o.sigma[2] = 0.9; o.order[1] = 1;
    CHECK_OK(&c1, tg_gaussian(&c1, &u8, &o, &a));
    CHECK_OK(&c3, tg_gaussian(&c3, &u8, &o, &b));
    CHECK_OK(&c3, tg_gaussian(&c3, &f32, &o, &c));
    CHECK(same_bits(&a, &b)); /* thread-count independent */
    CHECK(same_bits(&a, &c)); /* u8 filtered as its f32 copy */
    int64_t lo[3] = {3, 2, 1}, hi[3] = {250, 20, 22};
    CHECK_OK(&c1, tg_volume_view(&c1, &u8, lo, hi, &view));
    CHECK_OK(&c1, tg_volume_copy(&c1, &view, &vcopy));
    CHECK_OK(&c3, tg_gaussian(&c3, &view, &o, &va));
    CHECK_OK(&c1, tg_gaussian(&c1, &vcopy, &o, &vb));
    CHECK(same_bits(&va, &vb)); /* a strided view gives the result of its contiguous copy */
    CHECK(va.spacing[0] == view.spacing[0]);
    tg_volume *all[] = {&u8, &f32, &a, &b, &c, &view, &vcopy, &va, &vb};
    for (size_t i = 0; i < sizeof all / sizeof all[0]; i++) tg_volume_release(all[i]);
}

static void test_bad_input(void)
{
    tg_ctx ctx;
    tg_ctx_init(&ctx);
    tg_volume v, out, empty;
    tg_volume_init(&empty);
    random_volume(8, 8, 4, TG_U8, 1, &v);
    tg_gaussian_opts o = TG_GAUSSIAN_OPTS_INIT;
    o.sigma[1] = -1;
    CHECK(tg_gaussian(&ctx, &v, &o, &out) == TG_ERR_ARG && strstr(ctx.msg, "sigma along y"));
    CHECK(out.buf == NULL);
    o.sigma[1] = NAN;
    CHECK(tg_gaussian(&ctx, &v, &o, &out) == TG_ERR_ARG);
    o.sigma[0] = o.sigma[1] = o.sigma[2] = 0;
    CHECK(tg_gaussian(&ctx, &v, &o, &out) == TG_ERR_ARG && strstr(ctx.msg, "nothing to filter"));
    o.sigma[0] = o.sigma[1] = o.sigma[2] = 1;
    o.order[2] = 3;
    CHECK(tg_gaussian(&ctx, &v, &o, &out) == TG_ERR_ARG && strstr(ctx.msg, "order"));
    o.order[2] = 1;
    o.per_slice = 1;
    CHECK(tg_gaussian(&ctx, &v, &o, &out) == TG_ERR_ARG && strstr(ctx.msg, "per_slice"));
    o.per_slice = 0;
    o.truncate = 0;
    CHECK(tg_gaussian(&ctx, &v, &o, &out) == TG_ERR_ARG && strstr(ctx.msg, "truncate"));
    o.truncate = 4;
    CHECK(tg_gaussian(&ctx, &empty, &o, &out) == TG_ERR_ARG && strstr(ctx.msg, "empty"));
    /* cancel */
    atomic_store(&ctx.cancel, 1);
    CHECK(tg_gaussian(&ctx, &v, &o, &out) == TG_ERR_CANCELLED);
    CHECK(out.buf == NULL);
    atomic_store(&ctx.cancel, 0);
    /* allocation failures at each step leave nothing behind */
    for (long n = 1; n <= 4; n++) {
        tg_alloc_fail_after(n);
        tg_status st = tg_gaussian(&ctx, &v, &o, &out);
        tg_alloc_fail_after(0);
        CHECK(st == TG_ERR_NOMEM || st == TG_OK);
        tg_volume_release(&out);
    }
    tg_volume_release(&v);
}

TG_TEST_MAIN(test_against_scipy, test_kernel_moments, test_constant, test_threads_dtypes_views, test_bad_input)
