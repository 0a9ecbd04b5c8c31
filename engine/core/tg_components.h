/* tg_components.h — connected components of a mask, and the part of it that percolates along an axis.
 *
 * In core, not measure, because three stages build on it: segment (removing islands), measure (components,
 * percolation, active CAM) and transport (the percolating part of the conducting phase, the random walk's start);
 * it is public as tg.measure.components.
 *
 * tg_components labels the connected components of the nonzero voxels of an integer volume with 6-, 18- or
 * 26-connectivity (faces; faces+edges; faces+edges+corners). Labels are i32, 0 = background, 1..n numbered in
 * raster order (x fastest, then y, then z) of each component's first voxel — the numbering of
 * scipy.ndimage.label, so counts and labels agree with it voxel for voxel.
 *
 * tg_percolating marks (u8 1) the mask voxels whose component touches both faces normal to `axis`
 * (the first and the last slice along it), i.e. the clusters that span the volume along that axis.
 *
 * Algorithm: union-find (path halving, union by smaller index) run independently on z-slabs in parallel,
 * then the slab boundaries are merged sequentially, then roots are relabelled in raster order.
 * Wu, Otoo & Suzuki, "Optimizing two-pass connected-component labeling algorithms", Pattern Anal. Appl. 12
 * (2009), doi:10.1007/s10044-008-0109-y, for the union-find; the slab decomposition is the usual one.
 * Cost: O(N α(N)) time; memory 4 bytes per voxel (the output labels double as the union-find forest)
 * plus 4 bytes per provisional label at relabelling.
 * Threading: OpenMP over z-slabs, num_threads(ctx->nthreads); the result is independent of the thread count.
 * Input: any integer dtype (u8, u16, i32), any strides; float input is TG_ERR_ARG. dims >= 1.
 * Output: allocated by the callee; on failure released.
 */
#ifndef TG_COMPONENTS_H
#define TG_COMPONENTS_H

#include "core/tg_core.h"
#include "core/tg_volume.h"

/* Label the components of mask != 0. connectivity is 6, 18 or 26 (anything else is TG_ERR_ARG).
 * labels: out, i32 with mask's dims and spacing. *n_out: the number of components. */
tg_status tg_components(tg_ctx *ctx, const tg_volume *mask /* any int dtype, nonzero = in */, int connectivity,
                        tg_volume *labels /* out: i32, 0 = background, 1..n */, int64_t *n_out);

/* out: u8 with mask's dims, 1 where the voxel's cluster touches both faces normal to axis (0=x, 1=y, 2=z). */
tg_status tg_percolating(tg_ctx *ctx, const tg_volume *mask, int axis /* 0=x,1=y,2=z */, int connectivity,
                         tg_volume *out /* u8: 1 where the voxel's cluster touches both faces normal to axis */);

/* The same with options: `use_phase` labels the voxels equal to `phase` instead of the nonzero ones (no mask
 * needed), and info (may be NULL) receives the component sizes and boxes computed from the runs, at no extra pass:
 * sizes[n+1] (sizes[0] = background voxels), bbox[(n+1)*6] as in tg_components_stats. Free with
 * tg_components_info_free. */
typedef struct tg_components_opts {
    int connectivity; /* 6, 18, 26 */
    int use_phase;    /* 0: in = nonzero; 1: in = value == phase */
    int64_t phase;
} tg_components_opts;
#define TG_COMPONENTS_OPTS_INIT {6, 0, 0}
typedef struct tg_components_info {
    int64_t n;
    int64_t *sizes;
    int64_t *bbox;
} tg_components_info;
tg_status tg_components_ex(tg_ctx *ctx, const tg_volume *v, const tg_components_opts *opt, tg_volume *labels,
                           int64_t *n_out, tg_components_info *info);
void tg_components_info_free(tg_components_info *info);

/* Per-component statistics of a label volume produced by tg_components (labels 0..n).
 * sizes[n+1] (voxel counts; sizes[0] = background), bbox[(n+1)*6] as lo_x, lo_y, lo_z, hi_x, hi_y, hi_z
 * (0-based, half-open; background's box is left as it was). Either may be NULL. Arrays are allocated by the
 * caller. Labels outside 0..n are TG_ERR_RANGE. */
tg_status tg_components_stats(tg_ctx *ctx, const tg_volume *labels, int64_t n, int64_t *sizes, int64_t *bbox);

/* For each component 1..n, which faces normal to axis it touches: touch[i] bit 0 = first slice (inlet),
 * bit 1 = last slice (outlet). touch has n+1 entries, allocated by the caller. */
tg_status tg_components_touch(tg_ctx *ctx, const tg_volume *labels, int64_t n, int axis, uint8_t *touch);

/* ---- streamed: the components of a stack slab by slab ----
 * tg_components_acc labels each slab (consecutive slices, in z order) by the same runs as tg_components_ex, then
 * joins the components that meet across the face between two slabs (the seam rows as unite_all joins its own
 * z-slabs: 6, 18 or 26 connectivity) with a union-find over the provisional labels of all slabs, numbered in raster
 * order of their first voxel and united by the smaller number, so a root is its component's raster-first piece.
 * The count, the sizes and their order are those of tg_components_ex on the whole volume (scipy's numbering).
 * It also records which faces of the volume each component touches (TG_TOUCH_*: percolation along any axis).
 * Cost: per slab, as tg_components_ex without the label volume: 16 B per run and 9 B per component of the slab
 * (worst case, a checkerboard row: 12.5 B per voxel), 8 B per row and a bitmap (1/8 B per voxel), freed after the
 * slab (tg_components_stream_cost states it); kept for the whole stack: 17 B per provisional label (a component's
 * piece in one slab) and the runs of the previous slab's last plane. Threading: as tg_components_ex inside a slab;
 * the seam and the union-find are sequential; results do not depend on the thread count. */
enum { TG_TOUCH_X0 = 1, TG_TOUCH_X1 = 2, TG_TOUCH_Y0 = 4, TG_TOUCH_Y1 = 8, TG_TOUCH_Z0 = 16, TG_TOUCH_Z1 = 32 };
typedef struct tg_components_acc tg_components_acc;
typedef struct tg_components_totals {
    int64_t n;           /* components */
    int64_t *sizes;      /* n + 1 voxel counts; sizes[0] = background */
    uint8_t *touch;      /* n + 1: the faces each component touches (TG_TOUCH_* bits; touch[0] = 0) */
    int64_t provisional; /* pieces labelled in the slabs (what the union-find held) */
} tg_components_totals;
/* What a slab costs (tg_cost: bytes per voxel of the slab, fixed bytes, no halo). */
void tg_components_stream_cost(const tg_components_opts *opt, const int64_t dims[3], tg_cost *cost);
/* For a volume of dims (every slab has nx, ny; the slabs' slices add up to nz). */
tg_status tg_components_acc_new(tg_ctx *ctx, const int64_t dims[3], const tg_components_opts *opt, tg_components_acc **out);
/* The next slab: slices [z0, z0 + slab->dims[2]) of the volume, z0 = where the previous slab ended (0 first). */
tg_status tg_components_acc_add(tg_ctx *ctx, tg_components_acc *a, const tg_volume *slab, int64_t z0);
/* After the last slab, once: the totals (free with tg_components_totals_free). */
tg_status tg_components_acc_finish(tg_ctx *ctx, tg_components_acc *a, tg_components_totals *out);
void tg_components_totals_free(tg_components_totals *t);
void tg_components_acc_free(tg_components_acc *a); /* NULL is fine */

#endif
