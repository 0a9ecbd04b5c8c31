/* measure_data.h — shared-volume loading for the measure tests (test_chords, test_components, test_edt).
 * Reads the simple 8-bit single-channel stacks of ../shared/data with libtiff directly, so the measure tests do
 * not depend on tortuga's own TIFF reader. A missing file returns 0 (the caller skips and says so).
 */
#ifndef MEASURE_DATA_H
#define MEASURE_DATA_H

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <tiffio.h>

#include "core/tg_volume.h"

static void measure_tiff_quiet(const char *m, const char *f, va_list ap) { (void)m; (void)f; (void)ap; }

/* Load rel (under TG_SHARED_DATA) as u8; divide values by div (the electrode stores 0/85/170). 1 = loaded. */
static int measure_load(tg_ctx *ctx, const char *rel, int div, tg_volume *out)
{
    char path[1024];
    const char *base = getenv("TG_SHARED_DATA");
    snprintf(path, sizeof path, "%s/%s", base ? base : "../shared/data", rel);
    TIFFSetWarningHandler(measure_tiff_quiet);
    TIFF *t = TIFFOpen(path, "r");
    if (!t) { fprintf(stderr, "skip: %s not found\n", path); return 0; }
    uint32_t w = 0, h = 0;
    int64_t pages = TIFFNumberOfDirectories(t);
    TIFFGetField(t, TIFFTAG_IMAGEWIDTH, &w);
    TIFFGetField(t, TIFFTAG_IMAGELENGTH, &h);
    int64_t dims[3] = {w, h, pages};
    if (tg_volume_alloc(ctx, dims, TG_U8, NULL, out) != TG_OK) { TIFFClose(t); return 0; }
    uint8_t *d = out->buf->data;
    for (int64_t z = 0; z < pages; z++) {
        TIFFSetDirectory(t, (tdir_t)z);
        for (uint32_t y = 0; y < h; y++) {
            uint8_t *row = d + (size_t)w * (y + (size_t)h * z);
            TIFFReadScanline(t, row, y, 0);
            if (div > 1)
                for (uint32_t x = 0; x < w; x++) row[x] = (uint8_t)(row[x] / div);
        }
    }
    TIFFClose(t);
    return 1;
}

/* Small deterministic generator for random test volumes (splitmix64). */
static uint64_t measure_rng(uint64_t *s)
{
    uint64_t z = (*s += 0x9E3779B97F4A7C15ull);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    return z ^ (z >> 31);
}

#endif
