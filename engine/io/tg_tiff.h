/* tg_tiff.h — TIFF stacks: read (multi-page files, lists of single-page slices, memory), inspect, write.
 *
 * The manuals: tg_tiff_read.c (type mapping, errors, memory), tg_tiff_calibration.c (spacing), tg_tiff_write.c.
 * In short:
 *   - pages are z, rows y, columns x; a stack of N pages becomes an nx*ny*N volume;
 *   - decoding is libtiff's (strips and tiles; none, LZW, Deflate, PackBits, and any other codec libtiff has);
 *   - spacing is read from the ImageJ calibration (ImageDescription unit=/spacing= + X/YResolution) in metres;
 *   - writing produces an ImageJ-compatible stack (Fiji opens it calibrated), BigTIFF past ~4 GiB, written to a
 *     temporary name in the same directory and renamed when complete.
 * Errors name the file (and the page, 1-based as a person counts) and the reason; libtiff's own messages are
 * captured per call (TIFFOpenOptionsSetErrorHandlerExtR) and never reach stderr.
 */
#ifndef TG_TIFF_H
#define TG_TIFF_H

#include "core/tg_core.h"
#include "core/tg_volume.h"

typedef struct tg_tiff_info_t {
    int64_t dims[3];          /* width, height, pages */
    tg_dtype dtype;           /* dtype a read returns by default (see the table in tg_tiff_read.c) */
    int bits;                 /* bits per sample in the file */
    int sample_format;        /* TIFF SampleFormat: 1 unsigned, 2 signed, 3 IEEE float */
    int samples;              /* samples per pixel */
    int photometric;          /* TIFF Photometric */
    int rgb;                  /* 1: RGB pixels, a read converts them to grey (ITU-R BT.601 luma) */
    int compression;          /* TIFF Compression code of the first page */
    char compression_name[16];/* "none", "lzw", "deflate", "packbits", "jpeg", "zstd", ... */
    int bigtiff, tiled, imagej;
    double spacing[3];        /* metres; 1 where the file has no calibration */
    int calibrated;           /* 1 when x/y spacing came from the file */
    int z_calibrated;         /* 1 when the ImageJ description has spacing= (else z spacing = x spacing, with a note) */
    char unit[24];            /* the unit as the file names it ("micron", "nm", "inch", ...), "" if none */
    char note[256];           /* conversions a read applies ("RGB converted to grey ...", ...), "" if none */
    int64_t pages_complete;   /* pages whose directory and data the file holds: dims[2] unless truncated */
    char truncated[320];      /* "" or what is missing: a truncated file (or a header claiming more pages than
                               * the file holds) has dims[2] = the pages claimed; reading all of it, or a range
                               * past pages_complete, fails naming the first missing page */
} tg_tiff_info_t;

typedef struct tg_tiff_read_opts {
    int64_t z_first, z_last;  /* 0-based half-open page range [z_first, z_last); z_first < 0 = all pages */
    int dtype;                /* < 0: the file's type; else a tg_dtype to convert to while reading */
    int64_t max_bytes;        /* refuse an output volume (and libtiff allocations) above this; 0 = no limit */
} tg_tiff_read_opts;
#define TG_TIFF_READ_OPTS_INIT {-1, -1, -1, 0}

typedef enum tg_tiff_compress {
    TG_TIFF_RAW = 0, TG_TIFF_DEFLATE, TG_TIFF_LZW, TG_TIFF_PACKBITS
} tg_tiff_compress;

typedef struct tg_tiff_write_opts {
    tg_tiff_compress compress; /* default TG_TIFF_RAW */
    int bigtiff;               /* -1 automatic (data past ~4 GiB), 0 classic TIFF (fails when too large), 1 always */
} tg_tiff_write_opts;
#define TG_TIFF_WRITE_OPTS_INIT {TG_TIFF_RAW, -1}

/* Describe a file without decoding pixels. */
tg_status tg_tiff_info(tg_ctx *ctx, const char *path, tg_tiff_info_t *out);
tg_status tg_tiff_info_memory(tg_ctx *ctx, const void *data, size_t size, tg_tiff_info_t *out);

/* Read a multi-page TIFF (all pages, or opt->z_first..z_last) into a new volume with the file's spacing. */
tg_status tg_tiff_read(tg_ctx *ctx, const char *path, const tg_tiff_read_opts *opt, tg_volume *out);
/* The same from bytes in memory (used by the fuzzer; messages name the file "<memory>"). */
tg_status tg_tiff_read_memory(tg_ctx *ctx, const void *data, size_t size, const tg_tiff_read_opts *opt,
                              tg_volume *out);
/* Read the first page of each of n files as slices z = 0..n-1. All must share width, height and type;
 * spacing comes from the first file. opt->z_* is ignored (choose the files instead). */
tg_status tg_tiff_read_slices(tg_ctx *ctx, const char *const *paths, int n, const tg_tiff_read_opts *opt,
                              tg_volume *out);

/* A stack open for reading page ranges on demand (the TIFF backend of io/tg_stack.h): one multi-page file, kept
 * open (pages read in order follow the IFD chain, a jump seeks), or n > 1 single-page slice files, each opened when
 * its page is read. Open reads only the first page's header (info as tg_tiff_info; with slices dims[2] = n).
 * dtype < 0: the file's type (tt_kind table above), else convert while reading. Every page read is checked against
 * the first page's size and type: an error names the file and page. Memory: the paths and one strip buffer. */
typedef struct tg_tiff_reader tg_tiff_reader;
tg_status tg_tiff_reader_open(tg_ctx *ctx, const char *const *paths, int n, int dtype, tg_tiff_reader **out,
                              tg_tiff_info_t *info);
/* Pages [z0, z1) (0-based, half-open) into slices zout, zout + 1, ... of out: a contiguous volume of the stack's width,
 * height and read dtype, allocated by the caller. Progress is the fraction of these pages; cancel is checked per page. */
tg_status tg_tiff_reader_read(tg_ctx *ctx, tg_tiff_reader *r, int64_t z0, int64_t z1, tg_volume *out, int64_t zout);
void tg_tiff_reader_close(tg_tiff_reader *r); /* NULL is fine */

/* Write v (any dtype, views included) as an ImageJ-compatible multi-page TIFF. */
tg_status tg_tiff_write(tg_ctx *ctx, const char *path, const tg_volume *v, const tg_tiff_write_opts *opt);

#endif
