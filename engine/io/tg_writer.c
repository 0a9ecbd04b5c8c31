/* tg_writer.c — a TIFF stack written slab by slab into a temporary and published atomically. The manual is at the
 * top of tg_writer.h; the IFD layout and the ImageJ description are tg_tiff_write.c's and tg_tiff_calibration.c's
 * (shared through tg_tiff_internal.h), so both writers produce the same tags.
 */
#define _GNU_SOURCE
#include "io/tg_writer.h"

#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "io/tg_tiff_internal.h"

#define RAW_DATA0 16 /* the uncompressed pixel data start here: room for a classic or a BigTIFF header */
#define CLASSIC_MAX 4294967295.0

struct tg_writer {
    char *path, *tmp;
    int fd;                 /* the temporary (raw: ours; compressed: libtiff's once f.tif is open), -1 when closed */
    tg_tiff__file f;        /* compressed: the libtiff handle */
    tg_writer_opts o;       /* dims, dtype, spacing resolved once known */
    int known;              /* the page format is fixed */
    int big;                /* compressed: chosen at open; raw: at close */
    int64_t pages;
    uint64_t page_bytes;
    int range;              /* the display range of i32/f32/f64 data has a value */
    double lo, hi;
    unsigned char *buf;     /* row (raw views) or strip (compressed) buffer */
    size_t buf_cap;
    tg_status dead;         /* != TG_OK: a write failed and the temporary is gone */
};

int64_t tg_writer_pages(const tg_writer *w) { return w->pages; }

int64_t tg_writer_buffer(const tg_writer *w, int64_t nx, int contiguous)
{
    int64_t row = nx * (int64_t)(w->o.dtype >= 0 ? tg_dtype_size((tg_dtype)w->o.dtype) : 8);
    if (w->o.compress != TG_TIFF_RAW) return row > ((int64_t)256 << 10) ? row : (int64_t)256 << 10;
    if (contiguous) return 0;
    return row > ((int64_t)4 << 20) ? row : (int64_t)4 << 20;
}
const char *tg_writer_path(const tg_writer *w) { return w->path; }

int tg_writer_dtype(const tg_writer *w) { return w->o.dtype; }

int tg_writer_format(const tg_writer *w, int64_t dims[2], tg_dtype *dtype)
{
    if (!w->known) return 0;
    dims[0] = w->o.dims[0];
    dims[1] = w->o.dims[1];
    *dtype = (tg_dtype)w->o.dtype;
    return 1;
}

/* Close the temporary's descriptor or libtiff handle (without publishing). */
static void close_temp(tg_writer *w)
{
    if (w->f.tif) w->fd = -1; /* libtiff owns it */
    tg_tiff__close(&w->f);
    if (w->fd >= 0) close(w->fd);
    w->fd = -1;
}

static void free_writer(tg_writer *w)
{
    tg_free(w->buf);
    tg_free(w->path);
    tg_free(w->tmp);
    tg_free(w);
}

void tg_writer_abort(tg_writer *w)
{
    if (!w) return;
    close_temp(w);
    if (w->dead == TG_OK) unlink(w->tmp); /* a dead writer's temporary is already gone */
    free_writer(w);
}

/* A failure: remove the temporary now, keep the status for later calls. */
static tg_status die(tg_writer *w, tg_status st)
{
    if (w->dead == TG_OK) {
        close_temp(w);
        unlink(w->tmp);
        w->dead = st;
    }
    return st;
}

/* Would a classic TIFF of this many pixel bytes (plus IFDs and a margin) pass 4 GiB? */
static int too_big_for_classic(double bytes, int64_t pages) { return bytes * 1.02 + (double)pages * 512 + (1 << 20) > CLASSIC_MAX; }

static tg_status open_libtiff(tg_ctx *ctx, tg_writer *w)
{
    tg_status st = tg_tiff__options(ctx, &w->f, 0);
    if (st) return st;
    w->f.tif = TIFFFdOpenExt(w->fd, w->tmp, w->big ? "w8" : "w", w->f.oo);
    if (!w->f.tif)
        return tg_fail(ctx, TG_ERR_IO, "%s: cannot create TIFF (%s)", w->path, w->f.err[0] ? w->f.err : "libtiff gave no reason");
    return TG_OK;
}

