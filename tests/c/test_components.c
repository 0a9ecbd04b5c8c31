/* test_components.c — connected components and percolation against brute-force flood fills, scipy's counts
 * on the shared volumes (anchor-values.json, components_6conn), thread-count independence, bad input. */
#include "tg_test.h"
#include "measure_data.h"
#include "core/tg_components.h"

#include <string.h>

/* Brute force: flood fill from each unlabelled voxel in raster order (so numbering is by first voxel). */
static int64_t flood_label(const uint8_t *m, const int64_t d[3], int conn, int32_t *lab)
{
    int64_t n = d[0] * d[1] * d[2], next = 0;
    int64_t *stack = malloc((size_t)n * sizeof *stack);
    memset(lab, 0, (size_t)n * sizeof *lab);
    for (int64_t s = 0; s < n; s++) {
        if (!m[s] || lab[s]) continue;
        int64_t top = 0;
        lab[s] = (int32_t)++next;
        stack[top++] = s;
        while (top) {
            int64_t i = stack[--top], x = i % d[0], y = i / d[0] % d[1], z = i / (d[0] * d[1]);
            for (int dz = -1; dz <= 1; dz++)
                for (int dy = -1; dy <= 1; dy++)
                    for (int dx = -1; dx <= 1; dx++) {
                        int k = abs(dx) + abs(dy) + abs(dz);
                        if (k == 0 || (conn == 6 && k > 1) || (conn == 18 && k > 2)) continue;
                        int64_t X = x + dx, Y = y + dy, Z = z + dz;
                        if (X < 0 || Y < 0 || Z < 0 || X >= d[0] || Y >= d[1] || Z >= d[2]) continue;
                        int64_t j = X + d[0] * (Y + d[1] * Z);
                        if (m[j] && !lab[j]) { lab[j] = (int32_t)next; stack[top++] = j; }
                    }
        }
    }
    free(stack);
    return next;
}

static void random_mask(tg_ctx *ctx, const int64_t d[3], double p, uint64_t seed, tg_volume *v)
{
    tg_volume_alloc(ctx, d, TG_U8, NULL, v);
    uint8_t *m = v->buf->data;
    for (int64_t i = 0; i < d[0] * d[1] * d[2]; i++) m[i] = (double)(measure_rng(&seed) >> 11) * 0x1.0p-53 < p;
}

static void test_random_vs_flood(void)
{
    tg_ctx ctx;
    tg_ctx_init(&ctx);
    static const int64_t shapes[][3] = {{17, 13, 11}, {1, 20, 9}, {30, 1, 1}, {8, 8, 40}};
    static const int conns[] = {6, 18, 26};
    static const double ps[] = {0.2, 0.35, 0.6};
    for (int s = 0; s < 4; s++)
        for (int c = 0; c < 3; c++)
            for (int pi = 0; pi < 3; pi++) {
                tg_volume m, lab;
                random_mask(&ctx, shapes[s], ps[pi], 1000 + s * 10 + pi, &m);
                int64_t n = 0, nv = tg_volume_count(&m);
                int32_t *ref = malloc((size_t)nv * sizeof *ref);
                int64_t nref = flood_label(m.buf->data, shapes[s], conns[c], ref);
                for (int nt = 1; nt <= 3; nt += 2) {
                    ctx.nthreads = nt;
                    CHECK_OK(&ctx, tg_components(&ctx, &m, conns[c], &lab, &n));
                    CHECK(n == nref);
                    CHECK(memcmp(lab.buf->data, ref, (size_t)nv * sizeof *ref) == 0);
                    CHECK(lab.dtype == TG_I32);
                    tg_volume_release(&lab);
                }
                free(ref);
                tg_volume_release(&m);
            }
}

