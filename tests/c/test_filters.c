/* test_filters.c — median and mean against scipy (fixtures from bench/filter_ref.py) and brute force; flatten on
 * a known multiplicative gradient; normalize against exact order statistics; Daubechies filters against their
 * defining identities and published values; destripe on known stripes; thread independence; bad input. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "filter/tg_destripe.h"
#include "filter/tg_flatten.h"
#include "filter/tg_gaussian.h"
#include "filter/tg_rows.h"
#include "filter/tg_normalize.h"
#include "filter/tg_rank.h"
#include "tg_test.h"

static void fixture_path(const char *name, char *out, size_t n)
{
    const char *f = __FILE__, *slash = strrchr(f, '/');
    int dir = slash ? (int)(slash - f) : 0;
    snprintf(out, n, "%.*s/../fixtures/filter/%s", dir, f, name);
}

static int load_raw(const char *name, int64_t nx, int64_t ny, int64_t nz, tg_volume *v)
{
    char path[1024];
    fixture_path(name, path, sizeof path);
    FILE *fp = fopen(path, "rb");
    if (!fp) { fprintf(stderr, "cannot open fixture %s\n", path); return -1; }
    tg_ctx ctx;
    tg_ctx_init(&ctx);
    int64_t d[3] = {nx, ny, nz};
    if (tg_volume_alloc(&ctx, d, TG_F32, NULL, v)) { fclose(fp); return -1; }
    size_t n = (size_t)(nx * ny * nz), got = fread(tg_volume_ptr(v, 0, 0, 0), sizeof(float), n, fp);
    fclose(fp);
    return got == n ? 0 : -1;
}

static int load_f32(const char *name, tg_volume *v)
{
    char path[1024];
    fixture_path(name, path, sizeof path);
    FILE *fp = fopen(path, "rb");
    if (!fp) { fprintf(stderr, "cannot open fixture %s\n", path); return -1; }
    tg_ctx ctx;
    tg_ctx_init(&ctx);
    int64_t d[3] = {12, 10, 8};
    if (tg_volume_alloc(&ctx, d, TG_F32, NULL, v)) { fclose(fp); return -1; }
    size_t got = fread(tg_volume_ptr(v, 0, 0, 0), sizeof(float), 960, fp);
    fclose(fp);
    return got == 960 ? 0 : -1;
}

static uint32_t lcg(uint32_t *s) { return *s = *s * 1664525u + 1013904223u; }
static double unif(uint32_t *s) { return (lcg(s) >> 8) / 16777216.0; }

static void random_volume(int64_t nx, int64_t ny, int64_t nz, tg_dtype t, uint32_t seed, double scale, tg_volume *v)
{
    tg_ctx ctx;
    tg_ctx_init(&ctx);
    int64_t d[3] = {nx, ny, nz};
    tg_volume_alloc(&ctx, d, t, NULL, v);
    for (int64_t z = 0; z < nz; z++)
        for (int64_t y = 0; y < ny; y++)
            for (int64_t x = 0; x < nx; x++) tg_volume_set(v, x, y, z, floor(unif(&seed) * scale));
}

static double max_rel_diff(const tg_volume *a, const tg_volume *b)
{
    double num = 0, den = 0;
    for (int64_t z = 0; z < a->dims[2]; z++)
        for (int64_t y = 0; y < a->dims[1]; y++)
            for (int64_t x = 0; x < a->dims[0]; x++) {
                double va = tg_volume_get(a, x, y, z), vb = tg_volume_get(b, x, y, z);
                num = fmax(num, fabs(va - vb));
                den = fmax(den, fabs(vb));
            }
    return den > 0 ? num / den : num;
}

static int same_bytes(const tg_volume *a, const tg_volume *b)
{
    return tg_volume_count(a) == tg_volume_count(b) && a->dtype == b->dtype &&
           memcmp(tg_volume_ptr(a, 0, 0, 0), tg_volume_ptr(b, 0, 0, 0), (size_t)tg_volume_count(a) * tg_dtype_size(a->dtype)) == 0;
}

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

/* ---- median and mean ---- */

static void test_rank_against_scipy(void)
{
    tg_ctx ctx;
    tg_ctx_init(&ctx);
    struct { const char *ref; int median, radius, per_slice; } cs[] = {
        {"m_random_3d_r1.f32", 1, 1, 0}, {"m_random_2d_r2.f32", 1, 2, 1},
        {"u_random_3d_r1.f32", 0, 1, 0}, {"u_random_2d_r2.f32", 0, 2, 1}};
    tg_volume in, ref, out;
    CHECK(load_f32("random.f32", &in) == 0);
    for (int i = 0; i < 4; i++) {
        CHECK(load_f32(cs[i].ref, &ref) == 0);
        tg_rank_opts o = {cs[i].radius, cs[i].per_slice};
        CHECK_OK(&ctx, cs[i].median ? tg_median(&ctx, &in, &o, &out) : tg_mean(&ctx, &in, &o, &out));
        double e = max_rel_diff(&out, &ref);
        if (cs[i].median) CHECK(e == 0); /* the median is one of the values: exact */
        else CHECK(e <= 1e-6);
        tg_volume_release(&ref);
        tg_volume_release(&out);
    }
    tg_volume_release(&in);
}

