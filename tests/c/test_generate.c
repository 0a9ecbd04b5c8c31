/* test_generate.c — the counter-based RNG, the cathode generator and the synthetic SEM, from truth:
 * Random123's known answers, exact phase counts, sphere statistics, geometry of the pore placement,
 * exact grey levels, a bilinear shift computed here, measured noise, thread-count independence. */
#include <stdlib.h>
#include <string.h>

#include "tg_test.h"
#include "generate/tg_cathode.h"
#include "core/tg_rng.h"
#include "generate/tg_sem.h"

static tg_ctx ctx;

static void setup(int threads)
{
    tg_ctx_init(&ctx);
    ctx.nthreads = threads;
}

/* Random123 kat_vectors, philox4x32 10 (counter, key -> output). */
static void test_philox_known_answers(void)
{
    static const uint32_t kat[3][10] = {
        {0, 0, 0, 0, 0, 0, 0x6627e8d5, 0xe169c58d, 0xbc57ac4c, 0x9b00dbd8},
        {0xffffffff, 0xffffffff, 0xffffffff, 0xffffffff, 0xffffffff, 0xffffffff, 0x408f276d, 0x41c83b0e, 0xa20bc7c6, 0x6d5451fd},
        {0x243f6a88, 0x85a308d3, 0x13198a2e, 0x03707344, 0xa4093822, 0x299f31d0, 0xd16cfe09, 0x94fdcceb, 0x5001e420, 0x24126ea1},
    };
    for (int t = 0; t < 3; t++) {
        tg_u32x4 c = {{kat[t][0], kat[t][1], kat[t][2], kat[t][3]}};
        tg_u32x4 r = tg_philox4x32(c, kat[t][4], kat[t][5]);
        for (int i = 0; i < 4; i++) CHECK(r.v[i] == kat[t][6 + i]);
    }
}

/* Moments of the uniform and normal draws (n = 200000: tolerances are > 5 standard errors). */
static void test_rng_moments(void)
{
    tg_rng r = tg_rng_make(42, tg_rng_stream(7, 3));
    double su = 0, su2 = 0, sn = 0, sn2 = 0;
    int n = 200000, outside = 0;
    for (int i = 0; i < n; i++) {
        double u = tg_rng_uniform(&r), g = tg_rng_normal(&r);
        outside += !(u >= 0 && u < 1);
        su += u; su2 += u * u; sn += g; sn2 += g * g;
    }
    CHECK(outside == 0);
    NEAR(su / n, 0.5, 0.004);
    NEAR(su2 / n - (su / n) * (su / n), 1.0 / 12, 0.002);
    NEAR(sn / n, 0.0, 0.012);
    NEAR(sn2 / n, 1.0, 0.02);
    /* the cursor is a pure function of (seed, stream): replay gives the same numbers, another stream does not */
    tg_rng a = tg_rng_make(9, 1), b = tg_rng_make(9, 1), c = tg_rng_make(9, 2);
    int same = 1, diff = 0;
    for (int i = 0; i < 100; i++) {
        uint32_t x = tg_rng_u32(&a);
        if (x != tg_rng_u32(&b)) same = 0;
        if (x != tg_rng_u32(&c)) diff++;
    }
    CHECK(same);
    CHECK(diff > 95);
}

static tg_cathode_opts small_opts(int n)
{
    tg_cathode_opts o = TG_CATHODE_OPTS_INIT;
    o.size[0] = o.size[1] = o.size[2] = n;
    o.spacing[0] = o.spacing[1] = o.spacing[2] = 2e-7; /* 120^3 x 0.2 um = 24 um: CAM spheres of 20 voxels */
    return o;
}

static void count_labels(const tg_volume *v, int64_t cnt[3], int64_t *other)
{
    const uint8_t *p = (const uint8_t *)v->buf->data + v->offset;
    cnt[0] = cnt[1] = cnt[2] = 0;
    *other = 0;
    for (int64_t q = 0; q < tg_volume_count(v); q++) {
        if (p[q] <= 2) cnt[p[q]]++;
        else (*other)++;
    }
}

