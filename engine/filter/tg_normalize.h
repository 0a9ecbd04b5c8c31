/* tg_normalize.h — percentile contrast stretch, as ImageJ's Process > Enhance Contrast with "Normalize".
 *
 * What: per slice (ImageJ's default for stacks) or over the whole volume, find lo and hi such that a fraction
 * saturated/2 % of the voxels lies below lo and saturated/2 % above hi, and map [lo, hi] linearly onto the
 * output range, clipping outside.
 * Convention (ImageJ ContrastEnhancer.stretchHistogram + normalize): with n the number of (non-NaN) voxels
 * and t = floor(n * saturated / 200), lo is the smallest value v with #{values <= v} > t and hi the largest with
 * #{values >= v} > t, i.e. lo = the (t+1)-th smallest and hi = the (t+1)-th largest value. ImageJ finds them on a
 * 256-bin histogram for 16-bit and float images; here they are exact order statistics for every dtype.
 * Mapping: u8 and u16 keep their dtype: v <= lo -> 0, v >= hi -> 255 (65535), else floor((v - lo) / (hi - lo) * max)
 * (ImageJ's lookup table). i32, f32 and f64 give f32 in [0, 1]: (v - lo) / (hi - lo), clipped. A constant slice
 * (hi == lo) maps to 0. NaN voxels are not counted and stay NaN (f32 output) or become 0 (integer output:
 * impossible, integer inputs have no NaN).
 * Cost: O(n) per slice: a histogram for u8/u16, two quickselects otherwise.
 * Memory per voxel: the output (1, 2 or 4 bytes); float inputs need 8 bytes per voxel of the group for the
 * selection (per thread one slice when per_slice, the whole volume otherwise).
 * Threading: OpenMP over slices; bit-identical for any thread count.
 * Streaming (tg_normalize_cost): per slice, no halo, one pass. The global range of a stack larger than memory comes
 * from tg_normalize_range (exact order statistics by radix selection over passes of the data: 1 pass for u8/u16,
 * 2 for i32/f32, 4 for f64; two 65536-bin histograms, nothing per voxel), then a pass with opt->range given: the
 * same lo, hi and mapping as the in-memory call, bit for bit (both give a zero bound as +0).
 */
#ifndef TG_NORMALIZE_H
#define TG_NORMALIZE_H

#include "core/tg_core.h"
#include "core/tg_volume.h"

#include <math.h>

typedef struct tg_normalize_opts {
    double saturated; /* percent of voxels saturated, split between both ends, in [0, 100) */
    int per_slice;    /* non-zero: each slice its own lo, hi; else one pair for the volume */
    double range[2];  /* lo, hi to map (lo <= hi) instead of finding them; NAN, NAN (the default) = find them */
} tg_normalize_opts;

#define TG_NORMALIZE_OPTS_INIT { 0.35, 1, {NAN, NAN} }

/* lohi (optional, may be NULL): 2 * nz doubles (per slice) or 2 doubles (global, or range given) receiving lo, hi. */
tg_status tg_normalize(tg_ctx *ctx, const tg_volume *in, const tg_normalize_opts *opt, tg_volume *out, double *lohi);

/* What tg_normalize allocates for an nx x ny x n slab of dtype in with nthreads (tg_cost, core/tg_core.h); halo 0. */
void tg_normalize_cost(const tg_normalize_opts *opt, tg_dtype in, int64_t nx, int64_t ny, int nthreads, tg_cost *c);

/* The global lo, hi of tg_normalize (per_slice = 0) over data that arrives in slabs: new; then, for each pass,
 * add every slab of the volume (in any order) and call next, which returns 1 while another pass is needed; then
 * result. Memory: two 65536-bin histograms. */
typedef struct tg_normalize_range tg_normalize_range;
tg_status tg_normalize_range_new(tg_ctx *ctx, tg_dtype dtype, double saturated, tg_normalize_range **out);
tg_status tg_normalize_range_add(tg_ctx *ctx, tg_normalize_range *r, const tg_volume *slab);
int tg_normalize_range_next(tg_normalize_range *r);
void tg_normalize_range_result(const tg_normalize_range *r, double *lo, double *hi);
void tg_normalize_range_free(tg_normalize_range *r); /* NULL is fine */

#endif
