/* tg_tiff_read.c — TIFF stacks in: read (files, lists of slices, memory) and inspect. tg_tiff.h has the API;
 * tg_tiff_calibration.c the spacing; tg_tiff_write.c the writer.
 *
 * READING (libtiff decodes: strips and tiles, any codec this libtiff has — none, LZW, Deflate, PackBits, ...;
 * predictors, fill order and byte order are libtiff's business). Page k of the file is slice z = k.
 * Sample type in the file → dtype of the volume (unless opt->dtype asks for another one, converted while reading
 * with tg_volume_astype's rules: round to nearest, saturate, NaN → 0):
 *     8-bit unsigned  → u8          16-bit unsigned → u16
 *     32-bit unsigned → i32, checked: a value above 2^31-1 fails with a message that says to read with dtype f64
 *                       (f64 holds every u32 exactly; i32 keeps labels integers, which is what u32 files hold in practice)
 *     8/16-bit signed → i32 (exact)    32-bit signed → i32
 *     32-bit float    → f32         64-bit float    → f64
 *     anything else (1/2/4/12/24-bit, 64-bit integers, 16-bit floats, complex) → TG_ERR_UNSUPPORTED.
 * Pixels: grey (min-is-black; min-is-white and palette files give their stored values, not inverted, not looked up
 * — as ImageJ does for 8/16-bit), extra samples beyond the first are ignored; RGB (and JPEG-YCbCr, decoded to RGB
 * by libtiff) become grey with the ITU-R BT.601 luma Y = 0.299 R + 0.587 G + 0.114 B, computed in double and stored
 * in the sample type (info->rgb and info->note say so). Chunky and planar (separate) layouts are both handled.
 * All pages must share width, height and pixel type; an error names the first page that differs.
 * ImageJ stacks stored with a single IFD (ImageJ does this past 4 GiB): when the description says images=N, the
 * file has one IFD and page 1 is uncompressed, the N pages are read back to back from the first strip (as ImageJ
 * and tifffile do).
 * TRUNCATED FILES never read as a shorter stack: the pages a file claims (ImageJ's images=N, tifffile's
 * {"shape": [...]}) are compared with the directories it holds, the chain of directories must end cleanly, and the
 * data of the last directory must lie within the file. Otherwise info->dims[2] is the claim, pages_complete the
 * pages that hold, info->truncated says what is missing, and reading all pages (or a range past the complete ones)
 * fails naming the first missing page; a range within the complete pages still reads.
 *
 * ERRORS never crash and name the file (and page, 1-based as people count pages): missing file, directory, not a
 * TIFF, truncated data, unsupported type, pages that differ, z range outside the stack, slices that differ.
 * libtiff's messages are captured into a per-call buffer (TIFFOpenOptionsSetErrorHandlerExtR, libtiff >= 4.5) and
 * end up in ctx->msg; nothing is printed.
 *
 * COST: reading is bound by decoding; grey files whose type matches the output are decoded straight into the volume
 * (no copy).
 * MEMORY: the output volume (bytes per voxel = the dtype's size: 1, 2, 4, 4, 8) plus one strip/tile buffer per
 * plane (three for planar RGB) and a row of doubles per plane when converting.
 * THREADING: single-threaded (libtiff decoding is sequential per file). Progress is reported per page (or slice
 * file), and the cancel flag is checked per page.
 */
#define _GNU_SOURCE
#include "io/tg_tiff_internal.h"

#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

/* ------------------------------------------------------------------------------------------------------------
 * libtiff handles with per-call messages and an optional memory source
 * ------------------------------------------------------------------------------------------------------------ */

static int tt_on_error(TIFF *tif, void *ud, const char *module, const char *fmt, va_list ap)
{
    (void)tif; (void)module;
    tg_tiff__file *f = ud;
    if (f && !f->err[0]) {
        vsnprintf(f->err, sizeof f->err, fmt, ap);
        /* libtiff starts many messages with the file name, which ours already carry */
        size_t n = f->name ? strlen(f->name) : 0;
        if (n && strncmp(f->err, f->name, n) == 0 && f->err[n] == ':' && f->err[n + 1] == ' ')
            memmove(f->err, f->err + n + 2, strlen(f->err + n + 2) + 1);
    }
    return 1; /* handled: libtiff does not call its global (stderr) handler */
}

static int tt_on_warning(TIFF *tif, void *ud, const char *module, const char *fmt, va_list ap)
{
    (void)tif; (void)ud; (void)module; (void)fmt; (void)ap;
    return 1;
}

static tmsize_t tt_mem_read(thandle_t h, void *buf, tmsize_t n)
{
    tg_tiff__file *f = (tg_tiff__file *)h;
    if (n <= 0 || f->pos >= f->size) return 0;
    uint64_t k = f->size - f->pos < (uint64_t)n ? f->size - f->pos : (uint64_t)n;
    memcpy(buf, f->data + f->pos, (size_t)k);
    f->pos += k;
    return (tmsize_t)k;
}
static tmsize_t tt_mem_write(thandle_t h, void *buf, tmsize_t n) { (void)h; (void)buf; (void)n; return 0; }
static toff_t tt_mem_seek(thandle_t h, toff_t off, int whence)
{
    tg_tiff__file *f = (tg_tiff__file *)h;
    uint64_t base = whence == SEEK_CUR ? f->pos : whence == SEEK_END ? f->size : 0;
    f->pos = base + off; /* unsigned wrap-around gives the right result for negative offsets */
    return f->pos;
}
static int tt_mem_close(thandle_t h) { (void)h; return 0; }
static toff_t tt_mem_size(thandle_t h) { return ((tg_tiff__file *)h)->size; }
static int tt_mem_map(thandle_t h, void **base, toff_t *size)
{
    tg_tiff__file *f = (tg_tiff__file *)h;
    *base = (void *)f->data;
    *size = f->size;
    return 1;
}
static void tt_mem_unmap(thandle_t h, void *base, toff_t size) { (void)h; (void)base; (void)size; }

tg_status tg_tiff__options(tg_ctx *ctx, tg_tiff__file *f, int64_t max_alloc)
{
    f->oo = TIFFOpenOptionsAlloc();
    if (!f->oo) return tg_fail(ctx, TG_ERR_NOMEM, "%s: out of memory", f->name);
    TIFFOpenOptionsSetErrorHandlerExtR(f->oo, tt_on_error, f);
    TIFFOpenOptionsSetWarningHandlerExtR(f->oo, tt_on_warning, f);
    /* libtiff's own buffers (strips, tag arrays) get the same limit, but never below 16 MiB */
    if (max_alloc > 0) TIFFOpenOptionsSetMaxSingleMemAlloc(f->oo, (tmsize_t)(max_alloc > (16 << 20) ? max_alloc : (16 << 20)));
    return TG_OK;
}

