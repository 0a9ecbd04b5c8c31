/* test_stack.c — stacks on disk (engine/io/tg_stack.c): opened without decoding, page ranges read equal the same
 * slices of the whole-file read, and bad pages (size or type changing midway, undecodable data) are named.
 *
 * Truth: volumes written by tg_tiff_write from a closed-form formula and read back whole by tg_tiff_read (tested in
 * test_tiff.c against tifffile, tiffcp and ImageJ); the fixtures mixed_sizes.tif (page 2 is 15x10) and truncated.tif
 * (page 5 cut short) from tests/fixtures/tiff/make_fixtures.py; a page corrupted here on purpose.
 */
#define _GNU_SOURCE
#include <stdio.h>
#include <string.h>
#include <tiffio.h>

#include "tg_test.h"
#include "io/tg_stack.h"
#include "io/tg_tiff.h"

static char fixdir[512], tmpdir[512];

static void setup(void)
{
    snprintf(fixdir, sizeof fixdir, "%s", __FILE__);
    char *slash = strrchr(fixdir, '/');
    if (slash) *slash = 0;
    strcat(fixdir, "/../fixtures/tiff");
    const char *t = getenv("TG_TEST_TMP");
    snprintf(tmpdir, sizeof tmpdir, "%s/test_stack", t ? t : "/tmp");
    char cmd[600];
    snprintf(cmd, sizeof cmd, "mkdir -p '%s'", tmpdir);
    if (system(cmd) != 0) fprintf(stderr, "cannot create %s\n", tmpdir);
}

static const char *path_in(const char *dir, const char *name)
{
    static char p[8][1200];
    static int k;
    k = (k + 1) % 8;
    snprintf(p[k], sizeof p[k], "%s/%s", dir, name);
    return p[k];
}
#define TMP(name) path_in(tmpdir, name)
#define FIX(name) path_in(fixdir, name)

static void make_volume(tg_ctx *ctx, tg_dtype t, int64_t nx, int64_t ny, int64_t nz, tg_volume *v)
{
    int64_t d[3] = {nx, ny, nz};
    double sp[3] = {1e-7, 1e-7, 2e-7};
    CHECK_OK(ctx, tg_volume_alloc(ctx, d, t, sp, v));
    for (int64_t z = 0; z < nz; z++)
        for (int64_t y = 0; y < ny; y++)
            for (int64_t x = 0; x < nx; x++) tg_volume_set(v, x, y, z, (double)((x * 7 + y * 13 + z * 101) % 4000));
}

/* slices [z0, z0 + b->dims[2]) of a equal b, byte for byte */
static int same_slices(const tg_volume *a, int64_t z0, const tg_volume *b)
{
    if (a->dtype != b->dtype || a->dims[0] != b->dims[0] || a->dims[1] != b->dims[1]) return 0;
    size_t es = tg_dtype_size(a->dtype);
    for (int64_t z = 0; z < b->dims[2]; z++)
        for (int64_t y = 0; y < b->dims[1]; y++)
            if (memcmp(tg_volume_ptr(a, 0, y, z0 + z), tg_volume_ptr(b, 0, y, z), (size_t)a->dims[0] * es)) return 0;
    return 1;
}

