/* test_surfaces.c — phase and interface areas: two phases meeting on a plane (interface = plane area,
 * anisotropic spacing), scikit-image's and PoreSpy's numbers on a small random three-phase volume and on a
 * sphere (fixtures written once by bench/surfaces_ref.py), the shared volumes against
 * ../shared/reference/anchor-values.json, thread-count independence, absent phases and bad input; the triple-phase
 * boundary length on three phases meeting along a straight line (each axis, anisotropic), a staircase line and
 * a direct count of every voxel edge of a random four-phase volume. */
#include "tg_test.h"

#include "io/tg_tiff.h"
#include "measure/tg_surfaces.h"

#include <stdlib.h>
#include <string.h>

static tg_ctx ctx;

static void setup(void) { tg_ctx_init(&ctx); ctx.nthreads = 2; }

static char fixdir[1024];

static double ref(const char *key)
{
    char path[1200], k[128];
    double v;
    snprintf(path, sizeof path, "%s/ref.txt", fixdir);
    FILE *f = fopen(path, "r");
    if (!f) { fprintf(stderr, "missing fixture %s\n", path); return NAN; }
    char line[256];
    while (fgets(line, sizeof line, f))
        if (sscanf(line, "%127s %lf", k, &v) == 2 && strcmp(k, key) == 0) { fclose(f); return v; }
    fclose(f);
    fprintf(stderr, "fixture key %s missing\n", key);
    return NAN;
}

static tg_status surf(const tg_volume *v, int n, const int64_t *ph, int closed, int smooth, int method, tg_surfaces_result *r)
{
    tg_surfaces_opts o = TG_SURFACES_OPTS_INIT;
    o.nphases = n;
    memcpy(o.phases, ph, (size_t)n * sizeof *ph);
    o.convention = closed ? TG_SURFACES_CLOSED : TG_SURFACES_OPEN, o.smooth = smooth, o.method = method;
    return tg_surfaces(&ctx, v, &o, r);
}

static void test_plane_interface(void)
{
    double sp[3] = {1e-7, 2e-7, 3e-7};
    int64_t d[3] = {20, 16, 12};
    tg_volume v;
    CHECK_OK(&ctx, tg_volume_alloc(&ctx, d, TG_U8, sp, &v));
    for (int z = 0; z < 12; z++)
        for (int y = 0; y < 16; y++)
            for (int x = 0; x < 20; x++) tg_volume_set(&v, x, y, z, z < 5 ? 1 : 2);
    int64_t ph[2] = {1, 2};
    tg_surfaces_result r;
    CHECK_OK(&ctx, surf(&v, 2, ph, 0, 0, TG_MC_LEWINER, &r));
    double plane = 19 * 15 * sp[0] * sp[1]; /* open: the plane over the domain of voxel centres */
    NEAR(r.area[0] / plane, 1, 1e-12);
    NEAR(r.area[1] / plane, 1, 1e-12);
    NEAR(r.union_area[0][1], 0, 0);
    NEAR(r.interface[0][1] / plane, 1, 1e-12);
    CHECK(r.voxels[0] == 20 * 16 * 5 && r.voxels[1] == 20 * 16 * 7 && r.total_voxels == 20 * 16 * 12);
    /* smoothing keeps a flat interface flat */
    CHECK_OK(&ctx, surf(&v, 2, ph, 0, 1, TG_MC_LEWINER, &r));
    NEAR(r.interface[0][1] / plane, 1, 1e-9);
    /* closed: each phase is a closed box, their union the whole box; the interface is the plane again,
     * now over the padded domain (one more voxel in x and y, with cut corners at the rim) */
    CHECK_OK(&ctx, surf(&v, 2, ph, 1, 0, TG_MC_LEWINER, &r));
    CHECK(r.interface[0][1] > plane && r.interface[0][1] < 21 * 17 * sp[0] * sp[1]);
    tg_volume_release(&v);
}

static void load_blobs(tg_volume *v)
{
    char path[1200];
    snprintf(path, sizeof path, "%s/blobs_24x22x20.u8", fixdir);
    int64_t d[3] = {24, 22, 20};
    CHECK_OK(&ctx, tg_volume_alloc(&ctx, d, TG_U8, NULL, v));
    FILE *f = fopen(path, "rb");
    CHECK(f != NULL);
    if (f) {
        CHECK(fread(v->buf->data, 1, 24 * 22 * 20, f) == 24 * 22 * 20);
        fclose(f);
    }
}