/* Open a path (data == NULL) or a memory block for reading. */
static tg_status tt_open_read(tg_ctx *ctx, tg_tiff__file *f, const char *path, const void *data, size_t size,
                              int64_t max_alloc)
{
    memset(f, 0, sizeof *f);
    f->name = path ? path : "<memory>";
    f->max_bytes = max_alloc;
    tg_status st = tg_tiff__options(ctx, f, max_alloc);
    if (st) return st;
    if (path) {
        int fd = open(path, O_RDONLY | O_CLOEXEC);
        if (fd < 0) return tg_fail(ctx, TG_ERR_IO, "%s: %s", path, strerror(errno));
        struct stat sb;
        if (fstat(fd, &sb) == 0 && S_ISDIR(sb.st_mode)) {
            close(fd);
            return tg_fail(ctx, TG_ERR_IO, "%s: is a directory, not a TIFF file", path);
        }
        /* "m": no memory mapping; libtiff then read()s uncompressed strips straight into our buffer (faster) */
        f->tif = TIFFFdOpenExt(fd, path, "rm", f->oo);
        if (!f->tif) close(fd); /* TIFFFdOpen does not close on failure */
    } else {
        f->data = data;
        f->size = size;
        f->tif = TIFFClientOpenExt(f->name, "r", (thandle_t)f, tt_mem_read, tt_mem_write, tt_mem_seek,
                                   tt_mem_close, tt_mem_size, tt_mem_map, tt_mem_unmap, f->oo);
    }
    if (!f->tif)
        return tg_fail(ctx, TG_ERR_FORMAT, "%s: not a readable TIFF file (%s)", f->name,
                       f->err[0] ? f->err : "libtiff gave no reason");
    return TG_OK;
}

void tg_tiff__close(tg_tiff__file *f)
{
    if (f->tif) TIFFClose(f->tif);
    if (f->oo) TIFFOpenOptionsFree(f->oo);
    f->tif = NULL;
    f->oo = NULL;
}

/* ------------------------------------------------------------------------------------------------------------
 * Page format
 * ------------------------------------------------------------------------------------------------------------ */

enum { K_U8, K_U16, K_U32, K_I8, K_I16, K_I32, K_F32, K_F64 };
static const int tt_kind_bytes[] = {1, 2, 4, 1, 2, 4, 4, 8};
static const char *const tt_kind_name[] = {"8-bit unsigned", "16-bit unsigned", "32-bit unsigned", "8-bit signed",
                                           "16-bit signed", "32-bit signed", "32-bit float", "64-bit float"};
static const tg_dtype tt_kind_dtype[] = {TG_U8, TG_U16, TG_I32, TG_I32, TG_I32, TG_I32, TG_F32, TG_F64};

typedef struct tt_fmt {
    uint32_t w, h;
    uint16_t bps, sf, spp, photo, planar, compression;
    int kind, rgb, tiled;
    uint32_t tw, th, rps;
} tt_fmt;

static int tt_kind(int sf, int bps)
{
    if (sf == SAMPLEFORMAT_UINT || sf == SAMPLEFORMAT_VOID)
        return bps == 8 ? K_U8 : bps == 16 ? K_U16 : bps == 32 ? K_U32 : -1;
    if (sf == SAMPLEFORMAT_INT) return bps == 8 ? K_I8 : bps == 16 ? K_I16 : bps == 32 ? K_I32 : -1;
    if (sf == SAMPLEFORMAT_IEEEFP) return bps == 32 ? K_F32 : bps == 64 ? K_F64 : -1;
    return -1;
}

static const char *tt_compression_name(int c)
{
    switch (c) {
    case COMPRESSION_NONE: return "none";
    case COMPRESSION_LZW: return "lzw";
    case COMPRESSION_ADOBE_DEFLATE: case COMPRESSION_DEFLATE: return "deflate";
    case COMPRESSION_PACKBITS: return "packbits";
    case COMPRESSION_JPEG: return "jpeg";
    case COMPRESSION_OJPEG: return "ojpeg";
    case COMPRESSION_CCITTRLE: case COMPRESSION_CCITTFAX3: case COMPRESSION_CCITTFAX4: return "ccitt";
    case COMPRESSION_LZMA: return "lzma";
    case COMPRESSION_ZSTD: return "zstd";
    case COMPRESSION_WEBP: return "webp";
    case COMPRESSION_JBIG: return "jbig";
    default: return "other";
    }
}

/* Read and validate the current directory's format. page is 0-based (messages say page+1). */
static tg_status tt_get_fmt(tg_ctx *ctx, tg_tiff__file *f, int64_t page, tt_fmt *p)
{
    TIFF *tif = f->tif;
    memset(p, 0, sizeof *p);
    long long pg = (long long)page + 1;
    uint32_t depth = 1;
    if (!TIFFGetField(tif, TIFFTAG_IMAGEWIDTH, &p->w) || !TIFFGetField(tif, TIFFTAG_IMAGELENGTH, &p->h) ||
        p->w == 0 || p->h == 0)
        return tg_fail(ctx, TG_ERR_FORMAT, "%s: page %lld: no image width or height", f->name, pg);
    TIFFGetFieldDefaulted(tif, TIFFTAG_BITSPERSAMPLE, &p->bps);
    TIFFGetFieldDefaulted(tif, TIFFTAG_SAMPLEFORMAT, &p->sf);
    TIFFGetFieldDefaulted(tif, TIFFTAG_SAMPLESPERPIXEL, &p->spp);
    TIFFGetFieldDefaulted(tif, TIFFTAG_PLANARCONFIG, &p->planar);
    TIFFGetFieldDefaulted(tif, TIFFTAG_COMPRESSION, &p->compression);
    TIFFGetFieldDefaulted(tif, TIFFTAG_IMAGEDEPTH, &depth);
    if (!TIFFGetField(tif, TIFFTAG_PHOTOMETRIC, &p->photo)) p->photo = PHOTOMETRIC_MINISBLACK;
    if (depth > 1)
        return tg_fail(ctx, TG_ERR_UNSUPPORTED, "%s: page %lld: 3-D tiles (ImageDepth %u) are not supported",
                       f->name, pg, (unsigned)depth);
    if (p->sf == SAMPLEFORMAT_COMPLEXINT || p->sf == SAMPLEFORMAT_COMPLEXIEEEFP)
        return tg_fail(ctx, TG_ERR_UNSUPPORTED, "%s: page %lld: complex samples are not supported", f->name, pg);
    p->kind = tt_kind(p->sf, p->bps);
    if (p->kind < 0)
        return tg_fail(ctx, TG_ERR_UNSUPPORTED,
                       "%s: page %lld: %u-bit %s samples are not supported (8/16/32-bit integers, 32/64-bit floats)",
                       f->name, pg, (unsigned)p->bps,
                       p->sf == SAMPLEFORMAT_IEEEFP ? "float" : p->sf == SAMPLEFORMAT_INT ? "signed" : "unsigned");
    if (p->spp < 1)
        return tg_fail(ctx, TG_ERR_FORMAT, "%s: page %lld: %u samples per pixel", f->name, pg, (unsigned)p->spp);
    if (!TIFFIsCODECConfigured(p->compression))
        return tg_fail(ctx, TG_ERR_UNSUPPORTED, "%s: page %lld: compression %u (%s) is not available in this libtiff",
                       f->name, pg, (unsigned)p->compression, tt_compression_name(p->compression));
    switch (p->photo) {
    case PHOTOMETRIC_MINISBLACK: case PHOTOMETRIC_MINISWHITE: case PHOTOMETRIC_PALETTE:
        break;
    case PHOTOMETRIC_RGB:
        if (p->spp < 3)
            return tg_fail(ctx, TG_ERR_FORMAT, "%s: page %lld: RGB with %u samples per pixel", f->name, pg,
                           (unsigned)p->spp);
        p->rgb = 1;
        break;
    case PHOTOMETRIC_YCBCR:
        if (p->compression != COMPRESSION_JPEG || p->kind != K_U8 || p->spp != 3)
            return tg_fail(ctx, TG_ERR_UNSUPPORTED, "%s: page %lld: YCbCr pixels are only supported JPEG-compressed",
                           f->name, pg);
        TIFFSetField(tif, TIFFTAG_JPEGCOLORMODE, JPEGCOLORMODE_RGB); /* libtiff converts to RGB */
        p->rgb = 1;
        break;
    default:
        return tg_fail(ctx, TG_ERR_UNSUPPORTED, "%s: page %lld: photometric interpretation %u is not supported "
                       "(grey, palette or RGB only)", f->name, pg, (unsigned)p->photo);
    }
    p->tiled = TIFFIsTiled(tif);
    if (p->tiled) {
        if (!TIFFGetField(tif, TIFFTAG_TILEWIDTH, &p->tw) || !TIFFGetField(tif, TIFFTAG_TILELENGTH, &p->th) ||
            p->tw == 0 || p->th == 0)
            return tg_fail(ctx, TG_ERR_FORMAT, "%s: page %lld: tiled without tile size", f->name, pg);
    } else {
        TIFFGetFieldDefaulted(tif, TIFFTAG_ROWSPERSTRIP, &p->rps);
        if (p->rps == 0 || p->rps > p->h) p->rps = p->h;
    }
    return TG_OK;
}