static void test_multipage_ranges(void)
{
    tg_ctx ctx;
    tg_ctx_init(&ctx);
    tg_volume v, r, buf;
    make_volume(&ctx, TG_U16, 37, 23, 30, &v);
    for (int c = 0; c < 2; c++) {
        tg_tiff_write_opts wo = TG_TIFF_WRITE_OPTS_INIT;
        wo.compress = c ? TG_TIFF_DEFLATE : TG_TIFF_RAW;
        const char *path = TMP(c ? "multi_deflate.tif" : "multi_raw.tif");
        CHECK_OK(&ctx, tg_tiff_write(&ctx, path, &v, &wo));
        tg_stack *st = NULL;
        CHECK_OK(&ctx, tg_stack_open(&ctx, &path, 1, NULL, &st));
        if (!st) continue;
        const tg_stack_info_t *in = tg_stack_info(st);
        CHECK(in->dims[0] == 37 && in->dims[1] == 23 && in->dims[2] == 30 && in->dtype == TG_U16);
        CHECK(in->files == 1 && strcmp(in->format, "tiff") == 0 && strcmp(in->path, path) == 0);
        CHECK(strcmp(in->compression, c ? "deflate" : "none") == 0);
        CHECK(in->spacing_source == TG_STACK_SPACING_FILE);
        NEAR(in->spacing[2], 2e-7, 1e-15);
        /* ranges in order, backwards and repeated: each equals the same slices of the volume */
        static const int64_t ranges[][2] = {{0, 5}, {5, 12}, {12, 30}, {3, 4}, {29, 30}, {0, 30}, {7, 9}, {7, 9}};
        for (size_t k = 0; k < sizeof ranges / sizeof ranges[0]; k++) {
            CHECK_OK(&ctx, tg_stack_read(&ctx, st, ranges[k][0], ranges[k][1], &r));
            CHECK(r.dims[2] == ranges[k][1] - ranges[k][0] && same_slices(&v, ranges[k][0], &r));
            NEAR(r.spacing[0], 1e-7, 1e-15);
            tg_volume_release(&r);
        }
        /* into a buffer the caller holds, at an offset */
        int64_t bd[3] = {37, 23, 10};
        CHECK_OK(&ctx, tg_volume_alloc(&ctx, bd, TG_U16, NULL, &buf));
        CHECK_OK(&ctx, tg_stack_read_into(&ctx, st, 20, 24, &buf, 6));
        tg_volume sub;
        int64_t lo[3] = {0, 0, 6}, hi[3] = {37, 23, 10};
        CHECK_OK(&ctx, tg_volume_view(&ctx, &buf, lo, hi, &sub));
        CHECK(same_slices(&v, 20, &sub));
        tg_volume_release(&sub);
        CHECK(tg_stack_read_into(&ctx, st, 20, 25, &buf, 6) == TG_ERR_ARG); /* does not fit */
        tg_volume_release(&buf);
        /* outside the stack */
        CHECK(tg_stack_read(&ctx, st, 25, 31, &r) == TG_ERR_RANGE && strstr(ctx.msg, "26..31") && strstr(ctx.msg, path));
        CHECK(r.buf == NULL);
        CHECK(tg_stack_read(&ctx, st, 4, 4, &r) == TG_ERR_RANGE);
        /* spacing set by hand */
        double sp[3] = {5e-9, 5e-9, 1e-8};
        CHECK_OK(&ctx, tg_stack_set_spacing(&ctx, st, sp));
        CHECK(in->spacing_source == TG_STACK_SPACING_SET);
        CHECK_OK(&ctx, tg_stack_read(&ctx, st, 0, 1, &r));
        CHECK(r.spacing[2] == 1e-8);
        tg_volume_release(&r);
        double bad[3] = {1e-9, 0, 1e-9};
        CHECK(tg_stack_set_spacing(&ctx, st, bad) == TG_ERR_ARG);
        tg_stack_close(st);
    }
    /* dtype conversion while reading */
    const char *path = TMP("multi_raw.tif");
    tg_stack_open_opts oo = TG_STACK_OPEN_OPTS_INIT;
    oo.dtype = TG_F32;
    tg_stack *st = NULL;
    CHECK_OK(&ctx, tg_stack_open(&ctx, &path, 1, &oo, &st));
    if (st) {
        CHECK(tg_stack_info(st)->dtype == TG_F32);
        CHECK_OK(&ctx, tg_stack_read(&ctx, st, 10, 11, &r));
        CHECK(r.dtype == TG_F32 && tg_volume_get(&r, 5, 6, 0) == tg_volume_get(&v, 5, 6, 10));
        tg_volume_release(&r);
        tg_stack_close(st);
    }
    tg_volume_release(&v);
}