/* brute force: the median of the reflected window, by sorting */
/* The radius-1 3D median (a selection network for u8, u16, f32; quickselect for rows with NaN and other types)
 * against sorting every window, on rows longer than the network's 64-voxel blocks, for each dtype. */
static void test_median_r1_network(void)
{
    tg_ctx c1, c2;
    tg_ctx_init(&c1);
    tg_ctx_init(&c2);
    c1.nthreads = 1;
    c2.nthreads = 2;
    static const tg_dtype types[] = {TG_U8, TG_U16, TG_F32, TG_I32, TG_F64};
    for (int t = 0; t < 5; t++) {
        tg_volume v, a, b;
        random_volume(150, 7, 5, types[t], 40 + (uint32_t)t, types[t] == TG_U8 ? 255 : 60000, &v);
        if (types[t] == TG_F32) { /* a few NaNs: their rows take the general path, NaN sorting last */
            tg_volume_set(&v, 3, 2, 1, NAN);
            tg_volume_set(&v, 100, 5, 3, NAN);
            tg_volume_set(&v, 101, 5, 3, NAN);
        }
        tg_rank_opts o = {1, 0};
        CHECK_OK(&c1, tg_median(&c1, &v, &o, &a));
        CHECK_OK(&c2, tg_median(&c2, &v, &o, &b));
        CHECK(same_bytes(&a, &b));
        int bad = 0;
        for (int64_t z = 0; z < 5; z++)
            for (int64_t y = 0; y < 7; y++)
                for (int64_t x = 0; x < 150; x++) {
                    double win[27];
                    int n = 0;
                    for (int dz = -1; dz <= 1; dz++)
                        for (int dy = -1; dy <= 1; dy++)
                            for (int dx = -1; dx <= 1; dx++) {
                                double w = tg_volume_get(&v, tg_filter__reflect_index(x + dx, 150), tg_filter__reflect_index(y + dy, 7),
                                                         tg_filter__reflect_index(z + dz, 5));
                                win[n++] = w == w ? w : INFINITY; /* NaN last */
                            }
                    qsort(win, 27, sizeof *win, cmp_double);
                    double got = tg_volume_get(&a, x, y, z);
                    if (!(win[13] == got || (isinf(win[13]) && isnan(got)))) bad++;
                }
        CHECK(bad == 0);
        tg_volume_release(&v);
        tg_volume_release(&a);
        tg_volume_release(&b);
    }
}

static void test_median_brute_force(void)
{
    tg_ctx c1, c3;
    tg_ctx_init(&c1);
    tg_ctx_init(&c3);
    c1.nthreads = 1;
    c3.nthreads = 3;
    tg_volume v, a, b;
    random_volume(17, 11, 6, TG_U16, 3, 60000, &v);
    tg_rank_opts o = {2, 0};
    CHECK_OK(&c1, tg_median(&c1, &v, &o, &a));
    CHECK_OK(&c3, tg_median(&c3, &v, &o, &b));
    CHECK(a.dtype == TG_U16);
    CHECK(same_bytes(&a, &b));
    int bad = 0;
    double win[125];
    for (int64_t z = 0; z < 6; z++)
        for (int64_t y = 0; y < 11; y++)
            for (int64_t x = 0; x < 17; x++) {
                int n = 0;
                for (int dz = -2; dz <= 2; dz++)
                    for (int dy = -2; dy <= 2; dy++)
                        for (int dx = -2; dx <= 2; dx++)
                            win[n++] = tg_volume_get(&v, tg_filter__reflect_index(x + dx, 17), tg_filter__reflect_index(y + dy, 11),
                                                     tg_filter__reflect_index(z + dz, 6));
                qsort(win, 125, sizeof *win, cmp_double);
                if (win[62] != tg_volume_get(&a, x, y, z)) bad++;
            }
    CHECK(bad == 0);
    tg_volume_release(&a);
    tg_volume_release(&b);
    /* NaN sorts last: a 3x3 window with 4 NaNs has a number as median, with 5 NaNs NaN */
    tg_volume f;
    int64_t d[3] = {3, 3, 1};
    tg_volume_alloc(&c1, d, TG_F32, NULL, &f);
    for (int i = 0; i < 9; i++) tg_volume_set(&f, i % 3, i / 3, 0, i < 4 ? NAN : i);
    o.radius = 1;
    o.per_slice = 1;
    CHECK_OK(&c1, tg_median(&c1, &f, &o, &a));
    /* centre window = the whole image: values 4..8 and four NaNs: the 5th smallest of 9 = 8 */
    CHECK(tg_volume_get(&a, 1, 1, 0) == 8);
    tg_volume_set(&f, 2, 2, 0, NAN);
    tg_volume_release(&a);
    CHECK_OK(&c1, tg_median(&c1, &f, &o, &a));
    CHECK(isnan(tg_volume_get(&a, 1, 1, 0)));
    tg_volume_release(&a);
    tg_volume_release(&f);
    /* bad radius */
    o.radius = 0;
    CHECK(tg_median(&c1, &v, &o, &a) == TG_ERR_ARG && strstr(c1.msg, "radius"));
    CHECK(tg_mean(&c1, &v, &o, &a) == TG_ERR_ARG);
    tg_volume_release(&v);
}

