/* tg_png.h — write one 2D slice as an 8-bit PNG, with a colour map and the pixel size.
 *
 * tg_png_write() takes a volume with nz == 1 (a slice: pick it with tg_volume_view) and writes it as
 *   - TG_PNG_GREY     8-bit greyscale: round(255 * (v - lo) / (hi - lo)), clamped to 0..255;
 *   - TG_PNG_VIRIDIS  8-bit RGB: the same index into the viridis table (tg_png_viridis);
 *   - TG_PNG_LABELS   8-bit RGB: a categorical colour per label value (v rounded, taken modulo 256), from
 *                     opt->palette or the built-in one (tg_png_default_palette).
 * The range [lo, hi] is opt->lo, opt->hi when opt->has_range, else 0..255 for u8 (written as is) and the
 * slice's finite min..max for other dtypes. A degenerate range (hi == lo) maps values <= lo to 0 and
 * values > lo to 255. NaN is written as 0. Rows of the PNG are y (row 0 at the top), columns are x.
 *
 * Calibration: the pHYs chunk holds pixels per metre round(1 / spacing[0]), round(1 / spacing[1]) when
 * both spacings are known (below 1 m, the convention for "unknown") and the result fits in 31 bits.
 *
 * The file is written to a short hidden temporary next to `path` (tg_publish.h) and, synced, renamed to
 * `path` when complete, so an interrupted run never leaves a truncated PNG that looks valid.
 * Failures of the outside world return TG_ERR_IO with "path: reason" in ctx->msg.
 *
 * Cost: one pass over the slice (two with the default range), one row buffer (3 * nx bytes); deflate
 * dominates the time. Single-threaded (one slice, I/O bound).
 */
#ifndef TG_PNG_H
#define TG_PNG_H

#include <stdint.h>

#include "core/tg_core.h"
#include "core/tg_volume.h"

typedef enum tg_png_colormap { TG_PNG_GREY = 0, TG_PNG_LABELS, TG_PNG_VIRIDIS } tg_png_colormap;

typedef struct tg_png_opts {
    tg_png_colormap colormap;
    int has_range;          /* use lo, hi instead of the default range (grey and viridis) */
    double lo, hi;
    const uint8_t *palette; /* 256 * 3 bytes RGB for TG_PNG_LABELS; NULL = built-in palette */
    int compression;        /* zlib level 0..9; -1 = libpng's default */
} tg_png_opts;

#define TG_PNG_OPTS_INIT {TG_PNG_GREY, 0, 0.0, 0.0, NULL, -1}

tg_status tg_png_write(tg_ctx *ctx, const char *path, const tg_volume *slice2d, const tg_png_opts *opt);

/* The built-in categorical palette (256 * 3 bytes RGB): 0 = pore, near black; 1 = orange; 2 = blue;
 * 3..20 the rest of matplotlib's tab20 (green, red, purple, brown, pink, grey, olive, cyan, then the
 * light variants); 21..255 hues stepped by the golden ratio at alternating brightness. */
void tg_png_default_palette(uint8_t rgb[256 * 3]);

/* The viridis table (256 * 3 bytes RGB), from Matt Zucker's degree-6 polynomial fit of matplotlib's
 * viridis (CC0, shadertoy.com/view/WlfXRN); within about 1.5 % (4 levels) of the published table. */
void tg_png_viridis(uint8_t rgb[256 * 3]);

#endif
