/* tg_samples.h — the training samples of the random forest: the class of each labelled voxel of the scribbles (or
 * of each row of a label vector), and the checks that make a forest trainable.
 *
 * Classes: values[k] is the label value of class k, k = 0..K-1 (K <= TG_FOREST_MAX_CLASSES, values 1..255).
 * tg_samples_classes: y[i] = the class of point i's value (points from tg_points_add with values, e.g. of the
 *   scribble volume or of each labelled slice); counts[k] += the points of class k. A value that is not a class
 *   fails with "segment: scribble label L at (x, y, z) is not in the class list" (1-based, as a person counts).
 * tg_samples_check: a forest needs labelled voxels, at least two classes with samples, and samples of every
 *   listed class; the message says which is missing.
 * tg_samples_rows: the class of each row of a contiguous u8 label vector (training on a feature matrix).
 * Cost: one pass over the points (rows) with a 256-entry lookup; no allocation. Single-threaded.
 */
#ifndef TG_SAMPLES_H
#define TG_SAMPLES_H

#include "core/tg_core.h"
#include "core/tg_points.h"
#include "core/tg_volume.h"

tg_status tg_samples_classes(tg_ctx *ctx, const tg_points *p, const int32_t *values, int K, uint8_t *y, int64_t *counts);
tg_status tg_samples_check(tg_ctx *ctx, const int64_t *counts, const int32_t *values, int K);
tg_status tg_samples_rows(tg_ctx *ctx, const tg_volume *labels, const int32_t *values, int K, uint8_t *y);

#endif
