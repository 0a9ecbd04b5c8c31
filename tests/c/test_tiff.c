/* test_tiff.c — TIFF reading and writing (engine/io/tg_tiff_read.c, tg_tiff_write.c, tg_tiff_calibration.c).
 *
 * Truth: closed-form pixel formulas (our own round trips, and the fixtures in tests/fixtures/tiff written by
 * tifffile/tiffcp from the same formulas, see make_fixtures.py), bytes laid out as ImageJ expects, and the shared
 * PuMA FiberForm stack's published porosity (0.83286, void = 0..89).
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <dirent.h>
#include <signal.h>
#include <sys/resource.h>

#include <tiffio.h>

#include "tg_test.h"
#include "io/tg_tiff.h"

static char fixdir[512], tmpdir[512];

static void setup(void)
{
    if (fixdir[0]) return;
    snprintf(fixdir, sizeof fixdir, "%s", __FILE__);
    char *slash = strrchr(fixdir, '/');
    if (slash) *slash = 0;
    else strcpy(fixdir, ".");
    strcat(fixdir, "/../fixtures/tiff");
    const char *t = getenv("TG_TEST_TMP");
    snprintf(tmpdir, sizeof tmpdir, "%s/test_tiff", t ? t : "/tmp");
    char cmd[600];
    snprintf(cmd, sizeof cmd, "mkdir -p '%s'", tmpdir);
    if (system(cmd) != 0) fprintf(stderr, "cannot create %s\n", tmpdir);
}

static const char *fix(const char *name)
{
    static char p[4][640];
    static int k;
    setup();
    k = (k + 1) % 4;
    snprintf(p[k], sizeof p[k], "%s/%s", fixdir, name);
    return p[k];
}

static const char *tmp(const char *name)
{
    static char p[4][1024]; /* tmpdir (512) and a 250-character name */
    static int k;
    setup();
    k = (k + 1) % 4;
    snprintf(p[k], sizeof p[k], "%s/%s", tmpdir, name);
    return p[k];
}

static int contains(const char *s, const char *sub) { return strstr(s, sub) != NULL; }

/* value of our synthetic volumes */
static double formula(tg_dtype t, int64_t x, int64_t y, int64_t z)
{
    switch (t) {
    case TG_U8: return (double)((x * 7 + y * 3 + z * 11) % 256);
    case TG_U16: return (double)((x * 1000 + y * 37 + z * 5003) % 65536);
    case TG_I32: return (double)(x * 100000 - y * 7000 - z * 1234567);
    case TG_F32: return (double)(float)((x - 2.5 * y) * 0.37 + z * 1e-3);
    default: return sin((double)x) * 1e6 + y * 1e-9 - z;
    }
}

static void make_volume(tg_ctx *ctx, tg_dtype t, int64_t nx, int64_t ny, int64_t nz, tg_volume *v)
{
    int64_t d[3] = {nx, ny, nz};
    double sp[3] = {1e-7, 2e-7, 5e-7};
    CHECK_OK(ctx, tg_volume_alloc(ctx, d, t, sp, v));
    for (int64_t z = 0; z < nz; z++)
        for (int64_t y = 0; y < ny; y++)
            for (int64_t x = 0; x < nx; x++) tg_volume_set(v, x, y, z, formula(t, x, y, z));
}

/* every voxel's bytes equal */
static int same_bytes(const tg_volume *a, const tg_volume *b)
{
    if (a->dtype != b->dtype || a->dims[0] != b->dims[0] || a->dims[1] != b->dims[1] || a->dims[2] != b->dims[2])
        return 0;
    size_t es = tg_dtype_size(a->dtype);
    for (int64_t z = 0; z < a->dims[2]; z++)
        for (int64_t y = 0; y < a->dims[1]; y++)
            for (int64_t x = 0; x < a->dims[0]; x++)
                if (memcmp(tg_volume_ptr(a, x, y, z), tg_volume_ptr(b, x, y, z), es) != 0) return 0;
    return 1;
}

static int temp_files_left(void)
{
    int n = 0;
    DIR *d = opendir(tmpdir);
    struct dirent *e;
    while (d && (e = readdir(d)))
        if (strstr(e->d_name, ".tmp")) n++;
    if (d) closedir(d);
    return n;
}

static void test_roundtrip_every_dtype_and_compression(void)
{
    tg_ctx ctx;
    tg_ctx_init(&ctx);
    const char *names[] = {"raw", "deflate", "lzw", "packbits"};
    for (int t = 0; t < TG_NDTYPES; t++) {
        tg_volume v, r;
        make_volume(&ctx, (tg_dtype)t, 13, 7, 4, &v);
        for (int c = 0; c <= TG_TIFF_PACKBITS; c++) {
            tg_tiff_write_opts wo = TG_TIFF_WRITE_OPTS_INIT;
            wo.compress = (tg_tiff_compress)c;
            char name[64];
            snprintf(name, sizeof name, "rt_%s_%s.tif", tg_dtype_name((tg_dtype)t), names[c]);
            const char *p = tmp(name);
            CHECK_OK(&ctx, tg_tiff_write(&ctx, p, &v, &wo));
            CHECK_OK(&ctx, tg_tiff_read(&ctx, p, NULL, &r));
            CHECK(same_bytes(&v, &r));
            NEAR(r.spacing[0] / 1e-7, 1, 1e-6);
            NEAR(r.spacing[1] / 2e-7, 1, 1e-6);
            NEAR(r.spacing[2] / 5e-7, 1, 1e-12);
            tg_tiff_info_t in;
            CHECK_OK(&ctx, tg_tiff_info(&ctx, p, &in));
            CHECK(in.dims[0] == 13 && in.dims[1] == 7 && in.dims[2] == 4 && in.dtype == (tg_dtype)t);
            CHECK(in.imagej && in.calibrated && in.z_calibrated && !in.bigtiff && !in.tiled);
            CHECK(strcmp(in.compression_name, c == 0 ? "none" : names[c]) == 0);
            CHECK(strcmp(in.unit, "micron") == 0);
            tg_volume_release(&r);
        }
        tg_volume_release(&v);
    }
    CHECK(temp_files_left() == 0);
}

