/* tg_tiff.c — TIFF stacks: read (files, lists of slices, memory), inspect, write.
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
 * and tifffile do); if the file is shorter, the complete pages are read and info->note says so.
 *
 * CALIBRATION (as ImageJ/Fiji read it, so numbers match Image > Properties): the unit comes from the ImageJ
 * description (`unit=micron`; also µm/um/\u00B5m, nm, mm, cm, m, inch, Å), else from ResolutionUnit (inch, cm);
 * x/y spacing = 1 / X/YResolution (pixels per unit) in that unit; z spacing = the description's `spacing=`, or
 * ImageJ's default of 1 unit when it is absent (info->z_calibrated = 0 then). Everything is converted to metres.
 * No unit ("pixel", none, unknown) → spacing 1, 1, 1 (unitless), info->calibrated = 0.
 *
 * WRITING: an ImageJ-compatible stack that Fiji opens calibrated: description `ImageJ=1.53t images= slices= unit=
 * spacing= loop=false` (+ `min= max=` for i32/f32/f64, ImageJ's display range), X/YResolution in pixels per unit,
 * ResolutionUnit none (ImageJ's convention for units other than inch/cm). The unit is nm when the x spacing is
 * below 100 nm, micron otherwise; spacing 1,1,1 (unknown) writes no calibration. dtypes: u8, u16, i32 (32-bit signed),
 * f32/f64 (IEEE float). Uncompressed files are written by our own writer in ImageJ's layout (first IFD, pixel data
 * of all pages contiguous, then the other IFDs), because ImageJ reads an uncompressed "images=N" stack as one
 * contiguous block; compressed files go through libtiff (one IFD per page, strips of ~256 KiB, horizontal predictor
 * for u8/u16 with LZW only: ImageJ 1.53t ignores it for Deflate), which ImageJ reads page by page. BigTIFF is chosen when the file would pass ~4 GiB (opt->bigtiff).
 * The file is written to a temporary name in the same directory and renamed when complete; on failure or cancel
 * the temporary file is removed and an existing file at `path` is left untouched. Views are written correctly.
 *
 * ERRORS never crash and name the file (and page, 1-based as people count pages): missing file, directory, not a
 * TIFF, truncated data, unsupported type, pages that differ, z range outside the stack, slices that differ.
 * libtiff's messages are captured into a per-call buffer (TIFFOpenOptionsSetErrorHandlerExtR, libtiff >= 4.5) and
 * end up in ctx->msg; nothing is printed.
 *
 * COST: reading is bound by decoding; grey files whose type matches the output are decoded straight into the volume
 * (no copy). Writing uncompressed is one write() per page for contiguous volumes.
 * MEMORY: the output volume (bytes per voxel = the dtype's size: 1, 2, 4, 4, 8) plus one strip/tile buffer per
 * plane (three for planar RGB) and a row of doubles per plane when converting; writing uses one ~4 MiB row buffer
 * (views) or one strip buffer (compressed).
 * THREADING: single-threaded (libtiff decoding is sequential per file). Progress is reported per page (or slice
 * file), and the cancel flag is checked per page.
 */
#define _GNU_SOURCE
#include "io/tg_tiff.h"

#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <tiffio.h>

/* ------------------------------------------------------------------------------------------------------------
 * libtiff handles with per-call messages and an optional memory source
 * ------------------------------------------------------------------------------------------------------------ */

typedef struct tt_file {
    TIFF *tif;
    TIFFOpenOptions *oo;
    const char *name;            /* for messages: the path or "<memory>" */
    const unsigned char *data;   /* memory source */
    uint64_t size, pos;
    int64_t max_bytes;           /* 0 or the caller's cap on any one buffer */
    int64_t ij_pages;            /* > 0: an ImageJ stack stored with one IFD, pages contiguous from ij_offset */
    uint64_t ij_offset;
    char err[400];               /* first libtiff error of this call */
} tt_file;

static int tt_on_error(TIFF *tif, void *ud, const char *module, const char *fmt, va_list ap)
{
    (void)tif; (void)module;
    tt_file *f = ud;
    if (f && !f->err[0]) vsnprintf(f->err, sizeof f->err, fmt, ap);
    return 1; /* handled: libtiff does not call its global (stderr) handler */
}

static int tt_on_warning(TIFF *tif, void *ud, const char *module, const char *fmt, va_list ap)
{
    (void)tif; (void)ud; (void)module; (void)fmt; (void)ap;
    return 1;
}