static void test_cathode_fractions(void)
{
    setup(2);
    struct { double cam, por, sx, sy, sz; } cases[] = {
        {0.5, 0.08, 2e-7, 2e-7, 2e-7}, {0.6, 0.12, 2e-7, 2e-7, 3e-7}, {0.35, 0.03, 1.5e-7, 2e-7, 2e-7}};
    for (int c = 0; c < 3; c++) {
        tg_cathode_opts o = small_opts(120);
        o.size[1] = 100;
        o.cam_fraction = cases[c].cam;
        o.porosity = cases[c].por;
        o.spacing[0] = cases[c].sx; o.spacing[1] = cases[c].sy; o.spacing[2] = cases[c].sz;
        o.seed = 5 + c;
        tg_volume lab;
        tg_cathode_info info;
        CHECK_OK(&ctx, tg_cathode(&ctx, &o, &lab, NULL, &info));
        if (!lab.buf) continue;
        int64_t cnt[3], other, N = 120 * 100 * 120;
        count_labels(&lab, cnt, &other);
        CHECK(other == 0);
        CHECK(lab.dtype == TG_U8 && lab.dims[0] == 120 && lab.dims[1] == 100 && lab.dims[2] == 120);
        CHECK(lab.spacing[2] == cases[c].sz);
        NEAR((double)cnt[1] / N, cases[c].cam, 0.01);
        NEAR((double)cnt[0] / N, cases[c].por, 0.01);
        NEAR((double)cnt[2] / N, 1 - cases[c].cam - cases[c].por, 0.01);
        /* by construction: pores exact, CAM within the last particle's lattice steps */
        CHECK(cnt[0] == llround(cases[c].por * N));
        NEAR((double)cnt[1], cases[c].cam * N, 200);
        for (int a = 0; a < 3; a++) CHECK(info.count[a] == cnt[a]);
        NEAR(info.fraction[1], (double)cnt[1] / N, 1e-12);
        tg_cathode_info_free(&info);
        tg_volume_release(&lab);
    }
}

static void test_cathode_threads_identical(void)
{
    tg_volume l1, l2, g1, g2;
    tg_cathode_opts o = small_opts(96);
    o.seed = 11;
    setup(1);
    CHECK_OK(&ctx, tg_cathode(&ctx, &o, &l1, &g1, NULL));
    setup(2);
    CHECK_OK(&ctx, tg_cathode(&ctx, &o, &l2, &g2, NULL));
    if (l1.buf && l2.buf && g1.buf && g2.buf) {
        CHECK(memcmp(l1.buf->data, l2.buf->data, l1.buf->bytes) == 0);
        CHECK(memcmp(g1.buf->data, g2.buf->data, g1.buf->bytes) == 0);
        /* grain ids: positive exactly on ISE voxels */
        const uint8_t *lab = l1.buf->data;
        const int32_t *gr = g1.buf->data;
        int64_t bad = 0, ise = 0;
        for (int64_t q = 0; q < tg_volume_count(&l1); q++) {
            if ((lab[q] == TG_CATHODE_ISE) != (gr[q] > 0)) bad++;
            ise += lab[q] == TG_CATHODE_ISE;
        }
        CHECK(bad == 0 && ise > 0);
    }
    /* another seed gives another volume */
    tg_volume l3;
    o.seed = 12;
    CHECK_OK(&ctx, tg_cathode(&ctx, &o, &l3, NULL, NULL));
    if (l1.buf && l3.buf) CHECK(memcmp(l1.buf->data, l3.buf->data, l1.buf->bytes) != 0);
    tg_volume_release(&l1); tg_volume_release(&l2); tg_volume_release(&g1); tg_volume_release(&g2);
    tg_volume_release(&l3);
}

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