static void test_views_are_written_correctly(void)
{
    tg_ctx ctx;
    tg_ctx_init(&ctx);
    tg_volume v, view, r;
    make_volume(&ctx, TG_U16, 10, 9, 6, &v);
    int64_t lo[3] = {2, 1, 1}, hi[3] = {8, 7, 5};
    CHECK_OK(&ctx, tg_volume_view(&ctx, &v, lo, hi, &view));
    for (int c = 0; c < 2; c++) {
        tg_tiff_write_opts wo = TG_TIFF_WRITE_OPTS_INIT;
        wo.compress = c ? TG_TIFF_DEFLATE : TG_TIFF_RAW;
        CHECK_OK(&ctx, tg_tiff_write(&ctx, tmp("view.tif"), &view, &wo));
        CHECK_OK(&ctx, tg_tiff_read(&ctx, tmp("view.tif"), NULL, &r));
        CHECK(r.dims[0] == 6 && r.dims[1] == 6 && r.dims[2] == 4);
        CHECK(same_bytes(&view, &r));
        CHECK(tg_volume_get(&r, 0, 0, 0) == formula(TG_U16, 2, 1, 1));
        tg_volume_release(&r);
    }
    tg_volume_release(&view);
    tg_volume_release(&v);
}

/* the uncompressed layout ImageJ expects: one strip per page, pages back to back, calibration in IFD 0 */
static void test_uncompressed_layout_is_imagej(void)
{
    tg_ctx ctx;
    tg_ctx_init(&ctx);
    tg_volume v;
    make_volume(&ctx, TG_U8, 11, 5, 4, &v); /* odd page size: the trailing IFDs need padding */
    v.spacing[0] = v.spacing[1] = 0.1e-6; /* 100 nm and more: micron */
    v.spacing[2] = 0.5e-6;
    CHECK_OK(&ctx, tg_tiff_write(&ctx, tmp("layout.tif"), &v, NULL));
    TIFF *t = TIFFOpen(tmp("layout.tif"), "r");
    CHECK(t != NULL);
    if (t) {
        char *desc = NULL;
        float xr = 0;
        uint16_t ru = 0;
        CHECK(TIFFGetField(t, TIFFTAG_IMAGEDESCRIPTION, &desc) && desc);
        if (desc) {
            CHECK(strncmp(desc, "ImageJ=1.53t\nimages=4\nslices=4\nunit=micron\nspacing=0.5\nloop=false\n", 66) == 0);
        }
        CHECK(TIFFGetField(t, TIFFTAG_XRESOLUTION, &xr));
        NEAR(xr, 10.0, 1e-6);
        CHECK(TIFFGetField(t, TIFFTAG_RESOLUTIONUNIT, &ru) && ru == RESUNIT_NONE);
        uint64_t *off = NULL, *cnt = NULL, off0 = 0;
        for (int z = 0; z < 4; z++) {
            CHECK(TIFFSetDirectory(t, (tdir_t)z));
            CHECK(TIFFNumberOfStrips(t) == 1);
            CHECK(TIFFGetField(t, TIFFTAG_STRIPOFFSETS, &off) && TIFFGetField(t, TIFFTAG_STRIPBYTECOUNTS, &cnt));
            if (z == 0) off0 = off[0];
            CHECK(off[0] == off0 + (uint64_t)z * 55 && cnt[0] == 55);
        }
        CHECK(TIFFNumberOfDirectories(t) == 4);
        TIFFClose(t);
    }
    /* below 100 nm the unit is nm */
    v.spacing[0] = v.spacing[1] = 5e-9;
    v.spacing[2] = 1e-8;
    CHECK_OK(&ctx, tg_tiff_write(&ctx, tmp("layout_nm.tif"), &v, NULL));
    t = TIFFOpen(tmp("layout_nm.tif"), "r");
    CHECK(t != NULL);
    if (t) {
        char *desc = NULL;
        float xr = 0;
        CHECK(TIFFGetField(t, TIFFTAG_IMAGEDESCRIPTION, &desc) && desc && contains(desc, "unit=nm\nspacing=10\n"));
        CHECK(TIFFGetField(t, TIFFTAG_XRESOLUTION, &xr));
        NEAR(xr, 0.2, 1e-7);
        TIFFClose(t);
    }
    tg_volume_release(&v);
}