static void test_blobs_against_peers(void)
{
    tg_volume v;
    load_blobs(&v);
    int64_t ph[3] = {0, 1, 2};
    tg_surfaces_result r;
    char key[64];
    CHECK_OK(&ctx, surf(&v, 3, ph, 0, 0, TG_MC_LEWINER, &r));
    for (int a = 0; a < 3; a++) {
        snprintf(key, sizeof key, "blobs_open_%d", a);
        NEAR(r.area[a] / ref(key), 1, 1e-6); /* scikit-image sums in float32 */
        snprintf(key, sizeof key, "blobs_voxels_%d", a);
        CHECK(r.voxels[a] == (int64_t)ref(key));
        for (int b = a + 1; b < 3; b++) {
            snprintf(key, sizeof key, "blobs_open_%d%d", a, b);
            NEAR(r.union_area[a][b] / ref(key), 1, 1e-6);
        }
    }
    CHECK_OK(&ctx, surf(&v, 3, ph, 1, 1, TG_MC_LEWINER, &r));
    for (int a = 0; a < 3; a++) {
        snprintf(key, sizeof key, "blobs_closed_%d", a);
        /* PoreSpy's region_surface_areas convention (required: 0.5 %). Smoothed values k/7 tie on some faces and
         * in some interior tests, where the choice of reference edge in Lewiner's hand-made tables and ours
         * (tools/gen_mcubes_tables.py) can differ: about 1e-4 here */
        NEAR(r.area[a] / ref(key), 1, 5e-4);
    }
    CHECK_OK(&ctx, surf(&v, 3, ph, 0, 1, TG_MC_LEWINER, &r));
    for (int a = 0; a < 3; a++) {
        snprintf(key, sizeof key, "blobs_smooth_open_%d", a);
        NEAR(r.area[a] / ref(key), 1, 5e-4);
    }
    /* the classic table resolves ambiguous faces the other way: areas a little lower than Lewiner's; it agrees
     * with scikit-image's method="lorensen" except for the triangulation of one heptagon (cases 6/7 complements) */
    tg_surfaces_result c;
    CHECK_OK(&ctx, surf(&v, 3, ph, 0, 0, TG_MC_LORENSEN, &c));
    for (int a = 0; a < 3; a++) {
        snprintf(key, sizeof key, "blobs_lorensen_%d", a);
        NEAR(c.area[a] / ref(key), 1, 0.02);
    }
    tg_volume_release(&v);
}

static void test_sphere_against_peers(void)
{
    int n = 49;
    int64_t d[3] = {n, n, n};
    tg_volume v;
    CHECK_OK(&ctx, tg_volume_alloc(&ctx, d, TG_U8, NULL, &v));
    for (int z = 0; z < n; z++)
        for (int y = 0; y < n; y++)
            for (int x = 0; x < n; x++)
                if ((x - 24) * (x - 24) + (y - 24) * (y - 24) + (z - 24) * (z - 24) <= 400) tg_volume_set(&v, x, y, z, 1);
    int64_t ph[1] = {1};
    tg_surfaces_result r;
    CHECK_OK(&ctx, surf(&v, 1, ph, 0, 0, TG_MC_LEWINER, &r));
    NEAR(r.area[0] / ref("sphere49_r20_open"), 1, 1e-6);
    CHECK(r.voxels[0] == (int64_t)ref("sphere49_r20_voxels"));
    CHECK_OK(&ctx, surf(&v, 1, ph, 1, 1, TG_MC_LEWINER, &r));
    NEAR(r.area[0] / ref("sphere49_r20_smooth_closed"), 1, 1e-6);
    NEAR(r.area[0] / (4 * M_PI * 400), 1, 0.01);
    tg_volume_release(&v);
}

static void test_threads_do_not_change_results(void)
{
    tg_volume v;
    load_blobs(&v);
    int64_t ph[3] = {0, 1, 2};
    for (int smooth = 0; smooth < 2; smooth++) {
        tg_surfaces_result a, b;
        ctx.nthreads = 1;
        CHECK_OK(&ctx, surf(&v, 3, ph, smooth, smooth, TG_MC_LEWINER, &a));
        ctx.nthreads = 3;
        CHECK_OK(&ctx, surf(&v, 3, ph, smooth, smooth, TG_MC_LEWINER, &b));
        ctx.nthreads = 2;
        CHECK(memcmp(&a, &b, sizeof a) == 0);
    }
    tg_volume_release(&v);
}

