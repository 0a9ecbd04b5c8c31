/* test_png.c — tg_png_write (read back with libpng, exact pixel values, pHYs) and tg_sha256_file
 * (the FIPS 180-2 test vectors). */
#define _POSIX_C_SOURCE 200809L

#include <dirent.h>
#include <png.h>
#include <stdint.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "tg_test.h"
#include "core/tg_sha256.h"
#include "io/tg_png.h"

static char tmpdir[512];

static const char *tmp_path(const char *name)
{
    static char buf[1024];
    if (!tmpdir[0]) {
        const char *t = getenv("TG_TEST_TMP");
        snprintf(tmpdir, sizeof tmpdir, "%s/png_c", t && *t ? t : "/tmp");
        char cmd[600];
        snprintf(cmd, sizeof cmd, "mkdir -p '%s'", tmpdir);
        if (system(cmd) != 0) fprintf(stderr, "cannot create %s\n", tmpdir);
    }
    snprintf(buf, sizeof buf, "%s/%s", tmpdir, name);
    return buf;
}

/* A decoded PNG: 8-bit samples, channels 1 (grey) or 3 (RGB). */
typedef struct image {
    int ok, width, height, channels, bit_depth, color_type;
    int has_phys, phys_unit;
    png_uint_32 ppm_x, ppm_y;
    unsigned char *px; /* malloc'd (not the engine's allocator: the test's own) */
} image;

static image read_png(const char *path)
{
    image im = {0};
    FILE *f = fopen(path, "rb");
    if (!f) return im;
    png_structp png = png_create_read_struct(PNG_LIBPNG_VER_STRING, NULL, NULL, NULL);
    png_infop info = png_create_info_struct(png);
    if (setjmp(png_jmpbuf(png))) {
        png_destroy_read_struct(&png, &info, NULL);
        fclose(f);
        free(im.px);
        im.px = NULL;
        im.ok = 0;
        return im;
    }
    png_init_io(png, f);
    png_read_info(png, info);
    im.width = (int)png_get_image_width(png, info);
    im.height = (int)png_get_image_height(png, info);
    im.bit_depth = png_get_bit_depth(png, info);
    im.color_type = png_get_color_type(png, info);
    im.channels = png_get_channels(png, info);
    int unit = 0;
    im.has_phys = png_get_pHYs(png, info, &im.ppm_x, &im.ppm_y, &unit) != 0;
    im.phys_unit = unit;
    size_t rowbytes = png_get_rowbytes(png, info);
    im.px = malloc(rowbytes * (size_t)im.height);
    for (int y = 0; y < im.height; y++) png_read_row(png, im.px + rowbytes * (size_t)y, NULL);
    png_read_end(png, NULL);
    png_destroy_read_struct(&png, &info, NULL);
    fclose(f);
    im.ok = 1;
    return im;
}

static const unsigned char *at(const image *im, int x, int y)
{
    return im->px + ((size_t)y * (size_t)im->width + (size_t)x) * (size_t)im->channels;
}

static int file_exists(const char *p)
{
    struct stat sb;
    return stat(p, &sb) == 0;
}

/* Number of leftover temporary files (*.tmp) in the scratch directory. */
static int count_tmp_files(void)
{
    int n = 0;
    DIR *d = opendir(tmpdir);
    if (!d) return -1;
    struct dirent *e;
    while ((e = readdir(d))) {
        size_t len = strlen(e->d_name);
        if (len > 4 && strcmp(e->d_name + len - 4, ".tmp") == 0) n++;
    }
    closedir(d);
    return n;
}

static void make_slice(tg_ctx *ctx, int64_t nx, int64_t ny, tg_dtype t, tg_volume *v)
{
    int64_t dims[3] = {nx, ny, 1};
    double sp[3] = {1e-7, 1e-7, 1e-7};
    tg_volume_init(v);
    CHECK_OK(ctx, tg_volume_alloc(ctx, dims, t, sp, v));
}