static tmsize_t tt_mem_read(thandle_t h, void *buf, tmsize_t n)
{
    tt_file *f = (tt_file *)h;
    if (n <= 0 || f->pos >= f->size) return 0;
    uint64_t k = f->size - f->pos < (uint64_t)n ? f->size - f->pos : (uint64_t)n;
    memcpy(buf, f->data + f->pos, (size_t)k);
    f->pos += k;
    return (tmsize_t)k;
}
static tmsize_t tt_mem_write(thandle_t h, void *buf, tmsize_t n) { (void)h; (void)buf; (void)n; return 0; }
static toff_t tt_mem_seek(thandle_t h, toff_t off, int whence)
{
    tt_file *f = (tt_file *)h;
    uint64_t base = whence == SEEK_CUR ? f->pos : whence == SEEK_END ? f->size : 0;
    f->pos = base + off; /* unsigned wrap-around gives the right result for negative offsets */
    return f->pos;
}
static int tt_mem_close(thandle_t h) { (void)h; return 0; }
static toff_t tt_mem_size(thandle_t h) { return ((tt_file *)h)->size; }
static int tt_mem_map(thandle_t h, void **base, toff_t *size)
{
    tt_file *f = (tt_file *)h;
    *base = (void *)f->data;
    *size = f->size;
    return 1;
}
static void tt_mem_unmap(thandle_t h, void *base, toff_t size) { (void)h; (void)base; (void)size; }