tg_status tg_writer_open(tg_ctx *ctx, const char *path, const tg_writer_opts *opt, tg_writer **out)
{
    tg_writer_opts def = TG_WRITER_OPTS_INIT;
    tg_status st = TG_OK;
    if (!out) return tg_fail(ctx, TG_ERR_ARG, "tg_writer_open: NULL argument");
    *out = NULL;
    if (!opt) opt = &def;
    if (!path || !*path) return tg_fail(ctx, TG_ERR_ARG, "writer: the path is empty");
    if (opt->dims[0] < 0 || opt->dims[1] < 0 || opt->dims[2] < 0 || opt->dims[0] > UINT32_MAX || opt->dims[1] > UINT32_MAX ||
        opt->dims[2] > 0x7fffffff || (opt->dims[0] == 0) != (opt->dims[1] == 0))
        return tg_fail(ctx, TG_ERR_ARG, "%s: cannot write pages of %lldx%lld (x%lld) as TIFF", path,
                       (long long)opt->dims[0], (long long)opt->dims[1], (long long)opt->dims[2]);
    if (opt->dtype >= TG_NDTYPES) return tg_fail(ctx, TG_ERR_ARG, "%s: unknown dtype %d", path, opt->dtype);
    if ((unsigned)opt->compress > TG_TIFF_PACKBITS) return tg_fail(ctx, TG_ERR_ARG, "%s: unknown compression %d", path, (int)opt->compress);
    int zero_sp = opt->spacing[0] == 0 && opt->spacing[1] == 0 && opt->spacing[2] == 0;
    for (int a = 0; a < 3 && !zero_sp; a++)
        if (!(opt->spacing[a] > 0) || !isfinite(opt->spacing[a]))
            return tg_fail(ctx, TG_ERR_ARG, "%s: spacing must be three positive numbers (metres)", path);
    tg_writer *w = tg_calloc(1, sizeof *w);
    size_t pl = strlen(path) + 1, tl = pl + 48;
    if (!w || !(w->path = tg_malloc(pl)) || !(w->tmp = tg_malloc(tl))) {
        if (w) free_writer(w);
        return tg_fail(ctx, TG_ERR_NOMEM, "%s: out of memory", path);
    }
    memcpy(w->path, path, pl);
    w->o = *opt;
    w->fd = -1;
    w->known = opt->dims[0] > 0 && opt->dtype >= 0 && !zero_sp;
    if ((w->fd = tg_tiff__temp(path, w->tmp, tl)) < 0) {
        st = tg_fail(ctx, TG_ERR_IO, "%s: cannot create: %s", path, strerror(errno));
        free_writer(w);
        return st;
    }
    if (opt->compress == TG_TIFF_RAW) {
        static const unsigned char zero[RAW_DATA0];
        if (tg_tiff__write_all(w->fd, zero, sizeof zero)) st = tg_fail(ctx, TG_ERR_IO, "%s: write failed: %s", path, strerror(errno));
    } else {
        double bytes = opt->dims[0] > 0 && opt->dims[2] > 0 && opt->dtype >= 0
                           ? (double)opt->dims[0] * (double)opt->dims[1] * (double)opt->dims[2] * (double)tg_dtype_size((tg_dtype)opt->dtype)
                           : 0;
        w->big = opt->bigtiff > 0 || (opt->bigtiff < 0 && too_big_for_classic(bytes, opt->dims[2]));
        st = open_libtiff(ctx, w);
    }
    if (st) {
        tg_writer_abort(w);
        return st;
    }
    *out = w;
    return TG_OK;
}

