/* tg_surfaces_fields.h — phase and interface areas with sub-voxel interfaces: marching cubes on real-valued
 * fields (class probabilities, or each phase's indicator smoothed by a Gaussian), z layer by layer.
 *
 * What it computes, for n phases each given by a field F_a (a = 0..n-1) on the voxels:
 *   S_a      the marching-cubes area (m^2) of the surface where F_a stops being the largest field: the zero set of
 *            F_a - max(the other fields, 1 - the sum of all) (opt->argmax, the default with n > 1: the argmax
 *            segmentation's boundary, at sub-voxel precision), or of F_a - level (argmax = 0, or one field);
 *   S_{a∪b}  the same for the pair: max(F_a, F_b) - max(the others, 1 - sum) (argmax), or F_a + F_b - level
 *            (probabilities add, and so do smoothed indicators, since smoothing is linear), when opt->unions;
 *   S_ab     = ½ (S_a + S_b − S_{a∪b}) with the unions, or, for three phases without them, Eq. 1 of
 *            Minnmann et al., JES 171, 060514 (2024): ½ (S_a + S_b − S_c). When the three fields sum to 1 the two
 *            agree: the pair's function is minus the third's (argmax), or F_a + F_b = 1 − F_c has the same
 *            iso-surface at 0.5 as F_c (level); sum_error says how far from 1 the sum is;
 *   the volume of each phase as the sum of its field (soft voxels; for smoothed indicators this is the voxel
 *   count exactly, since the reflecting Gaussian conserves the sum), and the voxels with F_a > level.
 * Two sources:
 *   tg_surfaces_fields    one f32 or f64 volume per phase (e.g. the forest's class probabilities, in [0, 1]);
 *   tg_surfaces_smoothed  a label volume: F_a = the indicator of phase a smoothed by a Gaussian of sigma voxels.
 * Why: marching cubes on a label volume puts every vertex at an edge midpoint, so a smooth interface is measured
 * as its staircase (spheres +8 to +9 %, oblique planes +7 to +13 % in tests/c/test_surfaces_fields.c; Lindblad,
 * Image Vis. Comput. 23 (2005) 111, for the bias by orientation) and every misclassified boundary voxel adds a bump;
 * a field that varies smoothly across the
 * interface puts the vertices where it crosses the level, between voxel centres.
 * Smoothing (sigma > 0): each field is filtered with tg_gaussian_pass (engine/filter/tg_gaussian.h: the sampled
 * Gaussian of scipy.ndimage.gaussian_filter, reflect boundary, radius (int)(truncate sigma + 0.5)) along x, y and z
 * before meshing, with per-axis sigma in voxels (so a physical length on anisotropic voxels). A Gaussian moves the
 * level set of a curved interface towards its centre of curvature by about sigma^2 x mean curvature: for a sphere
 * of radius R the area shrinks by about 2 sigma^2 / R^2 (0.5 % for sigma = 1 and R = 20 voxels), the price for
 * removing the staircase; sigma <= 1 voxel is "light".
 * Conventions: open (default; only cubes inside the volume, scikit-image's marching_cubes on the field) or closed
 * (the field padded by one layer of zeros around the volume, after smoothing, so each phase is closed at the faces).
 * Marching cubes: Lewiner's case resolution (or the classic table), the same tables and decisions as tg_mcubes.h;
 * vertices by linear interpolation on the cube edges.
 *
 * Algorithm: the point layers of the extended domain (the volume, or the volume grown by one zero voxel on each side
 * when closed) are cut along z into tasks of at least max(16, 8 r_z) cube layers (r = the kernel radius per axis).
 * A task walks its layers in order: for each point layer every phase's slice is loaded, smoothed along x and y
 * into a ring of 2 r_z + 1 slices (a task smooths its 2 r_z halo slices again: at most 25 % extra) and combined
 * along z; the function of each set (each phase, and each pair when unions) and one sign bit per set follow; the
 * cube layer between the previous and the current point layer is meshed, a cube only for the sets whose sign bits
 * differ among its 8 corners. Three fields that sum to 1 (within 1e-3, checked: sum_error) need no unions under the
 * argmax rule, since a pair's union is then the third's surface; the Lua layer asks for Eq. 1 then.
 * Cost: per voxel and phase 3 (2r + 1) multiply-adds of smoothing (none when sigma = 0), per voxel and set a few
 * comparisons; a crossed cube is triangulated and its area summed (a few hundred operations). Measured
 * (bench/surfaces.lua, Release, 2 cores, 160^3, three phases, sigma 1, Eq. 1): 0.32 s, against 0.07 s for the
 * label-based tg_surfaces and 4.2 s for scipy's gaussian_filter + scikit-image's marching_cubes on the same fields.
 * Memory: no state per voxel of the volume. Per worker thread: n (2 r_z + 1) slices of nx x ny floats (the ring),
 * one more for the x pass, n + 2 x sets slices of the extended domain (floats) and 2 of sign bits (8 bytes per
 * point); per cube layer one double per set, per slice one double and one count per phase. 1000 x 1000 slices,
 * three phases, sigma 1 (r = 4), Eq. 1: about 170 MB per thread.
 * Threading: the tasks run in parallel (OpenMP, dynamic); a task's numbers do not depend on which thread runs it,
 * and the areas are summed per cube layer then in layer order, the soft volumes per slice then in slice order, so
 * the result does not depend on the thread count (tested: bit-identical). Progress per task; cancel between tasks.
 */
