/* test_flux.c — tg_flux and its multigrid from truth: exact cases (uniform block, layers in series and in
 * parallel, straight channels, dead ends, periodic-only paths), Maxwell's dilute-sphere limit, the shared
 * volume synth_3phase_100 against the independent solve in anchor-values.json, coarse unknowns as the connected
 * pieces of their blocks (counts and symmetry of the preconditioner), thread-count independence,
 * cancellation, bad input. */
#include <stdint.h>
#include <string.h>
#include <tiffio.h>

#include "tg_test.h"
#include "core/tg_rng.h"
#include "transport/tg_flux.h"
#include "transport/tg_multigrid.h"

static tg_ctx ctx;

static void vol(int64_t nx, int64_t ny, int64_t nz, tg_volume *v)
{
    const int64_t d[3] = {nx, ny, nz};
    tg_volume_init(v);
    CHECK_OK(&ctx, tg_volume_alloc(&ctx, d, TG_U8, NULL, v));
}

static uint8_t *vox(tg_volume *v) { return (uint8_t *)v->buf->data; }

static tg_status run(const tg_volume *v, int axis, int boundary, int periodic, const double *lab, const double *sig,
                     int n, tg_flux_result *r)
{
    tg_flux_opts o = TG_FLUX_OPTS_INIT;
    o.axis = axis;
    o.boundary = boundary;
    o.sides = periodic ? TG_FLUX_PERIODIC : TG_FLUX_INSULATED;
    o.labels = lab;
    o.sigma = sig;
    o.nlabels = n;
    o.tol = 1e-8;
    return tg_flux(&ctx, v, &o, r, NULL, NULL, NULL, NULL);
}

static void test_uniform_block(void)
{
    tg_volume v;
    vol(7, 6, 5, &v);
    tg_volume_fill(&ctx, &v, 1);
    const double lab[] = {1}, sig[] = {2.5};
    for (int b = 0; b < 2; b++)
        for (int a = 0; a < 3; a++) {
            tg_flux_result r;
            CHECK_OK(&ctx, run(&v, a, b, 0, lab, sig, 1, &r));
            CHECK(r.converged && r.percolates);
            NEAR(r.tau, 1.0, 1e-7);
            NEAR(r.sigma_eff, 2.5, 2.5e-7);
            NEAR(r.frac_total, 1.0, 0);
            NEAR(r.mismatch, 0.0, 1e-7);
        }
    /* anisotropic voxels change nothing for a uniform block */
    v.spacing[0] = 1e-7; v.spacing[1] = 2e-7; v.spacing[2] = 3.5e-7;
    for (int a = 0; a < 3; a++) {
        tg_flux_result r;
        CHECK_OK(&ctx, run(&v, a, 0, 0, lab, sig, 1, &r));
        NEAR(r.tau, 1.0, 1e-7);
        NEAR(r.sigma_eff, 2.5, 2.5e-7);
    }
    tg_volume_release(&v);
}

/* layers normal to z: label l in planes z of thickness t[l]; sigma per label */
static void test_layers(void)
{
    const int t[3] = {3, 5, 2};
    const double lab[] = {0, 1, 2}, sig[] = {1.0, 4.0, 0.5};
    tg_volume v;
    vol(6, 5, 10, &v);
    int z = 0;
    for (int l = 0; l < 3; l++)
        for (int k = 0; k < t[l]; k++, z++) memset(vox(&v) + 30 * z, l, 30);
    double series = 0, mean = 0;
    for (int l = 0; l < 3; l++) { series += t[l] / sig[l]; mean += t[l] * sig[l] / 10.0; }
    series = 10.0 / series;
    tg_flux_result r;
    /* along z: layers in series, harmonic mean (exact in the TauFactor convention) */
    CHECK_OK(&ctx, run(&v, 2, TG_FLUX_TAUFACTOR, 0, lab, sig, 3, &r));
    NEAR(r.sigma_eff, series, 1e-7 * series);
    NEAR(r.d_mean_total, mean, 1e-12);
    NEAR(r.tau_total, mean / series, 1e-6);
    /* across the layers: in parallel, arithmetic mean, tau = 1 — both conventions, both sides */
    for (int b = 0; b < 2; b++)
        for (int a = 0; a < 2; a++) {
            CHECK_OK(&ctx, run(&v, a, b, a, lab, sig, 3, &r));
            NEAR(r.sigma_eff, mean, 1e-7 * mean);
            NEAR(r.tau, 1.0, 1e-6);
        }
    tg_volume_release(&v);
}

