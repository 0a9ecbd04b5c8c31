/* tg_features.h — ilastik's pixel-classification feature set, per channel, computed one z slab at a time.
 *
 * What: for every channel c, every kind k selected and every scale sigma (voxels), the feature columns
 *   gaussian  G_s * I                                      (Gaussian smoothing)                       1 column
 *   log       sum_i d2/dxi2 (G_s * I)                      (Laplacian of Gaussian)                    1 column
 *   gradmag   sqrt(sum_i (d/dxi (G_s * I))^2)              (Gaussian gradient magnitude)              1 column
 *   dog       G_s * I - G_{0.66 s} * I                     (difference of Gaussians)                  1 column
 *   st        eigenvalues of G_{0.5 s} * (grad_s I grad_s I^T), inner scale s, outer scale 0.5 s      2 (2D) / 3 (3D)
 *   hessian   eigenvalues of the Hessian of Gaussian at s                                              2 (2D) / 3 (3D)
 * then, when opts->conv is set, the outputs of a small 3x3 convolution network (tg_conv.h) applied to each
 * slice of each channel.
 * Conventions followed (checked against ilastik's FeatureSelection operators and vigra.filters): DoG uses
 * 0.66 * sigma for the second Gaussian; the structure tensor uses innerScale = sigma, outerScale = 0.5 * sigma
 * (ilastik's current choice); eigenvalues are sorted in descending order (vigra's tensorEigenvalues); in 2D the
 * derivatives are along x and y of each slice (ilastik's "2D" features, z never filtered). Like ilastik's GUI,
 * only `gaussian` is computed at scales below 0.5 voxel (sigma = 0.3): the other kinds are skipped there.
 * The filters are the ones of tg_gaussian.h, i.e. scipy.ndimage's (truncate 4.0, mode "reflect"), not vigra's
 * (window 3.5 sigma, derivative kernels renormalised, boundary mirror): features equal
 *   scipy.ndimage.gaussian_filter(I, s, order=...) combinations within 1e-4 (tests/fixtures/features/).
 * Column order: channel-major, then kind (the order above), then scale (opts order), then component
 * (eigenvalue 1 = largest); conv columns come last, channel-major, then output map. Names: see tg_features_name.
 *
 * Algorithm: separable passes shared between features of one scale: x pass for derivative orders 0,1,2, then y,
 * then z (3 + 6 + 10 passes for every derivative up to order 2 instead of 30; each z pass makes every order
 * needed from its xy volume in one sweep), the structure tensor's six products each smoothed by 3 passes (the
 * product is formed inside the first pass); eigenvalues of symmetric 2x2 in closed form, of symmetric 3x3 by the
 * trigonometric closed form (Smith, CACM 4(4):168, 1961, doi:10.1145/355578.366316), both in double, with
 * cos(acos(r) / 3) evaluated as a polynomial (error < 2e-12) instead of acos and cos. Every pass writes into
 * buffers allocated once per tg_features_slab call and reused for every channel and scale
 * (tg_gaussian_pass), so no memory is freshly allocated (and page-faulted) per pass.
 * Slabs: features of z in [z0, z1) read the channels on [z0 - h, z1 + h) clipped to the volume, h = the largest
 * kernel radius chain (3D: r(s) + r(0.5 s) for the structure tensor; 2D: h = 0), so every slab gives exactly the
 * values of the whole-volume computation; boundary reflection only happens at the real volume faces.
 * Cost: per voxel of slab + halo and scale, about 19 (3D full set) or 12 (3D default) 1D passes of 2r+1 taps
 * (r = (int)(4 s + 0.5)), plus 18 passes for the structure tensor; conv features cost
 * 9 * sum(cin * cout) multiply-adds per voxel and channel (OpenBLAS sgemm).
 * Memory per voxel (on top of the caller's output, nfeat * 4 bytes per voxel of [z0, z1)): the channel's columns,
 *   nfeat / nch * 4 bytes per voxel of [z0, z1) (transposed into the output channel by channel), and f32
 *   temporaries per voxel of the slab plus halo: 3D: 3 + (derivatives needed + 1), at most 14 (56 bytes, full
 *   set); 2D: 2 + (derivatives needed + 1), at most 9 (36 bytes); conv: 2 * max(cout) * 4 bytes per voxel of one
 *   slice plus an im2col block of at most 4 M floats.
 * Threading: OpenMP over rows (tg_gaussian's passes and the per-voxel combinations), num_threads(ctx->nthreads);
 * sgemm runs with OpenBLAS's threads set to ctx->nthreads, outside any parallel region. Every value is computed
 * by the same arithmetic whatever the thread count (bit-identical results).
 * Progress is reported per channel and scale; cancel stops between passes.
 */
#ifndef TG_FEATURES_H
#define TG_FEATURES_H

#include "core/tg_core.h"
#include "core/tg_volume.h"

struct tg_conv_net; /* tg_conv.h */

typedef enum tg_feature_kind {
    TG_FEAT_GAUSSIAN = 0, /* Gaussian smoothing */
    TG_FEAT_LOG,          /* Laplacian of Gaussian */
    TG_FEAT_GRADMAG,      /* Gaussian gradient magnitude */
    TG_FEAT_DOG,          /* difference of Gaussians */
    TG_FEAT_ST,           /* structure-tensor eigenvalues */
    TG_FEAT_HESSIAN,      /* Hessian-of-Gaussian eigenvalues */
    TG_FEAT_NKINDS
} tg_feature_kind;