/* f32 values 0..11 with the default range (min..max) -> round(v / 11 * 255), row 0 at the top. */
static void test_grey_default_range(void)
{
    tg_ctx ctx;
    tg_ctx_init(&ctx);
    tg_volume v;
    make_slice(&ctx, 4, 3, TG_F32, &v);
    for (int y = 0; y < 3; y++)
        for (int x = 0; x < 4; x++) tg_volume_set(&v, x, y, 0, x + 4 * y);
    const char *p = tmp_path("grey.png");
    tg_png_opts o = TG_PNG_OPTS_INIT;
    CHECK_OK(&ctx, tg_png_write(&ctx, p, &v, &o));
    image im = read_png(p);
    CHECK(im.ok);
    CHECK(im.width == 4 && im.height == 3 && im.channels == 1 && im.bit_depth == 8);
    CHECK(im.color_type == PNG_COLOR_TYPE_GRAY);
    int exact = 1;
    for (int y = 0; y < 3 && im.ok; y++)
        for (int x = 0; x < 4; x++) {
            int want = (int)lround((x + 4 * y) / 11.0 * 255.0);
            if (at(&im, x, y)[0] != want) exact = 0;
        }
    CHECK(exact);
    if (im.ok) { CHECK(at(&im, 0, 0)[0] == 0); CHECK(at(&im, 3, 2)[0] == 255); CHECK(at(&im, 1, 1)[0] == 116); }
    free(im.px);
    tg_volume_release(&v);
}

/* An explicit range clamps below lo and above hi; u16 values. */
static void test_grey_range_clamp(void)
{
    tg_ctx ctx;
    tg_ctx_init(&ctx);
    tg_volume v;
    make_slice(&ctx, 5, 1, TG_U16, &v);
    const double vals[5] = {0, 1000, 1500, 2000, 60000};
    for (int x = 0; x < 5; x++) tg_volume_set(&v, x, 0, 0, vals[x]);
    const char *p = tmp_path("clamp.png");
    tg_png_opts o = TG_PNG_OPTS_INIT;
    o.has_range = 1;
    o.lo = 1000;
    o.hi = 2000;
    CHECK_OK(&ctx, tg_png_write(&ctx, p, &v, &o));
    image im = read_png(p);
    CHECK(im.ok && im.width == 5 && im.height == 1);
    if (im.ok) {
        CHECK(at(&im, 0, 0)[0] == 0);
        CHECK(at(&im, 1, 0)[0] == 0);
        CHECK(at(&im, 2, 0)[0] == 128); /* 127.5 rounds half away from zero */
        CHECK(at(&im, 3, 0)[0] == 255);
        CHECK(at(&im, 4, 0)[0] == 255);
    }
    free(im.px);
    tg_volume_release(&v);
}

/* u8 without a range is written as is; a degenerate range maps <= lo to 0, above to 255. */
static void test_grey_u8_as_is(void)
{
    tg_ctx ctx;
    tg_ctx_init(&ctx);
    tg_volume v;
    make_slice(&ctx, 4, 1, TG_U8, &v);
    const int vals[4] = {0, 7, 200, 255};
    for (int x = 0; x < 4; x++) tg_volume_set(&v, x, 0, 0, vals[x]);
    const char *p = tmp_path("u8.png");
    CHECK_OK(&ctx, tg_png_write(&ctx, p, &v, NULL));
    image im = read_png(p);
    CHECK(im.ok);
    for (int x = 0; x < 4 && im.ok; x++) CHECK(at(&im, x, 0)[0] == vals[x]);
    free(im.px);

    tg_png_opts o = TG_PNG_OPTS_INIT;
    o.has_range = 1;
    o.lo = o.hi = 7;
    CHECK_OK(&ctx, tg_png_write(&ctx, p, &v, &o)); /* overwrites the previous file */
    im = read_png(p);
    CHECK(im.ok);
    if (im.ok) {
        CHECK(at(&im, 0, 0)[0] == 0);
        CHECK(at(&im, 1, 0)[0] == 0);
        CHECK(at(&im, 2, 0)[0] == 255);
        CHECK(at(&im, 3, 0)[0] == 255);
    }
    free(im.px);
    tg_volume_release(&v);
}

