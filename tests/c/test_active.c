/* test_active.c — the active-CAM estimate: hand-built geometries with known distances (a column with anisotropic
 * spacing, the chamfer metric in a block, a geodesic around a pore), cut-off clusters on both sides, random
 * volumes against an independent shortest-path relaxation, thread-count independence, bad input. */
#include "tg_test.h"
#include "measure/tg_active.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

enum { PORE = 0, CAM = 1, ISE = 2 };

static void vol(tg_ctx *ctx, int64_t nx, int64_t ny, int64_t nz, const double sp[3], tg_volume *v)
{
    const int64_t d[3] = {nx, ny, nz};
    tg_volume_alloc(ctx, d, TG_U8, sp, v);
}

static void put(tg_volume *v, int64_t x, int64_t y, int64_t z, int val) { *(uint8_t *)tg_volume_ptr(v, x, y, z) = (uint8_t)val; }
static float at(const tg_volume *d, int64_t x, int64_t y, int64_t z) { return *(const float *)tg_volume_ptr(d, x, y, z); }

/* A CAM column along z from the collector, ISE beside its top voxel reaching the separator. */
static void test_column(void)
{
    tg_ctx ctx;
    tg_ctx_init(&ctx);
    const double sp[3] = {1, 1, 2};
    tg_volume v, dist;
    vol(&ctx, 3, 3, 10, sp, &v);
    for (int z = 0; z < 10; z++) put(&v, 1, 1, z, CAM);
    put(&v, 1, 2, 9, ISE);
    put(&v, 0, 0, 5, CAM); /* isolated: not on the collector */
    put(&v, 2, 2, 0, ISE); /* touches the collector face only: not ionically connected */
    tg_active_opts o = TG_ACTIVE_OPTS_INIT;
    o.n_reach = 3;
    o.reach[0] = 4;
    o.reach[1] = 0;
    o.reach[2] = INFINITY;
    tg_active_result r;
    CHECK_OK(&ctx, tg_active_cam(&ctx, &v, &o, &r, &dist));
    CHECK(r.cam_voxels == 11);
    CHECK(r.cam_electronic == 10);
    CHECK(r.ise_voxels == 2);
    CHECK(r.ise_ionic == 1);
    CHECK(r.cam_contact == 1);
    CHECK(r.cam_cluster == 10);
    CHECK(r.cam_reached[0] == 3); /* z = 9, 8, 7 at 0, 2, 4 */
    CHECK(r.cam_reached[1] == 1);
    CHECK(r.cam_reached[2] == 10);
    CHECK(r.faces_cam_ise == 1);
    CHECK(r.faces_connected == 1);
    for (int z = 0; z < 10; z++) NEAR(at(&dist, 1, 1, z), 2.0 * (9 - z), 1e-5);
    NEAR(r.max_distance, 18, 1e-5);
    CHECK(at(&dist, 0, 0, 5) == -1.0f);
    CHECK(isnan(at(&dist, 0, 0, 0)));
    CHECK(isnan(at(&dist, 1, 2, 9)));
    tg_volume_release(&dist);

    /* the collector on the other side: the column still touches it (z = 9), the ISE at z = 0 is now connected to
     * the separator and touches nothing; the top ISE touches only the collector face */
    o.collector_last = 1;
    CHECK_OK(&ctx, tg_active_cam(&ctx, &v, &o, &r, NULL));
    CHECK(r.cam_electronic == 10);
    CHECK(r.ise_ionic == 1);
    CHECK(r.cam_contact == 0);
    CHECK(r.cam_cluster == 0);
    CHECK(r.cam_reached[2] == 0);
    CHECK(r.faces_cam_ise == 1 && r.faces_connected == 0);
    tg_volume_release(&v);
}

/* A full CAM block with one contact at a corner: the 26-neighbour chamfer distance (a >= b >= c the sorted offsets)
 * (a - b) + (b - c) sqrt 2 + c sqrt 3. */