static void test_channel_and_dead_ends(void)
{
    tg_volume v;
    vol(9, 8, 12, &v);
    for (int z = 0; z < 12; z++) vox(&v)[4 + 9 * (3 + 8 * z)] = 1;            /* channel along z */
    for (int x = 0; x < 5; x++) vox(&v)[x + 9 * (6 + 8 * 5)] = 1;            /* isolated bar */
    for (int y = 0; y < 3; y++) vox(&v)[4 + 9 * (y + 8 * 7)] = 1;            /* dead end hanging on the channel */
    const double lab[] = {0, 1}, sig[] = {0, 1};
    tg_flux_result r;
    double lft[2], lfp[2];
    tg_flux_opts o = TG_FLUX_OPTS_INIT;
    o.labels = lab; o.sigma = sig; o.nlabels = 2; o.tol = 1e-9;
    CHECK_OK(&ctx, tg_flux(&ctx, &v, &o, &r, lft, lfp, NULL, NULL));
    const double N = 9 * 8 * 12, nch = 12, nperc = 12 + 3, ntot = 12 + 5 + 3;
    CHECK(r.converged);
    NEAR(lft[1], ntot / N, 1e-15);
    NEAR(lfp[1], nperc / N, 1e-15);
    NEAR(r.frac_percolating, nperc / N, 1e-15);
    NEAR(r.sigma_eff, nch / N, 1e-8);                          /* only the straight channel carries current */
    NEAR(r.tau_total, ntot / nch, 1e-6);
    NEAR(r.tau_percolating, nperc / nch, 1e-6);
    /* the same channel seen across: nothing percolates along x or y */
    for (int a = 0; a < 2; a++) {
        CHECK_OK(&ctx, run(&v, a, 0, 0, lab, sig, 2, &r));
        CHECK(!r.percolates && isinf(r.tau) && r.sigma_eff == 0.0 && r.message[0] != 0);
    }
    /* nothing conducts at all */
    const double sig0[] = {0, 0};
    CHECK_OK(&ctx, run(&v, 2, 0, 0, lab, sig0, 2, &r));
    CHECK(!r.percolates && isinf(r.tau));
    tg_volume_release(&v);
}

/* A staircase that crosses the x side: connected only through the periodic wrap. */
static void test_periodic_path(void)
{
    tg_volume v;
    const int nx = 4, nz = 9;
    vol(nx, 3, nz, &v);
    for (int z = 0; z < nz; z++) {
        vox(&v)[(z % nx) + nx * (1 + 3 * z)] = 1;
        vox(&v)[((z + 1) % nx) + nx * (1 + 3 * z)] = 1;
    }
    const double lab[] = {0, 1}, sig[] = {0, 1};
    tg_flux_result r;
    CHECK_OK(&ctx, run(&v, 2, 0, 0, lab, sig, 2, &r));
    CHECK(!r.percolates && isinf(r.tau));
    CHECK_OK(&ctx, run(&v, 2, 0, 1, lab, sig, 2, &r));
    CHECK(r.percolates && r.converged && r.tau > 1.0 && isfinite(r.tau));
    tg_volume_release(&v);
}

/* Maxwell: sigma_eff / sigma = (1 - phi) / (1 + phi / 2) for dilute insulating spheres. One sphere per 20^3 cell,
 * periodic sides, three cells in series along z. Discretisation error of a voxelised sphere of radius 5: ~1 %. */
static void test_maxwell(void)
{
    const int n = 20, cells = 3;
    tg_volume v;
    vol(n, n, n * cells, &v);
    tg_volume_fill(&ctx, &v, 1);
    int64_t holes = 0;
    for (int z = 0; z < n * cells; z++)
        for (int y = 0; y < n; y++)
            for (int x = 0; x < n; x++) {
                double dx = x - 9.5, dy = y - 9.5, dz = (z % n) - 9.5;
                if (dx * dx + dy * dy + dz * dz <= 25.0) { vox(&v)[x + n * (y + n * z)] = 0; holes++; }
            }
    const double phi = (double)holes / (n * n * n * cells);
    const double lab[] = {0, 1}, sig[] = {0, 1};
    tg_flux_result r;
    CHECK_OK(&ctx, run(&v, 2, 0, 1, lab, sig, 2, &r));
    const double maxwell = (1 - phi) / (1 + phi / 2);
    CHECK(r.converged);
    NEAR(r.sigma_eff / maxwell, 1.0, 0.015);
    tg_volume_release(&v);
}

