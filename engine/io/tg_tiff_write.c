/* tg_tiff_write.c — TIFF stacks out. tg_tiff.h has the API; tg_tiff_calibration.c the spacing and description.
 *
 * WRITING: an ImageJ-compatible stack that Fiji opens calibrated (the description and resolution tags of
 * tg_tiff_calibration.c). dtypes: u8, u16, i32 (32-bit signed),
 * f32/f64 (IEEE float). Uncompressed files are written by our own writer in ImageJ's layout (first IFD, pixel data
 * of all pages contiguous, then the other IFDs), because ImageJ reads an uncompressed "images=N" stack as one
 * contiguous block; compressed files go through libtiff (one IFD per page, strips of ~256 KiB, horizontal predictor
 * for u8/u16 with LZW only: ImageJ 1.53t ignores it for Deflate), which ImageJ reads page by page. BigTIFF is chosen when the file would pass ~4 GiB (opt->bigtiff).
 * The file is written to a temporary name in the same directory and renamed when complete; on failure or cancel
 * the temporary file is removed and an existing file at `path` is left untouched. Views are written correctly.
 *
 * ERRORS name the file (and page, 1-based) and the reason: the folder cannot be written, the disk is full, the
 * volume does not fit a classic TIFF (allow BigTIFF); libtiff's messages are captured per call, nothing is printed.
 * COST: uncompressed, one write() per page for contiguous volumes; compressed, bound by the codec.
 * MEMORY: one ~4 MiB row buffer (views, uncompressed) or one ~256 KiB strip buffer (compressed); nothing per voxel.
 * THREADING: single-threaded (bound by the file system and the codec). Progress per page; cancel checked per page.
 */
#define _GNU_SOURCE
#include "io/tg_tiff_internal.h"
#include "io/tg_publish.h"

#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

/* ------------------------------------------------------------------------------------------------------------
 * Writing
 * ------------------------------------------------------------------------------------------------------------ */

/* Rows y0..y0+rows of slice z, packed into dst (handles views of any strides). */
void tg_tiff__gather(const tg_volume *v, int64_t z, int64_t y0, int64_t rows, unsigned char *dst)
{
    size_t es = tg_dtype_size(v->dtype);
    int64_t nx = v->dims[0];
    for (int64_t r = 0; r < rows; r++, dst += (size_t)nx * es) {
        const unsigned char *src = tg_volume_ptr(v, 0, y0 + r, z);
        if (v->strides[0] == 1) memcpy(dst, src, (size_t)nx * es);
        else
            for (int64_t x = 0; x < nx; x++) memcpy(dst + (size_t)x * es, src + (size_t)(x * v->strides[0]) * es, es);
    }
}

int tg_tiff__write_all(int fd, const void *p, size_t n)
{
    const unsigned char *b = p;
    while (n > 0) {
        ssize_t k = write(fd, b, n > (1u << 30) ? (1u << 30) : n);
        if (k < 0 && errno == EINTR) continue;
        if (k <= 0) return -1;
        b += k;
        n -= (size_t)k;
    }
    return 0;
}

enum { T_ASCII = 2, T_SHORT = 3, T_LONG = 4, T_RATIONAL = 5, T_LONG8 = 16 };

size_t tg_tiff__ifd_size(const tg_tiff__ent *e, int n, int big)
{
    size_t inl = big ? 8 : 4, s = (big ? 8 : 2) + (size_t)n * (big ? 20 : 12) + (big ? 8 : 4);
    for (int i = 0; i < n; i++)
        if (e[i].ext && e[i].ext_len > inl) s += (e[i].ext_len + 1) & ~(size_t)1;
    return s;
}