/* Labels: RGB from the built-in palette (tab10 colours for 1, 2, 3) or a given palette. */
static void test_labels(void)
{
    tg_ctx ctx;
    tg_ctx_init(&ctx);
    tg_volume v;
    make_slice(&ctx, 3, 2, TG_U8, &v);
    const int labels[6] = {0, 1, 2, 3, 4, 255};
    for (int i = 0; i < 6; i++) tg_volume_set(&v, i % 3, i / 3, 0, labels[i]);
    const char *p = tmp_path("labels.png");
    tg_png_opts o = TG_PNG_OPTS_INIT;
    o.colormap = TG_PNG_LABELS;
    CHECK_OK(&ctx, tg_png_write(&ctx, p, &v, &o));
    image im = read_png(p);
    CHECK(im.ok && im.channels == 3 && im.color_type == PNG_COLOR_TYPE_RGB);
    if (im.ok) {
        const unsigned char *c0 = at(&im, 0, 0), *c1 = at(&im, 1, 0), *c2 = at(&im, 2, 0), *c3 = at(&im, 0, 1);
        CHECK(c0[0] == 30 && c0[1] == 30 && c0[2] == 30);    /* pore: near black */
        CHECK(c1[0] == 255 && c1[1] == 127 && c1[2] == 14);  /* tab10 orange #ff7f0e */
        CHECK(c2[0] == 31 && c2[1] == 119 && c2[2] == 180);  /* tab10 blue #1f77b4 */
        CHECK(c3[0] == 44 && c3[1] == 160 && c3[2] == 44);   /* tab10 green #2ca02c */
        const unsigned char *c4 = at(&im, 1, 1);
        CHECK(c4[0] == 214 && c4[1] == 39 && c4[2] == 40);   /* tab10 red #d62728 */
    }
    free(im.px);

    /* the palette's entries are pairwise distinct */
    uint8_t pal[256 * 3];
    tg_png_default_palette(pal);
    int distinct = 1;
    for (int i = 0; i < 256; i++)
        for (int j = i + 1; j < 256; j++)
            if (memcmp(pal + 3 * i, pal + 3 * j, 3) == 0) distinct = 0;
    CHECK(distinct);

    /* a user palette; u16 label 257 wraps to entry 1 */
    uint8_t mine[256 * 3];
    for (int i = 0; i < 256; i++) { mine[3 * i] = (uint8_t)i; mine[3 * i + 1] = (uint8_t)(255 - i); mine[3 * i + 2] = 9; }
    tg_volume w;
    make_slice(&ctx, 2, 1, TG_U16, &w);
    tg_volume_set(&w, 0, 0, 0, 5);
    tg_volume_set(&w, 1, 0, 0, 257);
    o.palette = mine;
    CHECK_OK(&ctx, tg_png_write(&ctx, p, &w, &o));
    im = read_png(p);
    CHECK(im.ok);
    if (im.ok) {
        const unsigned char *a = at(&im, 0, 0), *b = at(&im, 1, 0);
        CHECK(a[0] == 5 && a[1] == 250 && a[2] == 9);
        CHECK(b[0] == 1 && b[1] == 254 && b[2] == 9);
    }
    free(im.px);
    tg_volume_release(&w);
    tg_volume_release(&v);
}

/* Viridis: ends near matplotlib's published first and last entries, lightness increasing throughout. */
static void test_viridis(void)
{
    uint8_t t[256 * 3];
    tg_png_viridis(t);
    /* matplotlib _viridis_data[0] = (0.267004, 0.004874, 0.329415), [128] = (0.127568, 0.566949, 0.550556),
     * [255] = (0.993248, 0.906157, 0.143936) */
    const double first[3] = {0.267004, 0.004874, 0.329415}, mid[3] = {0.127568, 0.566949, 0.550556},
                 last[3] = {0.993248, 0.906157, 0.143936};
    for (int k = 0; k < 3; k++) {
        NEAR(t[k], first[k] * 255, 4.0);
        NEAR(t[128 * 3 + k], mid[k] * 255, 4.0);
        NEAR(t[255 * 3 + k], last[k] * 255, 4.0);
    }
    int increasing = 1;
    double prev = -1;
    for (int i = 0; i < 256; i++) {
        double lum = 0.2126 * t[3 * i] + 0.7152 * t[3 * i + 1] + 0.0722 * t[3 * i + 2];
        if (lum < prev - 0.5) increasing = 0;
        prev = lum;
    }
    CHECK(increasing);

    tg_ctx ctx;
    tg_ctx_init(&ctx);
    tg_volume v;
    make_slice(&ctx, 3, 1, TG_F64, &v);
    tg_volume_set(&v, 0, 0, 0, -1.0);
    tg_volume_set(&v, 1, 0, 0, 0.5);
    tg_volume_set(&v, 2, 0, 0, 1.0);
    const char *p = tmp_path("viridis.png");
    tg_png_opts o = TG_PNG_OPTS_INIT;
    o.colormap = TG_PNG_VIRIDIS;
    CHECK_OK(&ctx, tg_png_write(&ctx, p, &v, &o));
    image im = read_png(p);
    CHECK(im.ok && im.channels == 3);
    if (im.ok) {
        CHECK(memcmp(at(&im, 0, 0), t, 3) == 0);
        CHECK(memcmp(at(&im, 1, 0), t + 3 * 191, 3) == 0); /* (0.5 + 1) / 2 * 255 = 191.25 */
        CHECK(memcmp(at(&im, 2, 0), t + 3 * 255, 3) == 0);
    }
    free(im.px);
    tg_volume_release(&v);
}

