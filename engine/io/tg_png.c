/* tg_png.c — 8-bit PNG writer for one slice (grey, categorical labels, viridis). Manual in tg_png.h.
 *
 * libpng reports errors by longjmp; everything the jump could leak (row buffer, FILE, temporary file) is
 * created before setjmp and released at the single exit, and the libpng message is copied into ctx.
 */
#define _POSIX_C_SOURCE 200809L

#include "io/tg_png.h"
#include "io/tg_publish.h"

#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <png.h>
#include <setjmp.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

/* ---- colour tables ---- */

static const uint8_t tab_colours[21][3] = {
    {30, 30, 30},    /* 0: pore, near black */
    {255, 127, 14},  /* 1: orange */
    {31, 119, 180},  /* 2: blue */
    {44, 160, 44},   {214, 39, 40},   {148, 103, 189}, {140, 86, 75},  {227, 119, 194},
    {127, 127, 127}, {188, 189, 34},  {23, 190, 207},  {255, 187, 120}, {174, 199, 232},
    {152, 223, 138}, {255, 152, 150}, {197, 176, 213}, {196, 156, 148}, {247, 182, 210},
    {199, 199, 199}, {219, 219, 141}, {158, 218, 229},
};

static uint8_t to_byte(double c)
{
    if (!(c > 0.0)) return 0;
    if (c >= 1.0) return 255;
    return (uint8_t)lround(c * 255.0);
}

static void hsv_to_rgb(double h, double s, double v, uint8_t out[3])
{
    double hh = h * 6.0, f = hh - floor(hh);
    double p = v * (1 - s), q = v * (1 - s * f), t = v * (1 - s * (1 - f));
    double r, g, b;
    switch ((int)floor(hh) % 6) {
    case 0: r = v; g = t; b = p; break;
    case 1: r = q; g = v; b = p; break;
    case 2: r = p; g = v; b = t; break;
    case 3: r = p; g = q; b = v; break;
    case 4: r = t; g = p; b = v; break;
    default: r = v; g = p; b = q; break;
    }
    out[0] = to_byte(r); out[1] = to_byte(g); out[2] = to_byte(b);
}

void tg_png_default_palette(uint8_t rgb[256 * 3])
{
    for (int i = 0; i < 256; i++) {
        if (i < 21) memcpy(rgb + 3 * i, tab_colours[i], 3);
        else {
            double h = fmod(i * 0.618033988749895, 1.0);
            hsv_to_rgb(h, 0.7, (i & 1) ? 0.95 : 0.7, rgb + 3 * i);
        }
    }
}

void tg_png_viridis(uint8_t rgb[256 * 3])
{
    /* c0 + t (c1 + t (c2 + ... )) per channel; coefficients of the published fit (see tg_png.h). */
    static const double c[7][3] = {
        {0.2777273272234177, 0.005407344544966578, 0.3340998053353061},
        {0.1050930431085774, 1.404613529898575, 1.384590162594685},
        {-0.3308618287255563, 0.214847559468213, 0.09509516302823659},
        {-4.634230498983486, -5.799100973351585, -19.33244095627987},
        {6.228269936347081, 14.17993336680509, 56.69055260068105},
        {4.776384997670288, -13.74514537774601, -65.35303263337234},
        {-5.435455855934631, 4.645852612178535, 26.3124352495832},
    };
    for (int i = 0; i < 256; i++) {
        double t = i / 255.0;
        for (int k = 0; k < 3; k++) {
            double acc = c[6][k];
            for (int j = 5; j >= 0; j--) acc = acc * t + c[j][k];
            rgb[3 * i + k] = to_byte(acc);
        }
    }
}

/* ---- pixel conversion ---- */

static double pixel(const tg_volume *v, int64_t x, int64_t y)
{
    const void *p = tg_volume_ptr(v, x, y, 0);
    switch (v->dtype) {
    case TG_U8: return *(const uint8_t *)p;
    case TG_U16: return *(const uint16_t *)p;
    case TG_I32: return *(const int32_t *)p;
    case TG_F32: return *(const float *)p;
    default: return *(const double *)p;
    }
}