/* Lay out an IFD written at file offset `at` into out (tt_ifd_size bytes), chaining to `next`. */
void tg_tiff__ifd_build(const tg_tiff__ent *e, int n, int big, uint64_t at, uint64_t next, unsigned char *out)
{
    size_t inl = big ? 8 : 4, es = big ? 20 : 12, k = 0;
    size_t ext = (big ? 8 : 2) + (size_t)n * es + (big ? 8 : 4);
    memset(out, 0, tg_tiff__ifd_size(e, n, big));
    if (big) { uint64_t c = (uint64_t)n; memcpy(out, &c, 8); k = 8; }
    else { uint16_t c = (uint16_t)n; memcpy(out, &c, 2); k = 2; }
    for (int i = 0; i < n; i++, k += es) {
        unsigned char *p = out + k;
        memcpy(p, &e[i].tag, 2);
        memcpy(p + 2, &e[i].type, 2);
        if (big) memcpy(p + 4, &e[i].count, 8);
        else { uint32_t c = (uint32_t)e[i].count; memcpy(p + 4, &c, 4); }
        unsigned char *val = p + (big ? 12 : 8);
        if (e[i].ext && e[i].ext_len <= inl) memcpy(val, e[i].ext, e[i].ext_len);
        else if (e[i].ext) {
            memcpy(out + ext, e[i].ext, e[i].ext_len);
            uint64_t off = at + ext;
            if (big) memcpy(val, &off, 8);
            else { uint32_t o = (uint32_t)off; memcpy(val, &o, 4); }
            ext += (e[i].ext_len + 1) & ~(size_t)1;
        } else if (e[i].type == T_SHORT) { uint16_t s = (uint16_t)e[i].val; memcpy(val, &s, 2); }
        else if (e[i].type == T_LONG) { uint32_t l = (uint32_t)e[i].val; memcpy(val, &l, 4); }
        else memcpy(val, &e[i].val, 8);
    }
    if (big) memcpy(out + k, &next, 8);
    else { uint32_t nx = (uint32_t)next; memcpy(out + k, &nx, 4); }
}

/* Rational closest to x with the largest denominator that keeps the numerator in 32 bits. */
void tg_tiff__rational(double x, uint32_t r[2])
{
    double den = x > 1 ? floor(4294967295.0 / x) : 4294967295.0;
    if (den > 1e9) den = 1e9; /* keeps ImageJ-like fractions readable */
    if (den < 1) den = 1;
    double num = round(x * den);
    r[0] = num > 4294967295.0 ? 4294967295u : (uint32_t)num;
    r[1] = (uint32_t)den;
}

int tg_tiff__sample_format(tg_dtype t)
{
    return t == TG_F32 || t == TG_F64 ? SAMPLEFORMAT_IEEEFP : t == TG_I32 ? SAMPLEFORMAT_INT : SAMPLEFORMAT_UINT;
}

int tg_tiff__page_entries(int64_t nx, int64_t ny, tg_dtype dtype, int z, const tg_tiff__cal *c, const char *desc,
                          const uint32_t xr[2], const uint32_t yr[2], uint64_t strip_off, uint64_t strip_bytes, int big,
                          tg_tiff__ent *e)
{
    int n = 0, bits = (int)tg_dtype_size(dtype) * 8;
    uint16_t lt = big ? T_LONG8 : T_LONG;
    e[n++] = (tg_tiff__ent){254, T_LONG, 1, 0, NULL, 0};
    e[n++] = (tg_tiff__ent){256, T_LONG, 1, (uint64_t)nx, NULL, 0};
    e[n++] = (tg_tiff__ent){257, T_LONG, 1, (uint64_t)ny, NULL, 0};
    e[n++] = (tg_tiff__ent){258, T_SHORT, 1, (uint64_t)bits, NULL, 0};
    e[n++] = (tg_tiff__ent){259, T_SHORT, 1, COMPRESSION_NONE, NULL, 0};
    e[n++] = (tg_tiff__ent){262, T_SHORT, 1, PHOTOMETRIC_MINISBLACK, NULL, 0};
    if (z == 0) e[n++] = (tg_tiff__ent){270, T_ASCII, strlen(desc) + 1, 0, desc, strlen(desc) + 1};
    e[n++] = (tg_tiff__ent){273, lt, 1, strip_off, NULL, 0};
    e[n++] = (tg_tiff__ent){277, T_SHORT, 1, 1, NULL, 0};
    e[n++] = (tg_tiff__ent){278, T_LONG, 1, (uint64_t)ny, NULL, 0};
    e[n++] = (tg_tiff__ent){279, lt, 1, strip_bytes, NULL, 0};
    if (c->calibrated) {
        e[n++] = (tg_tiff__ent){282, T_RATIONAL, 1, 0, xr, 8};
        e[n++] = (tg_tiff__ent){283, T_RATIONAL, 1, 0, yr, 8};
        e[n++] = (tg_tiff__ent){296, T_SHORT, 1, RESUNIT_NONE, NULL, 0};
    }
    if (z == 0) e[n++] = (tg_tiff__ent){305, T_ASCII, sizeof("tortuga " TG_VERSION), 0, "tortuga " TG_VERSION,
                                  sizeof("tortuga " TG_VERSION)};
    e[n++] = (tg_tiff__ent){339, T_SHORT, 1, (uint64_t)tg_tiff__sample_format(dtype), NULL, 0};
    return n;
}

