/* test_register.c — phase-correlation registration recovers known subpixel shifts of an analytic image (blobs
 * evaluated at x - d exactly), in sequential and fixed mode, with an ROI and with stripes that do not move;
 * shift reproduces integer shifts exactly, linear ramps (linear) and quadratics (cubic) exactly; crop; threads;
 * bad input. */
#include <string.h>

#include "filter/tg_register.h"
#include "tg_test.h"

#define N 128
#define NZ 7

static const double drift[NZ][2] = {{0, 0}, {0.37, -0.21}, {1.6, 0.45}, {-2.25, 1.5}, {0.5, 3.12}, {-3.8, -1.05}, {2.71, -2.6}};

/* a smooth analytic image, content displaced by (dx, dy): f(x - dx, y - dy); optional stripes fixed in the frame */
static void make_stack(tg_volume *v, int stripes)
{
    tg_ctx ctx;
    tg_ctx_init(&ctx);
    int64_t d[3] = {N, N, NZ};
    tg_volume_alloc(&ctx, d, TG_F32, NULL, v);
    uint32_t s = 12345;
    double cx[80], cy[80], r[80], a[80];
    for (int i = 0; i < 80; i++) {
        s = s * 1664525u + 1013904223u; cx[i] = (s >> 8) / 16777216.0 * N;
        s = s * 1664525u + 1013904223u; cy[i] = (s >> 8) / 16777216.0 * N;
        s = s * 1664525u + 1013904223u; r[i] = 2 + 5 * (s >> 8) / 16777216.0;
        s = s * 1664525u + 1013904223u; a[i] = 30 + 60 * (s >> 8) / 16777216.0;
    }
    for (int z = 0; z < NZ; z++)
        for (int y = 0; y < N; y++)
            for (int x = 0; x < N; x++) {
                double X = x - drift[z][0], Y = y - drift[z][1], val = 50;
                for (int i = 0; i < 80; i++) val += a[i] * exp(-((X - cx[i]) * (X - cx[i]) + (Y - cy[i]) * (Y - cy[i])) / (2 * r[i] * r[i]));
                if (stripes) val += 15 * sin(x * 0.9) + 10 * sin(x * 0.23);
                tg_volume_set(v, x, y, z, val);
            }
}

static double rms(const double *s, int ref)
{
    double e = 0;
    for (int z = 0; z < NZ; z++) {
        double ex = s[2 * z] - (drift[z][0] - drift[ref][0]), ey = s[2 * z + 1] - (drift[z][1] - drift[ref][1]);
        e += ex * ex + ey * ey;
    }
    return sqrt(e / NZ);
}