#ifndef TG_SURFACES_FIELDS_H
#define TG_SURFACES_FIELDS_H

#include "core/tg_core.h"
#include "core/tg_volume.h"
#include "measure/tg_surfaces.h"

typedef struct tg_surfaces_fields_opts {
    int convention;  /* TG_SURFACES_OPEN or TG_SURFACES_CLOSED */
    int method;      /* TG_MC_LEWINER or TG_MC_LORENSEN */
    double sigma[3]; /* Gaussian smoothing per axis, voxels (>= 0; all 0 = none) */
    double truncate; /* kernel radius = (int)(truncate * sigma + 0.5) */
    double level;    /* iso-level, default 0.5 */
    int unions;      /* also the iso-surface of F_a + F_b for every pair (needed unless three phases fill) */
    int argmax;      /* 1: a phase's surface is where it stops being the largest field (level unused); 0: F_a = level */
} tg_surfaces_fields_opts;
#define TG_SURFACES_FIELDS_OPTS_INIT {TG_SURFACES_OPEN, TG_MC_LEWINER, {0, 0, 0}, 4.0, 0.5, 1, 1}

typedef struct tg_surfaces_fields_result {
    int nphases;
    double area[TG_SURFACES_MAX_PHASES];                               /* S_a, m^2 */
    double union_area[TG_SURFACES_MAX_PHASES][TG_SURFACES_MAX_PHASES]; /* S_{a∪b}; NaN without unions */
    double interface[TG_SURFACES_MAX_PHASES][TG_SURFACES_MAX_PHASES];  /* S_ab (>= 0); NaN when not defined */
    int interface_formula;                                             /* 1: from unions, 2: Eq. 1, 0: none */
    double soft_voxels[TG_SURFACES_MAX_PHASES];                        /* sum of F_a over the volume */
    int64_t voxels[TG_SURFACES_MAX_PHASES];                            /* voxels with F_a > level */
    double sum_error;          /* max over voxels of |sum_a F_a - 1| (after smoothing) */
    int64_t nan_voxels;        /* field values that were NaN (counted as 0) */
    int64_t total_voxels;
    double volume_m3;          /* of the whole volume */
    int radius[3];             /* kernel radius per axis, voxels */
} tg_surfaces_fields_result;

/* fields[a]: n (1..8) f32 or f64 volumes of equal dims (views allowed); spacing from fields[0]. */
tg_status tg_surfaces_fields(tg_ctx *ctx, const tg_volume *const *fields, int n, const tg_surfaces_fields_opts *opt,
                             tg_surfaces_fields_result *out);

/* labels: u8, u16 or i32; F_a = the indicator of label phases[a], smoothed (opt->sigma may be 0: then this is the
 * raw indicator with every decision taken from the values, as tg_surfaces with smooth = 0 up to ties). */
tg_status tg_surfaces_smoothed(tg_ctx *ctx, const tg_volume *labels, const int64_t *phases, int n,
                               const tg_surfaces_fields_opts *opt, tg_surfaces_fields_result *out);

#endif
