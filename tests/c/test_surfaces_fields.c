/* test_surfaces_fields.c — sub-voxel areas from real-valued fields, against analytic shapes:
 *   planes at oblique angles given by a linear probability ramp (exact to float rounding, where labels give the
 *   staircase), spheres and cylinders given by a smooth probability profile (within a stated tolerance, the error
 *   falling with the radius in voxels), the same shapes as hard labels with smoothed indicators (the error falling
 *   with resolution, bias -2 sigma^2 / R^2 for a sphere), interfaces of complementary fields, the soft volume of a
 *   smoothed indicator (the voxel count exactly), NaN counting, thread-count independence and bad input. */
#include "tg_test.h"

#include "measure/tg_surfaces.h"
#include "measure/tg_surfaces_fields.h"

#include <string.h>

static tg_ctx ctx;

static void setup(void) { tg_ctx_init(&ctx); ctx.nthreads = 2; }

typedef double (*sdf_fn)(const double p[3], const double *par); /* signed distance (voxels), < 0 inside */

/* p = 1/2 - 1/2 tanh(d / w): 1 inside, 0 outside, 1/2 on the surface; q = 1 - p. */
static void fields_of(sdf_fn f, const double *par, const int64_t d[3], double w, int ramp, tg_volume *p, tg_volume *q)
{
    double sp[3] = {1, 1, 1};
    tg_volume_alloc(&ctx, d, TG_F32, sp, p);
    if (q) tg_volume_alloc(&ctx, d, TG_F32, sp, q);
    for (int64_t z = 0; z < d[2]; z++)
        for (int64_t y = 0; y < d[1]; y++)
            for (int64_t x = 0; x < d[0]; x++) {
                double c[3] = {(double)x, (double)y, (double)z}, s = f(c, par);
                double v = ramp ? fmin(1, fmax(0, 0.5 - s / w)) : 0.5 - 0.5 * tanh(s / w);
                tg_volume_set(p, x, y, z, v);
                if (q) tg_volume_set(q, x, y, z, 1 - v);
            }
}

static void labels_of(sdf_fn f, const double *par, const int64_t d[3], tg_volume *l)
{
    double sp[3] = {1, 1, 1};
    tg_volume_alloc(&ctx, d, TG_U8, sp, l);
    for (int64_t z = 0; z < d[2]; z++)
        for (int64_t y = 0; y < d[1]; y++)
            for (int64_t x = 0; x < d[0]; x++) {
                double c[3] = {(double)x, (double)y, (double)z};
                tg_volume_set(l, x, y, z, f(c, par) < 0 ? 1 : 0);
            }
}

static double sphere(const double p[3], const double *a)
{
    return sqrt((p[0] - a[0]) * (p[0] - a[0]) + (p[1] - a[1]) * (p[1] - a[1]) + (p[2] - a[2]) * (p[2] - a[2])) - a[3];
}

static double cylinder_z(const double p[3], const double *a) /* axis along z through (a0, a1), radius a3 */
{
    return sqrt((p[0] - a[0]) * (p[0] - a[0]) + (p[1] - a[1]) * (p[1] - a[1])) - a[3];
}

static double plane(const double p[3], const double *a) /* z = a0 + a1 x + a2 y, distance along the normal */
{
    return (p[2] - a[0] - a[1] * p[0] - a[2] * p[1]) / sqrt(1 + a[1] * a[1] + a[2] * a[2]);
}

static tg_surfaces_fields_result on_fields(const tg_volume *p, const tg_volume *q, double sigma)
{
    const tg_volume *f[2] = {p, q};
    tg_surfaces_fields_opts o = TG_SURFACES_FIELDS_OPTS_INIT;
    o.sigma[0] = o.sigma[1] = o.sigma[2] = sigma;
    tg_surfaces_fields_result r;
    CHECK_OK(&ctx, tg_surfaces_fields(&ctx, f, q ? 2 : 1, &o, &r));
    return r;
}

static tg_surfaces_fields_result on_labels(const tg_volume *l, double sigma)
{
    int64_t ph[2] = {1, 0};
    tg_surfaces_fields_opts o = TG_SURFACES_FIELDS_OPTS_INIT;
    o.sigma[0] = o.sigma[1] = o.sigma[2] = sigma;
    tg_surfaces_fields_result r;
    CHECK_OK(&ctx, tg_surfaces_smoothed(&ctx, l, ph, 2, &o, &r));
    return r;
}