/* Uncompressed, ImageJ layout: header, IFD 0, all pixel data contiguous, IFDs 1..n-1. */
static tg_status tt_write_raw(tg_ctx *ctx, int fd, const char *path, const tg_volume *v, const tg_tiff__cal *c,
                              const char *desc, int big)
{
    tg_status st = TG_OK;
    tg_tiff__ent e[20];
    uint32_t xr[2] = {0, 1}, yr[2] = {0, 1};
    unsigned char *ifd = NULL, *rows = NULL;
    int64_t nz = v->dims[2];
    uint64_t page_bytes = (uint64_t)v->dims[0] * v->dims[1] * tg_dtype_size(v->dtype);
    uint64_t hdr = big ? 16 : 8;
    if (c->calibrated) { tg_tiff__rational(c->xres, xr); tg_tiff__rational(c->yres, yr); }
    int n0 = tg_tiff__page_entries(v->dims[0], v->dims[1], v->dtype, 0, c, desc, xr, yr, 0, page_bytes, big, e);
    size_t s0 = tg_tiff__ifd_size(e, n0, big);
    uint64_t data0 = (hdr + s0 + 15) & ~(uint64_t)15;
    uint64_t trail = (data0 + page_bytes * nz + 1) & ~(uint64_t)1;
    int n1 = tg_tiff__page_entries(v->dims[0], v->dims[1], v->dtype, 1, c, desc, xr, yr, 0, page_bytes, big, e);
    size_t s1 = tg_tiff__ifd_size(e, n1, big), ifd_cap = (s0 > s1 ? s0 : s1) + 16;
    size_t row_bytes = (size_t)v->dims[0] * tg_dtype_size(v->dtype);
    int64_t chunk_rows = row_bytes >= (4u << 20) ? 1 : (int64_t)((4u << 20) / row_bytes);
    if (chunk_rows > v->dims[1]) chunk_rows = v->dims[1];
    if (!(ifd = tg_calloc(1, ifd_cap + data0))) goto nomem;
    /* header + IFD 0 + padding up to the data */
    unsigned char *h = ifd;
    uint16_t one = 1;
    int little = *(unsigned char *)&one == 1;
    memcpy(h, little ? "II" : "MM", 2);
    uint16_t magic = big ? 43 : 42;
    memcpy(h + 2, &magic, 2);
    if (big) { uint16_t b8 = 8, z0 = 0; memcpy(h + 4, &b8, 2); memcpy(h + 6, &z0, 2); memcpy(h + 8, &hdr, 8); }
    else { uint32_t o = (uint32_t)hdr; memcpy(h + 4, &o, 4); }
    n0 = tg_tiff__page_entries(v->dims[0], v->dims[1], v->dtype, 0, c, desc, xr, yr, data0, page_bytes, big, e);
    tg_tiff__ifd_build(e, n0, big, hdr, nz > 1 ? trail : 0, h + hdr);
    if (tg_tiff__write_all(fd, h, (size_t)data0)) goto ioerr;
    if (!tg_volume_is_contiguous(v) && !(rows = tg_malloc((size_t)chunk_rows * row_bytes))) goto nomem;
    for (int64_t z = 0; z < nz; z++) {
        if (rows) {
            for (int64_t y = 0; y < v->dims[1]; y += chunk_rows) {
                int64_t nr = v->dims[1] - y < chunk_rows ? v->dims[1] - y : chunk_rows;
                tg_tiff__gather(v, z, y, nr, rows);
                if (tg_tiff__write_all(fd, rows, (size_t)nr * row_bytes)) goto ioerr;
            }
        } else if (tg_tiff__write_all(fd, tg_volume_ptr(v, 0, 0, z), (size_t)page_bytes)) goto ioerr;
        if (tg_progress(ctx, (double)(z + 1) / (double)(nz + 1), "write tiff")) {
            st = tg_fail(ctx, TG_ERR_CANCELLED, "%s: writing cancelled", path);
            goto done;
        }
    }
    if (trail > data0 + page_bytes * nz && tg_tiff__write_all(fd, "", 1)) goto ioerr;
    for (int64_t z = 1; z < nz; z++) {
        uint64_t at = trail + (uint64_t)(z - 1) * s1;
        n1 = tg_tiff__page_entries(v->dims[0], v->dims[1], v->dtype, 1, c, desc, xr, yr, data0 + page_bytes * z, page_bytes, big, e);
        tg_tiff__ifd_build(e, n1, big, at, z + 1 < nz ? at + s1 : 0, ifd);
        if (tg_tiff__write_all(fd, ifd, s1)) goto ioerr;
    }
    goto done;
nomem:
    st = tg_fail(ctx, TG_ERR_NOMEM, "%s: out of memory", path);
    goto done;
ioerr:
    st = tg_fail(ctx, TG_ERR_IO, "%s: write failed: %s", path, strerror(errno ? errno : EIO));
done:
    tg_free(ifd);
    tg_free(rows);
    return st;
}

