/* test_writer.c — the slab-by-slab TIFF writer (engine/io/tg_writer.c): what it publishes reads back equal to the
 * slabs with the same tags as tg_tiff_write's file; what it does not publish leaves nothing behind.
 *
 * Truth: the volume written (a closed-form formula per voxel) read back by tg_tiff_read (tested against tifffile,
 * tiffcp and ImageJ in test_tiff.c), and tg_tiff_write's description and calibration of the same volume. Failures:
 * a wrong slab, a cancel, an abort, a file-size limit (RLIMIT_FSIZE: write() fails with EFBIG exactly where a full
 * disk fails with ENOSPC), each leaving no file under the final name and no temporary.
 */
#define _GNU_SOURCE
#include <dirent.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <tiffio.h>
#include <unistd.h>

#include "tg_test.h"
#include "io/tg_tiff.h"
#include "io/tg_writer.h"

static char tmpdir[400];

static void setup(void)
{
    const char *t = getenv("TG_TEST_TMP");
    snprintf(tmpdir, sizeof tmpdir, "%s/test_writer", t ? t : "/tmp");
    char cmd[900];
    snprintf(cmd, sizeof cmd, "rm -rf '%s' && mkdir -p '%s'", tmpdir, tmpdir);
    if (system(cmd) != 0) fprintf(stderr, "cannot create %s\n", tmpdir);
}

static const char *tmp(const char *name)
{
    static char p[4][1200];
    static int k;
    k = (k + 1) % 4;
    snprintf(p[k], sizeof p[k], "%s/%s", tmpdir, name);
    return p[k];
}

static int exists(const char *path)
{
    struct stat sb;
    return stat(path, &sb) == 0;
}

/* files in the folder other than the ones a test keeps (names ending in ".tif") */
static int temporaries_left(void)
{
    int n = 0;
    DIR *d = opendir(tmpdir);
    struct dirent *e;
    while (d && (e = readdir(d)))
        if (e->d_name[0] == '.' && strcmp(e->d_name, ".") && strcmp(e->d_name, "..")) n++;
    if (d) closedir(d);
    return n;
}

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
    double sp[3] = {1e-7, 1e-7, 2.5e-7};
    CHECK_OK(ctx, tg_volume_alloc(ctx, d, t, sp, v));
    for (int64_t z = 0; z < nz; z++)
        for (int64_t y = 0; y < ny; y++)
            for (int64_t x = 0; x < nx; x++) tg_volume_set(v, x, y, z, formula(t, x, y, z));
}

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

/* Slices [z0, z1) of v as a view. */
static void zview(tg_ctx *ctx, const tg_volume *v, int64_t z0, int64_t z1, tg_volume *out)
{
    int64_t lo[3] = {0, 0, z0}, hi[3] = {v->dims[0], v->dims[1], z1};
    CHECK_OK(ctx, tg_volume_view(ctx, v, lo, hi, out));
}

/* Write v in slabs of 1, 3, then the rest (a strided view of x when strided is set). */
static tg_status write_slabs(tg_ctx *ctx, tg_writer *w, const tg_volume *v)
{
    int64_t cuts[] = {0, 1, 4, v->dims[2]};
    tg_status st = TG_OK;
    for (int k = 0; k < 3 && st == TG_OK; k++) {
        tg_volume s;
        zview(ctx, v, cuts[k], cuts[k + 1], &s);
        st = tg_writer_write(ctx, w, &s);
        tg_volume_release(&s);
    }
    return st;
}

/* The ImageJ description of a file's first page ("" if none), into d. */
static void description(const char *path, char *d, size_t n)
{
    d[0] = 0;
    TIFF *t = TIFFOpen(path, "r");
    char *s = NULL;
    if (t && TIFFGetField(t, TIFFTAG_IMAGEDESCRIPTION, &s) && s) snprintf(d, n, "%s", s);
    if (t) TIFFClose(t);
}

