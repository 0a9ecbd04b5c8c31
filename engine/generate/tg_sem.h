/* tg_sem.h — synthetic FIB-SEM images (BSE and SE stacks) of a label volume, with known artefacts.
 *
 * What: for each slice z of a pore/CAM/ISE label volume, a back-scattered (BSE) and a secondary-electron (SE)
 * grey image, u8 (or u16: the same grey scale times 257), with the artefacts that tortuga's filters remove,
 * each with a known amplitude and each off when its amplitude is 0:
 *   - phase contrast. BSE: a grey level per phase (default CAM 200, ISE 120, pore 30; heavy transition metals
 *     scatter more). SE: a weaker phase level (CAM 95, ISE 115, pore 20) plus an edge term: solid pixels near
 *     any phase boundary get brighter by up to `edge`, and those next to a pore by a further `edge` (the bright
 *     rim around the dark pore cavity that makes SE images the pore detector). The edge weight of a pixel is
 *     max over in-plane neighbours q within 2 px of a different phase of (1 - |q - p| / 3).
 *   - drift: a random walk of the slice content, per-slice steps N(0, drift^2) in x and in y, pixels, first slice
 *     zero. Convention: info.drift[z] = (dx, dy) means the content at (x, y) of the undrifted slice z appears
 *     at (x + dx, y + dy): out(x, y) = in(x - dx, y - dy), bilinear interpolation, edge pixels replicated.
 *     Undoing it (registration) means sampling the drifted slice at (x + dx, y + dy), i.e. shifting by -drift.
 *     BSE and SE drift identically (one beam, two detectors).
 *   - blur: in-plane Gaussian of sigma `blur` pixels (the probe size), edges replicated.
 *   - curtaining: additive vertical streaks, as FIB milling leaves them: narrow (FWHM 1-4 px at the default
 *     width), constant along y (the milling direction in the image), of varying strength and sign, persisting
 *     from slice to slice with a strength that changes slowly. Model: x is cut into cells of 4 curtain_width
 *     pixels; each cell holds one streak, a Gaussian profile across x of FWHM curtain_width * U(0.4, 1.6) centred
 *     at a uniform position in the cell (both fixed for the stack: the topography that casts a streak persists
 *     as the face advances), with peak amplitude curtaining * a(z), a(z) value noise along z (N(0, 1) lattice
 *     values every curtain_depth slices, smooth-step interpolated), so streaks fade in and out and flip sign
 *     over a few curtain_depth. The profile c(x) of a slice is the sum of its streaks. Its power sits mostly at
 *     spatial frequencies along x around 1 / (2 curtain_width) and above 1 / (8 curtain_width), i.e. in the
 *     fine wavelet detail bands where the stripe filter of Münch et al. acts.
 *   - illumination: multiplicative, f(x, y) = 1 + illumination * (2 g - 1), g a broad Gaussian spot
 *     (sigma = 0.6 * max(nx, ny)) whose centre wanders slowly and smoothly with z.
 *   - noise: additive Gaussian, standard deviation `noise` grey levels, independent per pixel and detector.
 *   - cap (rows): the protective layer a FIB operator deposits on the surface before milling, imaged above the
 *     specimen in every slice: `cap` extra rows at the top of each image (the output is ny + cap rows tall; the
 *     specimen's row y is image row cap + y), a grainy deposit (BSE about 160 +- 30, SE 0.6 x that + 20; value
 *     noise on a 3-px lattice keyed by the seed alone) with a dark fiducial cross milled into it. It is the same
 *     in every slice before drift, so registering on it (tg.filter.register's roi) recovers the drift exactly,
 *     as operators do; the specimen itself changes from slice to slice and cannot tell drift from structure.
 *     Drift, blur, curtaining, illumination and noise act on the whole frame; the edge term is not added in the
 *     cap.
 * Order of the chain (the physics): phase image -> drift (the specimen moves) -> blur (the probe) ->
 * curtaining (milling topography) -> illumination (detector geometry) -> noise -> round and saturate.
 * Levels, edge, noise and curtaining amplitudes are on the u8 scale (0-255) for both output dtypes.
 *
 * Cost: O(N (1 + blur radius)) per detector, a few ns per pixel plus one Philox block per pixel pair for noise.
 * Memory per voxel: the two outputs (2 bytes u8, 4 bytes u16); per thread 4 float slices of scratch.
 * Threading: OpenMP over slices with num_threads(ctx->nthreads). Every random number is keyed by
 * (seed, purpose, slice, pixel), the drift walk is drawn serially first: bit-identical for any thread count.
 */
#ifndef TG_SEM_H
#define TG_SEM_H

#include "core/tg_core.h"
#include "core/tg_volume.h"

typedef struct tg_sem_opts {
    int label[3];          /* label values of pore, CAM, ISE (every voxel must hold one of them) */
    double bse[3];         /* BSE grey level of pore, CAM, ISE */
    double se[3];          /* SE grey level of pore, CAM, ISE */
    double edge;           /* SE edge brightness, grey levels (0 = off) */
    double noise;          /* std of the additive noise, grey levels (0 = off) */
    double drift;          /* std of the per-slice drift step, pixels (0 = off) */
    double curtaining;     /* std of the streaks' peak amplitude, grey levels (0 = off) */
    double curtain_width;  /* mean streak FWHM across x, pixels (> 0); one streak per 4 widths */
    double curtain_depth;  /* correlation of the streak strength along z, slices (> 0) */
    double illumination;   /* relative amplitude of the illumination field, [0, 1) (0 = off) */
    double blur;           /* Gaussian sigma in pixels (0 = off) */
    uint64_t seed;
    tg_dtype dtype;        /* TG_U8 or TG_U16 */
    int64_t cap;           /* rows of protective cap above the specimen, with a fiducial cross (0 = none) */
} tg_sem_opts;

#define TG_SEM_OPTS_INIT                                                                         \
    {                                                                                            \
        {0, 1, 2}, {30, 200, 120}, {20, 95, 115}, 60, 6, 0.5, 8, 2.5, 20, 0.15, 0.8, 1, TG_U8, 0   \
    }

typedef struct tg_sem_info {
    int64_t nz;
    double *drift; /* nz pairs (dx, dy), pixels, drift[0] = drift[1] = 0 (tg_malloc'd; tg_sem_info_free) */
} tg_sem_info;

tg_status tg_sem_check(tg_ctx *ctx, const tg_sem_opts *opt);

/* labels: u8, u16 or i32 volume (views allowed). bse, se: new volumes of opt->dtype with the labels' dims (ny + cap
 * rows) and spacing. info may be NULL. On failure the outputs stay empty. */
tg_status tg_sem(tg_ctx *ctx, const tg_volume *labels, const tg_sem_opts *opt, tg_volume *bse, tg_volume *se,
                 tg_sem_info *info);

void tg_sem_info_free(tg_sem_info *info);

#endif