static void test_absent_phase_and_bad_input(void)
{
    tg_volume v;
    load_blobs(&v);
    int64_t ph[2] = {1, 7};
    tg_surfaces_result r;
    CHECK_OK(&ctx, surf(&v, 2, ph, 0, 0, TG_MC_LEWINER, &r));
    CHECK(r.area[1] == 0 && r.voxels[1] == 0);
    NEAR(r.interface[0][1], 0, 1e-9); /* S_1 + 0 - S_{1 u 7} = 0 */
    CHECK(!isnan(r.interface[0][1]));
    int64_t dup[2] = {1, 1};
    CHECK(surf(&v, 2, dup, 0, 0, TG_MC_LEWINER, &r) == TG_ERR_ARG);
    CHECK(strstr(ctx.msg, "listed twice") != NULL);
    int64_t many[9] = {0, 1, 2, 3, 4, 5, 6, 7, 8};
    CHECK(surf(&v, 9, many, 0, 0, TG_MC_LEWINER, &r) == TG_ERR_ARG);
    CHECK(surf(&v, 0, many, 0, 0, TG_MC_LEWINER, &r) == TG_ERR_ARG);
    CHECK(surf(&v, 1, many, 0, 0, 5, &r) == TG_ERR_ARG);
    tg_volume f;
    CHECK_OK(&ctx, tg_volume_astype(&ctx, &v, TG_F32, &f));
    CHECK(surf(&f, 1, many, 0, 0, TG_MC_LEWINER, &r) == TG_ERR_ARG);
    CHECK(strstr(ctx.msg, "u8, u16 or i32") != NULL);
    for (long k = 1; k < 10; k++) {
        tg_alloc_fail_after(k);
        tg_status st = surf(&v, 2, ph, 1, 1, TG_MC_LEWINER, &r);
        tg_alloc_fail_after(0);
        CHECK(st == TG_OK || st == TG_ERR_NOMEM);
    }
    tg_volume_release(&f);
    tg_volume_release(&v);
}

/* anchors: ../shared/reference/anchor-values.json, "surface_open_skimage" and "surface_closed_porespy" */
static void check_shared(const char *rel, const int64_t *labels, const double *open, const double *closed)
{
    /* the project's fixture (tests/fixtures/data, TG_FIXTURE_DATA) first, then the shared datasets */
    const char *fix = getenv("TG_FIXTURE_DATA"), *base = getenv("TG_SHARED_DATA");
    char path[1200];
    snprintf(path, sizeof path, "%s/%s", fix ? fix : "../tests/fixtures/data", rel);
    FILE *f = fopen(path, "rb");
    if (!f && (!base || !base[0])) return; /* no ../shared/data: left out at configure time, which says so */
    if (!f) {
        snprintf(path, sizeof path, "%s/%s", base, rel);
        f = fopen(path, "rb");
    }
    CHECK(f != NULL); /* the shared datasets are there but not this one: a failure, never a skip */
    if (!f) { fprintf(stderr, "%s not found\n", path); return; }
    fclose(f);
    tg_volume v;
    tg_tiff_read_opts ro = TG_TIFF_READ_OPTS_INIT;
    CHECK_OK(&ctx, tg_tiff_read(&ctx, path, &ro, &v));
    if (!v.buf) return;
    tg_surfaces_result r;
    CHECK_OK(&ctx, surf(&v, 3, labels, 0, 0, TG_MC_LEWINER, &r));
    for (int a = 0; a < 3; a++) NEAR(r.area[a] / open[a], 1, 1e-3 * 0.01); /* required 0.1 %; we match to 1e-5 */
    if (closed)
        for (int a = 0; a < 3; a++) {
            tg_surfaces_result c;
            CHECK_OK(&ctx, surf(&v, 1, labels + a, 1, 1, TG_MC_LEWINER, &c));
            NEAR(c.area[0] / closed[a], 1, 5e-3);
        }
    tg_volume_release(&v);
}

