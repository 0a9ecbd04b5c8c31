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
 */
#ifndef TG_NORMALIZE_H
#define TG_NORMALIZE_H

#include "core/tg_core.h"
#include "core/tg_volume.h"

typedef struct tg_normalize_opts {
    double saturated; /* percent of voxels saturated, split between both ends, in [0, 100) */
    int per_slice;    /* non-zero: each slice its own lo, hi; else one pair for the volume */
} tg_normalize_opts;

#define TG_NORMALIZE_OPTS_INIT { 0.35, 1 }

/* lohi (optional, may be NULL): 2 * nz doubles (per slice) or 2 doubles (global) receiving lo, hi. */
tg_status tg_normalize(tg_ctx *ctx, const tg_volume *in, const tg_normalize_opts *opt, tg_volume *out, double *lohi);

#endif
