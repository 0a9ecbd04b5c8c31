/* test_mcubes.c — marching cubes from geometric truth: every binary configuration decided as its table
 * says, a voxelised cube (exact area, isotropic and anisotropic), a sphere (one-sided bounds, smoothed area
 * near 4 pi r^2), watertightness and orientation of closed meshes (signed volume = enclosed voxels), random
 * volumes with ambiguous cubes, the classic table, and bad input. */
#include "tg_test.h"

#include "io/tg_mesh_io.h"
#include "measure/tg_mcubes.h"

#include <sys/stat.h>

#include <stdlib.h>
#include <string.h>

static tg_ctx ctx;

static void setup(void) { tg_ctx_init(&ctx); ctx.nthreads = 2; }

static void vol_u8(tg_volume *v, int64_t nx, int64_t ny, int64_t nz, const double sp[3])
{
    int64_t d[3] = {nx, ny, nz};
    CHECK_OK(&ctx, tg_volume_alloc(&ctx, d, TG_U8, sp, v));
}

int cmp(const void *x, const void *y);

/* strict = 1: every undirected edge is used by exactly two triangles, once in each direction (a closed,
 * consistently oriented 2-manifold). strict = 0: every directed edge is matched by as many reverse uses (closed
 * and consistently oriented; on binary data Lewiner's tie rule joins corners through a face with zero width, so
 * two sheets may touch along a segment of that face, as in scikit-image's meshes). */
static int watertight(const tg_mesh *m, int strict)
{
    int64_t n = 3 * m->ntris;
    uint64_t *e = malloc((size_t)n * sizeof *e);
    for (int64_t t = 0; t < m->ntris; t++)
        for (int k = 0; k < 3; k++) {
            uint64_t a = m->tris[3 * t + k], b = m->tris[3 * t + (k + 1) % 3];
            e[3 * t + k] = a << 32 | b;
        }
    qsort(e, (size_t)n, sizeof *e, cmp);
    int ok = 1;
    for (int64_t i = 0; i < n && ok;) {
        int64_t j = i;
        while (j < n && e[j] == e[i]) j++;
        uint64_t r = (e[i] & 0xffffffffu) << 32 | e[i] >> 32;
        int64_t lo = 0, hi = n; /* count reverse uses */
        while (lo < hi) { int64_t mid = (lo + hi) / 2; if (e[mid] < r) lo = mid + 1; else hi = mid; }
        int64_t cnt = 0;
        while (lo + cnt < n && e[lo + cnt] == r) cnt++;
        if (cnt != j - i || (strict && cnt != 1)) ok = 0;
        i = j;
    }
    free(e);
    return ok;
}
int cmp(const void *x, const void *y)
{
    uint64_t a = *(const uint64_t *)x, b = *(const uint64_t *)y;
    return a < b ? -1 : a > b;
}

static void test_binary_table_is_the_decision(void)
{
    /* on corner values +-1/2 the run-time tests (face decider ties, interior test) pick the binary table's tiling */
    int same = 1;
    for (int cfg = 0; cfg < 256; cfg++) {
        double v[8];
        for (int c = 0; c < 8; c++) v[c] = (cfg >> c & 1) ? 0.5 : -0.5;
        if (tg_mc_decide(v, cfg, TG_MC_LEWINER) != tg_mc_binary_tiling(cfg, TG_MC_LEWINER)) same = 0;
    }
    CHECK(same);
    double sp[3] = {1, 1, 1}, a[256], c[256];
    tg_mc_binary_areas(TG_MC_LEWINER, sp, a);
    tg_mc_binary_areas(TG_MC_LORENSEN, sp, c);
    NEAR(a[1], sqrt(3.0) / 8, 1e-12);   /* one corner: triangle of edge midpoints */
    NEAR(a[3], sqrt(2.0) / 2, 1e-12);   /* an edge: a quad 1 x sqrt(2)/2 */
    NEAR(a[15], 1.0, 1e-12);            /* a face: the unit square */
    NEAR(a[0], 0.0, 0);
    NEAR(a[255], 0.0, 0);
    /* complementary configurations of unambiguous cases have the same surface */
    NEAR(a[1], a[254], 1e-12);
    NEAR(a[15], a[240], 1e-12);
    /* case 4 (two opposite corners) is two triangles in both tables */
    NEAR(a[1 | 128], 2 * sqrt(3.0) / 8, 1e-12);
    NEAR(c[1 | 128], 2 * sqrt(3.0) / 8, 1e-12);
    /* case 3 (two corners on a face diagonal): Lewiner joins them through the face (tie), the classic table does not */
    CHECK(a[1 | 8] > c[1 | 8] + 0.1);
}