/* Particle statistics: median diameter near cam_d50; count near phi V / E[v] (log-normal moments). */
static void test_cathode_sizes(void)
{
    setup(2);
    tg_cathode_opts o = small_opts(120);
    o.spacing[0] = o.spacing[1] = o.spacing[2] = 2.5e-7; /* 30 um box, 4 um particles: ~200 of them */
    o.seed = 3;
    tg_volume lab;
    tg_cathode_info info;
    CHECK_OK(&ctx, tg_cathode(&ctx, &o, &lab, NULL, &info));
    if (!lab.buf) return;
    int64_t n = info.n_cam;
    double *d = malloc((size_t)n * sizeof *d);
    double sumv = 0;
    for (int64_t i = 0; i < n; i++) {
        d[i] = 2 * info.cam[i].r;
        sumv += 3.141592653589793 / 6 * d[i] * d[i] * d[i];
    }
    /* the last particle was shrunk to hit the target: leave it out of the size statistics */
    qsort(d, (size_t)(n - 1), sizeof *d, cmp_double);
    double median = d[(n - 1) / 2];
    NEAR(median / o.cam_d50, 1.0, 0.12);
    /* Expected count of particles touching the box: centres at density phi / E[v] (hard spheres; overlaps only
     * add particles, so this is a lower bound) in the box grown by each particle's radius on every side:
     * E[(L + d)^3] with the log-normal moments E[d^k] = d50^k exp(k^2 sigma^2 / 2). Overlaps (allowed, and
     * relaxed where random addition jams) at most double it at this density. */
    double L = 120 * 2.5e-7, vbox = L * L * L, s2 = o.cam_sigma * o.cam_sigma, d50 = o.cam_d50;
    double ed1 = d50 * exp(s2 / 2), ed2 = d50 * d50 * exp(2 * s2), ed3 = pow(d50, 3) * exp(4.5 * s2);
    double ev = 3.141592653589793 / 6 * ed3;
    double nexp = o.cam_fraction * (L * L * L + 3 * L * L * ed1 + 3 * L * ed2 + ed3) / ev;
    CHECK(n > 0.9 * nexp && n < 2.0 * nexp);
    if (!(n > 0.9 * nexp && n < 2.0 * nexp)) fprintf(stderr, "n_cam %lld expected ~%.0f\n", (long long)n, nexp);
    /* the union inside the box (0.5 V) cannot exceed the sum of the sphere volumes */
    CHECK(sumv > 0.5 * vbox);
    free(d);
    tg_cathode_info_free(&info);
    tg_volume_release(&lab);
}

/* Pores sit nearer to CAM than ISE does: mean distance to the nearest CAM surface, from the particle list. */
static void test_cathode_pores_near_cam(void)
{
    setup(2);
    tg_cathode_opts o = small_opts(100);
    o.seed = 4;
    tg_volume lab;
    tg_cathode_info info;
    CHECK_OK(&ctx, tg_cathode(&ctx, &o, &lab, NULL, &info));
    if (!lab.buf) return;
    const uint8_t *p = lab.buf->data;
    double sum[3] = {0, 0, 0};
    int64_t cnt[3] = {0, 0, 0};
    for (int64_t z = 1; z < 100; z += 3)
        for (int64_t y = 1; y < 100; y += 3)
            for (int64_t x = 1; x < 100; x += 3) {
                int l = p[(z * 100 + y) * 100 + x];
                double c[3] = {(x + 0.5) * 2e-7, (y + 0.5) * 2e-7, (z + 0.5) * 2e-7}, best = 1e9;
                for (int64_t i = 0; i < info.n_cam; i++) {
                    const tg_ball *b = &info.cam[i];
                    double d = sqrt(pow(c[0] - b->c[0], 2) + pow(c[1] - b->c[1], 2) + pow(c[2] - b->c[2], 2)) - b->r;
                    if (d < best) best = d;
                }
                sum[l] += best;
                cnt[l]++;
            }
    CHECK(cnt[0] > 100 && cnt[2] > 100);
    double dpore = sum[0] / cnt[0], dise = sum[2] / cnt[2];
    CHECK(dpore < 0.6 * dise);
    CHECK(sum[1] / cnt[1] <= 0); /* CAM voxels are inside a particle */
    tg_cathode_info_free(&info);
    tg_volume_release(&lab);
}

static void expect_arg_error(tg_cathode_opts o, const char *name)
{
    tg_volume lab;
    tg_status st = tg_cathode(&ctx, &o, &lab, NULL, NULL);
    CHECK(st == TG_ERR_ARG);
    CHECK(strstr(ctx.msg, name) != NULL);
    if (!strstr(ctx.msg, name)) fprintf(stderr, "message '%s' does not name '%s'\n", ctx.msg, name);
    CHECK(lab.buf == NULL);
}