/* ImageJ's layout past 4 GiB: one IFD, images=N, pages back to back. Made from our file by cutting the IFD chain. */
static void test_imagej_single_ifd(void)
{
    tg_ctx ctx;
    tg_ctx_init(&ctx);
    tg_volume v, r;
    make_volume(&ctx, TG_U16, 9, 7, 4, &v);
    CHECK_OK(&ctx, tg_tiff_write(&ctx, tmp("ij1.tif"), &v, NULL));
    FILE *f = fopen(tmp("ij1.tif"), "r+b");
    CHECK(f != NULL);
    if (!f) { tg_volume_release(&v); return; }
    uint16_t n0 = 0;
    uint32_t zero = 0;
    CHECK(fseek(f, 8, SEEK_SET) == 0 && fread(&n0, 2, 1, f) == 1);
    CHECK(fseek(f, 8 + 2 + 12 * (long)n0, SEEK_SET) == 0 && fwrite(&zero, 4, 1, f) == 1);
    fclose(f);
    TIFF *t = TIFFOpen(tmp("ij1.tif"), "r");
    uint64_t *offs = NULL, off0 = 0;
    CHECK(t && TIFFNumberOfDirectories(t) == 1);
    if (t && TIFFGetField(t, TIFFTAG_STRIPOFFSETS, &offs)) off0 = offs[0];
    if (t) TIFFClose(t);
    tg_tiff_info_t in;
    CHECK_OK(&ctx, tg_tiff_info(&ctx, tmp("ij1.tif"), &in));
    CHECK(in.dims[2] == 4 && contains(in.note, "one IFD"));
    CHECK_OK(&ctx, tg_tiff_read(&ctx, tmp("ij1.tif"), NULL, &r));
    CHECK(same_bytes(&v, &r));
    tg_volume_release(&r);
    tg_tiff_read_opts o = TG_TIFF_READ_OPTS_INIT;
    o.z_first = 2;
    o.z_last = 4;
    o.dtype = TG_F64;
    CHECK_OK(&ctx, tg_tiff_read(&ctx, tmp("ij1.tif"), &o, &r));
    CHECK(r.dims[2] == 2 && tg_volume_get(&r, 8, 6, 1) == formula(TG_U16, 8, 6, 3));
    tg_volume_release(&r);
    /* cut inside page 4: three complete pages of the four claimed; reading all fails, pages 1-3 read */
    CHECK(off0 > 0 && truncate(tmp("ij1.tif"), (off_t)(off0 + 9 * 7 * 2 * 3 + 40)) == 0);
    CHECK_OK(&ctx, tg_tiff_info(&ctx, tmp("ij1.tif"), &in));
    CHECK(in.dims[2] == 4 && in.pages_complete == 3 && contains(in.truncated, "page 4 has 40 of its 126 bytes"));
    tg_status st = tg_tiff_read(&ctx, tmp("ij1.tif"), NULL, &r);
    CHECK(st == TG_ERR_FORMAT && contains(ctx.msg, "ij1.tif: page 4 is missing") && r.buf == NULL);
    o.z_first = 0;
    o.z_last = 3;
    o.dtype = -1;
    CHECK_OK(&ctx, tg_tiff_read(&ctx, tmp("ij1.tif"), &o, &r));
    CHECK(r.dims[2] == 3 && tg_volume_get(&r, 8, 6, 2) == formula(TG_U16, 8, 6, 2));
    tg_volume_release(&r);
    tg_volume_release(&v);
}

static double fixture_value(const char *kind, int64_t x, int64_t y, int64_t z);

/* Offset of the directory of page k (0-based) of a file, 0 if none. */
static uint64_t dir_offset(const char *path, int k)
{
    TIFF *t = TIFFOpen(path, "r");
    uint64_t off = t && TIFFSetDirectory(t, (tdir_t)k) ? TIFFCurrentDirOffset(t) : 0;
    if (t) TIFFClose(t);
    return off;
}

/* A truncated file: info says dims[2] = claimed pages of which `complete` hold; reading all of it (or a range
 * past the complete pages) fails naming page complete + 1 and `what`; the complete pages still read, with
 * the values of `kind` (a fixture formula, or NULL: our formula for t). */
static void expect_truncated(tg_ctx *ctx, const char *path, int64_t claimed, int64_t complete, const char *what,
                             const char *kind, tg_dtype t)
{
    tg_tiff_info_t in;
    tg_volume r;
    char missing[64];
    snprintf(missing, sizeof missing, "page %lld is missing", (long long)complete + 1);
    CHECK_OK(ctx, tg_tiff_info(ctx, path, &in));
    CHECK(in.dims[2] == claimed && in.pages_complete == complete && contains(in.truncated, what));
    tg_status st = tg_tiff_read(ctx, path, NULL, &r);
    int ok = st == TG_ERR_FORMAT && contains(ctx->msg, path) && contains(ctx->msg, missing) &&
             contains(ctx->msg, what) && r.buf == NULL;
    if (!ok) fprintf(stderr, "%s: got '%s', wanted '%s' and '%s'\n", path, ctx->msg, missing, what);
    CHECK(ok);
    tg_tiff_read_opts o = TG_TIFF_READ_OPTS_INIT;
    o.z_first = complete - 1;
    o.z_last = complete + 1;
    CHECK(tg_tiff_read(ctx, path, &o, &r) == TG_ERR_FORMAT && contains(ctx->msg, missing) && r.buf == NULL);
    o.z_first = 0;
    o.z_last = complete;
    CHECK_OK(ctx, tg_tiff_read(ctx, path, &o, &r));
    int same = r.dims[2] == complete;
    for (int64_t z = 0; same && z < complete; z++)
        for (int64_t y = 0; y < r.dims[1]; y++)
            for (int64_t x = 0; x < r.dims[0]; x++)
                if (tg_volume_get(&r, x, y, z) != (kind ? fixture_value(kind, x, y, z) : formula(t, x, y, z))) same = 0;
    CHECK(same);
    tg_volume_release(&r);
}

/* Multi-page files cut short never read as a shorter stack (issue 14): ours (uncompressed, deflate, LZW),
 * tifffile's (plain, ImageJ, deflate) and an ImageJ header claiming more images than the file holds. */