/* exact marching-cubes area of an n^3 block of voxels (closed surface) at spacing s */
static double block_area(int n, const double s[3])
{
    double m = n - 1;
    double faces = 2 * m * m * (s[1] * s[2] + s[0] * s[2] + s[0] * s[1]);
    double edges = 4 * m * (s[0] * hypot(s[1], s[2]) + s[1] * hypot(s[0], s[2]) + s[2] * hypot(s[0], s[1])) / 2;
    double corner = 0.5 * sqrt(pow(s[1] * s[2] / 4, 2) + pow(s[0] * s[2] / 4, 2) + pow(s[0] * s[1] / 4, 2));
    return faces + edges + 8 * corner;
}

static void test_block(void)
{
    double sps[2][3] = {{1e-7, 1e-7, 1e-7}, {1e-7, 2e-7, 5e-7}};
    for (int k = 0; k < 2; k++) {
        tg_volume v;
        vol_u8(&v, 16, 14, 12, sps[k]);
        for (int z = 2; z < 10; z++)
            for (int y = 3; y < 11; y++)
                for (int x = 4; x < 12; x++) tg_volume_set(&v, x, y, z, 3);
        tg_mesh m;
        tg_mcubes_opts o = TG_MCUBES_OPTS_INIT;
        CHECK_OK(&ctx, tg_mcubes(&ctx, &v, 3, &o, &m));
        double exact = block_area(8, sps[k]);
        NEAR(tg_mesh_area(&m) / exact, 1.0, 1e-6);
        CHECK(watertight(&m, 1));
        /* enclosed volume: the block of voxel centres grown by the cut corners; positive = outward normals */
        double cell = sps[k][0] * sps[k][1] * sps[k][2];
        double vol = tg_mesh_volume(&m) / cell;
        CHECK(vol > 7 * 7 * 7 && vol < 8 * 8 * 8);
        /* vertices in metres: x = columns, spanning the block's columns 4..11 grown by half a voxel */
        float xmin = 1e9f, xmax = -1e9f, zmax = -1e9f;
        for (int64_t i = 0; i < m.nverts; i++) {
            xmin = fminf(xmin, m.verts[3 * i]);
            xmax = fmaxf(xmax, m.verts[3 * i]);
            zmax = fmaxf(zmax, m.verts[3 * i + 2]);
        }
        NEAR(xmin / sps[k][0], 3.5, 1e-4);
        NEAR(xmax / sps[k][0], 11.5, 1e-4);
        NEAR(zmax / sps[k][2], 9.5, 1e-4);
        tg_mesh_release(&m);
        tg_volume_release(&v);
    }
}

static void sphere(tg_volume *v, int n, double r)
{
    double sp[3] = {1, 1, 1};
    vol_u8(v, n, n, n, sp);
    double c = (n - 1) / 2.0;
    for (int z = 0; z < n; z++)
        for (int y = 0; y < n; y++)
            for (int x = 0; x < n; x++)
                if ((x - c) * (x - c) + (y - c) * (y - c) + (z - c) * (z - c) <= r * r) tg_volume_set(v, x, y, z, 1);
}

