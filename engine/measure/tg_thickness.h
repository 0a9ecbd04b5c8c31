/* tg_thickness.h — local thickness: the diameter of the largest inscribed sphere covering each voxel.
 *
 * For a mask voxel x, thickness(x) = 2 max { R(c) : c in the mask, |x - c| < R(c) }, where R(c) is the exact
 * Euclidean distance from c to the nearest zero voxel (tg_edt); zero voxels get 0. This is the definition of
 * Hildebrand & Rüegsegger, "A new method for the model-independent assessment of thickness in
 * three-dimensional images", J. Microscopy 185 (1997) 67-75, doi:10.1046/j.1365-2818.1997.1340694.x, and of
 * BoneJ's Local Thickness; PoreSpy's local_thickness approximates it with 25 discrete radii and returns radii.
 * Units: metres (diameter), from the volume's spacing; anisotropic spacing is honoured.
 *
 * Algorithm (details and proofs of exactness in tg_thickness.c): squared EDT with the spacing normalised by its
 * smallest component (isotropic volumes give exact integers); a ball is dropped when the ball of one of its
 * 124 neighbours (5x5x5) with a radius at least as large contains it, decided exactly with a lookup table of
 * discrete ball containment (Rémy & Thiel, Image Vis. Comput. 23 (2005) 167-175,
 * doi:10.1016/j.imavis.2004.06.007), which keeps 4-34 % of the phase voxels as centres on generated cathodes
 * (Hildebrand's continuous test R(c') >= R(c) + |c - c'| kept 88 %); the kept balls are painted plane by
 * plane in order of decreasing radius, each voxel written once by the first (largest) ball covering it,
 * with a bitmap of unpainted voxels so that a ball's row costs a word test, not its length
 * (Dougherty & Kunzelmann's sphere painting, ImageJ's Local Thickness, with the order and early exit).
 * Cost: O(N) for the EDT and the reduction (124 tests per kept voxel), plus N and the number of (ball, row)
 * pairs for the painting; a 300^3 generated cathode takes 1-3 s per phase on 2 threads.
 * Memory: 8 B/voxel (squared EDT) plus 1/8 B/voxel (centre bitmap) during the reduction, then the f32 output
 * (4 B/voxel) plus 24 B per kept centre; per thread one plane's bitmap; the table is at most 2^18 octant
 * points (balls beyond it, radius > ~63 voxels, use the continuous test).
 * Threading: OpenMP over planes, num_threads(ctx->nthreads); each output plane belongs to one thread and the
 * first cover in decreasing radius is the maximum, so the result does not depend on the thread count.
 * A mask with no zero voxel is an error (the inscribed spheres are unbounded).
 */
#ifndef TG_THICKNESS_H
#define TG_THICKNESS_H

#include "core/tg_core.h"
#include "core/tg_volume.h"

/* out: f32, mask's dims and spacing: local thickness (diameter, metres) inside the mask, 0 outside. */
tg_status tg_thickness(tg_ctx *ctx, const tg_volume *mask, tg_volume *out);

/* Volume-weighted quantiles of the positive values of v (f32 or f64): for each q[i] in [0, 1], the smallest
 * value t such that the fraction of positive voxels with value <= t is at least q[i]. out[i] = 0 when v has
 * no positive value. */
tg_status tg_positive_quantiles(tg_ctx *ctx, const tg_volume *v, int nq, const double *q, double *out);

#endif