/* Fix the page format from the first slab where the options left it open; check every later slab against it. */
static tg_status check_slab(tg_ctx *ctx, tg_writer *w, const tg_volume *s)
{
    if (!s || !s->buf) return tg_fail(ctx, TG_ERR_ARG, "%s: writer: an empty slab", w->path);
    if (!w->known) {
        if (w->o.dims[0] == 0) { w->o.dims[0] = s->dims[0]; w->o.dims[1] = s->dims[1]; }
        if (w->o.dtype < 0) w->o.dtype = (int)s->dtype;
        if (w->o.spacing[0] == 0) memcpy(w->o.spacing, s->spacing, sizeof w->o.spacing);
        w->known = 1;
    }
    if (s->dims[0] != w->o.dims[0] || s->dims[1] != w->o.dims[1])
        return tg_fail(ctx, TG_ERR_ARG, "%s: page %lld: a slab of %lldx%lld slices, but the pages are %lldx%lld", w->path,
                       (long long)w->pages + 1, (long long)s->dims[0], (long long)s->dims[1], (long long)w->o.dims[0],
                       (long long)w->o.dims[1]);
    if (w->o.dims[2] > 0 && w->pages + s->dims[2] > w->o.dims[2])
        return tg_fail(ctx, TG_ERR_ARG, "%s: %lld pages were announced, a slab of %lld after %lld pages is too many",
                       w->path, (long long)w->o.dims[2], (long long)s->dims[2], (long long)w->pages);
    w->page_bytes = (uint64_t)w->o.dims[0] * (uint64_t)w->o.dims[1] * tg_dtype_size((tg_dtype)w->o.dtype);
    return TG_OK;
}

/* The display range of i32/f32/f64 data, over every slab (min and max are exact, so slab order does not matter). */
static tg_status add_range(tg_ctx *ctx, tg_writer *w, const tg_volume *s)
{
    tg_dtype t = (tg_dtype)w->o.dtype;
    if (t != TG_I32 && t != TG_F32 && t != TG_F64) return TG_OK;
    tg_stats a;
    tg_status st = tg_volume_stats(ctx, s, &a);
    if (st || a.count == 0) return st;
    if (!w->range) { w->lo = a.min; w->hi = a.max; w->range = 1; }
    else { w->lo = a.min < w->lo ? a.min : w->lo; w->hi = a.max > w->hi ? a.max : w->hi; }
    return TG_OK;
}

static tg_status grow_buf(tg_ctx *ctx, tg_writer *w, size_t bytes)
{
    if (w->buf_cap >= bytes) return TG_OK;
    tg_free(w->buf);
    w->buf_cap = 0;
    if (!(w->buf = tg_malloc(bytes))) return tg_fail(ctx, TG_ERR_NOMEM, "%s: out of memory", w->path);
    w->buf_cap = bytes;
    return TG_OK;
}

static tg_status raw_page(tg_ctx *ctx, tg_writer *w, const tg_volume *s, int64_t z)
{
    if (w->o.bigtiff == 0 && RAW_DATA0 + (double)(w->pages + 1) * (double)w->page_bytes + (double)(w->pages + 1) * 256 > CLASSIC_MAX)
        return tg_fail(ctx, TG_ERR_ARG, "%s: page %lld: the stack no longer fits a classic TIFF; allow BigTIFF", w->path,
                       (long long)w->pages + 1);
    errno = 0;
    if (s->strides[0] == 1 && s->strides[1] == s->dims[0]) {
        if (tg_tiff__write_all(w->fd, tg_volume_ptr(s, 0, 0, z), (size_t)w->page_bytes)) goto ioerr;
        return TG_OK;
    }
    size_t row = (size_t)s->dims[0] * tg_dtype_size(s->dtype);
    int64_t chunk = row >= (4u << 20) ? 1 : (int64_t)((4u << 20) / row);
    if (chunk > s->dims[1]) chunk = s->dims[1];
    tg_status st = grow_buf(ctx, w, (size_t)chunk * row);
    if (st) return st;
    for (int64_t y = 0; y < s->dims[1]; y += chunk) {
        int64_t nr = s->dims[1] - y < chunk ? s->dims[1] - y : chunk;
        tg_tiff__gather(s, z, y, nr, w->buf);
        if (tg_tiff__write_all(w->fd, w->buf, (size_t)nr * row)) goto ioerr;
    }
    return TG_OK;
ioerr:
    return tg_fail(ctx, TG_ERR_IO, "%s: page %lld: write failed: %s", w->path, (long long)w->pages + 1,
                   strerror(errno ? errno : EIO));
}