/* tiny volumes: no multigrid level below the fine one, a single voxel, two layers with PoreSpy's convention */
static void test_tiny(void)
{
    tg_volume v;
    const double lab[] = {0, 1}, sig[] = {0, 3};
    tg_flux_result r;
    vol(1, 1, 1, &v);
    vox(&v)[0] = 1;
    CHECK_OK(&ctx, run(&v, 2, 0, 0, lab, sig, 2, &r));
    NEAR(r.tau, 1.0, 1e-9);
    NEAR(r.sigma_eff, 3.0, 1e-8);
    CHECK(tg_flux(&ctx, &v, &(tg_flux_opts){.axis = 2, .boundary = TG_FLUX_POREPY, .labels = lab, .sigma = sig, .nlabels = 2,
                                            .tol = 1e-6, .max_iter = 10, .solver = TG_MG_OPTS_INIT}, &r, NULL, NULL, NULL, NULL) == TG_ERR_ARG);
    tg_volume_release(&v);
    vol(3, 2, 2, &v);
    tg_volume_fill(&ctx, &v, 1);
    for (int b = 0; b < 2; b++) {
        CHECK_OK(&ctx, run(&v, 2, b, 0, lab, sig, 2, &r));
        NEAR(r.tau, 1.0, 1e-9);
    }
    tg_volume_release(&v);
}

static void test_field(void)
{
    tg_volume v, pot, cur;
    vol(5, 4, 8, &v);
    tg_volume_fill(&ctx, &v, 1);
    const double lab[] = {1}, sig[] = {1};
    tg_flux_opts o = TG_FLUX_OPTS_INIT;
    o.labels = lab; o.sigma = sig; o.nlabels = 1; o.tol = 1e-9;
    tg_flux_result r;
    CHECK_OK(&ctx, tg_flux(&ctx, &v, &o, &r, NULL, NULL, &pot, &cur));
    for (int z = 0; z < 8; z++) {
        NEAR(tg_volume_get(&pot, 2, 1, z), 1.0 - (z + 0.5) / 8.0, 1e-6);
        NEAR(tg_volume_get(&cur, 2, 1, z), 1.0, 1e-5);
    }
    /* uniform current: the top 1 % (2 of 160 voxels) carry 2/160 of it */
    NEAR(r.hot1, 2.0 / 160.0, 1e-6);
    NEAR(r.hot5, 8.0 / 160.0, 1e-6);
    tg_volume_release(&pot);
    tg_volume_release(&cur);
    /* a channel along z in an insulator: |j| = 1/eps inside, potential NaN outside */
    tg_volume_fill(&ctx, &v, 0);
    for (int z = 0; z < 8; z++) vox(&v)[2 + 5 * (1 + 4 * z)] = 1;
    const double lab2[] = {0, 1}, sig2[] = {0, 1};
    o.labels = lab2; o.sigma = sig2; o.nlabels = 2;
    CHECK_OK(&ctx, tg_flux(&ctx, &v, &o, &r, NULL, NULL, &pot, &cur));
    NEAR(tg_volume_get(&cur, 2, 1, 3), 20.0, 1e-4);
    NEAR(tg_volume_get(&cur, 0, 0, 3), 0.0, 0);
    CHECK(isnan(tg_volume_get(&pot, 0, 0, 3)));
    NEAR(r.tau, 1.0, 1e-7);
    tg_volume_release(&pot);
    tg_volume_release(&cur);
    tg_volume_release(&v);
}

/* a reproducible random two-phase volume (a cheap hash) */
static void random_volume(tg_volume *v, int n, double p)
{
    vol(n, n + 3, n - 2, v);
    uint64_t s = 12345;
    for (int64_t i = 0; i < tg_volume_count(v); i++) {
        s = s * 6364136223846793005ULL + 1442695040888963407ULL;
        vox(v)[i] = (uint8_t)((double)(s >> 11) / 9007199254740992.0 < p);
    }
}

static void test_threads(void)
{
    tg_volume v;
    random_volume(&v, 40, 0.6);
    const double lab[] = {0, 1}, sig[] = {0, 1};
    tg_flux_result r1, r2;
    ctx.nthreads = 1;
    CHECK_OK(&ctx, run(&v, 0, 0, 0, lab, sig, 2, &r1));
    ctx.nthreads = 3;
    CHECK_OK(&ctx, run(&v, 0, 0, 0, lab, sig, 2, &r2));
    ctx.nthreads = 2;
    CHECK(r1.converged && r2.converged);
    CHECK(r1.tau == r2.tau && r1.iterations == r2.iterations && r1.residual == r2.residual);
    /* and the cancel flag stops it */
    atomic_store(&ctx.cancel, 1);
    CHECK(run(&v, 0, 0, 0, lab, sig, 2, &r1) == TG_ERR_CANCELLED);
    atomic_store(&ctx.cancel, 0);
    tg_volume_release(&v);
}