/* A plane at an oblique angle, as a linear ramp 4 voxels wide (linear wherever a cube can be crossed): the
 * marching-cubes vertices lie on the plane, so the area is the plane's over the domain of voxel centres,
 * (nx - 1)(ny - 1) sqrt(1 + tx^2 + ty^2), to float rounding. The hard labels of the same plane measure its
 * staircase (several % too large); the smoothed indicator (sigma 1) takes most of that away. */
static void test_oblique_planes(void)
{
    const double tilts[3][2] = {{0.3, 0.0}, {0.25, 0.4}, {0.55, 0.35}};
    int64_t d[3] = {40, 36, 64};
    for (int t = 0; t < 3; t++) {
        double par[3] = {12.3, tilts[t][0], tilts[t][1]};
        double exact = (double)(d[0] - 1) * (double)(d[1] - 1) * sqrt(1 + par[1] * par[1] + par[2] * par[2]);
        tg_volume p, q, l;
        fields_of(plane, par, d, 4, 1, &p, &q);
        tg_surfaces_fields_result r = on_fields(&p, &q, 0);
        NEAR(r.area[0] / exact, 1, 2e-5);
        NEAR(r.area[1] / exact, 1, 2e-5);
        NEAR(r.interface[0][1] / exact, 1, 2e-5);
        CHECK(r.interface_formula == 1);
        NEAR(r.sum_error, 0, 1e-6);
        labels_of(plane, par, d, &l);
        tg_surfaces_fields_result h = on_labels(&l, 0), s = on_labels(&l, 1.0);
        CHECK(h.area[0] / exact - 1 > 0.02); /* the staircase */
        CHECK(fabs(s.area[0] / exact - 1) < 0.01);
        CHECK(fabs(s.area[0] / exact - 1) < 0.25 * fabs(h.area[0] / exact - 1));
        NEAR(s.soft_voxels[0], (double)h.voxels[0], 1e-5 * (double)h.voxels[0]); /* the Gaussian keeps the sum */
        tg_volume_release(&p);
        tg_volume_release(&q);
        tg_volume_release(&l);
    }
}

/* Spheres of radius 8, 12 and 20 voxels given by a tanh profile (width 1.5 voxels): within 1 % of 4 pi R^2, and
 * the error falling as the radius grows (second order: ~ 1 / R^2). */
static void test_sphere_probabilities(void)
{
    const double radii[3] = {8, 12, 20}, tol[3] = {0.01, 0.005, 0.002};
    double prev = 1;
    for (int i = 0; i < 3; i++) {
        double R = radii[i];
        int64_t n = (int64_t)(2 * R + 12), d[3] = {n, n, n};
        double par[4] = {(n - 1) / 2.0 + 0.3, (n - 1) / 2.0 - 0.2, (n - 1) / 2.0 + 0.13, R};
        tg_volume p, q;
        fields_of(sphere, par, d, 1.5, 0, &p, &q);
        tg_surfaces_fields_result r = on_fields(&p, &q, 0);
        double exact = 4 * M_PI * R * R, err = fabs(r.area[0] / exact - 1);
        CHECK(err < tol[i]);
        CHECK(err < prev);
        prev = err;
        NEAR(r.area[1], r.area[0], 1e-9 * exact); /* the complement: the same surface */
        NEAR(r.interface[0][1], r.area[0], 1e-9 * exact);
        /* the soft volume: the integral of the profile, 4/3 pi R^3 + pi^3 w^2 R / 3 (Sommerfeld's expansion of a
         * logistic step of scale w / 2 = 0.75) */
        double vol = 4.0 / 3.0 * M_PI * R * R * R + M_PI * M_PI * M_PI * 1.5 * 1.5 * R / 3;
        NEAR(r.soft_voxels[0] / vol, 1, 1e-3);
        tg_volume_release(&p);
        tg_volume_release(&q);
    }
}

/* Cylinders along z (radius 6, 10, 16): the lateral area over the domain of voxel centres, 2 pi R (nz - 1),
 * within 1 %, falling with R; one field alone (the level rule at 0.5). */
