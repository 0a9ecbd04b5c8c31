/* tg_destripe.h — the combined wavelet–Fourier stripe filter (curtaining removal).
 *
 * What: B. Münch, P. Trtik, F. Marone, M. Stampanoni, "Stripe and ring artifact removal with combined
 * wavelet–Fourier filtering", Optics Express 17, 8567 (2009), doi:10.1364/OE.17.008567 — the method of
 * Fiji Xlib's "Stripes Filter". For each slice:
 *   1. 2D discrete wavelet transform with the Daubechies wavelet dbN to L levels (separable, rows then columns);
 *   2. at every level, the detail band that holds the stripes — for vertical stripes (constant along y, the FIB
 *      milling direction) the vertical detail cV (high-pass along x, low-pass along y); for horizontal stripes
 *      cH — is Fourier transformed along the stripes (y for vertical) and multiplied by
 *      1 - exp(-k^2 / (2 sigma^2)), k the integer frequency index (0 .. n/2) of that band: the Gaussian notch
 *      removes what is constant or slowly varying along the stripe;
 *   3. inverse FFT and inverse wavelet transform.
 * Conventions: wavelet filters and boundary handling as MATLAB's dwt2/idwt2 with 'sym' and PyWavelets'
 * "symmetric" mode: half-sample symmetric extension, band length floor((n + F - 1) / 2) for filter length
 * F = 2N, reconstruction cropped to the original size. Without damping the transform reconstructs the input
 * to float rounding. tg_daubechies computes the filter by spectral factorisation (minimum phase, as
 * Daubechies 1988 / pywt's dbN "rec_lo"), not from a table.
 * Output: a new f32 volume for any input dtype. NaN in a slice spreads over that slice: remove NaNs first.
 * Cost per pixel: about 4 F multiply-adds per level for the transforms (the bands shrink 4x per level) plus
 *   one real FFT per band column, O(log n).
 * Memory per voxel: 4 bytes (the output); per thread about 5 slices of floats of workspace.
 * Threading: OpenMP over slices (FFTW plans are made once, executed with the new-array interface from every
 *   thread); bit-identical for any thread count.
 * Streaming (tg_destripe_cost): slice by slice, no halo; FFTW's plans (FFTW_ESTIMATE, the same alignment) do not
 *   depend on the slice count, so a slab gives the in-memory result bit for bit. FFTW's own plan memory is not counted.
 */
#ifndef TG_DESTRIPE_H
#define TG_DESTRIPE_H

#include "core/tg_core.h"
#include "core/tg_volume.h"

#define TG_DAUBECHIES_MAX 20

typedef enum tg_destripe_direction { TG_DESTRIPE_VERTICAL = 0, TG_DESTRIPE_HORIZONTAL = 1 } tg_destripe_direction;

typedef struct tg_destripe_opts {
    int levels;     /* wavelet decomposition levels, >= 1 (at most tg_destripe_max_levels) */
    int wavelet;    /* Daubechies order N, 1..TG_DAUBECHIES_MAX (db1 = Haar) */
    double sigma;   /* width of the Gaussian notch, in frequency indices, > 0 */
    int direction;  /* of the stripes: TG_DESTRIPE_VERTICAL (constant along y, the default) or TG_DESTRIPE_HORIZONTAL */
} tg_destripe_opts;

#define TG_DESTRIPE_OPTS_INIT { 3, 4, 0.5, TG_DESTRIPE_VERTICAL } /* see lua/tortuga/filter.lua: meet the targets on generated curtaining */

/* The 2N minimum-phase Daubechies scaling filter (PyWavelets' dbN rec_lo), sum sqrt(2), sum of squares 1.
 * Returns 0, or -1 if order is outside 1..TG_DAUBECHIES_MAX. */
int tg_daubechies(int order, double *h);

/* The deepest level for an nx x ny slice with dbN: levels are added while the band to split is at least 2F = 4N long
 * (band lengths n_l = floor((n_{l-1} + F - 1) / 2)); 0 if the slice is too small for one level. This allows a level or
 * two more than PyWavelets' dwt_max_level, as Münch et al. use deep decompositions. */
int tg_destripe_max_levels(int64_t nx, int64_t ny, int order);

tg_status tg_destripe(tg_ctx *ctx, const tg_volume *in, const tg_destripe_opts *opt, tg_volume *out);

/* What tg_destripe allocates for an nx x ny x n slab with nthreads (tg_cost, core/tg_core.h); halo 0. */
void tg_destripe_cost(const tg_destripe_opts *opt, int64_t nx, int64_t ny, int nthreads, tg_cost *c);

#endif