static void test_bad_input(void)
{
    tg_volume v, f;
    vol(4, 4, 4, &v);
    vox(&v)[5] = 2;
    const double lab[] = {0, 1}, sig[] = {0, 1}, neg[] = {0, -1};
    tg_flux_result r;
    tg_flux_opts o = TG_FLUX_OPTS_INIT;
    o.labels = lab; o.sigma = sig; o.nlabels = 2;
    CHECK(tg_flux(&ctx, &v, &o, &r, NULL, NULL, NULL, NULL) == TG_ERR_ARG);   /* label 2 has no conductivity */
    CHECK(strstr(ctx.msg, "label 2") != NULL);
    vox(&v)[5] = 1;
    o.sigma = neg;
    CHECK(tg_flux(&ctx, &v, &o, &r, NULL, NULL, NULL, NULL) == TG_ERR_ARG);
    o.sigma = sig;
    o.axis = 3;
    CHECK(tg_flux(&ctx, &v, &o, &r, NULL, NULL, NULL, NULL) == TG_ERR_ARG);
    o.axis = 2;
    o.tol = 0;
    CHECK(tg_flux(&ctx, &v, &o, &r, NULL, NULL, NULL, NULL) == TG_ERR_ARG);
    o.tol = 1e-6;
    const double twice[] = {1, 1};
    o.labels = twice;
    CHECK(tg_flux(&ctx, &v, &o, &r, NULL, NULL, NULL, NULL) == TG_ERR_ARG);
    o.labels = lab;
    CHECK_OK(&ctx, tg_volume_astype(&ctx, &v, TG_F32, &f));
    CHECK(tg_flux(&ctx, &f, &o, &r, NULL, NULL, NULL, NULL) == TG_ERR_ARG);
    tg_volume_release(&f);
    tg_volume_release(&v);
}

/* Read an uncompressed 8-bit multi-page TIFF with libtiff (NULL if absent). */
static int read_stack(const char *path, tg_volume *v)
{
    TIFFSetWarningHandler(NULL);
    TIFF *t = TIFFOpen(path, "r");
    if (!t) return 0;
    uint32_t w = 0, h = 0;
    TIFFGetField(t, TIFFTAG_IMAGEWIDTH, &w);
    TIFFGetField(t, TIFFTAG_IMAGELENGTH, &h);
    int64_t pages = TIFFNumberOfDirectories(t);
    vol(w, h, pages, v);
    for (int64_t z = 0; z < pages; z++) {
        TIFFSetDirectory(t, (tdir_t)z);
        for (uint32_t y = 0; y < h; y++) TIFFReadScanline(t, vox(v) + w * (y + (int64_t)h * z), y, 0);
    }
    TIFFClose(t);
    return 1;
}

/* anchor-values.json, synth_3phase_100, flux_independent_cg (both porosity conventions), within 0.2 % */
static void test_synth100(void)
{
    /* shipped in tests/fixtures/data (TG_FIXTURE_DATA): never skipped */
    char path[1024];
    const char *base = getenv("TG_FIXTURE_DATA");
    snprintf(path, sizeof path, "%s/synth-3phase-100/synth_3phase_100.tif", base ? base : "../tests/fixtures/data");
    tg_volume v;
    int found = read_stack(path, &v);
    CHECK(found); /* a missing fixture fails, never skips */
    if (!found) return;
    const double lab[] = {0, 1, 2}, s1[] = {0, 1, 0}, s2[] = {0, 0, 1};
    tg_flux_result r;
    CHECK_OK(&ctx, run(&v, 2, 0, 0, lab, s1, 3, &r));
    CHECK(r.converged);
    NEAR(r.tau_total / 3.6839149261777844, 1.0, 2e-3);
    NEAR(r.tau_percolating / 3.658513354683504, 1.0, 2e-3);
    NEAR(r.frac_percolating, 0.559113, 1e-6);
    CHECK_OK(&ctx, run(&v, 0, 0, 0, lab, s2, 3, &r));
    CHECK(r.converged);
    NEAR(r.tau_total / 2.182739890047482, 1.0, 2e-3);
    NEAR(r.tau_percolating / 2.1765671144244663, 1.0, 2e-3);
    tg_volume_release(&v);
}

/* Coarse unknowns are the connected pieces of each 2x2x2 block: four straight channels along z at
 * (x,y) = (0,0), (1,1), (2,3), (3,2) put two unconnected pieces in each of the blocks (0,0) and (1,1) of
 * every block plane. Level 1 must hold 4 pieces per block plane (not 2 blocks), level 2 (blocks of 4x4x4)
 * still 4 per block, and the solve stays exact (tau = 1, sigma_eff = 4/16 of the section). */