/* ------------------------------------------------------------------------------------------------------------
 * Info: the first page's format, the calibration, ImageJ's single-IFD stacks
 * ------------------------------------------------------------------------------------------------------------ */

/* Size of the file (or memory block) in bytes; 0 if unknown. */
static uint64_t tt_file_size(tg_tiff__file *f)
{
    struct stat sb;
    if (f->data) return f->size;
    return fstat(TIFFFileno(f->tif), &sb) == 0 ? (uint64_t)sb.st_size : 0;
}

/* ImageJ writes stacks past 4 GiB (and NIH Image wrote any stack) with one IFD: the description says images=N and
 * the N uncompressed pages follow each other from the first strip. Read them as ImageJ and tifffile do; a file
 * that ends before page N is truncated (o->truncated says where), its complete pages still read by range.
 * tortuga's own uncompressed files (first IFD, all pixel data, then the other IFDs) cut short land here too. */
static void tt_imagej_single_ifd(tg_tiff__file *f, const tt_fmt *p, tg_tiff_info_t *o)
{
    char *desc = NULL, v[32];
    uint64_t *offs = NULL, size;
    f->ij_pages = 0;
    if (!o->imagej || o->dims[2] != 1 || p->compression != COMPRESSION_NONE || p->tiled || p->rgb || p->spp != 1)
        return;
    if (!TIFFGetField(f->tif, TIFFTAG_IMAGEDESCRIPTION, &desc) || !desc || !tg_tiff__ij_value(desc, "images", v, sizeof v))
        return;
    long long images = strtoll(v, NULL, 10);
    uint64_t page = (uint64_t)p->w * p->h * tt_kind_bytes[p->kind];
    uint32_t nstrips = TIFFNumberOfStrips(f->tif);
    if (images < 2 || !TIFFGetField(f->tif, TIFFTAG_STRIPOFFSETS, &offs) || !offs || nstrips < 1) return;
    for (uint32_t i = 1; i < nstrips; i++) /* strips of page 1 must be contiguous too */
        if (offs[i] != offs[0] + (uint64_t)i * p->rps * p->w * tt_kind_bytes[p->kind]) return;
    if ((size = tt_file_size(f)) == 0 || offs[0] >= size || page == 0) return;
    uint64_t fit = (size - offs[0]) / page; /* the pages that are complete */
    int64_t n = (uint64_t)images < fit ? images : (int64_t)fit;
    if (n < 1) return;
    f->ij_pages = n;
    f->ij_offset = offs[0];
    o->dims[2] = images;
    o->pages_complete = n;
    if (n < images)
        snprintf(o->truncated, sizeof o->truncated, "the file is truncated: it holds %lld complete pages of the %lld its "
                 "ImageJ header claims (page %lld has %llu of its %llu bytes)", (long long)n, images, (long long)n + 1,
                 (unsigned long long)(size - offs[0] - (uint64_t)n * page), (unsigned long long)page);
    else tg_tiff__note(o, "ImageJ stack with one IFD (pages contiguous)");
}

/* Pages the first page's description says the file holds: ImageJ's images=N, or tifffile's {"shape": [...]} (the
 * axes before rows and columns; a samples axis dropped). 0 when it says nothing usable. */
static int64_t tt_claimed_pages(tg_tiff__file *f, const tt_fmt *p, int imagej)
{
    char *desc = NULL, v[32];
    if (!TIFFGetField(f->tif, TIFFTAG_IMAGEDESCRIPTION, &desc) || !desc) return 0;
    if (imagej) return tg_tiff__ij_value(desc, "images", v, sizeof v) ? strtoll(v, NULL, 10) : 0;
    const char *s = desc[0] == '{' ? strstr(desc, "\"shape\":") : NULL;
    if (!s || !(s = strchr(s, '['))) return 0;
    long long d[16];
    int n = 0;
    for (s++;;) {
        char *end;
        if (n == 16) return 0;
        d[n] = strtoll(s, &end, 10);
        if (end == s || d[n] < 1) return 0;
        n++;
        for (s = end; *s == ' '; s++) {}
        if (*s == ']') break;
        if (*s++ != ',') return 0;
    }
    if (p->spp > 1 && n >= 3 && d[n - 1] == p->spp && p->planar != PLANARCONFIG_SEPARATE) n--;
    if (n < 2 || d[n - 2] != p->h || d[n - 1] != p->w) return 0;
    n -= 2;
    if (p->spp > 1 && n >= 1 && d[n - 1] == p->spp && p->planar == PLANARCONFIG_SEPARATE) n--;
    long long pages = 1;
    for (int i = 0; i < n; i++) {
        if (d[i] > (1LL << 31) / pages) return 0;
        pages *= d[i];
    }
    return pages;
}

/* Does the data of the current directory lie within the file? (A file cut short keeps the directory of the page
 * whose data it cuts when directories precede their data, as tifffile writes them.) */
