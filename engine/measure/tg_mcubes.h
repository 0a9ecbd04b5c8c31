/* tg_mcubes.h — marching cubes: the iso-surface of a phase of a label volume as a triangle mesh.
 *
 * What it computes: the surface at level 0.5 of the indicator of one phase (1 in the phase, 0 elsewhere),
 * optionally smoothed first, as a watertight (for closed surfaces), consistently oriented triangle mesh with
 * shared vertices. Vertices are in metres: voxel (i, j, k) sits at (i*sx, j*sy, k*sz) (x = columns,
 * y = rows, z = slices), so anisotropic spacing is honoured; normals point out of the phase.
 *
 * Case resolution (method TG_MC_LEWINER, the default): Lewiner, Lopes, Vieira & Tavares, "Efficient
 * implementation of Marching Cubes' cases with topological guarantees", J. Graphics Tools 8(2), 2003
 * (DOI 10.1080/10867651.2003.10487582): an asymptotic decider on every ambiguous face (a saddle exactly at the
 * level joins the corners above it) and, where two caps of one sign may meet inside the cube, Lewiner's
 * interior test on the plane through the crossing of a reference edge (or the plane of the body saddle for
 * cases 4 and 10). On binary data every decision is fixed by the corner pattern, so a 256-entry table is used;
 * it reproduces scikit-image's marching_cubes(mask, 0.5) triangle for triangle in area (see
 * tools/gen_mcubes_tables.py, which derives all tables). TG_MC_LORENSEN is the classic table (Lorensen &
 * Cline 1987, the form scikit-image's method="lorensen" uses): every ambiguous face separates the corners
 * above the level, no interior tunnels.
 *
 * Conventions: open (default) meshes only the volume's interior cubes (scikit-image on the raw indicator:
 * surfaces stop at the volume faces); closed pads the volume with a layer below the level, so the phase is
 * closed at the volume faces. smooth replaces the indicator by the mean over the 7-voxel cross (the voxel
 * and its 6 face neighbours), as PoreSpy's mesh_region does: zeros outside the volume when closed, the
 * volume mirrored at its faces when open.
 *
 * Cost: one pass over the volume, O(N) with a few operations per cube; cubes whose 8 corners agree are skipped.
 * Memory: the output mesh (12 bytes per vertex, 12 bytes per triangle) plus per slice about 24 bytes per
 * voxel of one z slice (vertex indices of two slices and two slices of values); nothing per voxel of the volume.
 * Threading: mesh extraction is sequential (vertex numbering is by scan order, so the mesh is the same for
 * any thread count).
 */
#ifndef TG_MCUBES_H
#define TG_MCUBES_H

#include "core/tg_core.h"
#include "core/tg_mesh.h"
#include "core/tg_volume.h"

typedef enum tg_mc_method { TG_MC_LEWINER = 0, TG_MC_LORENSEN = 1 } tg_mc_method;

typedef struct tg_mcubes_opts {
    int method; /* tg_mc_method, default TG_MC_LEWINER */
    int closed; /* 0: open (no padding), 1: closed at the volume faces */
    int smooth; /* 0: raw indicator at level 0.5; 1: 7-voxel cross mean first */
} tg_mcubes_opts;
#define TG_MCUBES_OPTS_INIT {TG_MC_LEWINER, 0, 0}

/* Mesh of the voxels whose label equals phase. Labels must be u8, u16 or i32. A phase with no voxel, or
 * whose surface is empty (open convention on a volume the phase fills), gives TG_ERR_ARG with a message. */
tg_status tg_mcubes(tg_ctx *ctx, const tg_volume *labels, int64_t phase, const tg_mcubes_opts *opt, tg_mesh *out);

/* ---- shared with tg_surfaces.c ---- */
/* Level-relative corner values v[8] (corner c at (c&1, c>>1&1, c>>2&1)) and their configuration
 * (bit c set when v[c] > 0) -> tiling index of the tables, taking every decision of the method. */
