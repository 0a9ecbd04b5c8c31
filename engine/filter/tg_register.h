/* tg_register.h — slice drift: translation registration by phase correlation, and applying shifts.
 *
 * tg_register — what: for each slice z, the in-plane translation d_z (pixels) of its content relative to the
 * reference slice, "drift" in the convention of tg_sem: content at (x, y) of the reference frame appears at
 * (x + dx, y + dy) of slice z. d_ref = (0, 0).
 * Algorithm: phase correlation (Kuglin & Hines 1975): the ROI of both slices, mean removed, times a separable
 * Hann window, is Fourier transformed (FFTW, real-to-complex); the cross-power spectrum B conj(A) / |B conj(A)|
 * (optionally weighted by a Gaussian low-pass, and with the kx = 0 column and ky = 0 row removed so stripes
 * constant along x or y, such as curtaining, do not pull the estimate to zero) is transformed back; its
 * integer maximum is refined to subpixel by Newton's method on the continuous correlation surface
 * c(d) = Re sum_k W(k) R(k) exp(2 pi i k.d / N) (the exact band-limited interpolation of the correlation, the
 * limit of the upsampled-DFT refinement of Guizar-Sicairos et al. 2008 as its factor grows), started at the vertex
 * of the parabolas through the peak's neighbours and stopped when a step is below 1e-6 px (2-3 steps).
 * Sequential mode (MultiStackReg/StackReg's default): each slice is registered to its neighbour and the pair shifts
 * are accumulated outwards from the reference; fixed mode registers every slice directly to the reference.
 * With neighbours = K > 1 (sequential), each slice is registered to the previous K slices and the absolute shifts
 * are the weighted least-squares solution (weight 1/j for a pair j slices apart, banded Cholesky) of all pair
 * equations s_z - s_{z-j} = d. That averages out pair errors that are independent (noise: on z-invariant
 * structure 0.084 -> 0.063 px RMS with K = 2), but on a structure that changes along z the far pairs are worse
 * and their errors correlated (the generated 200^3 cathode: 3.6 px RMS with K = 1, 4.7 with K = 2, 5-7 with K = 3;
 * the error there is the apparent in-plane motion of inclined features, which no translation model separates from
 * drift), so the default is K = 1. Shifts are limited to less than half the ROI per pair (phase correlation wraps).
 * Cost: each slice's spectrum is computed once per chunk of consecutive pairs (about 4 chunks per thread; a chunk
 *   transforms the K slices before it again): per slice a little over 1 forward r2c FFT of the ROI and K inverse
 *   c2r FFTs (float FFTW plans made once, executed from every thread with the new-array interface), one pass
 *   over the spectrum for the cross-power and 2-4 Newton steps of 3 complex multiply-adds per frequency. With a
 *   low-pass weight <= 0.35 (default 0.3; ROI sides multiples of 4) the integer peak comes from a half-resolution
 *   inverse transform (the central quarter of the spectrum, where the weight is above exp(-0.5 (0.5 / 0.35)^2);
 *   the correlation sampled every 2 px), a quarter of the cost; Newton on the full spectrum refines it.
 *   Memory: nothing per voxel; per thread one ROI of floats, K + 3 half spectra.
 * Threading: OpenMP over chunks of pairs; each pair estimate depends only on its two slices' spectra, which are the
 *   same whichever thread computes them, and the pair shifts are combined serially: bit-identical for any thread
 *   count.
 *
 * tg_shift — what: out(x, y, z) = in(x + dx_z, y + dy_z, z): undoes the drift d_z (sign: pass the result of
 * tg_register as it is; invert = 1 applies the opposite, i.e. creates that drift). Interpolation: linear, or
 * Keys cubic convolution (a = -0.5); sample points outside [0, n-1] get the fill value, or the nearest edge
 * pixel with fill_nearest; neighbours of an inside point that fall outside are clamped to the edge.
 * Output keeps the dtype (integers rounded to nearest and saturated, so cubic overshoot cannot wrap).
 * With crop, the output is the common valid region: the (x, y) whose sample points lie inside every slice
 * (tg_shift_valid_region), so no fill value remains.
 * Cost: 2x2 (linear) or 4x4 (cubic) multiply-adds per voxel. Memory per voxel: the output; per thread 2 rows.
 * Threading: OpenMP over rows; bit-identical for any thread count.
 */
#ifndef TG_REGISTER_H
#define TG_REGISTER_H

#include "core/tg_core.h"
#include "core/tg_volume.h"

typedef enum tg_register_mode { TG_REGISTER_SEQUENTIAL = 0, TG_REGISTER_FIXED = 1 } tg_register_mode;