static void test_sphere(void)
{
    tg_volume v;
    double r = 20;
    sphere(&v, 49, r); /* centred on voxel (24, 24, 24) */
    int64_t voxels = 0;
    for (int z = 0; z < 49; z++)
        for (int y = 0; y < 49; y++)
            for (int x = 0; x < 49; x++) voxels += tg_volume_get(&v, x, y, z) == 1;
    double truth = 4 * M_PI * r * r;
    tg_mesh m;
    tg_mcubes_opts o = TG_MCUBES_OPTS_INIT;
    CHECK_OK(&ctx, tg_mcubes(&ctx, &v, 1, &o, &m));
    double a = tg_mesh_area(&m);
    /* the surface encloses the ball of radius r - sqrt(3)/2 (all 8 corners of those cubes are inside), so by
     * convexity its area is at least that ball's; a staircase never exceeds the voxel-face area (1.5 x) */
    CHECK(a > 4 * M_PI * (r - sqrt(3.0) / 2) * (r - sqrt(3.0) / 2));
    CHECK(a < 1.5 * truth);
    CHECK(watertight(&m, 1));
    NEAR(tg_mesh_volume(&m) / voxels, 1.0, 0.02);
    tg_mesh_release(&m);
    o.smooth = 1;
    CHECK_OK(&ctx, tg_mcubes(&ctx, &v, 1, &o, &m));
    NEAR(tg_mesh_area(&m) / truth, 1.0, 0.01);
    CHECK(watertight(&m, 1));
    tg_mesh_release(&m);
    tg_volume_release(&v);
}

static uint32_t lcg(uint32_t *s) { return *s = *s * 1664525u + 1013904223u; }

static void test_random_closed_meshes_are_watertight(void)
{
    /* noise is full of ambiguous faces and interior cases; closed meshes must still be watertight */
    uint32_t seed = 7;
    for (int trial = 0; trial < 4; trial++) {
        tg_volume v;
        double sp[3] = {1, 1, 1};
        vol_u8(&v, 11, 9, 10, sp);
        for (int z = 0; z < 10; z++)
            for (int y = 0; y < 9; y++)
                for (int x = 0; x < 11; x++) tg_volume_set(&v, x, y, z, (lcg(&seed) >> 16) % 3);
        for (int smooth = 0; smooth < 2; smooth++)
            for (int method = 0; method < 2; method++) {
                tg_mesh m;
                tg_mcubes_opts o = {method, 1, smooth};
                CHECK_OK(&ctx, tg_mcubes(&ctx, &v, 1, &o, &m));
                CHECK(watertight(&m, smooth || method == TG_MC_LORENSEN));
                if (!smooth) {
                    int64_t n = 0;
                    for (int z = 0; z < 10; z++)
                        for (int y = 0; y < 9; y++)
                            for (int x = 0; x < 11; x++) n += tg_volume_get(&v, x, y, z) == 1;
                    /* each voxel contributes its dual cell; cut corners make the volume smaller, never negative */
                    double vol = tg_mesh_volume(&m);
                    CHECK(vol > 0 && vol < n);
                }
                tg_mesh_release(&m);
            }
        tg_volume_release(&v);
    }
}