static void test_block_chamfer(void)
{
    tg_ctx ctx;
    tg_ctx_init(&ctx);
    tg_volume v, dist;
    vol(&ctx, 5, 5, 6, NULL, &v);
    for (int z = 0; z < 5; z++)
        for (int y = 0; y < 5; y++)
            for (int x = 0; x < 5; x++) put(&v, x, y, z, CAM);
    put(&v, 0, 0, 5, ISE);
    tg_active_opts o = TG_ACTIVE_OPTS_INIT;
    tg_active_result r;
    CHECK_OK(&ctx, tg_active_cam(&ctx, &v, &o, &r, &dist));
    CHECK(r.cam_contact == 1 && r.cam_cluster == 125);
    double worst = 0;
    for (int z = 0; z < 5; z++)
        for (int y = 0; y < 5; y++)
            for (int x = 0; x < 5; x++) {
                int k[3] = {x, y, 4 - z};
                for (int i = 0; i < 2; i++) /* sort descending */
                    for (int j = 0; j < 2 - i; j++)
                        if (k[j] < k[j + 1]) { int t = k[j]; k[j] = k[j + 1]; k[j + 1] = t; }
                double want = (k[0] - k[1]) + (k[1] - k[2]) * sqrt(2.0) + k[2] * sqrt(3.0);
                double e = fabs(at(&dist, x, y, z) - want);
                if (e > worst) worst = e;
            }
    NEAR(worst, 0, 1e-5);
    tg_volume_release(&dist);
    tg_volume_release(&v);
}

/* A CAM arch (both legs on the collector) around a pore: the distance follows the arch, not the straight line. */
static void test_geodesic(void)
{
    tg_ctx ctx;
    tg_ctx_init(&ctx);
    tg_volume v, dist;
    vol(&ctx, 5, 1, 6, NULL, &v);
    for (int z = 0; z < 5; z++) { put(&v, 0, 0, z, CAM); put(&v, 4, 0, z, CAM); }
    for (int x = 0; x < 5; x++) put(&v, x, 0, 4, CAM);
    put(&v, 0, 0, 5, ISE);
    tg_active_opts o = TG_ACTIVE_OPTS_INIT;
    o.n_reach = 1;
    o.reach[0] = 6.0; /* straight-line distance to (4, 0, 0) is 5.66, along the arch 3 + sqrt 2 + 3 */
    tg_active_result r;
    CHECK_OK(&ctx, tg_active_cam(&ctx, &v, &o, &r, &dist));
    NEAR(at(&dist, 4, 0, 0), 6 + sqrt(2.0), 1e-5);
    NEAR(at(&dist, 0, 0, 0), 4, 1e-5);
    CHECK(r.cam_voxels == 13 && r.cam_cluster == 13);
    /* beyond 6: (4,0,0) at 7.41, (4,0,1) at 6.41 */
    CHECK(r.cam_reached[0] == 11);
    tg_volume_release(&dist);
    tg_volume_release(&v);
}

/* ---- an independent reference: components by flood fill, distances by relaxation to the fixed point ---- */

static void flood(const uint8_t *lab, const int64_t d[3], int value, int32_t *comp, int64_t *ncomp)
{
    int64_t n = d[0] * d[1] * d[2], next = 0;
    int64_t *stack = malloc((size_t)n * sizeof *stack);
    memset(comp, 0, (size_t)n * sizeof *comp);
    for (int64_t s = 0; s < n; s++) {
        if (lab[s] != value || comp[s]) continue;
        int64_t top = 0;
        comp[s] = (int32_t)++next;
        stack[top++] = s;
        while (top) {
            int64_t i = stack[--top], x = i % d[0], y = i / d[0] % d[1], z = i / (d[0] * d[1]);
            const int64_t off[6][3] = {{-1, 0, 0}, {1, 0, 0}, {0, -1, 0}, {0, 1, 0}, {0, 0, -1}, {0, 0, 1}};
            for (int k = 0; k < 6; k++) {
                int64_t X = x + off[k][0], Y = y + off[k][1], Z = z + off[k][2];
                if (X < 0 || Y < 0 || Z < 0 || X >= d[0] || Y >= d[1] || Z >= d[2]) continue;
                int64_t j = X + d[0] * (Y + d[1] * Z);
                if (lab[j] == value && !comp[j]) { comp[j] = (int32_t)next; stack[top++] = j; }
            }
        }
    }
    free(stack);
    *ncomp = next;
}

