/* test_vtk.c — tg_vtk_write from known bytes: the exact legacy header, big-endian u8/f32/f64 payloads in
 * x-fastest order (also through a strided view), the atomic rename (no temporary file left, a failed write
 * leaves an existing file untouched), and clear errors for bad names, mismatched dims or spacing, unsupported
 * dtypes and unwritable paths. */
#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "tg_test.h"
#include "io/tg_vtk.h"

static tg_ctx ctx;
static char dir[512];

static unsigned char *slurp(const char *path, long *n)
{
    FILE *f = fopen(path, "rb");
    if (!f) return NULL;
    fseek(f, 0, SEEK_END);
    *n = ftell(f);
    fseek(f, 0, SEEK_SET);
    unsigned char *b = malloc((size_t)*n + 1);
    if (b && fread(b, 1, (size_t)*n, f) != (size_t)*n) { free(b); b = NULL; }
    fclose(f);
    return b;
}

/* Number of entries of dir whose name contains s. */
static int count_names(const char *s)
{
    DIR *d = opendir(dir);
    int n = 0;
    struct dirent *e;
    while (d && (e = readdir(d)))
        if (strstr(e->d_name, s)) n++;
    if (d) closedir(d);
    return n;
}

static void be_bytes(unsigned char *out, const void *val, size_t sz)
{
    const unsigned char *s = val;
    static const union { uint16_t u; unsigned char c[2]; } probe = {1};
    for (size_t k = 0; k < sz; k++) out[k] = probe.c[0] == 1 ? s[sz - 1 - k] : s[k];
}