static void test_cylinder_probabilities(void)
{
    const double radii[3] = {6, 10, 16};
    double prev = 1;
    for (int i = 0; i < 3; i++) {
        double R = radii[i];
        int64_t n = (int64_t)(2 * R + 10), d[3] = {n, n, 24};
        double par[4] = {(n - 1) / 2.0 + 0.21, (n - 1) / 2.0 - 0.37, 0, R};
        tg_volume p;
        fields_of(cylinder_z, par, d, 1.5, 0, &p, NULL);
        tg_surfaces_fields_result r = on_fields(&p, NULL, 0);
        double exact = 2 * M_PI * R * (double)(d[2] - 1), err = fabs(r.area[0] / exact - 1);
        CHECK(err < 0.01);
        CHECK(err < prev);
        prev = err;
        CHECK(r.interface_formula == 0);
        tg_volume_release(&p);
    }
}

/* Hard-label spheres: the raw indicator measures the staircase (+6 to +10 %); the smoothed indicator (sigma 1
 * voxel) shrinks the sphere by about 2 sigma^2 / R^2, so its error falls with resolution: within 4 % at R = 8,
 * 1.5 % at R = 12, 0.6 % at R = 20. */
static void test_sphere_smoothed_labels(void)
{
    const double radii[3] = {8, 12, 20}, tol[3] = {0.04, 0.015, 0.006};
    double prev = 1;
    for (int i = 0; i < 3; i++) {
        double R = radii[i];
        int64_t n = (int64_t)(2 * R + 12), d[3] = {n, n, n};
        double par[4] = {(n - 1) / 2.0 + 0.3, (n - 1) / 2.0 - 0.2, (n - 1) / 2.0 + 0.13, R};
        tg_volume l;
        labels_of(sphere, par, d, &l);
        tg_surfaces_fields_result h = on_labels(&l, 0), s = on_labels(&l, 1.0);
        double exact = 4 * M_PI * R * R, err = fabs(s.area[0] / exact - 1);
        CHECK(h.area[0] / exact - 1 > 0.06 && h.area[0] / exact - 1 < 0.10);
        CHECK(err < tol[i]);
        CHECK(err < prev);
        prev = err;
        CHECK(s.radius[0] == 4 && s.radius[2] == 4);
        /* sigma = 0 on labels is the label-based measurement (tg_surfaces, no smoothing) */
        tg_surfaces_opts lo = TG_SURFACES_OPTS_INIT;
        lo.nphases = 1;
        lo.phases[0] = 1;
        tg_surfaces_result lr;
        CHECK_OK(&ctx, tg_surfaces(&ctx, &l, &lo, &lr));
        NEAR(h.area[0], lr.area[0], 1e-9 * lr.area[0]);
        tg_volume_release(&l);
    }
}

/* Results bit-identical for 1 and 2 threads; NaN field values counted (as 0); closed convention closes a phase
 * cut by the faces: a half-space z < 10.5 in a 20^3 box, closed, has the cut plane plus its five faces. */
static void test_threads_nan_closed(void)
{
    int64_t d[3] = {20, 20, 20};
    double par[3] = {10.5, 0, 0};
    tg_volume p, q;
    fields_of(plane, par, d, 4, 1, &p, &q);
    tg_surfaces_fields_opts o = TG_SURFACES_FIELDS_OPTS_INIT;
    o.sigma[0] = o.sigma[1] = o.sigma[2] = 0.8;
    const tg_volume *f[2] = {&p, &q};
    tg_surfaces_fields_result a, b;
    ctx.nthreads = 1;
    CHECK_OK(&ctx, tg_surfaces_fields(&ctx, f, 2, &o, &a));
    ctx.nthreads = 2;
    CHECK_OK(&ctx, tg_surfaces_fields(&ctx, f, 2, &o, &b));
    CHECK(memcmp(a.area, b.area, sizeof a.area) == 0 && memcmp(a.soft_voxels, b.soft_voxels, sizeof a.soft_voxels) == 0);
    NEAR(a.area[0] / (19.0 * 19.0), 1, 1e-4); /* a plane along the axes: smoothing does not move it */
    tg_volume_set(&p, 3, 4, 5, NAN);
    tg_volume_set(&p, 7, 4, 5, NAN);
    CHECK_OK(&ctx, tg_surfaces_fields(&ctx, f, 2, &o, &a));
    CHECK(a.nan_voxels == 2);
    /* closed: the half-space z < 10.5 of the cube [-0.5 .. 19.5] after the zero padding: the cut plane (20 x 20,
     * the padding puts the faces half a voxel outside the centres) plus the side faces and the bottom */
    o.sigma[0] = o.sigma[1] = o.sigma[2] = 0;
    o.convention = TG_SURFACES_CLOSED;
    o.argmax = 0;
    const tg_volume *one[1] = {&q};
    tg_volume_set(&p, 3, 4, 5, 1);
    tg_volume_set(&p, 7, 4, 5, 1);
    CHECK_OK(&ctx, tg_surfaces_fields(&ctx, one, 1, &o, &a));
    CHECK(a.area[0] > 20.0 * 20.0 + 19.0 * 19.0 && a.area[0] < 2 * 20.0 * 20.0 + 4 * 20.0 * 9.5);
    tg_volume_release(&p);
    tg_volume_release(&q);
}

