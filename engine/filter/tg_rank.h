/* tg_rank.h — median and mean (box) filters over a square (2D, per slice) or cubic (3D) window.
 *
 * What: tg_median replaces each voxel by the median of the (2r+1)^2 (per slice) or (2r+1)^3 values of its
 * window; tg_mean by their mean. Windows are odd, centred, radius r >= 1.
 * Convention: scipy.ndimage.median_filter / uniform_filter with size 2r+1 (1 along z per slice) and
 * mode="reflect" (half-sample symmetric, d c b a | a b c d).
 * Output: tg_median keeps the input dtype (the median is one of the window's values, so nothing can overflow);
 * tg_mean writes f32 for every input dtype (sums are kept in double, so u16/i32 sums cannot overflow).
 * NaN: the median sorts NaN after every number (as numpy.sort does): a window's median is NaN only when
 * more than half of it is NaN. The mean of a window with a NaN is NaN.
 * Algorithm: median — the window is gathered from (2r+1)^(d-1) padded rows and the middle element selected
 * (quickselect), O((2r+1)^d) per voxel; for the 3D radius-1 median of u8, u16 and f32 (the common case) a selection
 * network instead: Batcher's odd-even merge sort for 32 inputs (27 values + 5 x +inf) pruned to the
 * compare-exchanges the 14th output depends on, each applied as SIMD min/max to a block of 64 voxels of a row at
 * once (exact: those types convert to float without loss; rows holding a NaN take the quickselect path);
 * mean — separable running sums, O(1) per voxel and axis.
 * Memory per voxel: the output (1-8 bytes median, 4 bytes mean); per thread (2r+1)^(d-1) padded rows and
 * 32 x 64 floats (median) or a block of max(ny, nz) x 256 floats (mean).
 * Threading: OpenMP over rows (median, x pass of the mean) and column blocks; bit-identical for any thread count.
 */
#ifndef TG_RANK_H
#define TG_RANK_H

#include "core/tg_core.h"
#include "core/tg_volume.h"

typedef struct tg_rank_opts {
    int radius;    /* >= 1: the window is 2 * radius + 1 voxels wide */
    int per_slice; /* non-zero: square windows within each slice; else cubes */
} tg_rank_opts;

#define TG_RANK_OPTS_INIT { 1, 0 }

/* out: a new volume of the input dtype. */
tg_status tg_median(tg_ctx *ctx, const tg_volume *in, const tg_rank_opts *opt, tg_volume *out);
/* out: a new f32 volume. */
tg_status tg_mean(tg_ctx *ctx, const tg_volume *in, const tg_rank_opts *opt, tg_volume *out);

/* What tg_median (median = 1) or tg_mean (0) allocates per voxel of an nx x ny x n slab of dtype in, with nthreads,
 * and the halo along z that a streamed slab needs (tg_cost in core/tg_core.h). */
void tg_rank_cost(const tg_rank_opts *opt, int median, tg_dtype in, int64_t nx, int64_t ny, int nthreads, tg_cost *c);

#endif