/* A strided view of a u16 volume gives the same labels as its contiguous copy. */
static void test_view_and_dtypes(void)
{
    tg_ctx ctx;
    tg_ctx_init(&ctx);
    int64_t d[3] = {20, 18, 16};
    tg_volume m, big, view, cp, l1, l2;
    random_mask(&ctx, d, 0.25, 7, &m);
    CHECK_OK(&ctx, tg_volume_astype(&ctx, &m, TG_U16, &big));
    int64_t lo[3] = {3, 2, 1}, hi[3] = {17, 15, 16};
    CHECK_OK(&ctx, tg_volume_view(&ctx, &big, lo, hi, &view));
    CHECK_OK(&ctx, tg_volume_copy(&ctx, &view, &cp));
    int64_t n1, n2;
    CHECK_OK(&ctx, tg_components(&ctx, &view, 18, &l1, &n1));
    CHECK_OK(&ctx, tg_components(&ctx, &cp, 18, &l2, &n2));
    CHECK(n1 == n2 && n1 > 1);
    CHECK(memcmp(l1.buf->data, l2.buf->data, (size_t)tg_volume_count(&cp) * 4) == 0);
    tg_volume_release(&m); tg_volume_release(&big); tg_volume_release(&view); tg_volume_release(&cp);
    tg_volume_release(&l1); tg_volume_release(&l2);
}

/* Sizes and bounding boxes of a hand-made pair of boxes. */
static void test_stats(void)
{
    tg_ctx ctx;
    tg_ctx_init(&ctx);
    int64_t d[3] = {10, 8, 6};
    tg_volume m, lab;
    tg_volume_alloc(&ctx, d, TG_U8, NULL, &m);
    for (int z = 1; z < 3; z++) for (int y = 2; y < 5; y++) for (int x = 0; x < 4; x++) tg_volume_set(&m, x, y, z, 1);
    for (int z = 4; z < 6; z++) for (int y = 0; y < 8; y++) tg_volume_set(&m, 9, y, z, 1);
    int64_t n = 0, sizes[3], bbox[18];
    CHECK_OK(&ctx, tg_components(&ctx, &m, 6, &lab, &n));
    CHECK(n == 2);
    CHECK_OK(&ctx, tg_components_stats(&ctx, &lab, n, sizes, bbox));
    CHECK(sizes[0] == 480 - 24 - 16 && sizes[1] == 24 && sizes[2] == 16);
    CHECK(bbox[6] == 0 && bbox[7] == 2 && bbox[8] == 1 && bbox[9] == 4 && bbox[10] == 5 && bbox[11] == 3);
    CHECK(bbox[12] == 9 && bbox[13] == 0 && bbox[14] == 4 && bbox[15] == 10 && bbox[16] == 8 && bbox[17] == 6);
    uint8_t touch[3];
    CHECK_OK(&ctx, tg_components_touch(&ctx, &lab, n, 1, touch)); /* along y: box 2 spans, box 1 neither */
    CHECK(touch[1] == 0 && touch[2] == 3);
    CHECK_OK(&ctx, tg_components_touch(&ctx, &lab, n, 0, touch)); /* along x: box 1 inlet, box 2 outlet */
    CHECK(touch[1] == 1 && touch[2] == 2);
    tg_volume_release(&m);
    tg_volume_release(&lab);
}

/* Percolating voxels = voxels of flood-fill clusters present on both faces. */
static void test_percolating_vs_flood(void)
{
    tg_ctx ctx;
    tg_ctx_init(&ctx);
    int64_t d[3] = {12, 10, 14};
    for (int axis = 0; axis < 3; axis++)
        for (int c = 0; c < 3; c++) {
            int conn = c == 0 ? 6 : c == 1 ? 18 : 26;
            tg_volume m, out;
            random_mask(&ctx, d, 0.3 + 0.05 * c, 50 + axis, &m);
            int64_t nv = tg_volume_count(&m);
            int32_t *ref = malloc((size_t)nv * 4);
            int64_t nref = flood_label(m.buf->data, d, conn, ref);
            uint8_t *in = calloc((size_t)nref + 1, 1), *outf = calloc((size_t)nref + 1, 1);
            for (int64_t i = 0; i < nv; i++) {
                int64_t p[3] = {i % d[0], i / d[0] % d[1], i / (d[0] * d[1])};
                if (p[axis] == 0) in[ref[i]] = 1;
                if (p[axis] == d[axis] - 1) outf[ref[i]] = 1;
            }
            CHECK_OK(&ctx, tg_percolating(&ctx, &m, axis, conn, &out));
            int64_t bad = 0, count = 0;
            const uint8_t *o = out.buf->data;
            for (int64_t i = 0; i < nv; i++) {
                int want = ref[i] && in[ref[i]] && outf[ref[i]];
                bad += o[i] != want;
                count += want;
            }
            CHECK(bad == 0);
            if (axis == 0 && c == 2) CHECK(count > 0); /* the 26-connected 40 % mask does percolate */
            free(ref); free(in); free(outf);
            tg_volume_release(&m);
            tg_volume_release(&out);
        }
}