static void test_cathode_option_errors(void)
{
    setup(1);
    tg_cathode_opts o;
    o = small_opts(20); o.cam_fraction = 1.2; expect_arg_error(o, "cam_fraction");
    o = small_opts(20); o.porosity = -0.1; expect_arg_error(o, "porosity");
    o = small_opts(20); o.cam_fraction = 0.7; o.porosity = 0.3; expect_arg_error(o, "cam_fraction + porosity");
    o = small_opts(20); o.cam_d50 = 0; expect_arg_error(o, "cam_d50");
    o = small_opts(20); o.ise_d50 = -1e-6; expect_arg_error(o, "ise_d50");
    o = small_opts(20); o.size[2] = 0; expect_arg_error(o, "size");
    o = small_opts(20); o.spacing[1] = 0; expect_arg_error(o, "spacing");
    o = small_opts(20); o.cam_sigma = NAN; expect_arg_error(o, "cam_sigma");
    o = small_opts(20); o.cam_overlap = 1.5; expect_arg_error(o, "cam_overlap");
    /* edge cases that are valid: one voxel, no CAM, no pores */
    tg_volume lab;
    tg_cathode_info info;
    o = small_opts(1);
    CHECK_OK(&ctx, tg_cathode(&ctx, &o, &lab, NULL, &info));
    tg_volume_release(&lab);
    tg_cathode_info_free(&info);
    o = small_opts(30); o.cam_fraction = 0; o.porosity = 0.1;
    CHECK_OK(&ctx, tg_cathode(&ctx, &o, &lab, NULL, &info));
    CHECK(info.n_cam == 0 && info.count[1] == 0 && info.count[0] == 2700);
    tg_volume_release(&lab);
    tg_cathode_info_free(&info);
    o = small_opts(30); o.porosity = 0;
    CHECK_OK(&ctx, tg_cathode(&ctx, &o, &lab, NULL, &info));
    CHECK(info.count[0] == 0);
    tg_volume_release(&lab);
    tg_cathode_info_free(&info);
}

/* Every allocation failure is reported as TG_ERR_NOMEM with outputs released and nothing leaked. */
static void test_cathode_alloc_failures(void)
{
    setup(2);
    tg_cathode_opts o = small_opts(24);
    for (long n = 1; n <= 12; n++) {
        tg_volume lab, gr;
        tg_cathode_info info;
        tg_alloc_fail_after(n);
        tg_status st = tg_cathode(&ctx, &o, &lab, &gr, &info);
        tg_alloc_fail_after(0);
        CHECK(st == TG_OK || st == TG_ERR_NOMEM);
        if (st != TG_OK) CHECK(lab.buf == NULL && gr.buf == NULL && info.cam == NULL);
        tg_volume_release(&lab);
        tg_volume_release(&gr);
        tg_cathode_info_free(&info);
    }
    /* a cancelled run stops with TG_ERR_CANCELLED */
    atomic_store(&ctx.cancel, 1);
    tg_volume lab;
    CHECK(tg_cathode(&ctx, &o, &lab, NULL, NULL) == TG_ERR_CANCELLED);
    CHECK(lab.buf == NULL);
}

/* ---- SEM ---- */

static tg_sem_opts sem_off(void)
{
    tg_sem_opts o = TG_SEM_OPTS_INIT;
    o.noise = o.drift = o.curtaining = o.illumination = o.blur = o.edge = 0;
    return o;
}

static void make_labels(tg_volume *lab, int64_t nx, int64_t ny, int64_t nz, int uniform)
{
    int64_t d[3] = {nx, ny, nz};
    tg_volume_alloc(&ctx, d, TG_U8, NULL, lab);
    for (int64_t z = 0; z < nz; z++)
        for (int64_t y = 0; y < ny; y++)
            for (int64_t x = 0; x < nx; x++) {
                int l = 2;
                if (!uniform) {
                    /* a disc of CAM and a square pore, moving with z */
                    double r2 = pow(x - 20.0 - z, 2) + pow(y - 24.0, 2);
                    l = r2 < 100 ? 1 : (x >= 40 && x < 50 && y >= 8 && y < 16) ? 0 : 2;
                }
                tg_volume_set(lab, x, y, z, l);
            }
}