typedef struct tg_register_opts {
    int64_t roi_lo[2], roi_hi[2]; /* x, y: half-open region of interest; roi_hi[a] = 0 means the whole axis */
    int64_t reference;            /* 0-based index of the slice whose shift is 0 */
    int mode;                     /* TG_REGISTER_SEQUENTIAL: neighbour to neighbour, accumulated (default);
                                   * TG_REGISTER_FIXED: every slice to the reference */
    int subpixel;                 /* 1: Newton refinement; 0: integer shifts */
    int window;                   /* 1: Hann window before the FFT */
    double lowpass;               /* > 0: Gaussian spectral weight exp(-(f / (lowpass f_nyq))^2 / 2); 0 = none (pure phase
                                   * correlation). Default 0.3: interpolation, noise and blur corrupt the phase of the
                                   * high frequencies, which plain phase correlation weighs as much as the low ones */
    int ignore_axes;              /* 1: drop the kx = 0 column and ky = 0 row of the cross-power spectrum */
    double whiten;                /* the cross-power spectrum is divided by |B conj(A)|^whiten: 1 = phase correlation,
                                   * 0 = plain cross-correlation; in between, partial whitening */
    int neighbours;               /* sequential mode: each slice is registered to the previous K slices (K >= 1, at
                                   * most TG_REGISTER_MAX_NEIGHBOURS) and the absolute shifts are the weighted
                                   * least-squares solution of all pair equations s_z - s_{z-j} = d_{z-j,z} (weight 1/j);
                                   * K = 1 is the plain chain. */
} tg_register_opts;

#define TG_REGISTER_MAX_NEIGHBOURS 16
#define TG_REGISTER_OPTS_INIT { {0, 0}, {0, 0}, 0, TG_REGISTER_SEQUENTIAL, 1, 1, 0.3, 1, 1.0, 1 }

/* shifts: 2 * nz doubles receiving (dx, dy) per slice. quality (may be NULL): nz values, the height of the
 * normalised correlation peak of each slice's pair (1 = identical up to translation, ~0 = unrelated; 1 for
 * the reference). The slices must be at least 4 x 4 (the ROI too). */
tg_status tg_register(tg_ctx *ctx, const tg_volume *in, const tg_register_opts *opt, double *shifts, double *quality);

/* Sequential mode in two steps, for stacks read slab by slab: tg_register_pairs gives the shift of each slice k + 1
 * relative to slice k (k = 0 .. nz - 2) into pairs[2k], pairs[2k + 1] and its peak height into quality[k] (mode
 * sequential, neighbours 1; the reference is not used); tg_register_chain accumulates them outward from ref into
 * shifts (2 nz) and gives each slice the quality of its pair toward ref (quality may be pairq: in place). A pair
 * depends only on its two slices, so pairs computed over slabs that overlap by one slice, chained, are tg_register's
 * result bit for bit (tg_register's sequential mode is these two steps). */
tg_status tg_register_pairs(tg_ctx *ctx, const tg_volume *in, const tg_register_opts *opt, double *pairs, double *quality);
void tg_register_chain(int64_t nz, int64_t ref, const double *pairs, const double *pairq, double *shifts, double *quality);
/* What tg_register allocates for nx x ny slices with nthreads (tg_cost, core/tg_core.h): fixed per-thread FFT
 * buffers; the halo is the neighbour count in sequential mode (pairs reach K slices back), 0 in fixed mode. */
void tg_register_cost(const tg_register_opts *opt, int64_t nx, int64_t ny, int nthreads, tg_cost *c);

typedef enum tg_shift_interpolation { TG_SHIFT_LINEAR = 0, TG_SHIFT_CUBIC = 1 } tg_shift_interpolation;

typedef struct tg_shift_opts {
    int interpolation; /* TG_SHIFT_LINEAR or TG_SHIFT_CUBIC (Keys) */
    double fill;       /* value of samples outside the slice */
    int fill_nearest;  /* 1: outside samples take the nearest edge pixel instead of fill (the public fill = "nearest") */
    int invert;       /* 1: apply -shift (move the content by +shift) */
    int crop;         /* 1: output only the common valid region */
    int64_t region_lo[2], region_hi[2]; /* x, y: output only this box [lo, hi) of the frame (overrides crop; a slab of a
                                         * stack gets the region of the whole stack's shifts); hi = 0: not used */
} tg_shift_opts;

#define TG_SHIFT_OPTS_INIT { TG_SHIFT_LINEAR, 0.0, 0, 0, 0, {0, 0}, {0, 0} }

/* shifts: 2 * nz doubles (dx, dy), finite. out: a new volume of the input dtype. */
tg_status tg_shift(tg_ctx *ctx, const tg_volume *in, const double *shifts, const tg_shift_opts *opt, tg_volume *out);

/* The common valid region [lo, hi) in x and y for these shifts (sign as tg_shift with invert). Returns 0, or -1 if
 * it is empty. */
int tg_shift_valid_region(const int64_t dims[3], const double *shifts, int invert, int64_t lo[2], int64_t hi[2]);
/* What tg_shift allocates for an nx x ny x n slab of dtype in with nthreads (tg_cost); halo 0: each output slice
 * depends only on its input slice and shift, so slabs give the in-memory result bit for bit. */
void tg_shift_cost(const tg_shift_opts *opt, tg_dtype in, int64_t nx, int64_t ny, int nthreads, tg_cost *c);

#endif