static void test_mean_threads(void)
{
    tg_ctx c1, c3;
    tg_ctx_init(&c1);
    tg_ctx_init(&c3);
    c1.nthreads = 1;
    c3.nthreads = 3;
    tg_volume v, a, b;
    random_volume(270, 13, 9, TG_U8, 5, 256, &v);
    tg_rank_opts o = {3, 0};
    CHECK_OK(&c1, tg_mean(&c1, &v, &o, &a));
    CHECK_OK(&c3, tg_mean(&c3, &v, &o, &b));
    CHECK(a.dtype == TG_F32 && same_bytes(&a, &b));
    /* one voxel against its direct sum */
    double s = 0;
    for (int dz = -3; dz <= 3; dz++)
        for (int dy = -3; dy <= 3; dy++)
            for (int dx = -3; dx <= 3; dx++)
                s += tg_volume_get(&v, tg_filter__reflect_index(1 + dx, 270), tg_filter__reflect_index(12 + dy, 13), tg_filter__reflect_index(4 + dz, 9));
    NEAR(tg_volume_get(&a, 1, 12, 4), s / 343.0, 1e-4);
    tg_volume_release(&a);
    tg_volume_release(&b);
    tg_volume_release(&v);
}

/* ---- flatten ---- */

static void test_flatten_gradient(void)
{
    tg_ctx ctx;
    tg_ctx_init(&ctx);
    int64_t n = 256, d[3] = {n, n, 2};
    tg_volume tex, img, out, tex_s, clean, flat_clean;
    random_volume(n, n, 2, TG_F32, 11, 100, &tex);
    tg_gaussian_opts g = TG_GAUSSIAN_OPTS_INIT;
    g.sigma[0] = g.sigma[1] = 1.5;
    g.per_slice = 1;
    CHECK_OK(&ctx, tg_gaussian(&ctx, &tex, &g, &tex_s)); /* a texture with grains of a few pixels */
    tg_volume_alloc(&ctx, d, TG_F32, NULL, &img);
    tg_volume_alloc(&ctx, d, TG_F32, NULL, &clean);
    for (int64_t z = 0; z < 2; z++)
        for (int64_t y = 0; y < n; y++)
            for (int64_t x = 0; x < n; x++) {
                double illum = 1.0 + 0.3 * (double)x / (double)n - 0.2 * (double)y / (double)n + 0.1 * z; /* 30 % across */
                double c = 50.0 + tg_volume_get(&tex_s, x, y, z);
                tg_volume_set(&clean, x, y, z, c);
                tg_volume_set(&img, x, y, z, c * illum);
            }
    tg_flatten_opts o = {{24, 24}, 2}, o0 = {{24, 24}, 0};
    tg_volume out0, flat_clean0;
    CHECK_OK(&ctx, tg_flatten(&ctx, &img, &o, &out));
    CHECK_OK(&ctx, tg_flatten(&ctx, &clean, &o, &flat_clean));
    CHECK_OK(&ctx, tg_flatten(&ctx, &img, &o0, &out0)); /* order 0, the reflected blur: biased at the edges */
    CHECK_OK(&ctx, tg_flatten(&ctx, &clean, &o0, &flat_clean0));
    /* residual large-scale variation: block means (32x32) of out / reference against their mean. Reference: the
     * flattened clean image, so the texture's own large-scale fluctuation (which flatten removes too, by design)
     * cancels and what is left is the illumination; before: img / clean, the illumination itself. The measure
     * against the clean image itself is printed as well. */
    for (int64_t z = 0; z < 2; z++) {
        double mean_in = 0, mean_out = 0, rin[64], rout[64], rtex[64], r0[64], m0 = 0;
        for (int64_t y = 0; y < n; y++)
            for (int64_t x = 0; x < n; x++) {
                mean_in += tg_volume_get(&img, x, y, z);
                mean_out += tg_volume_get(&out, x, y, z);
            }
        NEAR(mean_out / mean_in, 1.0, 1e-4); /* the slice keeps its mean grey level */
        double min = 0, mout = 0, mtex = 0;
        for (int64_t b = 0; b < 64; b++) {
            double si = 0, so = 0, st = 0, s0 = 0;
            for (int64_t y = (b / 8) * 32; y < (b / 8) * 32 + 32; y++)
                for (int64_t x = (b % 8) * 32; x < (b % 8) * 32 + 32; x++) {
                    double c = tg_volume_get(&clean, x, y, z);
                    si += tg_volume_get(&img, x, y, z) / c;
                    so += tg_volume_get(&out, x, y, z) / tg_volume_get(&flat_clean, x, y, z);
                    st += tg_volume_get(&out, x, y, z) / c;
                    s0 += tg_volume_get(&out0, x, y, z) / tg_volume_get(&flat_clean0, x, y, z);
                }
            r0[b] = s0 / 1024;
            m0 += r0[b] / 64;
            rin[b] = si / 1024;
            rout[b] = so / 1024;
            rtex[b] = st / 1024;
            min += rin[b] / 64;
            mout += rout[b] / 64;
            mtex += rtex[b] / 64;
        }
        double dev_in = 0, dev_out = 0, dev_tex = 0, dev0 = 0;
        for (int64_t b = 0; b < 64; b++) {
            dev0 = fmax(dev0, fabs(r0[b] / m0 - 1));
            dev_in = fmax(dev_in, fabs(rin[b] / min - 1));
            dev_out = fmax(dev_out, fabs(rout[b] / mout - 1));
            dev_tex = fmax(dev_tex, fabs(rtex[b] / mtex - 1));
        }
        fprintf(stderr, "flatten slice %lld: illumination left %.2f %% before, %.2f %% after with order 2 (%.2f %% "
                "against the unflattened clean image, texture fluctuation included), %.2f %% with order 0\n",
                (long long)z, 100 * dev_in, 100 * dev_out, 100 * dev_tex, 100 * dev0);
        CHECK(dev0 > 0.01); /* the reflected blur's edge bias, which orders 1-2 remove */
        CHECK(dev_in > 0.15);
        CHECK(dev_out <= 0.01); /* the target, edges included (local-linear blur: no edge bias) */
        CHECK(dev_tex <= 0.03);
    }
    /* an affine field on a constant image is removed exactly: the local-linear blur reproduces it to rounding */
    for (int64_t z = 0; z < 2; z++)
        for (int64_t y = 0; y < n; y++)
            for (int64_t x = 0; x < n; x++)
                tg_volume_set(&img, x, y, z, 80.0 * (1.0 + 0.3 * (double)x / (double)n - 0.2 * (double)y / (double)n));
    tg_volume_release(&out);
    CHECK_OK(&ctx, tg_flatten(&ctx, &img, &o, &out));
    double worst = 0;
    for (int64_t z = 0; z < 2; z++)
        for (int64_t y = 0; y < n; y++)
            for (int64_t x = 0; x < n; x++) worst = fmax(worst, fabs(tg_volume_get(&out, x, y, z) / tg_volume_get(&out, 0, 0, z) - 1));
    CHECK(worst <= 1e-5);
    /* order 2 removes a quadratic field exactly (Keys interpolation of the coarse grid reproduces quadratics too) */
    for (int64_t z = 0; z < 2; z++)
        for (int64_t y = 0; y < n; y++)
            for (int64_t x = 0; x < n; x++) {
                double u = (double)x / (double)n - 0.4, v = (double)y / (double)n - 0.6;
                tg_volume_set(&img, x, y, z, 80.0 * (1.2 - 0.5 * u * u - 0.3 * v * v + 0.2 * u * v + 0.1 * u));
            }
    tg_volume_release(&out);
    CHECK_OK(&ctx, tg_flatten(&ctx, &img, &o, &out));
    worst = 0;
    for (int64_t z = 0; z < 2; z++)
        for (int64_t y = 0; y < n; y++)
            for (int64_t x = 0; x < n; x++) worst = fmax(worst, fabs(tg_volume_get(&out, x, y, z) / tg_volume_get(&out, 0, 0, z) - 1));
    CHECK(worst <= 1e-5);
    o.order = 1; /* local linear: the curvature is left (sigma^2 / 2 times the Laplacian, relative) */
    tg_volume_release(&out);
    CHECK_OK(&ctx, tg_flatten(&ctx, &img, &o, &out));
    worst = 0;
    for (int64_t y = 0; y < n; y++)
        for (int64_t x = 0; x < n; x++) worst = fmax(worst, fabs(tg_volume_get(&out, x, y, 0) / tg_volume_get(&out, 0, 0, 0) - 1));
    CHECK(worst > 1e-3);
    o.order = 3;
    tg_volume bad3;
    CHECK(tg_flatten(&ctx, &img, &o, &bad3) == TG_ERR_ARG && strstr(ctx.msg, "order"));
    o.order = 2;
    tg_volume_release(&clean);
    tg_volume_release(&flat_clean);
    tg_volume_release(&out0);
    tg_volume_release(&flat_clean0);
    o.sigma[1] = 0;
    tg_volume bad;
    CHECK(tg_flatten(&ctx, &img, &o, &bad) == TG_ERR_ARG && strstr(ctx.msg, "sigma"));
    tg_volume_release(&tex);
    tg_volume_release(&tex_s);
    tg_volume_release(&img);
    tg_volume_release(&out);
}