static void test_sem_levels_exact(void)
{
    setup(2);
    tg_volume lab, bse, se;
    make_labels(&lab, 64, 48, 6, 0);
    tg_sem_opts o = sem_off();
    tg_sem_info info;
    CHECK_OK(&ctx, tg_sem(&ctx, &lab, &o, &bse, &se, &info));
    if (!bse.buf) return;
    int64_t bad = 0;
    for (int64_t z = 0; z < 6; z++)
        for (int64_t y = 0; y < 48; y++)
            for (int64_t x = 0; x < 64; x++) {
                int l = (int)tg_volume_get(&lab, x, y, z);
                if (tg_volume_get(&bse, x, y, z) != o.bse[l] || tg_volume_get(&se, x, y, z) != o.se[l]) bad++;
            }
    CHECK(bad == 0);
    CHECK(info.nz == 6 && info.drift[0] == 0 && info.drift[11] == 0);
    CHECK(bse.spacing[0] == lab.spacing[0] && bse.dtype == TG_U8);
    tg_sem_info_free(&info);
    tg_volume_release(&bse);
    tg_volume_release(&se);
    /* u16: the same levels times 257 */
    o.dtype = TG_U16;
    CHECK_OK(&ctx, tg_sem(&ctx, &lab, &o, &bse, &se, NULL));
    if (bse.buf) {
        CHECK(bse.dtype == TG_U16);
        CHECK(tg_volume_get(&bse, 20, 24, 0) == 200 * 257);
        CHECK(tg_volume_get(&se, 44, 10, 0) == 20 * 257);
    }
    tg_volume_release(&bse);
    tg_volume_release(&se);
    /* SE edges: a solid pixel next to the pore is brighter than its plain level, the pore interior is not */
    o = sem_off();
    o.edge = 60;
    CHECK_OK(&ctx, tg_sem(&ctx, &lab, &o, &bse, &se, NULL));
    if (se.buf) {
        CHECK(tg_volume_get(&se, 39, 12, 0) >= o.se[2] + 2 * 60 * (1 - 1 / 3.0) - 1); /* ISE beside the pore */
        CHECK(tg_volume_get(&se, 45, 12, 0) == o.se[0]);                             /* deep in the pore */
        CHECK(tg_volume_get(&se, 60, 40, 0) == o.se[2]);                             /* far from any edge */
    }
    tg_volume_release(&bse);
    tg_volume_release(&se);
    tg_volume_release(&lab);
}

static void test_sem_phase_order_defaults(void)
{
    setup(2);
    tg_cathode_opts co = small_opts(64);
    tg_volume lab, bse, se;
    CHECK_OK(&ctx, tg_cathode(&ctx, &co, &lab, NULL, NULL));
    /* all default artefacts; drift off because it moves the image away from the labels by design */
    tg_sem_opts o = TG_SEM_OPTS_INIT;
    o.drift = 0;
    CHECK_OK(&ctx, tg_sem(&ctx, &lab, &o, &bse, &se, NULL));
    if (!bse.buf) return;
    double sum[3] = {0, 0, 0};
    int64_t cnt[3] = {0, 0, 0};
    const uint8_t *l = lab.buf->data, *b = bse.buf->data;
    for (int64_t q = 0; q < tg_volume_count(&lab); q++) { sum[l[q]] += b[q]; cnt[l[q]]++; }
    CHECK(sum[1] / cnt[1] > sum[2] / cnt[2] + 30);
    CHECK(sum[2] / cnt[2] > sum[0] / cnt[0] + 30);
    if (!(sum[2] / cnt[2] > sum[0] / cnt[0] + 30))
        fprintf(stderr, "BSE means: pore %.1f, CAM %.1f, ISE %.1f\n", sum[0] / cnt[0], sum[1] / cnt[1], sum[2] / cnt[2]);
    /* SE: pores darkest */
    double se_sum[3] = {0, 0, 0};
    const uint8_t *e = se.buf->data;
    for (int64_t q = 0; q < tg_volume_count(&lab); q++) se_sum[l[q]] += e[q];
    CHECK(se_sum[0] / cnt[0] + 30 < se_sum[1] / cnt[1] && se_sum[0] / cnt[0] + 30 < se_sum[2] / cnt[2]);
    tg_volume_release(&bse); tg_volume_release(&se); tg_volume_release(&lab);
}

