/* tg_evaluate.h — the confusion matrix of a segmentation against its truth (tg.segment.evaluate computes the
 * accuracy, IoU, Dice and fraction errors from it).
 *
 * What: the distinct label values found in either volume (ascending, at most TG_CONFUSION_MAX_LABELS) and the
 * counts of voxels per (truth label, predicted label): counts[i * n + j] = voxels with truth values[i] and
 * prediction values[j]. Both volumes: u8 or u16, the same dims (views of any strides).
 * Cost: two passes over the voxels (the labels present, then the counts), a 65536-entry index; memory 8 n^2 bytes
 * for the counts. Single-threaded.
 * Errors (TG_ERR_ARG, "segment.evaluate: ..."): dims differ, another dtype, more than 256 distinct labels.
 */
#ifndef TG_EVALUATE_H
#define TG_EVALUATE_H

#include "core/tg_core.h"
#include "core/tg_volume.h"

#define TG_CONFUSION_MAX_LABELS 256

typedef struct tg_confusion_result {
    int n;                                     /* distinct labels */
    uint16_t values[TG_CONFUSION_MAX_LABELS];  /* ascending */
    int64_t *counts;                           /* n * n, rows = truth, columns = prediction */
} tg_confusion_result;

/* out is filled by the callee (counts allocated; free with tg_confusion_free); on failure it holds nothing. */
tg_status tg_confusion(tg_ctx *ctx, const tg_volume *pred, const tg_volume *truth, tg_confusion_result *out);
void tg_confusion_free(tg_confusion_result *r);

#endif