static void test_recover(void)
{
    tg_ctx c1, c2;
    tg_ctx_init(&c1);
    tg_ctx_init(&c2);
    c1.nthreads = 1;
    c2.nthreads = 2;
    tg_volume v, vs;
    make_stack(&v, 0);
    make_stack(&vs, 1);
    double s[2 * NZ], s2[2 * NZ], q[NZ];
    tg_register_opts o = TG_REGISTER_OPTS_INIT;
    CHECK_OK(&c1, tg_register(&c1, &v, &o, s, q));
    double e = rms(s, 0);
    fprintf(stderr, "sequential: rms %.4f px\n", e);
    CHECK(e < 0.1); /* 6 pair errors accumulate; the content entering at the edges limits each pair to a few 0.01 px */
    CHECK(s[0] == 0 && s[1] == 0 && q[0] == 1);
    for (int z = 1; z < NZ; z++) CHECK(q[z] > 0.5);
    CHECK_OK(&c2, tg_register(&c2, &v, &o, s2, NULL));
    CHECK(memcmp(s, s2, sizeof s) == 0); /* thread-count independent */
    o.mode = TG_REGISTER_FIXED;
    o.reference = 3;
    CHECK_OK(&c1, tg_register(&c1, &v, &o, s, NULL));
    e = rms(s, 3);
    fprintf(stderr, "fixed to slice 3: rms %.4f px\n", e);
    CHECK(e < 0.06 && s[6] == 0 && s[7] == 0);
    /* an ROI */
    o = (tg_register_opts)TG_REGISTER_OPTS_INIT;
    o.roi_lo[0] = 8; o.roi_hi[0] = 120; o.roi_lo[1] = 16; o.roi_hi[1] = 112;
    CHECK_OK(&c1, tg_register(&c1, &v, &o, s, NULL));
    e = rms(s, 0);
    fprintf(stderr, "roi: rms %.4f px\n", e);
    CHECK(e < 0.2); /* a smaller window sees fewer blobs */
    /* stripes fixed in the image frame (curtaining) do not pull the estimate to zero */
    o = (tg_register_opts)TG_REGISTER_OPTS_INIT;
    CHECK_OK(&c1, tg_register(&c1, &vs, &o, s, NULL));
    e = rms(s, 0);
    fprintf(stderr, "with fixed stripes: rms %.4f px\n", e);
    CHECK(e < 0.12);
    /* integer only */
    o.subpixel = 0;
    CHECK_OK(&c1, tg_register(&c1, &v, &o, s, NULL));
    for (int z = 0; z < 2 * NZ; z++) CHECK(s[z] == floor(s[z]));
    /* bad input */
    o = (tg_register_opts)TG_REGISTER_OPTS_INIT;
    o.roi_lo[0] = 50; o.roi_hi[0] = 140;
    CHECK(tg_register(&c1, &v, &o, s, NULL) == TG_ERR_RANGE && strstr(c1.msg, "region of interest"));
    o = (tg_register_opts)TG_REGISTER_OPTS_INIT;
    o.roi_lo[1] = 5; o.roi_hi[1] = 7;
    CHECK(tg_register(&c1, &v, &o, s, NULL) == TG_ERR_ARG && strstr(c1.msg, "at least 4"));
    o = (tg_register_opts)TG_REGISTER_OPTS_INIT;
    o.reference = NZ;
    CHECK(tg_register(&c1, &v, &o, s, NULL) == TG_ERR_RANGE && strstr(c1.msg, "reference"));
    atomic_store(&c1.cancel, 1);
    o.reference = 0;
    CHECK(tg_register(&c1, &v, &o, s, NULL) == TG_ERR_CANCELLED);
    atomic_store(&c1.cancel, 0);
    for (long n = 1; n <= 5; n++) {
        tg_alloc_fail_after(n);
        tg_status st = tg_register(&c1, &v, &o, s, NULL);
        tg_alloc_fail_after(0);
        CHECK(st == TG_OK || st == TG_ERR_NOMEM);
    }
    tg_volume_release(&v);
    tg_volume_release(&vs);
}

