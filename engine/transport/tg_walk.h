/* tg_walk.h — lattice random walks for the tortuosity factor (pytrax's method). See tg_walk.c for the manual. */
#ifndef TG_WALK_H
#define TG_WALK_H

#include "core/tg_volume.h"

typedef struct tg_walk_opts {
    int64_t walkers;  /* number of walkers (>= 1) */
    int64_t steps;    /* steps per walker (>= 1) */
    int64_t stride;   /* record the mean square displacement every `stride` steps (>= 1) */
    uint64_t seed;
    uint8_t label;    /* walkers live on the voxels of the mask equal to label (a u8 label volume walks directly) */
} tg_walk_opts;
#define TG_WALK_OPTS_INIT {2000, 5000, 1, 1, 1}
#define TG_WALK_MAX_TOTAL_STEPS 1e14            /* walkers * steps: about 12 days of one core */
#define TG_WALK_MAX_RECORDS ((int64_t)10000000) /* steps / stride + 1 */

typedef struct tg_walk_result {
    int64_t nrec;      /* records: steps 0, stride, 2*stride, ..., up to `steps` */
    int64_t *steps;    /* nrec step counts */
    double *msd[3];    /* nrec mean square displacements per axis, in voxels^2 (x, y, z) */
    double prob[3];    /* probability of choosing each axis per step (0 for an axis of length 1) */
    int dims_active;   /* axes with more than one voxel */
    int64_t start_voxels; /* voxels walkers could start on */
} tg_walk_result;

/* Walk `opts->walkers` walkers for `opts->steps` steps on the voxels where mask == opts->label (u8, any layout).
 * Walkers start at voxels where start != 0 (u8 of the same dims; NULL = the mask itself), chosen uniformly
 * at random. Axis probabilities are proportional to 1/spacing^2 (isotropic spacing: uniform, as pytrax).
 * On success out holds arrays allocated with tg_malloc: free them with tg_walk_result_free. */
tg_status tg_random_walk(tg_ctx *ctx, const tg_volume *mask, const tg_volume *start, const tg_walk_opts *opts,
                         tg_walk_result *out);
void tg_walk_result_free(tg_walk_result *r);

/* The voxels of mask == label whose cluster (connectivity 6, 18 or 26) spans the volume along every axis of more
 * than one voxel: where walkers start with start = "percolating". out: u8 0/1, mask's dims. */
tg_status tg_walk_percolating_start(tg_ctx *ctx, const tg_volume *mask, uint8_t label, int connectivity, tg_volume *out);

#endif