static void reference(const uint8_t *lab, const int64_t d[3], const double sp[3], double *dist, int64_t *electronic)
{
    int64_t n = d[0] * d[1] * d[2], nc, ni;
    int32_t *cc = malloc((size_t)n * sizeof *cc), *ic = malloc((size_t)n * sizeof *ic);
    flood(lab, d, CAM, cc, &nc);
    flood(lab, d, ISE, ic, &ni);
    char *el = calloc((size_t)nc + 1, 1), *io = calloc((size_t)ni + 1, 1);
    for (int64_t y = 0; y < d[1]; y++)
        for (int64_t x = 0; x < d[0]; x++) {
            el[cc[x + d[0] * y]] = 1;
            io[ic[x + d[0] * (y + d[1] * (d[2] - 1))]] = 1;
        }
    el[0] = io[0] = 0;
    *electronic = 0;
    for (int64_t i = 0; i < n; i++) {
        dist[i] = NAN;
        if (!cc[i] || !el[cc[i]]) continue;
        (*electronic)++;
        dist[i] = INFINITY;
        int64_t x = i % d[0], y = i / d[0] % d[1], z = i / (d[0] * d[1]);
        const int64_t off[6][3] = {{-1, 0, 0}, {1, 0, 0}, {0, -1, 0}, {0, 1, 0}, {0, 0, -1}, {0, 0, 1}};
        for (int k = 0; k < 6; k++) {
            int64_t X = x + off[k][0], Y = y + off[k][1], Z = z + off[k][2];
            if (X < 0 || Y < 0 || Z < 0 || X >= d[0] || Y >= d[1] || Z >= d[2]) continue;
            int64_t j = X + d[0] * (Y + d[1] * Z);
            if (ic[j] && io[ic[j]]) dist[i] = 0;
        }
    }
    for (int changed = 1; changed;) { /* Bellman-Ford over the 26-neighbour graph inside each CAM cluster */
        changed = 0;
        for (int64_t i = 0; i < n; i++) {
            if (!(dist[i] > 0)) continue;
            int64_t x = i % d[0], y = i / d[0] % d[1], z = i / (d[0] * d[1]);
            for (int dz = -1; dz <= 1; dz++)
                for (int dy = -1; dy <= 1; dy++)
                    for (int dx = -1; dx <= 1; dx++) {
                        int64_t X = x + dx, Y = y + dy, Z = z + dz;
                        if ((!dx && !dy && !dz) || X < 0 || Y < 0 || Z < 0 || X >= d[0] || Y >= d[1] || Z >= d[2]) continue;
                        int64_t j = X + d[0] * (Y + d[1] * Z);
                        if (cc[j] != cc[i] || !(dist[j] >= 0)) continue;
                        double w = sqrt(dx * dx * sp[0] * sp[0] + dy * dy * sp[1] * sp[1] + dz * dz * sp[2] * sp[2]);
                        if (dist[j] + w < dist[i] * (1 - 1e-12)) { dist[i] = dist[j] + w; changed = 1; }
                    }
        }
    }
    free(cc); free(ic); free(el); free(io);
}