static void test_bad_input(void)
{
    int64_t d[3] = {8, 8, 8}, d2[3] = {8, 8, 9};
    double sp[3] = {1, 1, 1};
    tg_volume a, b, u;
    tg_volume_alloc(&ctx, d, TG_F32, sp, &a);
    tg_volume_alloc(&ctx, d2, TG_F32, sp, &b);
    tg_volume_alloc(&ctx, d, TG_U8, sp, &u);
    tg_surfaces_fields_opts o = TG_SURFACES_FIELDS_OPTS_INIT;
    tg_surfaces_fields_result r;
    const tg_volume *ab[2] = {&a, &b}, *au[2] = {&a, &u};
    CHECK(tg_surfaces_fields(&ctx, ab, 2, &o, &r) == TG_ERR_ARG && strstr(ctx.msg, "field 2 is 8x8x9"));
    CHECK(tg_surfaces_fields(&ctx, au, 2, &o, &r) == TG_ERR_ARG && strstr(ctx.msg, "must be f32 or f64"));
    CHECK(tg_surfaces_fields(&ctx, ab, 0, &o, &r) == TG_ERR_ARG && strstr(ctx.msg, "between 1 and"));
    o.sigma[1] = -1;
    CHECK(tg_surfaces_fields(&ctx, ab, 1, &o, &r) == TG_ERR_ARG && strstr(ctx.msg, "sigma"));
    o.sigma[1] = 300;
    CHECK(tg_surfaces_fields(&ctx, ab, 1, &o, &r) == TG_ERR_ARG && strstr(ctx.msg, "256 voxels"));
    o.sigma[1] = 0;
    o.level = NAN;
    CHECK(tg_surfaces_fields(&ctx, ab, 1, &o, &r) == TG_ERR_ARG && strstr(ctx.msg, "level"));
    o.level = 0.5;
    int64_t ph[2] = {1, 1};
    CHECK(tg_surfaces_smoothed(&ctx, &u, ph, 2, &o, &r) == TG_ERR_ARG && strstr(ctx.msg, "listed twice"));
    CHECK(tg_surfaces_smoothed(&ctx, &a, ph, 1, &o, &r) == TG_ERR_ARG && strstr(ctx.msg, "u8, u16 or i32"));
    tg_volume_release(&u);
    CHECK(tg_surfaces_smoothed(&ctx, &u, ph, 1, &o, &r) == TG_ERR_ARG && strstr(ctx.msg, "released"));
    int64_t flat[3] = {8, 8, 1};
    tg_volume f1;
    tg_volume_alloc(&ctx, flat, TG_F32, sp, &f1);
    const tg_volume *ff[1] = {&f1};
    CHECK(tg_surfaces_fields(&ctx, ff, 1, &o, &r) == TG_ERR_ARG && strstr(ctx.msg, "at least 2 voxels"));
    tg_volume_release(&f1);
    tg_volume_release(&a);
    tg_volume_release(&b);
}

TG_TEST_MAIN(setup, test_oblique_planes, test_sphere_probabilities, test_cylinder_probabilities,
             test_sphere_smoothed_labels, test_threads_nan_closed, test_bad_input)