static void test_roundtrip(void)
{
    tg_ctx ctx;
    tg_ctx_init(&ctx);
    static const tg_tiff_compress comps[] = {TG_TIFF_RAW, TG_TIFF_DEFLATE, TG_TIFF_LZW, TG_TIFF_PACKBITS};
    for (int t = 0; t < TG_NDTYPES; t++)
        for (int c = 0; c < 4; c++) {
            tg_volume v, r;
            make_volume(&ctx, (tg_dtype)t, 33, 21, 9, &v);
            tg_writer_opts o = TG_WRITER_OPTS_INIT;
            o.compress = comps[c];
            tg_writer *w = NULL;
            const char *path = tmp("rt.tif");
            unlink(path);
            CHECK_OK(&ctx, tg_writer_open(&ctx, path, &o, &w));
            if (!w) continue;
            CHECK_OK(&ctx, write_slabs(&ctx, w, &v));
            CHECK(tg_writer_pages(w) == 9 && !exists(path));
            CHECK_OK(&ctx, tg_writer_close(&ctx, w));
            CHECK_OK(&ctx, tg_tiff_read(&ctx, path, NULL, &r));
            CHECK(same_bytes(&v, &r));
            NEAR(r.spacing[0], 1e-7, 1e-16);
            NEAR(r.spacing[2], 2.5e-7, 1e-16);
            tg_volume_release(&r);
            /* the same description and calibration as tg_tiff_write's file */
            char d1[600], d2[600];
            description(path, d1, sizeof d1);
            tg_tiff_write_opts wo = TG_TIFF_WRITE_OPTS_INIT;
            wo.compress = comps[c];
            CHECK_OK(&ctx, tg_tiff_write(&ctx, tmp("ref.tif"), &v, &wo));
            description(tmp("ref.tif"), d2, sizeof d2);
            if (strcmp(d1, d2) != 0) fprintf(stderr, "dtype %d comp %d:\n%s---\n%s\n", t, c, d1, d2);
            CHECK(strcmp(d1, d2) == 0 && strstr(d1, "images=9"));
            tg_tiff_info_t a, b;
            CHECK_OK(&ctx, tg_tiff_info(&ctx, path, &a));
            CHECK_OK(&ctx, tg_tiff_info(&ctx, tmp("ref.tif"), &b));
            CHECK(a.imagej && a.z_calibrated && a.compression == b.compression && !a.bigtiff);
            tg_volume_release(&v);
        }
    CHECK(temporaries_left() == 0);
}

static void test_options(void)
{
    tg_ctx ctx;
    tg_ctx_init(&ctx);
    tg_volume v, r, s;
    make_volume(&ctx, TG_F32, 40, 30, 5, &v);
    /* BigTIFF forced, a strided view (every other column), the page count announced */
    for (int c = 0; c < 2; c++) {
        tg_writer_opts o = TG_WRITER_OPTS_INIT;
        o.bigtiff = 1;
        o.compress = c ? TG_TIFF_DEFLATE : TG_TIFF_RAW;
        o.dims[0] = 20; o.dims[1] = 30; o.dims[2] = 5;
        tg_writer *w = NULL;
        CHECK_OK(&ctx, tg_writer_open(&ctx, tmp("big.tif"), &o, &w));
        if (!w) continue;
        v.strides[0] = 2;
        v.dims[0] = 20;
        CHECK_OK(&ctx, tg_writer_write(&ctx, w, &v));
        CHECK_OK(&ctx, tg_writer_close(&ctx, w));
        CHECK_OK(&ctx, tg_tiff_read(&ctx, tmp("big.tif"), NULL, &r));
        CHECK(same_bytes(&v, &r));
        v.strides[0] = 1;
        v.dims[0] = 40;
        tg_tiff_info_t in;
        CHECK_OK(&ctx, tg_tiff_info(&ctx, tmp("big.tif"), &in));
        CHECK(in.bigtiff);
        tg_volume_release(&r);
    }
    /* another dtype and spacing than the slabs': converted as tg_volume_astype does */
    tg_writer_opts o = TG_WRITER_OPTS_INIT;
    o.dtype = TG_U8;
    o.spacing[0] = o.spacing[1] = 5e-9;
    o.spacing[2] = 1e-8;
    tg_writer *w = NULL;
    CHECK_OK(&ctx, tg_writer_open(&ctx, tmp("u8.tif"), &o, &w));
    if (w) {
        CHECK_OK(&ctx, write_slabs(&ctx, w, &v));
        CHECK_OK(&ctx, tg_writer_close(&ctx, w));
        CHECK_OK(&ctx, tg_tiff_read(&ctx, tmp("u8.tif"), NULL, &r));
        CHECK_OK(&ctx, tg_volume_astype(&ctx, &v, TG_U8, &s));
        CHECK(same_bytes(&s, &r));
        NEAR(r.spacing[2], 1e-8, 1e-18);
        tg_volume_release(&r);
        tg_volume_release(&s);
    }
    /* a 250-character file name: the temporary must be shorter than the name */
    char name[251];
    memset(name, 'n', 246);
    strcpy(name + 246, ".tif");
    CHECK_OK(&ctx, tg_writer_open(&ctx, tmp(name), NULL, &w));
    if (w) {
        CHECK_OK(&ctx, tg_writer_write(&ctx, w, &v));
        CHECK_OK(&ctx, tg_writer_close(&ctx, w));
        CHECK(exists(tmp(name)));
        unlink(tmp(name));
    }
    tg_volume_release(&v);
    CHECK(temporaries_left() == 0);
}

