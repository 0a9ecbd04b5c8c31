/* tg_surfaces.h — surface area of each phase and interface area of each pair, by marching cubes, streamed.
 *
 * What it computes, for the phases a = phases[0..n-1] of a label volume:
 *   S_a      the marching-cubes area (m^2) of the indicator of phase a at level 0.5 (tg_mcubes.h conventions);
 *   S_{a∪b}  the same for the union of phases a and b;
 *   S_ab     = ½ (S_a + S_b − S_{a∪b}), the interface area between a and b (for three phases filling the
 *            volume this is Eq. 1 of Minnmann et al., JES 171, 060514 (2024), up to the ambiguity resolution:
 *            the union's surface and the third phase's surface differ where ambiguous faces are decided);
 *   the voxel count of each phase.
 * Conventions: open (no padding, scikit-image's marching_cubes(mask, 0.5) + mesh_surface_area on the raw
 * indicator) or closed (a layer below the level around the volume). smooth: the 7-voxel cross mean first;
 * closed + smooth is PoreSpy's region_surface_areas (zero padding, cross mean, marching cubes at half the
 * maximum of the smoothed field, normally 0.5).
 *
 * Algorithm: one streaming pass over the cube layers (two slices of labels at a time). Without smoothing every
 * cube of binary data has a fixed triangulation, so each phase set only needs a histogram of the 256 corner
 * configurations; the area is the histogram times the area of each configuration at the volume's spacing
 * (Lewiner's tables, which match scikit-image's triangle areas exactly). Cubes whose 8 labels agree are
 * skipped at once. With smoothing each cube's vertices are interpolated and its triangles summed, one pass per
 * phase set (n + n(n-1)/2 passes).
 *
 * Cost: O(N) per pass; the binary pass costs a few ns per cube. Memory: no per-voxel state: per thread two
 * padded slices of phase bits (nx+4)(ny+4) bytes (five plus two float slices when smoothing) and
 * 256 x 8 bytes per phase set.
 * Threading: OpenMP over cube layers with num_threads(ctx->nthreads); histograms are integers (exact) and
 * smoothed areas are summed per layer then added in layer order, so results do not depend on the thread count.
 * Not computed: the triple-phase boundary length (where three phases meet).
 */
#ifndef TG_SURFACES_H
#define TG_SURFACES_H

#include "core/tg_core.h"
#include "core/tg_volume.h"
#include "measure/tg_mcubes.h"

#define TG_SURFACES_MAX_PHASES 8

typedef struct tg_surfaces_opts {
    int nphases;
    int64_t phases[TG_SURFACES_MAX_PHASES]; /* label values */
    int closed;                             /* 0 open, 1 closed */
    int smooth;                             /* 7-voxel cross mean first */
    int method;                             /* TG_MC_LEWINER or TG_MC_LORENSEN */
} tg_surfaces_opts;
#define TG_SURFACES_OPTS_INIT {0, {0}, 0, 0, TG_MC_LEWINER}

typedef struct tg_surfaces_result {
    int nphases;
    double area[TG_SURFACES_MAX_PHASES];                                   /* S_a, m^2 */
    double union_area[TG_SURFACES_MAX_PHASES][TG_SURFACES_MAX_PHASES];     /* S_{a∪b}, a < b */
    double interface[TG_SURFACES_MAX_PHASES][TG_SURFACES_MAX_PHASES];      /* S_ab, a < b (symmetric) */
    int64_t voxels[TG_SURFACES_MAX_PHASES];
    int64_t total_voxels;
    double volume_m3; /* of the whole label volume */
} tg_surfaces_result;

tg_status tg_surfaces(tg_ctx *ctx, const tg_volume *labels, const tg_surfaces_opts *opt, tg_surfaces_result *out);

#endif
