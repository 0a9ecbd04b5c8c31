/* tg_predict.h — a trained forest applied to a stack of channels: features and prediction slab by slab, so the
 * features of the whole stack never exist at once (rf:predict).
 *
 * What: for z slabs of `slab` slices (0: about 512 MiB of features per slab, at least 1 slice), the slab's
 * features (tg_features_slab with opt) and the forest's labels and probabilities (tg_forest_predict) of its voxels.
 * labels: nx * ny * nz bytes of class values; prob: NULL, or f->nclasses planes of nx * ny * nz floats; both owned
 * by the caller, voxel index (z * ny + y) * nx + x.
 * Cost: the features of each slab plus the forest's traversal per voxel. Memory: the slab's feature matrix,
 * slab * nx * ny * nfeatures * 4 bytes, plus the filter temporaries of tg_features_slab. Threading: as
 * tg_features_slab and tg_forest_predict (results independent of the thread count and of the slab size).
 * Errors: TG_ERR_ARG ("segment: ...") when the channels or the feature options do not match the forest's
 * (channel count, feature count); the engine errors of the two stages.
 */
#ifndef TG_PREDICT_H
#define TG_PREDICT_H

#include "core/tg_core.h"
#include "core/tg_volume.h"
#include "segment/tg_features.h"
#include "segment/tg_forest.h"

tg_status tg_predict_stack(tg_ctx *ctx, const tg_forest *f, const tg_volume *const *ch, int nch,
                           const tg_features_opts *opt, int64_t slab, uint8_t *labels, float *const *prob);

#endif
