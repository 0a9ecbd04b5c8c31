/* tg_otsu.h — multi-level Otsu thresholds (2 or 3 classes) from a histogram, and for a volume.
 *
 * What: the thresholds that maximise the between-class variance of the grey-level histogram
 * (N. Otsu, "A threshold selection method from gray-level histograms", IEEE Trans. SMC 9 (1979) 62-66,
 * doi:10.1109/TSMC.1979.4310076; multi-level form of Liao, Chen & Chung, J. Inf. Sci. Eng. 17 (2001) 713-727).
 * Maximising sum_k S_k^2 / W_k (W_k = voxels of class k, S_k = sum of their bin indices) is the same as
 * maximising the between-class variance, since the total mean is fixed.
 * Histogram convention: class 0 = bins [0, t1], class 1 = (t1, t2], class 2 = (t2, nbins). Ties take the lowest
 * thresholds. Every class must be non-empty, so the histogram needs at least `classes` non-empty bins.
 * Volume convention (scikit-image's threshold_otsu / threshold_multiotsu): the histogram has `bins` equal bins
 * over [min, max] (integer volumes whose range is smaller than `bins` get one bin per integer value), the
 * threshold value is the centre of bin t, and a voxel goes to class k = the number of thresholds it exceeds
 * (v > threshold), labels 0..classes-1 (u8), darkest class 0. Non-finite voxels take no part in the histogram
 * (its range is that of the finite values, so any finite range works, even ±1e308); they are counted in the
 * stats output; NaN and -Inf voxels get class 0, +Inf voxels the brightest class.
 * Cost: O(nbins) for 2 classes, O(nbins^2) for 3 (prefix sums); the volume version adds two passes over the
 * voxels (stats and histogram, tg_volume) and one for the labels. Memory: 1 byte per voxel for the labels.
 * Threading: the volume passes are parallel over slices (num_threads(ctx->nthreads)); results do not depend on
 * the thread count.
 */
#ifndef TG_OTSU_H
#define TG_OTSU_H

#include "core/tg_core.h"
#include "core/tg_volume.h"

#define TG_OTSU_MAX_CLASSES 3

/* thr[classes-1]: the last bin of each class but the last (increasing). score (may be NULL): the maximised
 * sum_k S_k^2 / W_k. */
tg_status tg_otsu_hist(tg_ctx *ctx, const int64_t *hist, int nbins, int classes, int *thr, double *score);

typedef struct tg_otsu_opts {
    int classes; /* 2 or 3 */
    int bins;    /* 2..65536 */
} tg_otsu_opts;
#define TG_OTSU_OPTS_INIT {2, 256}

/* thresholds[classes-1]: values (bin centres). labels: NULL or out, u8 0..classes-1 with in's dims and spacing.
 * stats: NULL or out, the volume's statistics (finite range, and the NaN / +Inf / -Inf counts to report). */
tg_status tg_otsu(tg_ctx *ctx, const tg_volume *in, const tg_otsu_opts *opt, double *thresholds, tg_volume *labels,
                  tg_stats *stats);

#endif