static void test_shift(void)
{
    tg_ctx c1, c3;
    tg_ctx_init(&c1);
    tg_ctx_init(&c3);
    c1.nthreads = 1;
    c3.nthreads = 3;
    int64_t d[3] = {40, 30, 3};
    tg_volume ramp, quad, u8, out, out3;
    tg_volume_alloc(&c1, d, TG_F64, NULL, &ramp);
    tg_volume_alloc(&c1, d, TG_F64, NULL, &quad);
    tg_volume_alloc(&c1, d, TG_U8, NULL, &u8);
    for (int z = 0; z < 3; z++)
        for (int y = 0; y < 30; y++)
            for (int x = 0; x < 40; x++) {
                tg_volume_set(&ramp, x, y, z, 3 * x - 2 * y + z);
                tg_volume_set(&quad, x, y, z, 0.5 * x * x + 0.25 * y * y - 0.3 * x * y);
                tg_volume_set(&u8, x, y, z, (x * 7 + y * 13 + z * 5) % 256);
            }
    double sh[6] = {0.3, -0.7, 2.25, 1.5, -1.1, 0.4};
    tg_shift_opts o = TG_SHIFT_OPTS_INIT;
    o.fill = -999;
    CHECK_OK(&c1, tg_shift(&c1, &ramp, sh, &o, &out));
    int bad = 0, filled = 0;
    for (int z = 0; z < 3; z++)
        for (int y = 0; y < 30; y++)
            for (int x = 0; x < 40; x++) {
                double px = x + sh[2 * z], py = y + sh[2 * z + 1], v = tg_volume_get(&out, x, y, z);
                if (px < 0 || px > 39 || py < 0 || py > 29) { filled += v == -999; bad += v != -999; continue; }
                bad += fabs(v - (3 * px - 2 * py + z)) > 1e-4; /* linear interpolation is exact on a ramp (f32 rounding) */
            }
    CHECK(bad == 0 && filled > 0);
    tg_volume_release(&out);
    o.interpolation = TG_SHIFT_CUBIC;
    CHECK_OK(&c1, tg_shift(&c1, &quad, sh, &o, &out));
    CHECK_OK(&c3, tg_shift(&c3, &quad, sh, &o, &out3));
    CHECK(memcmp(tg_volume_ptr(&out, 0, 0, 0), tg_volume_ptr(&out3, 0, 0, 0), 40 * 30 * 3 * 8) == 0);
    bad = 0;
    for (int z = 0; z < 3; z++)
        for (int y = 2; y < 27; y++)
            for (int x = 2; x < 37; x++) {
                double px = x + sh[2 * z], py = y + sh[2 * z + 1];
                if (px < 1 || px > 38 || py < 1 || py > 28) continue; /* all four taps inside */
                double want = 0.5 * px * px + 0.25 * py * py - 0.3 * px * py;
                bad += fabs(tg_volume_get(&out, x, y, z) - want) > 1e-2; /* Keys (a = -0.5) reproduces quadratics */
            }
    CHECK(bad == 0);
    tg_volume_release(&out);
    tg_volume_release(&out3);
    /* integer shifts of a u8 stack: exact copies, keeping the dtype; crop leaves no fill */
    double ish[6] = {2, -1, 0, 0, -3, 4};
    o = (tg_shift_opts)TG_SHIFT_OPTS_INIT;
    o.crop = 1;
    o.interpolation = TG_SHIFT_CUBIC;
    CHECK_OK(&c1, tg_shift(&c1, &u8, ish, &o, &out));
    CHECK(out.dtype == TG_U8 && out.dims[0] == 40 - 5 && out.dims[1] == 30 - 5);
    int64_t lo[2], hi[2];
    CHECK(tg_shift_valid_region(u8.dims, ish, 0, lo, hi) == 0 && lo[0] == 3 && hi[0] == 38 && lo[1] == 1 && hi[1] == 26);
    bad = 0;
    for (int z = 0; z < 3; z++)
        for (int y = 0; y < out.dims[1]; y++)
            for (int x = 0; x < out.dims[0]; x++)
                bad += tg_volume_get(&out, x, y, z) != tg_volume_get(&u8, x + lo[0] + ish[2 * z], y + lo[1] + ish[2 * z + 1], z);
    CHECK(bad == 0);
    tg_volume_release(&out);
    /* invert undoes */
    o = (tg_shift_opts)TG_SHIFT_OPTS_INIT;
    o.invert = 1;
    tg_volume back;
    CHECK_OK(&c1, tg_shift(&c1, &u8, ish, &o, &out));
    o.invert = 0;
    CHECK_OK(&c1, tg_shift(&c1, &out, ish, &o, &back));
    CHECK(tg_volume_get(&back, 20, 15, 2) == tg_volume_get(&u8, 20, 15, 2));
    tg_volume_release(&out);
    tg_volume_release(&back);
    /* bad input */
    double big[6] = {0, 0, 45, 0, -45, 0}, nan[6] = {0, 0, NAN, 0, 0, 0};
    o.crop = 1;
    CHECK(tg_shift(&c1, &u8, big, &o, &out) == TG_ERR_ARG && strstr(c1.msg, "no region"));
    CHECK(tg_shift(&c1, &u8, nan, &o, &out) == TG_ERR_ARG && strstr(c1.msg, "finite"));
    CHECK(out.buf == NULL);
    tg_volume_release(&ramp);
    tg_volume_release(&quad);
    tg_volume_release(&u8);
}

TG_TEST_MAIN(test_recover, test_shift)