static int tt_data_inside(tg_tiff__file *f, uint64_t size)
{
    uint32_t n = TIFFNumberOfStrips(f->tif);
    for (uint32_t i = 0; i < n; i++) {
        uint64_t off = TIFFGetStrileOffset(f->tif, i), bytes = TIFFGetStrileByteCount(f->tif, i);
        if (off >= size || bytes > size - off) return 0;
    }
    return 1;
}

/* Compare the directories the file holds with the pages its header claims and with the chain of directories
 * (chain_err: the error that broke it, "" if none): a truncated file gets o->dims[2] = the pages claimed (at least
 * those it holds), o->pages_complete and o->truncated. Leaves the first directory current, p read again. */
static tg_status tt_check_complete(tg_ctx *ctx, tg_tiff__file *f, tt_fmt *p, tg_tiff_info_t *o, const char *chain_err)
{
    int64_t have = o->dims[2], claim = tt_claimed_pages(f, p, o->imagej), partial = 0;
    const char *who = o->imagej ? "ImageJ header" : "description";
    o->pages_complete = have;
    if (claim <= have && !chain_err[0]) return TG_OK;
    uint64_t size = tt_file_size(f);
    /* a last directory that cannot be read, or whose data the file does not hold, is no complete page */
    int dir_ok = TIFFSetDirectory(f->tif, (tdir_t)(have - 1));
    partial = !dir_ok || (size > 0 && !tt_data_inside(f, size));
    f->err[0] = 0;
    if (!TIFFSetDirectory(f->tif, 0))
        return tg_fail(ctx, TG_ERR_FORMAT, "%s: cannot read the directory of page 1 again (%s)", f->name,
                       f->err[0] ? f->err : "corrupt file");
    tg_status st = tt_get_fmt(ctx, f, 0, p);
    if (st) return st;
    o->pages_complete = have - partial;
    if (claim > have) o->dims[2] = claim;
    char ends[160];
    if (partial) snprintf(ends, sizeof ends, dir_ok ? "the data of page %lld is cut short" : "the directory of page %lld "
                          "is damaged", (long long)have);
    else if (chain_err[0]) snprintf(ends, sizeof ends, "the directory of page %lld cannot be read: %.80s",
                                    (long long)have + 1, chain_err);
    else snprintf(ends, sizeof ends, "its chain of directories ends after page %lld", (long long)have);
    if (claim > have)
        snprintf(o->truncated, sizeof o->truncated, "the file %s %lld complete page%s of the %lld its %s claims (%s)",
                 chain_err[0] || partial ? "is truncated: it holds" : "holds", (long long)o->pages_complete,
                 o->pages_complete == 1 ? "" : "s", (long long)claim, who, ends);
    else snprintf(o->truncated, sizeof o->truncated, "the file is truncated: %s", ends);
    return TG_OK;
}

static tg_status tt_info_open(tg_ctx *ctx, tg_tiff__file *f, tt_fmt *p, tg_tiff_info_t *o)
{
    memset(o, 0, sizeof *o);
    tg_status st = tt_get_fmt(ctx, f, 0, p);
    if (st) return st;
    char chain_err[sizeof f->err];
    f->err[0] = 0; /* an error while counting: the chain of directories breaks (a truncated file) */
    tdir_t pages = TIFFNumberOfDirectories(f->tif);
    snprintf(chain_err, sizeof chain_err, "%s", f->err);
    f->err[0] = 0;
    o->dims[0] = p->w;
    o->dims[1] = p->h;
    o->dims[2] = pages > 0 ? pages : 1;
    o->dtype = tt_kind_dtype[p->kind];
    o->bits = p->bps;
    o->sample_format = p->sf;
    o->samples = p->spp;
    o->photometric = p->photo;
    o->rgb = p->rgb;
    o->compression = p->compression;
    snprintf(o->compression_name, sizeof o->compression_name, "%s", tt_compression_name(p->compression));
    o->bigtiff = TIFFIsBigTIFF(f->tif) ? 1 : 0;
    o->tiled = p->tiled;
    tg_tiff__read_calibration(f->tif, o);
    tt_imagej_single_ifd(f, p, o);
    if (f->ij_pages == 0 && (st = tt_check_complete(ctx, f, p, o, chain_err))) return st;
    if (p->rgb) tg_tiff__note(o, "RGB converted to grey (ITU-R BT.601 luma)");
    else if (p->spp > 1) tg_tiff__note(o, "extra samples ignored (first sample read)");
    if (p->photo == PHOTOMETRIC_PALETTE) tg_tiff__note(o, "palette indices read as values");
    if (p->photo == PHOTOMETRIC_MINISWHITE) tg_tiff__note(o, "min-is-white values read as stored (not inverted)");
    if (p->kind == K_U32) tg_tiff__note(o, "32-bit unsigned read as i32 (fails above 2^31-1; use dtype f64)");
    if (p->kind == K_I8 || p->kind == K_I16) tg_tiff__note(o, "signed samples read as i32");
    return TG_OK;
}

tg_status tg_tiff_info(tg_ctx *ctx, const char *path, tg_tiff_info_t *out)
{
    tg_tiff__file f;
    tt_fmt p;
    if (!path || !out) return tg_fail(ctx, TG_ERR_ARG, "tg_tiff_info: NULL argument");
    tg_status st = tt_open_read(ctx, &f, path, NULL, 0, 0);
    if (st == TG_OK) st = tt_info_open(ctx, &f, &p, out);
    tg_tiff__close(&f);
    return st;
}

tg_status tg_tiff_info_memory(tg_ctx *ctx, const void *data, size_t size, tg_tiff_info_t *out)
{
    tg_tiff__file f;
    tt_fmt p;
    if (!data || !out) return tg_fail(ctx, TG_ERR_ARG, "tg_tiff_info_memory: NULL argument");
    tg_status st = tt_open_read(ctx, &f, NULL, data, size, 0);
    if (st == TG_OK) st = tt_info_open(ctx, &f, &p, out);
    tg_tiff__close(&f);
    return st;
}

/* ------------------------------------------------------------------------------------------------------------
 * Pixel decoding
 * ------------------------------------------------------------------------------------------------------------ */

/* Load n samples spaced `step` samples apart into doubles; returns the largest u32 value seen (else 0). */
static uint32_t tt_load_row(const unsigned char *src, int kind, size_t step, int64_t n, double *dst)
{
    uint32_t umax = 0;
#define TT_LOAD(T)                                                                   \
    for (int64_t i = 0; i < n; i++) {                                                \
        T v_;                                                                        \
        memcpy(&v_, src + (size_t)i * step * sizeof(T), sizeof v_);                  \
        dst[i] = (double)v_;                                                         \
    }
    switch (kind) {
    case K_U8: TT_LOAD(uint8_t); break;
    case K_U16: TT_LOAD(uint16_t); break;
    case K_I8: TT_LOAD(int8_t); break;
    case K_I16: TT_LOAD(int16_t); break;
    case K_I32: TT_LOAD(int32_t); break;
    case K_F32: TT_LOAD(float); break;
    case K_F64: TT_LOAD(double); break;
    case K_U32:
        for (int64_t i = 0; i < n; i++) {
            uint32_t v_;
            memcpy(&v_, src + (size_t)i * step * 4, 4);
            if (v_ > umax) umax = v_;
            dst[i] = (double)v_;
        }
        break;
    }
#undef TT_LOAD
    return umax;
}