static tg_status libtiff_page(tg_ctx *ctx, tg_writer *w, const tg_volume *s, int64_t z)
{
    TIFF *t = w->f.tif;
    tg_dtype dt = (tg_dtype)w->o.dtype;
    size_t es = tg_dtype_size(dt), row = (size_t)s->dims[0] * es;
    int64_t rps = row >= (256u << 10) ? 1 : (int64_t)((256u << 10) / row);
    if (rps > s->dims[1]) rps = s->dims[1];
    tg_status st = grow_buf(ctx, w, (size_t)rps * row);
    if (st) return st;
    tg_tiff__cal cal;
    tg_tiff__calibration_of(w->o.spacing, &cal);
    tg_tiff_compress comp = w->o.compress;
    uint16_t code = comp == TG_TIFF_DEFLATE ? COMPRESSION_ADOBE_DEFLATE : comp == TG_TIFF_LZW ? COMPRESSION_LZW
                                                                                               : COMPRESSION_PACKBITS;
    TIFFSetField(t, TIFFTAG_SUBFILETYPE, 0);
    TIFFSetField(t, TIFFTAG_IMAGEWIDTH, (uint32_t)s->dims[0]);
    TIFFSetField(t, TIFFTAG_IMAGELENGTH, (uint32_t)s->dims[1]);
    TIFFSetField(t, TIFFTAG_BITSPERSAMPLE, (uint16_t)(es * 8));
    TIFFSetField(t, TIFFTAG_SAMPLESPERPIXEL, (uint16_t)1);
    TIFFSetField(t, TIFFTAG_SAMPLEFORMAT, (uint16_t)tg_tiff__sample_format(dt));
    TIFFSetField(t, TIFFTAG_PHOTOMETRIC, PHOTOMETRIC_MINISBLACK);
    TIFFSetField(t, TIFFTAG_PLANARCONFIG, PLANARCONFIG_CONTIG);
    TIFFSetField(t, TIFFTAG_COMPRESSION, code);
    /* as tg_tiff_write: ImageJ 1.53t undoes the horizontal predictor for LZW but not for Deflate */
    if (comp == TG_TIFF_LZW && (dt == TG_U8 || dt == TG_U16)) TIFFSetField(t, TIFFTAG_PREDICTOR, PREDICTOR_HORIZONTAL);
    TIFFSetField(t, TIFFTAG_ROWSPERSTRIP, (uint32_t)rps);
    if (w->pages == 0) TIFFSetField(t, TIFFTAG_SOFTWARE, "tortuga " TG_VERSION); /* the description comes at close */
    if (cal.calibrated) {
        TIFFSetField(t, TIFFTAG_XRESOLUTION, cal.xres);
        TIFFSetField(t, TIFFTAG_YRESOLUTION, cal.yres);
        TIFFSetField(t, TIFFTAG_RESOLUTIONUNIT, RESUNIT_NONE);
    }
    w->f.err[0] = 0;
    errno = 0;
    for (int64_t y = 0; y < s->dims[1]; y += rps) {
        int64_t nr = s->dims[1] - y < rps ? s->dims[1] - y : rps;
        tg_tiff__gather(s, z, y, nr, w->buf); /* a copy: the predictor modifies the buffer in place */
        if (TIFFWriteEncodedStrip(t, (uint32_t)(y / rps), w->buf, (tmsize_t)((size_t)nr * row)) < 0) goto fail;
    }
    if (!TIFFWriteDirectory(t)) goto fail;
    return TG_OK;
fail:;
    int e = errno;
    return tg_fail(ctx, TG_ERR_IO, "%s: page %lld: write failed: %s%s%s%s%s", w->path, (long long)w->pages + 1,
                   e ? strerror(e) : "", e && w->f.err[0] ? " (" : "", w->f.err, e && w->f.err[0] ? ")" : "",
                   !w->big && strstr(w->f.err, "Maximum TIFF file size") ? "; allow BigTIFF" : "");
}