static void test_truncated_stacks(void)
{
    tg_ctx ctx;
    tg_ctx_init(&ctx);
    tg_volume v;
    make_volume(&ctx, TG_U16, 9, 7, 6, &v);
    const int64_t page = 9 * 7 * 2;
    for (int c = 0; c < 3; c++) {
        tg_tiff_write_opts wo = TG_TIFF_WRITE_OPTS_INIT;
        wo.compress = c == 0 ? TG_TIFF_RAW : c == 1 ? TG_TIFF_DEFLATE : TG_TIFF_LZW;
        CHECK_OK(&ctx, tg_tiff_write(&ctx, tmp("cut.tif"), &v, &wo));
        /* the directory of page 4 cut after 5 bytes */
        CHECK(truncate(tmp("cut.tif"), (off_t)dir_offset(tmp("cut.tif"), 3) + 5) == 0);
        expect_truncated(&ctx, tmp("cut.tif"), 6, 3, "3 complete pages of the 6 its ImageJ header claims (the directory "
                         "of page 4 cannot be read", NULL, TG_U16);
    }
    /* ours, uncompressed, cut inside the pixels of page 5: only the first directory is left, ImageJ's reading */
    CHECK_OK(&ctx, tg_tiff_write(&ctx, tmp("cut.tif"), &v, NULL));
    uint64_t d1 = dir_offset(tmp("cut.tif"), 1), data = d1 - 6 * (uint64_t)page;
    CHECK(truncate(tmp("cut.tif"), (off_t)(data + 4 * page + 17)) == 0);
    expect_truncated(&ctx, tmp("cut.tif"), 6, 4, "page 5 has 17 of its 126 bytes", NULL, TG_U16);
    /* cut inside the directories after the pixels: every pixel is there, the whole stack reads */
    CHECK_OK(&ctx, tg_tiff_write(&ctx, tmp("cut.tif"), &v, NULL));
    CHECK(truncate(tmp("cut.tif"), (off_t)d1 + 30) == 0);
    tg_volume r;
    CHECK_OK(&ctx, tg_tiff_read(&ctx, tmp("cut.tif"), NULL, &r));
    CHECK(same_bytes(&v, &r));
    tg_volume_release(&r);
    tg_volume_release(&v);
    /* tifffile's files (make_fixtures.py) */
    expect_truncated(&ctx, fix("truncated_tifffile.tif"), 5, 3, "the directory of page 4 cannot be read", "u8", TG_U8);
    expect_truncated(&ctx, fix("truncated_imagej.tif"), 5, 2, "page 3 has 100 of its 480 bytes", "u8", TG_U8);
    expect_truncated(&ctx, fix("truncated_deflate.tif"), 5, 3, "the data of page 4 is cut short", "u8", TG_U8);
    expect_truncated(&ctx, fix("imagej_claims_more.tif"), 8, 5, "5 complete pages of the 8 its ImageJ header claims",
                     "u8", TG_U8);
    /* an intact file says nothing is missing */
    tg_tiff_info_t in;
    CHECK_OK(&ctx, tg_tiff_info(&ctx, fix("u8_imagej.tif"), &in));
    CHECK(in.pages_complete == 5 && in.truncated[0] == 0);
}

static void test_bigtiff(void)
{
    tg_ctx ctx;
    tg_ctx_init(&ctx);
    tg_volume v, r;
    make_volume(&ctx, TG_F32, 9, 8, 3, &v);
    for (int c = 0; c < 2; c++) {
        tg_tiff_write_opts wo = TG_TIFF_WRITE_OPTS_INIT;
        wo.bigtiff = 1;
        wo.compress = c ? TG_TIFF_LZW : TG_TIFF_RAW;
        CHECK_OK(&ctx, tg_tiff_write(&ctx, tmp("big.tif"), &v, &wo));
        tg_tiff_info_t in;
        CHECK_OK(&ctx, tg_tiff_info(&ctx, tmp("big.tif"), &in));
        CHECK(in.bigtiff == 1 && in.dims[2] == 3);
        CHECK_OK(&ctx, tg_tiff_read(&ctx, tmp("big.tif"), NULL, &r));
        CHECK(same_bytes(&v, &r));
        tg_volume_release(&r);
    }
    /* tifffile's BigTIFF */
    CHECK_OK(&ctx, tg_tiff_read(&ctx, fix("u8_bigtiff.tif"), NULL, &r));
    CHECK(r.dims[2] == 5 && tg_volume_get(&r, 23, 19, 4) == (23 + 3 * 19 + 7 * 4) % 256);
    tg_volume_release(&r);
    tg_volume_release(&v);
}

/* the fixtures' formulas (make_fixtures.py), x < 24, y < 20, z < 5 */
static double fixture_value(const char *kind, int64_t x, int64_t y, int64_t z)
{
    if (!strcmp(kind, "u8")) return (double)((x + 3 * y + 7 * z) % 256);
    if (!strcmp(kind, "u16")) return (double)(x * 1000 + y * 17 + z * 3);
    if (!strcmp(kind, "f32")) return (double)(float)((x - y) * 0.5 + z * 0.25);
    if (!strcmp(kind, "f64")) return x * 1e-3 - y * 1e3 + (double)z;
    if (!strcmp(kind, "i16")) return (double)(int16_t)(x * 100 - y * 50 - z * 1000);
    if (!strcmp(kind, "i8")) return (double)(int8_t)(x - y - z);
    return (double)(x * 100000 + y * 1000 + z); /* u32 */
}

static int matches_fixture(const tg_volume *v, const char *kind, int64_t z0)
{
    if (v->dims[0] != 24 || v->dims[1] != 20) return 0;
    for (int64_t z = 0; z < v->dims[2]; z++)
        for (int64_t y = 0; y < 20; y++)
            for (int64_t x = 0; x < 24; x++)
                if (tg_volume_get(v, x, y, z) != fixture_value(kind, x, y, z + z0)) return 0;
    return 1;
}

static void test_tifffile_fixtures(void)
{
    tg_ctx ctx;
    tg_ctx_init(&ctx);
    static const struct { const char *file, *kind; tg_dtype dt; const char *comp; int tiled; } cases[] = {
        {"u8_imagej.tif", "u8", TG_U8, "none", 0},       {"u16_imagej_nm.tif", "u16", TG_U16, "none", 0},
        {"u16_be.tif", "u16", TG_U16, "none", 0},        {"u8_tiled_lzw.tif", "u8", TG_U8, "lzw", 1},
        {"u16_deflate_pred.tif", "u16", TG_U16, "deflate", 0}, {"u8_packbits.tif", "u8", TG_U8, "packbits", 0},
        {"f32.tif", "f32", TG_F32, "none", 0},           {"f32_tiled_deflate_fpred.tif", "f32", TG_F32, "deflate", 1},
        {"f64.tif", "f64", TG_F64, "none", 0},           {"i16.tif", "i16", TG_I32, "none", 0},
        {"i8.tif", "i8", TG_I32, "none", 0},             {"u32.tif", "u32", TG_I32, "none", 0},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        tg_volume r;
        tg_tiff_info_t in;
        CHECK_OK(&ctx, tg_tiff_info(&ctx, fix(cases[i].file), &in));
        CHECK(in.dims[2] == 5 && in.dtype == cases[i].dt && in.tiled == cases[i].tiled);
        CHECK(strcmp(in.compression_name, cases[i].comp) == 0);
        CHECK_OK(&ctx, tg_tiff_read(&ctx, fix(cases[i].file), NULL, &r));
        CHECK(r.dtype == cases[i].dt && r.dims[2] == 5);
        if (!matches_fixture(&r, cases[i].kind, 0)) {
            tg_test_failed++;
            fprintf(stderr, "%s: values differ from the formula\n", cases[i].file);
        }
        tg_volume_release(&r);
    }
    /* calibration: 10 px/um, spacing 0.25 um; 20 x 25 nm pixels, 50 nm slices */
    tg_tiff_info_t in;
    CHECK_OK(&ctx, tg_tiff_info(&ctx, fix("u8_imagej.tif"), &in));
    CHECK(in.imagej && in.calibrated && in.z_calibrated);
    NEAR(in.spacing[0] / 1e-7, 1, 1e-6);
    NEAR(in.spacing[1] / 1e-7, 1, 1e-6);
    NEAR(in.spacing[2] / 2.5e-7, 1, 1e-12);
    CHECK_OK(&ctx, tg_tiff_info(&ctx, fix("u16_imagej_nm.tif"), &in));
    NEAR(in.spacing[0] / 20e-9, 1, 1e-6);
    NEAR(in.spacing[1] / 25e-9, 1, 1e-6);
    NEAR(in.spacing[2] / 50e-9, 1, 1e-12);
    CHECK(strcmp(in.unit, "nm") == 0);
    CHECK_OK(&ctx, tg_tiff_info(&ctx, fix("u16_be.tif"), &in));
    CHECK(!in.calibrated && in.spacing[0] == 1 && in.spacing[2] == 1);
}