static double tt_sat(double x, double lo, double hi)
{
    if (x != x) return 0.0;
    x = round(x);
    return x < lo ? lo : x > hi ? hi : x;
}

static void tt_store_row(const double *src, int64_t n, tg_dtype t, unsigned char *dst)
{
    switch (t) {
    case TG_U8: for (int64_t i = 0; i < n; i++) ((uint8_t *)dst)[i] = (uint8_t)tt_sat(src[i], 0, 255); break;
    case TG_U16: for (int64_t i = 0; i < n; i++) ((uint16_t *)dst)[i] = (uint16_t)tt_sat(src[i], 0, 65535); break;
    case TG_I32:
        for (int64_t i = 0; i < n; i++) ((int32_t *)dst)[i] = (int32_t)tt_sat(src[i], -2147483648.0, 2147483647.0);
        break;
    case TG_F32: for (int64_t i = 0; i < n; i++) ((float *)dst)[i] = (float)src[i]; break;
    case TG_F64: memcpy(dst, src, (size_t)n * sizeof(double)); break;
    default: break;
    }
}

/* Does the file's sample type have the output dtype's bytes exactly (u32 → i32 needs a sign check)? */
static int tt_same_storage(int kind, tg_dtype t)
{
    return (kind == K_U8 && t == TG_U8) || (kind == K_U16 && t == TG_U16) || (kind == K_I32 && t == TG_I32) ||
           (kind == K_U32 && t == TG_I32) || (kind == K_F32 && t == TG_F32) || (kind == K_F64 && t == TG_F64);
}

static tg_status tt_u32_overflow(tg_ctx *ctx, tg_tiff__file *f, long long pg, uint32_t v)
{
    return tg_fail(ctx, TG_ERR_UNSUPPORTED, "%s: page %lld: 32-bit unsigned value %u exceeds the i32 range; "
                   "read with dtype f64", f->name, pg, (unsigned)v);
}

static tg_status tt_chunk_fail(tg_ctx *ctx, tg_tiff__file *f, long long pg, const char *what, uint32_t idx, tmsize_t got,
                               tmsize_t want)
{
    uint64_t off = TIFFGetStrileOffset(f->tif, idx), bytes = TIFFGetStrileByteCount(f->tif, idx), size = tt_file_size(f);
    if (size > 0 && bytes > 0 && (off >= size || bytes > size - off))
        return tg_fail(ctx, TG_ERR_FORMAT, "%s: page %lld is cut short: its %s %u needs bytes %llu-%llu but the file "
                       "ends at byte %llu (truncated file)", f->name, pg, what, (unsigned)idx, (unsigned long long)off,
                       (unsigned long long)(off + bytes), (unsigned long long)size);
    if (f->err[0]) return tg_fail(ctx, TG_ERR_FORMAT, "%s: page %lld: %s %u: %s", f->name, pg, what, (unsigned)idx, f->err);
    return tg_fail(ctx, TG_ERR_FORMAT, "%s: page %lld: %s %u is truncated (%lld of %lld bytes)", f->name, pg, what,
                   (unsigned)idx, (long long)got, (long long)want);
}

/* Grey strips whose samples already have the output's bytes: decode straight into the volume. */
static tg_status tt_page_direct(tg_ctx *ctx, tg_tiff__file *f, const tt_fmt *p, unsigned char *page, int strict, long long pg)
{
    tmsize_t rowbytes = (tmsize_t)p->w * tt_kind_bytes[p->kind];
    for (uint32_t y0 = 0; y0 < p->h; y0 += p->rps) {
        uint32_t rows = p->h - y0 < p->rps ? p->h - y0 : p->rps;
        tmsize_t want = rowbytes * rows;
        uint32_t strip = TIFFComputeStrip(f->tif, y0, 0);
        tmsize_t got = TIFFReadEncodedStrip(f->tif, strip, page + (size_t)y0 * rowbytes, want);
        if (got != want) return tt_chunk_fail(ctx, f, pg, "strip", strip, got, want);
    }
    if (strict && p->kind == K_U32) {
        const int32_t *v = (const int32_t *)page;
        for (size_t i = 0, n = (size_t)p->w * p->h; i < n; i++)
            if (v[i] < 0) return tt_u32_overflow(ctx, f, pg, (uint32_t)v[i]);
    }
    return TG_OK;
}