/* The finite min..max of the slice; lo = hi = 0 when nothing is finite. */
static void slice_range(const tg_volume *v, double *lo, double *hi)
{
    double mn = INFINITY, mx = -INFINITY;
    for (int64_t y = 0; y < v->dims[1]; y++)
        for (int64_t x = 0; x < v->dims[0]; x++) {
            double a = pixel(v, x, y);
            if (!isfinite(a)) continue;
            if (a < mn) mn = a;
            if (a > mx) mx = a;
        }
    if (mn > mx) mn = mx = 0.0;
    *lo = mn;
    *hi = mx;
}

static uint8_t scale(double a, double lo, double hi)
{
    if (isnan(a)) return 0;
    if (hi <= lo) return a <= lo ? 0 : 255;
    double t = (a - lo) / (hi - lo) * 255.0;
    if (t <= 0.0) return 0;
    if (t >= 255.0) return 255;
    return (uint8_t)lround(t);
}

static int label_index(double a)
{
    if (!isfinite(a)) return 0;
    long long k = llround(fmod(a, 256.0));
    return (int)(((k % 256) + 256) % 256);
}

static void convert_row(const tg_volume *v, int64_t y, tg_png_colormap cm, double lo, double hi,
                        const uint8_t *table, uint8_t *row)
{
    for (int64_t x = 0; x < v->dims[0]; x++) {
        double a = pixel(v, x, y);
        if (cm == TG_PNG_GREY) row[x] = scale(a, lo, hi);
        else {
            int i = cm == TG_PNG_LABELS ? label_index(a) : scale(a, lo, hi);
            memcpy(row + 3 * x, table + 3 * i, 3);
        }
    }
}

/* ---- writing ---- */

typedef struct png_job {
    tg_ctx *ctx;
    const char *path;
    int failed; /* libpng reported an error; its message is in ctx */
} png_job;

static void on_png_error(png_structp png, png_const_charp msg)
{
    png_job *job = png_get_error_ptr(png);
    job->failed = 1;
    tg_fail(job->ctx, TG_ERR_IO, "%s: %s", job->path, msg);
    png_longjmp(png, 1);
}

static void on_png_warning(png_structp png, png_const_charp msg) { (void)png; (void)msg; }

/* The short hidden temporary of tg_publish.h, as a stdio stream. */
static FILE *open_temp(tg_ctx *ctx, const char *path, char *tmp, size_t tmpsize)
{
    int fd = tg_publish_temp(path, tmp, tmpsize);
    if (fd < 0) {
        tg_fail(ctx, TG_ERR_IO, "%s: cannot create: %s", path, strerror(errno));
        return NULL;
    }
    FILE *f = fdopen(fd, "wb");
    if (!f) { close(fd); unlink(tmp); tg_fail(ctx, TG_ERR_IO, "%s: %s", path, strerror(errno)); }
    return f;
}

static void set_calibration(png_structp png, png_infop info, const double spacing[2])
{
    double px = 1.0 / spacing[0], py = 1.0 / spacing[1];
    if (!(spacing[0] > 0 && spacing[0] < 1.0 && spacing[1] > 0 && spacing[1] < 1.0)) return;
    if (px > 2147483647.0 || py > 2147483647.0) return;
    png_set_pHYs(png, info, (png_uint_32)llround(px), (png_uint_32)llround(py), PNG_RESOLUTION_METER);
}

/* The libpng part. Returns 0 on success; on failure ctx holds the message. Kept apart so that the
 * setjmp frame holds no variable that changes after setjmp. */
static int encode(png_job *job, FILE *f, const tg_volume *v, const tg_png_opts *opt, double lo, double hi,
                  const uint8_t *table, uint8_t *row)
{
    png_structp png = png_create_write_struct(PNG_LIBPNG_VER_STRING, job, on_png_error, on_png_warning);
    png_infop info = png ? png_create_info_struct(png) : NULL;
    if (!png || !info) {
        png_destroy_write_struct(png ? &png : NULL, NULL);
        tg_fail(job->ctx, TG_ERR_NOMEM, "%s: cannot create the PNG writer", job->path);
        return -1;
    }
    if (setjmp(png_jmpbuf(png))) {
        png_destroy_write_struct(&png, &info);
        return -1;
    }
    png_init_io(png, f);
    if (opt->compression >= 0 && opt->compression <= 9) png_set_compression_level(png, opt->compression);
    int color = opt->colormap == TG_PNG_GREY ? PNG_COLOR_TYPE_GRAY : PNG_COLOR_TYPE_RGB;
    png_set_IHDR(png, info, (png_uint_32)v->dims[0], (png_uint_32)v->dims[1], 8, color, PNG_INTERLACE_NONE,
                 PNG_COMPRESSION_TYPE_DEFAULT, PNG_FILTER_TYPE_DEFAULT);
    set_calibration(png, info, v->spacing);
    png_write_info(png, info);
    for (int64_t y = 0; y < v->dims[1]; y++) {
        convert_row(v, y, opt->colormap, lo, hi, table, row);
        png_write_row(png, row);
    }
    png_write_end(png, info);
    png_destroy_write_struct(&png, &info);
    return 0;
}