static void test_conversions(void)
{
    tg_ctx ctx;
    tg_ctx_init(&ctx);
    tg_volume r;
    /* u32 above 2^31-1: refused as i32, exact as f64 */
    tg_status st = tg_tiff_read(&ctx, fix("u32_big.tif"), NULL, &r);
    CHECK(st == TG_ERR_UNSUPPORTED && contains(ctx.msg, "u32_big.tif") && contains(ctx.msg, "page 2") &&
          contains(ctx.msg, "3000000000") && r.buf == NULL);
    tg_tiff_read_opts o = TG_TIFF_READ_OPTS_INIT;
    o.dtype = TG_F64;
    CHECK_OK(&ctx, tg_tiff_read(&ctx, fix("u32_big.tif"), &o, &r));
    CHECK(r.dtype == TG_F64 && tg_volume_get(&r, 3, 2, 1) == 3000000000.0 && tg_volume_get(&r, 5, 6, 4) == 506004.0);
    tg_volume_release(&r);
    /* dtype conversion while reading: u16 → u8 saturates, → f32 exact */
    o.dtype = TG_U8;
    CHECK_OK(&ctx, tg_tiff_read(&ctx, fix("u16_imagej_nm.tif"), &o, &r));
    CHECK(r.dtype == TG_U8 && tg_volume_get(&r, 0, 2, 0) == 34 && tg_volume_get(&r, 1, 0, 0) == 255);
    tg_volume_release(&r);
    o.dtype = TG_F32;
    CHECK_OK(&ctx, tg_tiff_read(&ctx, fix("u16_imagej_nm.tif"), &o, &r));
    CHECK(r.dtype == TG_F32 && matches_fixture(&r, "u16", 0));
    tg_volume_release(&r);
    /* RGB (chunky and planar) → ITU-R BT.601 luma, rounded */
    for (int k = 0; k < 2; k++) {
        tg_tiff_info_t in;
        const char *f = fix(k ? "rgb_planar.tif" : "rgb_contig.tif");
        CHECK_OK(&ctx, tg_tiff_info(&ctx, f, &in));
        CHECK(in.rgb && in.samples == 3 && contains(in.note, "luma"));
        CHECK_OK(&ctx, tg_tiff_read(&ctx, f, NULL, &r));
        int ok = r.dtype == TG_U8 && r.dims[0] == 24 && r.dims[1] == 20 && r.dims[2] == 1;
        for (int y = 0; ok && y < 20; y++)
            for (int x = 0; x < 24; x++) {
                double R = x * 6, G = y * 7, B = ((x + y) * 3) % 256;
                if (tg_volume_get(&r, x, y, 0) != round(0.299 * R + 0.587 * G + 0.114 * B)) ok = 0;
            }
        CHECK(ok);
        tg_volume_release(&r);
    }
}

static void test_z_range(void)
{
    tg_ctx ctx;
    tg_ctx_init(&ctx);
    tg_volume r;
    tg_tiff_read_opts o = TG_TIFF_READ_OPTS_INIT;
    o.z_first = 1;
    o.z_last = 4;
    CHECK_OK(&ctx, tg_tiff_read(&ctx, fix("u8_tiled_lzw.tif"), &o, &r));
    CHECK(r.dims[2] == 3 && matches_fixture(&r, "u8", 1));
    tg_volume_release(&r);
    o.z_first = 4;
    o.z_last = 5;
    CHECK_OK(&ctx, tg_tiff_read(&ctx, fix("u16_deflate_pred.tif"), &o, &r));
    CHECK(r.dims[2] == 1 && matches_fixture(&r, "u16", 4));
    tg_volume_release(&r);
    o.z_first = 3;
    o.z_last = 6;
    tg_status st = tg_tiff_read(&ctx, fix("u8_imagej.tif"), &o, &r);
    CHECK(st == TG_ERR_RANGE && contains(ctx.msg, "u8_imagej.tif") && contains(ctx.msg, "5 pages") && r.buf == NULL);
    /* a range that stops before a truncated page reads fine */
    o.z_first = 0;
    o.z_last = 4;
    CHECK_OK(&ctx, tg_tiff_read(&ctx, fix("truncated.tif"), &o, &r));
    CHECK(matches_fixture(&r, "u16", 0));
    tg_volume_release(&r);
}

