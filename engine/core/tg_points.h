/* tg_points.h — the voxels where a volume is non-zero, as a list of coordinates (and their values): the samples
 * of a mask or of scribbles, for the operations that work on a few voxels rather than on the whole grid
 * (segment's training samples and features at a mask).
 *
 * Order: scan order, x fastest, then y, then z; coordinates 0-based; a volume added with z0 has its slice k at
 * z = z0 + k, so the slices of a list can be gathered one by one into one list. Any dtype is scanned (a voxel
 * counts when its value != 0, NaN included); values are kept (as int32) for integer volumes only.
 * Cost: two passes over the added volume (count, then fill, so the list grows once, to its exact size).
 * Memory: 24 bytes per point (+ 4 with values); nothing per voxel. Single-threaded.
 */
#ifndef TG_POINTS_H
#define TG_POINTS_H

#include "core/tg_core.h"
#include "core/tg_volume.h"

typedef struct tg_points {
    int64_t n;        /* points */
    int64_t *xyz;     /* 3 * n: x, y, z of each point */
    int32_t *value;   /* n values, when the list keeps them (else NULL) */
    int with_values;
} tg_points;

/* An empty list; with_values: keep each point's value (then only integer volumes can be added). */
void tg_points_init(tg_points *p, int with_values);
void tg_points_free(tg_points *p); /* and empty again */
/* Append the non-zero voxels of v, z shifted by z0. On failure (TG_ERR_NOMEM; TG_ERR_ARG for a float volume in a
 * list with values, or an empty volume) the list keeps what it held. */
tg_status tg_points_add(tg_ctx *ctx, tg_points *p, const tg_volume *v, int64_t z0);

#endif