static void test_slice_files(void)
{
    tg_ctx ctx;
    tg_ctx_init(&ctx);
    tg_volume v, one, r;
    make_volume(&ctx, TG_U8, 20, 11, 6, &v);
    char names[6][64];
    const char *paths[6];
    for (int z = 0; z < 6; z++) {
        int64_t lo[3] = {0, 0, z}, hi[3] = {20, 11, z + 1};
        CHECK_OK(&ctx, tg_volume_view(&ctx, &v, lo, hi, &one));
        snprintf(names[z], sizeof names[z], "slice_%d.tif", z);
        paths[z] = strdup(TMP(names[z]));
        CHECK_OK(&ctx, tg_tiff_write(&ctx, paths[z], &one, NULL));
        tg_volume_release(&one);
    }
    tg_stack *st = NULL;
    CHECK_OK(&ctx, tg_stack_open(&ctx, paths, 6, NULL, &st));
    if (st) {
        CHECK(tg_stack_info(st)->dims[2] == 6 && tg_stack_info(st)->files == 6);
        CHECK_OK(&ctx, tg_stack_read(&ctx, st, 2, 5, &r));
        CHECK(same_slices(&v, 2, &r));
        tg_volume_release(&r);
        tg_stack_close(st);
    }
    /* slice 4 of another size: opening works (only slice 1 is read), reading it names the file */
    tg_volume small;
    int64_t sd[3] = {19, 11, 1};
    CHECK_OK(&ctx, tg_volume_alloc(&ctx, sd, TG_U8, NULL, &small));
    CHECK_OK(&ctx, tg_tiff_write(&ctx, paths[3], &small, NULL));
    tg_volume_release(&small);
    CHECK_OK(&ctx, tg_stack_open(&ctx, paths, 6, NULL, &st));
    if (st) {
        CHECK_OK(&ctx, tg_stack_read(&ctx, st, 0, 3, &r));
        tg_volume_release(&r);
        CHECK(tg_stack_read(&ctx, st, 2, 6, &r) == TG_ERR_FORMAT);
        CHECK(strstr(ctx.msg, paths[3]) && strstr(ctx.msg, "slice 4 is 19x11") && r.buf == NULL);
        tg_stack_close(st);
    }
    for (int z = 0; z < 6; z++) free((void *)paths[z]);
    tg_volume_release(&v);
}

/* A multi-page file whose page 3 is f32 among u8 pages, written with libtiff. */
static void write_type_change(const char *path)
{
    TIFF *t = TIFFOpen(path, "w");
    if (!t) return;
    unsigned char buf[8 * 4 * 4];
    memset(buf, 7, sizeof buf);
    for (int p = 0; p < 4; p++) {
        int f = p == 2;
        TIFFSetField(t, TIFFTAG_IMAGEWIDTH, 8);
        TIFFSetField(t, TIFFTAG_IMAGELENGTH, 4);
        TIFFSetField(t, TIFFTAG_BITSPERSAMPLE, f ? 32 : 8);
        TIFFSetField(t, TIFFTAG_SAMPLEFORMAT, f ? SAMPLEFORMAT_IEEEFP : SAMPLEFORMAT_UINT);
        TIFFSetField(t, TIFFTAG_SAMPLESPERPIXEL, 1);
        TIFFSetField(t, TIFFTAG_PHOTOMETRIC, PHOTOMETRIC_MINISBLACK);
        TIFFSetField(t, TIFFTAG_ROWSPERSTRIP, 4);
        TIFFWriteEncodedStrip(t, 0, buf, f ? 128 : 32);
        TIFFWriteDirectory(t);
    }
    TIFFClose(t);
}

/* Overwrite the compressed strip of page `page` (0-based) with garbage. */
static void corrupt_page(const char *path, int page)
{
    TIFF *t = TIFFOpen(path, "r");
    if (!t) return;
    uint64_t *off = NULL, *cnt = NULL;
    TIFFSetDirectory(t, (tdir_t)page);
    TIFFGetField(t, TIFFTAG_STRIPOFFSETS, &off);
    TIFFGetField(t, TIFFTAG_STRIPBYTECOUNTS, &cnt);
    uint64_t o = off ? off[0] : 0, n = cnt ? cnt[0] : 0;
    TIFFClose(t);
    FILE *f = fopen(path, "r+b");
    if (!f || !n) { if (f) fclose(f); return; }
    fseek(f, (long)o, SEEK_SET);
    for (uint64_t i = 0; i < n; i++) fputc((int)(0xA5 ^ (i * 37)), f);
    fclose(f);
}

static void expect_read_fail(tg_ctx *ctx, const char *path, int64_t z0, int64_t z1, const char *text)
{
    tg_stack *st = NULL;
    tg_volume r;
    tg_volume_init(&r);
    CHECK_OK(ctx, tg_stack_open(ctx, &path, 1, NULL, &st));
    if (!st) return;
    tg_status s = tg_stack_read(ctx, st, z0, z1, &r);
    int ok = s == TG_ERR_FORMAT && strstr(ctx->msg, path) && strstr(ctx->msg, text) && !r.buf;
    if (ok) tg_test_passed++;
    else {
        tg_test_failed++;
        fprintf(stderr, "%s: got %s '%s', wanted a format error with '%s'\n", path, tg_status_name(s), ctx->msg, text);
    }
    tg_volume_release(&r);
    tg_stack_close(st);
}

