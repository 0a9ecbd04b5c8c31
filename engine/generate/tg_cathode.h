/* tg_cathode.h — a synthetic composite-cathode microstructure: pore / CAM / ISE label volume.
 *
 * What it makes: a u8 label volume of a cold-pressed composite cathode (e.g. NCM + Li6PS5Cl) with
 *     pore = 0, CAM (cathode active material) = 1, ISE (inorganic solid electrolyte) = 2,
 * whose phase fractions hit the requested targets by construction, and optionally an i32 volume of ISE
 * grain ids (1-based; 0 on CAM and pores) that tg_sem can use to texture the electrolyte.
 *
 * Algorithm (all lengths in metres; voxel (i,j,k) has its centre at ((i+.5)sx, (j+.5)sy, (k+.5)sz), so
 * anisotropic spacing is honoured):
 *  1. CAM: polydisperse spheres, diameters log-normal (median cam_d50, geometric std exp(cam_sigma), clipped
 *     at ±3 sigma and at 2 voxels), drawn one particle at a time from a counter-based RNG keyed by
 *     (seed, particle index). Placement is random sequential addition, NON-PERIODIC: a sphere of radius r
 *     has its centre uniform in the box grown by r on every side, so the volume is a crop of an
 *     infinite sample (no depleted layer at the faces, particles are cut by the faces). With probability
 *     cam_clustering the sphere is instead put in contact with a random earlier particle (CAM clusters).
 *     Two particles may interpenetrate by at most cam_overlap x the smaller radius; after 100 failed tries
 *     the limit is relaxed step by step so dense targets still terminate. Each accepted sphere is
 *     rasterised at once and the new CAM voxels counted; the sphere that would overshoot the target has its
 *     radius bisected so the CAM voxel count lands on round(cam_fraction * N) (to within the few voxels
 *     that share one distance from its centre). Sequential and deterministic.
 *  0. Optional (ise_cores > 0): ISE particle cores first. Spheres of the ISE size distribution are packed without
 *     overlap until they cover ise_cores of the box; the CAM particles of step 1 may not overlap them beyond
 *     cam_overlap, and they are the seeds of step 2. Large electrolyte particles then push the CAM into the
 *     spaces between them (CAM clusters), as ball-milling to a smaller ISE size undoes: the paper's mechanism
 *     for the lower CAM-ISE contact and higher ionic tortuosity of its coarse electrolyte.
 *  2. ISE: a Laguerre (power) tessellation of the space left, seeds at density 1 / E[pi d^3 / 6] with d
 *     log-normal (median ise_d50, ise_sigma), seeds falling inside CAM discarded, weight r^2. Each
 *     non-CAM voxel belongs to the grain of its nearest seed in power distance.
 *  3. Pores: exactly round(porosity * N) voxels, chosen by ranking two score fields (lowest first, ties by
 *     voxel index, so the count is exact and deterministic):
 *       - a share pore_cam_share in the gaps between CAM particles: score d1 + d2, the distances to the
 *         surfaces of the two nearest CAM particles (small at CAM-CAM contacts, i.e. in CAM clusters,
 *         where rigid CAM leaves voids the electrolyte cannot fill — Minnmann et al., JES 171, 060514 (2024));
 *       - the rest at ISE grain junctions: score max(b12, b13), the distances to the power bisectors of the
 *         nearest seed with the second and third nearest (small on the triple lines between grains).
 *     Both scores get value noise (lattice spacing ise_d50 / 4, amplitude pore_roughness x that spacing), so
 *     pores are irregular blobs whose size follows the ISE grain size rather than perfect neck rings.
 *
 * Cost: step 1 is O(CAM voxels) sequential (a few ms at 200^3); steps 2-3 are O(N * k) with k ~ 10-30
 * candidate particles per voxel, found per 8^3 block through a uniform grid. Measured (bench/generate.lua,
 * Release, 2 cores): 0.34 s for 200^3, 2.6 s for 400^3 (about 2.4e7 voxels/s).
 * Memory per voxel: 1 byte (labels, the output) + 4 bytes (f32 score, freed before return)
 * + 4 bytes if the grain volume is requested. Particles: 32 bytes each.
 * Threading: steps 2-3 run OpenMP over (y, z) block rows with num_threads(ctx->nthreads); every voxel is
 * computed independently from the particle list and the selection counts are integers summed per slice,
 * so the result is bit-identical for any thread count. Progress and cancellation are checked per block row.
 */
#ifndef TG_CATHODE_H
#define TG_CATHODE_H

#include "core/tg_core.h"
#include "core/tg_volume.h"

enum { TG_CATHODE_PORE = 0, TG_CATHODE_CAM = 1, TG_CATHODE_ISE = 2 };

typedef struct tg_cathode_opts {
    int64_t size[3];       /* voxels along x, y, z (>= 1) */
    double spacing[3];     /* metres (> 0) */
    double cam_fraction;   /* target CAM volume fraction, [0, 1) */
    double cam_d50;        /* median CAM diameter, metres (> 0) */
    double cam_sigma;      /* log-normal sigma of CAM diameters (>= 0; 0 = monodisperse) */
    double cam_overlap;    /* allowed interpenetration, fraction of the smaller radius, [0, 1] */
    double cam_clustering; /* probability that a particle is placed touching an earlier one, [0, 1] */
    double ise_d50;        /* median ISE grain diameter, metres (> 0) */
    double ise_sigma;      /* log-normal sigma of ISE grain diameters (>= 0) */
    double porosity;       /* target pore fraction, [0, 1), cam_fraction + porosity < 1 */
    double pore_cam_share; /* share of the pore voxels put in CAM-CAM gaps (rest at ISE grain junctions), [0, 1] */
    double pore_roughness; /* amplitude of the noise that shapes pore blobs (>= 0; 0 = smooth scores) */
    uint64_t seed;
    double ise_cores;      /* [0, 0.9]: fraction of the box covered by ISE particle cores placed before the CAM (0: none) */
} tg_cathode_opts;

#define TG_CATHODE_OPTS_INIT                                                                    \
    {                                                                                           \
        {200, 200, 200}, {1e-7, 1e-7, 1e-7}, 0.5, 4e-6, 0.3, 0.15, 0.3, 5e-6, 0.3, 0.08, 0.7, 1.0, 1, 0.0 \
    }

typedef struct tg_ball {
    double c[3]; /* centre, metres, in the volume's frame (may lie outside the box) */
    double r;    /* radius, metres */
} tg_ball;

typedef struct tg_cathode_info {
    int64_t count[3];    /* voxels of pore, CAM, ISE */
    double fraction[3];  /* the same divided by the voxel count */
    int64_t n_cam;       /* CAM particles placed (those touching the box: see cam) */
    int64_t n_ise;       /* ISE grains (Laguerre seeds outside CAM) */
    tg_ball *cam;        /* the n_cam CAM particles (tg_malloc'd; tg_cathode_info_free) */
    uint64_t seed;
} tg_cathode_info;

/* Check the options; on error writes a message naming the option and returns TG_ERR_ARG. */
tg_status tg_cathode_check(tg_ctx *ctx, const tg_cathode_opts *opt);

/* Generate. labels receives a new u8 volume (spacing set); grains may be NULL, else receives a new i32 volume
 * of ISE grain ids; info may be NULL. On failure the outputs stay empty. */
tg_status tg_cathode(tg_ctx *ctx, const tg_cathode_opts *opt, tg_volume *labels, tg_volume *grains,
                     tg_cathode_info *info);

void tg_cathode_info_free(tg_cathode_info *info);

#endif