static void test_random(void)
{
    tg_ctx ctx;
    tg_ctx_init(&ctx);
    const int64_t d[3] = {13, 11, 12};
    const double sp[3] = {1e-7, 1.5e-7, 2e-7};
    int64_t n = d[0] * d[1] * d[2];
    uint64_t s = 12345;
    for (int trial = 0; trial < 3; trial++) {
        tg_volume v, d1, d2;
        tg_volume_alloc(&ctx, d, TG_U8, sp, &v);
        uint8_t *lab = (uint8_t *)v.buf->data;
        double pc = 0.45 + 0.1 * trial;
        for (int64_t i = 0; i < n; i++) {
            s = s * 6364136223846793005ULL + 1442695040888963407ULL;
            double u = (double)(s >> 11) / 9007199254740992.0;
            lab[i] = u < pc ? CAM : u < pc + 0.35 ? ISE : PORE;
        }
        double *want = malloc((size_t)n * sizeof *want);
        int64_t electronic;
        reference(lab, d, sp, want, &electronic);
        tg_active_opts o = TG_ACTIVE_OPTS_INIT;
        o.n_reach = 1;
        o.reach[0] = 3.3e-7; /* between distances: float and double round alike */
        tg_active_result r1, r2;
        ctx.nthreads = 1;
        CHECK_OK(&ctx, tg_active_cam(&ctx, &v, &o, &r1, &d1));
        ctx.nthreads = 2;
        CHECK_OK(&ctx, tg_active_cam(&ctx, &v, &o, &r2, &d2));
        CHECK(r1.cam_electronic == electronic);
        CHECK(memcmp(&r1, &r2, sizeof r1) == 0);
        CHECK(memcmp(d1.buf->data, d2.buf->data, (size_t)n * 4) == 0);
        const float *got = (const float *)d1.buf->data;
        int64_t bad = 0, reached = 0;
        for (int64_t i = 0; i < n; i++) {
            if (isnan(want[i])) { bad += !(isnan(got[i]) || got[i] == -1.0f); continue; }
            if (isinf(want[i])) { bad += !isinf(got[i]); continue; }
            if (fabs(got[i] - want[i]) > 1e-6 * want[i] + 1e-12) {
                if (!bad) fprintf(stderr, "voxel %lld: %.9g, want %.9g\n", (long long)i, got[i], want[i]);
                bad++;
            }
            reached += want[i] <= 3.3e-7;
        }
        CHECK(bad == 0);
        CHECK(r1.cam_reached[0] == reached);
        free(want);
        tg_volume_release(&v);
        tg_volume_release(&d1);
        tg_volume_release(&d2);
    }
}

static void test_bad(void)
{
    tg_ctx ctx;
    tg_ctx_init(&ctx);
    tg_volume v, f;
    vol(&ctx, 4, 4, 4, NULL, &v);
    tg_active_opts o = TG_ACTIVE_OPTS_INIT;
    tg_active_result r;
    o.ise = o.cam;
    CHECK(tg_active_cam(&ctx, &v, &o, &r, NULL) == TG_ERR_ARG && strstr(ctx.msg, "must differ"));
    o = (tg_active_opts)TG_ACTIVE_OPTS_INIT;
    o.axis = 3;
    CHECK(tg_active_cam(&ctx, &v, &o, &r, NULL) == TG_ERR_ARG && strstr(ctx.msg, "axis"));
    o = (tg_active_opts)TG_ACTIVE_OPTS_INIT;
    o.n_reach = 1;
    o.reach[0] = NAN;
    CHECK(tg_active_cam(&ctx, &v, &o, &r, NULL) == TG_ERR_ARG && strstr(ctx.msg, "reach"));
    o = (tg_active_opts)TG_ACTIVE_OPTS_INIT;
    o.connectivity = 5;
    CHECK(tg_active_cam(&ctx, &v, &o, &r, NULL) == TG_ERR_ARG);
    const int64_t d[3] = {4, 4, 4};
    tg_volume_alloc(&ctx, d, TG_F32, NULL, &f);
    o = (tg_active_opts)TG_ACTIVE_OPTS_INIT;
    CHECK(tg_active_cam(&ctx, &f, &o, &r, NULL) == TG_ERR_ARG && strstr(ctx.msg, "integer"));
    /* no CAM at all: zeros, no error */
    CHECK_OK(&ctx, tg_active_cam(&ctx, &v, &o, &r, NULL));
    CHECK(r.cam_voxels == 0 && r.cam_cluster == 0);
    /* running out of memory releases everything */
    put(&v, 1, 1, 0, CAM);
    for (int k = 0; k < 6; k++) {
        tg_volume dist;
        tg_alloc_fail_after(k);
        tg_status st = tg_active_cam(&ctx, &v, &o, &r, &dist);
        tg_alloc_fail_after(-1);
        CHECK(st == TG_ERR_NOMEM || st == TG_OK);
        if (st == TG_OK) tg_volume_release(&dist);
    }
    tg_volume_release(&v);
    tg_volume_release(&f);
}

TG_TEST_MAIN(test_column, test_block_chamfer, test_geodesic, test_random, test_bad)
