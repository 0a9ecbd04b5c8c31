/* tg_gaussian.h — separable Gaussian smoothing and Gaussian derivative filters, 2D per slice or 3D.
 *
 * What: out = in * G_sx^(ox) (x) * G_sy^(oy) (y) * G_sz^(oz) (z), one 1D pass per axis whose sigma is > 0,
 * G^(0) the sampled, normalised Gaussian, G^(1), G^(2) its first and second derivatives.
 * Convention: exactly scipy.ndimage.gaussian_filter(in, sigma, order, mode="reflect", truncate=4.0):
 *   - kernel radius r = (int)(truncate * sigma + 0.5); weights exp(-x^2 / (2 sigma^2)) for x = -r..r, divided by
 *     their sum; derivative kernels multiply these by the polynomial of scipy's _gaussian_kernel1d
 *     (order 1: -x / sigma^2, order 2: (x^2 - sigma^2) / sigma^4), not renormalised; applied as a convolution,
 *     so an increasing ramp has a positive first derivative;
 *   - boundary "reflect" = half-sample symmetric (d c b a | a b c d | d c b a), periodic with period 2n, so
 *     kernels wider than the axis are fine;
 *   - sigma and axes in voxels (the Lua layer converts metres using the spacing); an axis with sigma 0 is not
 *     filtered (as scipy skips it); per_slice never filters along z.
 *   - like scipy with a float32 output, each pass stores its result as f32 before the next axis.
 * Output: a new contiguous f32 volume for every input dtype (u8, u16, i32, f32, f64 — f64 is computed in f32).
 * Integer inputs cannot overflow: the output is float. NaN in the input spreads over the kernel's support.
 * Cost: sum over filtered axes of (2r + 1) multiply-adds per voxel (symmetric kernels use r + 1 multiplies),
 *   vectorised along x rows in every pass. Memory per voxel: 4 bytes (the f32 output); per thread one block of
 *   max(ny, nz) x 256 floats plus one padded row.
 * Threading: OpenMP over (z, y) rows for the x pass and over (slice or row, 256-column block) for the y and z
 *   passes; every output value is computed by the same arithmetic whatever the thread count (bit-identical).
 * Progress is reported per pass; cancel stops between rows.
 * Streaming (tg_gaussian_cost): the halo along z is the z kernel's radius (0 per slice); every voxel is the same
 * weighted sum of the same neighbours wherever the slab starts, so a slab with that halo gives the in-memory result
 * bit for bit.
 */
#ifndef TG_GAUSSIAN_H
#define TG_GAUSSIAN_H

#include "core/tg_core.h"
#include "core/tg_volume.h"

typedef struct tg_gaussian_opts {
    double sigma[3];  /* per axis, voxels, >= 0 (0 = axis not filtered); at least one > 0 */
    int order[3];     /* derivative order per axis: 0, 1 or 2 (needs sigma > 0 on that axis) */
    int per_slice;    /* non-zero: 2D filter of each slice (z is never filtered) */
    double truncate;  /* kernel radius = (int)(truncate * sigma + 0.5), truncate > 0 */
} tg_gaussian_opts;

#define TG_GAUSSIAN_OPTS_INIT { {1.0, 1.0, 1.0}, {0, 0, 0}, 0, 4.0 }

/* Largest supported kernel radius (sigma * truncate up to this many voxels). */
#define TG_GAUSSIAN_MAX_RADIUS 100000

/* Kernel radius of scipy: (int)(truncate * sigma + 0.5). */
int tg_gaussian_radius(double sigma, double truncate);
/* The 2r+1 convolution weights (as scipy's correlate1d receives them: w[j] multiplies in[i + j - r]).
 * order 0, 1 or 2. w must hold 2 * tg_gaussian_radius(sigma, truncate) + 1 doubles. */
void tg_gaussian_kernel(double sigma, int order, double truncate, double *w);

/* out: a new f32 volume (out must not be in). */
tg_status tg_gaussian(tg_ctx *ctx, const tg_volume *in, const tg_gaussian_opts *opt, tg_volume *out);

/* What tg_gaussian allocates for an nx x ny x n slab with nthreads: 4 bytes per voxel (the output) plus a block line
 * per slice per thread, fixed per-thread rows and kernels; the halo is the z kernel's radius (tg_cost: core/tg_core.h). */
void tg_gaussian_cost(const tg_gaussian_opts *opt, int64_t nx, int64_t ny, int nthreads, tg_cost *c);

/* ---- passes into caller-owned buffers (feature stacks sharing passes; no allocation per pass) ----
 * tg_gaussian_pass: one 1D pass along `axis` (0 = x, 1 = y, 2 = z) of the contiguous f32 volume `in` of `dims`
 * (x fastest), for n = 1..3 derivative orders at once: out[k] = in (*) G_sigma^(orders[k]) along that axis, with the
 * arithmetic of that axis's pass in tg_gaussian — so chaining x, y (and z) passes gives tg_gaussian's f32 values
 * bit for bit. The input line (block) is read once for all n outputs.
 * in2 (may be NULL): the input is then the voxelwise product in * in2, rounded to f32 (as if stored first).
 * out[k]: contiguous f32 buffers of dims, owned by the caller, each distinct from in and in2; nothing is allocated.
 * work: scratch from tg_gaussian_work_new, made for at least these dims and this kernel radius, reused between
 * passes (one work per concurrent caller); it also fixes the thread count (min(ctx->nthreads, its own)).
 * Cost and threading as tg_gaussian's pass along that axis. Cancel stops between rows (TG_ERR_CANCELLED); no
 * progress is reported (the caller reports). Memory of a work: per thread max(ny, nz) x 256 + nx + 2 rmax + 256
 * floats; none per voxel. */
typedef struct tg_gaussian_work tg_gaussian_work;
tg_status tg_gaussian_work_new(tg_ctx *ctx, const int64_t dims[3], int rmax, tg_gaussian_work **work);
void tg_gaussian_work_free(tg_gaussian_work *work); /* NULL is fine */
tg_status tg_gaussian_pass(tg_ctx *ctx, tg_gaussian_work *work, const float *in, const float *in2,
                           const int64_t dims[3], int axis, double sigma, double truncate, int n, const int *orders,
                           float *const *out);

#endif