/* ---- normalize ---- */

static void test_normalize(void)
{
    tg_ctx ctx;
    tg_ctx_init(&ctx);
    tg_volume v, out, f, fo;
    random_volume(40, 30, 3, TG_U8, 9, 200, &v);
    tg_normalize_opts o = TG_NORMALIZE_OPTS_INIT;
    o.saturated = 2.0;
    double lohi[6];
    CHECK_OK(&ctx, tg_normalize(&ctx, &v, &o, &out, lohi));
    CHECK(out.dtype == TG_U8);
    int64_t n = 1200, t = (int64_t)floor(1200 * 2.0 / 200); /* 12 voxels may saturate at each end */
    double vals[1200];
    for (int64_t z = 0; z < 3; z++) {
        for (int64_t i = 0; i < n; i++) vals[i] = tg_volume_get(&v, i % 40, i / 40, z);
        qsort(vals, (size_t)n, sizeof *vals, cmp_double);
        CHECK(lohi[2 * z] == vals[t] && lohi[2 * z + 1] == vals[n - 1 - t]); /* ImageJ's rule, exactly */
        int64_t zeros = 0, tops = 0;
        for (int64_t i = 0; i < n; i++) {
            double a = tg_volume_get(&v, i % 40, i / 40, z), b = tg_volume_get(&out, i % 40, i / 40, z);
            zeros += b == 0;
            tops += b == 255;
            if (a > vals[t] && a < vals[n - 1 - t]) CHECK(b == floor((a - vals[t]) / (vals[n - 1 - t] - vals[t]) * 255));
        }
        CHECK(zeros > t && tops > t); /* ties at lo/hi saturate too */
    }
    tg_volume_release(&out);
    /* floats to [0, 1]; global */
    tg_volume_astype(&ctx, &v, TG_F32, &f);
    for (int i = 0; i < 1200 * 3; i++) ((float *)tg_volume_ptr(&f, 0, 0, 0))[i] += (float)(i % 7) * 0.01f; /* fewer ties */
    o.per_slice = 0;
    o.saturated = 1.0;
    CHECK_OK(&ctx, tg_normalize(&ctx, &f, &o, &fo, lohi));
    CHECK(fo.dtype == TG_F32);
    int64_t below = 0, above = 0, t3 = (int64_t)floor(3600 * 1.0 / 200);
    for (int i = 0; i < 3600; i++) {
        float a = ((float *)tg_volume_ptr(&f, 0, 0, 0))[i], b = ((float *)tg_volume_ptr(&fo, 0, 0, 0))[i];
        below += a < lohi[0];
        above += a > lohi[1];
        if (a == lohi[0]) CHECK(b == 0.0f);
        if (a == lohi[1]) CHECK(b == 1.0f);
        CHECK(b >= 0 && b <= 1);
    }
    CHECK(below <= t3 && above <= t3);
    o.saturated = 100;
    CHECK(tg_normalize(&ctx, &f, &o, &out, NULL) == TG_ERR_ARG && strstr(ctx.msg, "saturated"));
    tg_volume_release(&f);
    tg_volume_release(&fo);
    tg_volume_release(&v);
}