/* pHYs: pixels per metre from the spacing; none when the spacing is unknown (1 m). */
static void test_phys(void)
{
    tg_ctx ctx;
    tg_ctx_init(&ctx);
    tg_volume v;
    make_slice(&ctx, 2, 2, TG_U8, &v);
    const char *p = tmp_path("phys.png");
    CHECK_OK(&ctx, tg_png_write(&ctx, p, &v, NULL));
    image im = read_png(p);
    CHECK(im.ok && im.has_phys && im.phys_unit == PNG_RESOLUTION_METER);
    CHECK(im.ppm_x == 10000000u && im.ppm_y == 10000000u); /* 100 nm */
    free(im.px);

    v.spacing[0] = 2e-7;
    v.spacing[1] = 5e-8;
    CHECK_OK(&ctx, tg_png_write(&ctx, p, &v, NULL));
    im = read_png(p);
    CHECK(im.ok && im.has_phys);
    CHECK(im.ppm_x == 5000000u && im.ppm_y == 20000000u);
    free(im.px);

    v.spacing[0] = v.spacing[1] = 1.0;
    CHECK_OK(&ctx, tg_png_write(&ctx, p, &v, NULL));
    im = read_png(p);
    CHECK(im.ok && !im.has_phys);
    free(im.px);
    tg_volume_release(&v);
}

/* A slice taken as a view of a 3D volume, and a view with a non-unit row start (strides honoured). */
static void test_views(void)
{
    tg_ctx ctx;
    tg_ctx_init(&ctx);
    int64_t dims[3] = {5, 4, 3};
    tg_volume v, s, s2;
    tg_volume_init(&v);
    tg_volume_init(&s);
    tg_volume_init(&s2);
    CHECK_OK(&ctx, tg_volume_alloc(&ctx, dims, TG_U8, NULL, &v));
    for (int z = 0; z < 3; z++)
        for (int y = 0; y < 4; y++)
            for (int x = 0; x < 5; x++) tg_volume_set(&v, x, y, z, 100 * z + 10 * y + x);
    int64_t lo[3] = {0, 0, 2}, hi[3] = {5, 4, 3};
    CHECK_OK(&ctx, tg_volume_view(&ctx, &v, lo, hi, &s));
    const char *p = tmp_path("view.png");
    CHECK_OK(&ctx, tg_png_write(&ctx, p, &s, NULL));
    image im = read_png(p);
    CHECK(im.ok && im.width == 5 && im.height == 4);
    int exact = 1;
    for (int y = 0; y < 4 && im.ok; y++)
        for (int x = 0; x < 5; x++)
            if (at(&im, x, y)[0] != 200 + 10 * y + x) exact = 0;
    CHECK(exact);
    free(im.px);

    int64_t lo2[3] = {2, 1, 1}, hi2[3] = {4, 4, 2};
    CHECK_OK(&ctx, tg_volume_view(&ctx, &v, lo2, hi2, &s2));
    CHECK_OK(&ctx, tg_png_write(&ctx, p, &s2, NULL));
    im = read_png(p);
    CHECK(im.ok && im.width == 2 && im.height == 3);
    if (im.ok) { CHECK(at(&im, 0, 0)[0] == 112); CHECK(at(&im, 1, 2)[0] == 133); }
    free(im.px);
    tg_volume_release(&s2);
    tg_volume_release(&s);
    tg_volume_release(&v);
}