static void make_bits_file(const char *path, int bits, int sf)
{
    TIFF *t = TIFFOpen(path, "w");
    if (!t) return;
    unsigned char buf[512];
    memset(buf, 0x5a, sizeof buf);
    TIFFSetField(t, TIFFTAG_IMAGEWIDTH, 8);
    TIFFSetField(t, TIFFTAG_IMAGELENGTH, 4);
    TIFFSetField(t, TIFFTAG_BITSPERSAMPLE, bits);
    TIFFSetField(t, TIFFTAG_SAMPLESPERPIXEL, 1);
    TIFFSetField(t, TIFFTAG_SAMPLEFORMAT, sf);
    TIFFSetField(t, TIFFTAG_PHOTOMETRIC, PHOTOMETRIC_MINISBLACK);
    TIFFSetField(t, TIFFTAG_ROWSPERSTRIP, 4);
    TIFFWriteEncodedStrip(t, 0, buf, TIFFStripSize(t));
    TIFFClose(t);
}

static void expect_fail(tg_ctx *ctx, const char *path, tg_status want, const char *text)
{
    tg_volume r;
    tg_status st = tg_tiff_read(ctx, path, NULL, &r);
    int ok = st == want && contains(ctx->msg, path) && contains(ctx->msg, text) && r.buf == NULL;
    if (ok) tg_test_passed++;
    else {
        tg_test_failed++;
        fprintf(stderr, "%s: got %s '%s', wanted %s containing '%s'\n", path, tg_status_name(st), ctx->msg,
                tg_status_name(want), text);
    }
    tg_volume_release(&r);
}

static void test_bad_inputs(void)
{
    tg_ctx ctx;
    tg_ctx_init(&ctx);
    expect_fail(&ctx, tmp("does_not_exist.tif"), TG_ERR_IO, "No such file");
    expect_fail(&ctx, tmpdir, TG_ERR_IO, "directory");
    expect_fail(&ctx, fix("not_a_tiff.tif"), TG_ERR_FORMAT, "not a readable TIFF");
    expect_fail(&ctx, fix("truncated.tif"), TG_ERR_FORMAT, "page 5");
    expect_fail(&ctx, fix("complex64.tif"), TG_ERR_UNSUPPORTED, "complex");
    expect_fail(&ctx, fix("mixed_sizes.tif"), TG_ERR_FORMAT, "page 2 is 15x10");
    FILE *e = fopen(tmp("empty.tif"), "wb");
    if (e) fclose(e);
    expect_fail(&ctx, tmp("empty.tif"), TG_ERR_FORMAT, "not a readable TIFF");
    make_bits_file(tmp("bits1.tif"), 1, SAMPLEFORMAT_UINT);
    expect_fail(&ctx, tmp("bits1.tif"), TG_ERR_UNSUPPORTED, "1-bit");
    make_bits_file(tmp("bits12.tif"), 12, SAMPLEFORMAT_UINT);
    expect_fail(&ctx, tmp("bits12.tif"), TG_ERR_UNSUPPORTED, "12-bit");
    make_bits_file(tmp("half.tif"), 16, SAMPLEFORMAT_IEEEFP);
    expect_fail(&ctx, tmp("half.tif"), TG_ERR_UNSUPPORTED, "16-bit float");
    /* info of a truncated file works (no pixels are read) */
    tg_tiff_info_t in;
    CHECK_OK(&ctx, tg_tiff_info(&ctx, fix("truncated.tif"), &in));
    CHECK(in.dims[2] == 5);
    tg_status st = tg_tiff_info(&ctx, fix("not_a_tiff.tif"), &in);
    CHECK(st == TG_ERR_FORMAT && contains(ctx.msg, "not_a_tiff.tif"));
}

/* libtiff's messages go into ctx->msg, never to stderr */
static void test_libtiff_is_silent(void)
{
    tg_ctx ctx;
    tg_ctx_init(&ctx);
    fflush(stderr);
    int saved = dup(2);
    int fd = open(tmp("stderr.txt"), O_WRONLY | O_CREAT | O_TRUNC, 0644);
    dup2(fd, 2);
    close(fd);
    tg_volume r;
    tg_tiff_info_t in;
    const char *bad[] = {fix("not_a_tiff.tif"), fix("truncated.tif"), fix("complex64.tif"), fix("mixed_sizes.tif"),
                         fix("f32_tiled_deflate_fpred.tif")};
    for (int i = 0; i < 5; i++) {
        if (tg_tiff_read(&ctx, bad[i], NULL, &r) == TG_OK) tg_volume_release(&r);
        tg_tiff_info(&ctx, bad[i], &in);
    }
    unsigned char junk[64] = {'I', 'I', 42, 0, 8, 0, 0, 0, 0xff, 0xff};
    if (tg_tiff_read_memory(&ctx, junk, sizeof junk, NULL, &r) == TG_OK) tg_volume_release(&r);
    fflush(stderr);
    dup2(saved, 2);
    close(saved);
    struct stat sb;
    CHECK(stat(tmp("stderr.txt"), &sb) == 0 && sb.st_size == 0);
}

static void test_slices(void)
{
    tg_ctx ctx;
    tg_ctx_init(&ctx);
    tg_volume v, s, r;
    make_volume(&ctx, TG_U16, 12, 10, 3, &v);
    const char *names[3] = {"slice_a.tif", "slice_b.tif", "slice_c.tif"};
    char paths[3][640];
    for (int z = 0; z < 3; z++) {
        int64_t lo[3] = {0, 0, z}, hi[3] = {12, 10, z + 1};
        CHECK_OK(&ctx, tg_volume_view(&ctx, &v, lo, hi, &s));
        snprintf(paths[z], sizeof paths[z], "%s", tmp(names[z]));
        tg_tiff_write_opts wo = TG_TIFF_WRITE_OPTS_INIT;
        wo.compress = z == 1 ? TG_TIFF_DEFLATE : TG_TIFF_RAW;
        CHECK_OK(&ctx, tg_tiff_write(&ctx, paths[z], &s, &wo));
        tg_volume_release(&s);
    }
    const char *list[3] = {paths[0], paths[1], paths[2]};
    CHECK_OK(&ctx, tg_tiff_read_slices(&ctx, list, 3, NULL, &r));
    CHECK(same_bytes(&v, &r));
    NEAR(r.spacing[0] / 1e-7, 1, 1e-6);
    tg_volume_release(&r);
    /* a slice of another size, and one of another type: the error names the file */
    const char *bad1[3] = {paths[0], paths[1], fix("u16_be.tif")};
    tg_status st = tg_tiff_read_slices(&ctx, bad1, 3, NULL, &r);
    CHECK(st == TG_ERR_FORMAT && contains(ctx.msg, "u16_be.tif") && contains(ctx.msg, "slice 3") && r.buf == NULL);
    tg_volume w;
    make_volume(&ctx, TG_U8, 12, 10, 1, &w);
    CHECK_OK(&ctx, tg_tiff_write(&ctx, tmp("slice_u8.tif"), &w, NULL));
    const char *bad2[2] = {paths[0], tmp("slice_u8.tif")};
    st = tg_tiff_read_slices(&ctx, bad2, 2, NULL, &r);
    CHECK(st == TG_ERR_FORMAT && contains(ctx.msg, "slice_u8.tif") && contains(ctx.msg, "8-bit") && r.buf == NULL);
    const char *bad3[2] = {paths[0], tmp("missing_slice.tif")};
    st = tg_tiff_read_slices(&ctx, bad3, 2, NULL, &r);
    CHECK(st == TG_ERR_IO && contains(ctx.msg, "missing_slice.tif") && r.buf == NULL);
    tg_volume_release(&w);
    tg_volume_release(&v);
}

