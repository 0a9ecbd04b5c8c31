/* test_edt.c — exact Euclidean distance transform and local thickness: brute force on random volumes with
 * anisotropic spacing, a ball (max = radius), scipy's distance_transform_edt on the shared volumes
 * (tests/fixtures/measure/scipy_edt.txt), thread-count independence, slabs and balls for the thickness (unions of
 * random balls against brute force, a slab thicker than the containment table reaches), bad input. */
#include "tg_test.h"
#include "measure_data.h"
#include "measure/tg_edt.h"
#include "measure/tg_thickness.h"

#include <string.h>

static void fixture_path(const char *name, char *out, size_t n)
{
    const char *f = __FILE__, *cut = strstr(f, "tests/c/");
    snprintf(out, n, "%.*stests/fixtures/measure/%s", cut ? (int)(cut - f) : 0, f, name);
}

static void random_mask(tg_ctx *ctx, const int64_t d[3], double p, uint64_t seed, const double sp[3], tg_volume *v)
{
    tg_volume_alloc(ctx, d, TG_U8, sp, v);
    uint8_t *m = v->buf->data;
    for (int64_t i = 0; i < d[0] * d[1] * d[2]; i++) m[i] = (double)(measure_rng(&seed) >> 11) * 0x1.0p-53 < p;
}

/* Squared distance from every voxel to the nearest zero voxel, by brute force. */
static void brute_edt2(const tg_volume *m, double *out)
{
    const int64_t *d = m->dims;
    const uint8_t *p = m->buf->data;
    int64_t n = tg_volume_count(m);
    for (int64_t i = 0; i < n; i++) {
        double best = INFINITY;
        if (!p[i]) { out[i] = 0; continue; }
        int64_t x = i % d[0], y = i / d[0] % d[1], z = i / (d[0] * d[1]);
        for (int64_t j = 0; j < n; j++) {
            if (p[j]) continue;
            double dx = (double)(j % d[0] - x) * m->spacing[0], dy = (double)(j / d[0] % d[1] - y) * m->spacing[1];
            double dz = (double)(j / (d[0] * d[1]) - z) * m->spacing[2], e = dx * dx + dy * dy + dz * dz;
            if (e < best) best = e;
        }
        out[i] = best;
    }
}

static void test_brute_force(void)
{
    tg_ctx ctx;
    tg_ctx_init(&ctx);
    static const int64_t shapes[][3] = {{13, 11, 9}, {1, 17, 12}, {25, 1, 1}, {6, 7, 19}};
    static const double sps[][3] = {{1, 1, 1}, {2, 1, 3}, {0.5, 0.75, 1.25}};
    for (int s = 0; s < 4; s++)
        for (int k = 0; k < 3; k++) {
            tg_volume m, e;
            random_mask(&ctx, shapes[s], 0.85, 300 + s * 3 + k, sps[k], &m);
            int64_t n = tg_volume_count(&m);
            ((uint8_t *)m.buf->data)[n / 2] = 0; /* at least one background voxel */
            double *ref = malloc((size_t)n * sizeof *ref), worst = 0;
            brute_edt2(&m, ref);
            tg_edt_opts o = TG_EDT_OPTS_INIT;
            CHECK_OK(&ctx, tg_edt(&ctx, &m, &o, &e));
            const double *got = e.buf->data;
            for (int64_t i = 0; i < n; i++) worst = fmax(worst, fabs(got[i] - sqrt(ref[i])));
            NEAR(worst, 0.0, 1e-12);
            tg_volume_release(&e);
            o.squared = 1;
            o.dtype = TG_F32;
            CHECK_OK(&ctx, tg_edt(&ctx, &m, &o, &e));
            CHECK(e.dtype == TG_F32);
            worst = 0;
            for (int64_t i = 0; i < n; i++) worst = fmax(worst, fabs(((float *)e.buf->data)[i] - ref[i]) / fmax(1.0, ref[i]));
            NEAR(worst, 0.0, 1e-6);
            tg_volume_release(&e);
            free(ref);
            tg_volume_release(&m);
        }
}

/* The ball |x - c| < 20: the nearest background voxel of the centre is at exactly 20 voxels; the thickness of every
 * voxel is the ball's diameter. Spacing 1e-7 m gives metres. */