tg_status tg_writer_write(tg_ctx *ctx, tg_writer *w, const tg_volume *slab)
{
    if (!w) return tg_fail(ctx, TG_ERR_ARG, "writer: NULL writer");
    if (w->dead) return tg_fail(ctx, w->dead, "%s: the writer failed earlier; nothing was written", w->path);
    tg_volume conv;
    tg_volume_init(&conv);
    tg_status st = check_slab(ctx, w, slab);
    const tg_volume *s = slab;
    if (st == TG_OK && slab->dtype != (tg_dtype)w->o.dtype) {
        st = tg_volume_astype(ctx, slab, (tg_dtype)w->o.dtype, &conv);
        s = &conv;
    }
    if (st == TG_OK) st = add_range(ctx, w, s);
    for (int64_t z = 0; st == TG_OK && z < s->dims[2]; z++) {
        st = w->o.compress == TG_TIFF_RAW ? raw_page(ctx, w, s, z) : libtiff_page(ctx, w, s, z);
        if (st) break;
        w->pages++;
        if (tg_progress(ctx, (double)(z + 1) / (double)s->dims[2], "write tiff"))
            st = tg_fail(ctx, TG_ERR_CANCELLED, "%s: writing cancelled at page %lld", w->path, (long long)w->pages);
    }
    tg_volume_release(&conv);
    if (st) return die(w, st);
    return TG_OK;
}

/* Uncompressed: the IFDs after the pixel data, then the header. */
static tg_status raw_finish(tg_ctx *ctx, tg_writer *w)
{
    tg_tiff__cal cal;
    char desc[512];
    tg_tiff__ent e[20];
    uint32_t xr[2] = {0, 1}, yr[2] = {0, 1};
    tg_dtype dt = (tg_dtype)w->o.dtype;
    int64_t n = w->pages, nx = w->o.dims[0], ny = w->o.dims[1];
    tg_tiff__calibration_of(w->o.spacing, &cal);
    tg_tiff__description_of(n, dt, &cal, w->range, w->lo, w->hi, desc, sizeof desc);
    if (cal.calibrated) { tg_tiff__rational(cal.xres, xr); tg_tiff__rational(cal.yres, yr); }
    uint64_t data_end = RAW_DATA0 + (uint64_t)n * w->page_bytes, at0 = (data_end + 1) & ~(uint64_t)1;
    int big = w->o.bigtiff > 0;
    for (int pass = 0; pass < 2; pass++) {
        size_t s0 = tg_tiff__ifd_size(e, tg_tiff__page_entries(nx, ny, dt, 0, &cal, desc, xr, yr, 0, 0, big, e), big);
        size_t s1 = tg_tiff__ifd_size(e, tg_tiff__page_entries(nx, ny, dt, 1, &cal, desc, xr, yr, 0, 0, big, e), big);
        double end = (double)at0 + (double)s0 + (double)(n - 1) * (double)s1;
        if (!big && end > CLASSIC_MAX) {
            if (w->o.bigtiff == 0)
                return tg_fail(ctx, TG_ERR_ARG, "%s: %.0f bytes do not fit a classic TIFF; allow BigTIFF", w->path, end);
            big = 1;
            continue;
        }
        errno = 0;
        if (at0 > data_end && tg_tiff__write_all(w->fd, "", 1)) goto ioerr;
        tg_status st = grow_buf(ctx, w, (s0 > s1 ? s0 : s1) + 16);
        if (st) return st;
        for (int64_t z = 0; z < n; z++) {
            uint64_t at = z == 0 ? at0 : at0 + s0 + (uint64_t)(z - 1) * s1, size = z == 0 ? s0 : s1;
            int k = tg_tiff__page_entries(nx, ny, dt, z == 0 ? 0 : 1, &cal, desc, xr, yr, RAW_DATA0 + (uint64_t)z * w->page_bytes,
                                          w->page_bytes, big, e);
            tg_tiff__ifd_build(e, k, big, at, z + 1 < n ? at + size : 0, w->buf);
            if (tg_tiff__write_all(w->fd, w->buf, size)) goto ioerr;
        }
        unsigned char h[RAW_DATA0];
        uint16_t one = 1, magic = big ? 43 : 42;
        memset(h, 0, sizeof h);
        memcpy(h, *(unsigned char *)&one == 1 ? "II" : "MM", 2); /* the pixel data are in host order */
        memcpy(h + 2, &magic, 2);
        if (big) { uint16_t b8 = 8, z0 = 0; memcpy(h + 4, &b8, 2); memcpy(h + 6, &z0, 2); memcpy(h + 8, &at0, 8); }
        else { uint32_t o = (uint32_t)at0; memcpy(h + 4, &o, 4); }
        if (pwrite(w->fd, h, sizeof h, 0) != (ssize_t)sizeof h) goto ioerr;
        return TG_OK;
    }
    return TG_OK;
ioerr:
    return tg_fail(ctx, TG_ERR_IO, "%s: write failed: %s", w->path, strerror(errno ? errno : EIO));
}