static void test_pieces(void)
{
    const int64_t nx = 4, ny = 4, nz = 16, plane = nx * ny;
    static const int ch[4][2] = {{0, 0}, {1, 1}, {2, 3}, {3, 2}};
    uint8_t cls[4 * 4 * 16];
    memset(cls, 0, sizeof cls);
    for (int z = 0; z < nz; z++)
        for (int c = 0; c < 4; c++) cls[ch[c][0] + nx * (ch[c][1] + ny * z)] = 1;
    const float lut[4] = {0, 0, 0, 1};
    const double lutd[4] = {0, 0, 0, 1};
    double gbin[16], gbout[16];
    for (int i = 0; i < plane; i++) {
        gbin[i] = cls[i] ? 2.0 : 0.0;
        gbout[i] = cls[i + plane * (nz - 1)] ? 2.0 : 0.0;
    }
    tg_mg_fine F;
    memset(&F, 0, sizeof F);
    F.n[0] = nx; F.n[1] = ny; F.n[2] = nz;
    F.cls = cls;
    F.ncls = 2;
    for (int a = 0; a < 3; a++) { F.lut[a] = lut; F.lutd[a] = lutd; }
    F.gbin = gbin;
    F.gbout = gbout;
    tg_mg_opts mo = TG_MG_OPTS_INIT;
    mo.coarsest = 1;
    tg_mg *mg = NULL;
    CHECK_OK(&ctx, tg_mg_build(&ctx, &F, &mo, &mg));
    if (!mg) return;
    CHECK(tg_mg_levels(mg) >= 3);
    CHECK(tg_mg_unknowns(mg, 0) == 4 * nz);
    CHECK(tg_mg_unknowns(mg, 1) == 4 * nz / 2);
    CHECK(tg_mg_unknowns(mg, 2) == 4 * nz / 4);
    /* the preconditioner is symmetric: <B r1, r2> = <r1, B r2> */
    float r1[4 * 4 * 16], r2[4 * 4 * 16], z1[4 * 4 * 16], z2[4 * 4 * 16];
    uint64_t s = 99;
    for (int64_t i = 0; i < plane * nz; i++) {
        s = s * 6364136223846793005ULL + 1442695040888963407ULL;
        r1[i] = cls[i] ? (float)((s >> 40) & 1023) / 1024.0f - 0.5f : 0.0f;
        r2[i] = cls[i] ? (float)((s >> 20) & 1023) / 1024.0f - 0.5f : 0.0f;
        z1[i] = z2[i] = 0.0f;
    }
    tg_mg_precondition(&ctx, mg, r1, z1);
    tg_mg_precondition(&ctx, mg, r2, z2);
    double a = 0, b = 0, pa = 0;
    for (int64_t i = 0; i < plane * nz; i++) {
        a += (double)z1[i] * r2[i];
        b += (double)r1[i] * z2[i];
        pa += (double)z1[i] * r1[i];
    }
    NEAR(a, b, 1e-5 * fabs(a));
    CHECK(pa > 0.0);
    tg_mg_free(mg);

    tg_volume v;
    vol(nx, ny, nz, &v);
    memcpy(vox(&v), cls, sizeof cls);
    const double lab[] = {0, 1}, sig[] = {0, 1};
    tg_flux_result r;
    tg_flux_opts o = TG_FLUX_OPTS_INIT;
    o.labels = lab; o.sigma = sig; o.nlabels = 2; o.tol = 1e-9;
    o.solver.coarsest = 1;
    CHECK_OK(&ctx, tg_flux(&ctx, &v, &o, &r, NULL, NULL, NULL, NULL));
    CHECK(r.converged && r.levels >= 3);
    NEAR(r.sigma_eff, 4.0 / 16.0, 1e-8);
    NEAR(r.tau, 1.0, 1e-8);
    tg_volume_release(&v);
}

/* ---- strongly anisotropic voxels (issue 14: from aspect ~300 on the multigrid broke down: tau 1.0 after zero
 * iterations, sigma_eff < 0, or "the coarsest operator is not positive definite") ---- */

static const double aniso_sp[][3] = {{1e-7, 1e-7, 3e-5}, {3e-5, 3e-5, 1e-7}, {1e-7, 3e-5, 1e-7},
                                     {1e-9, 1e-9, 1e-3}, {1e-3, 1e-9, 1e-9}, {1e-9, 1e-3, 1e-3}};