static void test_write(void)
{
    const int64_t d[3] = {3, 2, 2};
    const double sp[3] = {1e-6, 2e-6, 5e-7};
    tg_volume a, b, big, c;
    tg_volume_init(&a); tg_volume_init(&b); tg_volume_init(&big); tg_volume_init(&c);
    CHECK_OK(&ctx, tg_volume_alloc(&ctx, d, TG_U8, sp, &a));
    CHECK_OK(&ctx, tg_volume_alloc(&ctx, d, TG_F32, sp, &b));
    const int64_t db[3] = {5, 4, 3};
    CHECK_OK(&ctx, tg_volume_alloc(&ctx, db, TG_F64, sp, &big));
    for (int64_t i = 0; i < 12; i++) {
        ((uint8_t *)a.buf->data)[i] = (uint8_t)(i * 20 + 1);
        ((float *)b.buf->data)[i] = 0.5f * (float)i - 2.25f;
    }
    for (int64_t i = 0; i < 60; i++) ((double *)big.buf->data)[i] = 1.0 / 3.0 + (double)i * 1e3;
    /* a strided view: x 1..3 (of 5), y 2..3 (of 4), z 1..2 (of 3) */
    const int64_t lo[3] = {1, 2, 1}, hi[3] = {4, 4, 3};
    CHECK_OK(&ctx, tg_volume_view(&ctx, &big, lo, hi, &c));
    char path[600];
    snprintf(path, sizeof path, "%s/out.vtk", dir);
    const tg_vtk_field fs[3] = {{"labels", &a}, {"potential", &b}, {"current", &c}};
    CHECK_OK(&ctx, tg_vtk_write(&ctx, path, fs, 3));
    CHECK(count_names(".tmp") == 0);
    long n = 0;
    unsigned char *buf = slurp(path, &n);
    CHECK(buf != NULL);
    if (!buf) goto out;
    const char *h = "# vtk DataFile Version 3.0\ntortuga\nBINARY\nDATASET STRUCTURED_POINTS\nDIMENSIONS 3 2 2\n"
                    "SPACING 9.9999999999999995e-07 1.9999999999999999e-06 4.9999999999999998e-07\nORIGIN 0 0 0\n"
                    "POINT_DATA 12\nSCALARS labels unsigned_char 1\nLOOKUP_TABLE default\n";
    size_t o = strlen(h);
    CHECK(n > (long)o && memcmp(buf, h, o) == 0);
    unsigned char want[8];
    for (int i = 0; i < 12; i++) CHECK(buf[o + i] == (uint8_t)(i * 20 + 1));
    o += 12;
    CHECK(buf[o] == '\n');
    o++;
    const char *h2 = "SCALARS potential float 1\nLOOKUP_TABLE default\n";
    CHECK(memcmp(buf + o, h2, strlen(h2)) == 0);
    o += strlen(h2);
    for (int i = 0; i < 12; i++) {
        float x = 0.5f * (float)i - 2.25f;
        be_bytes(want, &x, 4);
        CHECK(memcmp(buf + o + 4 * i, want, 4) == 0);
    }
    o += 48 + 1;
    const char *h3 = "SCALARS current double 1\nLOOKUP_TABLE default\n";
    CHECK(memcmp(buf + o, h3, strlen(h3)) == 0);
    o += strlen(h3);
    int k = 0;
    for (int z = 1; z < 3; z++)
        for (int y = 2; y < 4; y++)
            for (int x = 1; x < 4; x++, k++) {
                double val = 1.0 / 3.0 + (double)(x + 5 * (y + 4 * z)) * 1e3;
                be_bytes(want, &val, 8);
                CHECK(memcmp(buf + o + 8 * k, want, 8) == 0);
            }
    o += 96;
    CHECK(buf[o] == '\n' && (long)o + 1 == n);
    free(buf);

    /* failures leave the existing file alone and no temporary behind */
    const tg_vtk_field bad1[2] = {{"a b", &a}, {"p", &b}};
    CHECK(tg_vtk_write(&ctx, path, bad1, 2) == TG_ERR_ARG && strstr(ctx.msg, "whitespace"));
    const tg_vtk_field bad2[2] = {{"a", &a}, {"a", &b}};
    CHECK(tg_vtk_write(&ctx, path, bad2, 2) == TG_ERR_ARG && strstr(ctx.msg, "twice"));
    const tg_vtk_field bad3[2] = {{"a", &a}, {"big", &big}};
    CHECK(tg_vtk_write(&ctx, path, bad3, 2) == TG_ERR_ARG && strstr(ctx.msg, "5x4x3"));
    tg_volume sp2;
    tg_volume_init(&sp2);
    const double spb[3] = {1e-6, 2e-6, 6e-7};
    CHECK_OK(&ctx, tg_volume_alloc(&ctx, d, TG_U8, spb, &sp2));
    const tg_vtk_field bad5[2] = {{"a", &a}, {"b", &sp2}};
    CHECK(tg_vtk_write(&ctx, path, bad5, 2) == TG_ERR_ARG && strstr(ctx.msg, "spacing"));
    tg_volume_release(&sp2);
    tg_volume u16;
    tg_volume_init(&u16);
    CHECK_OK(&ctx, tg_volume_alloc(&ctx, d, TG_U16, sp, &u16));
    const tg_vtk_field bad4[1] = {{"u", &u16}};
    CHECK(tg_vtk_write(&ctx, path, bad4, 1) == TG_ERR_UNSUPPORTED && strstr(ctx.msg, "u16"));
    CHECK(tg_vtk_write(&ctx, path, fs, 0) == TG_ERR_ARG);
    atomic_store(&ctx.cancel, 1);
    CHECK(tg_vtk_write(&ctx, path, fs, 3) == TG_ERR_CANCELLED);
    atomic_store(&ctx.cancel, 0);
    long n2 = 0;
    unsigned char *again = slurp(path, &n2);
    CHECK(again && n2 == n);
    free(again);
    CHECK(count_names(".tmp") == 0);
    char nodir[700];
    snprintf(nodir, sizeof nodir, "%s/no/such/dir/x.vtk", dir);
    CHECK(tg_vtk_write(&ctx, nodir, fs, 1) == TG_ERR_IO && strstr(ctx.msg, "x.vtk"));
    tg_volume_release(&u16);
out:
    remove(path);
    tg_volume_release(&a);
    tg_volume_release(&b);
    tg_volume_release(&c);
    tg_volume_release(&big);
}

static void setup(void)
{
    tg_ctx_init(&ctx);
    ctx.nthreads = 2;
    const char *t = getenv("TG_TEST_TMP");
    snprintf(dir, sizeof dir, "%s/test_vtk", t && t[0] ? t : "/tmp");
    char cmd[600];
    snprintf(cmd, sizeof cmd, "mkdir -p '%s'", dir);
    CHECK(system(cmd) == 0);
}

TG_TEST_MAIN(setup, test_write)