/* Each failure leaves no file under the final name and no temporary; an older file there is kept. */
static void test_failures_leave_nothing(void)
{
    tg_ctx ctx;
    tg_ctx_init(&ctx);
    tg_volume v, small, r;
    make_volume(&ctx, TG_U16, 24, 16, 6, &v);
    make_volume(&ctx, TG_U16, 23, 16, 1, &small);
    for (int c = 0; c < 2; c++) {
        tg_writer_opts o = TG_WRITER_OPTS_INIT;
        o.compress = c ? TG_TIFF_LZW : TG_TIFF_RAW;
        tg_writer *w = NULL;
        /* never closed */
        CHECK_OK(&ctx, tg_writer_open(&ctx, tmp("a.tif"), &o, &w));
        CHECK_OK(&ctx, tg_writer_write(&ctx, w, &v));
        CHECK(temporaries_left() == 1);
        tg_writer_abort(w);
        CHECK(!exists(tmp("a.tif")) && temporaries_left() == 0);
        /* a slab of the wrong size midway: the temporary goes at once, close reports it */
        CHECK_OK(&ctx, tg_writer_open(&ctx, tmp("a.tif"), &o, &w));
        CHECK_OK(&ctx, tg_writer_write(&ctx, w, &v));
        CHECK(tg_writer_write(&ctx, w, &small) == TG_ERR_ARG);
        CHECK(strstr(ctx.msg, tmp("a.tif")) && strstr(ctx.msg, "page 7") && strstr(ctx.msg, "23x16"));
        CHECK(temporaries_left() == 0);
        CHECK(tg_writer_write(&ctx, w, &v) == TG_ERR_ARG && strstr(ctx.msg, "failed earlier"));
        CHECK(tg_writer_close(&ctx, w) == TG_ERR_ARG);
        CHECK(!exists(tmp("a.tif")));
        /* cancelled: an existing file under the name survives */
        CHECK_OK(&ctx, tg_tiff_write(&ctx, tmp("keep.tif"), &small, NULL));
        CHECK_OK(&ctx, tg_writer_open(&ctx, tmp("keep.tif"), &o, &w));
        atomic_store(&ctx.cancel, 1);
        CHECK(tg_writer_write(&ctx, w, &v) == TG_ERR_CANCELLED && strstr(ctx.msg, "keep.tif"));
        atomic_store(&ctx.cancel, 0);
        CHECK(tg_writer_close(&ctx, w) == TG_ERR_CANCELLED);
        CHECK_OK(&ctx, tg_tiff_read(&ctx, tmp("keep.tif"), NULL, &r));
        CHECK(same_bytes(&small, &r));
        tg_volume_release(&r);
        /* the announced page count not met; no page at all */
        o.dims[0] = 24; o.dims[1] = 16; o.dims[2] = 10;
        CHECK_OK(&ctx, tg_writer_open(&ctx, tmp("a.tif"), &o, &w));
        CHECK_OK(&ctx, tg_writer_write(&ctx, w, &v));
        CHECK(tg_writer_close(&ctx, w) == TG_ERR_ARG && strstr(ctx.msg, "10 pages were announced but 6 written"));
        o.dims[2] = 0;
        CHECK_OK(&ctx, tg_writer_open(&ctx, tmp("a.tif"), &o, &w));
        CHECK(tg_writer_close(&ctx, w) == TG_ERR_ARG && strstr(ctx.msg, "no page was written"));
        CHECK(!exists(tmp("a.tif")) && temporaries_left() == 0);
    }
    /* a folder that does not exist, a bad option */
    tg_writer *w = NULL;
    CHECK(tg_writer_open(&ctx, tmp("no/such/dir/x.tif"), NULL, &w) == TG_ERR_IO && strstr(ctx.msg, "no/such/dir/x.tif"));
    tg_writer_opts o = TG_WRITER_OPTS_INIT;
    o.spacing[0] = -1;
    CHECK(tg_writer_open(&ctx, tmp("x.tif"), &o, &w) == TG_ERR_ARG && w == NULL);
    tg_volume_release(&small);
    tg_volume_release(&v);
}

