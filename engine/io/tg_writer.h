/* tg_writer.h — a TIFF stack written slab by slab and published atomically.
 *
 * What: streamed operations write results larger than memory through a writer: tg_writer_open creates a temporary
 * file next to the final path, tg_writer_write appends the slices of each slab (any strides; a slab of another dtype
 * is converted as tg_volume_astype does), tg_writer_close finishes the file, fsyncs it, renames it to the final path
 * (atomic within a folder) and syncs the folder. On an error (disk full, a slab of the wrong size), a cancel, or
 * tg_writer_abort (the Lua writer's __gc and __close call it for a writer that was never closed) the temporary is
 * removed at once and nothing appears under the final path; an existing file there is left untouched.
 * The file is what tg_tiff_write writes (io/tg_tiff.h): an ImageJ-compatible stack that Fiji opens calibrated, with
 * the same description (images=, unit=, spacing=, and the display range min=/max= of i32/f32/f64 data, accumulated
 * over the slabs), and reads back voxel for voxel equal to the slabs.
 *   - uncompressed: header, all pixel data contiguous (ImageJ reads such a stack as one block), then the IFDs, which
 *     are written at close when the page count is known; classic TIFF or BigTIFF is decided at close from the final
 *     size (automatic), or forced;
 *   - compressed (Deflate, LZW, PackBits): libtiff, one IFD per page, strips of about 256 KiB; the first page's
 *     description is added at close (TIFFRewriteDirectory). BigTIFF must be decided at open: automatic uses the page
 *     count when announced (dims[2]) and classic TIFF otherwise, which fails with a clear message past 4 GiB.
 * The temporary is "<folder>/.tg-<pid>-<k>.tmp": short (a legal 250-character final name still fits) and hidden
 * (folder listings and globs of slices skip it).
 * Errors name the final path (and the page, 1-based) and the reason.
 * Cost: uncompressed, one write() per page of a contiguous slab (else rows gathered ~4 MiB at a time); compressed,
 *   bound by the codec. For i32/f32/f64 one statistics pass per slab (the display range).
 * Memory: nothing per voxel: one row or strip buffer (~4 MiB at most), plus one converted slab when a slab's dtype
 *   differs from the writer's.
 * Threading: one thread writes at a time; progress is the fraction of each slab written, cancel is checked per page.
 */
#ifndef TG_WRITER_H
#define TG_WRITER_H

#include "core/tg_core.h"
#include "core/tg_volume.h"
#include "io/tg_tiff.h"

typedef struct tg_writer tg_writer;

typedef struct tg_writer_opts {
    int64_t dims[3];           /* nx, ny of every page (0: the first slab's); dims[2] > 0 announces the page count,
                                * checked at close; 0: not announced */
    int dtype;                 /* tg_dtype of the file; < 0: the first slab's */
    double spacing[3];         /* metres; all 0: the first slab's; 1, 1, 1: no calibration */
    tg_tiff_compress compress; /* TG_TIFF_RAW (default), TG_TIFF_DEFLATE, TG_TIFF_LZW, TG_TIFF_PACKBITS */
    int bigtiff;               /* -1 automatic, 0 classic TIFF only, 1 BigTIFF */
} tg_writer_opts;
#define TG_WRITER_OPTS_INIT { {0, 0, 0}, -1, {0, 0, 0}, TG_TIFF_RAW, -1 }

/* Create the temporary next to path. The folder must exist and be writable (TG_ERR_IO otherwise). */
tg_status tg_writer_open(tg_ctx *ctx, const char *path, const tg_writer_opts *opt, tg_writer **out);
/* Append the slab's slices as the next pages. After a failure the writer is dead: its temporary is removed and
 * every later write or close returns an error (close still frees it). */
tg_status tg_writer_write(tg_ctx *ctx, tg_writer *w, const tg_volume *slab);
/* Finish, fsync and publish under the final path; w is freed whatever happens. Fails (and removes the temporary)
 * if no page was written, if the announced page count was not met, or if the file does not fit the TIFF chosen. */
tg_status tg_writer_close(tg_ctx *ctx, tg_writer *w);
/* Remove the temporary and free w (NULL is fine). Nothing appears under the final path. */
void tg_writer_abort(tg_writer *w);

int64_t tg_writer_pages(const tg_writer *w);     /* pages written so far */
/* The most bytes the writer's own buffers take while writing slabs of nx x ny pages (contiguous slabs, or any
 * strides): a compressed writer's strip (~256 KiB), an uncompressed writer's rows for strided slabs (~4 MiB). A slab
 * of another dtype adds its converted copy (bytes of the writer's dtype per voxel) on top. */
int64_t tg_writer_buffer(const tg_writer *w, int64_t nx, int contiguous);
const char *tg_writer_path(const tg_writer *w);  /* the final path */
/* The writer's page format, once known (after open if given, else after the first slab): 1 and dims/dtype, else 0. */
int tg_writer_format(const tg_writer *w, int64_t dims[2], tg_dtype *dtype);
/* The file's dtype as far as known (given at open, or the first slab's), else -1. */
int tg_writer_dtype(const tg_writer *w);

#endif