static void test_shared_volumes(void)
{
    int64_t ph[3] = {0, 1, 2}, el[3] = {0, 85, 170};
    double o100[3] = {48105.65625, 71444.515625, 98739.109375}, c100[3] = {43017.47265625, 103936.078125, 104275.5625};
    double o200[3] = {397738.78125, 596934.0625, 817412.125};
    double oel[3] = {3735972.0, 1747917.125, 4261398.0};
    check_shared("synth-3phase-100/synth_3phase_100.tif", ph, o100, c100);
    check_shared("synth-3phase-200/synth_3phase_200.tif", ph, o200, NULL);
    check_shared("taufactor-nmc-electrode-3phase/electrode.tiff", el, oel, NULL);
}

/* Three phases meeting along a straight line along axis A through the whole volume: phase a where the coordinate
 * along B is below b0, else b where the coordinate along C is below c0, else c. Exactly one voxel edge per voxel
 * along A is shared by the three phases, so the TPB length is dims[A] * spacing[A] whatever the convention, the
 * smoothing or an extra (absent) phase listed; nothing along the other axes. */
static void test_tpb_straight_line(void)
{
    double sp[3] = {1e-7, 2e-7, 3e-7};
    int64_t d[3] = {11, 9, 7};
    for (int A = 0; A < 3; A++) {
        int B = (A + 1) % 3, C = (A + 2) % 3;
        tg_volume v;
        CHECK_OK(&ctx, tg_volume_alloc(&ctx, d, TG_U8, sp, &v));
        for (int64_t z = 0; z < d[2]; z++)
            for (int64_t y = 0; y < d[1]; y++)
                for (int64_t x = 0; x < d[0]; x++) {
                    int64_t p[3] = {x, y, z};
                    tg_volume_set(&v, x, y, z, p[B] < d[B] / 2 ? 3 : p[C] < d[C] / 2 ? 5 : 9);
                }
        int64_t ph[4] = {3, 5, 9, 4}; /* 4 is absent */
        for (int conv = 0; conv < 3; conv++) {
            tg_surfaces_result r;
            CHECK_OK(&ctx, surf(&v, 4, ph, conv == 1, conv == 2, TG_MC_LEWINER, &r));
            CHECK(r.ntriples == 4);
            CHECK(r.triple[0][0] == 0 && r.triple[0][1] == 1 && r.triple[0][2] == 2);
            NEAR(r.tpb_length[0] / (d[A] * sp[A]), 1, 1e-12);
            for (int k = 0; k < 3; k++) CHECK(r.tpb_edges[0][k] == (k == A ? d[A] : 0));
            for (int t = 1; t < 4; t++) CHECK(r.tpb_length[t] == 0 && r.tpb_edges[t][0] + r.tpb_edges[t][1] + r.tpb_edges[t][2] == 0);
            NEAR(r.tpb_any_length / (d[A] * sp[A]), 1, 1e-12);
        }
        /* two phases only: no triple */
        tg_surfaces_result r;
        CHECK_OK(&ctx, surf(&v, 2, ph, 0, 0, TG_MC_LEWINER, &r));
        CHECK(r.ntriples == 0 && r.tpb_any_length == 0);
        tg_volume_release(&v);
    }
}

/* A diagonal TPB: phase 1 below plane z0; above it phase 2 where x + y < k, else 3. The line runs along (1, 1, 0)
 * at the level of the plane; edge counting follows its staircase: one x-edge and one y-edge per step, so the
 * counted length is (|ux| + |uy|) = sqrt 2 times the Euclidean length (the bias the tpb_correction documents). */
static void test_tpb_staircase(void)
{
    int64_t d[3] = {12, 10, 6}, z0 = 3, k = 11;
    tg_volume v;
    CHECK_OK(&ctx, tg_volume_alloc(&ctx, d, TG_U8, NULL, &v));
    for (int64_t z = 0; z < d[2]; z++)
        for (int64_t y = 0; y < d[1]; y++)
            for (int64_t x = 0; x < d[0]; x++) tg_volume_set(&v, x, y, z, z < z0 ? 1 : x + y < k ? 2 : 3);
    int64_t ph[3] = {1, 2, 3}, nxe = 0, nye = 0;
    for (int64_t x = 0; x < d[0]; x++) nxe += k - 1 - x >= 0 && k - 1 - x <= d[1] - 2; /* y = k-1-x, y+1 inside */
    for (int64_t y = 0; y < d[1]; y++) nye += k - 1 - y >= 0 && k - 1 - y <= d[0] - 2;
    tg_surfaces_result r;
    CHECK_OK(&ctx, surf(&v, 3, ph, 0, 0, TG_MC_LEWINER, &r));
    CHECK(r.tpb_edges[0][0] == nxe && r.tpb_edges[0][1] == nye && r.tpb_edges[0][2] == 0);
    NEAR(r.tpb_length[0], (double)(nxe + nye), 1e-12);
    tg_volume_release(&v);
}

