/* tg_percolation.h — which share of a phase percolates along an axis: the phase's connected clusters sorted by the
 * faces normal to the axis they touch (tg.measure.percolation).
 *
 * What: the clusters of the voxels equal to `phase` (tg_components, 6-, 18- or 26-connected) are spanning when
 * they touch both the first and the last slice along the axis, inlet when only the first, outlet when only the
 * last, isolated when neither; the result counts their voxels and the clusters of each kind. An absent phase
 * gives zeros.
 * Cost: the components (O(N), 4 bytes per voxel of labels, freed before returning) and one pass to find the faces
 * each cluster touches; memory 9 bytes per cluster. Threading: as tg_components (OpenMP over z-slabs), results
 * independent of the thread count.
 * Errors: TG_ERR_ARG for float labels ("percolation: ..."), an axis outside 0..2, a connectivity other than
 * 6, 18, 26.
 */
#ifndef TG_PERCOLATION_H
#define TG_PERCOLATION_H

#include "core/tg_core.h"
#include "core/tg_components.h"
#include "core/tg_volume.h"

/* Kinds of cluster, the index of voxels[] and clusters[] (bit 0: touches the inlet, bit 1: the outlet). */
enum { TG_PERC_ISOLATED = 0, TG_PERC_INLET = 1, TG_PERC_OUTLET = 2, TG_PERC_SPANNING = 3 };

typedef struct tg_percolation_opts {
    int64_t phase;    /* label value */
    int axis;         /* 0 = x, 1 = y, 2 = z */
    int connectivity; /* 6, 18, 26 */
} tg_percolation_opts;
#define TG_PERCOLATION_OPTS_INIT {1, 2, 6}

typedef struct tg_percolation_result {
    int64_t phase_voxels, total_voxels, n_clusters;
    int64_t voxels[4], clusters[4]; /* by kind: TG_PERC_ISOLATED, _INLET, _OUTLET, _SPANNING */
} tg_percolation_result;

tg_status tg_percolation(tg_ctx *ctx, const tg_volume *labels, const tg_percolation_opts *opt, tg_percolation_result *res);

/* Streamed: the same result from the components of a stack labelled slab by slab (core/tg_components.h's
 * tg_components_acc with use_phase set, which records the faces each component touches): one labelling gives the
 * percolation along every axis. axis 0, 1, 2. */
void tg_percolation_from_totals(const tg_components_totals *t, int axis, const int64_t dims[3], tg_percolation_result *res);

#endif