static void test_open_mesh_and_errors(void)
{
    tg_volume v;
    double sp[3] = {2e-6, 2e-6, 2e-6};
    vol_u8(&v, 6, 5, 4, sp);
    for (int z = 0; z < 2; z++)
        for (int y = 0; y < 5; y++)
            for (int x = 0; x < 6; x++) tg_volume_set(&v, x, y, z, 1);
    tg_mesh m;
    tg_mcubes_opts o = TG_MCUBES_OPTS_INIT;
    CHECK_OK(&ctx, tg_mcubes(&ctx, &v, 1, &o, &m));
    NEAR(tg_mesh_area(&m) / (5 * 4 * 4e-12), 1.0, 1e-6); /* the plane between slices 1 and 2, over the open domain */
    tg_mesh_release(&m);
    /* an absent phase and a phase that fills the volume (open) have no surface */
    CHECK(tg_mcubes(&ctx, &v, 9, &o, &m) == TG_ERR_ARG);
    CHECK(strstr(ctx.msg, "no voxel") != NULL);
    CHECK(m.ntris == 0 && m.verts == NULL);
    tg_volume f;
    vol_u8(&f, 3, 3, 3, sp);
    CHECK(tg_mcubes(&ctx, &f, 0, &o, &m) == TG_ERR_ARG);
    CHECK(strstr(ctx.msg, "fills the volume") != NULL);
    o.closed = 1;
    CHECK_OK(&ctx, tg_mcubes(&ctx, &f, 0, &o, &m)); /* closed: the box itself */
    CHECK(watertight(&m, 1));
    tg_mesh_release(&m);
    tg_volume g;
    int64_t d[3] = {4, 4, 4};
    CHECK_OK(&ctx, tg_volume_alloc(&ctx, d, TG_F32, NULL, &g));
    CHECK(tg_mcubes(&ctx, &g, 0, &o, &m) == TG_ERR_ARG);
    CHECK(strstr(ctx.msg, "u8, u16 or i32") != NULL);
    o.method = 7;
    CHECK(tg_mcubes(&ctx, &v, 1, &o, &m) == TG_ERR_ARG);
    /* failing allocations leave no half-result and no leak */
    o.method = TG_MC_LEWINER;
    o.closed = 0;
    for (long k = 1; k < 12; k++) {
        tg_alloc_fail_after(k);
        tg_status st = tg_mcubes(&ctx, &v, 1, &o, &m);
        tg_alloc_fail_after(0);
        CHECK(st == TG_OK || (st == TG_ERR_NOMEM && m.verts == NULL && m.tris == NULL));
        tg_mesh_release(&m);
    }
    tg_volume_release(&g);
    tg_volume_release(&f);
    tg_volume_release(&v);
}

static void test_views_and_dtypes(void)
{
    /* a strided view and u16 / i32 labels give the same mesh area as the contiguous u8 volume */
    tg_volume v, w16, w32, view;
    sphere(&v, 20, 6);
    CHECK_OK(&ctx, tg_volume_astype(&ctx, &v, TG_U16, &w16));
    CHECK_OK(&ctx, tg_volume_astype(&ctx, &v, TG_I32, &w32));
    int64_t lo[3] = {2, 2, 2}, hi[3] = {18, 18, 18};
    CHECK_OK(&ctx, tg_volume_view(&ctx, &v, lo, hi, &view));
    tg_mesh a, b, c, d;
    tg_mcubes_opts o = TG_MCUBES_OPTS_INIT;
    CHECK_OK(&ctx, tg_mcubes(&ctx, &v, 1, &o, &a));
    CHECK_OK(&ctx, tg_mcubes(&ctx, &w16, 1, &o, &b));
    CHECK_OK(&ctx, tg_mcubes(&ctx, &w32, 1, &o, &c));
    CHECK_OK(&ctx, tg_mcubes(&ctx, &view, 1, &o, &d));
    NEAR(tg_mesh_area(&b), tg_mesh_area(&a), 0);
    NEAR(tg_mesh_area(&c), tg_mesh_area(&a), 0);
    NEAR(tg_mesh_area(&d), tg_mesh_area(&a), 1e-9);
    tg_mesh_release(&a), tg_mesh_release(&b), tg_mesh_release(&c), tg_mesh_release(&d);
    tg_volume_release(&view), tg_volume_release(&w32), tg_volume_release(&w16), tg_volume_release(&v);
}