static void test_ball(void)
{
    tg_ctx ctx;
    tg_ctx_init(&ctx);
    ctx.nthreads = 2;
    int64_t d[3] = {47, 45, 43};
    double sp[3] = {1e-7, 1e-7, 1e-7};
    tg_volume m, e, t;
    tg_volume_alloc(&ctx, d, TG_U8, sp, &m);
    int64_t inside = 0;
    for (int z = 0; z < 43; z++) for (int y = 0; y < 45; y++) for (int x = 0; x < 47; x++) {
        int dx = x - 23, dy = y - 22, dz = z - 21;
        if (dx * dx + dy * dy + dz * dz < 400) { tg_volume_set(&m, x, y, z, 1); inside++; }
    }
    CHECK_OK(&ctx, tg_edt(&ctx, &m, NULL, &e));
    tg_stats s;
    CHECK_OK(&ctx, tg_volume_stats(&ctx, &e, &s));
    NEAR(s.max, 20 * 1e-7, 1e-18);
    NEAR(tg_volume_get(&e, 23, 22, 21), 2e-6, 1e-18);
    CHECK_OK(&ctx, tg_thickness(&ctx, &m, &t));
    int64_t right = 0, outside_zero = 1;
    for (int z = 0; z < 43; z++) for (int y = 0; y < 45; y++) for (int x = 0; x < 47; x++) {
        double v = tg_volume_get(&t, x, y, z);
        if (tg_volume_get(&m, x, y, z)) right += fabs(v - 4e-6) < 1e-12;
        else outside_zero &= v == 0.0;
    }
    CHECK(right == inside && outside_zero);
    tg_volume_release(&m); tg_volume_release(&e); tg_volume_release(&t);
}

/* A slab of T = 10 voxels along z (the volume faces are not boundaries): thickness T everywhere, scaled by the
 * z spacing when voxels are anisotropic; d10 = d50 = d90 = T. */
static void test_slab_thickness(void)
{
    tg_ctx ctx;
    tg_ctx_init(&ctx);
    int64_t d[3] = {12, 9, 22};
    for (int k = 0; k < 2; k++) {
        double sp[3] = {1, 1, k ? 2 : 1};
        tg_volume m, t;
        tg_volume_alloc(&ctx, d, TG_U8, sp, &m);
        for (int z = 5; z < 15; z++) for (int y = 0; y < 9; y++) for (int x = 0; x < 12; x++) tg_volume_set(&m, x, y, z, 1);
        CHECK_OK(&ctx, tg_thickness(&ctx, &m, &t));
        int ok = 1;
        for (int z = 0; z < 22; z++) for (int y = 0; y < 9; y++) for (int x = 0; x < 12; x++)
            ok &= tg_volume_get(&t, x, y, z) == (z >= 5 && z < 15 ? 10.0 * sp[2] : 0.0);
        CHECK(ok);
        double q[3] = {0.1, 0.5, 0.9}, dq[3];
        CHECK_OK(&ctx, tg_positive_quantiles(&ctx, &t, 3, q, dq));
        CHECK(dq[0] == 10 * sp[2] && dq[1] == 10 * sp[2] && dq[2] == 10 * sp[2]);
        tg_volume_release(&m); tg_volume_release(&t);
    }
}

/* Thickness by brute force: max over all centres c of 2 R(c) where |x - c| < R(c). */
static void test_thickness_brute(void)
{
    tg_ctx ctx;
    tg_ctx_init(&ctx);
    int64_t d[3] = {14, 12, 10};
    static const double sps[][3] = {{1, 1, 1}, {1.5, 1, 2.5}};
    for (int k = 0; k < 2; k++)
        for (int nt = 1; nt <= 3; nt += 2) {
            ctx.nthreads = nt;
            tg_volume m, t;
            random_mask(&ctx, d, 0.8, 77 + k, sps[k], &m);
            int64_t n = tg_volume_count(&m);
            double *e2 = malloc((size_t)n * sizeof *e2), *ref = calloc((size_t)n, sizeof *ref);
            brute_edt2(&m, e2);
            for (int64_t c = 0; c < n; c++) {
                if (e2[c] <= 0) continue;
                int64_t cx = c % d[0], cy = c / d[0] % d[1], cz = c / (d[0] * d[1]);
                for (int64_t i = 0; i < n; i++) {
                    double dx = (double)(i % d[0] - cx) * sps[k][0], dy = (double)(i / d[0] % d[1] - cy) * sps[k][1];
                    double dz = (double)(i / (d[0] * d[1]) - cz) * sps[k][2];
                    if (dx * dx + dy * dy + dz * dz < e2[c] && 2 * sqrt(e2[c]) > ref[i]) ref[i] = 2 * sqrt(e2[c]);
                }
            }
            CHECK_OK(&ctx, tg_thickness(&ctx, &m, &t));
            double worst = 0;
            for (int64_t i = 0; i < n; i++) worst = fmax(worst, fabs(((float *)t.buf->data)[i] - ref[i]) / fmax(ref[i], 1.0));
            NEAR(worst, 0.0, 1e-6);
            free(e2); free(ref);
            tg_volume_release(&m); tg_volume_release(&t);
        }
}