/* ---- Daubechies ---- */

static void test_daubechies(void)
{
    double h[2 * TG_DAUBECHIES_MAX];
    CHECK(tg_daubechies(1, h) == 0);
    NEAR(h[0], M_SQRT1_2, 1e-15);
    NEAR(h[1], M_SQRT1_2, 1e-15);
    CHECK(tg_daubechies(2, h) == 0);
    double s3 = sqrt(3.0), k = 4 * sqrt(2.0);
    NEAR(h[0], (1 + s3) / k, 1e-14);
    NEAR(h[1], (3 + s3) / k, 1e-14);
    NEAR(h[2], (3 - s3) / k, 1e-14);
    NEAR(h[3], (1 - s3) / k, 1e-14);
    /* db4 as published (Daubechies 1992, Table 6.1; PyWavelets' db4.rec_lo) */
    static const double db4[8] = {0.23037781330885523, 0.7148465705525415, 0.6308807679295904, -0.02798376941698385,
                                  -0.18703481171888114, 0.030841381835986965, 0.032883011666982945, -0.010597401784997278};
    CHECK(tg_daubechies(4, h) == 0);
    for (int i = 0; i < 8; i++) NEAR(h[i], db4[i], 1e-12);
    for (int N = 1; N <= TG_DAUBECHIES_MAX; N++) {
        CHECK(tg_daubechies(N, h) == 0);
        int F = 2 * N;
        double sum = 0;
        for (int i = 0; i < F; i++) sum += h[i];
        NEAR(sum, sqrt(2.0), 1e-10);
        for (int m = 0; m < N; m++) { /* orthonormal to its even shifts */
            double s = 0;
            for (int i = 0; i + 2 * m < F; i++) s += h[i] * h[i + 2 * m];
            NEAR(s, m == 0 ? 1.0 : 0.0, 1e-9);
        }
        for (int p = 0; p < N; p++) { /* N vanishing moments of the wavelet */
            double s = 0, scale = 0;
            for (int i = 0; i < F; i++) {
                double t = (i % 2 ? -1 : 1) * pow(i, p) * h[i];
                s += t;
                scale += fabs(t);
            }
            NEAR(s / scale, 0, 1e-8);
        }
        /* minimum phase: the energy comes first */
        double e1 = 0, e2 = 0;
        for (int i = 0; i < N; i++) e1 += h[i] * h[i];
        for (int i = N; i < F; i++) e2 += h[i] * h[i];
        CHECK(e1 >= e2);
    }
    CHECK(tg_daubechies(0, h) == -1 && tg_daubechies(TG_DAUBECHIES_MAX + 1, h) == -1);
    CHECK(tg_destripe_max_levels(1024, 1024, 6) == 7); /* 517, 264, 137, 74, 42, 26, 18 (each from a band >= 24) */
    CHECK(tg_destripe_max_levels(64, 128, 10) == 2);   /* 41, 30 */
    CHECK(tg_destripe_max_levels(39, 128, 10) == 0);
}

