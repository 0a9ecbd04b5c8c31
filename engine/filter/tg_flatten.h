/* tg_flatten.h — illumination correction: each slice divided by a strongly blurred copy of itself.
 *
 * What: out(x, y, z) = c_z * in(x, y, z) / B(x, y, z), c_z chosen so that slice z keeps its mean exactly. A smooth
 * multiplicative illumination f (in = f * texture) cancels where B ~ f * local mean of the texture. B by order:
 *   0 (default): the 2D Gaussian blur of the slice (tg_gaussian per slice: scipy's mode="reflect", truncate 4) —
 *     the paper's "division of the image with a strongly blurred version of itself" (Minnmann et al. 2024). Its
 *     faults: near the edges the reflected blur of a gradient is biased by ~0.8 sigma times the slope (2.3 % left
 *     at the edges of tests/c/test_filters.c's 30 % gradient), and a curved field is biased by sigma^2 / 2 times
 *     its Laplacian (9.5 % of tg.generate.sem's illumination spot left in tests/spec/filter_spec.lua).
 *   1, 2: the Gaussian-weighted local polynomial fit (order 2: 1, dx, dy, dx^2, dy^2, dx dy; order 1: 1, dx, dy) of
 *     the slice's pixels in least squares, weights exp(-(dx^2 / sx^2 + dy^2 / sy^2) / 2) truncated at 4 sigma,
 *     evaluated at the point. Exact for an affine (order 1) or quadratic (order 2) illumination up to the edges:
 *     0.02 % of the gradient and 0.8 % of the spot left (order 2) in the same tests. Away from the edges order 1
 *     equals the plain blur. The price: the fit follows more of the sample's own large-scale composition changes,
 *     and near the edges (within 4 sigma) it extrapolates with more variance; on small slices with a sigma near
 *     the slice size this removes phase contrast (tests/spec/segment_spec.lua's 120 px slices with sigma 15:
 *     accuracy 98.2 % with order 0, 95.4 % with order 1, 91.8 % with order 2). Choose sigma several particle sizes
 *     wide and well below the slice size.
 *     B is computed on a coarse grid of step max(1, floor(sigma / 8)) pixels per axis and interpolated by Keys
 *     cubic convolution (exact for quadratics).
 * Where B is 0 the output is 0; where B is negative (images with negative values) the division is done as
 * written: flatten is meant for positive intensities.
 * NaN in a slice makes that slice's mean NaN (so the whole slice becomes NaN): remove NaNs first.
 * Output: a new f32 volume for every input dtype (no overflow is possible).
 * Cost per slice: order 0: one 2D Gaussian (2 (2r+1) multiply-adds per pixel, r = 4 sigma) + one division;
 *   orders 1-2: a row pass of 3 (2 rx + 1) multiply-adds per image row and coarse column (about 200 per pixel for
 *   sigma >= 8, independent of sigma), a column pass and a 6x6 (3x3) solve per coarse point, then 16
 *   multiply-adds per pixel for the interpolation.
 * Memory per voxel: 4 bytes (the f32 output); orders 1-2 per thread 3 (ny x nx / h) + (ny / h)(nx / h) doubles.
 * Threading: OpenMP over slices (and rows, through tg_gaussian); bit-identical for any thread count.
 * Streaming (tg_flatten_cost): slice by slice, no halo; each slice's result depends on that slice alone.
 */
#ifndef TG_FLATTEN_H
#define TG_FLATTEN_H

#include "core/tg_core.h"
#include "core/tg_volume.h"

typedef struct tg_flatten_opts {
    double sigma[2]; /* Gaussian sigma in pixels along x and y, > 0 */
    int order;       /* 0: Gaussian blur (reflect), the default; 1, 2: local linear / quadratic fit (see above) */
} tg_flatten_opts;

#define TG_FLATTEN_OPTS_INIT { {50.0, 50.0}, 0 }

tg_status tg_flatten(tg_ctx *ctx, const tg_volume *in, const tg_flatten_opts *opt, tg_volume *out);

/* What tg_flatten allocates for an nx x ny x n slab with nthreads (tg_cost, core/tg_core.h); halo 0. */
void tg_flatten_cost(const tg_flatten_opts *opt, int64_t nx, int64_t ny, int nthreads, tg_cost *c);

#endif