/* The drifted slice equals the undrifted one shifted by info.drift (bilinear, computed here). */
static void test_sem_drift(void)
{
    setup(2);
    tg_volume lab, b0, s0, b1, s1;
    make_labels(&lab, 64, 48, 8, 0);
    tg_sem_opts o = sem_off();
    CHECK_OK(&ctx, tg_sem(&ctx, &lab, &o, &b0, &s0, NULL));
    o.drift = 1.5;
    o.seed = 77;
    tg_sem_info info;
    CHECK_OK(&ctx, tg_sem(&ctx, &lab, &o, &b1, &s1, &info));
    if (!b1.buf || !b0.buf) return;
    CHECK(info.drift[0] == 0 && info.drift[1] == 0);
    double maxerr = 0, moved = 0;
    for (int64_t z = 0; z < 8; z++) {
        double dx = info.drift[2 * z], dy = info.drift[2 * z + 1];
        moved += fabs(dx) + fabs(dy);
        for (int64_t y = 8; y < 40; y++)
            for (int64_t x = 8; x < 56; x++) {
                double sx = x - dx, sy = y - dy;
                if (sx < 0 || sy < 0 || sx > 62 || sy > 46) continue;
                int64_t x0 = (int64_t)floor(sx), y0 = (int64_t)floor(sy);
                double wx = sx - x0, wy = sy - y0;
                double v = (1 - wy) * ((1 - wx) * tg_volume_get(&b0, x0, y0, z) + wx * tg_volume_get(&b0, x0 + 1, y0, z)) +
                           wy * ((1 - wx) * tg_volume_get(&b0, x0, y0 + 1, z) + wx * tg_volume_get(&b0, x0 + 1, y0 + 1, z));
                double e = fabs(v - tg_volume_get(&b1, x, y, z));
                if (e > maxerr) maxerr = e;
            }
    }
    CHECK(moved > 1.0);
    CHECK(maxerr <= 0.5 + 1e-6); /* only the final rounding to u8 */
    /* BSE and SE share the drift: SE with edge 0 is the SE levels shifted the same way */
    tg_sem_info_free(&info);
    tg_volume_release(&b0); tg_volume_release(&s0); tg_volume_release(&b1); tg_volume_release(&s1);
    tg_volume_release(&lab);
}

static void column_means(const tg_volume *v, int64_t z, double *m)
{
    for (int64_t x = 0; x < v->dims[0]; x++) {
        double s = 0;
        for (int64_t y = 0; y < v->dims[1]; y++) s += tg_volume_get(v, x, y, z);
        m[x] = s / (double)v->dims[1];
    }
}

static double std_of(const double *a, int n)
{
    double s = 0, s2 = 0;
    for (int i = 0; i < n; i++) { s += a[i]; s2 += a[i] * a[i]; }
    return sqrt(fmax(0, s2 / n - (s / n) * (s / n)));
}

static void test_sem_curtaining_and_noise(void)
{
    setup(2);
    tg_volume lab, bse, se;
    make_labels(&lab, 128, 96, 4, 1); /* all ISE: any structure in the image is an artefact */
    tg_sem_opts o = sem_off();
    double m[128];
    CHECK_OK(&ctx, tg_sem(&ctx, &lab, &o, &bse, &se, NULL));
    column_means(&bse, 2, m);
    CHECK(std_of(m, 128) == 0);
    tg_volume_release(&bse); tg_volume_release(&se);
    o.curtaining = 10;
    CHECK_OK(&ctx, tg_sem(&ctx, &lab, &o, &bse, &se, NULL));
    column_means(&bse, 2, m);
    CHECK(std_of(m, 128) > 3);
    /* stripes are vertical: constant along y within a column */
    int64_t varying = 0;
    for (int64_t x = 0; x < 128; x++)
        for (int64_t y = 1; y < 96; y++) varying += tg_volume_get(&bse, x, y, 2) != tg_volume_get(&bse, x, 0, 2);
    CHECK(varying == 0);
    tg_volume_release(&bse); tg_volume_release(&se);
    /* noise: measured std close to the request, mean unchanged, BSE and SE independent */
    o = sem_off();
    o.noise = 10;
    CHECK_OK(&ctx, tg_sem(&ctx, &lab, &o, &bse, &se, NULL));
    tg_stats sb, ss;
    CHECK_OK(&ctx, tg_volume_stats(&ctx, &bse, &sb));
    CHECK_OK(&ctx, tg_volume_stats(&ctx, &se, &ss));
    NEAR(sb.std, 10.0, 0.25); /* rounding to integers adds 1/12 in variance */
    NEAR(ss.std, 10.0, 0.25);
    NEAR(sb.mean, 120.0, 0.1);
    double cov = 0;
    const uint8_t *pb = bse.buf->data, *ps = se.buf->data;
    int64_t N = tg_volume_count(&bse);
    for (int64_t q = 0; q < N; q++) cov += (pb[q] - sb.mean) * (ps[q] - ss.mean);
    NEAR(cov / N / (sb.std * ss.std), 0.0, 0.02);
    tg_volume_release(&bse); tg_volume_release(&se);
    /* illumination: a smooth multiplicative field within 1 +- amplitude */
    o = sem_off();
    o.illumination = 0.2;
    CHECK_OK(&ctx, tg_sem(&ctx, &lab, &o, &bse, &se, NULL));
    CHECK_OK(&ctx, tg_volume_stats(&ctx, &bse, &sb));
    CHECK(sb.min >= 120 * 0.8 - 0.5 && sb.max <= 120 * 1.2 + 0.5 && sb.max - sb.min > 10);
    tg_volume_release(&bse); tg_volume_release(&se);
    tg_volume_release(&lab);
}