/* Any layout: decode each strip or tile (one buffer per plane), convert row by row. */
static tg_status tt_page_generic(tg_ctx *ctx, tg_tiff__file *f, const tt_fmt *p, unsigned char *page, tg_dtype dt,
                                 int strict, long long pg)
{
    tg_status st = TG_OK;
    TIFF *tif = f->tif;
    int contig = p->planar != PLANARCONFIG_SEPARATE || p->spp == 1;
    int nplanes = p->rgb ? 3 : 1, nbuf = contig ? 1 : nplanes;
    uint32_t rw = p->tiled ? p->tw : p->w, rh = p->tiled ? p->th : p->rps;
    size_t kb = (size_t)tt_kind_bytes[p->kind], step = contig ? p->spp : 1, osz = tg_dtype_size(dt);
    uint64_t row_bytes = (uint64_t)rw * step * kb;
    tmsize_t bsize = p->tiled ? TIFFTileSize(tif) : TIFFStripSize(tif);
    unsigned char *buf[3] = {NULL, NULL, NULL};
    double *rowd = NULL;
    int fast = !p->rgb && tt_same_storage(p->kind, dt) && step == 1;
    uint32_t rs = rw < p->w ? rw : p->w; /* stride of the double rows: a row never holds more than the image width */
    /* a tile may overhang the image, but not absurdly: that header is corrupt (and would exhaust memory) */
    uint64_t cap = 2 * (uint64_t)p->w * p->h * p->spp * kb + (16u << 20);
    if (bsize <= 0 || row_bytes * rh > (uint64_t)bsize || (uint64_t)bsize > cap) {
        st = tg_fail(ctx, TG_ERR_FORMAT, "%s: page %lld: %s size %lld is inconsistent with the %ux%u image", f->name, pg,
                     p->tiled ? "tile" : "strip", (long long)bsize, (unsigned)p->w, (unsigned)p->h);
        goto done;
    }
    uint64_t need = (uint64_t)bsize * nbuf + (uint64_t)rs * nplanes * sizeof(double);
    if (f->max_bytes > 0 && need > (uint64_t)f->max_bytes) {
        st = tg_fail(ctx, TG_ERR_RANGE, "%s: page %lld: %s buffers of %llu bytes are above the limit of %lld", f->name,
                     pg, p->tiled ? "tile" : "strip", (unsigned long long)need, (long long)f->max_bytes);
        goto done;
    }
    for (int c = 0; c < nbuf; c++)
        if (!(buf[c] = tg_malloc((size_t)bsize))) { st = tg_fail(ctx, TG_ERR_NOMEM, "%s: out of memory", f->name); goto done; }
    if (!(rowd = tg_malloc((size_t)rs * nplanes * sizeof(double)))) {
        st = tg_fail(ctx, TG_ERR_NOMEM, "%s: out of memory", f->name);
        goto done;
    }
    for (uint32_t y0 = 0; y0 < p->h; y0 += rh) {
        uint32_t rows = p->h - y0 < rh ? p->h - y0 : rh;
        for (uint32_t x0 = 0; x0 < p->w; x0 += rw) {
            uint32_t cols = p->w - x0 < rw ? p->w - x0 : rw;
            tmsize_t want = (tmsize_t)(row_bytes * (p->tiled ? rh : rows));
            for (int c = 0; c < nbuf; c++) {
                uint32_t idx = p->tiled ? TIFFComputeTile(tif, x0, y0, 0, (uint16_t)c) : TIFFComputeStrip(tif, y0, (uint16_t)c);
                tmsize_t got = p->tiled ? TIFFReadEncodedTile(tif, idx, buf[c], bsize) : TIFFReadEncodedStrip(tif, idx, buf[c], bsize);
                if (got < want) { st = tt_chunk_fail(ctx, f, pg, p->tiled ? "tile" : "strip", idx, got, want); goto done; }
            }
            for (uint32_t r = 0; r < rows; r++) {
                unsigned char *dst = page + ((size_t)(y0 + r) * p->w + x0) * osz;
                uint32_t umax = 0;
                if (fast) {
                    const unsigned char *src = buf[0] + r * row_bytes;
                    memcpy(dst, src, (size_t)cols * kb);
                    if (p->kind == K_U32) umax = tt_load_row(src, K_U32, 1, cols, rowd);
                } else {
                    for (int c = 0; c < nplanes; c++) {
                        const unsigned char *src = contig ? buf[0] + r * row_bytes + c * kb : buf[c] + r * row_bytes;
                        uint32_t m = tt_load_row(src, p->kind, step, cols, rowd + (size_t)c * rs);
                        if (m > umax) umax = m;
                    }
                    if (p->rgb)
                        for (uint32_t i = 0; i < cols; i++)
                            rowd[i] = 0.299 * rowd[i] + 0.587 * rowd[rs + i] + 0.114 * rowd[2 * (size_t)rs + i];
                    tt_store_row(rowd, cols, dt, dst);
                }
                if (strict && umax > 2147483647u) { st = tt_u32_overflow(ctx, f, pg, umax); goto done; }
            }
        }
    }
done:
    for (int c = 0; c < 3; c++) tg_free(buf[c]);
    tg_free(rowd);
    return st;
}

static tg_status tt_read_page(tg_ctx *ctx, tg_tiff__file *f, const tt_fmt *p, tg_volume *out, int64_t z, int strict,
                              int64_t page_no)
{
    unsigned char *page = (unsigned char *)tg_volume_ptr(out, 0, 0, z);
    int direct = !p->tiled && !p->rgb && (p->spp == 1 || p->planar == PLANARCONFIG_SEPARATE) &&
                 tt_same_storage(p->kind, out->dtype);
    f->err[0] = 0;
    if (direct) return tt_page_direct(ctx, f, p, page, strict, (long long)page_no + 1);
    return tt_page_generic(ctx, f, p, page, out->dtype, strict, (long long)page_no + 1);
}

static int tt_same_fmt(const tt_fmt *a, const tt_fmt *b)
{
    return a->w == b->w && a->h == b->h && a->kind == b->kind && a->rgb == b->rgb;
}

static void tt_fmt_str(const tt_fmt *p, char *s, size_t n)
{
    snprintf(s, n, "%ux%u %s%s", (unsigned)p->w, (unsigned)p->h, tt_kind_name[p->kind], p->rgb ? " RGB" : "");
}

static tg_status tt_alloc_out(tg_ctx *ctx, const char *name, const int64_t dims[3], tg_dtype dt, const double sp[3],
                              int64_t max_bytes, tg_volume *out)
{
    double bytes = (double)dims[0] * (double)dims[1] * (double)dims[2] * (double)tg_dtype_size(dt);
    if (max_bytes > 0 && bytes > (double)max_bytes)
        return tg_fail(ctx, TG_ERR_RANGE, "%s: %lldx%lldx%lld %s needs %.0f bytes, above the limit of %lld", name,
                       (long long)dims[0], (long long)dims[1], (long long)dims[2], tg_dtype_name(dt), bytes,
                       (long long)max_bytes);
    return tg_volume_alloc_uninit(ctx, dims, dt, sp, out); /* every page is written, or the volume released */
}

/* One page of an ImageJ single-IFD stack: raw bytes at ij_offset + z * page, swapped to host order. */
static tg_status tt_read_ij_page(tg_ctx *ctx, tg_tiff__file *f, const tt_fmt *p, tg_volume *out, int64_t z, int64_t zout,
                                 int strict)
{
    size_t kb = (size_t)tt_kind_bytes[p->kind], n = (size_t)p->w * p->h, bytes = n * kb;
    uint64_t off = f->ij_offset + (uint64_t)z * bytes;
    int same = tt_same_storage(p->kind, out->dtype);
    unsigned char *page = (unsigned char *)tg_volume_ptr(out, 0, 0, zout), *buf = page;
    double *rowd = NULL;
    tg_status st = TG_OK;
    if (!same && !(buf = tg_malloc(bytes))) return tg_fail(ctx, TG_ERR_NOMEM, "%s: out of memory", f->name);
    if (f->data) {
        if (off > f->size || bytes > f->size - off) goto short_read;
        memcpy(buf, f->data + off, bytes);
    } else {
        for (size_t done = 0; done < bytes;) {
            ssize_t k = pread(TIFFFileno(f->tif), buf + done, bytes - done, (off_t)(off + done));
            if (k < 0 && errno == EINTR) continue;
            if (k <= 0) goto short_read;
            done += (size_t)k;
        }
    }
    if (TIFFIsByteSwapped(f->tif)) {
        if (kb == 2) TIFFSwabArrayOfShort((uint16_t *)buf, (tmsize_t)n);
        else if (kb == 4) TIFFSwabArrayOfLong((uint32_t *)buf, (tmsize_t)n);
        else if (kb == 8) TIFFSwabArrayOfDouble((double *)buf, (tmsize_t)n);
    }
    if (same) {
        if (strict && p->kind == K_U32)
            for (size_t i = 0; i < n; i++)
                if (((const int32_t *)buf)[i] < 0) { st = tt_u32_overflow(ctx, f, (long long)z + 1, ((const uint32_t *)buf)[i]); break; }
        return st;
    }
    if (!(rowd = tg_malloc((size_t)p->w * sizeof(double)))) {
        st = tg_fail(ctx, TG_ERR_NOMEM, "%s: out of memory", f->name);
        goto done;
    }
    for (uint32_t y = 0; y < p->h; y++) {
        uint32_t m = tt_load_row(buf + (size_t)y * p->w * kb, p->kind, 1, p->w, rowd);
        if (strict && m > 2147483647u) { st = tt_u32_overflow(ctx, f, (long long)z + 1, m); goto done; }
        tt_store_row(rowd, p->w, out->dtype, page + (size_t)y * p->w * tg_dtype_size(out->dtype));
    }
    goto done;
short_read:
    st = tg_fail(ctx, TG_ERR_FORMAT, "%s: page %lld: truncated ImageJ stack data", f->name, (long long)z + 1);
done:
    if (buf != page) tg_free(buf);
    tg_free(rowd);
    return st;
}