/* ---- destripe ---- */

/* a dense grain texture (no stripes): uniform noise blurred with sigma 2, stretched to about 40..200 grey levels */
static void texture(int64_t nx, int64_t ny, int64_t nz, uint32_t seed, tg_volume *v)
{
    tg_ctx ctx;
    tg_ctx_init(&ctx);
    tg_volume noise;
    random_volume(nx, ny, nz, TG_F32, seed, 1000, &noise);
    tg_gaussian_opts g = TG_GAUSSIAN_OPTS_INIT;
    g.sigma[0] = g.sigma[1] = 2;
    g.per_slice = 1;
    tg_gaussian(&ctx, &noise, &g, v);
    float *p = tg_volume_ptr(v, 0, 0, 0);
    for (int64_t i = 0; i < tg_volume_count(v); i++) p[i] = 120 + (p[i] - 500) * 1.2f;
    tg_volume_release(&noise);
}

static double psnr(const tg_volume *a, const tg_volume *b, double peak)
{
    double se = 0;
    int64_t n = tg_volume_count(a);
    for (int64_t z = 0; z < a->dims[2]; z++)
        for (int64_t y = 0; y < a->dims[1]; y++)
            for (int64_t x = 0; x < a->dims[0]; x++) {
                double d = tg_volume_get(a, x, y, z) - tg_volume_get(b, x, y, z);
                se += d * d;
            }
    return 10 * log10(peak * peak / (se / (double)n));
}

/* power of the column means of (a - b), mean removed per slice: what vertical stripes leave */
static double stripe_power(const tg_volume *a, const tg_volume *b)
{
    double p = 0;
    int64_t nx = a->dims[0], ny = a->dims[1];
    for (int64_t z = 0; z < a->dims[2]; z++) {
        double cm[1024], m = 0;
        for (int64_t x = 0; x < nx; x++) {
            cm[x] = 0;
            for (int64_t y = 0; y < ny; y++) cm[x] += tg_volume_get(a, x, y, z) - tg_volume_get(b, x, y, z);
            cm[x] /= (double)ny;
            m += cm[x];
        }
        m /= (double)nx;
        for (int64_t x = 0; x < nx; x++) p += (cm[x] - m) * (cm[x] - m);
    }
    return p;
}