/* Bit masks of kinds: "default" = the four scalar features, "full" = all six. */
#define TG_FEAT_BIT(k) (1u << (k))
#define TG_FEATURES_DEFAULT \
    (TG_FEAT_BIT(TG_FEAT_GAUSSIAN) | TG_FEAT_BIT(TG_FEAT_LOG) | TG_FEAT_BIT(TG_FEAT_GRADMAG) | TG_FEAT_BIT(TG_FEAT_DOG))
#define TG_FEATURES_FULL (TG_FEATURES_DEFAULT | TG_FEAT_BIT(TG_FEAT_ST) | TG_FEAT_BIT(TG_FEAT_HESSIAN))

#define TG_FEATURES_MAX_SIGMAS 16
#define TG_FEATURES_MAX_SIGMA 64.0    /* largest accepted scale, voxels */
#define TG_FEATURES_MIN_DERIV_SIGMA 0.5 /* below this only `gaussian` is computed (ilastik's rule for 0.3) */

/* ilastik's scales. */
#define TG_FEATURES_ILASTIK_SIGMAS { 0.3, 0.7, 1.0, 1.6, 3.5, 5.0, 10.0 }

typedef struct tg_features_opts {
    int nsigmas;                            /* 1..TG_FEATURES_MAX_SIGMAS */
    double sigmas[TG_FEATURES_MAX_SIGMAS];  /* voxels, each in (0, TG_FEATURES_MAX_SIGMA], distinct */
    unsigned kinds;                         /* OR of TG_FEAT_BIT(kind); non-zero unless conv is set */
    int dims;                               /* 2 = per slice (x, y), 3 = 3D */
    double truncate;                        /* kernel radius = (int)(truncate * sigma + 0.5); 4.0 as scipy */
    const struct tg_conv_net *conv;         /* optional convolution features (borrowed), NULL = none */
} tg_features_opts;

#define TG_FEATURES_OPTS_INIT { 7, TG_FEATURES_ILASTIK_SIGMAS, TG_FEATURES_DEFAULT, 2, 4.0, NULL }

/* Check the options (sigmas, kinds, dims, truncate). Messages start with "segment.features: ". */
tg_status tg_features_check(tg_ctx *ctx, const tg_features_opts *opt);

/* Number of feature columns for nch channels (0 if the options are invalid). */
int tg_features_count(const tg_features_opts *opt, int nch);

/* Name of column i (0-based) into buf (size >= 64 is enough): "ch<c>:<kind>(<sigma>)" for scalar kinds,
 * "ch<c>:<kind>_ev<j>(<sigma>)" for eigenvalues (j = 1 is the largest), "ch<c>:conv<m>" for conv outputs;
 * channel c is 1-based, sigma printed with %g. Example: "ch2:hessian_ev1(1.6)". Returns 0, or -1 if i is
 * out of range (buf then holds ""). */
int tg_features_name(const tg_features_opts *opt, int nch, int i, char *buf, size_t size);

/* z halo (slices) read on each side of a slab in 3D (0 in 2D). */
int tg_features_halo(const tg_features_opts *opt);

/* Check that channels are usable together: nch >= 1, non-empty, identical dims. */
tg_status tg_features_check_channels(tg_ctx *ctx, const tg_volume *const *ch, int nch);

/* Features of every voxel with z in [z0, z1) (0-based, half-open, within the channels' nz).
 * out: row-major (voxels x nfeat) matrix, row ((z - z0) * ny + y) * nx + x, column = feature index;
 * (z1 - z0) * ny * nx * nfeat floats, allocated by the caller. On failure out's contents are unspecified. */
tg_status tg_features_slab(tg_ctx *ctx, const tg_volume *const *ch, int nch, const tg_features_opts *opt,
                           int64_t z0, int64_t z1, float *out);

/* The same features as one plane per feature: out[j] receives feature j of every voxel with z in [z0, z1),
 * index ((z - z0) * ny + y) * nx + x (nfeat pointers to (z1 - z0) * ny * nx floats, owned by the caller). The
 * slab matrix is computed into counted scratch (nfeat floats per voxel), then split into the planes. */
tg_status tg_features_stack(tg_ctx *ctx, const tg_volume *const *ch, int nch, const tg_features_opts *opt,
                            int64_t z0, int64_t z1, float *const *out);

/* Features of n listed voxels: xyz holds n triples (x, y, z), 0-based, in any order (duplicates allowed).
 * out: row-major (n x nfeat), row i = voxel i. Slabs of at most max_slab slices (0 = 32) covering only the
 * slices that hold listed voxels are computed one after the other, so memory stays that of one slab. */
tg_status tg_features_points(tg_ctx *ctx, const tg_volume *const *ch, int nch, const tg_features_opts *opt,
                             const int64_t *xyz, int64_t n, int64_t max_slab, float *out);

/* ---- eigenvalues of symmetric matrices (exposed for the tests) ---- */
/* 2x2 [[a, b], [b, c]]: ev[0] >= ev[1]. */
void tg_sym2_eigenvalues(double a, double b, double c, double ev[2]);
/* 3x3 with upper triangle m = {a00, a01, a02, a11, a12, a22}: ev[0] >= ev[1] >= ev[2]. */
void tg_sym3_eigenvalues(const double m[6], double ev[3]);

#endif