/* Pages [z0, z1) of the open file f (page 1 has format p0) into slices zout.. of out (allocated by the caller with
 * the stack's width, height and the output dtype). *cur is the directory libtiff is on (-1: not known): pages read
 * in order follow the IFD chain (TIFFReadDirectory), only a jump seeks (TIFFSetDirectory). Every page must have
 * p0's size and type; an error names the page. Progress is the fraction of these pages read. */
static tg_status tt_read_pages(tg_ctx *ctx, tg_tiff__file *f, const tt_fmt *p0, int64_t z0, int64_t z1, tg_volume *out,
                               int64_t zout, int strict, int64_t *cur)
{
    tg_status st = TG_OK;
    tt_fmt p;
    for (int64_t z = z0; z < z1 && st == TG_OK; z++) {
        if (f->ij_pages > 0) st = tt_read_ij_page(ctx, f, p0, out, z, zout + z - z0, strict);
        else {
            f->err[0] = 0;
            if (z != *cur) {
                int ok = z == *cur + 1 ? TIFFReadDirectory(f->tif) : TIFFSetDirectory(f->tif, (tdir_t)z);
                *cur = ok ? z : -1;
                if (!ok)
                    return tg_fail(ctx, TG_ERR_FORMAT, "%s: page %lld: cannot read its directory (%s)", f->name,
                                   (long long)z + 1, f->err[0] ? f->err : "corrupt file");
                if ((st = tt_get_fmt(ctx, f, z, &p))) return st;
            } else {
                p = *p0; /* page 1, whose format tt_info_open has just read */
            }
            if (!tt_same_fmt(&p, p0)) {
                char a[96], b[96];
                tt_fmt_str(&p, a, sizeof a);
                tt_fmt_str(p0, b, sizeof b);
                return tg_fail(ctx, TG_ERR_FORMAT, "%s: page %lld is %s but page 1 is %s", f->name, (long long)z + 1, a, b);
            }
            st = tt_read_page(ctx, f, &p, out, zout + z - z0, strict, z);
        }
        if (st == TG_OK && tg_progress(ctx, (double)(z - z0 + 1) / (double)(z1 - z0), "read tiff"))
            st = tg_fail(ctx, TG_ERR_CANCELLED, "%s: reading cancelled at page %lld", f->name, (long long)z + 1);
    }
    return st;
}

/* Slice file i (0-based) of a list whose first file has format p0: its first page into slice zout of out. The file
 * is opened and closed here; an error names it and its place in the list. */
static tg_status tt_read_slice_file(tg_ctx *ctx, const char *const *paths, int i, const tt_fmt *p0, int64_t max_bytes,
                                    tg_volume *out, int64_t zout, int strict)
{
    tg_tiff__file f;
    tt_fmt p;
    tg_status st = tt_open_read(ctx, &f, paths[i], NULL, 0, max_bytes);
    if (st == TG_OK) st = tt_get_fmt(ctx, &f, 0, &p);
    if (st == TG_OK && !tt_same_fmt(&p, p0)) {
        char a[96], b[96];
        tt_fmt_str(&p, a, sizeof a);
        tt_fmt_str(p0, b, sizeof b);
        st = tg_fail(ctx, TG_ERR_FORMAT, "%s: slice %d is %s but slice 1 (%s) is %s", paths[i], i + 1, a, paths[0], b);
    }
    if (st == TG_OK) st = tt_read_page(ctx, &f, &p, out, zout, strict, 0);
    tg_tiff__close(&f);
    return st;
}

/* Read pages [z0, z1) of an open file into a new volume. */
static tg_status tt_read_open(tg_ctx *ctx, tg_tiff__file *f, const tg_tiff_read_opts *opt, tg_volume *out)
{
    tg_tiff_info_t info;
    tt_fmt p0;
    tg_status st = tt_info_open(ctx, f, &p0, &info);
    if (st) return st;
    int64_t n = info.dims[2], z0 = 0, z1 = n, cur = 0;
    if (opt->z_first >= 0) {
        z0 = opt->z_first;
        z1 = opt->z_last;
        if (z0 >= n || z1 > n || z1 <= z0)
            return tg_fail(ctx, TG_ERR_RANGE, "%s: pages %lld..%lld are outside the stack of %lld pages", f->name,
                           (long long)z0 + 1, (long long)z1, (long long)n);
    }
    if (info.truncated[0] && (opt->z_first < 0 || z1 > info.pages_complete)) {
        long long k = (long long)info.pages_complete;
        if (k == 0) return tg_fail(ctx, TG_ERR_FORMAT, "%s: page 1 is missing: %s", f->name, info.truncated);
        return tg_fail(ctx, TG_ERR_FORMAT, "%s: page %lld is missing: %s; %s%lld still reads", f->name, k + 1,
                       info.truncated, k > 1 ? "a range within pages 1-" : "page ", k);
    }
    tg_dtype dt = opt->dtype >= 0 && opt->dtype < TG_NDTYPES ? (tg_dtype)opt->dtype : info.dtype;
    int strict = opt->dtype < 0 && p0.kind == K_U32;
    int64_t dims[3] = {info.dims[0], info.dims[1], z1 - z0};
    st = tt_alloc_out(ctx, f->name, dims, dt, info.spacing, opt->max_bytes, out);
    if (st) return st;
    st = tt_read_pages(ctx, f, &p0, z0, z1, out, 0, strict, &cur);
    if (st) tg_volume_release(out);
    else tg_progress_done(ctx, "read tiff");
    return st;
}

tg_status tg_tiff_read(tg_ctx *ctx, const char *path, const tg_tiff_read_opts *opt, tg_volume *out)
{
    tg_tiff_read_opts def = TG_TIFF_READ_OPTS_INIT;
    tg_tiff__file f;
    if (!path || !out) return tg_fail(ctx, TG_ERR_ARG, "tg_tiff_read: NULL argument");
    tg_volume_init(out);
    if (!opt) opt = &def;
    tg_status st = tt_open_read(ctx, &f, path, NULL, 0, opt->max_bytes);
    if (st == TG_OK) st = tt_read_open(ctx, &f, opt, out);
    tg_tiff__close(&f);
    return st;
}