static tg_status check_args(tg_ctx *ctx, const char *path, const tg_volume *v, const tg_png_opts *opt)
{
    if (!path || !*path) return tg_fail(ctx, TG_ERR_ARG, "tg_png_write: empty path");
    if (!v || !v->buf) return tg_fail(ctx, TG_ERR_ARG, "tg_png_write: empty volume");
    if (v->dims[2] != 1)
        return tg_fail(ctx, TG_ERR_ARG, "tg_png_write: expected one slice (nz = 1), got nz = %lld",
                       (long long)v->dims[2]);
    if (v->dims[0] > 0x7fffffff || v->dims[1] > 0x7fffffff)
        return tg_fail(ctx, TG_ERR_ARG, "tg_png_write: slice too large for PNG");
    if (opt->colormap != TG_PNG_GREY && opt->colormap != TG_PNG_LABELS && opt->colormap != TG_PNG_VIRIDIS)
        return tg_fail(ctx, TG_ERR_ARG, "tg_png_write: unknown colour map %d", (int)opt->colormap);
    if (opt->has_range && !(isfinite(opt->lo) && isfinite(opt->hi) && opt->lo <= opt->hi))
        return tg_fail(ctx, TG_ERR_ARG, "tg_png_write: range must be finite with lo <= hi, got %g..%g",
                       opt->lo, opt->hi);
    return TG_OK;
}

tg_status tg_png_write(tg_ctx *ctx, const char *path, const tg_volume *slice2d, const tg_png_opts *opt)
{
    static const tg_png_opts defaults = TG_PNG_OPTS_INIT;
    if (!opt) opt = &defaults;
    tg_status st = check_args(ctx, path, slice2d, opt);
    if (st != TG_OK) return st;

    size_t tmpsize = TG_PUBLISH_TMP_SIZE(path);
    char *tmp = tg_malloc(tmpsize);
    uint8_t *row = tg_malloc((size_t)slice2d->dims[0] * 3);
    uint8_t table[256 * 3];
    FILE *f = NULL;
    int created = 0; /* tmp exists and is ours to remove on failure */
    if (!tmp || !row) { st = tg_fail(ctx, TG_ERR_NOMEM, "%s: out of memory for the row buffer", path); goto done; }

    double lo = opt->lo, hi = opt->hi;
    if (!opt->has_range) {
        if (slice2d->dtype == TG_U8) { lo = 0; hi = 255; }
        else slice_range(slice2d, &lo, &hi);
    }
    if (opt->colormap == TG_PNG_LABELS) {
        if (opt->palette) memcpy(table, opt->palette, sizeof table);
        else tg_png_default_palette(table);
    } else if (opt->colormap == TG_PNG_VIRIDIS) tg_png_viridis(table);

    f = open_temp(ctx, path, tmp, tmpsize);
    if (!f) { st = TG_ERR_IO; goto done; }
    created = 1;
    png_job job = {ctx, path, 0};
    if (encode(&job, f, slice2d, opt, lo, hi, table, row) != 0) { st = job.failed ? TG_ERR_IO : TG_ERR_NOMEM; goto done; }
    if (fflush(f) != 0 || ferror(f)) { st = tg_fail(ctx, TG_ERR_IO, "%s: write failed: %s", path, strerror(errno)); goto done; }
    if ((st = tg_publish(ctx, fileno(f), tmp, path))) goto done; /* fsync, rename */
    created = 0; /* renamed: nothing to remove */
    int rc = fclose(f);
    f = NULL;
    if (rc != 0) { st = tg_fail(ctx, TG_ERR_IO, "%s: write failed: %s", path, strerror(errno)); goto done; }

done:
    if (f) fclose(f);
    if (created) unlink(tmp);
    tg_free(tmp);
    tg_free(row);
    return st;
}