/* Local thickness by brute force over every ball: the reference max over centres c of 2 R(c) where |x - c| < R(c),
 * with R from tg_edt (itself checked against brute force above), visiting only each ball's bounding box. */
static void thickness_reference(const tg_volume *m, const tg_volume *e2v, double *ref)
{
    const int64_t *d = m->dims;
    const double *e2 = e2v->buf->data, *sp = m->spacing;
    int64_t n = tg_volume_count(m);
    for (int64_t i = 0; i < n; i++) ref[i] = 0;
    for (int64_t c = 0; c < n; c++) {
        if (e2[c] <= 0) continue;
        int64_t cx = c % d[0], cy = c / d[0] % d[1], cz = c / (d[0] * d[1]), h[3];
        for (int k = 0; k < 3; k++) h[k] = (int64_t)(sqrt(e2[c]) / sp[k]) + 1;
        for (int64_t z = cz - h[2] < 0 ? 0 : cz - h[2]; z <= cz + h[2] && z < d[2]; z++)
            for (int64_t y = cy - h[1] < 0 ? 0 : cy - h[1]; y <= cy + h[1] && y < d[1]; y++)
                for (int64_t x = cx - h[0] < 0 ? 0 : cx - h[0]; x <= cx + h[0] && x < d[0]; x++) {
                    double dx = (double)(x - cx) * sp[0], dy = (double)(y - cy) * sp[1], dz = (double)(z - cz) * sp[2];
                    int64_t i = x + d[0] * (y + d[1] * z);
                    if (dx * dx + dy * dy + dz * dz < e2[c] && 2 * sqrt(e2[c]) > ref[i]) ref[i] = 2 * sqrt(e2[c]);
                }
    }
}

/* Unions of random balls (radii 2-9 voxels, touching and overlapping, some cut by the faces): the structures
 * where the discrete containment table drops most centres and the painting order matters. Isotropic, integer
 * and non-integer anisotropic spacing; exact against brute force and identical for 1 and 3 threads. */
static void test_thickness_balls(void)
{
    tg_ctx ctx;
    tg_ctx_init(&ctx);
    int64_t d[3] = {34, 30, 26};
    static const double sps[][3] = {{1, 1, 1}, {1, 1, 3}, {1.3, 1, 2.1}};
    for (int k = 0; k < 3; k++) {
        tg_volume m, e2v, a, b;
        tg_volume_alloc(&ctx, d, TG_U8, sps[k], &m);
        uint64_t seed = 99 + k;
        for (int ball = 0; ball < 14; ball++) {
            double c[3], r = 2 + 7 * (double)(measure_rng(&seed) >> 11) * 0x1.0p-53;
            for (int i = 0; i < 3; i++) c[i] = (double)(measure_rng(&seed) >> 11) * 0x1.0p-53 * (double)d[i];
            for (int64_t z = 0; z < d[2]; z++)
                for (int64_t y = 0; y < d[1]; y++)
                    for (int64_t x = 0; x < d[0]; x++) {
                        double dx = (x - c[0]) * sps[k][0], dy = (y - c[1]) * sps[k][1], dz = (z - c[2]) * sps[k][2];
                        if (dx * dx + dy * dy + dz * dz < r * r) tg_volume_set(&m, x, y, z, 1);
                    }
        }
        int64_t n = tg_volume_count(&m);
        tg_edt_opts eo = TG_EDT_OPTS_INIT;
        eo.squared = 1;
        CHECK_OK(&ctx, tg_edt(&ctx, &m, &eo, &e2v));
        double *ref = malloc((size_t)n * sizeof *ref), worst = 0;
        thickness_reference(&m, &e2v, ref);
        ctx.nthreads = 1;
        CHECK_OK(&ctx, tg_thickness(&ctx, &m, &a));
        ctx.nthreads = 3;
        CHECK_OK(&ctx, tg_thickness(&ctx, &m, &b));
        for (int64_t i = 0; i < n; i++) worst = fmax(worst, fabs(((float *)a.buf->data)[i] - ref[i]) / fmax(ref[i], 1.0));
        NEAR(worst, 0.0, 1e-6);
        CHECK(memcmp(a.buf->data, b.buf->data, (size_t)n * 4) == 0);
        free(ref);
        tg_volume_release(&m); tg_volume_release(&e2v); tg_volume_release(&a); tg_volume_release(&b);
    }
}