/* The disk fills up midway (a file-size limit makes write() fail as a full disk does). */
static void test_full_disk(void)
{
    tg_ctx ctx;
    tg_ctx_init(&ctx);
    tg_volume v;
    make_volume(&ctx, TG_U8, 256, 256, 12, &v); /* 768 KiB */
    struct rlimit old, lim;
    getrlimit(RLIMIT_FSIZE, &old);
    void (*prev)(int) = signal(SIGXFSZ, SIG_IGN);
    for (int c = 0; c < 2; c++) {
        tg_writer_opts o = TG_WRITER_OPTS_INIT;
        o.compress = c ? TG_TIFF_PACKBITS : TG_TIFF_RAW; /* packbits cannot shrink this pattern much */
        tg_writer *w = NULL;
        CHECK_OK(&ctx, tg_writer_open(&ctx, tmp("full.tif"), &o, &w));
        if (!w) continue;
        lim = old;
        lim.rlim_cur = 200 * 1024;
        setrlimit(RLIMIT_FSIZE, &lim);
        tg_status st = tg_writer_write(&ctx, w, &v);
        char msg[sizeof ctx.msg];
        memcpy(msg, ctx.msg, sizeof msg);
        CHECK(tg_writer_close(&ctx, w) == st);
        setrlimit(RLIMIT_FSIZE, &old);
        CHECK(st == TG_ERR_IO && strstr(msg, "full.tif") && strstr(msg, "page 4") && strstr(msg, "File too large"));
        if (st != TG_ERR_IO || !strstr(msg, "File too large")) fprintf(stderr, "full disk: %s\n", msg);
        CHECK(!exists(tmp("full.tif")) && temporaries_left() == 0);
    }
    signal(SIGXFSZ, prev);
    tg_volume_release(&v);
}

static void test_allocation_failures(void)
{
    tg_ctx ctx;
    tg_ctx_init(&ctx);
    tg_volume v;
    make_volume(&ctx, TG_F32, 12, 9, 5, &v);
    int bad = 0;
    for (long n = 1; n <= 14; n++)
        for (int c = 0; c < 2; c++) {
            tg_writer_opts o = TG_WRITER_OPTS_INIT;
            o.compress = c ? TG_TIFF_DEFLATE : TG_TIFF_RAW;
            o.dtype = TG_U16; /* a conversion too */
            long live = tg_alloc_live();
            tg_writer *w = NULL;
            tg_alloc_fail_after(n);
            tg_status st = tg_writer_open(&ctx, tmp("af.tif"), &o, &w);
            if (st == TG_OK) {
                st = write_slabs(&ctx, w, &v);
                tg_status st2 = tg_writer_close(&ctx, w);
                if (st == TG_OK) st = st2;
            }
            tg_alloc_fail_after(0);
            if (st != TG_OK && st != TG_ERR_NOMEM) { bad++; fprintf(stderr, "n=%ld: %s\n", n, ctx.msg); }
            if (tg_alloc_live() != live) { bad++; fprintf(stderr, "n=%ld leaks\n", n); }
            if (st != TG_OK && exists(tmp("af.tif"))) bad++;
            unlink(tmp("af.tif"));
        }
    CHECK(bad == 0);
    CHECK(temporaries_left() == 0);
    tg_volume_release(&v);
}

TG_TEST_MAIN(setup, test_roundtrip, test_options, test_failures_leave_nothing, test_full_disk, test_allocation_failures)