static void test_bad_pages(void)
{
    tg_ctx ctx;
    tg_ctx_init(&ctx);
    expect_read_fail(&ctx, FIX("mixed_sizes.tif"), 0, 2, "page 2 is 15x10");
    expect_read_fail(&ctx, FIX("truncated.tif"), 3, 5, "page 5");
    write_type_change(TMP("type_change.tif"));
    expect_read_fail(&ctx, TMP("type_change.tif"), 1, 4, "page 3 is 8x4 32-bit float but page 1 is 8x4 8-bit unsigned");
    tg_volume v;
    make_volume(&ctx, TG_U8, 64, 32, 8, &v);
    tg_tiff_write_opts wo = TG_TIFF_WRITE_OPTS_INIT;
    wo.compress = TG_TIFF_DEFLATE;
    CHECK_OK(&ctx, tg_tiff_write(&ctx, TMP("corrupt.tif"), &v, &wo));
    corrupt_page(TMP("corrupt.tif"), 5);
    expect_read_fail(&ctx, TMP("corrupt.tif"), 4, 8, "page 6");
    /* the pages before the bad one still read */
    const char *p = TMP("corrupt.tif");
    tg_stack *st = NULL;
    tg_volume r;
    CHECK_OK(&ctx, tg_stack_open(&ctx, &p, 1, NULL, &st));
    if (st) {
        CHECK_OK(&ctx, tg_stack_read(&ctx, st, 0, 5, &r));
        CHECK(same_slices(&v, 0, &r));
        tg_volume_release(&r);
        tg_stack_close(st);
    }
    tg_volume_release(&v);
    /* opening: missing file, not a TIFF */
    const char *missing = TMP("missing.tif");
    CHECK(tg_stack_open(&ctx, &missing, 1, NULL, &st) == TG_ERR_IO && strstr(ctx.msg, "missing.tif") && st == NULL);
    const char *junk = FIX("not_a_tiff.tif");
    CHECK(tg_stack_open(&ctx, &junk, 1, NULL, &st) == TG_ERR_FORMAT && st == NULL);
    CHECK(tg_stack_open(&ctx, &junk, 0, NULL, &st) == TG_ERR_ARG);
}

static void test_cancel_and_allocation_failures(void)
{
    tg_ctx ctx;
    tg_ctx_init(&ctx);
    tg_volume v, r;
    make_volume(&ctx, TG_U16, 16, 16, 6, &v);
    const char *path = TMP("af.tif");
    CHECK_OK(&ctx, tg_tiff_write(&ctx, path, &v, NULL));
    tg_stack *st = NULL;
    CHECK_OK(&ctx, tg_stack_open(&ctx, &path, 1, NULL, &st));
    if (st) {
        atomic_store(&ctx.cancel, 1);
        CHECK(tg_stack_read(&ctx, st, 1, 4, &r) == TG_ERR_CANCELLED && r.buf == NULL);
        atomic_store(&ctx.cancel, 0);
        CHECK_OK(&ctx, tg_stack_read(&ctx, st, 1, 4, &r)); /* the stack is still usable */
        CHECK(same_slices(&v, 1, &r));
        tg_volume_release(&r);
        tg_stack_close(st);
    }
    int bad = 0;
    for (long n = 1; n <= 10; n++) {
        long live = tg_alloc_live();
        tg_alloc_fail_after(n);
        tg_status s = tg_stack_open(&ctx, &path, 1, NULL, &st);
        if (s == TG_OK) {
            s = tg_stack_read(&ctx, st, 2, 6, &r);
            if (s == TG_OK) tg_volume_release(&r);
            tg_stack_close(st);
        }
        tg_alloc_fail_after(0);
        if (s != TG_OK && s != TG_ERR_NOMEM && s != TG_ERR_FORMAT) { bad++; fprintf(stderr, "n=%ld: %s\n", n, ctx.msg); }
        if (tg_alloc_live() != live) { bad++; fprintf(stderr, "n=%ld leaks\n", n); }
    }
    CHECK(bad == 0);
    tg_volume_release(&v);
}

TG_TEST_MAIN(setup, test_multipage_ranges, test_slice_files, test_bad_pages, test_cancel_and_allocation_failures)