/* libtiff's message alone ("Write error at scanline 0") loses the reason: errno (ENOSPC, EIO, ...) first. */
static tg_status libtiff_failed(tg_ctx *ctx, const char *path, int64_t page, int e, const char *err)
{
    return tg_fail(ctx, TG_ERR_IO, "%s: page %lld: write failed: %s%s%s%s", path, (long long)page, e ? strerror(e) : "",
                   e && err[0] ? " (" : "", err[0] ? err : (e ? "" : strerror(EIO)), e && err[0] ? ")" : "");
}

/* Compressed: libtiff, one IFD per page, strips of about 256 KiB. */
static tg_status tt_write_libtiff(tg_ctx *ctx, int fd, const char *tmp, const char *path, const tg_volume *v,
                                  const tg_tiff__cal *c, const char *desc, int big, tg_tiff_compress comp)
{
    tg_status st = TG_OK;
    tg_tiff__file f;
    unsigned char *strip = NULL;
    memset(&f, 0, sizeof f);
    f.name = path;
    if ((st = tg_tiff__options(ctx, &f, 0))) { close(fd); return st; }
    f.tif = TIFFFdOpenExt(fd, tmp, big ? "w8" : "w", f.oo);
    if (!f.tif) {
        close(fd);
        st = tg_fail(ctx, TG_ERR_IO, "%s: cannot create TIFF (%s)", path, f.err[0] ? f.err : "libtiff gave no reason");
        goto done;
    }
    size_t es = tg_dtype_size(v->dtype), row_bytes = (size_t)v->dims[0] * es;
    int64_t rps = row_bytes >= (256u << 10) ? 1 : (int64_t)((256u << 10) / row_bytes);
    if (rps > v->dims[1]) rps = v->dims[1];
    uint16_t code = comp == TG_TIFF_DEFLATE ? COMPRESSION_ADOBE_DEFLATE : comp == TG_TIFF_LZW ? COMPRESSION_LZW
                                                                                               : COMPRESSION_PACKBITS;
    /* ImageJ 1.53t undoes the horizontal predictor for LZW but not for Deflate (checked with its -batch mode) */
    int predictor = comp == TG_TIFF_LZW && (v->dtype == TG_U8 || v->dtype == TG_U16);
    if (!(strip = tg_malloc((size_t)rps * row_bytes))) { st = tg_fail(ctx, TG_ERR_NOMEM, "%s: out of memory", path); goto done; }
    for (int64_t z = 0; z < v->dims[2]; z++) {
        TIFF *t = f.tif;
        TIFFSetField(t, TIFFTAG_SUBFILETYPE, 0);
        TIFFSetField(t, TIFFTAG_IMAGEWIDTH, (uint32_t)v->dims[0]);
        TIFFSetField(t, TIFFTAG_IMAGELENGTH, (uint32_t)v->dims[1]);
        TIFFSetField(t, TIFFTAG_BITSPERSAMPLE, (uint16_t)(es * 8));
        TIFFSetField(t, TIFFTAG_SAMPLESPERPIXEL, (uint16_t)1);
        TIFFSetField(t, TIFFTAG_SAMPLEFORMAT, (uint16_t)tg_tiff__sample_format(v->dtype));
        TIFFSetField(t, TIFFTAG_PHOTOMETRIC, PHOTOMETRIC_MINISBLACK);
        TIFFSetField(t, TIFFTAG_PLANARCONFIG, PLANARCONFIG_CONTIG);
        TIFFSetField(t, TIFFTAG_COMPRESSION, code);
        if (predictor) TIFFSetField(t, TIFFTAG_PREDICTOR, PREDICTOR_HORIZONTAL);
        TIFFSetField(t, TIFFTAG_ROWSPERSTRIP, (uint32_t)rps);
        if (z == 0) {
            TIFFSetField(t, TIFFTAG_IMAGEDESCRIPTION, desc);
            TIFFSetField(t, TIFFTAG_SOFTWARE, "tortuga " TG_VERSION);
        }
        if (c->calibrated) {
            TIFFSetField(t, TIFFTAG_XRESOLUTION, c->xres);
            TIFFSetField(t, TIFFTAG_YRESOLUTION, c->yres);
            TIFFSetField(t, TIFFTAG_RESOLUTIONUNIT, RESUNIT_NONE);
        }
        for (int64_t y = 0; y < v->dims[1]; y += rps) {
            int64_t nr = v->dims[1] - y < rps ? v->dims[1] - y : rps;
            tg_tiff__gather(v, z, y, nr, strip); /* a copy: libtiff's predictor modifies the buffer in place */
            errno = 0;
            if (TIFFWriteEncodedStrip(t, (uint32_t)(y / rps), strip, (tmsize_t)(nr * (int64_t)row_bytes)) < 0) {
                st = libtiff_failed(ctx, path, z + 1, errno, f.err);
                goto done;
            }
        }
        errno = 0;
        if (!TIFFWriteDirectory(t)) {
            st = libtiff_failed(ctx, path, z + 1, errno, f.err);
            goto done;
        }
        if (tg_progress(ctx, (double)(z + 1) / (double)(v->dims[2] + 1), "write tiff")) {
            st = tg_fail(ctx, TG_ERR_CANCELLED, "%s: writing cancelled", path);
            goto done;
        }
    }
    /* the data on the disk before the rename publishes the name (a late ENOSPC shows here, not after) */
    errno = 0;
    if (!TIFFFlush(f.tif)) { st = libtiff_failed(ctx, path, v->dims[2], errno, f.err); goto done; }
    if (fsync(TIFFFileno(f.tif)) != 0 && errno != EINVAL) {
        st = tg_fail(ctx, TG_ERR_IO, "%s: write failed: %s", path, strerror(errno));
        goto done;
    }
done:
    tg_free(strip);
    tg_tiff__close(&f); /* closes fd */
    return st;
}