#define NSP ((int)(sizeof aniso_sp / sizeof aniso_sp[0]))

static tg_status run_sp(tg_volume *v, const double sp[3], int axis, const double *lab, const double *sig, int n,
                        tg_flux_result *r)
{
    memcpy(v->spacing, sp, sizeof v->spacing);
    tg_status st = run(v, axis, TG_FLUX_TAUFACTOR, 0, lab, sig, n, r);
    v->spacing[0] = v->spacing[1] = v->spacing[2] = 1.0;
    return st;
}

/* Layers of sigma 1 and 0.5, five voxels each, normal to axis a: in series along a (tau = 1.125 exactly, the
 * TauFactor convention makes the discrete answer the continuum one), in parallel across (tau = 1). Every spacing,
 * every axis: converged, after at least one iteration unless the initial guess is exact. */
static void test_anisotropic_layers(void)
{
    const double lab[] = {1, 2}, sig[] = {1.0, 0.5};
    for (int a = 0; a < 3; a++) {
        tg_volume v;
        int64_t d[3] = {6, 7, 8};
        d[a] = 10;
        vol(d[0], d[1], d[2], &v);
        for (int64_t i = 0; i < d[0] * d[1] * d[2]; i++) {
            const int64_t p[3] = {i % d[0], i / d[0] % d[1], i / (d[0] * d[1])};
            vox(&v)[i] = p[a] < 5 ? 1 : 2;
        }
        for (int s = 0; s < NSP; s++)
            for (int b = 0; b < 3; b++) {
                tg_flux_result r;
                CHECK_OK(&ctx, run_sp(&v, aniso_sp[s], b, lab, sig, 2, &r));
                const double want = b == a ? 1.125 : 1.0;
                /* in parallel the linear initial guess is the exact solution (zero residual): nothing to iterate */
                CHECK(r.converged && (b != a || r.iterations >= 1));
                CHECK(r.iterations >= 1 || r.residual == 0.0);
                NEAR(r.tau, want, 1e-6 * want);
                CHECK(r.sigma_eff > 0.0);
            }
        tg_volume_release(&v);
    }
}

/* Straight one-voxel channels along each axis in an insulator: tau = 1 along them, whatever the spacing. */
static void test_anisotropic_channels(void)
{
    const double lab[] = {0, 1}, sig[] = {0.0, 1.0};
    for (int a = 0; a < 3; a++) {
        tg_volume v;
        vol(9, 9, 9, &v);
        for (int64_t i = 0; i < 729; i++) {
            const int64_t p[3] = {i % 9, i / 9 % 9, i / 81};
            const int64_t u = p[(a + 1) % 3], w = p[(a + 2) % 3];
            vox(&v)[i] = u % 3 == 1 && w % 4 == 1;
        }
        for (int s = 0; s < NSP; s++) {
            tg_flux_result r;
            CHECK_OK(&ctx, run_sp(&v, aniso_sp[s], a, lab, sig, 2, &r));
            CHECK(r.converged);
            NEAR(r.tau, 1.0, 1e-6);
        }
        tg_volume_release(&v);
    }
}

/* A random section extruded along axis e: the potential does not vary along e, so tau across e does not depend
 * on the spacing along e. The isotropic solve is the reference for spacings 300 and 1e6 times longer along e. */
static void test_extruded_vs_isotropic(void)
{
    const double lab[] = {0, 1}, sig[] = {0.0, 1.0};
    tg_rng g = tg_rng_make(7, 1);
    uint8_t sec[24 * 24];
    for (int i = 0; i < 24 * 24; i++) sec[i] = tg_rng_uniform(&g) < 0.62;
    for (int e = 0; e < 3; e++) {
        tg_volume v;
        int64_t d[3] = {24, 24, 24};
        d[e] = 5;
        vol(d[0], d[1], d[2], &v);
        for (int64_t i = 0; i < d[0] * d[1] * d[2]; i++) {
            const int64_t p[3] = {i % d[0], i / d[0] % d[1], i / (d[0] * d[1])};
            vox(&v)[i] = sec[p[(e + 1) % 3] + 24 * p[(e + 2) % 3]];
        }
        for (int k = 1; k <= 2; k++) {
            const int b = (e + k) % 3;
            tg_flux_result iso, an;
            const double one[3] = {1e-6, 1e-6, 1e-6};
            CHECK_OK(&ctx, run_sp(&v, one, b, lab, sig, 2, &iso));
            CHECK(iso.converged && iso.percolates && iso.tau > 1.2);
            for (int s = 0; s < 2; s++) {
                double sp[3] = {1e-7, 1e-7, 1e-7};
                sp[e] = s == 0 ? 3e-5 : 1e-1;
                CHECK_OK(&ctx, run_sp(&v, sp, b, lab, sig, 2, &an));
                CHECK(an.converged);
                NEAR(an.tau, iso.tau, 1e-6 * iso.tau);
            }
        }
        tg_volume_release(&v);
    }
}

