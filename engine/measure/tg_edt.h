/* tg_edt.h — exact Euclidean distance transform with anisotropic spacing.
 *
 * For every nonzero voxel of an integer mask, the distance from its centre to the nearest zero voxel's centre;
 * zero voxels get 0. Distances are in metres from the volume's spacing (spacing 1 = voxel units), so with
 * spacing {1,1,1} the result equals scipy.ndimage.distance_transform_edt(mask) and with spacing s it equals
 * distance_transform_edt(mask, sampling=(sz, sy, sx)). The volume faces are not boundaries: a voxel next to a
 * face is as far from the background as the nearest zero inside the volume. A mask without any zero voxel has
 * no defined distance and is an error (scipy returns distances to an arbitrary outside point there).
 *
 * Algorithm: separable squared EDT. Pass 1 (x) finds the distance to the nearest zero in each row by two sweeps;
 * passes 2 (y) and 3 (z) take the lower envelope of parabolas w (q - p)^2 + f(p), w = spacing^2 — Felzenszwalb &
 * Huttenlocher, "Distance transforms of sampled functions", Theory of Computing 8 (2012) 415-428,
 * doi:10.4086/toc.2012.v008a019 (the same separable scheme as Meijster et al. 2000). Exact: squared distances of
 * integer offsets are exact in double for isotropic spacing.
 * Cost: O(N) per pass, three passes. Memory: the output (8 B/voxel for f64, 4 for f32) plus per thread
 * O(8 * n) line buffers; nothing else per voxel.
 * Threading: OpenMP over planes, num_threads(ctx->nthreads); each line is computed independently, so results do
 * not depend on the thread count.
 */
#ifndef TG_EDT_H
#define TG_EDT_H

#include "core/tg_core.h"
#include "core/tg_volume.h"

typedef struct tg_edt_opts {
    tg_dtype dtype; /* output: TG_F64 (default, as scipy) or TG_F32 */
    int squared;    /* 1: squared distances (m^2), no square root */
} tg_edt_opts;
#define TG_EDT_OPTS_INIT {TG_F64, 0}

/* out: allocated, mask's dims and spacing. opt may be NULL (defaults). */
tg_status tg_edt(tg_ctx *ctx, const tg_volume *mask, const tg_edt_opts *opt, tg_volume *out);

/* Squared distances with explicit spacing (used by local thickness with normalised spacing, so isotropic
 * volumes give exact integers). out: f64 or f32 as out_dtype. */
tg_status tg_edt_squared(tg_ctx *ctx, const tg_volume *mask, const double spacing[3], tg_dtype out_dtype, tg_volume *out);

#endif