static void test_destripe(void)
{
    tg_ctx c1, c3;
    tg_ctx_init(&c1);
    tg_ctx_init(&c3);
    c1.nthreads = 1;
    c3.nthreads = 3;
    /* against an independent implementation (PyWavelets + numpy, bench/filter_ref.py) */
    struct { const char *ref; tg_destripe_opts o; } fx[] = {{"destripe_L3_db2_s2_v.f32", {3, 2, 2.0, TG_DESTRIPE_VERTICAL}},
                                                            {"destripe_L2_db4_s1_h.f32", {2, 4, 1.0, TG_DESTRIPE_HORIZONTAL}}};
    for (int i = 0; i < 2; i++) {
        tg_volume din, dref, dout;
        CHECK(load_raw(fx[i].ref, 64, 48, 1, &dref) == 0);
        CHECK(load_raw("destripe_in.f32", 64, 48, 1, &din) == 0);
        CHECK_OK(&c1, tg_destripe(&c1, &din, &fx[i].o, &dout));
        double e = dout.buf ? max_rel_diff(&dout, &dref) : 1;
        if (e > 2e-6) fprintf(stderr, "destripe vs pywt %s: %g\n", fx[i].ref, e);
        CHECK(e <= 2e-6);
        tg_volume_release(&din);
        tg_volume_release(&dref);
        tg_volume_release(&dout);
    }
    /* stripes on a flat background: what the method is for. Single-pixel stripes, +-12 grey levels */
    int64_t nx = 256, ny = 256, nz = 2, dd[3] = {nx, ny, nz};
    tg_volume clean, striped, out, out3, ramp, rout;
    tg_volume_alloc(&c1, dd, TG_F32, NULL, &clean);
    tg_volume_fill(&c1, &clean, 100);
    tg_volume_copy(&c1, &clean, &striped);
    uint32_t seed = 77;
    for (int64_t z = 0; z < nz; z++)
        for (int64_t x = 0; x < nx; x++) {
            double col = 24 * (unif(&seed) - 0.5);
            for (int64_t y = 0; y < ny; y++) tg_volume_set(&striped, x, y, z, 100 + col);
        }
    tg_destripe_opts o = TG_DESTRIPE_OPTS_INIT;
    CHECK_OK(&c1, tg_destripe(&c1, &striped, &o, &out));
    CHECK_OK(&c3, tg_destripe(&c3, &striped, &o, &out3));
    CHECK(same_bytes(&out, &out3));
    double p_before = stripe_power(&striped, &clean), p_after = stripe_power(&out, &clean);
    double q_before = psnr(&striped, &clean, 255), q_after = psnr(&out, &clean, 255);
    fprintf(stderr, "destripe (flat + stripes): stripe power %.1f %% removed, PSNR %.2f -> %.2f dB\n",
            100 * (1 - p_after / p_before), q_before, q_after);
    CHECK(p_after <= 0.1 * p_before);
    CHECK(q_after >= q_before + 6);
    tg_volume_release(&out);
    tg_volume_release(&out3);
    tg_volume_release(&clean);
    tg_volume_release(&striped);
    /* a stripe-free dense texture is changed where its own column means look like stripes: measured, bounded */
    texture(nx, ny, 1, 21, &clean);
    tg_destripe_opts ol = {3, 2, 0.5, TG_DESTRIPE_VERTICAL};
    CHECK_OK(&c3, tg_destripe(&c3, &clean, &ol, &out));
    double q_clean = psnr(&out, &clean, 255);
    fprintf(stderr, "destripe: stripe-free texture (std 50) with levels 3, db2, sigma 0.5: PSNR %.2f dB\n", q_clean);
    CHECK(q_clean >= 33);
    tg_volume_release(&out);
    /* an image constant along x has no vertical detail: the transform must give it back (perfect reconstruction) */
    int64_t d[3] = {100, 90, 1};
    tg_volume_alloc(&c1, d, TG_U16, NULL, &ramp);
    for (int64_t y = 0; y < 90; y++)
        for (int64_t x = 0; x < 100; x++) tg_volume_set(&ramp, x, y, 0, 1000 + 30 * y + 200 * sin(y * 0.3));
    for (int N = 1; N <= 8; N += 7) {
        tg_destripe_opts p = {tg_destripe_max_levels(100, 90, N), N, 3.0, TG_DESTRIPE_VERTICAL};
        CHECK_OK(&c1, tg_destripe(&c1, &ramp, &p, &rout));
        CHECK(rout.dtype == TG_F32);
        CHECK(max_rel_diff(&rout, &ramp) < 1e-5);
        tg_volume_release(&rout);
    }
    /* horizontal stripes are vertical stripes of the transposed image */
    tg_volume sq, sqt, ov, oh;
    random_volume(64, 64, 1, TG_F32, 5, 100, &sq);
    int64_t d2[3] = {64, 64, 1};
    tg_volume_alloc(&c1, d2, TG_F32, NULL, &sqt);
    for (int64_t y = 0; y < 64; y++)
        for (int64_t x = 0; x < 64; x++) tg_volume_set(&sqt, y, x, 0, tg_volume_get(&sq, x, y, 0));
    tg_destripe_opts pv = {3, 3, 1.5, TG_DESTRIPE_VERTICAL}, phz = {3, 3, 1.5, TG_DESTRIPE_HORIZONTAL};
    CHECK_OK(&c1, tg_destripe(&c1, &sq, &pv, &ov));
    CHECK_OK(&c1, tg_destripe(&c1, &sqt, &phz, &oh));
    double tdiff = 0;
    for (int64_t y = 0; y < 64; y++)
        for (int64_t x = 0; x < 64; x++) tdiff = fmax(tdiff, fabs(tg_volume_get(&ov, x, y, 0) - tg_volume_get(&oh, y, x, 0)));
    CHECK(tdiff < 1e-3);
    tg_volume_release(&sq);
    tg_volume_release(&sqt);
    tg_volume_release(&ov);
    tg_volume_release(&oh);
    /* bad input */
    tg_destripe_opts b = o;
    b.levels = 30;
    CHECK(tg_destripe(&c1, &clean, &b, &out) == TG_ERR_ARG && strstr(c1.msg, "levels"));
    b = o;
    b.wavelet = 0;
    CHECK(tg_destripe(&c1, &clean, &b, &out) == TG_ERR_ARG && strstr(c1.msg, "wavelet"));
    b = o;
    b.sigma = 0;
    CHECK(tg_destripe(&c1, &clean, &b, &out) == TG_ERR_ARG && strstr(c1.msg, "sigma"));
    CHECK(out.buf == NULL);
    tg_volume_release(&clean);
    tg_volume_release(&ramp);
}