/* A slab 130 voxels thick: radii up to 65 go beyond the containment table (2^18 octant points, radius ~63),
 * where the continuous test decides; the thickness is still 130 voxels everywhere in the slab. */
static void test_thickness_beyond_table(void)
{
    tg_ctx ctx;
    tg_ctx_init(&ctx);
    ctx.nthreads = 2;
    int64_t d[3] = {5, 4, 132};
    double sp[3] = {1e-9, 1e-9, 1e-9}; /* isotropic: the octant of radius 65 has 67^3 > 2^18 points */
    tg_volume m, t;
    tg_volume_alloc(&ctx, d, TG_U8, sp, &m);
    for (int z = 1; z < 131; z++) for (int y = 0; y < 4; y++) for (int x = 0; x < 5; x++) tg_volume_set(&m, x, y, z, 1);
    CHECK_OK(&ctx, tg_thickness(&ctx, &m, &t));
    int ok = 1;
    for (int z = 0; z < 132; z++) for (int y = 0; y < 4; y++) for (int x = 0; x < 5; x++)
        ok &= fabs(tg_volume_get(&t, x, y, z) - (z >= 1 && z < 131 ? 130e-9 : 0.0)) < 1e-6 * 130e-9;
    CHECK(ok);
    tg_volume_release(&m); tg_volume_release(&t);
}

static void test_threads(void)
{
    tg_ctx ctx;
    tg_ctx_init(&ctx);
    int64_t d[3] = {37, 29, 31};
    double sp[3] = {1, 2, 3};
    tg_volume m, a, b;
    random_mask(&ctx, d, 0.9, 5, sp, &m);
    ctx.nthreads = 1;
    CHECK_OK(&ctx, tg_edt(&ctx, &m, NULL, &a));
    ctx.nthreads = 3;
    CHECK_OK(&ctx, tg_edt(&ctx, &m, NULL, &b));
    CHECK(memcmp(a.buf->data, b.buf->data, (size_t)tg_volume_count(&m) * 8) == 0);
    tg_volume_release(&a); tg_volume_release(&b);
    ctx.nthreads = 1;
    CHECK_OK(&ctx, tg_thickness(&ctx, &m, &a));
    ctx.nthreads = 3;
    CHECK_OK(&ctx, tg_thickness(&ctx, &m, &b));
    CHECK(memcmp(a.buf->data, b.buf->data, (size_t)tg_volume_count(&m) * 4) == 0);
    tg_volume_release(&a); tg_volume_release(&b); tg_volume_release(&m);
}