/* Random labels 0..3 against a direct count of every voxel edge's four voxels, anisotropic, 1 and 3 threads. */
static void test_tpb_brute_force(void)
{
    int64_t d[3] = {13, 9, 8};
    double sp[3] = {0.5, 1.5, 2.0};
    tg_volume v;
    CHECK_OK(&ctx, tg_volume_alloc(&ctx, d, TG_U8, sp, &v));
    uint64_t seed = 12345;
    for (int64_t z = 0; z < d[2]; z++)
        for (int64_t y = 0; y < d[1]; y++)
            for (int64_t x = 0; x < d[0]; x++) {
                seed = seed * 6364136223846793005ULL + 1442695040888963407ULL;
                tg_volume_set(&v, x, y, z, (double)((seed >> 33) % 4));
            }
    int64_t ph[4] = {0, 1, 2, 3};
    int tri[4][3] = {{0, 1, 2}, {0, 1, 3}, {0, 2, 3}, {1, 2, 3}};
    int64_t want[4][3] = {{0}}, any[3] = {0};
    for (int A = 0; A < 3; A++) {
        int B = (A + 1) % 3, C = (A + 2) % 3;
        int64_t p[3];
        for (p[A] = 0; p[A] < d[A]; p[A]++)
            for (p[B] = 0; p[B] + 1 < d[B]; p[B]++)
                for (p[C] = 0; p[C] + 1 < d[C]; p[C]++) {
                    int present = 0;
                    for (int q = 0; q < 4; q++) {
                        int64_t c[3] = {p[0], p[1], p[2]};
                        c[B] += q & 1;
                        c[C] += q >> 1;
                        present |= 1 << (int)tg_volume_get(&v, c[0], c[1], c[2]);
                    }
                    any[A] += __builtin_popcount(present) >= 3;
                    for (int t = 0; t < 4; t++) {
                        int m = (1 << tri[t][0]) | (1 << tri[t][1]) | (1 << tri[t][2]);
                        want[t][A] += (present & m) == m;
                    }
                }
    }
    for (int nt = 1; nt <= 3; nt += 2) {
        ctx.nthreads = nt;
        for (int closed = 0; closed < 2; closed++) {
            tg_surfaces_result r;
            CHECK_OK(&ctx, surf(&v, 4, ph, closed, 0, TG_MC_LEWINER, &r));
            for (int t = 0; t < 4; t++) {
                CHECK(r.triple[t][0] == tri[t][0] && r.triple[t][1] == tri[t][1] && r.triple[t][2] == tri[t][2]);
                for (int A = 0; A < 3; A++) CHECK(r.tpb_edges[t][A] == want[t][A]);
                NEAR(r.tpb_length[t], want[t][0] * sp[0] + want[t][1] * sp[1] + want[t][2] * sp[2], 1e-12);
            }
            for (int A = 0; A < 3; A++) CHECK(r.tpb_any_edges[A] == any[A]);
        }
    }
    CHECK(want[0][0] > 0 && want[3][2] > 0); /* the random volume does have triple lines */
    ctx.nthreads = 2;
    tg_volume_release(&v);
}

static void run_setup(void)
{
    setup();
    snprintf(fixdir, sizeof fixdir, "%s", __FILE__);
    char *s = strrchr(fixdir, '/');
    if (s) *s = 0;
    strncat(fixdir, "/../fixtures/surfaces", sizeof fixdir - strlen(fixdir) - 1);
}

TG_TEST_MAIN(run_setup, test_plane_interface, test_blobs_against_peers, test_sphere_against_peers,
             test_threads_do_not_change_results, test_absent_phase_and_bad_input, test_shared_volumes,
             test_tpb_straight_line, test_tpb_staircase, test_tpb_brute_force)