/* Compressed: close libtiff's handle, then add the description to the first directory (rewritten at the end). */
static tg_status libtiff_finish(tg_ctx *ctx, tg_writer *w)
{
    tg_tiff__cal cal;
    char desc[512];
    tg_tiff__calibration_of(w->o.spacing, &cal);
    tg_tiff__description_of(w->pages, (tg_dtype)w->o.dtype, &cal, w->range, w->lo, w->hi, desc, sizeof desc);
    int fd = dup(TIFFFileno(w->f.tif)); /* survives TIFFClose: for the rewrite, then the fsync */
    if (fd < 0) return tg_fail(ctx, TG_ERR_IO, "%s: %s", w->path, strerror(errno));
    w->f.err[0] = 0;
    int ok = TIFFFlush(w->f.tif) && !w->f.err[0];
    tg_tiff__close(&w->f);
    w->fd = fd;
    if (!ok) return tg_fail(ctx, TG_ERR_IO, "%s: write failed (%s)", w->path, w->f.err[0] ? w->f.err : strerror(errno ? errno : EIO));
    int lib = dup(fd); /* libtiff's own, closed by TIFFClose */
    if (lib < 0) return tg_fail(ctx, TG_ERR_IO, "%s: %s", w->path, strerror(errno));
    lseek(lib, 0, SEEK_SET);
    tg_status st = tg_tiff__options(ctx, &w->f, 0);
    if (st) { close(lib); return st; }
    w->f.tif = TIFFFdOpenExt(lib, w->tmp, "r+", w->f.oo);
    if (!w->f.tif) {
        close(lib);
        return tg_fail(ctx, TG_ERR_IO, "%s: cannot reopen to finish (%s)", w->path, w->f.err);
    }
    errno = 0;
    ok = TIFFSetField(w->f.tif, TIFFTAG_IMAGEDESCRIPTION, desc) && TIFFRewriteDirectory(w->f.tif) && TIFFFlush(w->f.tif);
    st = ok && !w->f.err[0] ? TG_OK
                            : tg_fail(ctx, TG_ERR_IO, "%s: write failed (%s)", w->path,
                                      w->f.err[0] ? w->f.err : strerror(errno ? errno : EIO));
    tg_tiff__close(&w->f);
    return st;
}

tg_status tg_writer_close(tg_ctx *ctx, tg_writer *w)
{
    if (!w) return tg_fail(ctx, TG_ERR_ARG, "writer: NULL writer");
    tg_status st = TG_OK;
    if (w->dead) st = tg_fail(ctx, w->dead, "%s: the writer failed earlier; nothing was written", w->path);
    else if (w->pages == 0) st = tg_fail(ctx, TG_ERR_ARG, "%s: no page was written", w->path);
    else if (w->o.dims[2] > 0 && w->pages != w->o.dims[2])
        st = tg_fail(ctx, TG_ERR_ARG, "%s: %lld pages were announced but %lld written", w->path, (long long)w->o.dims[2],
                     (long long)w->pages);
    if (st == TG_OK) st = w->o.compress == TG_TIFF_RAW ? raw_finish(ctx, w) : libtiff_finish(ctx, w);
    if (st == TG_OK && w->fd >= 0 && fsync(w->fd) != 0)
        st = tg_fail(ctx, TG_ERR_IO, "%s: cannot sync to disk: %s", w->path, strerror(errno));
    if (st == TG_OK) {
        int fd = w->fd;
        w->fd = -1;
        if (close(fd) != 0) st = tg_fail(ctx, TG_ERR_IO, "%s: write failed: %s", w->path, strerror(errno));
    }
    if (st == TG_OK) st = tg_tiff__publish(ctx, w->tmp, w->path);
    if (st == TG_OK) {
        tg_progress_done(ctx, "write tiff");
        free_writer(w);
        return TG_OK;
    }
    die(w, st);
    free_writer(w);
    return st;
}