static void test_write_ply_and_stl(void)
{
    tg_volume v;
    double sp[3] = {1e-6, 1e-6, 2e-6};
    vol_u8(&v, 8, 8, 8, sp);
    for (int z = 2; z < 6; z++)
        for (int y = 2; y < 6; y++)
            for (int x = 2; x < 6; x++) tg_volume_set(&v, x, y, z, 1);
    tg_mesh m;
    tg_mcubes_opts o = TG_MCUBES_OPTS_INIT;
    CHECK_OK(&ctx, tg_mcubes(&ctx, &v, 1, &o, &m));
    const char *tmp = getenv("TG_TEST_TMP");
    char dir[1024], ply[1100], stl[1100];
    snprintf(dir, sizeof dir, "%s", tmp ? tmp : "/tmp");
    mkdir(dir, 0777);
    snprintf(ply, sizeof ply, "%s/test_mcubes.ply", dir);
    snprintf(stl, sizeof stl, "%s/test_mcubes.STL", dir);
    CHECK(tg_mesh_format_of(ply) == TG_MESH_PLY && tg_mesh_format_of(stl) == TG_MESH_STL && tg_mesh_format_of("a.obj") < 0);
    CHECK_OK(&ctx, tg_mesh_write(&ctx, ply, &m, TG_MESH_PLY));
    CHECK_OK(&ctx, tg_mesh_write(&ctx, stl, &m, TG_MESH_STL));
    /* read the PLY back: header counts, body size, first vertex and face */
    FILE *f = fopen(ply, "rb");
    CHECK(f != NULL);
    if (f) {
        char line[256];
        long long nv = -1, nf = -1;
        int binary_le = 0;
        while (fgets(line, sizeof line, f) && strcmp(line, "end_header\n") != 0) {
            sscanf(line, "element vertex %lld", &nv);
            sscanf(line, "element face %lld", &nf);
            if (strcmp(line, "format binary_little_endian 1.0\n") == 0) binary_le = 1;
        }
        CHECK(binary_le && nv == m.nverts && nf == m.ntris);
        long body = ftell(f);
        float xyz[3];
        CHECK(fread(xyz, 4, 3, f) == 3);
        NEAR(xyz[0], m.verts[0], 0);
        NEAR(xyz[2], m.verts[2], 0);
        fseek(f, body + 12 * nv, SEEK_SET);
        unsigned char cnt;
        int32_t idx[3];
        CHECK(fread(&cnt, 1, 1, f) == 1 && cnt == 3);
        CHECK(fread(idx, 4, 3, f) == 3);
        CHECK((uint32_t)idx[0] == m.tris[0] && (uint32_t)idx[2] == m.tris[2]);
        fseek(f, 0, SEEK_END);
        CHECK(ftell(f) == body + 12 * nv + 13 * nf);
        fclose(f);
    }
    f = fopen(stl, "rb");
    CHECK(f != NULL);
    if (f) {
        unsigned char head[84];
        CHECK(fread(head, 1, 84, f) == 84);
        uint32_t n = head[80] | head[81] << 8 | head[82] << 16 | (uint32_t)head[83] << 24;
        CHECK(n == m.ntris);
        float rec[12];
        CHECK(fread(rec, 4, 12, f) == 12);
        NEAR(rec[0] * rec[0] + rec[1] * rec[1] + rec[2] * rec[2], 1.0, 1e-5); /* unit normal */
        fseek(f, 0, SEEK_END);
        CHECK(ftell(f) == 84 + 50 * (long)n);
        fclose(f);
    }
    /* no temporary left behind; a directory that does not exist is an I/O error naming the file */
    char missing[1200];
    snprintf(missing, sizeof missing, "%s/no-such-dir/x.ply", dir);
    CHECK(tg_mesh_write(&ctx, missing, &m, TG_MESH_PLY) == TG_ERR_IO);
    CHECK(strstr(ctx.msg, "no-such-dir/x.ply") != NULL && strstr(ctx.msg, "cannot create") != NULL);
    tg_mesh_release(&m);
    tg_volume_release(&v);
}

static void run_setup(void) { setup(); }

TG_TEST_MAIN(run_setup, test_binary_table_is_the_decision, test_block, test_sphere, test_random_closed_meshes_are_watertight,
             test_open_mesh_and_errors, test_views_and_dtypes, test_write_ply_and_stl)