/* Voxels 1e6 times longer along z than across: the in-plane faces are 1e12 times stronger, so each in-plane
 * connected piece of the percolating phase is one equipotential node to 1e-12, and the problem is the Kirchhoff
 * network of these nodes (z faces between them, half-voxel faces to the end planes): solved here by a dense
 * Cholesky factorisation, independently of the multigrid. A random 60 % phase percolates in 3D but makes many
 * pieces per plane. */
static int64_t find_root(int64_t *p, int64_t i)
{
    while (p[i] != i) i = p[i] = p[p[i]];
    return i;
}

static void join(int64_t *p, int64_t a, int64_t b)
{
    a = find_root(p, a);
    b = find_root(p, b);
    if (a != b) p[a > b ? a : b] = a < b ? a : b;
}

static void test_anisotropic_network(void)
{
    enum { NX = 20, NY = 18, NZ = 14, N = NX * NY * NZ };
    static uint8_t on[N];
    static int64_t par[N + 2], node[N];
    tg_rng g = tg_rng_make(3, 5);
    for (int i = 0; i < N; i++) on[i] = tg_rng_uniform(&g) < 0.6;
    /* percolating voxels: 6-connected (3D) to both z faces; N and N+1 stand for the two faces */
    for (int i = 0; i < N + 2; i++) par[i] = i;
    for (int i = 0; i < N; i++) {
        if (!on[i]) continue;
        const int x = i % NX, y = i / NX % NY, z = i / (NX * NY);
        if (x + 1 < NX && on[i + 1]) join(par, i, i + 1);
        if (y + 1 < NY && on[i + NX]) join(par, i, i + NX);
        if (z + 1 < NZ && on[i + NX * NY]) join(par, i, i + NX * NY);
        if (z == 0) join(par, i, N);
        if (z == NZ - 1) join(par, i, N + 1);
    }
    CHECK(find_root(par, N) == find_root(par, N + 1));
    int64_t eps = 0;
    for (int i = 0; i < N; i++) {
        if (on[i]) eps++;
        on[i] = on[i] && find_root(par, i) == find_root(par, N);
    }
    /* in-plane pieces of the percolating voxels: the network's nodes */
    for (int i = 0; i < N; i++) par[i] = i;
    for (int i = 0; i < N; i++) {
        if (!on[i]) continue;
        const int x = i % NX, y = i / NX % NY;
        if (x + 1 < NX && on[i + 1]) join(par, i, i + 1);
        if (y + 1 < NY && on[i + NX]) join(par, i, i + NX);
    }
    int nn = 0;
    for (int i = 0; i < N; i++) node[i] = on[i] && find_root(par, i) == i ? nn++ : -1;
    for (int i = 0; i < N; i++) if (on[i]) node[i] = node[find_root(par, i)];
    double *A = calloc((size_t)nn * nn, sizeof *A), *b = calloc((size_t)nn, sizeof *b), *gin = calloc((size_t)nn, sizeof *gin);
    for (int i = 0; i < N; i++) {
        if (!on[i]) continue;
        const int z = i / (NX * NY), p = (int)node[i];
        if (z == 0) { A[p * nn + p] += 2.0; b[p] += 2.0; gin[p] += 2.0; }
        if (z == NZ - 1) A[p * nn + p] += 2.0;
        if (z + 1 < NZ && on[i + NX * NY]) {
            const int q = (int)node[i + NX * NY];
            A[p * nn + p] += 1.0; A[q * nn + q] += 1.0; A[p * nn + q] -= 1.0; A[q * nn + p] -= 1.0;
        }
    }
    for (int j = 0; j < nn; j++) { /* Cholesky, then the two triangular solves */
        for (int k = 0; k < j; k++) A[j * nn + j] -= A[j * nn + k] * A[j * nn + k];
        A[j * nn + j] = sqrt(A[j * nn + j]);
        for (int i = j + 1; i < nn; i++) {
            for (int k = 0; k < j; k++) A[i * nn + j] -= A[i * nn + k] * A[j * nn + k];
            A[i * nn + j] /= A[j * nn + j];
        }
    }
    for (int i = 0; i < nn; i++) { for (int k = 0; k < i; k++) b[i] -= A[i * nn + k] * b[k]; b[i] /= A[i * nn + i]; }
    for (int i = nn - 1; i >= 0; i--) { for (int k = i + 1; k < nn; k++) b[i] -= A[k * nn + i] * b[k]; b[i] /= A[i * nn + i]; }
    double current = 0.0; /* through the inlet, for unit sigma, unit potential difference, unit z faces */
    for (int p = 0; p < nn; p++) current += gin[p] * (1.0 - b[p]);
    const double tau_net = ((double)eps / N) * (NX * NY) / (current * NZ);
    free(A); free(b); free(gin);

    tg_volume v;
    vol(NX, NY, NZ, &v);
    tg_rng g2 = tg_rng_make(3, 5);
    for (int i = 0; i < N; i++) vox(&v)[i] = tg_rng_uniform(&g2) < 0.6;
    const double lab[] = {0, 1}, sig[] = {0.0, 1.0}, sp[3] = {1e-9, 1e-9, 1e-3};
    tg_flux_result r;
    CHECK_OK(&ctx, run_sp(&v, sp, 2, lab, sig, 2, &r));
    CHECK(r.converged && r.iterations >= 1 && r.sigma_eff > 0.0);
    NEAR(r.tau, tau_net, 1e-6 * tau_net);
    /* and voxels 300 times longer: close to the network, from above (finite in-plane faces only add resistance) */
    const double sp300[3] = {1e-7, 1e-7, 3e-5};
    CHECK_OK(&ctx, run_sp(&v, sp300, 2, lab, sig, 2, &r));
    CHECK(r.converged && r.tau >= tau_net * (1 - 1e-9) && r.tau < 1.01 * tau_net);
    tg_volume_release(&v);
    /* semi-coarsened levels keep results independent of the thread count (a volume past the kernels' threshold
     * for running in parallel, 32768 cells) */
    vol(48, 40, 24, &v);
    for (int i = 0; i < 48 * 40 * 24; i++) vox(&v)[i] = tg_rng_uniform(&g2) < 0.6;
    tg_flux_result r1;
    ctx.nthreads = 1;
    CHECK_OK(&ctx, run_sp(&v, sp300, 2, lab, sig, 2, &r1));
    ctx.nthreads = 3;
    CHECK_OK(&ctx, run_sp(&v, sp300, 2, lab, sig, 2, &r));
    ctx.nthreads = 2;
    CHECK(r1.converged && r1.levels >= 4);
    CHECK(r1.tau == r.tau && r1.iterations == r.iterations && r1.residual == r.residual);
    tg_volume_release(&v);
}