static void test_bad_input(void)
{
    tg_ctx ctx;
    tg_ctx_init(&ctx);
    int64_t d[3] = {4, 5, 6};
    tg_volume m, out;
    tg_volume_alloc(&ctx, d, TG_U8, NULL, &m);
    tg_volume_fill(&ctx, &m, 1);
    CHECK(tg_edt(&ctx, &m, NULL, &out) == TG_ERR_ARG);
    CHECK(strstr(ctx.msg, "no zero") != NULL && out.buf == NULL);
    CHECK(tg_thickness(&ctx, &m, &out) == TG_ERR_ARG && out.buf == NULL);
    tg_volume_release(&m);
    tg_volume_alloc(&ctx, d, TG_F64, NULL, &m);
    CHECK(tg_edt(&ctx, &m, NULL, &out) == TG_ERR_ARG);
    CHECK(strstr(ctx.msg, "integer") != NULL);
    tg_volume_release(&m);
    /* an all-background mask: distances 0, thickness 0, no quantiles */
    tg_volume_alloc(&ctx, d, TG_U8, NULL, &m);
    CHECK_OK(&ctx, tg_thickness(&ctx, &m, &out));
    double q = 0.5, dq = -1;
    CHECK_OK(&ctx, tg_positive_quantiles(&ctx, &out, 1, &q, &dq));
    CHECK(dq == 0.0);
    tg_volume_release(&out);
    for (long k = 1; k <= 12; k++) {
        tg_volume_set(&m, 1, 1, 1, 1);
        tg_alloc_fail_after(k);
        tg_status st = tg_thickness(&ctx, &m, &out);
        tg_alloc_fail_after(0);
        CHECK(st == TG_OK || st == TG_ERR_NOMEM);
        tg_volume_release(&out);
    }
    tg_volume_release(&m);
}

/* scipy.ndimage.distance_transform_edt(im == phase, sampling=(sz, sy, sx)): max and mean in the phase to 1e-6. */
static void test_scipy(void)
{
    char path[1024], name[64], loaded[64] = "";
    fixture_path("scipy_edt.txt", path, sizeof path);
    FILE *f = fopen(path, "r");
    CHECK(f != NULL);
    if (!f) return;
    tg_ctx ctx;
    tg_ctx_init(&ctx);
    ctx.nthreads = 2;
    tg_volume v;
    tg_volume_init(&v);
    char buf[512];
    int cases = 0;
    while (fgets(buf, sizeof buf, f)) {
        int phase;
        double sp[3], mx, mean, sum;
        if (buf[0] == '#' || sscanf(buf, "%63s %d %lf %lf %lf %lf %lf %lf", name, &phase, &sp[0], &sp[1], &sp[2], &mx, &mean, &sum) != 8) continue;
        /* keeps the Debug run short: one phase of each large volume here; all of them in bench/measure.lua */
        if ((strcmp(name, "synth_3phase_200") == 0 && phase != 1) || (strcmp(name, "real_electrode") == 0 && phase != 0)) continue;
        if (strcmp(name, loaded) != 0) {
            tg_volume_release(&v);
            const char *rel = strcmp(name, "synth_3phase_100") == 0 ? "synth-3phase-100/synth_3phase_100.tif"
                            : strcmp(name, "synth_3phase_200") == 0 ? "synth-3phase-200/synth_3phase_200.tif"
                                                                     : "taufactor-nmc-electrode-3phase/electrode.tiff";
            if (!measure_load(&ctx, rel, strcmp(name, "real_electrode") == 0 ? 85 : 1, &v)) { loaded[0] = 0; continue; }
            snprintf(loaded, sizeof loaded, "%s", name);
        }
        tg_volume m, e;
        tg_volume_eq(&ctx, &v, phase, &m);
        memcpy(m.spacing, sp, sizeof sp);
        CHECK_OK(&ctx, tg_edt(&ctx, &m, NULL, &e));
        const double *p = e.buf->data;
        const uint8_t *in = m.buf->data;
        double gmax = 0, gsum = 0;
        int64_t cnt = 0;
        for (int64_t i = 0; i < tg_volume_count(&m); i++) {
            gmax = fmax(gmax, p[i]);
            gsum += p[i];
            cnt += in[i] != 0;
        }
        NEAR(gmax, mx, 1e-6);
        NEAR(gsum / (double)cnt, mean, 1e-6);
        NEAR(gsum, sum, 1e-6 * sum);
        cases++;
        tg_volume_release(&m);
        tg_volume_release(&e);
    }
    fclose(f);
    tg_volume_release(&v);
    fprintf(stderr, "scipy edt: %d cases compared\n", cases);
}

TG_TEST_MAIN(test_brute_force, test_ball, test_slab_thickness, test_thickness_brute, test_thickness_balls,
             test_thickness_beyond_table, test_threads, test_bad_input, test_scipy)
