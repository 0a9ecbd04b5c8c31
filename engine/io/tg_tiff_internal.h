/* tg_tiff_internal.h — what the three files of the TIFF reader and writer share: the libtiff handle with
 * per-call messages (tg_tiff_read.c), the calibration in both directions (tg_tiff_calibration.c). Not public
 * API: the names carry a double underscore. The public API is tg_tiff.h; each .c file has its manual on top.
 */
#ifndef TG_TIFF_INTERNAL_H
#define TG_TIFF_INTERNAL_H

#include <tiffio.h>

#include "io/tg_tiff.h"

/* A libtiff handle whose error messages go to err (not stderr), reading a path or a memory block. */
typedef struct tg_tiff__file {
    TIFF *tif;
    TIFFOpenOptions *oo;
    const char *name;            /* for messages: the path or "<memory>" */
    const unsigned char *data;   /* memory source */
    uint64_t size, pos;
    int64_t max_bytes;           /* 0 or the caller's cap on any one buffer */
    int64_t ij_pages;            /* > 0: an ImageJ stack stored with one IFD, pages contiguous from ij_offset */
    uint64_t ij_offset;
    char err[400];               /* first libtiff error of this call */
} tg_tiff__file;

/* Allocate f->oo with f's message handlers and libtiff's allocation limit (max_alloc > 0; never below 16 MiB). */
tg_status tg_tiff__options(tg_ctx *ctx, tg_tiff__file *f, int64_t max_alloc);
/* Close the handle (and its file descriptor) and free the options; safe on a half-opened f. */
void tg_tiff__close(tg_tiff__file *f);

/* ---- calibration (tg_tiff_calibration.c) ---- */

/* Append "; s" (or s) to o->note. */
void tg_tiff__note(tg_tiff_info_t *o, const char *s);
/* Value of `key=` on its own line of an ImageJ description, copied into out (NUL-terminated); 0 if absent. */
int tg_tiff__ij_value(const char *desc, const char *key, char *out, size_t n);
/* Spacing (metres), unit, o->imagej, o->calibrated, o->z_calibrated and notes from the current directory. */
void tg_tiff__read_calibration(TIFF *tif, tg_tiff_info_t *o);

/* The calibration a written file carries. */
typedef struct tg_tiff__cal {
    int calibrated;
    const char *unit;
    double scale;       /* metres per unit */
    double xres, yres;  /* pixels per unit */
    double zspacing;    /* units */
} tg_tiff__cal;

/* The calibration of v (none when its spacing is 1, 1, 1 or not valid). */
void tg_tiff__write_calibration(const tg_volume *v, tg_tiff__cal *c);
/* The calibration of a spacing (metres), as tg_tiff__write_calibration. */
void tg_tiff__calibration_of(const double spacing[3], tg_tiff__cal *c);
/* The ImageJ description of v with calibration c into d (n bytes). */
tg_status tg_tiff__description(tg_ctx *ctx, const tg_volume *v, const tg_tiff__cal *c, char *d, size_t n);
/* The same for nz pages of dtype, with the display range [lo, hi] of i32/f32/f64 files given (range = 0: none). */
void tg_tiff__description_of(int64_t nz, tg_dtype dtype, const tg_tiff__cal *c, int range, double lo, double hi,
                             char *d, size_t n);

/* ---- writing (tg_tiff_write.c), shared with io/tg_writer.c ---- */

/* One IFD entry: a scalar stored inline, or bytes stored inline when they fit, else after the entry table. */
typedef struct tg_tiff__ent {
    uint16_t tag, type;
    uint64_t count, val;
    const void *ext;
    size_t ext_len;
} tg_tiff__ent;

/* Entries (at most 20, sorted by tag) of the IFD of page z of an uncompressed ImageJ stack with one strip per page
 * (strip_off, strip_bytes); page 0 carries desc and the Software tag; xr, yr: the resolution rationals. */
int tg_tiff__page_entries(int64_t nx, int64_t ny, tg_dtype dtype, int z, const tg_tiff__cal *c, const char *desc,
                          const uint32_t xr[2], const uint32_t yr[2], uint64_t strip_off, uint64_t strip_bytes, int big,
                          tg_tiff__ent *e);
/* Bytes of an IFD of these entries, and its layout at file offset `at` into out, chained to `next` (0: the last). */
size_t tg_tiff__ifd_size(const tg_tiff__ent *e, int n, int big);
void tg_tiff__ifd_build(const tg_tiff__ent *e, int n, int big, uint64_t at, uint64_t next, unsigned char *out);
/* The 32-bit rational closest to x. */
void tg_tiff__rational(double x, uint32_t r[2]);
int tg_tiff__sample_format(tg_dtype t);
/* write() all n bytes (EINTR retried); 0, or -1 with errno set. */
int tg_tiff__write_all(int fd, const void *p, size_t n);
/* Rows y0 .. y0 + rows of slice z of v (any strides), packed into dst. */
void tg_tiff__gather(const tg_volume *v, int64_t z, int64_t y0, int64_t rows, unsigned char *dst);
/* Create a new temporary file next to path, "<folder>/.tg-<pid>-<k>.tmp" (short, so a 250-character final name
 * still fits; hidden, so folder listings and globs of slices skip it), O_RDWR, mode 0666 less the umask. Its name
 * goes into tmp (n bytes: strlen(path) + 48 is enough). Returns the descriptor, or -1 with errno set. */
int tg_tiff__temp(const char *path, char *tmp, size_t n);
/* Rename the finished temporary to path (atomic within a folder) and sync the folder. TG_ERR_IO on failure (the
 * caller removes tmp). */
tg_status tg_tiff__publish(tg_ctx *ctx, const char *tmp, const char *path);

#endif