int tg_tiff__temp(const char *path, char *tmp, size_t n) { return tg_publish_temp(path, tmp, n); }

tg_status tg_tiff__publish(tg_ctx *ctx, const char *tmp, const char *path) { return tg_publish(ctx, -1, tmp, path); }

tg_status tg_tiff_write(tg_ctx *ctx, const char *path, const tg_volume *v, const tg_tiff_write_opts *opt)
{
    tg_tiff_write_opts def = TG_TIFF_WRITE_OPTS_INIT;
    tg_status st = TG_OK;
    char desc[512], *tmp = NULL;
    tg_tiff__cal cal;
    int fd = -1;
    if (!opt) opt = &def;
    if (!path || !v || !v->buf) return tg_fail(ctx, TG_ERR_ARG, "tg_tiff_write: no path or an empty volume");
    if (v->dims[0] < 1 || v->dims[1] < 1 || v->dims[2] < 1 || v->dims[0] > UINT32_MAX || v->dims[1] > UINT32_MAX ||
        v->dims[2] > 0x7fffffff)
        return tg_fail(ctx, TG_ERR_ARG, "%s: cannot write %lldx%lldx%lld as TIFF", path, (long long)v->dims[0],
                       (long long)v->dims[1], (long long)v->dims[2]);
    if ((unsigned)opt->compress > TG_TIFF_PACKBITS)
        return tg_fail(ctx, TG_ERR_ARG, "%s: unknown compression %d", path, (int)opt->compress);
    double bytes = (double)tg_volume_count(v) * (double)tg_dtype_size(v->dtype);
    /* classic TIFF offsets are 32-bit; keep a margin for IFDs and compression that does not pay */
    int big = opt->bigtiff < 0 ? bytes * 1.02 + (double)v->dims[2] * 512 + (1 << 20) > 4294967295.0 : opt->bigtiff;
    if (!big && bytes + (double)v->dims[2] * 256 > 4294967295.0)
        return tg_fail(ctx, TG_ERR_ARG, "%s: %.0f bytes do not fit a classic TIFF; allow BigTIFF", path, bytes);
    tg_tiff__write_calibration(v, &cal);
    if ((st = tg_tiff__description(ctx, v, &cal, desc, sizeof desc))) return st;
    size_t tn = strlen(path) + 48;
    if (!(tmp = tg_malloc(tn))) return tg_fail(ctx, TG_ERR_NOMEM, "%s: out of memory", path);
    if ((fd = tg_tiff__temp(path, tmp, tn)) < 0) {
        st = tg_fail(ctx, TG_ERR_IO, "%s: cannot create: %s", path, strerror(errno));
        tg_free(tmp);
        return st;
    }
    if (opt->compress == TG_TIFF_RAW) {
        errno = 0;
        st = tt_write_raw(ctx, fd, path, v, &cal, desc, big);
        if (st == TG_OK) st = tg_publish(ctx, fd, tmp, path); /* fsync, rename */
        if (close(fd) != 0 && st == TG_OK) st = tg_fail(ctx, TG_ERR_IO, "%s: write failed: %s", path, strerror(errno));
    } else {
        errno = 0;
        st = tt_write_libtiff(ctx, fd, tmp, path, v, &cal, desc, big, opt->compress); /* fsyncs and closes fd */
        if (st == TG_OK) st = tg_publish(ctx, -1, tmp, path);
    }
    if (st) unlink(tmp);
    else tg_progress_done(ctx, "write tiff");
    tg_free(tmp);
    return st;
}