static void test_memory_source(void)
{
    tg_ctx ctx;
    tg_ctx_init(&ctx);
    static const char *files[] = {"u8_tiled_lzw.tif", "u16_be.tif", "f32_tiled_deflate_fpred.tif", "rgb_planar.tif"};
    for (int i = 0; i < 4; i++) {
        FILE *f = fopen(fix(files[i]), "rb");
        CHECK(f != NULL);
        if (!f) continue;
        unsigned char *buf = malloc(1 << 20);
        size_t n = fread(buf, 1, 1 << 20, f);
        fclose(f);
        tg_volume a, b;
        CHECK_OK(&ctx, tg_tiff_read_memory(&ctx, buf, n, NULL, &a));
        CHECK_OK(&ctx, tg_tiff_read(&ctx, fix(files[i]), NULL, &b));
        CHECK(a.buf && b.buf && same_bytes(&a, &b));
        tg_volume_release(&a);
        tg_volume_release(&b);
        /* every truncation of the file fails cleanly or reads */
        for (size_t cut = 0; cut < n; cut += 97) {
            if (tg_tiff_read_memory(&ctx, buf, cut, NULL, &a) == TG_OK) tg_volume_release(&a);
            else CHECK(a.buf == NULL && contains(ctx.msg, "<memory>"));
        }
        free(buf);
    }
    /* a size limit */
    tg_tiff_read_opts o = TG_TIFF_READ_OPTS_INIT;
    o.max_bytes = 1000;
    tg_volume r;
    tg_status st = tg_tiff_read(&ctx, fix("u8_imagej.tif"), &o, &r);
    CHECK(st == TG_ERR_RANGE && contains(ctx.msg, "limit"));
}

static void test_write_failures_leave_nothing(void)
{
    tg_ctx ctx;
    tg_ctx_init(&ctx);
    tg_volume v, r;
    make_volume(&ctx, TG_U8, 16, 16, 5, &v);
    tg_status st = tg_tiff_write(&ctx, tmp("no/such/dir/x.tif"), &v, NULL);
    CHECK(st == TG_ERR_IO && contains(ctx.msg, "no/such/dir/x.tif"));
    /* an existing file survives a cancelled write, and no temporary is left */
    CHECK_OK(&ctx, tg_tiff_write(&ctx, tmp("keep.tif"), &v, NULL));
    tg_volume w;
    make_volume(&ctx, TG_F32, 16, 16, 5, &w);
    for (int c = 0; c < 2; c++) {
        tg_tiff_write_opts wo = TG_TIFF_WRITE_OPTS_INIT;
        wo.compress = c ? TG_TIFF_DEFLATE : TG_TIFF_RAW;
        atomic_store(&ctx.cancel, 1);
        st = tg_tiff_write(&ctx, tmp("keep.tif"), &w, &wo);
        atomic_store(&ctx.cancel, 0);
        CHECK(st == TG_ERR_CANCELLED);
        CHECK_OK(&ctx, tg_tiff_read(&ctx, tmp("keep.tif"), NULL, &r));
        CHECK(same_bytes(&v, &r));
        tg_volume_release(&r);
    }
    CHECK(temp_files_left() == 0);
    /* cancelled read */
    atomic_store(&ctx.cancel, 1);
    st = tg_tiff_read(&ctx, tmp("keep.tif"), NULL, &r);
    atomic_store(&ctx.cancel, 0);
    CHECK(st == TG_ERR_CANCELLED && r.buf == NULL);
    /* an empty volume is misuse */
    tg_volume empty;
    tg_volume_init(&empty);
    CHECK(tg_tiff_write(&ctx, tmp("e.tif"), &empty, NULL) == TG_ERR_ARG);
    tg_volume_release(&w);
    tg_volume_release(&v);
}

/* The disk fills midway (a file-size limit makes write() fail exactly as a full disk does, with EFBIG instead of
 * ENOSPC): every compression names the file, the page and the system's reason (libtiff's own text alone, "Write
 * error at scanline 0", lost it), removes the temporary and leaves nothing under the final name. */
