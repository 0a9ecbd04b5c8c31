/* tg_chords.h — chords of one phase along an axis, with PoreSpy's sampling and trimming conventions.
 *
 * A chord is a maximal run of voxels of the phase along a line parallel to the axis. As PoreSpy's
 * apply_chords(im == phase, spacing, axis, trim_edges) (porespy/filters/_funcs.py, 2.x and 3.x):
 *   - chord lines lie on every (spacing + 1)-th index of both perpendicular axes, starting at index 0
 *     (spacing = number of empty lines between adjacent chord lines; the default 2 is the paper's "distance
 *     of two voxels between adjacent chords");
 *   - TG_TRIM_FACES (PoreSpy's trim_edges=True: skimage clear_border on the subsampled grid) drops every chord
 *     that touches any face of the subsampled grid: chords reaching the first or last voxel along the axis,
 *     and every chord on the first or last sampled line of either perpendicular axis;
 *     TG_TRIM_ENDS only drops chords reaching the first or last voxel along the axis; TG_TRIM_NONE keeps all.
 * Lengths are voxel counts (multiply by the spacing along the axis for metres). Chords are listed line by
 * line (second perpendicular axis outer, first inner; for axis x the lines are ordered (z, y), for y (z, x),
 * for z (y, x)), and along each line by position.
 *
 * Algorithm: one scan of each chord line, counted then filled (two passes, so the list needs no reallocation).
 * Cost: O(N / (spacing+1)^2) reads. Memory: 4 B per chord + 8 B per line; nothing per voxel.
 * Threading: OpenMP over lines, num_threads(ctx->nthreads); the list does not depend on the thread count.
 * Input: an integer label volume (u8, u16, i32), any strides; float labels are an error.
 */
#ifndef TG_CHORDS_H
#define TG_CHORDS_H

#include "core/tg_core.h"
#include "core/tg_volume.h"

typedef enum tg_chord_trim { TG_TRIM_NONE = 0, TG_TRIM_FACES, TG_TRIM_ENDS } tg_chord_trim;

typedef struct tg_chords_opts {
    int64_t phase;      /* label value of the phase */
    int axis;           /* 0 = x, 1 = y, 2 = z */
    int spacing;        /* empty lines between chord lines (>= 0) */
    tg_chord_trim trim;
} tg_chords_opts;
#define TG_CHORDS_OPTS_INIT {1, 2, 2, TG_TRIM_FACES}

typedef struct tg_chords_result {
    int64_t n;          /* number of chords */
    int32_t *lengths;   /* n lengths in voxels (NULL when n == 0) */
    int64_t nlines;     /* chord lines scanned */
    int64_t max_length; /* 0 when n == 0 */
} tg_chords_result;

tg_status tg_chords(tg_ctx *ctx, const tg_volume *labels, const tg_chords_opts *opt, tg_chords_result *out);
void tg_chords_result_free(tg_chords_result *r);
/* Counts of chords by length: hist[l] = chords of l voxels, l = 0..max_length (hist[0] = 0); hist holds
 * max_length + 1 entries, owned by the caller. One pass over the list. */
void tg_chords_histogram(const tg_chords_result *r, int64_t *hist);

/* ---- streamed: the counts by length from consecutive slabs of a stack (measure/tg_measure_stream.h drives it) ----
 * Lines along x and y lie in the planes z, so a slab scans the lines of its own slices whole. Lines along z cross
 * the slabs: each carries the slice where its open run started from one slab to the next (8 bytes per line), and a
 * run is counted when it ends, or after the last slab when it reaches the end of the stack (kept only with
 * TG_TRIM_NONE). The counts by length, their number and the lines scanned equal tg_chords + tg_chords_histogram on
 * the whole volume (the list itself, whose order is line by line, is not kept: 4 bytes per chord would grow with
 * the stack). Cost (tg_chords_stream_cost): nothing per voxel of a slab; per thread a count per length along the
 * axis (8 bytes each), plus the run starts for axis z. Threading: OpenMP over lines (axis z: over rows of lines),
 * per-thread integer counts summed at the end, so results do not depend on the thread count. */
typedef struct tg_chords_counts {
    int64_t n;          /* chords */
    int64_t nlines;     /* chord lines scanned */
    int64_t max_length; /* 0 when n == 0 */
    int64_t *hist;      /* max_length + 1 entries: hist[l] = chords of l voxels (hist[0] = 0) */
} tg_chords_counts;
typedef struct tg_chords_acc tg_chords_acc;
void tg_chords_stream_cost(const tg_chords_opts *opt, const int64_t dims[3], int nthreads, tg_cost *cost);
tg_status tg_chords_acc_new(tg_ctx *ctx, const int64_t dims[3], const tg_chords_opts *opt, tg_chords_acc **out);
/* The next slab: slices [z0, z0 + slab->dims[2]), z0 = where the previous one ended (0 first). */
tg_status tg_chords_acc_add(tg_ctx *ctx, tg_chords_acc *a, const tg_volume *slab, int64_t z0);
/* After the last slab, once. */
tg_status tg_chords_acc_finish(tg_ctx *ctx, tg_chords_acc *a, tg_chords_counts *out);
void tg_chords_counts_free(tg_chords_counts *c);
void tg_chords_acc_free(tg_chords_acc *a); /* NULL is fine */

#endif