static void test_anisotropic(void)
{
    test_anisotropic_layers();
    test_anisotropic_channels();
    test_extruded_vs_isotropic();
    test_anisotropic_network();
}

/* Issue 14: a subnormal conductivity underflowed sigma_eff to 0 (tau = inf, converged) — the scale is applied
 * last now; a contrast beyond the solver's single-precision preconditioner is refused with a clear message. */
static void test_tiny_sigma(void)
{
    tg_volume v;
    vol(5, 4, 6, &v);
    tg_volume_fill(&ctx, &v, 1);
    const double lab[] = {1, 2};
    const double sp[3] = {1e-7, 1e-7, 1e-7};
    for (int k = 0; k < 3; k++) {
        const double sig[] = {k == 0 ? 1e-300 : k == 1 ? 1e-310 : 4.9406564584124654e-324, 1.0};
        tg_flux_result r;
        CHECK_OK(&ctx, run_sp(&v, sp, 2, lab, sig, 1, &r));
        CHECK(r.converged);
        NEAR(r.tau, 1.0, 1e-9);
        CHECK(r.sigma_eff > 0.0 && fabs(r.sigma_eff / sig[0] - 1.0) < 1e-6);
    }
    vox(&v)[7] = 2; /* one voxel of sigma 1 inside the 1e-300 conductor */
    const double sig[] = {1e-300, 1.0};
    tg_flux_result r;
    CHECK(run_sp(&v, sp, 2, lab, sig, 2, &r) == TG_ERR_ARG);
    CHECK(strstr(ctx.msg, "labels 1 (1e-300) and 2 (1) differ by more than 1e30") != NULL);
    tg_volume_release(&v);
}

static void setup(void)
{
    tg_ctx_init(&ctx);
    ctx.nthreads = 2;
}

TG_TEST_MAIN(setup, test_uniform_block, test_layers, test_channel_and_dead_ends, test_periodic_path, test_maxwell, test_tiny,
             test_field, test_pieces, test_threads, test_bad_input, test_synth100, test_anisotropic, test_tiny_sigma)
