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
 *
 * Triple-phase boundary (TPB) length, by edge counting: a voxel edge is the segment shared by four voxels
 * (e.g. an edge along x at column x lies between (x, y, z), (x, y+1, z), (x, y, z+1), (x, y+1, z+1)); it is a
 * TPB edge of the triple (a, b, c) when its four voxels hold all three phases, and it has the length of the
 * voxel side along it (spacing along x, y or z). The TPB length is the summed length of these edges. This is
 * the voxel-edge counting used for SOFC electrodes since the first FIB-SEM reconstructions (Wilson et al.,
 * Nature Materials 5 (2006) 541-544, doi:10.1038/nmat1668; Iwai et al., J. Power Sources 195 (2010)
 * 955-961, doi:10.1016/j.jpowsour.2009.09.005; accuracy discussed by Jørgensen et al., J. Power Sources 261
 * (2014) 198-205, doi:10.1016/j.jpowsour.2014.03.061). It is exact for lines along the axes: three phases
 * meeting along a straight line along x through the whole volume give nx * spacing_x. A line of any other
 * direction u is counted as its staircase, longer by |ux| + |uy| + |uz| (isotropic spacing); averaged over
 * uniformly random directions that factor is 3/2, so multiplying by 2/3 estimates the length of an isotropic
 * TPB network (the Lua layer's tpb_correction option). Only edges with all four voxels inside the volume
 * exist, so the convention (open or closed) and smoothing do not change it; it costs nothing beyond the
 * binary pass (the four-voxel unions are taken from the cube being read).
 */
#ifndef TG_SURFACES_H
#define TG_SURFACES_H

#include "core/tg_core.h"
#include "core/tg_volume.h"
#include "measure/tg_mcubes.h"

#define TG_SURFACES_MAX_PHASES 8
#define TG_SURFACES_MAX_TRIPLES 56 /* C(8, 3) */

typedef enum tg_surfaces_convention { TG_SURFACES_OPEN = 0, TG_SURFACES_CLOSED = 1 } tg_surfaces_convention;

typedef struct tg_surfaces_opts {
    int nphases;
    int64_t phases[TG_SURFACES_MAX_PHASES]; /* label values */
    int convention;                         /* TG_SURFACES_OPEN or TG_SURFACES_CLOSED */
    int smooth;                             /* 7-voxel cross mean first */
    int method;                             /* TG_MC_LEWINER or TG_MC_LORENSEN */
} tg_surfaces_opts;
#define TG_SURFACES_OPTS_INIT {0, {0}, TG_SURFACES_OPEN, 0, TG_MC_LEWINER}

typedef struct tg_surfaces_result {
    int nphases;
    double area[TG_SURFACES_MAX_PHASES];                                   /* S_a, m^2 */
    double union_area[TG_SURFACES_MAX_PHASES][TG_SURFACES_MAX_PHASES];     /* S_{a∪b}, a < b */
    double interface[TG_SURFACES_MAX_PHASES][TG_SURFACES_MAX_PHASES];      /* S_ab, a < b (symmetric) */
    int64_t voxels[TG_SURFACES_MAX_PHASES];
    int64_t total_voxels;
    double volume_m3; /* of the whole label volume */
    /* triple-phase boundary: for every triple of phase indices a < b < c (in lexicographic order) */
    int ntriples;                                          /* C(nphases, 3) */
    int triple[TG_SURFACES_MAX_TRIPLES][3];                /* indices into phases */
    int64_t tpb_edges[TG_SURFACES_MAX_TRIPLES][3];         /* TPB edges along x, y, z */
    double tpb_length[TG_SURFACES_MAX_TRIPLES];            /* m */
    int64_t tpb_any_edges[3];                              /* edges where three or more of the phases meet */
    double tpb_any_length;                                 /* m */
} tg_surfaces_result;

tg_status tg_surfaces(tg_ctx *ctx, const tg_volume *labels, const tg_surfaces_opts *opt, tg_surfaces_result *out);

/* ---- streamed: the same result from the slabs of a stack (measure/tg_measure_stream.h drives it) ----
 * A slab with central slices [z0, z1) owns the cube layers whose lower plane is in [z0, z1) (and, closed, the
 * padding layer below the first slice when z0 = 0): the layers of all slabs are each layer once, so the
 * configuration histograms, voxel counts and triple-phase edges are the same integers as in one pass, and the
 * smoothed areas are kept per layer and added in layer order at the end: the result equals tg_surfaces on the
 * whole volume bit for bit. A slab must hold its central slices and the planes its layers read: one slice above
 * (binary data), or one below and two above (smooth: the 7-voxel cross of both planes of a layer).
 * Closed + smooth puts the level at half the largest 7-cross count of each set over the whole volume, known only
 * after the last slab: pass 1 assumes the full count (7, any set with a voxel inside it) and records the largest
 * count; when a set's is 1..6, tg_surfaces_acc_next_pass says so and a second pass over the slabs computes only
 * those sets again at their level.
 * Cost (tg_surfaces_stream_cost): nothing per voxel of the slab; per thread two padded mask slices and the
 * histograms (plus, smooth, two float value slices and three scratch slices), and 8 bytes per set and cube layer
 * when smooth. Threading: as tg_surfaces, over the slab's layers. */
typedef struct tg_surfaces_acc tg_surfaces_acc;
void tg_surfaces_stream_cost(const tg_surfaces_opts *opt, const int64_t dims[3], int nthreads, tg_cost *cost);
/* For a label volume of dims (nthreads: ctx's at this call, also for every add). */
tg_status tg_surfaces_acc_new(tg_ctx *ctx, const int64_t dims[3], const tg_surfaces_opts *opt, tg_surfaces_acc **out);
/* slab holds slices [s0, s0 + slab->dims[2]) of the volume, with [z0 - lo, z1 + hi) clipped to the volume
 * (lo = 0, hi = 1; smooth: lo = 1, hi = 2); it contributes its central slices [z0, z1). Any order; each once per pass. */
tg_status tg_surfaces_acc_add(tg_ctx *ctx, tg_surfaces_acc *a, const tg_volume *slab, int64_t s0, int64_t z0, int64_t z1);
/* After every slab of a pass: 1 when the slabs must be added once more (closed + smooth, see above), else 0. */
int tg_surfaces_acc_next_pass(tg_surfaces_acc *a);
tg_status tg_surfaces_acc_finish(tg_ctx *ctx, tg_surfaces_acc *a, tg_surfaces_result *out);
void tg_surfaces_acc_free(tg_surfaces_acc *a); /* NULL is fine */

#endif
