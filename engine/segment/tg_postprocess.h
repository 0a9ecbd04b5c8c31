/* tg_postprocess.h — clean a label volume after segmentation: remove small islands, majority filter.
 *
 * tg_remove_islands: every connected component (6, 18 or 26-connectivity) of one label value with fewer than
 * min_size voxels is an island; it is reassigned to the label most frequent among the voxels that touch it
 * (face neighbours outside it that are not themselves in an island), ties to the lower label value. An island
 * whose only neighbours are other islands (or none: the whole volume) keeps its label. One pass: islands are
 * found on the input, all reassigned at once (the result does not depend on the order of the labels).
 * Components: tg_components_ex (engine/core/tg_components.h), once per label value present.
 * Cost: one components pass per label value present plus one pass over the island voxels.
 * Memory: 8 bytes per voxel (the i32 components of one label and the i32 island id) plus the u8 output.
 *
 * tg_majority: each voxel takes the most frequent label in the (2r+1)^3 cube (dims 3) or the (2r+1)^2 square
 * of its slice (dims 2) around it, clipped at the volume faces; when several labels tie for the most, the
 * voxel keeps its own label if it is one of them, else the lowest. Sliding-window counts along x:
 * cost O((2r+1)^2) (3D) or O(2r+1) (2D) per voxel plus O(labels) per voxel for the vote; memory: the u8 output and
 * 256 counters per thread.
 * Both take u8 labels (any strides) and return a new contiguous u8 volume with the same dims and spacing.
 * Threading: components as in tg_components; the majority filter is parallel over rows (num_threads(ctx->nthreads));
 * results do not depend on the thread count.
 */
#ifndef TG_POSTPROCESS_H
#define TG_POSTPROCESS_H

#include "core/tg_core.h"
#include "core/tg_volume.h"

typedef struct tg_islands_opts {
    int64_t min_size;  /* islands with fewer voxels are reassigned; >= 1 (1 = nothing to do) */
    int connectivity;  /* 6, 18, 26 */
} tg_islands_opts;
#define TG_ISLANDS_OPTS_INIT {64, 6}

/* removed (may be NULL): the number of islands reassigned; voxels (may be NULL): voxels changed. */
tg_status tg_remove_islands(tg_ctx *ctx, const tg_volume *labels, const tg_islands_opts *opt, tg_volume *out,
                            int64_t *removed, int64_t *voxels);

typedef struct tg_majority_opts {
    int radius; /* >= 1 */
    int dims;   /* 2 (per slice) or 3 */
} tg_majority_opts;
#define TG_MAJORITY_OPTS_INIT {1, 3}

tg_status tg_majority(tg_ctx *ctx, const tg_volume *labels, const tg_majority_opts *opt, tg_volume *out);

#endif