static void test_cancel_and_nomem(void)
{
    tg_ctx ctx;
    tg_ctx_init(&ctx);
    tg_volume v, out;
    random_volume(64, 64, 3, TG_U8, 2, 256, &v);
    tg_rank_opts r = {1, 0};
    tg_flatten_opts fl = {{8, 8}, 2};
    tg_normalize_opts no = TG_NORMALIZE_OPTS_INIT;
    tg_destripe_opts de = {2, 4, 2.0, TG_DESTRIPE_VERTICAL};
    atomic_store(&ctx.cancel, 1);
    CHECK(tg_median(&ctx, &v, &r, &out) == TG_ERR_CANCELLED && out.buf == NULL);
    CHECK(tg_mean(&ctx, &v, &r, &out) == TG_ERR_CANCELLED && out.buf == NULL);
    CHECK(tg_flatten(&ctx, &v, &fl, &out) == TG_ERR_CANCELLED && out.buf == NULL);
    CHECK(tg_normalize(&ctx, &v, &no, &out, NULL) == TG_ERR_CANCELLED && out.buf == NULL);
    CHECK(tg_destripe(&ctx, &v, &de, &out) == TG_ERR_CANCELLED && out.buf == NULL);
    atomic_store(&ctx.cancel, 0);
    for (long n = 1; n <= 5; n++) {
        tg_status st[5];
        tg_alloc_fail_after(n); st[0] = tg_median(&ctx, &v, &r, &out); tg_volume_release(&out);
        tg_alloc_fail_after(n); st[1] = tg_mean(&ctx, &v, &r, &out); tg_volume_release(&out);
        tg_alloc_fail_after(n); st[2] = tg_flatten(&ctx, &v, &fl, &out); tg_volume_release(&out);
        tg_alloc_fail_after(n); st[3] = tg_normalize(&ctx, &v, &no, &out, NULL); tg_volume_release(&out);
        tg_alloc_fail_after(n); st[4] = tg_destripe(&ctx, &v, &de, &out); tg_volume_release(&out);
        tg_alloc_fail_after(0);
        for (int i = 0; i < 5; i++) CHECK(st[i] == TG_OK || st[i] == TG_ERR_NOMEM);
    }
    tg_volume_release(&v);
}

TG_TEST_MAIN(test_rank_against_scipy, test_median_brute_force, test_median_r1_network, test_mean_threads, test_flatten_gradient, test_normalize,
             test_daubechies, test_destripe, test_cancel_and_nomem)