static void test_errors(void)
{
    tg_ctx ctx;
    tg_ctx_init(&ctx);
    tg_volume v;
    make_slice(&ctx, 2, 2, TG_U8, &v);

    const char *bad = "/nonexistent-dir-tortuga/x.png";
    CHECK(tg_png_write(&ctx, bad, &v, NULL) == TG_ERR_IO);
    CHECK(strstr(ctx.msg, bad) != NULL);

    /* the target is a directory: rename fails, and no temporary file is left behind */
    CHECK(tg_png_write(&ctx, tmpdir, &v, NULL) == TG_ERR_IO);
    CHECK(strstr(ctx.msg, tmpdir) != NULL);
    char parent_tmp[600];
    snprintf(parent_tmp, sizeof parent_tmp, "%s.%ld.0.tmp", tmpdir, (long)getpid());
    CHECK(!file_exists(parent_tmp));
    CHECK(count_tmp_files() == 0);

    tg_png_opts o = TG_PNG_OPTS_INIT;
    o.has_range = 1;
    o.lo = 5;
    o.hi = 1;
    CHECK(tg_png_write(&ctx, tmp_path("r.png"), &v, &o) == TG_ERR_ARG);
    o.lo = 0;
    o.hi = NAN;
    CHECK(tg_png_write(&ctx, tmp_path("r.png"), &v, &o) == TG_ERR_ARG);
    CHECK(!file_exists(tmp_path("r.png")));

    tg_volume w;
    int64_t dims[3] = {2, 2, 2};
    tg_volume_init(&w);
    CHECK_OK(&ctx, tg_volume_alloc(&ctx, dims, TG_U8, NULL, &w));
    CHECK(tg_png_write(&ctx, tmp_path("3d.png"), &w, NULL) == TG_ERR_ARG);
    CHECK(strstr(ctx.msg, "nz = 2") != NULL);

    tg_volume empty;
    tg_volume_init(&empty);
    CHECK(tg_png_write(&ctx, tmp_path("e.png"), &empty, NULL) == TG_ERR_ARG);

    /* allocation failures leave nothing behind */
    for (long n = 1; n <= 2; n++) {
        tg_alloc_fail_after(n);
        CHECK(tg_png_write(&ctx, tmp_path("nomem.png"), &v, NULL) == TG_ERR_NOMEM);
        tg_alloc_fail_after(0);
    }
    CHECK(!file_exists(tmp_path("nomem.png")));
    CHECK(count_tmp_files() == 0);
    tg_volume_release(&w);
    tg_volume_release(&v);
}

static void write_file(const char *path, const char *data, size_t n)
{
    FILE *f = fopen(path, "wb");
    if (!f) return;
    fwrite(data, 1, n, f);
    fclose(f);
}

/* FIPS 180-2 vectors: "abc", "" and one million 'a'; then a file of 3 MiB + 1 bytes, which spans several
 * 1 MiB read blocks, against the digest of the same bytes in memory. */
static void test_sha256(void)
{
    tg_ctx ctx;
    tg_ctx_init(&ctx);
    char hex[TG_SHA256_HEX];
    uint64_t size = 0;
    const char *p = tmp_path("abc.txt");
    write_file(p, "abc", 3);
    CHECK_OK(&ctx, tg_sha256_file(&ctx, p, hex, &size));
    CHECK(strcmp(hex, "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad") == 0);
    CHECK(size == 3);

    p = tmp_path("empty.txt");
    write_file(p, "", 0);
    CHECK_OK(&ctx, tg_sha256_file(&ctx, p, hex, &size));
    CHECK(strcmp(hex, "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855") == 0);
    CHECK(size == 0);

    size_t n = 3u * (1u << 20) + 1;
    char *big = malloc(n);
    memset(big, 'a', n);
    p = tmp_path("million.txt");
    write_file(p, big, 1000000);
    CHECK_OK(&ctx, tg_sha256_file(&ctx, p, hex, &size));
    CHECK(strcmp(hex, "cdc76e5c9914fb9281a1c7e284d73e67f1809a48a497200e046d39ccc7112cd0") == 0);
    CHECK(size == 1000000);

    char want[TG_SHA256_HEX];
    CHECK_OK(&ctx, tg_sha256_buffer(&ctx, big, n, want));
    p = tmp_path("big.txt");
    write_file(p, big, n);
    CHECK_OK(&ctx, tg_sha256_file(&ctx, p, hex, &size));
    CHECK(strcmp(hex, want) == 0);
    CHECK(size == n);
    CHECK_OK(&ctx, tg_sha256_buffer(&ctx, "abc", 3, hex));
    CHECK(strcmp(hex, "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad") == 0);
    free(big);

    const char *missing = tmp_path("no-such-file.bin");
    CHECK(tg_sha256_file(&ctx, missing, hex, NULL) == TG_ERR_IO);
    CHECK(strstr(ctx.msg, "no-such-file.bin") != NULL);
    CHECK(tg_sha256_file(&ctx, tmpdir, hex, NULL) == TG_ERR_IO);
    CHECK(strstr(ctx.msg, "directory") != NULL);
    tg_alloc_fail_after(1);
    CHECK(tg_sha256_file(&ctx, tmp_path("abc.txt"), hex, NULL) == TG_ERR_NOMEM);
    tg_alloc_fail_after(0);
}

TG_TEST_MAIN(test_grey_default_range, test_grey_range_clamp, test_grey_u8_as_is, test_labels, test_viridis,
             test_phys, test_views, test_errors, test_sha256)
