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
/* The ImageJ description of v with calibration c into d (n bytes). */
tg_status tg_tiff__description(tg_ctx *ctx, const tg_volume *v, const tg_tiff__cal *c, char *d, size_t n);

#endif