tg_status tg_tiff_read_memory(tg_ctx *ctx, const void *data, size_t size, const tg_tiff_read_opts *opt, tg_volume *out)
{
    tg_tiff_read_opts def = TG_TIFF_READ_OPTS_INIT;
    tg_tiff__file f;
    if (!data || !out) return tg_fail(ctx, TG_ERR_ARG, "tg_tiff_read_memory: NULL argument");
    tg_volume_init(out);
    if (!opt) opt = &def;
    tg_status st = tt_open_read(ctx, &f, NULL, data, size, opt->max_bytes);
    if (st == TG_OK) st = tt_read_open(ctx, &f, opt, out);
    tg_tiff__close(&f);
    return st;
}

tg_status tg_tiff_read_slices(tg_ctx *ctx, const char *const *paths, int n, const tg_tiff_read_opts *opt,
                              tg_volume *out)
{
    tg_tiff_read_opts def = TG_TIFF_READ_OPTS_INIT;
    tg_tiff_info_t info;
    tt_fmt p0;
    tg_tiff__file f;
    tg_status st;
    if (!paths || !out) return tg_fail(ctx, TG_ERR_ARG, "tg_tiff_read_slices: NULL argument");
    tg_volume_init(out);
    if (n < 1) return tg_fail(ctx, TG_ERR_ARG, "tg_tiff_read_slices: no files");
    if (!opt) opt = &def;
    st = tt_open_read(ctx, &f, paths[0], NULL, 0, opt->max_bytes);
    if (st == TG_OK) st = tt_info_open(ctx, &f, &p0, &info);
    tg_tiff__close(&f);
    if (st) return st;
    tg_dtype dt = opt->dtype >= 0 && opt->dtype < TG_NDTYPES ? (tg_dtype)opt->dtype : info.dtype;
    int64_t dims[3] = {info.dims[0], info.dims[1], n};
    if ((st = tt_alloc_out(ctx, paths[0], dims, dt, info.spacing, opt->max_bytes, out))) return st;
    for (int i = 0; i < n && st == TG_OK; i++) {
        st = tt_read_slice_file(ctx, paths, i, &p0, opt->max_bytes, out, i, opt->dtype < 0 && p0.kind == K_U32);
        if (st == TG_OK && tg_progress(ctx, (double)(i + 1) / n, "read tiff slices"))
            st = tg_fail(ctx, TG_ERR_CANCELLED, "%s: reading cancelled", paths[i]);
    }
    if (st) tg_volume_release(out);
    else tg_progress_done(ctx, "read tiff slices");
    return st;
}

/* ------------------------------------------------------------------------------------------------------------
 * A stack open for page-range reads (tg_stack's TIFF backend)
 * ------------------------------------------------------------------------------------------------------------ */

struct tg_tiff_reader {
    int n;              /* files: 1 = a multi-page file (kept open), > 1 = one slice per file */
    char **paths;       /* copies */
    tg_tiff__file f;    /* the open multi-page file */
    tt_fmt p0;          /* format of page 1 (of slice 1) */
    int64_t cur;        /* the directory libtiff is on, -1 unknown */
    int64_t pages;
    tg_dtype dtype;     /* of the volumes a read fills */
    int strict;         /* u32 read as i32: values must fit */
};

void tg_tiff_reader_close(tg_tiff_reader *r)
{
    if (!r) return;
    tg_tiff__close(&r->f);
    for (int i = 0; r->paths && i < r->n; i++) tg_free(r->paths[i]);
    tg_free(r->paths);
    tg_free(r);
}

tg_status tg_tiff_reader_open(tg_ctx *ctx, const char *const *paths, int n, int dtype, tg_tiff_reader **out,
                              tg_tiff_info_t *info)
{
    tg_status st;
    *out = NULL;
    if (!paths || n < 1 || !info) return tg_fail(ctx, TG_ERR_ARG, "tg_tiff_reader_open: no files");
    tg_tiff_reader *r = tg_calloc(1, sizeof *r);
    if (!r || !(r->paths = tg_calloc((size_t)n, sizeof *r->paths))) {
        tg_free(r);
        return tg_fail(ctx, TG_ERR_NOMEM, "%s: out of memory", paths[0]);
    }
    r->n = n;
    for (int i = 0; i < n; i++) {
        size_t len = strlen(paths[i]) + 1;
        if (!(r->paths[i] = tg_malloc(len))) { st = tg_fail(ctx, TG_ERR_NOMEM, "%s: out of memory", paths[i]); goto fail; }
        memcpy(r->paths[i], paths[i], len);
    }
    if ((st = tt_open_read(ctx, &r->f, r->paths[0], NULL, 0, 0))) goto fail;
    if ((st = tt_info_open(ctx, &r->f, &r->p0, info))) goto fail;
    r->cur = 0;
    r->pages = n > 1 ? n : info->dims[2];
    if (n > 1) {
        info->dims[2] = n;
        tg_tiff__close(&r->f); /* slices are opened one at a time */
    }
    r->dtype = dtype >= 0 && dtype < TG_NDTYPES ? (tg_dtype)dtype : info->dtype;
    r->strict = dtype < 0 && r->p0.kind == K_U32;
    *out = r;
    return TG_OK;
fail:
    tg_tiff_reader_close(r);
    return st;
}

tg_status tg_tiff_reader_read(tg_ctx *ctx, tg_tiff_reader *r, int64_t z0, int64_t z1, tg_volume *out, int64_t zout)
{
    if (z0 < 0 || z1 > r->pages || z1 <= z0)
        return tg_fail(ctx, TG_ERR_RANGE, "%s: pages %lld..%lld are outside the stack of %lld pages", r->paths[0],
                       (long long)z0 + 1, (long long)z1, (long long)r->pages);
    if (!out->buf || out->dtype != r->dtype || out->dims[0] != (int64_t)r->p0.w || out->dims[1] != (int64_t)r->p0.h ||
        zout < 0 || zout + (z1 - z0) > out->dims[2] || !tg_volume_is_contiguous(out))
        return tg_fail(ctx, TG_ERR_ARG, "%s: the volume to read into does not hold %ux%u %s pages at %lld..%lld",
                       r->paths[0], (unsigned)r->p0.w, (unsigned)r->p0.h, tg_dtype_name(r->dtype), (long long)zout,
                       (long long)(zout + z1 - z0));
    if (r->n == 1) return tt_read_pages(ctx, &r->f, &r->p0, z0, z1, out, zout, r->strict, &r->cur);
    tg_status st = TG_OK;
    for (int64_t z = z0; z < z1 && st == TG_OK; z++) {
        st = tt_read_slice_file(ctx, (const char *const *)r->paths, (int)z, &r->p0, 0, out, zout + z - z0, r->strict);
        if (st == TG_OK && tg_progress(ctx, (double)(z - z0 + 1) / (double)(z1 - z0), "read tiff slices"))
            st = tg_fail(ctx, TG_ERR_CANCELLED, "%s: reading cancelled", r->paths[z]);
    }
    return st;
}
