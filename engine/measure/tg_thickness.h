/* tg_thickness.h — local thickness: the diameter of the largest inscribed sphere covering each voxel.
 *
 * For a mask voxel x, thickness(x) = 2 max { R(c) : c in the mask, |x - c| < R(c) }, where R(c) is the exact
 * Euclidean distance from c to the nearest zero voxel (tg_edt); zero voxels get 0. This is the definition of
 * Hildebrand & Rüegsegger, "A new method for the model-independent assessment of thickness in
 * three-dimensional images", J. Microscopy 185 (1997) 67-75, doi:10.1046/j.1365-2818.1997.1340694.x, and of
 * BoneJ's Local Thickness; PoreSpy's local_thickness approximates it with 25 discrete radii and returns radii.
 * Units: metres (diameter), from the volume's spacing; anisotropic spacing is honoured.
 *
 * Algorithm: squared EDT with the spacing normalised by its smallest component (isotropic volumes give exact
 * integers); centres whose ball is contained in a neighbour's ball (R(c') >= R(c) + |c - c'| for one of the 26
 * neighbours) are dropped (Hildebrand's distance-ridge reduction; exact, since containment is then certain);
 * the remaining balls are painted with max() into the output.
 * Cost: O(N) for the EDT and the reduction, plus the summed volume of the ridge balls for the painting
 * (typically a few per cent of the voxels times a ball of radius R). Memory: 8 B/voxel (squared EDT) plus
 * the f32 output (4 B/voxel) plus 16 B per ridge centre.
 * Threading: OpenMP over z-slabs of the output (each slab paints its part of every ball), num_threads(ctx->nthreads);
 * max() makes the result independent of the order and of the thread count.
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