static void test_sem_threads_and_errors(void)
{
    tg_volume lab, b1, s1, b2, s2;
    setup(1);
    tg_cathode_opts co = small_opts(48);
    CHECK_OK(&ctx, tg_cathode(&ctx, &co, &lab, NULL, NULL));
    tg_sem_opts o = TG_SEM_OPTS_INIT;
    o.drift = 2;
    CHECK_OK(&ctx, tg_sem(&ctx, &lab, &o, &b1, &s1, NULL));
    setup(2);
    CHECK_OK(&ctx, tg_sem(&ctx, &lab, &o, &b2, &s2, NULL));
    if (b1.buf && b2.buf) {
        CHECK(memcmp(b1.buf->data, b2.buf->data, b1.buf->bytes) == 0);
        CHECK(memcmp(s1.buf->data, s2.buf->data, s1.buf->bytes) == 0);
    }
    tg_volume_release(&b1); tg_volume_release(&s1); tg_volume_release(&b2); tg_volume_release(&s2);
    /* a label outside the phase map */
    tg_volume_set(&lab, 3, 4, 5, 7);
    tg_status st = tg_sem(&ctx, &lab, &o, &b1, &s1, NULL);
    CHECK(st == TG_ERR_ARG && strstr(ctx.msg, "label 7") && b1.buf == NULL && s1.buf == NULL);
    tg_volume_set(&lab, 3, 4, 5, 1);
    o.illumination = 1.5;
    CHECK(tg_sem(&ctx, &lab, &o, &b1, &s1, NULL) == TG_ERR_ARG && strstr(ctx.msg, "illumination"));
    o = sem_off();
    o.label[2] = 1;
    CHECK(tg_sem(&ctx, &lab, &o, &b1, &s1, NULL) == TG_ERR_ARG && strstr(ctx.msg, "same label"));
    o = sem_off();
    o.dtype = TG_F32;
    CHECK(tg_sem(&ctx, &lab, &o, &b1, &s1, NULL) == TG_ERR_ARG && strstr(ctx.msg, "dtype"));
    /* allocation failures leave nothing behind */
    o = (tg_sem_opts)TG_SEM_OPTS_INIT;
    for (long n = 1; n <= 8; n++) {
        tg_sem_info info;
        tg_alloc_fail_after(n);
        st = tg_sem(&ctx, &lab, &o, &b1, &s1, &info);
        tg_alloc_fail_after(0);
        CHECK(st == TG_OK || st == TG_ERR_NOMEM);
        if (st != TG_OK) CHECK(b1.buf == NULL && s1.buf == NULL);
        tg_volume_release(&b1); tg_volume_release(&s1);
        tg_sem_info_free(&info);
    }
    tg_volume_release(&lab);
}

TG_TEST_MAIN(test_philox_known_answers, test_rng_moments, test_cathode_fractions, test_cathode_threads_identical,
             test_cathode_sizes, test_cathode_pores_near_cam, test_cathode_option_errors, test_cathode_alloc_failures,
             test_sem_levels_exact, test_sem_phase_order_defaults, test_sem_drift, test_sem_curtaining_and_noise,
             test_sem_threads_and_errors)