int tg_mc_decide(const double v[8], int cfg, int method);
/* The tiling used for binary data (all corner values +-1/2) of a configuration. */
int tg_mc_binary_tiling(int cfg, int method);
/* Area of a tiling with vertices interpolated from v[8], scaled by spacing sp (metres). */
double tg_mc_tiling_area(int tiling, const double v[8], const double sp[3]);
/* Area of each of the 256 binary configurations at spacing sp. */
void tg_mc_binary_areas(int method, const double sp[3], double area[256]);

/* A grid: the indicator of a set of phases on the extended domain of a convention, slice by slice.
 * Phase i of phases[] has bit i (up to 8 phases); a set is a mask of those bits. Points of the extended
 * domain: W x H x D = the volume (open) or the volume grown by one voxel on each side (closed, off = 1).
 * Values: 1/0 for the indicator, or the mean over the 7-voxel cross when smooth (zeros outside the volume
 * when closed, the volume mirrored at its faces when open). */
typedef struct tg_mc_grid {
    const tg_volume *labels;
    int nph;
    int64_t ph[8];
    uint8_t *lut;       /* label -> phase bits for u8/u16 labels (256 or 65536 entries); NULL for i32 */
    int closed, smooth;
    int64_t nx, ny, nz; /* the volume */
    int64_t zbase;      /* labels holds slices [zbase, zbase + labels->dims[2]) of the volume (a slab; 0 when whole) */
    int64_t off, W, H, D;
    int64_t mw, mh;     /* a mask slice: the volume slice padded by 2 on each side */
    double sp[3];
} tg_mc_grid;

tg_status tg_mc_grid_init(tg_ctx *ctx, tg_mc_grid *g, const tg_volume *labels, const int64_t *phases, int nph,
                          int closed, int smooth);
/* The same for a slab of a larger volume: labels holds slices [zbase, zbase + labels->dims[2]) of a volume of nz
 * slices; z arguments below are the volume's, and only slices inside the slab are read (the caller's slab holds
 * what a layer needs: its two planes, and one more on each side when smooth). tg_mc_grid_set_slab points the grid
 * at the next slab of the same volume. */
tg_status tg_mc_grid_init_slab(tg_ctx *ctx, tg_mc_grid *g, const tg_volume *labels, int64_t zbase, int64_t nz,
                               const int64_t *phases, int nph, int closed, int smooth);
void tg_mc_grid_set_slab(tg_mc_grid *g, const tg_volume *labels, int64_t zbase);
void tg_mc_grid_free(tg_mc_grid *g);
size_t tg_mc_grid_scratch_bytes(const tg_mc_grid *g);
/* Phase bits of volume slice z (any z: outside the volume zeros when closed, the nearest slice when open),
 * padded by 2 on each side in x and y the same way; buf holds mw * mh bytes. */
void tg_mc_grid_masks(const tg_mc_grid *g, int64_t z, uint8_t *buf);
/* Values (W * H floats) of layer e of the extended domain for set S; scratch: tg_mc_grid_scratch_bytes. */
void tg_mc_grid_values(const tg_mc_grid *g, int set, int64_t e, uint8_t *scratch, float *out);
/* Largest 7-cross count (0..7) of the set's indicator, with zeros outside (PoreSpy's smoothing max). */
tg_status tg_mc_grid_maxcount(tg_ctx *ctx, const tg_mc_grid *g, int set, int *maxc);
/* The same over the voxels of slices [z0, z1) (reading z0 - 1 .. z1): a slab's share of the maximum. */
tg_status tg_mc_grid_maxcount_range(tg_ctx *ctx, const tg_mc_grid *g, int set, int64_t z0, int64_t z1, int *maxc);
/* Voxels of the volume in the set. */
int64_t tg_mc_grid_count(const tg_mc_grid *g, int set);

#endif