static tg_status tt_options(tg_ctx *ctx, tt_file *f, int64_t max_alloc)
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
static tg_status tt_open_read(tg_ctx *ctx, tt_file *f, const char *path, const void *data, size_t size,
                              int64_t max_alloc)
{
    memset(f, 0, sizeof *f);
    f->name = path ? path : "<memory>";
    f->max_bytes = max_alloc;
    tg_status st = tt_options(ctx, f, max_alloc);
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

static void tt_close(tt_file *f)
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
static tg_status tt_get_fmt(tg_ctx *ctx, tt_file *f, int64_t page, tt_fmt *p)
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
 * Calibration
 * ------------------------------------------------------------------------------------------------------------ */

/* Metres per unit; 0 for no unit or an unknown one. */
static double tt_unit_scale(const char *u)
{
    static const struct { const char *name; double m; } units[] = {
        {"micron", 1e-6}, {"microns", 1e-6}, {"um", 1e-6}, {"\xc2\xb5m", 1e-6}, {"\xce\xbcm", 1e-6},
        {"\xb5m", 1e-6}, {"\\u00B5m", 1e-6}, {"\\u00b5m", 1e-6}, {"micrometer", 1e-6}, {"micrometre", 1e-6},
        {"micrometers", 1e-6}, {"micrometres", 1e-6},
        {"nm", 1e-9}, {"nanometer", 1e-9}, {"nanometre", 1e-9}, {"nanometers", 1e-9}, {"nanometres", 1e-9},
        {"mm", 1e-3}, {"millimeter", 1e-3}, {"millimetre", 1e-3}, {"cm", 1e-2}, {"centimeter", 1e-2},
        {"centimetre", 1e-2}, {"m", 1.0}, {"meter", 1.0}, {"metre", 1.0}, {"meters", 1.0}, {"metres", 1.0},
        {"inch", 0.0254}, {"inches", 0.0254}, {"in", 0.0254},
        {"A", 1e-10}, {"\xc3\x85", 1e-10}, {"\xc5", 1e-10}, {"angstrom", 1e-10}, {"\\u00C5", 1e-10},
    };
    for (size_t i = 0; i < sizeof units / sizeof units[0]; i++)
        if (strcmp(u, units[i].name) == 0) return units[i].m;
    return 0.0;
}

/* Value of `key=` on its own line of an ImageJ description, copied into out (NUL-terminated). */
static int tt_ij_value(const char *desc, const char *key, char *out, size_t n)
{
    size_t kl = strlen(key);
    for (const char *line = desc; line && *line; line = strchr(line, '\n'), line = line ? line + 1 : NULL) {
        if (strncmp(line, key, kl) == 0 && line[kl] == '=') {
            const char *v = line + kl + 1;
            size_t len = strcspn(v, "\r\n");
            if (len >= n) len = n - 1;
            memcpy(out, v, len);
            out[len] = 0;
            return 1;
        }
    }
    return 0;
}

static void tt_note(tg_tiff_info_t *o, const char *s)
{
    size_t have = strlen(o->note);
    snprintf(o->note + have, sizeof o->note - have, "%s%s", have ? "; " : "", s);
}

static void tt_calibration(TIFF *tif, tg_tiff_info_t *o)
{
    char *desc = NULL, unit[24] = "", v[64];
    double zsp = 0;
    o->spacing[0] = o->spacing[1] = o->spacing[2] = 1.0;
    if (TIFFGetField(tif, TIFFTAG_IMAGEDESCRIPTION, &desc) && desc && strncmp(desc, "ImageJ=", 7) == 0) {
        o->imagej = 1;
        tt_ij_value(desc, "unit", unit, sizeof unit);
        if (tt_ij_value(desc, "spacing", v, sizeof v)) zsp = strtod(v, NULL);
    }
    uint16_t ru = 0;
    if (!unit[0] && TIFFGetField(tif, TIFFTAG_RESOLUTIONUNIT, &ru)) {
        if (ru == RESUNIT_INCH) strcpy(unit, "inch");
        else if (ru == RESUNIT_CENTIMETER) strcpy(unit, "cm");
    }
    snprintf(o->unit, sizeof o->unit, "%s", unit);
    double scale = tt_unit_scale(unit);
    if (scale <= 0) {
        if (unit[0] && strcmp(unit, "pixel") != 0 && strcmp(unit, "pixels") != 0 && strcmp(unit, " ") != 0)
            tt_note(o, "unknown unit, spacing left at 1");
        return;
    }
    float xr = 0, yr = 0;
    TIFFGetField(tif, TIFFTAG_XRESOLUTION, &xr);
    TIFFGetField(tif, TIFFTAG_YRESOLUTION, &yr);
    o->spacing[0] = (xr > 0 && isfinite(xr)) ? scale / xr : scale;
    o->spacing[1] = (yr > 0 && isfinite(yr)) ? scale / yr : o->spacing[0];
    o->z_calibrated = zsp > 0 && isfinite(zsp);
    /* Without spacing= ImageJ assumes a depth of 1 unit (1 inch for a 72 dpi file): a voxel thousands of times
     * deeper than wide, which silently changes every transport and surface result. Cubic voxels are the safer
     * guess; the note says so, and the user sets the true spacing with v:spacing{...}. */
    o->spacing[2] = o->z_calibrated ? zsp * scale : o->spacing[0];
    if (!o->z_calibrated) tt_note(o, "no slice spacing in the file: z spacing taken equal to the x spacing");
    o->calibrated = 1;
}

/* ImageJ writes stacks past 4 GiB (and NIH Image wrote any stack) with one IFD: the description says images=N and
 * the N uncompressed pages follow each other from the first strip. Read them as ImageJ and tifffile do. */
static void tt_imagej_single_ifd(tt_file *f, const tt_fmt *p, tg_tiff_info_t *o)
{
    char *desc = NULL, v[32];
    uint64_t *offs = NULL, size;
    f->ij_pages = 0;
    if (!o->imagej || o->dims[2] != 1 || p->compression != COMPRESSION_NONE || p->tiled || p->rgb || p->spp != 1)
        return;
    if (!TIFFGetField(f->tif, TIFFTAG_IMAGEDESCRIPTION, &desc) || !desc || !tt_ij_value(desc, "images", v, sizeof v))
        return;
    long long images = strtoll(v, NULL, 10);
    uint64_t page = (uint64_t)p->w * p->h * tt_kind_bytes[p->kind];
    uint32_t nstrips = TIFFNumberOfStrips(f->tif);
    if (images < 2 || !TIFFGetField(f->tif, TIFFTAG_STRIPOFFSETS, &offs) || !offs || nstrips < 1) return;
    for (uint32_t i = 1; i < nstrips; i++) /* strips of page 1 must be contiguous too */
        if (offs[i] != offs[0] + (uint64_t)i * p->rps * p->w * tt_kind_bytes[p->kind]) return;
    if (f->data) size = f->size;
    else {
        struct stat sb;
        if (fstat(TIFFFileno(f->tif), &sb) != 0) return;
        size = (uint64_t)sb.st_size;
    }
    if (offs[0] >= size || page == 0) return;
    uint64_t fit = (size - offs[0]) / page; /* ImageJ also opens the pages that are complete */
    int64_t n = (uint64_t)images < fit ? images : (int64_t)fit;
    if (n < 2) return;
    f->ij_pages = n;
    f->ij_offset = offs[0];
    o->dims[2] = n;
    tt_note(o, n < images ? "ImageJ stack with one IFD, truncated: complete pages read"
                          : "ImageJ stack with one IFD (pages contiguous)");
}

static tg_status tt_info_open(tg_ctx *ctx, tt_file *f, tt_fmt *p, tg_tiff_info_t *o)
{
    memset(o, 0, sizeof *o);
    tg_status st = tt_get_fmt(ctx, f, 0, p);
    if (st) return st;
    tdir_t pages = TIFFNumberOfDirectories(f->tif);
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
    tt_calibration(f->tif, o);
    tt_imagej_single_ifd(f, p, o);
    if (p->rgb) tt_note(o, "RGB converted to grey (ITU-R BT.601 luma)");
    else if (p->spp > 1) tt_note(o, "extra samples ignored (first sample read)");
    if (p->photo == PHOTOMETRIC_PALETTE) tt_note(o, "palette indices read as values");
    if (p->photo == PHOTOMETRIC_MINISWHITE) tt_note(o, "min-is-white values read as stored (not inverted)");
    if (p->kind == K_U32) tt_note(o, "32-bit unsigned read as i32 (fails above 2^31-1; use dtype f64)");
    if (p->kind == K_I8 || p->kind == K_I16) tt_note(o, "signed samples read as i32");
    return TG_OK;
}

tg_status tg_tiff_info(tg_ctx *ctx, const char *path, tg_tiff_info_t *out)
{
    tt_file f;
    tt_fmt p;
    if (!path || !out) return tg_fail(ctx, TG_ERR_ARG, "tg_tiff_info: NULL argument");
    tg_status st = tt_open_read(ctx, &f, path, NULL, 0, 0);
    if (st == TG_OK) st = tt_info_open(ctx, &f, &p, out);
    tt_close(&f);
    return st;
}

tg_status tg_tiff_info_memory(tg_ctx *ctx, const void *data, size_t size, tg_tiff_info_t *out)
{
    tt_file f;
    tt_fmt p;
    if (!data || !out) return tg_fail(ctx, TG_ERR_ARG, "tg_tiff_info_memory: NULL argument");
    tg_status st = tt_open_read(ctx, &f, NULL, data, size, 0);
    if (st == TG_OK) st = tt_info_open(ctx, &f, &p, out);
    tt_close(&f);
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

static tg_status tt_u32_overflow(tg_ctx *ctx, tt_file *f, long long pg, uint32_t v)
{
    return tg_fail(ctx, TG_ERR_UNSUPPORTED, "%s: page %lld: 32-bit unsigned value %u exceeds the i32 range; "
                   "read with dtype f64", f->name, pg, (unsigned)v);
}

static tg_status tt_chunk_fail(tg_ctx *ctx, tt_file *f, long long pg, const char *what, uint32_t idx, tmsize_t got,
                               tmsize_t want)
{
    if (f->err[0]) return tg_fail(ctx, TG_ERR_FORMAT, "%s: page %lld: %s %u: %s", f->name, pg, what, (unsigned)idx, f->err);
    return tg_fail(ctx, TG_ERR_FORMAT, "%s: page %lld: %s %u is truncated (%lld of %lld bytes)", f->name, pg, what,
                   (unsigned)idx, (long long)got, (long long)want);
}

/* Grey strips whose samples already have the output's bytes: decode straight into the volume. */
static tg_status tt_page_direct(tg_ctx *ctx, tt_file *f, const tt_fmt *p, unsigned char *page, int strict, long long pg)
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
static tg_status tt_page_generic(tg_ctx *ctx, tt_file *f, const tt_fmt *p, unsigned char *page, tg_dtype dt,
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

static tg_status tt_read_page(tg_ctx *ctx, tt_file *f, const tt_fmt *p, tg_volume *out, int64_t z, int strict,
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
static tg_status tt_read_ij_page(tg_ctx *ctx, tt_file *f, const tt_fmt *p, tg_volume *out, int64_t z, int64_t zout,
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

/* Read pages [z0, z1) of an open file into a new volume. */
static tg_status tt_read_open(tg_ctx *ctx, tt_file *f, const tg_tiff_read_opts *opt, tg_volume *out)
{
    tg_tiff_info_t info;
    tt_fmt p0, p;
    tg_status st = tt_info_open(ctx, f, &p0, &info);
    if (st) return st;
    int64_t n = info.dims[2], z0 = 0, z1 = n;
    if (opt->z_first >= 0) {
        z0 = opt->z_first;
        z1 = opt->z_last;
        if (z0 >= n || z1 > n || z1 <= z0)
            return tg_fail(ctx, TG_ERR_RANGE, "%s: pages %lld..%lld are outside the stack of %lld pages", f->name,
                           (long long)z0 + 1, (long long)z1, (long long)n);
    }
    tg_dtype dt = opt->dtype >= 0 && opt->dtype < TG_NDTYPES ? (tg_dtype)opt->dtype : info.dtype;
    int strict = opt->dtype < 0 && p0.kind == K_U32;
    int64_t dims[3] = {info.dims[0], info.dims[1], z1 - z0};
    st = tt_alloc_out(ctx, f->name, dims, dt, info.spacing, opt->max_bytes, out);
    if (st) return st;
    for (int64_t z = z0; f->ij_pages > 0 && z < z1 && st == TG_OK; z++) {
        st = tt_read_ij_page(ctx, f, &p0, out, z, z - z0, strict);
        if (st == TG_OK && tg_progress(ctx, (double)(z - z0 + 1) / (double)(z1 - z0), "read tiff"))
            st = tg_fail(ctx, TG_ERR_CANCELLED, "%s: reading cancelled", f->name);
    }
    for (int64_t z = z0; f->ij_pages == 0 && z < z1 && st == TG_OK; z++) {
        /* sequential pages: TIFFReadDirectory follows the chain; only the first page of a range is sought */
        f->err[0] = 0;
        int ok = z == z0 ? (z == 0 || TIFFSetDirectory(f->tif, (tdir_t)z)) : TIFFReadDirectory(f->tif);
        if (!ok) {
            st = tg_fail(ctx, TG_ERR_FORMAT, "%s: page %lld: cannot read its directory (%s)", f->name, (long long)z + 1,
                         f->err[0] ? f->err : "corrupt file");
            break;
        }
        if (z != 0 && (st = tt_get_fmt(ctx, f, z, &p))) break;
        if (z == 0) p = p0;
        if (!tt_same_fmt(&p, &p0)) {
            char a[96], b[96];
            tt_fmt_str(&p, a, sizeof a);
            tt_fmt_str(&p0, b, sizeof b);
            st = tg_fail(ctx, TG_ERR_FORMAT, "%s: page %lld is %s but page 1 is %s", f->name, (long long)z + 1, a, b);
            break;
        }
        st = tt_read_page(ctx, f, &p, out, z - z0, strict, z);
        if (st == TG_OK && tg_progress(ctx, (double)(z - z0 + 1) / (double)(z1 - z0), "read tiff"))
            st = tg_fail(ctx, TG_ERR_CANCELLED, "%s: reading cancelled", f->name);
    }
    if (st) tg_volume_release(out);
    else tg_progress_done(ctx, "read tiff");
    return st;
}

tg_status tg_tiff_read(tg_ctx *ctx, const char *path, const tg_tiff_read_opts *opt, tg_volume *out)
{
    tg_tiff_read_opts def = TG_TIFF_READ_OPTS_INIT;
    tt_file f;
    if (!path || !out) return tg_fail(ctx, TG_ERR_ARG, "tg_tiff_read: NULL argument");
    tg_volume_init(out);
    if (!opt) opt = &def;
    tg_status st = tt_open_read(ctx, &f, path, NULL, 0, opt->max_bytes);
    if (st == TG_OK) st = tt_read_open(ctx, &f, opt, out);
    tt_close(&f);
    return st;
}

tg_status tg_tiff_read_memory(tg_ctx *ctx, const void *data, size_t size, const tg_tiff_read_opts *opt, tg_volume *out)
{
    tg_tiff_read_opts def = TG_TIFF_READ_OPTS_INIT;
    tt_file f;
    if (!data || !out) return tg_fail(ctx, TG_ERR_ARG, "tg_tiff_read_memory: NULL argument");
    tg_volume_init(out);
    if (!opt) opt = &def;
    tg_status st = tt_open_read(ctx, &f, NULL, data, size, opt->max_bytes);
    if (st == TG_OK) st = tt_read_open(ctx, &f, opt, out);
    tt_close(&f);
    return st;
}

tg_status tg_tiff_read_slices(tg_ctx *ctx, const char *const *paths, int n, const tg_tiff_read_opts *opt,
                              tg_volume *out)
{
    tg_tiff_read_opts def = TG_TIFF_READ_OPTS_INIT;
    tg_tiff_info_t info;
    tt_fmt p0, p;
    tt_file f;
    tg_status st;
    if (!paths || !out) return tg_fail(ctx, TG_ERR_ARG, "tg_tiff_read_slices: NULL argument");
    tg_volume_init(out);
    if (n < 1) return tg_fail(ctx, TG_ERR_ARG, "tg_tiff_read_slices: no files");
    if (!opt) opt = &def;
    memset(&f, 0, sizeof f);
    for (int i = 0; i < n; i++) {
        if ((st = tt_open_read(ctx, &f, paths[i], NULL, 0, opt->max_bytes))) goto done;
        if (i == 0) {
            if ((st = tt_info_open(ctx, &f, &p0, &info))) goto done;
            tg_dtype dt = opt->dtype >= 0 && opt->dtype < TG_NDTYPES ? (tg_dtype)opt->dtype : info.dtype;
            int64_t dims[3] = {info.dims[0], info.dims[1], n};
            if ((st = tt_alloc_out(ctx, paths[0], dims, dt, info.spacing, opt->max_bytes, out))) goto done;
            p = p0;
        } else {
            if ((st = tt_get_fmt(ctx, &f, 0, &p))) goto done;
            if (!tt_same_fmt(&p, &p0)) {
                char a[96], b[96];
                tt_fmt_str(&p, a, sizeof a);
                tt_fmt_str(&p0, b, sizeof b);
                st = tg_fail(ctx, TG_ERR_FORMAT, "%s: slice %d is %s but slice 1 (%s) is %s", paths[i], i + 1, a,
                             paths[0], b);
                goto done;
            }
        }
        if ((st = tt_read_page(ctx, &f, &p, out, i, opt->dtype < 0 && p0.kind == K_U32, 0))) goto done;
        tt_close(&f);
        if (tg_progress(ctx, (double)(i + 1) / n, "read tiff slices")) {
            st = tg_fail(ctx, TG_ERR_CANCELLED, "%s: reading cancelled", paths[i]);
            goto done;
        }
    }
    tg_progress_done(ctx, "read tiff slices");
done:
    tt_close(&f);
    if (st) tg_volume_release(out);
    return st;
}

/* ------------------------------------------------------------------------------------------------------------
 * Writing
 * ------------------------------------------------------------------------------------------------------------ */

typedef struct tt_cal {
    int calibrated;
    const char *unit;
    double scale;       /* metres per unit */
    double xres, yres;  /* pixels per unit */
    double zspacing;    /* units */
} tt_cal;

static void tt_write_calibration(const tg_volume *v, tt_cal *c)
{
    const double *s = v->spacing;
    memset(c, 0, sizeof *c);
    int unknown = s[0] == 1.0 && s[1] == 1.0 && s[2] == 1.0;
    int valid = s[0] > 0 && s[1] > 0 && s[2] > 0 && isfinite(s[0]) && isfinite(s[1]) && isfinite(s[2]);
    if (unknown || !valid) return;
    c->calibrated = 1;
    c->unit = s[0] < 1e-7 ? "nm" : "micron";
    c->scale = s[0] < 1e-7 ? 1e-9 : 1e-6;
    c->xres = c->scale / s[0];
    c->yres = c->scale / s[1];
    c->zspacing = s[2] / c->scale;
}

static tg_status tt_description(tg_ctx *ctx, const tg_volume *v, const tt_cal *c, char *d, size_t n)
{
    size_t k = (size_t)snprintf(d, n, "ImageJ=1.53t\n");
    if (v->dims[2] > 1)
        k += (size_t)snprintf(d + k, n - k, "images=%lld\nslices=%lld\n", (long long)v->dims[2], (long long)v->dims[2]);
    if (c->calibrated) {
        k += (size_t)snprintf(d + k, n - k, "unit=%s\n", c->unit);
        if (v->dims[2] > 1) k += (size_t)snprintf(d + k, n - k, "spacing=%.15g\n", c->zspacing);
    }
    k += (size_t)snprintf(d + k, n - k, "loop=false\n");
    if (v->dtype == TG_I32 || v->dtype == TG_F32 || v->dtype == TG_F64) {
        tg_stats s;
        tg_status st = tg_volume_stats(ctx, v, &s);
        if (st) return st;
        if (s.count > 0 && isfinite(s.min) && isfinite(s.max))
            snprintf(d + k, n - k, "min=%.15g\nmax=%.15g\n", s.min, s.max);
    }
    return TG_OK;
}

/* Rows y0..y0+rows of slice z, packed into dst (handles views of any strides). */
static void tt_gather(const tg_volume *v, int64_t z, int64_t y0, int64_t rows, unsigned char *dst)
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

static int tt_write_all(int fd, const void *p, size_t n)
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

/* One IFD entry: a scalar stored inline, or bytes stored inline when they fit, else after the entry table. */
typedef struct tt_ent {
    uint16_t tag, type;
    uint64_t count, val;
    const void *ext;
    size_t ext_len;
} tt_ent;

enum { T_ASCII = 2, T_SHORT = 3, T_LONG = 4, T_RATIONAL = 5, T_LONG8 = 16 };

static size_t tt_ifd_size(const tt_ent *e, int n, int big)
{
    size_t inl = big ? 8 : 4, s = (big ? 8 : 2) + (size_t)n * (big ? 20 : 12) + (big ? 8 : 4);
    for (int i = 0; i < n; i++)
        if (e[i].ext && e[i].ext_len > inl) s += (e[i].ext_len + 1) & ~(size_t)1;
    return s;
}

/* Lay out an IFD written at file offset `at` into out (tt_ifd_size bytes), chaining to `next`. */
static void tt_ifd_build(const tt_ent *e, int n, int big, uint64_t at, uint64_t next, unsigned char *out)
{
    size_t inl = big ? 8 : 4, es = big ? 20 : 12, k = 0;
    size_t ext = (big ? 8 : 2) + (size_t)n * es + (big ? 8 : 4);
    memset(out, 0, tt_ifd_size(e, n, big));
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
static void tt_rational(double x, uint32_t r[2])
{
    double den = x > 1 ? floor(4294967295.0 / x) : 4294967295.0;
    if (den > 1e9) den = 1e9; /* keeps ImageJ-like fractions readable */
    if (den < 1) den = 1;
    double num = round(x * den);
    r[0] = num > 4294967295.0 ? 4294967295u : (uint32_t)num;
    r[1] = (uint32_t)den;
}

static int tt_sample_format(tg_dtype t)
{
    return t == TG_F32 || t == TG_F64 ? SAMPLEFORMAT_IEEEFP : t == TG_I32 ? SAMPLEFORMAT_INT : SAMPLEFORMAT_UINT;
}

/* Entries of page z's IFD (sorted by tag); strip offset and byte count of the one strip per page. */
static int tt_page_entries(const tg_volume *v, int z, const tt_cal *c, const char *desc, const uint32_t xr[2],
                           const uint32_t yr[2], uint64_t strip_off, uint64_t strip_bytes, int big, tt_ent *e)
{
    int n = 0, bits = (int)tg_dtype_size(v->dtype) * 8;
    uint16_t lt = big ? T_LONG8 : T_LONG;
    e[n++] = (tt_ent){254, T_LONG, 1, 0, NULL, 0};
    e[n++] = (tt_ent){256, T_LONG, 1, (uint64_t)v->dims[0], NULL, 0};
    e[n++] = (tt_ent){257, T_LONG, 1, (uint64_t)v->dims[1], NULL, 0};
    e[n++] = (tt_ent){258, T_SHORT, 1, (uint64_t)bits, NULL, 0};
    e[n++] = (tt_ent){259, T_SHORT, 1, COMPRESSION_NONE, NULL, 0};
    e[n++] = (tt_ent){262, T_SHORT, 1, PHOTOMETRIC_MINISBLACK, NULL, 0};
    if (z == 0) e[n++] = (tt_ent){270, T_ASCII, strlen(desc) + 1, 0, desc, strlen(desc) + 1};
    e[n++] = (tt_ent){273, lt, 1, strip_off, NULL, 0};
    e[n++] = (tt_ent){277, T_SHORT, 1, 1, NULL, 0};
    e[n++] = (tt_ent){278, T_LONG, 1, (uint64_t)v->dims[1], NULL, 0};
    e[n++] = (tt_ent){279, lt, 1, strip_bytes, NULL, 0};
    if (c->calibrated) {
        e[n++] = (tt_ent){282, T_RATIONAL, 1, 0, xr, 8};
        e[n++] = (tt_ent){283, T_RATIONAL, 1, 0, yr, 8};
        e[n++] = (tt_ent){296, T_SHORT, 1, RESUNIT_NONE, NULL, 0};
    }
    if (z == 0) e[n++] = (tt_ent){305, T_ASCII, sizeof("tortuga " TG_VERSION), 0, "tortuga " TG_VERSION,
                                  sizeof("tortuga " TG_VERSION)};
    e[n++] = (tt_ent){339, T_SHORT, 1, (uint64_t)tt_sample_format(v->dtype), NULL, 0};
    return n;
}

/* Uncompressed, ImageJ layout: header, IFD 0, all pixel data contiguous, IFDs 1..n-1. */
static tg_status tt_write_raw(tg_ctx *ctx, int fd, const char *path, const tg_volume *v, const tt_cal *c,
                              const char *desc, int big)
{
    tg_status st = TG_OK;
    tt_ent e[20];
    uint32_t xr[2] = {0, 1}, yr[2] = {0, 1};
    unsigned char *ifd = NULL, *rows = NULL;
    int64_t nz = v->dims[2];
    uint64_t page_bytes = (uint64_t)v->dims[0] * v->dims[1] * tg_dtype_size(v->dtype);
    uint64_t hdr = big ? 16 : 8;
    if (c->calibrated) { tt_rational(c->xres, xr); tt_rational(c->yres, yr); }
    int n0 = tt_page_entries(v, 0, c, desc, xr, yr, 0, page_bytes, big, e);
    size_t s0 = tt_ifd_size(e, n0, big);
    uint64_t data0 = (hdr + s0 + 15) & ~(uint64_t)15;
    uint64_t trail = (data0 + page_bytes * nz + 1) & ~(uint64_t)1;
    int n1 = tt_page_entries(v, 1, c, desc, xr, yr, 0, page_bytes, big, e);
    size_t s1 = tt_ifd_size(e, n1, big), ifd_cap = (s0 > s1 ? s0 : s1) + 16;
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
    n0 = tt_page_entries(v, 0, c, desc, xr, yr, data0, page_bytes, big, e);
    tt_ifd_build(e, n0, big, hdr, nz > 1 ? trail : 0, h + hdr);
    if (tt_write_all(fd, h, (size_t)data0)) goto ioerr;
    if (!tg_volume_is_contiguous(v) && !(rows = tg_malloc((size_t)chunk_rows * row_bytes))) goto nomem;
    for (int64_t z = 0; z < nz; z++) {
        if (rows) {
            for (int64_t y = 0; y < v->dims[1]; y += chunk_rows) {
                int64_t nr = v->dims[1] - y < chunk_rows ? v->dims[1] - y : chunk_rows;
                tt_gather(v, z, y, nr, rows);
                if (tt_write_all(fd, rows, (size_t)nr * row_bytes)) goto ioerr;
            }
        } else if (tt_write_all(fd, tg_volume_ptr(v, 0, 0, z), (size_t)page_bytes)) goto ioerr;
        if (tg_progress(ctx, (double)(z + 1) / (double)(nz + 1), "write tiff")) {
            st = tg_fail(ctx, TG_ERR_CANCELLED, "%s: writing cancelled", path);
            goto done;
        }
    }
    if (trail > data0 + page_bytes * nz && tt_write_all(fd, "", 1)) goto ioerr;
    for (int64_t z = 1; z < nz; z++) {
        uint64_t at = trail + (uint64_t)(z - 1) * s1;
        n1 = tt_page_entries(v, 1, c, desc, xr, yr, data0 + page_bytes * z, page_bytes, big, e);
        tt_ifd_build(e, n1, big, at, z + 1 < nz ? at + s1 : 0, ifd);
        if (tt_write_all(fd, ifd, s1)) goto ioerr;
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

/* Compressed: libtiff, one IFD per page, strips of about 256 KiB. */
static tg_status tt_write_libtiff(tg_ctx *ctx, int fd, const char *tmp, const char *path, const tg_volume *v,
                                  const tt_cal *c, const char *desc, int big, tg_tiff_compress comp)
{
    tg_status st = TG_OK;
    tt_file f;
    unsigned char *strip = NULL;
    memset(&f, 0, sizeof f);
    f.name = path;
    if ((st = tt_options(ctx, &f, 0))) { close(fd); return st; }
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
        TIFFSetField(t, TIFFTAG_SAMPLEFORMAT, (uint16_t)tt_sample_format(v->dtype));
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
            tt_gather(v, z, y, nr, strip); /* a copy: libtiff's predictor modifies the buffer in place */
            if (TIFFWriteEncodedStrip(t, (uint32_t)(y / rps), strip, (tmsize_t)(nr * (int64_t)row_bytes)) < 0) {
                st = tg_fail(ctx, TG_ERR_IO, "%s: page %lld: write failed (%s)", path, (long long)z + 1,
                             f.err[0] ? f.err : strerror(errno ? errno : EIO));
                goto done;
            }
        }
        if (!TIFFWriteDirectory(t)) {
            st = tg_fail(ctx, TG_ERR_IO, "%s: page %lld: write failed (%s)", path, (long long)z + 1,
                         f.err[0] ? f.err : strerror(errno ? errno : EIO));
            goto done;
        }
        if (tg_progress(ctx, (double)(z + 1) / (double)(v->dims[2] + 1), "write tiff")) {
            st = tg_fail(ctx, TG_ERR_CANCELLED, "%s: writing cancelled", path);
            goto done;
        }
    }
done:
    tg_free(strip);
    tt_close(&f); /* closes fd */
    return st;
}

/* Create a new file next to path: "<path>.tmp<pid>.<k>", mode 0666 minus umask. */
static int tt_temp(const char *path, char *tmp, size_t n)
{
    static atomic_int counter;
    for (int tries = 0; tries < 100; tries++) {
        snprintf(tmp, n, "%s.tmp%ld.%d", path, (long)getpid(), atomic_fetch_add(&counter, 1));
        int fd = open(tmp, O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC, 0666); /* libtiff reads back IFDs */
        if (fd >= 0 || errno != EEXIST) return fd;
    }
    return -1;
}

tg_status tg_tiff_write(tg_ctx *ctx, const char *path, const tg_volume *v, const tg_tiff_write_opts *opt)
{
    tg_tiff_write_opts def = TG_TIFF_WRITE_OPTS_INIT;
    tg_status st = TG_OK;
    char desc[512], *tmp = NULL;
    tt_cal cal;
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
    tt_write_calibration(v, &cal);
    if ((st = tt_description(ctx, v, &cal, desc, sizeof desc))) return st;
    size_t tn = strlen(path) + 48;
    if (!(tmp = tg_malloc(tn))) return tg_fail(ctx, TG_ERR_NOMEM, "%s: out of memory", path);
    if ((fd = tt_temp(path, tmp, tn)) < 0) {
        st = tg_fail(ctx, TG_ERR_IO, "%s: cannot create: %s", path, strerror(errno));
        tg_free(tmp);
        return st;
    }
    if (opt->compress == TG_TIFF_RAW) {
        errno = 0;
        st = tt_write_raw(ctx, fd, path, v, &cal, desc, big);
        if (close(fd) != 0 && st == TG_OK) st = tg_fail(ctx, TG_ERR_IO, "%s: write failed: %s", path, strerror(errno));
    } else {
        errno = 0;
        st = tt_write_libtiff(ctx, fd, tmp, path, v, &cal, desc, big, opt->compress); /* closes fd */
    }
    if (st == TG_OK && rename(tmp, path) != 0) st = tg_fail(ctx, TG_ERR_IO, "%s: cannot rename the finished file: %s", path, strerror(errno));
    if (st) unlink(tmp);
    else tg_progress_done(ctx, "write tiff");
    tg_free(tmp);
    return st;
}
