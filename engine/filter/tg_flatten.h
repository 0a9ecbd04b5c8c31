/* tg_flatten.h — illumination correction: each slice divided by a strongly blurred copy of itself.
 *
 * What: out(x, y, z) = c_z * in(x, y, z) / B(x, y, z), B = the 2D Gaussian blur of slice z (sigma in pixels,
 * per axis x and y), c_z chosen so that slice z keeps its mean exactly. A smooth multiplicative illumination field
 * f(x, y) (in = f * texture) cancels: B ~ f * mean(texture), so out ~ texture * const.
 * This is the paper's "division of the image with a strongly blurred version of itself" (Minnmann et al. 2024),
 * rescaled so every slice keeps its mean grey level.
 * Convention: the blur is tg_gaussian per slice (scipy's mode="reflect", truncate 4). Near the image edges the
 * reflected blur of a gradient is biased by about slope * 0.8 sigma, so choose sigma well below the image
 * size (the Lua default is 1/8 of the larger side); the bias stays within ~2 sigma of the edges.
 * Where B is 0 (only possible where the whole neighbourhood is 0) the output is 0; where B is negative
 * (images with negative values) the division is done as written: flatten is meant for positive intensities.
 * NaN in a slice makes that slice's mean NaN (so the whole slice becomes NaN): remove NaNs first.
 * Output: a new f32 volume for every input dtype (no overflow is possible).
 * Cost: one 2D Gaussian per slice (2 (2r+1) multiply-adds per pixel, r = 4 sigma) + one division.
 * Memory per voxel: 4 bytes (the f32 output, which holds the blur before the division).
 * Threading: OpenMP over rows and slices (through tg_gaussian) and over slices; bit-identical for any thread count.
 */
#ifndef TG_FLATTEN_H
#define TG_FLATTEN_H

#include "core/tg_core.h"
#include "core/tg_volume.h"

typedef struct tg_flatten_opts {
    double sigma[2]; /* Gaussian sigma in pixels along x and y, > 0 */
} tg_flatten_opts;

#define TG_FLATTEN_OPTS_INIT { {50.0, 50.0} }

tg_status tg_flatten(tg_ctx *ctx, const tg_volume *in, const tg_flatten_opts *opt, tg_volume *out);

#endif