static void test_full_disk_keeps_the_reason(void)
{
    tg_ctx ctx;
    tg_ctx_init(&ctx);
    tg_volume v;
    make_volume(&ctx, TG_U8, 256, 256, 12, &v); /* 768 KiB of pseudo-random bytes: no codec shrinks them */
    uint32_t seed = 12345;
    for (int64_t z = 0; z < 12; z++)
        for (int64_t y = 0; y < 256; y++)
            for (int64_t x = 0; x < 256; x++) {
                seed = seed * 1664525u + 1013904223u;
                tg_volume_set(&v, x, y, z, (double)(seed >> 24));
            }
    unlink(tmp("full.tif"));
    const char *names[] = {"raw", "deflate", "lzw", "packbits"};
    struct rlimit old, lim;
    getrlimit(RLIMIT_FSIZE, &old);
    void (*prev)(int) = signal(SIGXFSZ, SIG_IGN);
    for (int c = 0; c < 4; c++) {
        tg_tiff_write_opts wo = TG_TIFF_WRITE_OPTS_INIT;
        wo.compress = (tg_tiff_compress)c;
        lim = old;
        lim.rlim_cur = 100 * 1024;
        setrlimit(RLIMIT_FSIZE, &lim);
        tg_status st = tg_tiff_write(&ctx, tmp("full.tif"), &v, &wo);
        setrlimit(RLIMIT_FSIZE, &old);
        CHECK(st == TG_ERR_IO && contains(ctx.msg, "full.tif") && contains(ctx.msg, strerror(EFBIG)));
        if (st != TG_ERR_IO || !contains(ctx.msg, strerror(EFBIG))) fprintf(stderr, "%s: %s\n", names[c], ctx.msg);
        CHECK(access(tmp("full.tif"), F_OK) != 0 && temp_files_left() == 0);
    }
    signal(SIGXFSZ, prev);
    tg_volume_release(&v);
}

/* A legal 250-character file name writes: the temporary is short, not "<name>.tmp<pid>.<n>" past NAME_MAX. */
static void test_long_names(void)
{
    tg_ctx ctx;
    tg_ctx_init(&ctx);
    tg_volume v, r;
    make_volume(&ctx, TG_U8, 8, 8, 3, &v);
    char name[251]; /* 246 letters + ".tif" */
    memset(name, 'n', 246);
    memcpy(name + 246, ".tif", 5);
    for (int c = 0; c < 2; c++) {
        tg_tiff_write_opts wo = TG_TIFF_WRITE_OPTS_INIT;
        wo.compress = c ? TG_TIFF_DEFLATE : TG_TIFF_RAW;
        CHECK_OK(&ctx, tg_tiff_write(&ctx, tmp(name), &v, &wo));
        CHECK_OK(&ctx, tg_tiff_read(&ctx, tmp(name), NULL, &r));
        CHECK(same_bytes(&v, &r));
        tg_volume_release(&r);
    }
    unlink(tmp(name));
    CHECK(temp_files_left() == 0);
    tg_volume_release(&v);
}

/* Fail each allocation in turn: every call fails cleanly (no leak, released output) or succeeds. */
static void test_allocation_failures(void)
{
    tg_ctx ctx;
    tg_ctx_init(&ctx);
    tg_volume v, r;
    make_volume(&ctx, TG_F32, 9, 8, 3, &v);
    int bad = 0;
    for (long n = 1; n <= 12; n++) {
        for (int c = 0; c < 2; c++) {
            tg_tiff_write_opts wo = TG_TIFF_WRITE_OPTS_INIT;
            wo.compress = c ? TG_TIFF_DEFLATE : TG_TIFF_RAW;
            long live = tg_alloc_live();
            tg_alloc_fail_after(n);
            tg_status st = tg_tiff_write(&ctx, tmp("af.tif"), &v, &wo);
            tg_alloc_fail_after(0);
            if (st != TG_OK && st != TG_ERR_NOMEM) { bad++; fprintf(stderr, "write n=%ld: %s\n", n, ctx.msg); }
            if (tg_alloc_live() != live) { bad++; fprintf(stderr, "write n=%ld leaks\n", n); }
        }
        const char *src[] = {fix("rgb_planar.tif"), fix("u8_tiled_lzw.tif")};
        for (int k = 0; k < 2; k++) {
            tg_alloc_fail_after(n);
            tg_status st = tg_tiff_read(&ctx, src[k], NULL, &r);
            tg_alloc_fail_after(0);
            if (st == TG_OK) tg_volume_release(&r);
            else if (st != TG_ERR_NOMEM || r.buf) { bad++; fprintf(stderr, "read n=%ld: %s\n", n, ctx.msg); }
        }
    }
    CHECK(bad == 0);
    CHECK(temp_files_left() == 0);
    tg_volume_release(&v);
}

/* The shared PuMA FiberForm stack (big-endian ImageJ file): published porosity 0.83286 with void = 0..89. */
static void test_shared_fiberform(void)
{
    const char *base = getenv("TG_SHARED_DATA");
    if (!base || !base[0]) return; /* no ../shared/data: left out at configure time, which says so */
    char path[600];
    snprintf(path, sizeof path, "%s/puma-fiberform-ct-gray/100_fiberform.tif", base);
    CHECK(access(path, R_OK) == 0); /* the shared datasets are there but not this one: a failure, never a skip */
    if (access(path, R_OK) != 0) {
        fprintf(stderr, "%s not found\n", path);
        return;
    }
    tg_ctx ctx;
    tg_ctx_init(&ctx);
    tg_volume r;
    CHECK_OK(&ctx, tg_tiff_read(&ctx, path, NULL, &r));
    CHECK(r.dims[0] == 100 && r.dims[1] == 100 && r.dims[2] == 100 && r.dtype == TG_U8);
    if (r.buf) {
        int64_t voids = 0;
        const uint8_t *p = (const uint8_t *)r.buf->data;
        for (int64_t i = 0; i < 1000000; i++) voids += p[i] < 90;
        NEAR((double)voids / 1e6, 0.83286, 5e-6);
        /* unit=inch, XResolution 100 px/inch, no spacing=: z is taken equal to x (ImageJ would say 1 inch) */
        NEAR(r.spacing[0], 0.0254 / 100, 1e-12);
        NEAR(r.spacing[2], 0.0254 / 100, 1e-12);
    }
    tg_volume_release(&r);
}

TG_TEST_MAIN(test_roundtrip_every_dtype_and_compression, test_views_are_written_correctly,
             test_uncompressed_layout_is_imagej, test_imagej_single_ifd, test_truncated_stacks, test_bigtiff, test_tifffile_fixtures, test_conversions, test_z_range,
             test_bad_inputs, test_libtiff_is_silent, test_slices, test_memory_source, test_write_failures_leave_nothing,
             test_allocation_failures, test_full_disk_keeps_the_reason, test_long_names, test_shared_fiberform)