static void test_bad_input(void)
{
    tg_ctx ctx;
    tg_ctx_init(&ctx);
    int64_t d[3] = {4, 4, 4}, n = 0;
    tg_volume f, m, lab, out;
    tg_volume_alloc(&ctx, d, TG_F32, NULL, &f);
    tg_volume_alloc(&ctx, d, TG_U8, NULL, &m);
    CHECK(tg_components(&ctx, &f, 6, &lab, &n) == TG_ERR_ARG);
    CHECK(strstr(ctx.msg, "integer") != NULL);
    CHECK(lab.buf == NULL);
    CHECK(tg_components(&ctx, &m, 8, &lab, &n) == TG_ERR_ARG);
    CHECK(strstr(ctx.msg, "6, 18 or 26") != NULL);
    CHECK(tg_percolating(&ctx, &m, 3, 6, &out) == TG_ERR_ARG);
    CHECK(out.buf == NULL);
    /* an empty mask has no component */
    CHECK_OK(&ctx, tg_components(&ctx, &m, 26, &lab, &n));
    CHECK(n == 0);
    tg_volume_release(&lab);
    /* allocation failures leave nothing behind */
    tg_volume_fill(&ctx, &m, 1);
    for (long k = 1; k <= 6; k++) {
        tg_alloc_fail_after(k);
        tg_status st = tg_percolating(&ctx, &m, 2, 6, &out);
        tg_alloc_fail_after(0);
        CHECK(st == TG_OK || st == TG_ERR_NOMEM);
        tg_volume_release(&out);
    }
    tg_volume_release(&f);
    tg_volume_release(&m);
}

/* scipy.ndimage.label(im == phase) counts and largest sizes (anchor-values.json components_6conn). */
static void check_shared(const char *rel, int div, const int64_t want_n[3], const int64_t want_max[3])
{
    tg_ctx ctx;
    tg_ctx_init(&ctx);
    ctx.nthreads = 2;
    tg_volume v;
    if (!measure_load(&ctx, rel, div, &v)) return;
    for (int p = 0; p < 3; p++) {
        tg_volume m, lab;
        tg_volume_eq(&ctx, &v, p, &m);
        int64_t n = 0;
        CHECK_OK(&ctx, tg_components(&ctx, &m, 6, &lab, &n));
        CHECK(n == want_n[p]);
        int64_t *sizes = calloc((size_t)n + 1, sizeof *sizes), big = 0;
        CHECK_OK(&ctx, tg_components_stats(&ctx, &lab, n, sizes, NULL));
        for (int64_t i = 1; i <= n; i++) if (sizes[i] > big) big = sizes[i];
        CHECK(big == want_max[p]);
        free(sizes);
        tg_volume_release(&m);
        tg_volume_release(&lab);
    }
    tg_volume_release(&v);
}

static void test_shared_volumes(void)
{
    static const int64_t n100[3] = {205, 7, 83}, m100[3] = {6528, 559113, 365654};
    static const int64_t n200[3] = {1766, 23, 542}, m200[3] = {7011, 4338189, 3036664};
    static const int64_t nel[3] = {2317, 121, 18132}, mel[3] = {7540311, 6457579, 2444830};
    check_shared("synth-3phase-100/synth_3phase_100.tif", 1, n100, m100);
    check_shared("synth-3phase-200/synth_3phase_200.tif", 1, n200, m200);
    check_shared("taufactor-nmc-electrode-3phase/electrode.tiff", 85, nel, mel);
}

TG_TEST_MAIN(test_random_vs_flood, test_view_and_dtypes, test_stats, test_percolating_vs_flood, test_bad_input,
             test_shared_volumes)
